// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IJobMarket} from "./IJobMarket.sol";
import {INodeStaking} from "./INodeStaking.sol";
import {IAttestationQuorum} from "./IAttestationQuorum.sol";
import {IJobLifecycleHook} from "./IJobLifecycleHook.sol";
import {IGrowthPool} from "./IGrowthPool.sol";

/// @title IResultAttestation
/// @notice Steps 3 and 6 of a prediction job (PROTOCOL.md §7.4). A staked distributor assigns a scheduled job's
///         cohort and names an aggregator; in the same transaction `q` attestors are drawn, weighted by stake, from
///         the job's seed (fixed before anyone acted on the job), so the aggregator can encrypt the transcript to
///         them. The aggregator binds itself by committing `resultHash = keccak256(abi.encode(aggregateHash,
///         payoutRoot, payoutTotal, participants, qualityMet))` and the transcript CID; the attestors recompute it
///         from the transcript and commit-reveal it (or the reserved `INVALID` when they cannot fetch or verify the
///         transcript); the value revealed by a strict majority of the `q` attestors is final. The job is Attested
///         when the aggregator's value is the majority's; a majority for `INVALID` or for another value slashes the
///         aggregator and refunds the job. Attestors who revealed another value or stayed silent are slashed only
///         when a majority revealed. Settlement pays exactly the attested preimage. See
///         docs/attestation-settlement-finetuning.md.
interface IResultAttestation is IAttestationQuorum, IJobLifecycleHook {
    /// @notice Attestation state of a job.
    enum Status {
        None, // no cohort assigned
        Drawn, // cohort assigned and attestors drawn; waiting for the aggregator's commitment
        Committed, // aggregator committed; attestors commit then everyone reveals
        Attested, // finalised: majority agreed with the aggregator
        Failed // finalised: no majority, or the aggregator was wrong or silent
    }

    /// @notice Governance parameters.
    struct Params {
        uint8 quorum; // q: attestors selected per job (1..15)
        uint16 commitWindowBps; // share of the job's attestation phase for attestor commits
        uint16 revealWindowBps; // share of the job's attestation phase for reveals (commit + reveal < 100%)
        uint96 slashAmount; // stake slashed per fault and locked per bound node until the job ends (token wei, < 2^80)
        uint32 kMin; // smallest cohort any job may be assigned (PROTOCOL.md §7.3)
    }

    /// @notice Public attestation record of a job (see `attestationOf`).
    struct Attestation {
        Status status;
        bool aggregatorRevealed;
        address aggregator;
        uint64 commitDeadline;
        uint64 revealDeadline;
        uint16 committedMask; // bit i: attestor i committed
        uint16 revealedMask; // bit i: attestor i revealed
        uint16 agreeMask; // bit i: attestor i revealed the final value (set at finalisation)
        bytes32 aggregatorCommitment; // zero once revealed
        bytes32 aggregateHash; // aggregator's revealed result hash (zero until revealed)
        bytes32 finalHash; // majority value (zero without a majority); the transcript CID is in `AggregateCommitted`
        address[] attestors;
        address distributor;
        uint96 lockAmount; // stake locked for each bound node until the job is terminal
        uint256 connectedEpoch; // growth-pool epoch whose connected set the cohort is drawn from
        uint256 assignedAt; // when the cohort was assigned (eligibility is judged against this time)
    }

    /// @notice A cohort member as the distributor's cohort tree lists it (PROTOCOL.md §7.3): an OpenZeppelin
    ///         StandardMerkleTree leaf `["uint256", "uint256", "address"]`, i.e.
    ///         `keccak256(bytes.concat(keccak256(abi.encode(position, connectedIndex, device))))`.
    /// @param position Rank of the device's draw score `keccak256(abi.encode(jobSeed, device))`, ascending, from 0.
    /// @param connectedIndex The device's index in the connected set the cohort is drawn from.
    /// @param device The device address.
    struct CohortMember {
        uint256 position;
        uint256 connectedIndex;
        address device;
    }

    /// @notice A cohort member with its Merkle proof against the job's cohort root.
    struct CohortProof {
        CohortMember member;
        bytes32[] proof;
    }

    /// @notice The provable faults of a cohort (PROTOCOL.md §7.3): the cohort must be the `deviceCount` eligible
    ///         devices of the connected set with the lowest draw scores, listed in ascending score.
    /// @param NotConnected A member's connected index is out of range or holds another device.
    /// @param PositionOutOfRange A member's position is ≥ the job's `deviceCount`.
    /// @param Ineligible A member is not eligible for the job and has not changed since the assignment.
    /// @param OutOfOrder Two adjacent members are not in strictly ascending score (covers a device listed twice).
    /// @param Omitted An eligible connected device ranks below the first member or between two adjacent members.
    enum CohortFault {
        NotConnected,
        PositionOutOfRange,
        Ineligible,
        OutOfOrder,
        Omitted
    }

    // ------------------------------------------------------------------------------------------------------
    // Errors
    // ------------------------------------------------------------------------------------------------------

    /// @notice `epoch` is not the latest connected set that stood (challenge window over) when the job's seed
    ///         could first be drawn (the end of its scheduling epoch's reveal window).
    error AttestationNotLatestConnectedSet(uint256 epoch);
    /// @notice The connected set has fewer devices than the cohort.
    error AttestationConnectedSetTooSmall(uint256 n, uint256 deviceCount);
    /// @notice The job's cohort can no longer be challenged (its attestation is final or the job is closed).
    error AttestationCohortNotChallengeable(uint256 jobId);
    /// @notice The proof does not show `device` at `position` of the job's cohort.
    error AttestationNotCohortMember(uint256 jobId, address device, uint256 position);
    /// @notice The proof does not show `device` at `index` of the connected set the cohort is drawn from.
    error AttestationNotConnected(uint256 epoch, address device, uint256 index);
    /// @notice The evidence is valid but shows no fault of the cohort.
    error AttestationNoCohortFault(uint256 jobId, CohortFault fault);

    /// @notice 65,535 quorum rounds are in use at once (none is free to reuse).
    error AttestationNoRound();

    /// @notice An initializer/setter address is zero.
    error AttestationZeroAddress();
    /// @notice Parameters are outside their bounds.
    error AttestationInvalidParams();
    /// @notice The attestation of the job is not in the status this action needs.
    error AttestationInvalidStatus(uint256 jobId, Status status);
    /// @notice The caller is not the aggregator assigned to the job.
    error AttestationNotAggregator(uint256 jobId, address caller);
    /// @notice The caller is not an active staked distributor.
    error AttestationNotDistributor(address caller);
    /// @notice The named aggregator is not an active staked aggregator.
    error AttestationInactiveAggregator(address aggregator);
    /// @notice The cohort is smaller than `kMin`.
    error AttestationCohortTooSmall(uint256 deviceCount, uint256 kMin);
    /// @notice The aggregator may not reveal the reserved `INVALID` value.
    error AttestationInvalidValue();
    /// @notice Only the JobMarket may call this hook.
    error AttestationNotJobMarket(address caller);
    /// @notice The commitment is zero or the transcript CID is empty / too long.
    error AttestationInvalidCommitment();
    /// @notice (aggregateHash, salt) does not open the aggregator's commitment.
    error AttestationAggregatorMismatch(uint256 jobId);
    /// @notice The aggregator already revealed.
    error AttestationAggregatorAlreadyRevealed(uint256 jobId);
    /// @notice Finalisation must wait for the aggregator's reveal or the reveal deadline.
    error AttestationAggregatorRevealPending(uint256 jobId, uint64 revealDeadline);

    // ------------------------------------------------------------------------------------------------------
    // Events
    // ------------------------------------------------------------------------------------------------------

    /// @notice Parameters set (initialisation and governance).
    event ParamsUpdated(Params params);
    /// @notice A distributor assigned the job's cohort; `attestors` were drawn from `seed`, weighted by stake.
    event AttestorsDrawn(
        uint256 indexed jobId,
        address indexed distributor,
        bytes32 seed,
        uint256 connectedEpoch,
        address[] attestors
    );
    /// @notice A cohort fault was proven: the distributor was slashed and the job failed (refunded).
    event CohortChallenged(
        uint256 indexed jobId,
        address indexed distributor,
        address indexed challenger,
        CohortFault fault,
        uint256 slashed
    );
    /// @notice The aggregator committed (and bound itself); the attestors' windows opened.
    event AggregateCommitted(
        uint256 indexed jobId,
        address indexed aggregator,
        bytes32 commitment,
        string transcriptCid,
        uint64 commitDeadline,
        uint64 revealDeadline
    );
    /// @notice A selected attestor committed.
    event AttestationCommitted(uint256 indexed jobId, address indexed attestor, bytes32 commitment);
    /// @notice A selected attestor revealed.
    event AttestationRevealed(uint256 indexed jobId, address indexed attestor, bytes32 aggregateHash);
    /// @notice The aggregator revealed.
    event AggregateRevealed(uint256 indexed jobId, address indexed aggregator, bytes32 aggregateHash);
    /// @notice The quorum finalised the job: `attested` true when the majority agreed with the aggregator.
    event AttestationFinalized(
        uint256 indexed jobId,
        bool attested,
        bool majority,
        bytes32 finalHash,
        uint16 agreeMask,
        uint16 faultMask,
        bool aggregatorFault
    );
    /// @notice A node was slashed by this contract.
    event NodeSlashed(
        uint256 indexed jobId,
        address indexed node,
        INodeStaking.Role role,
        uint256 amount,
        address indexed challenger
    );

    // ------------------------------------------------------------------------------------------------------
    // Functions
    // ------------------------------------------------------------------------------------------------------

    /// @notice Sets the parameters. Only governance.
    function setParams(Params calldata params) external;

    /// @notice An active distributor assigns a scheduled job's cohort (`deviceCount` ≥ `kMin`) and names an active
    ///         aggregator (Scheduled → Assigned). Draws the attestors from the job's seed, weighted by stake, and locks
    ///         `slashAmount` of the distributor's and each attestor's stake until the job is terminal.
    /// @dev The cohort (root over `CohortMember` leaves, list at `cohortCid`) must be the `deviceCount` devices of
    ///      the connected set of `connectedEpoch` that are eligible (`DeviceRegistry.isEligible` for the job's schema,
    ///      algorithm and reward) with the lowest `keccak256(abi.encode(jobSeed, device))`, in ascending order.
    ///      `connectedEpoch` must be the latest growth-pool epoch whose post stood (challenge window over) by the end
    ///      of the job's scheduling epoch's reveal window, before anyone could know the seed. The membership is
    ///      not checked here; anyone can disprove it with the `challengeCohort*` functions until the attestation is
    ///      final.
    function assignCohort(
        uint256 jobId,
        bytes32 cohortRoot,
        uint32 deviceCount,
        string calldata cohortCid,
        address aggregator,
        uint256 connectedEpoch
    ) external;

    /// @notice Proves that `member` is not in the connected set at its index (`connected` is the leaf at that
    ///         index, with its proof; ignored when the index is ≥ the set's size) or that its position is ≥ the job's
    ///         `deviceCount`. Slashes the distributor, pays the caller the challenger share unless it is a party
    ///         of the job, and fails the job (the customer is refunded).
    function challengeCohortMember(
        uint256 jobId,
        CohortProof calldata member,
        IGrowthPool.Leaf calldata connected,
        bytes32[] calldata connectedProof
    ) external;

    /// @notice Proves that `member` is not eligible for the job although its registration has not changed since the
    ///         assignment (a device that changes after the assignment cannot make the distributor liable).
    function challengeCohortIneligible(uint256 jobId, CohortProof calldata member) external;

    /// @notice Proves that `a` and `b` hold adjacent positions but `b`'s draw score is not above `a`'s.
    function challengeCohortOrder(uint256 jobId, CohortProof calldata a, CohortProof calldata b) external;

    /// @notice Proves that an eligible, unchanged device of the connected set (`omitted`, with its proof) was left
    ///         out: its draw score is below `above`'s, and either `above` is at position 0 (`below` is then ignored)
    ///         or `below` holds the position just before `above` with a lower score than `omitted`'s.
    function challengeCohortOmission(
        uint256 jobId,
        IGrowthPool.Leaf calldata omitted,
        bytes32[] calldata omittedProof,
        CohortProof calldata below,
        CohortProof calldata above
    ) external;

    /// @notice The job's aggregator commits `keccak256(abi.encode(resultHash, salt))` and the transcript CID
    ///         (Assigned → Committed), which binds it: its stake is locked and it is liable from now on.
    function commitAggregate(uint256 jobId, bytes32 commitment, string calldata transcriptCid) external;

    /// @notice A selected attestor commits `keccak256(abi.encode(aggregateHash, salt, attestor))`.
    function commitAttestation(uint256 jobId, bytes32 commitment) external;

    /// @notice A selected attestor reveals its recomputed aggregate hash in the reveal window. The reveal that
    ///         completes a unanimous quorum (every attestor and the aggregator revealed the same value) finalises
    ///         the job as Attested in the same transaction; any other outcome waits for `finalize`.
    function revealAttestation(uint256 jobId, bytes32 aggregateHash, bytes32 salt) external;

    /// @notice The aggregator reveals its aggregate hash in the reveal window (finalises a unanimous quorum as
    ///         `revealAttestation` does).
    function revealAggregate(uint256 jobId, bytes32 aggregateHash, bytes32 salt) external;

    /// @notice Finalises the quorum once everyone revealed or the reveal deadline passed: marks the job Attested
    ///         or Failed and slashes every node at fault. Permissionless; the caller receives the challenger share
    ///         unless it is a party of the job (customer, distributor, aggregator or a drawn attestor), in which case
    ///         that share is burned or sent to the treasury with the rest.
    function finalize(uint256 jobId) external;

    /// @notice The job's attestation record.
    function attestationOf(uint256 jobId) external view returns (Attestation memory);

    /// @notice The job's attestation status.
    function statusOf(uint256 jobId) external view returns (Status);

    /// @notice The attested `resultHash` of an Attested job (zero otherwise): what Settlement pays.
    function resultOf(uint256 jobId) external view returns (bytes32);

    /// @notice The reserved value an attestor reveals when it cannot fetch or verify the transcript.
    function INVALID() external view returns (bytes32);

    /// @notice The attestors who revealed the final value (paid the attestor fee by Settlement).
    function agreeingAttestors(uint256 jobId) external view returns (address[] memory);

    /// @notice Current parameters.
    function params() external view returns (Params memory);

    /// @notice The JobMarket this module drives.
    function jobMarket() external view returns (IJobMarket);

    /// @notice The node staking contract (this contract must be an authorised slasher).
    function staking() external view returns (INodeStaking);

    /// @notice The growth pool whose connected sets cohorts are drawn from.
    function growthPool() external view returns (IGrowthPool);

    /// @notice A device's draw score for a job: cohorts take the eligible devices with the lowest scores.
    function cohortScore(bytes32 jobSeed, address device) external pure returns (uint256);
}
