// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IJobMarket} from "./IJobMarket.sol";
import {INodeStaking} from "./INodeStaking.sol";
import {IResultAttestation} from "./IResultAttestation.sol";

/// @title ISettlement
/// @notice Step 7 of a prediction job (PROTOCOL.md §7.5): an active staked reporter presents the preimage of the
///         job's attested `resultHash` — aggregate hash, device payout Merkle root and total, participants and the
///         quality verdict — and adds only the encrypted report (its CID and commitment) and the payout list CID.
///         Payouts, participants and the verdict come from the attested preimage, never from the reporter. In the
///         same transaction the escrow is split: devices (Merkle claims held here, one bit per leaf), distributor,
///         aggregator, agreeing attestors, reporter, developer royalty (shared with the parent version's developer
///         and the protocol exactly as the marketplace shares licence revenue) and protocol fee (credited to a fee
///         ledger here and withdrawn by their owners at any time); the unused budget returns to the customer.
///         When quality failed the customer is refunded less node fees. Unclaimed device payouts go to the
///         treasury after the claim window (`sweep`).
///         See docs/attestation-settlement-finetuning.md.
interface ISettlement {
    /// @notice What the reporter posts.
    struct ReportInput {
        string reportCid; // IPFS CID of the ECIES-encrypted report
        bytes32 reportCommitment; // public commitment to the encrypted report (e.g. keccak256 of its bytes)
        string payoutsCid; // IPFS CID of the published payout list (empty on failure)
        Result result; // the preimage of the attested resultHash
    }

    /// @notice The attested result: `resultHash = keccak256(abi.encode(aggregateHash, payoutRoot, payoutTotal,
    ///         participants, qualityMet))` (PROTOCOL.md §7.4).
    struct Result {
        bytes32 aggregateHash; // hash of the unmasked aggregate (the customer checks the report against it)
        bytes32 payoutRoot; // StandardMerkleTree ["uint256","address","uint256"] root of (index, account, amount)
        uint96 payoutTotal; // sum of the payout leaves (0 on failure)
        uint32 participants; // surviving participants in the aggregate
        bool qualityMet; // the quality requirement (max standard error) held
    }

    /// @notice A successful job's device payout pool (zero for a failed or unreported job). The report itself
    ///         (CID, commitment, participants, reporter, outcome) is in `ReportPosted`; no contract reads it.
    struct Report {
        bytes32 payoutRoot;
        uint96 payoutTotal;
        uint96 claimed;
        uint48 claimDeadline; // sweep allowed after this
        bool swept;
    }

    /// @notice How a job's escrow was split (amounts in token wei).
    struct Split {
        address distributor;
        address aggregator;
        address reporter;
        address developer;
        address parentDeveloper; // developer of the parent version (zero for none or an own version)
        uint256 distributorFee;
        uint256 aggregatorFee;
        uint256 reporterFee;
        uint256 attestorShare; // credited to each agreeing attestor
        uint256 attestorCount;
        uint256 royalty; // to the developer
        uint256 parentRoyalty; // to the parent version's developer
        uint256 protocolFee; // the job's protocol fee plus the marketplace fee on the royalty
        uint256 devicePool;
    }

    // ------------------------------------------------------------------------------------------------------
    // Errors
    // ------------------------------------------------------------------------------------------------------

    /// @notice An initializer/setter address is zero.
    error SettlementZeroAddress();
    /// @notice The JobMarket's token is not the token this implementation was built for.
    error SettlementTokenMismatch(address jobMarketToken, address token);
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
    /// @notice The payout leaf `index` of this job was already claimed.
    error SettlementAlreadyClaimed(uint256 jobId, uint256 index);
    /// @notice The payout list CID is empty or too long on success, or not empty on failure.
    error SettlementInvalidPayoutsCid();
    /// @notice The account has no fees to withdraw.
    error SettlementNoFees(address account);
    /// @notice The Merkle proof does not prove (account, amount) under the job's payout root.
    error SettlementInvalidProof(uint256 jobId, uint256 index, address account, uint256 amount);
    /// @notice The claim would exceed the job's payout total.
    error SettlementPoolExhausted(uint256 jobId, uint256 remaining, uint256 amount);
    /// @notice Unclaimed payouts were swept; no more claims.
    error SettlementAlreadySwept(uint256 jobId);
    /// @notice The claim window has not ended yet.
    error SettlementClaimWindowOpen(uint256 jobId, uint48 claimDeadline);

    // ------------------------------------------------------------------------------------------------------
    // Events
    // ------------------------------------------------------------------------------------------------------

    /// @notice The presented result is not the preimage of the job's attested `resultHash`.
    error SettlementResultMismatch(uint256 jobId, bytes32 attested, bytes32 presented);

    /// @notice The claim window changed.
    event ClaimWindowUpdated(uint64 claimWindow);
    /// @notice A reporter posted the job's report.
    event ReportPosted(
        uint256 indexed jobId,
        address indexed reporter,
        string reportCid,
        bytes32 reportCommitment,
        bytes32 aggregateHash,
        uint32 participants,
        bytes32 payoutRoot,
        uint96 payoutTotal,
        string payoutsCid,
        bool qualityMet,
        bool success
    );
    /// @notice The job's escrow was split: every fee was credited to its recipient (the protocol fee to
    ///         `protocolFees`), each agreeing attestor in `attestors` got `split.attestorShare`; the remainder was
    ///         refunded to the customer by the JobMarket.
    event JobSplit(uint256 indexed jobId, bool success, Split split, address[] attestors);
    /// @notice Accrued fees were sent to `account`.
    event FeesWithdrawn(address indexed account, uint256 amount);
    /// @notice Accrued protocol fees were sent to the treasury.
    event ProtocolFeesWithdrawn(address indexed treasury, uint256 amount);
    /// @notice A device claimed its payout (leaf `index`).
    event PayoutClaimed(
        uint256 indexed jobId,
        uint256 indexed index,
        address indexed account,
        uint256 amount
    );
    /// @notice Unclaimed payouts were sent to the treasury.
    event PayoutSwept(uint256 indexed jobId, address indexed treasury, uint256 amount);

    // ------------------------------------------------------------------------------------------------------
    // Functions
    // ------------------------------------------------------------------------------------------------------

    /// @notice Sets the claim window (seconds after settlement before unclaimed payouts may be swept).
    ///         Only governance.
    function setClaimWindow(uint64 claimWindow) external;

    /// @notice An active reporter posts the report of an Attested job with the preimage of its attested result
    ///         and settles it (Attested → Reported → Settled, or → Failed with a refund less node fees when the
    ///         attested quality verdict failed or too few participants survived).
    function report(uint256 jobId, ReportInput calldata input) external;

    /// @notice Pays `account` its `amount` from the job's payout pool with a Merkle proof of leaf
    ///         `(index, account, amount)`. Anyone may submit; the tokens always go to `account`. Once per leaf.
    function claim(
        uint256 jobId,
        uint256 index,
        address account,
        uint256 amount,
        bytes32[] calldata proof
    ) external;

    /// @notice Sends a job's unclaimed payouts to the treasury once the claim window ended. Permissionless.
    function sweep(uint256 jobId) external;

    /// @notice Sends the fees accrued by `account` (distributor, aggregator, attestor, reporter or developer) to
    ///         it. Anyone may trigger; the tokens always go to `account`.
    function withdrawFees(address account) external;

    /// @notice Sends the accrued protocol fees to the JobMarket's treasury. Permissionless.
    function withdrawProtocolFees() external;

    /// @notice The attested `resultHash` of a result.
    function resultHashOf(Result calldata result) external pure returns (bytes32);

    /// @notice The job's report (zeroed when none).
    function reportOf(uint256 jobId) external view returns (Report memory);

    /// @notice Whether payout leaf `index` of `jobId` was claimed.
    function isClaimed(uint256 jobId, uint256 index) external view returns (bool);

    /// @notice Fees accrued by `account` and not yet withdrawn.
    function feesOf(address account) external view returns (uint256);

    /// @notice Protocol fees accrued and not yet sent to the treasury. The contract's token balance is always
    ///         `Σ feesOf + protocolFees + Σ_jobs not swept (payoutTotal − claimed)`.
    function protocolFees() external view returns (uint256);

    /// @notice The claim window (seconds).
    function claimWindow() external view returns (uint64);

    /// @notice Wiring.
    function jobMarket() external view returns (IJobMarket);

    /// @notice The attestation module (source of the agreeing attestors).
    function attestation() external view returns (IResultAttestation);

    /// @notice Node staking (reporter check).
    function staking() external view returns (INodeStaking);
}
