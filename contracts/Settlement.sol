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

    /// @custom:storage-location erc7201:dml.storage.Settlement
    struct SettlementStorage {
        IJobMarket jobMarket;
        IResultAttestation attestation;
        INodeStaking staking;
        IAlgorithmMarketplace market;
        IERC20 token;
        uint64 claimWindow;
        uint256 totalOutstanding;
        mapping(uint256 jobId => Report) reports;
        mapping(uint256 jobId => mapping(address account => bool)) claimed;
    }

    // keccak256(abi.encode(uint256(keccak256("dml.storage.Settlement")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant SETTLEMENT_STORAGE_LOCATION =
        0x0f995f1e93928369e3d2f15cd754c92a387f5a43b90b065051e2c3f91ac79300;

    /// @notice Initialises the proxy; token, staking and marketplace are read from the JobMarket.
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
        $.token = jobMarket_.token();
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
        IJobMarket.Job memory job = market.getJob(jobId);
        bool success = _checkReport(jobId, job, input);
        address[] memory attestors = $.attestation.agreeingAttestors(jobId);
        Split memory s = _split($, job, attestors.length, success, input.payoutTotal);
        uint256 pull =
            s.distributorFee +
                s.aggregatorFee +
                s.reporterFee +
                s.attestorShare * s.attestorCount +
                s.royalty +
                s.protocolFee +
                s.devicePool;
        if (pull > job.escrow) revert SettlementInsufficientEscrow(jobId, job.escrow, pull);

        // Effects.
        _record($, jobId, input, success);
        emit JobSplit(jobId, success, s);

        // Interactions: JobMarket transitions and escrow pull, then fee transfers, then the refund.
        market.markReported(jobId);
        if (pull != 0) market.pay(jobId, address(this), pull);
        _payFees($, jobId, s, attestors);
        if (success) market.markSettled(jobId);
        else market.markFailed(jobId, REASON_QUALITY);
    }

    // ------------------------------------------------------------------------------------------------------
    // Device claims
    // ------------------------------------------------------------------------------------------------------

    /// @inheritdoc ISettlement
    function claim(
        uint256 jobId,
        address account,
        uint256 amount,
        bytes32[] calldata proof
    ) external nonReentrant {
        SettlementStorage storage $ = _getStorage();
        Report storage r = $.reports[jobId];
        bytes32 root = r.payoutRoot;
        if (root == bytes32(0)) revert SettlementNoPayouts(jobId);
        if (r.swept) revert SettlementAlreadySwept(jobId);
        mapping(address => bool) storage claimedOf = $.claimed[jobId];
        if (claimedOf[account]) revert SettlementAlreadyClaimed(jobId, account);
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(account, amount))));
        if (!MerkleProof.verifyCalldata(proof, root, leaf))
            revert SettlementInvalidProof(jobId, account, amount);
        uint256 claimedSoFar = r.claimed;
        uint256 remaining = r.payoutTotal - claimedSoFar;
        if (amount > remaining) revert SettlementPoolExhausted(jobId, remaining, amount);
        claimedOf[account] = true;
        r.claimed = uint128(claimedSoFar + amount);
        $.totalOutstanding -= amount;
        emit PayoutClaimed(jobId, account, amount);
        if (amount != 0) $.token.safeTransfer(account, amount);
    }

    /// @inheritdoc ISettlement
    function sweep(uint256 jobId) external nonReentrant {
        SettlementStorage storage $ = _getStorage();
        Report storage r = $.reports[jobId];
        if (r.payoutRoot == bytes32(0)) revert SettlementNoPayouts(jobId);
        if (r.swept) revert SettlementAlreadySwept(jobId);
        if (block.timestamp <= r.claimDeadline) revert SettlementClaimWindowOpen(jobId, r.claimDeadline);
        uint256 amount = r.payoutTotal - r.claimed;
        r.swept = true;
        $.totalOutstanding -= amount;
        address treasury = $.jobMarket.treasury();
        emit PayoutSwept(jobId, treasury, amount);
        if (amount != 0) $.token.safeTransfer(treasury, amount);
    }

    // ------------------------------------------------------------------------------------------------------
    // Views
    // ------------------------------------------------------------------------------------------------------

    /// @inheritdoc ISettlement
    function reportOf(uint256 jobId) external view returns (Report memory) {
        return _getStorage().reports[jobId];
    }

    /// @inheritdoc ISettlement
    function isClaimed(uint256 jobId, address account) external view returns (bool) {
        return _getStorage().claimed[jobId][account];
    }

    /// @inheritdoc ISettlement
    function totalOutstanding() external view returns (uint256) {
        return _getStorage().totalOutstanding;
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
        Report storage r = $.reports[jobId];
        r.reporter = msg.sender;
        r.participants = input.participants;
        r.success = success;
        r.reportCommitment = input.reportCommitment;
        r.reportCidHash = keccak256(bytes(input.reportCid));
        if (success) {
            r.claimDeadline = uint48(block.timestamp + $.claimWindow);
            r.payoutRoot = input.payoutRoot;
            r.payoutTotal = input.payoutTotal;
            $.totalOutstanding += input.payoutTotal;
        }
        emit ReportPosted(
            jobId,
            msg.sender,
            input.reportCid,
            input.reportCommitment,
            input.participants,
            input.payoutRoot,
            input.payoutTotal,
            input.qualityMet,
            success
        );
    }

    /// @dev Validates the report against the job; returns whether the job succeeded.
    function _checkReport(
        uint256 jobId,
        IJobMarket.Job memory job,
        ReportInput calldata input
    ) private view returns (bool success) {
        if (job.status != IJobMarket.JobStatus.Attested) revert SettlementInvalidJobStatus(jobId, job.status);
        if (block.timestamp > job.deadline) revert SettlementDeadlinePassed(jobId, job.deadline);
        uint256 cidLength = bytes(input.reportCid).length;
        if (cidLength == 0 || cidLength > MAX_CID_LENGTH || input.reportCommitment == bytes32(0)) {
            revert SettlementInvalidReport();
        }
        if (input.participants > job.deviceCount) {
            revert SettlementTooManyParticipants(input.participants, job.deviceCount);
        }
        success = input.qualityMet && input.participants >= job.minParticipants;
        uint256 maxTotal = success ? uint256(input.participants) * job.rewardPerDevice : 0;
        bool ok =
            success
                ? input.payoutRoot != bytes32(0) && input.payoutTotal != 0 && input.payoutTotal <= maxTotal
                : input.payoutRoot == bytes32(0) && input.payoutTotal == 0;
        if (!ok) revert SettlementInvalidPayout(input.payoutTotal, maxTotal);
    }

    /// @dev Fees are `floor(deviceBudget × bps / 10_000)` exactly as the JobMarket escrowed them. The attestor
    ///      fee is shared equally by the attestors who revealed the final value (dust stays with the customer).
    function _split(
        SettlementStorage storage $,
        IJobMarket.Job memory job,
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
            s.developer = $.market.getAlgorithm(job.algorithmId).developer;
            s.royalty = (budget * f.royalty) / BPS;
            s.protocolFee = (budget * f.protocol) / BPS;
            s.devicePool = payoutTotal;
        }
    }

    function _payFees(
        SettlementStorage storage $,
        uint256 jobId,
        Split memory s,
        address[] memory attestors
    ) private {
        IERC20 token_ = $.token;
        _transfer(token_, jobId, s.distributor, s.distributorFee);
        _transfer(token_, jobId, s.aggregator, s.aggregatorFee);
        _transfer(token_, jobId, s.reporter, s.reporterFee);
        if (s.attestorShare != 0) {
            for (uint256 i = 0; i < attestors.length; ++i)
                _transfer(token_, jobId, attestors[i], s.attestorShare);
        }
        if (s.royalty != 0) _transfer(token_, jobId, s.developer, s.royalty);
        if (s.protocolFee != 0) _transfer(token_, jobId, $.jobMarket.treasury(), s.protocolFee);
    }

    function _transfer(IERC20 token_, uint256 jobId, address to, uint256 amount) private {
        if (amount == 0) return;
        emit FeePaid(jobId, to, amount);
        token_.safeTransfer(to, amount);
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
