// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {GovernedUUPS} from "./utils/GovernedUUPS.sol";
import {CidLimits} from "./utils/CidLimits.sol";
import {IFineTuning} from "./interfaces/IFineTuning.sol";
import {INodeStaking} from "./interfaces/INodeStaking.sol";
import {IDeviceRegistry} from "./interfaces/IDeviceRegistry.sol";
import {IAlgorithmMarketplace} from "./interfaces/IAlgorithmMarketplace.sol";
import {AttestationQuorum} from "./attestation/AttestationQuorum.sol";
import {FutureSeed} from "./utils/FutureSeed.sol";

/// @title FineTuning
/// @notice Crowd fine-tuning bounties (PROTOCOL.md §5, §7.7): the refiner commits a hidden candidate, then the
///         round's hidden acceptance split is revealed, then attestors drawn by a future block hash evaluate the
///         candidate on it and commit-reveal; attestors are paid from the bounty. Authorised as a marketplace
///         publisher and a NodeStaking slasher.
/// @custom:oz-upgrades-unsafe-allow external-library-linking
contract FineTuning is GovernedUUPS, ReentrancyGuardTransient, IFineTuning {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;
    using AttestationQuorum for AttestationQuorum.Round;
    using FutureSeed for FutureSeed.Seed;

    /// @notice Most rounds per bounty.
    uint8 public constant MAX_ROUNDS = 100;
    /// @notice Default secure-aggregation group size.
    uint16 public constant DEFAULT_GROUP_SIZE = 8;
    /// @notice Longest split window a bounty may ask for.
    uint32 public constant MAX_SPLIT_WINDOW = 30 days;
    uint256 private constant BPS = 10_000;
    bytes32 private constant SEED_TAG = "dml.finetuning.attestors";
    uint256 private constant MAX_CID_LENGTH = CidLimits.MAX_LENGTH;
    /// @dev One basis point of a 1e18 fixed-point metric.
    uint256 private constant METRIC_BPS = 1e14;
    bytes32 private constant REASON_NO_SUBMISSION = "NO_SUBMISSION";
    bytes32 private constant REASON_NO_MAJORITY = "NO_MAJORITY";
    bytes32 private constant REASON_REFINER_WRONG = "REFINER_MISMATCH";
    bytes32 private constant REASON_GAIN = "GAIN_BELOW_MINIMUM";
    bytes32 private constant REASON_PUBLISH = "PUBLISH_FAILED";
    bytes32 private constant REASON_REFINER_SILENT = "REFINER_SILENT";
    bytes32 private constant REASON_NO_QUORUM = "NO_QUORUM";
    /// @dev What attestors reveal when the poster's revealed split cannot be fetched or does not parse (the poster's
    ///      fault, never the refiner's): a majority for it treats the split as not revealed (§7.7), so the round
    ///      stands on the refiner's own revealed metric. `INVALID` stays the verdict on the refiner's candidate.
    bytes32 private constant SPLIT_INVALID = keccak256("dml.finetuning.SPLIT_INVALID");

    struct Round {
        RoundStatus status;
        address refiner;
        uint64 childAlgorithmId;
        uint64 claimDeadline;
        bool swept;
        bytes32 claimHash;
        bytes32 finalHash;
        uint128 claimed;
        RoundClaim claim;
        AttestationQuorum.Round quorum;
        // appended for §7.7
        string listCid;
        uint64 splitDeadline;
        bool candidateRevealed;
        FutureSeed.Seed seed;
    }

    /// @dev How a round ends (memory only).
    struct Outcome {
        bytes32 reason; // zero when accepted
        bytes32 value; // the majority value (or the refiner's, when the split was not revealed)
        bool refinerFault;
        uint256 faultMask;
        uint256 agreeMask;
    }

    /// @custom:storage-location erc7201:dml.storage.FineTuning
    struct FineTuningStorage {
        IERC20 token;
        IAlgorithmMarketplace market;
        INodeStaking staking;
        IDeviceRegistry registry;
        Params params;
        uint256 bountyCount;
        uint256 totalHeld;
        mapping(uint256 bountyId => Bounty) bounties;
        mapping(uint256 bountyId => mapping(uint256 round => Round)) rounds;
        mapping(uint256 bountyId => mapping(address trainer => bool)) enrolled;
        mapping(uint256 bountyId => mapping(uint256 round => mapping(address account => bool))) claimed;
    }

    // keccak256(abi.encode(uint256(keccak256("dml.storage.FineTuning")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant FINE_TUNING_STORAGE_LOCATION =
        0xaeb93a12b0ca988b7ebc6e56df31d0dbc6f9fbb25a6896ab9880bb305eb0e400;

    /// @notice Initialises the proxy.
    /// @param governance_ The governance timelock.
    /// @param token_ The DML token.
    /// @param market_ The algorithm marketplace.
    /// @param staking_ Node staking.
    /// @param registry_ The device registry.
    /// @param params_ Initial parameters.
    function initialize(
        address governance_,
        IERC20 token_,
        IAlgorithmMarketplace market_,
        INodeStaking staking_,
        IDeviceRegistry registry_,
        Params calldata params_
    ) external initializer {
        __GovernedUUPS_init(governance_);
        if (
            address(token_) == address(0) ||
            address(market_) == address(0) ||
            address(staking_) == address(0) ||
            address(registry_) == address(0)
        ) revert FineTuningZeroAddress();
        FineTuningStorage storage $ = _getStorage();
        $.token = token_;
        $.market = market_;
        $.staking = staking_;
        $.registry = registry_;
        _setParams($, params_);
    }

    /// @inheritdoc IFineTuning
    function setParams(Params calldata params_) external onlyGovernance {
        _setParams(_getStorage(), params_);
    }

    // ------------------------------------------------------------------------------------------------------
    // Bounties and trainers
    // ------------------------------------------------------------------------------------------------------

    /// @inheritdoc IFineTuning
    function createBounty(BountyInput calldata input) external nonReentrant returns (uint256 bountyId) {
        FineTuningStorage storage $ = _getStorage();
        if (!$.market.isListed(input.algorithmId)) revert FineTuningAlgorithmNotListed(input.algorithmId);
        uint256 cidLength = bytes(input.controlCid).length;
        if (
            input.rewardPool == 0 ||
            input.rounds == 0 ||
            input.rounds > MAX_ROUNDS ||
            input.roundDuration == 0 ||
            input.metricId == bytes32(0) ||
            input.splitRoot == bytes32(0) ||
            input.splitWindow == 0 ||
            input.splitWindow > MAX_SPLIT_WINDOW ||
            cidLength == 0 ||
            cidLength > MAX_CID_LENGTH
        ) revert FineTuningInvalidBounty();
        bountyId = ++$.bountyCount;
        Bounty storage b = $.bounties[bountyId];
        b.poster = msg.sender;
        b.status = BountyStatus.Active;
        b.rounds = input.rounds;
        b.minGainBps = input.minGainBps;
        b.groupSize = input.groupSize == 0 ? DEFAULT_GROUP_SIZE : input.groupSize;
        b.roundDuration = input.roundDuration;
        b.roundOpenedAt = uint64(block.timestamp);
        uint64 algorithmId = input.algorithmId.toUint64();
        b.baseAlgorithmId = algorithmId;
        b.currentAlgorithmId = algorithmId;
        b.metricId = input.metricId;
        b.rewardPool = input.rewardPool;
        b.controlCid = input.controlCid;
        b.splitRoot = input.splitRoot;
        b.acceptedMetric = input.baselineMetric;
        b.splitWindow = input.splitWindow;
        $.totalHeld += input.rewardPool;
        emit BountyCreated(bountyId, msg.sender, input.algorithmId, input);
        emit RoundOpened(bountyId, 0, input.algorithmId, uint64(block.timestamp));
        $.token.safeTransferFrom(msg.sender, address(this), input.rewardPool);
    }

    /// @inheritdoc IFineTuning
    function enrol(uint256 bountyId) external {
        FineTuningStorage storage $ = _getStorage();
        Bounty storage b = _active($, bountyId);
        if (!$.registry.isRegistered(msg.sender)) revert FineTuningNotDevice(msg.sender);
        if ($.enrolled[bountyId][msg.sender]) revert FineTuningAlreadyEnrolled(bountyId, msg.sender);
        $.enrolled[bountyId][msg.sender] = true;
        ++b.trainerCount;
        emit TrainerEnrolled(bountyId, msg.sender);
    }

    // ------------------------------------------------------------------------------------------------------
    // Rounds
    // ------------------------------------------------------------------------------------------------------

    /// @inheritdoc IFineTuning
    function commitCandidate(
        uint256 bountyId,
        bytes32 commitment,
        string calldata modelCid,
        string calldata listCid
    ) external {
        FineTuningStorage storage $ = _getStorage();
        Bounty storage b = _active($, bountyId);
        if (!$.staking.isActive(msg.sender, INodeStaking.Role.Refiner))
            revert FineTuningNotRefiner(msg.sender);
        uint256 index = b.currentRound;
        Round storage r = $.rounds[bountyId][index];
        if (r.status != RoundStatus.Open) revert FineTuningInvalidRoundStatus(bountyId, index, r.status);
        uint64 deadline = b.roundOpenedAt + b.roundDuration;
        if (block.timestamp > deadline) revert FineTuningRoundClosed(bountyId, index, deadline);
        if (commitment == bytes32(0) || !_cidOk(modelCid) || !_cidOk(listCid))
            revert FineTuningInvalidCandidate();
        r.status = RoundStatus.Committed;
        r.refiner = msg.sender;
        r.claimHash = commitment;
        r.claim.modelCid = modelCid;
        r.listCid = listCid;
        r.splitDeadline = uint64(block.timestamp) + b.splitWindow;
        r.seed.arm();
        emit CandidateCommitted(
            bountyId,
            index,
            msg.sender,
            commitment,
            modelCid,
            listCid,
            r.splitDeadline,
            r.seed.blockNumber
        );
    }

    /// @inheritdoc IFineTuning
    function revealSplit(
        uint256 bountyId,
        string calldata splitCid,
        bytes32 salt,
        bytes32[] calldata proof
    ) external {
        FineTuningStorage storage $ = _getStorage();
        Bounty storage b = _active($, bountyId);
        uint256 index = b.currentRound;
        Round storage r = $.rounds[bountyId][index];
        if (r.status != RoundStatus.Committed) revert FineTuningInvalidRoundStatus(bountyId, index, r.status);
        if (block.timestamp > r.splitDeadline)
            revert FineTuningSplitRevealLate(bountyId, index, r.splitDeadline);
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(index, splitCid, salt))));
        if (!MerkleProof.verifyCalldata(proof, b.splitRoot, leaf))
            revert FineTuningSplitMismatch(bountyId, index);
        r.status = RoundStatus.Attesting;
        // Until drawn, the quorum's reveal deadline is the draw deadline (select sets fresh windows).
        Params memory p = $.params;
        r.quorum.revealDeadline = uint40(block.timestamp + p.commitWindow + p.revealWindow);
        emit SplitRevealed(bountyId, index, splitCid, salt);
        if (block.number > r.seed.blockNumber) _draw($, r, bountyId, index);
    }

    /// @inheritdoc IFineTuning
    function drawAttestors(uint256 bountyId) external {
        FineTuningStorage storage $ = _getStorage();
        (Round storage r, uint256 index) = _attesting($, bountyId);
        if (r.quorum.size != 0) revert FineTuningAttestorsAlreadyDrawn(bountyId, index);
        if (block.timestamp > r.quorum.revealDeadline)
            revert FineTuningRoundClosed(bountyId, index, r.quorum.revealDeadline);
        _draw($, r, bountyId, index);
    }

    /// @inheritdoc IFineTuning
    function commitAttestation(uint256 bountyId, bytes32 commitment) external {
        (Round storage r, uint256 index) = _attesting(_getStorage(), bountyId);
        r.quorum.commit(msg.sender, commitment);
        emit AttestationCommitted(bountyId, index, msg.sender, commitment);
    }

    /// @inheritdoc IFineTuning
    function revealAttestation(uint256 bountyId, bytes32 value, bytes32 salt) external {
        (Round storage r, uint256 index) = _attesting(_getStorage(), bountyId);
        r.quorum.reveal(msg.sender, value, salt);
        emit AttestationRevealed(bountyId, index, msg.sender, value);
    }

    /// @inheritdoc IFineTuning
    function revealCandidate(
        uint256 bountyId,
        bytes32 modelSha256,
        uint256 metric,
        bytes32 payoutRoot,
        bytes32 salt
    ) external {
        FineTuningStorage storage $ = _getStorage();
        Bounty storage b = _active($, bountyId);
        uint256 index = b.currentRound;
        Round storage r = $.rounds[bountyId][index];
        if (msg.sender != r.refiner) revert FineTuningNotRoundRefiner(bountyId, index, msg.sender);
        if (r.candidateRevealed) revert FineTuningCandidateAlreadyRevealed(bountyId, index);
        bool open;
        if (r.status == RoundStatus.Attesting) {
            AttestationQuorum.Round storage q = r.quorum;
            open = q.size != 0 && q.revealOpen() && block.timestamp <= q.revealDeadline;
        } else if (r.status == RoundStatus.Committed) {
            uint256 t = r.splitDeadline;
            open = block.timestamp > t && block.timestamp <= t + $.params.revealWindow;
        }
        if (!open) revert FineTuningNotInCandidateReveal(bountyId, index);
        if (modelSha256 == bytes32(0) || keccak256(abi.encode(modelSha256, payoutRoot, salt)) != r.claimHash)
            revert FineTuningCandidateMismatch(bountyId, index);
        bytes32 value = _attestedValue(modelSha256, metric, payoutRoot);
        r.candidateRevealed = true;
        r.claimHash = value;
        RoundClaim storage c = r.claim;
        c.modelSha256 = modelSha256;
        c.metricBefore = b.acceptedMetric;
        c.metricAfter = metric;
        c.payoutRoot = payoutRoot;
        emit CandidateRevealed(bountyId, index, modelSha256, metric, payoutRoot, value);
    }

    /// @inheritdoc IFineTuning
    function finalizeRound(uint256 bountyId) external nonReentrant {
        FineTuningStorage storage $ = _getStorage();
        Bounty storage b = _active($, bountyId);
        uint256 index = b.currentRound;
        Round storage r = $.rounds[bountyId][index];
        Outcome memory o = _judge($, b, r, bountyId, index);
        r.finalHash = o.value;

        // Slashing (external calls to NodeStaking only; the challenger is never a party of the bounty).
        _slashFaults($, b, r, bountyId, index, o.faultMask, o.refinerFault);

        uint256 childId;
        if (o.reason == bytes32(0)) {
            try
                $.market.publishChildVersion(
                    b.currentAlgorithmId,
                    r.refiner,
                    r.claim.modelCid,
                    r.claim.modelSha256
                )
            returns (uint256 id) {
                childId = id;
            } catch {
                o.reason = REASON_PUBLISH;
            }
        }
        uint256 roundReward = b.rewardPool / b.rounds;
        uint256 attestorPool = (roundReward * $.params.attestorShareBps) / BPS;
        if (o.reason == bytes32(0)) {
            uint128 budget = uint128(roundReward - attestorPool); // ≤ rewardPool, a uint128
            r.status = RoundStatus.Accepted;
            uint64 child = childId.toUint64();
            r.childAlgorithmId = child;
            r.claimDeadline = uint64(block.timestamp) + $.params.claimWindow;
            r.claim.payoutTotal = budget;
            b.currentAlgorithmId = child;
            b.acceptedMetric = r.claim.metricAfter;
            b.reserved += budget;
        } else {
            r.status = RoundStatus.Rejected;
        }
        emit RoundFinalized(bountyId, index, o.reason == bytes32(0), o.reason, o.value, childId);
        uint256 each = _creditAttestors($, b, o.agreeMask, attestorPool);
        _nextRound($, b, bountyId);
        if (each != 0) _payAttestors($.token, r.quorum, bountyId, index, o.agreeMask, each);
    }

    /// @inheritdoc IFineTuning
    function closeRound(uint256 bountyId) external nonReentrant {
        FineTuningStorage storage $ = _getStorage();
        Bounty storage b = _active($, bountyId);
        uint256 index = b.currentRound;
        Round storage r = $.rounds[bountyId][index];
        if (r.status != RoundStatus.Open) revert FineTuningInvalidRoundStatus(bountyId, index, r.status);
        uint64 deadline = b.roundOpenedAt + b.roundDuration;
        if (block.timestamp <= deadline) revert FineTuningRoundStillOpen(bountyId, index, deadline);
        r.status = RoundStatus.Rejected;
        emit RoundFinalized(bountyId, index, false, REASON_NO_SUBMISSION, bytes32(0), 0);
        _nextRound($, b, bountyId);
    }

    // ------------------------------------------------------------------------------------------------------
    // Claims
    // ------------------------------------------------------------------------------------------------------

    /// @inheritdoc IFineTuning
    function claim(
        uint256 bountyId,
        uint256 round,
        address account,
        uint256 amount,
        bytes32[] calldata proof
    ) external nonReentrant {
        FineTuningStorage storage $ = _getStorage();
        Round storage r = $.rounds[bountyId][round];
        if (r.status != RoundStatus.Accepted) revert FineTuningInvalidRoundStatus(bountyId, round, r.status);
        if (r.swept) revert FineTuningAlreadySwept(bountyId, round);
        if (!$.enrolled[bountyId][account]) revert FineTuningNotTrainer(bountyId, account);
        mapping(address => bool) storage claimedOf = $.claimed[bountyId][round];
        if (claimedOf[account]) revert FineTuningAlreadyClaimed(bountyId, round, account);
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(account, amount))));
        if (!MerkleProof.verifyCalldata(proof, r.claim.payoutRoot, leaf)) {
            revert FineTuningInvalidProof(bountyId, round, account, amount);
        }
        uint256 claimedSoFar = r.claimed;
        uint256 remaining = r.claim.payoutTotal - claimedSoFar;
        if (amount > remaining) revert FineTuningPoolExhausted(bountyId, round, remaining, amount);
        claimedOf[account] = true;
        r.claimed = uint128(claimedSoFar + amount);
        $.totalHeld -= amount;
        emit TrainerPaid(bountyId, round, account, amount);
        if (amount != 0) $.token.safeTransfer(account, amount);
    }

    /// @inheritdoc IFineTuning
    function sweep(uint256 bountyId, uint256 round) external nonReentrant {
        FineTuningStorage storage $ = _getStorage();
        Round storage r = $.rounds[bountyId][round];
        if (r.status != RoundStatus.Accepted) revert FineTuningInvalidRoundStatus(bountyId, round, r.status);
        if (r.swept) revert FineTuningAlreadySwept(bountyId, round);
        if (block.timestamp <= r.claimDeadline)
            revert FineTuningClaimWindowOpen(bountyId, round, r.claimDeadline);
        uint256 amount = r.claim.payoutTotal - r.claimed;
        r.swept = true;
        $.totalHeld -= amount;
        address poster = $.bounties[bountyId].poster;
        emit RoundSwept(bountyId, round, poster, amount);
        if (amount != 0) $.token.safeTransfer(poster, amount);
    }

    // ------------------------------------------------------------------------------------------------------
    // Views
    // ------------------------------------------------------------------------------------------------------

    /// @inheritdoc IFineTuning
    function attestedValueOf(
        bytes32 modelSha256,
        uint256 metric,
        bytes32 payoutRoot
    ) external pure returns (bytes32) {
        return _attestedValue(modelSha256, metric, payoutRoot);
    }

    /// @inheritdoc IFineTuning
    function getBounty(uint256 bountyId) external view returns (Bounty memory) {
        Bounty storage b = _getStorage().bounties[bountyId];
        if (b.status == BountyStatus.None) revert FineTuningUnknownBounty(bountyId);
        return b;
    }

    /// @inheritdoc IFineTuning
    function getRound(uint256 bountyId, uint256 round) external view returns (RoundInfo memory info) {
        Round storage r = _getStorage().rounds[bountyId][round];
        info.status = r.status;
        info.refiner = r.refiner;
        info.childAlgorithmId = r.childAlgorithmId;
        info.claimDeadline = r.claimDeadline;
        info.swept = r.swept;
        info.claimHash = r.claimHash;
        info.finalHash = r.finalHash;
        info.payoutTotal = r.claim.payoutTotal;
        info.claimed = r.claimed;
        info.commitDeadline = r.quorum.commitDeadline;
        info.revealDeadline = r.quorum.revealDeadline;
        info.committedMask = r.quorum.committedMask;
        info.revealedMask = r.quorum.revealedMask;
        info.attestors = r.quorum.membersOf();
        info.claim = r.claim;
        info.listCid = r.listCid;
        info.splitDeadline = r.splitDeadline;
        info.candidateRevealed = r.candidateRevealed;
        info.seedBlock = r.seed.blockNumber;
    }

    /// @inheritdoc IFineTuning
    function isEnrolled(uint256 bountyId, address account) external view returns (bool) {
        return _getStorage().enrolled[bountyId][account];
    }

    /// @inheritdoc IFineTuning
    function isClaimed(uint256 bountyId, uint256 round, address account) external view returns (bool) {
        return _getStorage().claimed[bountyId][round][account];
    }

    /// @inheritdoc IFineTuning
    function totalHeld() external view returns (uint256) {
        return _getStorage().totalHeld;
    }

    /// @inheritdoc IFineTuning
    function bountyCount() external view returns (uint256) {
        return _getStorage().bountyCount;
    }

    /// @inheritdoc IFineTuning
    function params() external view returns (Params memory) {
        return _getStorage().params;
    }

    /// @inheritdoc IFineTuning
    function token() external view returns (IERC20) {
        return _getStorage().token;
    }

    /// @inheritdoc IFineTuning
    function market() external view returns (IAlgorithmMarketplace) {
        return _getStorage().market;
    }

    /// @inheritdoc IFineTuning
    function staking() external view returns (INodeStaking) {
        return _getStorage().staking;
    }

    /// @inheritdoc IFineTuning
    function registry() external view returns (IDeviceRegistry) {
        return _getStorage().registry;
    }

    // ------------------------------------------------------------------------------------------------------
    // Internal
    // ------------------------------------------------------------------------------------------------------

    function _active(FineTuningStorage storage $, uint256 bountyId) private view returns (Bounty storage b) {
        b = $.bounties[bountyId];
        if (b.status != BountyStatus.Active) {
            if (b.status == BountyStatus.None) revert FineTuningUnknownBounty(bountyId);
            revert FineTuningBountyNotActive(bountyId);
        }
    }

    function _attesting(
        FineTuningStorage storage $,
        uint256 bountyId
    ) private view returns (Round storage r, uint256 index) {
        Bounty storage b = _active($, bountyId);
        index = b.currentRound;
        r = $.rounds[bountyId][index];
        if (r.status != RoundStatus.Attesting) revert FineTuningInvalidRoundStatus(bountyId, index, r.status);
    }

    function _cidOk(string calldata cid) private pure returns (bool) {
        uint256 length = bytes(cid).length;
        return length != 0 && length <= MAX_CID_LENGTH;
    }

    function _gainMet(uint256 before, uint256 after_, uint256 minGainBps) private pure returns (bool) {
        return after_ >= before && after_ - before >= minGainBps * METRIC_BPS;
    }

    /// @dev Decides a round that may be finalised (reverts while its phase is running).
    function _judge(
        FineTuningStorage storage $,
        Bounty storage b,
        Round storage r,
        uint256 bountyId,
        uint256 index
    ) private view returns (Outcome memory o) {
        AttestationQuorum.Round storage q = r.quorum;
        bool revealed = r.candidateRevealed;
        if (r.status == RoundStatus.Committed) {
            // The split was not revealed in time: the round stands on the refiner's own revealed metric.
            uint64 end = revealed ? r.splitDeadline : r.splitDeadline + $.params.revealWindow;
            if (block.timestamp <= end) revert FineTuningRoundNotOver(bountyId, index, end);
            if (!revealed) (o.reason, o.refinerFault) = (REASON_REFINER_SILENT, true);
            else o.value = r.claimHash; // the refiner's value (its commitment stays unopened otherwise)
        } else if (r.status == RoundStatus.Attesting) {
            if (q.size == 0) {
                if (block.timestamp <= q.revealDeadline)
                    revert FineTuningRoundNotOver(bountyId, index, q.revealDeadline);
                o.reason = REASON_NO_QUORUM;
            } else {
                if (!revealed && block.timestamp <= q.revealDeadline)
                    revert QuorumRevealNotOver(q.revealDeadline);
                q.requireOver();
                bool majority;
                (o.value, majority) = q.tally();
                (o.faultMask, o.agreeMask) = q.faults(o.value, majority);
                if (!revealed) (o.reason, o.refinerFault) = (REASON_REFINER_SILENT, true);
                else if (!majority) o.reason = REASON_NO_MAJORITY;
                else if (o.value == SPLIT_INVALID)
                    o.value = r.claimHash; // the poster withheld: as unrevealed
                else if (o.value != r.claimHash) (o.reason, o.refinerFault) = (REASON_REFINER_WRONG, true);
            }
        } else {
            revert FineTuningInvalidRoundStatus(bountyId, index, r.status);
        }
        if (o.reason == bytes32(0) && !_gainMet(b.acceptedMetric, r.claim.metricAfter, b.minGainBps))
            o.reason = REASON_GAIN;
    }

    function _attestedValue(bytes32 sha, uint256 metric, bytes32 payoutRoot) private pure returns (bytes32) {
        return keccak256(abi.encode(sha, metric, payoutRoot));
    }

    /// @dev Fixes the seed armed by the refiner's commitment and draws the quorum (refiner excluded). Re-arms
    ///      and returns when the seed's block hash expired; leaves the round undrawn when too few attestors are
    ///      active (the round then ends `NO_QUORUM` at its draw deadline).
    function _draw(FineTuningStorage storage $, Round storage r, uint256 bountyId, uint256 index) private {
        (bytes32 seed, bool rearmed) = r.seed.fix();
        if (rearmed) {
            emit SeedRearmed(bountyId, index, r.seed.blockNumber);
            return;
        }
        Params memory p = $.params;
        if (!_enoughAttestors($.staking, r.refiner, p.quorum)) return;
        seed = FutureSeed.derive(seed, SEED_TAG, (bountyId << 8) | index);
        uint64 commitDeadline = uint64(block.timestamp) + p.commitWindow;
        address[] memory chosen = r.quorum.select(
            $.staking,
            seed,
            p.quorum,
            r.refiner,
            commitDeadline,
            commitDeadline + p.revealWindow
        );
        emit AttestorsDrawn(bountyId, index, seed, chosen, commitDeadline, r.quorum.revealDeadline);
    }

    /// @dev Whether `AttestationQuorum.select` can draw `q` attestors other than `exclude` (it reverts otherwise).
    function _enoughAttestors(INodeStaking staking_, address exclude, uint256 q) private view returns (bool) {
        uint256 available = staking_.activeCount(INodeStaking.Role.Attestor);
        if (staking_.isActive(exclude, INodeStaking.Role.Attestor)) --available;
        return available >= q;
    }

    /// @dev Books `pool` in equal parts for the members in `agreeMask` (the dust stays in the bounty).
    function _creditAttestors(
        FineTuningStorage storage $,
        Bounty storage b,
        uint256 agreeMask,
        uint256 pool
    ) private returns (uint256 each) {
        if (agreeMask == 0) return 0;
        uint256 count = 0;
        for (uint256 m = agreeMask; m != 0; m &= m - 1) ++count;
        each = pool / count;
        b.attestorsPaid += uint128(each * count); // ≤ the round reward, a part of a uint128 pool
        $.totalHeld -= each * count;
    }

    /// @dev Transfers `each` to every member in `agreeMask` (booked by `_creditAttestors`).
    function _payAttestors(
        IERC20 token_,
        AttestationQuorum.Round storage q,
        uint256 bountyId,
        uint256 index,
        uint256 agreeMask,
        uint256 each
    ) private {
        uint256 size = q.size;
        for (uint256 i = 0; i < size; ++i) {
            if (agreeMask & (1 << i) == 0) continue;
            address a = q.members[i];
            emit AttestorPaid(bountyId, index, a, each);
            token_.safeTransfer(a, each);
        }
    }

    function _slashFaults(
        FineTuningStorage storage $,
        Bounty storage b,
        Round storage r,
        uint256 bountyId,
        uint256 index,
        uint256 faultMask,
        bool refinerFault
    ) private {
        if (faultMask == 0 && !refinerFault) return;
        INodeStaking staking_ = $.staking;
        uint256 amount = $.params.slashAmount;
        // The challenger share never goes to a party of the bounty (PROTOCOL.md §7.6): then it is not paid.
        address challenger = msg.sender;
        if (challenger == b.poster || challenger == r.refiner || r.quorum.isMember(challenger))
            challenger = address(0);
        uint256 size = r.quorum.size;
        for (uint256 i = 0; i < size; ++i) {
            if (faultMask & (1 << i) != 0) {
                address node = r.quorum.members[i];
                _slash(staking_, bountyId, index, node, INodeStaking.Role.Attestor, amount, challenger);
            }
        }
        if (refinerFault)
            _slash(staking_, bountyId, index, r.refiner, INodeStaking.Role.Refiner, amount, challenger);
    }

    function _slash(
        INodeStaking staking_,
        uint256 bountyId,
        uint256 index,
        address node,
        INodeStaking.Role role,
        uint256 amount,
        address challenger
    ) private {
        uint256 slashed = staking_.slash(node, role, amount, challenger);
        emit NodeSlashed(bountyId, index, node, role, slashed);
    }

    /// @dev Opens the next round, or after the last one finalises the bounty and refunds the leftover.
    function _nextRound(FineTuningStorage storage $, Bounty storage b, uint256 bountyId) private {
        uint8 next = b.currentRound + 1;
        b.currentRound = next;
        if (next < b.rounds) {
            b.roundOpenedAt = uint64(block.timestamp);
            emit RoundOpened(bountyId, next, b.currentAlgorithmId, uint64(block.timestamp));
            return;
        }
        uint256 refund = b.rewardPool - b.reserved - b.attestorsPaid;
        b.status = BountyStatus.Finalized;
        b.refunded = uint128(refund);
        $.totalHeld -= refund;
        emit BountyFinalized(bountyId, refund);
        if (refund != 0) $.token.safeTransfer(b.poster, refund);
    }

    function _setParams(FineTuningStorage storage $, Params calldata p) private {
        if (
            p.quorum == 0 ||
            p.quorum > AttestationQuorum.MAX_SIZE ||
            p.commitWindow == 0 ||
            p.revealWindow == 0 ||
            p.claimWindow == 0 ||
            p.attestorShareBps > BPS
        ) revert FineTuningInvalidParams();
        $.params = p;
        emit ParamsUpdated(p);
    }

    function _getStorage() private pure returns (FineTuningStorage storage $) {
        assembly {
            $.slot := FINE_TUNING_STORAGE_LOCATION
        }
    }
}
