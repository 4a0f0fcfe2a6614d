// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IAlgorithmMarketplace} from "./IAlgorithmMarketplace.sol";
import {INodeStaking} from "./INodeStaking.sol";
import {IDeviceRegistry} from "./IDeviceRegistry.sol";

/// @title IJobMarket
/// @notice Customers create prediction jobs with an escrowed budget; a sealed-bid (commit-reveal) uniform
///         second-price priority auction per epoch schedules the top K jobs; a staked distributor assigns each
///         scheduled job's device cohort; governance-authorised modules (ResultAttestation, Settlement) drive the
///         rest of the lifecycle through hooks. Every phase has a deadline and a permissionless timeout.
/// @dev Lifecycle: `Created → Bidding → Scheduled → Assigned → Committed → Attested → Reported → Settled`
///      (`Reported` is passed through inside `settle` and shows only in `JobStatusChanged`), or
///      `Failed` / `Expired` (remaining escrow refunded) or `Cancelled` (withdrawn before scheduling). A job that
///      loses an auction goes back from `Bidding` to `Created` and may bid again. See docs/job-market.md.
interface IJobMarket {
    // ------------------------------------------------------------------------------------------------------
    // Types
    // ------------------------------------------------------------------------------------------------------

    /// @notice Job status. `Settled`, `Failed`, `Expired` and `Cancelled` are terminal (escrow is zero).
    enum JobStatus {
        None,
        Created,
        Bidding,
        Scheduled,
        Assigned,
        Committed,
        Attested,
        Reported,
        Settled,
        Failed,
        Expired,
        Cancelled
    }

    /// @notice Duration (seconds) of every phase of a job; each must lie in [minPhaseDuration, maxPhaseDuration].
    struct PhaseDurations {
        uint32 bidding; // Created: from creation until the job must have been scheduled (else it expires)
        uint32 assignment; // Scheduled: until a distributor assigns the cohort
        uint32 commit; // Assigned: until the aggregator's aggregate commitment is accepted
        uint32 attestation; // Committed: until the attestation quorum finalises
        uint32 report; // Attested: until the reporter posts the report
        uint32 settlement; // Reported: bounds settlement (validated; the Settlement module settles atomically)
    }

    /// @notice Fee rates in basis points of the device budget, snapshotted into every job at creation.
    struct FeeBps {
        uint16 distributor;
        uint16 aggregator;
        uint16 attestors;
        uint16 reporter;
        uint16 protocol;
        uint16 royalty; // to the algorithm's developer on settlement
    }

    /// @notice Governance-set parameters.
    struct Params {
        uint32 epochLength; // auction epoch length (seconds)
        uint32 commitWindow; // commits accepted in [epochStart, epochStart + commitWindow)
        uint32 revealWindow; // reveals accepted in [commitEnd, commitEnd + revealWindow); finalisation after
        uint16 capacity; // K: jobs scheduled per epoch
        uint16 maxBidsPerEpoch; // cap on commitments per epoch (bounds finalisation gas); ≤ MAX_BIDS_PER_EPOCH
        uint96 reservePrice; // minimum revealed bid and clearing price
        uint16 unrevealedPenaltyBps; // share of an unrevealed commitment's deposit forfeited to the treasury
        FeeBps fees;
        uint32 minPhaseDuration;
        uint32 maxPhaseDuration;
    }

    /// @notice What a customer asks for in `createJob`.
    struct JobSpec {
        uint256 algorithmId;
        bytes32 schema; // must equal the algorithm's schema
        uint32 minDevices;
        uint32 maxDevices;
        uint96 rewardPerDevice;
        uint32 minParticipants; // quality: minimum surviving participants (≤ minDevices)
        uint96 maxStdError; // quality: maximum standard error, fixed point 1e18
        bytes encryptionKey; // customer's secp256k1 compressed public key (33 bytes) for ECIES reports
        PhaseDurations durations;
        uint96 maxUsePrice; // highest per-use price the customer accepts (ignored with a licence)
    }

    /// @notice A job as `getJob` returns it. Stored as `JobRecord` (contracts/jobs/JobRecord.sol): six slots, all
    ///         written at creation; the cohort root and the aggregator take the place of the bid fields, spent for
    ///         good once the job is scheduled, so an assigned job reads `bid` 0, `revealed` false and `bidEpoch` =
    ///         `scheduledEpoch` (the winning bid is in `BidRevealed`).
    ///         The schema (the algorithm's), the customer's encryption key, the cohort list CID, the creation time
    ///         and the clearing price paid are in the events (`JobCreated`, `CohortAssigned`, `JobScheduled`),
    ///         not in storage: no contract reads them.
    struct Job {
        address customer;
        JobStatus status;
        bool revealed; // the current commitment was revealed
        uint32 bidEpoch; // epoch of the current / last commitment
        uint40 deadline; // deadline of the current phase
        bytes20 commitHash; // leading 20 bytes of keccak256(abi.encode(jobId, bid, salt, customer)) while Bidding
        uint96 deposit; // bid deposit held while Bidding
        uint96 bid; // revealed bid of the current commitment
        uint32 minDevices;
        uint32 maxDevices;
        uint32 deviceCount; // assigned cohort size
        uint64 algorithmId;
        uint96 escrow; // budget still escrowed for the job (≤ total supply)
        uint96 rewardPerDevice;
        uint32 minParticipants;
        uint32 nextInEpoch; // next job committed in the same epoch (list of `epochBids`)
        // durations of the phases after scheduling (bidding is spent at creation; settlement is
        // atomic in `settle`), the epoch that scheduled the job and its quality bound
        uint32 assignmentDuration;
        uint32 commitDuration;
        uint32 attestationDuration;
        uint32 reportDuration;
        uint32 scheduledEpoch;
        uint96 maxStdError;
        // fee rates snapshotted at creation (flat: a nested struct would take slots of its own)
        uint16 distributorFeeBps;
        uint16 aggregatorFeeBps;
        uint16 attestorsFeeBps;
        uint16 reporterFeeBps;
        uint16 protocolFeeBps;
        uint16 royaltyBps;
        address distributor;
        address aggregator;
        // (stored in place of the bid fields)
        bytes32 cohortRoot;
    }

    /// @notice What the settlement module reads of a job (one call, four storage slots).
    struct SettlementTerms {
        JobStatus status;
        uint40 deadline;
        uint32 maxDevices;
        uint32 deviceCount;
        uint32 minParticipants;
        uint96 rewardPerDevice;
        uint64 algorithmId;
        uint96 escrow;
        FeeBps fees;
        address distributor;
        address aggregator;
    }

    /// @notice Auction state of one epoch.
    struct EpochInfo {
        uint256 bidCount;
        bool finalized;
        uint96 clearingPrice;
        uint16 scheduledCount;
        uint16 revealedCount;
    }

    // ------------------------------------------------------------------------------------------------------
    // Errors
    // ------------------------------------------------------------------------------------------------------

    /// @notice A constructor/initializer/setter address is the zero address.
    error JobMarketZeroAddress();
    /// @notice Parameters are outside their bounds.
    error JobMarketInvalidParams();
    /// @notice No job with this id.
    error JobMarketUnknownJob(uint256 jobId);
    /// @notice The algorithm does not exist or is deprecated.
    error JobMarketAlgorithmNotListed(uint256 algorithmId);
    /// @notice The job's schema differs from the algorithm's.
    error JobMarketSchemaMismatch(bytes32 expected, bytes32 actual);
    /// @notice min/max devices, minimum participants or reward are invalid.
    error JobMarketInvalidDevices();
    /// @notice maxDevices × rewardPerDevice plus fees exceeds 2^96 − 1 (more than the token supply).
    error JobMarketBudgetTooLarge(uint256 budget);
    /// @notice The reward per device is zero.
    error JobMarketZeroReward();
    /// @notice The encryption key is not a 33-byte compressed secp256k1 key.
    error JobMarketInvalidEncryptionKey();
    /// @notice A phase duration is outside [minPhaseDuration, maxPhaseDuration].
    error JobMarketInvalidDuration();
    /// @notice The per-use payment changed the JobMarket's balance (the marketplace pulled a different amount).
    error JobMarketUsePaymentMismatch(uint256 expected, uint256 actual);
    /// @notice The caller is not the job's customer.
    error JobMarketNotCustomer(uint256 jobId, address caller);
    /// @notice The job is not in a status that allows this action.
    error JobMarketInvalidStatus(uint256 jobId, JobStatus status);
    /// @notice The current phase's deadline has passed (only `timeout` is possible now).
    error JobMarketDeadlinePassed(uint256 jobId, uint64 deadline);
    /// @notice The current phase's deadline has not passed yet.
    error JobMarketDeadlineNotPassed(uint256 jobId, uint64 deadline);
    /// @notice Commitments are only accepted in the commit window of the current epoch.
    error JobMarketNotInCommitWindow(uint256 epoch);
    /// @notice Reveals are only accepted in the reveal window of the commitment's epoch.
    error JobMarketNotInRevealWindow(uint256 epoch);
    /// @notice The commitment is zero.
    error JobMarketZeroCommitment();
    /// @notice The deposit is below the reserve price or above 2^96 - 1.
    error JobMarketInvalidDeposit(uint256 deposit);
    /// @notice The epoch already holds `maxBidsPerEpoch` commitments.
    error JobMarketEpochFull(uint256 epoch);
    /// @notice The commitment was already revealed.
    error JobMarketBidAlreadyRevealed(uint256 jobId);
    /// @notice (bid, salt) does not open the commitment.
    error JobMarketBidMismatch(uint256 jobId);
    /// @notice The revealed bid is below the reserve price.
    error JobMarketBidBelowReserve(uint256 bid, uint256 reservePrice);
    /// @notice The revealed bid exceeds the deposit.
    error JobMarketBidExceedsDeposit(uint256 bid, uint256 deposit);
    /// @notice The epoch's reveal window has not ended yet.
    error JobMarketEpochNotOver(uint256 epoch);
    /// @notice The epoch was already finalised.
    error JobMarketEpochAlreadyFinalized(uint256 epoch);
    /// @notice The algorithm's per-use price exceeds the customer's `maxUsePrice` (it changed after the customer
    ///         signed: PROTOCOL.md §7.8).
    error JobMarketUsePriceTooHigh(uint256 usePrice, uint256 maxUsePrice);
    /// @notice The epoch's seed is not fixed and cannot be fixed in this block (call `fixSeed` and retry).
    error JobMarketSeedUnavailable(uint256 epoch);
    /// @notice The epoch scheduled no job, so it has no seed.
    error JobMarketNoSeed(uint256 epoch);
    /// @notice An eviction named a job that is not the epoch's commitment after `prevJobId`, or whose deposit is
    ///         not below the new one.
    error JobMarketInvalidEviction(uint256 evictJobId, uint256 prevJobId);
    /// @notice The cohort size is outside [minDevices, maxDevices].
    error JobMarketDeviceCountOutOfRange(uint256 deviceCount, uint256 minDevices, uint256 maxDevices);
    /// @notice The cohort Merkle root is zero or the list CID is empty.
    error JobMarketInvalidCohort();
    /// @notice The caller is not the module authorised for this hook.
    error JobMarketUnauthorizedModule(address caller);
    /// @notice The module role is not one of the known roles.
    error JobMarketUnknownModuleRole(bytes32 role);
    /// @notice A payment exceeds the job's remaining escrow.
    error JobMarketInsufficientEscrow(uint256 jobId, uint256 escrow, uint256 amount);

    // ------------------------------------------------------------------------------------------------------
    // Events
    // ------------------------------------------------------------------------------------------------------

    /// @notice Parameters set (at initialisation and by governance).
    event ParamsUpdated(Params params);
    /// @notice New auction timing takes effect from `fromEpoch`, starting at `startTime`.
    event AuctionTimingScheduled(
        uint256 fromEpoch,
        uint256 startTime,
        uint32 epochLength,
        uint32 commitWindow,
        uint32 revealWindow
    );
    /// @notice The treasury changed.
    event TreasuryUpdated(address indexed previousTreasury, address indexed newTreasury);
    /// @notice A lifecycle module changed.
    event ModuleSet(bytes32 indexed role, address indexed module);
    /// @notice Every status change of a job.
    event JobStatusChanged(uint256 indexed jobId, JobStatus from, JobStatus to, uint64 deadline);
    /// @notice A job was created and its budget escrowed; `usePaid` is the per-use fee paid (0 with a licence).
    event JobCreated(
        uint256 indexed jobId,
        address indexed customer,
        uint256 indexed algorithmId,
        uint256 escrow,
        uint256 usePaid,
        uint32 maxDevices,
        uint96 rewardPerDevice,
        bytes encryptionKey
    );
    /// @notice A sealed bid was committed for `epoch` with `deposit`; `index` is its commit order.
    event BidCommitted(
        uint256 indexed jobId,
        uint256 indexed epoch,
        bytes32 commitment,
        uint256 deposit,
        uint256 index
    );
    /// @notice A sealed bid was revealed.
    event BidRevealed(uint256 indexed jobId, uint256 indexed epoch, uint256 bid);
    /// @notice An epoch's auction was finalised.
    event EpochFinalized(
        uint256 indexed epoch,
        uint256 clearingPrice,
        uint256 bidCount,
        uint256 revealedCount,
        uint256 scheduledCount
    );
    /// @notice A job won `epoch`'s auction at position `rank` (0 = highest bid) and paid `price`.
    event JobScheduled(
        uint256 indexed jobId,
        uint256 indexed epoch,
        uint256 rank,
        uint256 price,
        uint256 refund
    );
    /// @notice A revealed bid lost; its deposit was refunded and the job rolls over.
    event BidLost(uint256 indexed jobId, uint256 indexed epoch, uint256 refund);
    /// @notice An unrevealed commitment forfeited `penalty`; the rest of the deposit was refunded.
    event BidForfeited(uint256 indexed jobId, uint256 indexed epoch, uint256 penalty, uint256 refund);
    /// @notice The customer withdrew an unscheduled job.
    event JobWithdrawn(uint256 indexed jobId, uint256 refund);
    /// @notice A full epoch's commitment was replaced by a larger deposit; its deposit was refunded and the job
    ///         may bid again.
    event BidEvicted(uint256 indexed jobId, uint256 indexed epoch, uint256 indexed byJobId, uint256 refund);
    /// @notice The seed of the jobs scheduled in `epoch` will be the hash of block `blockNumber`.
    event EpochSeedArmed(uint256 indexed epoch, uint256 blockNumber);
    /// @notice The seed of the jobs scheduled in `epoch` was fixed.
    event EpochSeedFixed(uint256 indexed epoch, bytes32 seed);
    /// @notice A distributor assigned the job's cohort.
    event CohortAssigned(
        uint256 indexed jobId,
        address indexed distributor,
        address indexed aggregator,
        bytes32 cohortRoot,
        uint32 deviceCount,
        string cohortCid
    );
    /// @notice A phase deadline passed and the job expired; the remaining escrow was refunded.
    event JobExpired(uint256 indexed jobId, JobStatus fromStatus, uint256 refund);
    /// @notice A module marked the job failed; the remaining escrow was refunded.
    event JobFailed(uint256 indexed jobId, bytes32 reason, uint256 refund);
    /// @notice The settlement module received `amount` of the job's escrow (device pool and fees).
    event EscrowPaid(uint256 indexed jobId, address indexed to, uint256 amount);
    /// @notice Remaining escrow returned to the customer.
    event EscrowRefunded(uint256 indexed jobId, address indexed customer, uint256 amount);

    // ------------------------------------------------------------------------------------------------------
    // Governance
    // ------------------------------------------------------------------------------------------------------

    /// @notice Sets all parameters. Timing changes take effect from the next epoch. Only governance.
    function setParams(Params calldata params) external;

    /// @notice Sets the treasury receiving clearing prices and penalties. Only governance.
    function setTreasury(address treasury) external;

    /// @notice Authorises `module` for `role` (`ATTESTATION_MODULE` or `SETTLEMENT_MODULE`); zero disables.
    ///         Only governance.
    function setModule(bytes32 role, address module) external;

    // ------------------------------------------------------------------------------------------------------
    // Customer
    // ------------------------------------------------------------------------------------------------------

    /// @notice Creates a job and escrows its budget (see `budgetOf`) from the caller. Without a licence the
    ///         algorithm's per-use price is also pulled and paid through `market.payUse`.
    /// @return jobId The new job id (ids start at 1).
    function createJob(JobSpec calldata spec) external returns (uint256 jobId);

    /// @notice Commits a sealed bid `commitment = keccak256(abi.encode(jobId, bid, salt, customer))` for the
    ///         current epoch, escrowing `deposit` (≥ bid, ≥ reserve). Only the job's customer, in the commit window.
    function commitBid(uint256 jobId, bytes32 commitment, uint256 deposit) external;

    /// @notice `commitBid` into a full epoch: the commitment `evictJobId` (the one after `prevJobId` in the
    ///         epoch's commit order, or the first when `prevJobId` is 0) must hold a smaller deposit; it is refunded
    ///         and its job may bid again. Bid slots go to the largest deposits, so nobody holds them cheaply.
    function commitBidEvicting(
        uint256 jobId,
        bytes32 commitment,
        uint256 deposit,
        uint256 evictJobId,
        uint256 prevJobId
    ) external;

    /// @notice Reveals a committed bid in the reveal window. Anyone holding (bid, salt) may reveal.
    function revealBid(uint256 jobId, uint256 bid, bytes32 salt) external;

    /// @notice Finalises `epoch`'s auction once its reveal window ended: schedules the top K revealed bids,
    ///         charges the clearing price, refunds deposits, penalises unrevealed commitments. Permissionless.
    function finalizeEpoch(uint256 epoch) external;

    /// @notice The customer withdraws a job that is not bidding and not scheduled; the whole escrow is refunded.
    function withdrawJob(uint256 jobId) external;

    // ------------------------------------------------------------------------------------------------------
    // Nodes
    // ------------------------------------------------------------------------------------------------------

    /// @notice Fixes the seed of the jobs scheduled in `epoch` from the block hash armed at finalisation
    ///         (PROTOCOL.md §7.1). Re-arms on a fresh future block when the hash expired (256 blocks).
    ///         Permissionless; returns zero when it had to re-arm.
    function fixSeed(uint256 epoch) external returns (bytes32 seed);

    /// @notice Expires a job whose current phase deadline passed, refunding the remaining escrow. Permissionless.
    function timeout(uint256 jobId) external;

    // ------------------------------------------------------------------------------------------------------
    // Module hooks (ResultAttestation and Settlement)
    // ------------------------------------------------------------------------------------------------------

    /// @notice Scheduled → Assigned: records the cohort a distributor assigned through the attestation module
    ///         (which checks the nodes) and returns the job's seed (fixing the epoch seed if needed). Only the
    ///         attestation module, before the deadline.
    function markAssigned(
        uint256 jobId,
        bytes32 cohortRoot,
        uint32 deviceCount,
        string calldata cohortCid,
        address distributor,
        address aggregator
    ) external returns (bytes32 seed);

    /// @notice Assigned → Committed. Only the attestation module, before the deadline. Returns the job's attestation
    ///         phase duration (the new deadline is now + it).
    function markCommitted(uint256 jobId) external returns (uint256 attestationDuration);

    /// @notice Committed → Attested. Only the attestation module, before the deadline.
    function markAttested(uint256 jobId) external;

    /// @notice Assigned/Committed/Attested → Failed; the remaining escrow is refunded to the customer.
    ///         Only the attestation or settlement module.
    function markFailed(uint256 jobId, bytes32 reason) external;

    /// @notice Settles an Attested job in one step: Attested → Reported → Settled (`success`) or → Failed
    ///         (`reason`), pays `amount` of the escrow to the settlement module and refunds the rest to the
    ///         customer. Only the settlement module, before the report deadline; never more than escrowed.
    function settle(uint256 jobId, uint256 amount, bool success, bytes32 reason) external;

    // ------------------------------------------------------------------------------------------------------
    // Views
    // ------------------------------------------------------------------------------------------------------

    /// @notice Module role of the ResultAttestation contract.
    function ATTESTATION_MODULE() external view returns (bytes32);

    /// @notice Module role of the Settlement contract.
    function SETTLEMENT_MODULE() external view returns (bytes32);

    /// @notice Absolute cap on `maxBidsPerEpoch`.
    function MAX_BIDS_PER_EPOCH() external view returns (uint256);

    /// @notice The job with id `jobId`. Reverts for an unknown id.
    function getJob(uint256 jobId) external view returns (Job memory);

    /// @notice The job's status (`None` for an unknown id).
    function status(uint256 jobId) external view returns (JobStatus);

    /// @notice The job's remaining escrow.
    function escrowOf(uint256 jobId) external view returns (uint256);

    /// @notice What the attestation module needs: status, named aggregator and attestation phase duration.
    ///         Never reverts: an unknown id gives `(None, address(0), 0)` and the module raises its own error.
    function attestationTerms(
        uint256 jobId
    ) external view returns (JobStatus status, address aggregator, uint32 attestationDuration);

    /// @notice The fixed seed of the jobs scheduled in `epoch` (zero until fixed). A job's own seed is
    ///         `keccak256(abi.encode(epochSeed, bytes32("dml.job"), jobId))`.
    function epochSeed(uint256 epoch) external view returns (bytes32);

    /// @notice What the settlement module needs of the job. Reverts for an unknown id.
    function settlementTerms(uint256 jobId) external view returns (SettlementTerms memory);

    /// @notice Budget a spec escrows under the current fees:
    ///         `deviceBudget = maxDevices × rewardPerDevice`,
    ///         `total = deviceBudget + Σ_role floor(deviceBudget × bps_role / 10_000)` over distributor, aggregator,
    ///         attestors, reporter, protocol and royalty.
    function budgetOf(uint32 maxDevices, uint96 rewardPerDevice) external view returns (uint256 total);

    /// @notice The auction epoch containing `timestamp`.
    function epochOf(uint256 timestamp) external view returns (uint256);

    /// @notice The current auction epoch.
    function currentEpoch() external view returns (uint256);

    /// @notice Start, end of commit window, end of reveal window and end of `epoch` under the timing in force.
    function epochWindows(
        uint256 epoch
    ) external view returns (uint256 start, uint256 commitEnd, uint256 revealEnd, uint256 end);

    /// @notice Auction state of `epoch`.
    function epochInfo(uint256 epoch) external view returns (EpochInfo memory);

    /// @notice Job ids that committed in `epoch`, in commit order.
    function epochBids(uint256 epoch) external view returns (uint64[] memory);

    /// @notice Current parameters.
    function params() external view returns (Params memory);

    /// @notice Module authorised for `role`.
    function moduleOf(bytes32 role) external view returns (address);

    /// @notice Contract wiring.
    function token() external view returns (IERC20);

    /// @notice The algorithm marketplace.
    function market() external view returns (IAlgorithmMarketplace);

    /// @notice The node staking contract.
    function staking() external view returns (INodeStaking);

    /// @notice The device registry.
    function registry() external view returns (IDeviceRegistry);

    /// @notice Receives clearing prices and penalties.
    function treasury() external view returns (address);

    /// @notice Number of jobs created.
    function jobCount() external view returns (uint256);
}
