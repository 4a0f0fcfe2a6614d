// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {INodeStaking} from "./INodeStaking.sol";
import {IDeviceRegistry} from "./IDeviceRegistry.sol";
import {IAlgorithmMarketplace} from "./IAlgorithmMarketplace.sol";
import {IAttestationQuorum} from "./IAttestationQuorum.sol";

/// @title IFineTuning
/// @notice Crowd fine-tuning bounties (PROTOCOL.md §5, §7.7). A poster escrows a reward pool on an algorithm with a
///         public control group (what trainers see) and a Merkle root over one hidden acceptance split per round
///         (leaf `(round, splitCid, salt)`). Registered devices enrol as trainers. Each round:
///         1. a staked refiner commits its candidate: `keccak256(abi.encode(modelSha256, payoutRoot, salt))`
///            (hidden) plus the public model package CID and round list CID; the attestor seed is armed;
///         2. the round's hidden split is revealed (within the bounty's `splitWindow`); `q` attestors are drawn
///            with the future-block seed (the refiner excluded);
///         3. attestors evaluate the candidate on the split, recompute the canonical trainer payout list and
///            commit-reveal `keccak256(abi.encode(modelSha256, metric, payoutRoot))` (or `INVALID`); the refiner
///            reveals its own value only in the reveal phase, after every attestor had to commit;
///         4. the round is accepted iff a strict majority revealed the refiner's value and `metric` beats the
///            previous accepted metric by `minGainBps`: a child version is published and the trainer budget
///            (`rewardPool / rounds` less the attestors' share) opens for Merkle claims. The attestors who revealed
///            the majority value share `attestorShareBps` of the round reward, accepted or not.
///         A split not revealed in time — or revealed but unfetchable, as a majority attests with `SPLIT_INVALID` —
///         accepts the round on the refiner's own revealed metric.
///         See docs/attestation-settlement-finetuning.md.
interface IFineTuning is IAttestationQuorum {
    /// @notice Bounty status.
    enum BountyStatus {
        None,
        Active,
        Finalized
    }

    /// @notice Round status. `Open` waits for a refiner's candidate; `Committed` waits for the hidden split;
    ///         `Attesting` runs the quorum (drawn at the split reveal, or later by `drawAttestors`).
    enum RoundStatus {
        Open,
        Committed,
        Accepted,
        Rejected,
        Attesting
    }

    /// @notice Governance parameters.
    struct Params {
        uint8 quorum; // attestors per round (1..15)
        uint32 commitWindow; // seconds after the draw for attestor commits
        uint32 revealWindow; // seconds after the commit window for reveals (attestors and refiner)
        uint96 slashAmount; // stake slashed per fault
        uint64 claimWindow; // seconds after acceptance before unclaimed trainer payouts return to the poster
        uint16 attestorShareBps; // share of each round's reward paid to the attestors who revealed the majority
    }

    /// @notice What a poster asks for.
    struct BountyInput {
        uint256 algorithmId;
        string controlCid; // IPFS CID of the public labelled control group
        bytes32 metricId; // e.g. keccak256("accuracy")
        uint16 minGainBps; // minimum gain of the metric per round, in bps of 1e18 (1 bps = 1e14)
        uint128 rewardPool; // escrowed; at most rewardPool / rounds is paid per round
        uint8 rounds;
        uint16 groupSize; // secure-aggregation group size g (0 = default 8)
        uint32 roundDuration; // seconds a round stays open for the refiner's candidate
        bytes32 splitRoot; // StandardMerkleTree ["uint256","string","bytes32"] root of (round, splitCid, salt)
        uint256 baselineMetric; // the base model's metric (fixed point 1e18): round 0 must beat it by minGain
        uint32 splitWindow; // seconds after a candidate commitment for the split reveal (1..MAX_SPLIT_WINDOW)
    }

    /// @notice A bounty as stored (fields after `controlCid` were appended for §7.7).
    struct Bounty {
        address poster;
        BountyStatus status;
        uint8 rounds;
        uint8 currentRound; // index of the round in progress (== rounds once finalised)
        uint16 minGainBps;
        uint16 groupSize;
        uint32 roundDuration;
        uint64 roundOpenedAt;
        uint64 baseAlgorithmId;
        uint64 currentAlgorithmId; // the latest accepted version (next round trains from it)
        bytes32 metricId;
        uint128 rewardPool;
        uint128 reserved; // reserved for accepted rounds' trainer claims
        uint128 refunded; // leftover returned to the poster
        uint32 trainerCount;
        string controlCid;
        bytes32 splitRoot;
        uint256 acceptedMetric; // metric of the latest accepted round (baselineMetric before any)
        uint128 attestorsPaid; // paid to attestors so far
        uint32 splitWindow;
    }

    /// @notice A round's candidate as revealed (the attestors recompute `modelSha256`, `metricAfter` and
    ///         `payoutRoot`). `metricBefore` is the bound the round had to beat; `payoutTotal` the trainer budget.
    struct RoundClaim {
        string modelCid; // IPFS package CID of the candidate (public from the commitment on)
        bytes32 modelSha256; // the candidate hash: sha256 of its model.onnx
        uint256 metricBefore; // the previous accepted metric, fixed point 1e18
        uint256 metricAfter; // the revealed (attested) metric on the round's hidden split
        bytes32 acceptedGroupsRoot; // unused since §7.7 (the groups are in the round list)
        bytes32 payoutRoot; // StandardMerkleTree ["address","uint256"] root of the canonical trainer payouts
        uint128 payoutTotal; // the round's trainer budget once accepted
    }

    /// @notice Public state of one round.
    struct RoundInfo {
        RoundStatus status;
        address refiner;
        uint64 childAlgorithmId;
        uint64 claimDeadline;
        bool swept;
        bytes32 claimHash; // the refiner's commitment; its attested value once revealed
        bytes32 finalHash; // the majority value
        uint128 payoutTotal;
        uint128 claimed;
        uint64 commitDeadline;
        uint64 revealDeadline;
        uint16 committedMask;
        uint16 revealedMask;
        address[] attestors;
        RoundClaim claim;
        string listCid; // the refiner's round list (accepted groups, canonical payout list)
        uint64 splitDeadline;
        bool candidateRevealed;
        uint64 seedBlock; // the block whose hash draws the attestors
    }

    // ------------------------------------------------------------------------------------------------------
    // Errors
    // ------------------------------------------------------------------------------------------------------

    /// @notice An initializer address is zero.
    error FineTuningZeroAddress();
    /// @notice Parameters are outside their bounds.
    error FineTuningInvalidParams();
    /// @notice The algorithm is not listed.
    error FineTuningAlgorithmNotListed(uint256 algorithmId);
    /// @notice The bounty input is invalid (zero pool/rounds/duration/split root/split window, bad CID, zero
    ///         metric, too many rounds).
    error FineTuningInvalidBounty();
    /// @notice No bounty with this id.
    error FineTuningUnknownBounty(uint256 bountyId);
    /// @notice The bounty is not active.
    error FineTuningBountyNotActive(uint256 bountyId);
    /// @notice The caller is not a registered device.
    error FineTuningNotDevice(address caller);
    /// @notice The device already enrolled.
    error FineTuningAlreadyEnrolled(uint256 bountyId, address trainer);
    /// @notice The caller is not an active staked refiner.
    error FineTuningNotRefiner(address caller);
    /// @notice The round is not in the status this action needs.
    error FineTuningInvalidRoundStatus(uint256 bountyId, uint256 round, RoundStatus status);
    /// @notice The round's deadline for this action passed.
    error FineTuningRoundClosed(uint256 bountyId, uint256 round, uint64 deadline);
    /// @notice The round's submission deadline has not passed yet.
    error FineTuningRoundStillOpen(uint256 bountyId, uint256 round, uint64 deadline);
    /// @notice The candidate is malformed (zero commitment, empty or oversized CID).
    error FineTuningInvalidCandidate();
    /// @notice The account is not an enrolled trainer of the bounty.
    error FineTuningNotTrainer(uint256 bountyId, address account);
    /// @notice The trainer already claimed this round.
    error FineTuningAlreadyClaimed(uint256 bountyId, uint256 round, address account);
    /// @notice The Merkle proof is invalid.
    error FineTuningInvalidProof(uint256 bountyId, uint256 round, address account, uint256 amount);
    /// @notice The claim would exceed the round's payout total.
    error FineTuningPoolExhausted(uint256 bountyId, uint256 round, uint256 remaining, uint256 amount);
    /// @notice The round's unclaimed payouts were swept.
    error FineTuningAlreadySwept(uint256 bountyId, uint256 round);
    /// @notice The round's claim window has not ended.
    error FineTuningClaimWindowOpen(uint256 bountyId, uint256 round, uint64 claimDeadline);
    /// @notice (round, splitCid, salt, proof) does not open the bounty's split root for this round.
    error FineTuningSplitMismatch(uint256 bountyId, uint256 round);
    /// @notice The split reveal came after the split deadline.
    error FineTuningSplitRevealLate(uint256 bountyId, uint256 round, uint64 splitDeadline);
    /// @notice Only the round's refiner reveals its candidate.
    error FineTuningNotRoundRefiner(uint256 bountyId, uint256 round, address caller);
    /// @notice (modelSha256, payoutRoot, salt) does not open the refiner's commitment.
    error FineTuningCandidateMismatch(uint256 bountyId, uint256 round);
    /// @notice The refiner already revealed its candidate.
    error FineTuningCandidateAlreadyRevealed(uint256 bountyId, uint256 round);
    /// @notice The refiner's candidate reveal is only open in the quorum's reveal phase, or after a missed split
    ///         deadline (until `splitDeadline + revealWindow`).
    error FineTuningNotInCandidateReveal(uint256 bountyId, uint256 round);
    /// @notice The round's attestors are already drawn.
    error FineTuningAttestorsAlreadyDrawn(uint256 bountyId, uint256 round);
    /// @notice The round cannot be finalised yet.
    error FineTuningRoundNotOver(uint256 bountyId, uint256 round, uint64 deadline);

    // ------------------------------------------------------------------------------------------------------
    // Events
    // ------------------------------------------------------------------------------------------------------

    /// @notice Parameters set.
    event ParamsUpdated(Params params);
    /// @notice A bounty was posted and its reward pool escrowed.
    event BountyCreated(
        uint256 indexed bountyId,
        address indexed poster,
        uint256 indexed algorithmId,
        BountyInput input
    );
    /// @notice A device enrolled as a trainer.
    event TrainerEnrolled(uint256 indexed bountyId, address indexed trainer);
    /// @notice A round opened for the refiner's candidate (deadline = openedAt + roundDuration).
    event RoundOpened(uint256 indexed bountyId, uint256 indexed round, uint256 algorithmId, uint64 openedAt);
    /// @notice A refiner bound itself to a candidate; the attestor seed is armed on `seedBlock`.
    event CandidateCommitted(
        uint256 indexed bountyId,
        uint256 indexed round,
        address indexed refiner,
        bytes32 commitment,
        string modelCid,
        string listCid,
        uint64 splitDeadline,
        uint64 seedBlock
    );
    /// @notice The round's hidden acceptance split was revealed.
    event SplitRevealed(uint256 indexed bountyId, uint256 indexed round, string splitCid, bytes32 salt);
    /// @notice The seed's block hash expired before anyone fixed it: re-armed on `seedBlock`.
    event SeedRearmed(uint256 indexed bountyId, uint256 indexed round, uint64 seedBlock);
    /// @notice The round's attestors were drawn.
    event AttestorsDrawn(
        uint256 indexed bountyId,
        uint256 indexed round,
        bytes32 seed,
        address[] attestors,
        uint64 commitDeadline,
        uint64 revealDeadline
    );
    /// @notice A selected attestor committed.
    event AttestationCommitted(
        uint256 indexed bountyId,
        uint256 indexed round,
        address indexed attestor,
        bytes32 commitment
    );
    /// @notice A selected attestor revealed.
    event AttestationRevealed(
        uint256 indexed bountyId,
        uint256 indexed round,
        address indexed attestor,
        bytes32 value
    );
    /// @notice The refiner opened its commitment and stated its metric; `value` is its attested value.
    event CandidateRevealed(
        uint256 indexed bountyId,
        uint256 indexed round,
        bytes32 modelSha256,
        uint256 metric,
        bytes32 payoutRoot,
        bytes32 value
    );
    /// @notice A round ended; `reason` is zero when accepted.
    event RoundFinalized(
        uint256 indexed bountyId,
        uint256 indexed round,
        bool accepted,
        bytes32 reason,
        bytes32 finalHash,
        uint256 childAlgorithmId
    );
    /// @notice A node was slashed (the challenger share goes to the caller unless it is a party of the bounty).
    event NodeSlashed(
        uint256 indexed bountyId,
        uint256 indexed round,
        address indexed node,
        INodeStaking.Role role,
        uint256 amount
    );
    /// @notice An attestor who revealed the majority value was paid from the bounty.
    event AttestorPaid(
        uint256 indexed bountyId,
        uint256 indexed round,
        address indexed attestor,
        uint256 amount
    );
    /// @notice The last round ended; the leftover reward returned to the poster.
    event BountyFinalized(uint256 indexed bountyId, uint256 refund);
    /// @notice A trainer claimed its payout.
    event TrainerPaid(
        uint256 indexed bountyId,
        uint256 indexed round,
        address indexed account,
        uint256 amount
    );
    /// @notice A round's unclaimed payouts returned to the poster.
    event RoundSwept(uint256 indexed bountyId, uint256 indexed round, address indexed poster, uint256 amount);

    // ------------------------------------------------------------------------------------------------------
    // Functions
    // ------------------------------------------------------------------------------------------------------

    /// @notice Sets the parameters. Only governance.
    function setParams(Params calldata params) external;

    /// @notice Posts a bounty on a listed algorithm and escrows its reward pool; round 0 opens.
    function createBounty(BountyInput calldata input) external returns (uint256 bountyId);

    /// @notice A registered device enrols as a trainer of an active bounty.
    function enrol(uint256 bountyId) external;

    /// @notice An active refiner binds itself to the current round's candidate (first come, while the round is
    ///         open): `commitment = keccak256(abi.encode(modelSha256, payoutRoot, salt))` (no view computes it:
    ///         compute it locally, the salt is secret) stays hidden until the
    ///         reveal phase; `modelCid` (the candidate package) and `listCid` (the round list: accepted groups and
    ///         their sample counts) are public so that attestors can fetch them. Arms the attestor seed on the
    ///         next block and opens the split window.
    function commitCandidate(
        uint256 bountyId,
        bytes32 commitment,
        string calldata modelCid,
        string calldata listCid
    ) external;

    /// @notice Reveals the round's hidden split (anyone holding the preimage, normally the poster) before the
    ///         split deadline, and draws the attestors when the seed's block is known (otherwise `drawAttestors`).
    function revealSplit(
        uint256 bountyId,
        string calldata splitCid,
        bytes32 salt,
        bytes32[] calldata proof
    ) external;

    /// @notice Draws the round's attestors once the seed's block is mined (permissionless; re-arms the seed and
    ///         returns without drawing when its block hash expired).
    function drawAttestors(uint256 bountyId) external;

    /// @notice A drawn attestor commits `keccak256(abi.encode(value, salt, attestor))`.
    function commitAttestation(uint256 bountyId, bytes32 commitment) external;

    /// @notice A drawn attestor reveals the value it recomputed: `AttestationQuorum.INVALID` when it could not
    ///         fetch or verify the refiner's candidate or round list (a majority for it slashes the refiner), and
    ///         `keccak256("dml.finetuning.SPLIT_INVALID")` when the poster's revealed split cannot be fetched or
    ///         parsed (a majority for it treats the split as not revealed: the round stands on the refiner's own
    ///         metric and nobody is slashed).
    function revealAttestation(uint256 bountyId, bytes32 value, bytes32 salt) external;

    /// @notice The round's refiner opens its commitment and states the candidate's metric on the revealed split.
    function revealCandidate(
        uint256 bountyId,
        bytes32 modelSha256,
        uint256 metric,
        bytes32 payoutRoot,
        bytes32 salt
    ) external;

    /// @notice Finalises the current round once its phase is over: accepts it (publishes the child version, opens
    ///         claims) or rejects it, pays the majority attestors, slashes faults, opens the next round or
    ///         finalises the bounty. Permissionless; the caller receives the challenger share unless it is a party
    ///         of the bounty (poster, refiner, drawn attestor).
    function finalizeRound(uint256 bountyId) external;

    /// @notice Rejects the current round when no refiner committed before its deadline. Permissionless.
    function closeRound(uint256 bountyId) external;

    /// @notice Pays an enrolled trainer its amount from an accepted round with a Merkle proof. Once per round.
    function claim(
        uint256 bountyId,
        uint256 round,
        address account,
        uint256 amount,
        bytes32[] calldata proof
    ) external;

    /// @notice Returns an accepted round's unclaimed payouts to the poster after the claim window. Permissionless.
    function sweep(uint256 bountyId, uint256 round) external;

    /// @notice The value attestors and the refiner reveal: `keccak256(abi.encode(modelSha256, metric, payoutRoot))`.
    function attestedValueOf(
        bytes32 modelSha256,
        uint256 metric,
        bytes32 payoutRoot
    ) external pure returns (bytes32);

    /// @notice The bounty.
    function getBounty(uint256 bountyId) external view returns (Bounty memory);

    /// @notice A round of a bounty.
    function getRound(uint256 bountyId, uint256 round) external view returns (RoundInfo memory);

    /// @notice Whether `account` enrolled in the bounty.
    function isEnrolled(uint256 bountyId, address account) external view returns (bool);

    /// @notice Whether `account` claimed its payout of `round`.
    function isClaimed(uint256 bountyId, uint256 round, address account) external view returns (bool);

    /// @notice Tokens held for all bounties (pools less refunds, claims and sweeps).
    function totalHeld() external view returns (uint256);

    /// @notice Number of bounties.
    function bountyCount() external view returns (uint256);

    /// @notice Current parameters.
    function params() external view returns (Params memory);

    /// @notice Wiring.
    function token() external view returns (IERC20);

    /// @notice The algorithm marketplace (this contract must be an authorised publisher).
    function market() external view returns (IAlgorithmMarketplace);

    /// @notice Node staking (refiners, attestors, slashing).
    function staking() external view returns (INodeStaking);

    /// @notice The device registry (trainers).
    function registry() external view returns (IDeviceRegistry);
}
