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

/// @title FineTuning
/// @notice Crowd fine-tuning bounties with refiner rounds attested by a commit-reveal quorum (PROTOCOL.md §5).
///         Authorised as a marketplace publisher and a NodeStaking slasher.
contract FineTuning is GovernedUUPS, ReentrancyGuardTransient, IFineTuning {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;
    using AttestationQuorum for AttestationQuorum.Round;

    /// @notice Most rounds per bounty.
    uint8 public constant MAX_ROUNDS = 100;
    /// @notice Default secure-aggregation group size.
    uint16 public constant DEFAULT_GROUP_SIZE = 8;
    uint256 private constant MAX_CID_LENGTH = CidLimits.MAX_LENGTH;
    /// @dev One basis point of a 1e18 fixed-point metric.
    uint256 private constant METRIC_BPS = 1e14;
    bytes32 private constant REASON_NO_SUBMISSION = "NO_SUBMISSION";
    bytes32 private constant REASON_NO_MAJORITY = "NO_MAJORITY";
    bytes32 private constant REASON_REFINER_WRONG = "REFINER_MISMATCH";
    bytes32 private constant REASON_GAIN = "GAIN_BELOW_MINIMUM";
    bytes32 private constant REASON_PUBLISH = "PUBLISH_FAILED";

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
        b.baseAlgorithmId = input.algorithmId.toUint64();
        b.currentAlgorithmId = input.algorithmId.toUint64();
        b.metricId = input.metricId;
        b.rewardPool = input.rewardPool;
        b.controlCid = input.controlCid;
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
    function submitRound(uint256 bountyId, RoundClaim calldata claim_) external {
        FineTuningStorage storage $ = _getStorage();
        Bounty storage b = _active($, bountyId);
        if (!$.staking.isActive(msg.sender, INodeStaking.Role.Refiner))
            revert FineTuningNotRefiner(msg.sender);
        uint256 index = b.currentRound;
        Round storage r = $.rounds[bountyId][index];
        if (r.status != RoundStatus.Open) revert FineTuningInvalidRoundStatus(bountyId, index, r.status);
        uint64 deadline = b.roundOpenedAt + b.roundDuration;
        if (block.timestamp > deadline) revert FineTuningRoundClosed(bountyId, index, deadline);
        _checkClaim(claim_, b.rewardPool / b.rounds);
        bytes32 claimHash = _claimHash(claim_);
        r.status = RoundStatus.Submitted;
        r.refiner = msg.sender;
        r.claimHash = claimHash;
        r.claim = claim_;
        address[] memory chosen = _openQuorum($, r.quorum, bountyId, index);
        emit RoundSubmitted(
            bountyId,
            index,
            msg.sender,
            claimHash,
            claim_,
            chosen,
            r.quorum.commitDeadline,
            r.quorum.revealDeadline
        );
    }

    /// @inheritdoc IFineTuning
    function commitAttestation(uint256 bountyId, bytes32 commitment) external {
        (Round storage r, uint256 index) = _submitted(bountyId);
        r.quorum.commit(msg.sender, commitment);
        emit AttestationCommitted(bountyId, index, msg.sender, commitment);
    }

    /// @inheritdoc IFineTuning
    function revealAttestation(uint256 bountyId, bytes32 claimHash, bytes32 salt) external {
        (Round storage r, uint256 index) = _submitted(bountyId);
        r.quorum.reveal(msg.sender, claimHash, salt);
        emit AttestationRevealed(bountyId, index, msg.sender, claimHash);
    }

    /// @inheritdoc IFineTuning
    function finalizeRound(uint256 bountyId) external nonReentrant {
        FineTuningStorage storage $ = _getStorage();
        (Round storage r, uint256 index) = _submitted(bountyId);
        Bounty storage b = $.bounties[bountyId];
        AttestationQuorum.Round storage q = r.quorum;
        q.requireOver();
        (bytes32 value, bool majority) = q.tally();
        (uint256 faultMask, ) = q.faults(value, majority);
        bool refinerFault = majority && value != r.claimHash;
        bytes32 reason;
        if (!majority) reason = REASON_NO_MAJORITY;
        else if (refinerFault) reason = REASON_REFINER_WRONG;
        else if (!_gainMet(r.claim.metricBefore, r.claim.metricAfter, b.minGainBps)) reason = REASON_GAIN;
        r.finalHash = value;

        // Slashing (external calls to NodeStaking only; state of the round is updated below).
        _slashFaults($, r, bountyId, index, faultMask, refinerFault);

        uint256 childId;
        if (reason == bytes32(0)) {
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
                reason = REASON_PUBLISH;
            }
        }
        if (reason == bytes32(0)) {
            r.status = RoundStatus.Accepted;
            r.childAlgorithmId = childId.toUint64();
            r.claimDeadline = uint64(block.timestamp) + $.params.claimWindow;
            b.currentAlgorithmId = childId.toUint64();
            b.reserved += r.claim.payoutTotal;
        } else {
            r.status = RoundStatus.Rejected;
        }
        emit RoundFinalized(bountyId, index, reason == bytes32(0), reason, value, childId);
        _nextRound($, b, bountyId);
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
    function claimHashOf(RoundClaim calldata claim_) external pure returns (bytes32) {
        return _claimHash(claim_);
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

    function _submitted(uint256 bountyId) private view returns (Round storage r, uint256 index) {
        FineTuningStorage storage $ = _getStorage();
        Bounty storage b = _active($, bountyId);
        index = b.currentRound;
        r = $.rounds[bountyId][index];
        if (r.status != RoundStatus.Submitted) revert FineTuningInvalidRoundStatus(bountyId, index, r.status);
    }

    function _checkClaim(RoundClaim calldata c, uint256 maxTotal) private pure {
        uint256 cidLength = bytes(c.modelCid).length;
        bool ok =
            cidLength != 0 &&
                cidLength <= MAX_CID_LENGTH &&
                c.modelSha256 != bytes32(0) &&
                c.payoutTotal <= maxTotal &&
                (c.payoutRoot == bytes32(0)) == (c.payoutTotal == 0);
        if (!ok) revert FineTuningInvalidClaim(c.payoutTotal, maxTotal);
    }

    function _gainMet(uint256 before, uint256 after_, uint256 minGainBps) private pure returns (bool) {
        return after_ >= before && after_ - before >= minGainBps * METRIC_BPS;
    }

    function _claimHash(RoundClaim calldata c) private pure returns (bytes32) {
        return
            keccak256(
                abi.encode(
                    keccak256(bytes(c.modelCid)),
                    c.modelSha256,
                    c.metricBefore,
                    c.metricAfter,
                    c.acceptedGroupsRoot,
                    c.payoutRoot,
                    c.payoutTotal
                )
            );
    }

    function _openQuorum(
        FineTuningStorage storage $,
        AttestationQuorum.Round storage q,
        uint256 bountyId,
        uint256 index
    ) private returns (address[] memory) {
        Params memory p = $.params;
        uint64 commitDeadline = uint64(block.timestamp) + p.commitWindow;
        uint64 revealDeadline = commitDeadline + p.revealWindow;
        bytes32 seed = keccak256(abi.encode(block.prevrandao, bountyId, index, address(this)));
        return q.select($.staking, seed, p.quorum, msg.sender, commitDeadline, revealDeadline);
    }

    function _slashFaults(
        FineTuningStorage storage $,
        Round storage r,
        uint256 bountyId,
        uint256 index,
        uint256 faultMask,
        bool refinerFault
    ) private {
        INodeStaking staking_ = $.staking;
        uint256 amount = $.params.slashAmount;
        uint256 size = r.quorum.size;
        for (uint256 i = 0; i < size; ++i) {
            if (faultMask & (1 << i) != 0) {
                _slash(staking_, bountyId, index, r.quorum.members[i], INodeStaking.Role.Attestor, amount);
            }
        }
        if (refinerFault) _slash(staking_, bountyId, index, r.refiner, INodeStaking.Role.Refiner, amount);
    }

    function _slash(
        INodeStaking staking_,
        uint256 bountyId,
        uint256 index,
        address node,
        INodeStaking.Role role,
        uint256 amount
    ) private {
        uint256 slashed = staking_.slash(node, role, amount, msg.sender);
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
        uint256 refund = b.rewardPool - b.reserved;
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
            p.claimWindow == 0
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
