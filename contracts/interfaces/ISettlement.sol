// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IJobMarket} from "./IJobMarket.sol";
import {INodeStaking} from "./INodeStaking.sol";
import {IResultAttestation} from "./IResultAttestation.sol";

/// @title ISettlement
/// @notice Step 7 of a prediction job: an active staked reporter posts the report CID, the commitment to the
///         encrypted report, the number of participants, the device payout Merkle root and its total, and whether
///         the quality requirement held. In the same transaction the escrow is split: devices (Merkle claims held
///         here), distributor, aggregator, agreeing attestors, reporter, developer royalty and protocol fee; the
///         unused budget returns to the customer. When quality failed the customer is refunded less node fees.
///         Unclaimed device payouts go to the treasury after the claim window (`sweep`).
///         See docs/attestation-settlement-finetuning.md.
interface ISettlement {
    /// @notice What the reporter posts.
    struct ReportInput {
        string reportCid; // IPFS CID of the ECIES-encrypted report
        bytes32 reportCommitment; // public commitment to the encrypted report (e.g. keccak256 of its bytes)
        uint32 participants; // surviving participants in the aggregate
        bytes32 payoutRoot; // StandardMerkleTree ["address","uint256"] root of device payouts (0 on failure)
        uint128 payoutTotal; // sum of the payout leaves (0 on failure)
        bool qualityMet; // the quality requirement (max standard error) held
    }

    /// @notice A posted report and its device payout pool.
    struct Report {
        address reporter;
        uint32 participants;
        bool success; // quality held and participants >= the job's minimum
        bool swept;
        uint48 claimDeadline; // sweep allowed after this
        bytes32 reportCommitment;
        bytes32 payoutRoot;
        uint128 payoutTotal;
        uint128 claimed;
        bytes32 reportCidHash; // keccak256 of the report CID (the CID is in `ReportPosted`)
    }

    /// @notice How a job's escrow was split (amounts in token wei).
    struct Split {
        address distributor;
        address aggregator;
        address reporter;
        address developer;
        uint256 distributorFee;
        uint256 aggregatorFee;
        uint256 reporterFee;
        uint256 attestorShare; // paid to each agreeing attestor
        uint256 attestorCount;
        uint256 royalty;
        uint256 protocolFee;
        uint256 devicePool;
    }

    // ------------------------------------------------------------------------------------------------------
    // Errors
    // ------------------------------------------------------------------------------------------------------

    /// @notice An initializer/setter address is zero.
    error SettlementZeroAddress();
    /// @notice The claim window is outside [MIN_CLAIM_WINDOW, MAX_CLAIM_WINDOW].
    error SettlementInvalidClaimWindow(uint64 claimWindow);
    /// @notice The caller is not an active staked reporter.
    error SettlementNotReporter(address caller);
    /// @notice The job is not Attested.
    error SettlementInvalidJobStatus(uint256 jobId, IJobMarket.JobStatus status);
    /// @notice The job's report deadline passed (only JobMarket.timeout is possible now).
    error SettlementDeadlinePassed(uint256 jobId, uint64 deadline);
    /// @notice The report CID is empty or too long, or the report commitment is zero.
    error SettlementInvalidReport();
    /// @notice More participants than devices assigned to the job.
    error SettlementTooManyParticipants(uint256 participants, uint256 deviceCount);
    /// @notice The payout root / total are inconsistent with the outcome, or the total exceeds
    ///         `participants × rewardPerDevice`.
    error SettlementInvalidPayout(uint256 payoutTotal, uint256 maxTotal);
    /// @notice The split exceeds the job's escrow.
    error SettlementInsufficientEscrow(uint256 jobId, uint256 escrow, uint256 required);
    /// @notice The job has no device payout pool (no successful report).
    error SettlementNoPayouts(uint256 jobId);
    /// @notice The account already claimed its payout for this job.
    error SettlementAlreadyClaimed(uint256 jobId, address account);
    /// @notice The Merkle proof does not prove (account, amount) under the job's payout root.
    error SettlementInvalidProof(uint256 jobId, address account, uint256 amount);
    /// @notice The claim would exceed the job's payout total.
    error SettlementPoolExhausted(uint256 jobId, uint256 remaining, uint256 amount);
    /// @notice Unclaimed payouts were swept; no more claims.
    error SettlementAlreadySwept(uint256 jobId);
    /// @notice The claim window has not ended yet.
    error SettlementClaimWindowOpen(uint256 jobId, uint48 claimDeadline);

    // ------------------------------------------------------------------------------------------------------
    // Events
    // ------------------------------------------------------------------------------------------------------

    /// @notice The claim window changed.
    event ClaimWindowUpdated(uint64 claimWindow);
    /// @notice A reporter posted the job's report.
    event ReportPosted(
        uint256 indexed jobId,
        address indexed reporter,
        string reportCid,
        bytes32 reportCommitment,
        uint32 participants,
        bytes32 payoutRoot,
        uint128 payoutTotal,
        bool qualityMet,
        bool success
    );
    /// @notice The job's escrow was split (the remainder returned to the customer by the JobMarket).
    event JobSplit(uint256 indexed jobId, bool success, Split split);
    /// @notice A node or the developer received a fee.
    event FeePaid(uint256 indexed jobId, address indexed to, uint256 amount);
    /// @notice A device claimed its payout.
    event PayoutClaimed(uint256 indexed jobId, address indexed account, uint256 amount);
    /// @notice Unclaimed payouts were sent to the treasury.
    event PayoutSwept(uint256 indexed jobId, address indexed treasury, uint256 amount);

    // ------------------------------------------------------------------------------------------------------
    // Functions
    // ------------------------------------------------------------------------------------------------------

    /// @notice Sets the claim window (seconds after settlement before unclaimed payouts may be swept).
    ///         Only governance.
    function setClaimWindow(uint64 claimWindow) external;

    /// @notice An active reporter posts the report of an Attested job and settles it (Attested → Reported →
    ///         Settled, or → Failed with a refund less node fees when quality failed).
    function report(uint256 jobId, ReportInput calldata input) external;

    /// @notice Pays `account` its `amount` from the job's payout pool with a Merkle proof. Anyone may submit;
    ///         the tokens always go to `account`. Once per account and job.
    function claim(uint256 jobId, address account, uint256 amount, bytes32[] calldata proof) external;

    /// @notice Sends a job's unclaimed payouts to the treasury once the claim window ended. Permissionless.
    function sweep(uint256 jobId) external;

    /// @notice The job's report (zeroed when none).
    function reportOf(uint256 jobId) external view returns (Report memory);

    /// @notice Whether `account` claimed its payout of `jobId`.
    function isClaimed(uint256 jobId, address account) external view returns (bool);

    /// @notice Payouts held for devices across all jobs (reported totals less claims and sweeps).
    function totalOutstanding() external view returns (uint256);

    /// @notice The claim window (seconds).
    function claimWindow() external view returns (uint64);

    /// @notice Wiring.
    function jobMarket() external view returns (IJobMarket);

    /// @notice The attestation module (source of the agreeing attestors).
    function attestation() external view returns (IResultAttestation);

    /// @notice Node staking (reporter check).
    function staking() external view returns (INodeStaking);
}
