// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {GovernedUUPS} from "./utils/GovernedUUPS.sol";
import {CidLimits} from "./utils/CidLimits.sol";
import {ISettlement} from "./interfaces/ISettlement.sol";
import {IJobMarket} from "./interfaces/IJobMarket.sol";
import {INodeStaking} from "./interfaces/INodeStaking.sol";
import {IResultAttestation} from "./interfaces/IResultAttestation.sol";
import {IAlgorithmMarketplace} from "./interfaces/IAlgorithmMarketplace.sol";

/// @title Settlement
/// @notice Report posting, escrow split and device payout claims for prediction jobs (PROTOCOL.md §4 step 7).
///         Authorised in the JobMarket as `SETTLEMENT_MODULE`. Holds only the device payout pools.
contract Settlement is GovernedUUPS, ReentrancyGuardTransient, ISettlement {
    using SafeERC20 for IERC20;

    uint256 private constant BPS = 10_000;
    uint256 private constant MAX_CID_LENGTH = CidLimits.MAX_LENGTH;
    /// @notice Shortest claim window governance may set.
    uint64 public constant MIN_CLAIM_WINDOW = 7 days;
    /// @notice Longest claim window governance may set.
    uint64 public constant MAX_CLAIM_WINDOW = 5 * 365 days;
    bytes32 private constant REASON_QUALITY = "QUALITY_FAILED";

    /// @dev The DML token, fixed per implementation (read on every claim; rewiring it is an upgrade).
    /// @custom:oz-upgrades-unsafe-allow state-variable-immutable
    IERC20 private immutable TOKEN;

    /// @dev The device payout pool of a job (one slot).
    struct Pool {
        uint96 total;
        uint96 claimed;
        uint48 claimDeadline;
        bool swept;
    }

    /// @custom:storage-location erc7201:dml.storage.Settlement
    struct SettlementStorage {
        IJobMarket jobMarket;
        IResultAttestation attestation;
        INodeStaking staking;
        IAlgorithmMarketplace market;
        uint64 claimWindow;
        uint256 protocolFees;
        mapping(uint256 jobId => bytes32) payoutRoots;
        mapping(uint256 jobId => Pool) pools;
        mapping(uint256 jobId => mapping(uint256 word => uint256 bits)) claimedBits;
        mapping(address account => uint256) fees;
    }

    // keccak256(abi.encode(uint256(keccak256("dml.storage.Settlement")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant SETTLEMENT_STORAGE_LOCATION =
        0x0f995f1e93928369e3d2f15cd754c92a387f5a43b90b065051e2c3f91ac79300;

    /// @param token_ The DML token (must be the JobMarket's).
    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor(IERC20 token_) {
        if (address(token_) == address(0)) revert SettlementZeroAddress();
        TOKEN = token_;
    }

    /// @notice Initialises the proxy; staking and marketplace are read from the JobMarket, whose token must be
    ///         this implementation's.
    /// @param governance_ The governance timelock.
    /// @param jobMarket_ The JobMarket whose jobs are settled.
    /// @param attestation_ The ResultAttestation module (agreeing attestors are paid).
    /// @param claimWindow_ Seconds after settlement before unclaimed payouts may be swept.
    function initialize(
        address governance_,
        IJobMarket jobMarket_,
        IResultAttestation attestation_,
        uint64 claimWindow_
    ) external initializer {
        __GovernedUUPS_init(governance_);
        if (address(jobMarket_) == address(0) || address(attestation_) == address(0))
            revert SettlementZeroAddress();
        SettlementStorage storage $ = _getStorage();
        $.jobMarket = jobMarket_;
        $.attestation = attestation_;
        $.staking = jobMarket_.staking();
        $.market = jobMarket_.market();
        if (jobMarket_.token() != TOKEN)
            revert SettlementTokenMismatch(address(jobMarket_.token()), address(TOKEN));
        _setClaimWindow($, claimWindow_);
    }

    /// @inheritdoc ISettlement
    function setClaimWindow(uint64 claimWindow_) external onlyGovernance {
        _setClaimWindow(_getStorage(), claimWindow_);
    }

    // ------------------------------------------------------------------------------------------------------
    // Report and split
    // ------------------------------------------------------------------------------------------------------

    /// @inheritdoc ISettlement
    function report(uint256 jobId, ReportInput calldata input) external nonReentrant {
        SettlementStorage storage $ = _getStorage();
        if (!$.staking.isActive(msg.sender, INodeStaking.Role.Reporter))
            revert SettlementNotReporter(msg.sender);
        IJobMarket market = $.jobMarket;
        IJobMarket.SettlementTerms memory job = market.settlementTerms(jobId);
        IResultAttestation attestation_ = $.attestation;
        bytes32 attested = attestation_.resultOf(jobId);
        bytes32 presented = _resultHash(input.result);
        if (presented != attested || attested == bytes32(0))
            revert SettlementResultMismatch(jobId, attested, presented);
        bool success = _checkReport(jobId, job, input);
        address[] memory attestors = attestation_.agreeingAttestors(jobId);
        Split memory s = _split($, job, attestors.length, success, input.result.payoutTotal);
        uint256 fees = s.distributorFee + s.aggregatorFee + s.reporterFee + s.attestorShare * s.attestorCount;
        uint256 pull = fees + s.royalty + s.parentRoyalty + s.protocolFee + s.devicePool;
        if (pull > job.escrow) revert SettlementInsufficientEscrow(jobId, job.escrow, pull);

        // Effects: the report, the payout pool and the fee ledger.
        _record($, jobId, input, success);
        _credit($, s, attestors);
        emit JobSplit(jobId, success, s, attestors);

        // Interaction: the JobMarket moves the job to Settled/Failed, pays `pull` here and refunds the rest.
        market.settle(jobId, pull, success, REASON_QUALITY);
    }

    // ------------------------------------------------------------------------------------------------------
    // Device claims and fee withdrawals
    // ------------------------------------------------------------------------------------------------------

    /// @inheritdoc ISettlement
    function claim(
        uint256 jobId,
        uint256 index,
        address account,
        uint256 amount,
        bytes32[] calldata proof
    ) external nonReentrant {
        SettlementStorage storage $ = _getStorage();
        Pool storage pool = $.pools[jobId];
        Pool memory p = pool;
        if (p.total == 0) revert SettlementNoPayouts(jobId);
        if (p.swept) revert SettlementAlreadySwept(jobId);
        mapping(uint256 => uint256) storage bits = $.claimedBits[jobId];
        uint256 word = bits[index >> 8];
        uint256 bit = 1 << (index & 0xff);
        if (word & bit != 0) revert SettlementAlreadyClaimed(jobId, index);
        _verifyLeaf($.payoutRoots[jobId], jobId, index, account, amount, proof);
        uint256 remaining = p.total - p.claimed;
        if (amount > remaining) revert SettlementPoolExhausted(jobId, remaining, amount);
        bits[index >> 8] = word | bit;
        pool.claimed = uint96(p.claimed + amount);
        emit PayoutClaimed(jobId, index, account, amount);
        if (amount != 0) TOKEN.safeTransfer(account, amount);
    }

    /// @inheritdoc ISettlement
    function sweep(uint256 jobId) external nonReentrant {
        SettlementStorage storage $ = _getStorage();
        Pool storage pool = $.pools[jobId];
        if (pool.total == 0) revert SettlementNoPayouts(jobId);
        if (pool.swept) revert SettlementAlreadySwept(jobId);
        if (block.timestamp <= pool.claimDeadline)
            revert SettlementClaimWindowOpen(jobId, pool.claimDeadline);
        uint256 amount = pool.total - pool.claimed;
        pool.swept = true;
        address treasury = $.jobMarket.treasury();
        emit PayoutSwept(jobId, treasury, amount);
        if (amount != 0) TOKEN.safeTransfer(treasury, amount);
    }

    /// @inheritdoc ISettlement
    function withdrawFees(address account) external nonReentrant {
        SettlementStorage storage $ = _getStorage();
        uint256 amount = $.fees[account];
        if (amount == 0) revert SettlementNoFees(account);
        $.fees[account] = 0;
        emit FeesWithdrawn(account, amount);
        TOKEN.safeTransfer(account, amount);
    }

    /// @inheritdoc ISettlement
    function withdrawProtocolFees() external nonReentrant {
        SettlementStorage storage $ = _getStorage();
        uint256 amount = $.protocolFees;
        address treasury = $.jobMarket.treasury();
        if (amount == 0) revert SettlementNoFees(treasury);
        $.protocolFees = 0;
        emit ProtocolFeesWithdrawn(treasury, amount);
        TOKEN.safeTransfer(treasury, amount);
    }

    // ------------------------------------------------------------------------------------------------------
    // Views
    // ------------------------------------------------------------------------------------------------------

    /// @inheritdoc ISettlement
    function resultHashOf(Result calldata result) external pure returns (bytes32) {
        return _resultHash(result);
    }

    /// @inheritdoc ISettlement
    function reportOf(uint256 jobId) external view returns (Report memory r) {
        SettlementStorage storage $ = _getStorage();
        Pool memory p = $.pools[jobId];
        r.payoutRoot = $.payoutRoots[jobId];
        r.payoutTotal = p.total;
        r.claimed = p.claimed;
        r.claimDeadline = p.claimDeadline;
        r.swept = p.swept;
    }

    /// @inheritdoc ISettlement
    function isClaimed(uint256 jobId, uint256 index) external view returns (bool) {
        return _getStorage().claimedBits[jobId][index >> 8] & (1 << (index & 0xff)) != 0;
    }

    /// @inheritdoc ISettlement
    function feesOf(address account) external view returns (uint256) {
        return _getStorage().fees[account];
    }

    /// @inheritdoc ISettlement
    function protocolFees() external view returns (uint256) {
        return _getStorage().protocolFees;
    }

    /// @inheritdoc ISettlement
    function claimWindow() external view returns (uint64) {
        return _getStorage().claimWindow;
    }

    /// @inheritdoc ISettlement
    function jobMarket() external view returns (IJobMarket) {
        return _getStorage().jobMarket;
    }

    /// @inheritdoc ISettlement
    function attestation() external view returns (IResultAttestation) {
        return _getStorage().attestation;
    }

    /// @inheritdoc ISettlement
    function staking() external view returns (INodeStaking) {
        return _getStorage().staking;
    }

    // ------------------------------------------------------------------------------------------------------
    // Internal
    // ------------------------------------------------------------------------------------------------------

    function _record(
        SettlementStorage storage $,
        uint256 jobId,
        ReportInput calldata input,
        bool success
    ) private {
        Result calldata r = input.result;
        if (success) {
            $.payoutRoots[jobId] = r.payoutRoot;
            $.pools[jobId] = Pool({
                total: r.payoutTotal,
                claimed: 0,
                claimDeadline: uint48(block.timestamp + $.claimWindow),
                swept: false
            });
        }
        emit ReportPosted(
            jobId,
            msg.sender,
            input.reportCid,
            input.reportCommitment,
            r.aggregateHash,
            r.participants,
            r.payoutRoot,
            r.payoutTotal,
            input.payoutsCid,
            r.qualityMet,
            success
        );
    }

    /// @dev Validates the report and the attested result against the job; returns whether the job succeeded.
    ///      The bounds still hold for an attested result (defence in depth: a quorum cannot overpay).
    function _checkReport(
        uint256 jobId,
        IJobMarket.SettlementTerms memory job,
        ReportInput calldata input
    ) private view returns (bool success) {
        if (job.status != IJobMarket.JobStatus.Attested) revert SettlementInvalidJobStatus(jobId, job.status);
        if (block.timestamp > job.deadline) revert SettlementDeadlinePassed(jobId, job.deadline);
        uint256 cidLength = bytes(input.reportCid).length;
        if (cidLength == 0 || cidLength > MAX_CID_LENGTH || input.reportCommitment == bytes32(0)) {
            revert SettlementInvalidReport();
        }
        Result calldata r = input.result;
        if (r.participants > job.deviceCount) {
            revert SettlementTooManyParticipants(r.participants, job.deviceCount);
        }
        success = r.qualityMet && r.participants >= job.minParticipants;
        uint256 maxTotal = success ? uint256(r.participants) * job.rewardPerDevice : 0;
        bool ok =
            success
                ? r.payoutRoot != bytes32(0) && r.payoutTotal != 0 && r.payoutTotal <= maxTotal
                : r.payoutRoot == bytes32(0) && r.payoutTotal == 0;
        if (!ok) revert SettlementInvalidPayout(r.payoutTotal, maxTotal);
        uint256 payoutsCidLength = bytes(input.payoutsCid).length;
        if (success ? payoutsCidLength == 0 || payoutsCidLength > MAX_CID_LENGTH : payoutsCidLength != 0)
            revert SettlementInvalidPayoutsCid();
    }

    /// @dev Fees are `floor(deviceBudget × bps / 10_000)` exactly as the JobMarket escrowed them. The attestor
    ///      fee is shared equally by the attestors who revealed the final value (dust stays with the customer).
    function _split(
        SettlementStorage storage $,
        IJobMarket.SettlementTerms memory job,
        uint256 count,
        bool success,
        uint256 payoutTotal
    ) private view returns (Split memory s) {
        uint256 budget = uint256(job.maxDevices) * job.rewardPerDevice;
        IJobMarket.FeeBps memory f = job.fees;
        s.distributor = job.distributor;
        s.aggregator = job.aggregator;
        s.reporter = msg.sender;
        s.distributorFee = (budget * f.distributor) / BPS;
        s.aggregatorFee = (budget * f.aggregator) / BPS;
        s.reporterFee = (budget * f.reporter) / BPS;
        s.attestorCount = count;
        if (count != 0) s.attestorShare = (budget * f.attestors) / BPS / count;
        if (success) {
            // The royalty is revenue of the algorithm: shared like a licence payment (parent share, fee).
            uint256 marketFee;
            (s.developer, s.royalty, s.parentDeveloper, s.parentRoyalty, marketFee) = $.market.revenueSplit(
                job.algorithmId,
                (budget * f.royalty) / BPS
            );
            s.protocolFee = (budget * f.protocol) / BPS + marketFee;
            s.devicePool = payoutTotal;
        }
    }

    function _resultHash(Result calldata r) private pure returns (bytes32) {
        return
            keccak256(abi.encode(r.aggregateHash, r.payoutRoot, r.payoutTotal, r.participants, r.qualityMet));
    }

    /// @dev Reverts unless `proof` proves leaf `(index, account, amount)` under `root`.
    function _verifyLeaf(
        bytes32 root,
        uint256 jobId,
        uint256 index,
        address account,
        uint256 amount,
        bytes32[] calldata proof
    ) private pure {
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(index, account, amount))));
        if (!MerkleProof.verifyCalldata(proof, root, leaf))
            revert SettlementInvalidProof(jobId, index, account, amount);
    }

    /// @dev Credits every fee to its recipient's ledger entry.
    function _credit(SettlementStorage storage $, Split memory s, address[] memory attestors) private {
        mapping(address => uint256) storage fees = $.fees;
        if (s.distributorFee != 0) fees[s.distributor] += s.distributorFee;
        if (s.aggregatorFee != 0) fees[s.aggregator] += s.aggregatorFee;
        if (s.reporterFee != 0) fees[s.reporter] += s.reporterFee;
        if (s.attestorShare != 0) {
            for (uint256 i = 0; i < attestors.length; ++i) fees[attestors[i]] += s.attestorShare;
        }
        if (s.royalty != 0) fees[s.developer] += s.royalty;
        if (s.parentRoyalty != 0) fees[s.parentDeveloper] += s.parentRoyalty;
        if (s.protocolFee != 0) $.protocolFees += s.protocolFee;
    }

    function _setClaimWindow(SettlementStorage storage $, uint64 w) private {
        if (w < MIN_CLAIM_WINDOW || w > MAX_CLAIM_WINDOW) revert SettlementInvalidClaimWindow(w);
        $.claimWindow = w;
        emit ClaimWindowUpdated(w);
    }

    function _getStorage() private pure returns (SettlementStorage storage $) {
        assembly {
            $.slot := SETTLEMENT_STORAGE_LOCATION
        }
    }
}
