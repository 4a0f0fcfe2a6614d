// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IJobMarket} from "./IJobMarket.sol";
import {INodeStaking} from "./INodeStaking.sol";
import {IAttestationQuorum} from "./IAttestationQuorum.sol";

/// @title IResultAttestation
/// @notice Step 6 of a prediction job: the job's aggregator commits the aggregate hash and the transcript CID;
///         `q` randomly selected staked attestors recompute the aggregate from the transcript and commit-reveal it;
///         the value revealed by a strict majority of the `q` attestors is final. The job is Attested when the
///         aggregator's reveal agrees; otherwise it fails and the customer is refunded. Every node whose reveal
///         disagrees with the final value, or that did not reveal, is slashed. See
///         docs/attestation-settlement-finetuning.md.
interface IResultAttestation is IAttestationQuorum {
    /// @notice Attestation state of a job.
    enum Status {
        None, // no aggregate committed
        Committed, // aggregator committed; attestors commit then everyone reveals
        Attested, // finalised: majority agreed with the aggregator
        Failed, // finalised: no majority, or the aggregator was wrong or silent
        MissedCommit // the job expired in Assigned without an aggregate commitment; aggregator slashed
    }

    /// @notice Governance parameters.
    struct Params {
        uint8 quorum; // q: attestors selected per job (1..15)
        uint16 commitWindowBps; // share of the job's attestation phase for attestor commits
        uint16 revealWindowBps; // share of the job's attestation phase for reveals (commit + reveal < 100%)
        uint96 slashAmount; // stake slashed per fault (token wei)
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
        bytes32 aggregateHash; // aggregator's revealed value (zero until revealed)
        bytes32 finalHash; // majority value (zero without a majority); the transcript CID is in `AggregateCommitted`
        address[] attestors;
    }

    // ------------------------------------------------------------------------------------------------------
    // Errors
    // ------------------------------------------------------------------------------------------------------

    /// @notice An initializer/setter address is zero.
    error AttestationZeroAddress();
    /// @notice Parameters are outside their bounds.
    error AttestationInvalidParams();
    /// @notice The job is not in the JobMarket status this action needs.
    error AttestationInvalidJobStatus(uint256 jobId, IJobMarket.JobStatus status);
    /// @notice The attestation of the job is not in the status this action needs.
    error AttestationInvalidStatus(uint256 jobId, Status status);
    /// @notice The caller is not the aggregator assigned to the job.
    error AttestationNotAggregator(uint256 jobId, address caller);
    /// @notice The commitment is zero or the transcript CID is empty / too long.
    error AttestationInvalidCommitment();
    /// @notice (aggregateHash, salt) does not open the aggregator's commitment.
    error AttestationAggregatorMismatch(uint256 jobId);
    /// @notice The aggregator already revealed.
    error AttestationAggregatorAlreadyRevealed(uint256 jobId);
    /// @notice Finalisation must wait for the aggregator's reveal or the reveal deadline.
    error AttestationAggregatorRevealPending(uint256 jobId, uint64 revealDeadline);
    /// @notice The job cannot be slashed for a missed commitment (not expired from Assigned, or already done).
    error AttestationNoMissedCommit(uint256 jobId);

    // ------------------------------------------------------------------------------------------------------
    // Events
    // ------------------------------------------------------------------------------------------------------

    /// @notice Parameters set (initialisation and governance).
    event ParamsUpdated(Params params);
    /// @notice The aggregator committed; `attestors` were selected and the windows opened.
    event AggregateCommitted(
        uint256 indexed jobId,
        address indexed aggregator,
        bytes32 commitment,
        string transcriptCid,
        address[] attestors,
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

    /// @notice The job's aggregator commits `keccak256(abi.encode(aggregateHash, salt))` and the transcript CID
    ///         (Assigned → Committed); `q` attestors are selected with `block.prevrandao` and the job id as seed.
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
    ///         or Failed and slashes every node at fault (the caller receives the challenger share).
    ///         Permissionless.
    function finalize(uint256 jobId) external;

    /// @notice Slashes the aggregator of a job that expired in Assigned without an aggregate commitment.
    ///         Permissionless; the caller receives the challenger share.
    function slashMissedCommit(uint256 jobId) external;

    /// @notice The job's attestation record.
    function attestationOf(uint256 jobId) external view returns (Attestation memory);

    /// @notice The job's attestation status.
    function statusOf(uint256 jobId) external view returns (Status);

    /// @notice The attestors who revealed the final value (paid the attestor fee by Settlement).
    function agreeingAttestors(uint256 jobId) external view returns (address[] memory);

    /// @notice Current parameters.
    function params() external view returns (Params memory);

    /// @notice The JobMarket this module drives.
    function jobMarket() external view returns (IJobMarket);

    /// @notice The node staking contract (this contract must be an authorised slasher).
    function staking() external view returns (INodeStaking);
}
