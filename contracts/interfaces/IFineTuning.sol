// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {INodeStaking} from "./INodeStaking.sol";
import {IDeviceRegistry} from "./IDeviceRegistry.sol";
import {IAlgorithmMarketplace} from "./IAlgorithmMarketplace.sol";
import {IAttestationQuorum} from "./IAttestationQuorum.sol";

/// @title IFineTuning
/// @notice Crowd fine-tuning bounties (PROTOCOL.md §5). A poster escrows a reward pool on an algorithm with a
///         public control group; registered devices enrol as trainers; each round a staked refiner posts the new
///         model and its control metric before/after plus the trainer payout root; `q` attestors re-evaluate on
///         the control group and commit-reveal the claim hash (same quorum as ResultAttestation). An attested
///         round whose gain reaches the minimum publishes a child version in the marketplace and opens the
///         trainers' Merkle claims. Leftover reward returns to the poster after the last round.
///         See docs/attestation-settlement-finetuning.md.
interface IFineTuning is IAttestationQuorum {
    /// @notice Bounty status.
    enum BountyStatus {
        None,
        Active,
        Finalized
    }

    /// @notice Round status. `Open` waits for a refiner; `Submitted` runs the quorum.
    enum RoundStatus {
        Open,
        Submitted,
        Accepted,
        Rejected
    }

    /// @notice Governance parameters.
    struct Params {
        uint8 quorum; // attestors per round (1..15)
        uint32 commitWindow; // seconds after submission for attestor commits
        uint32 revealWindow; // seconds after the commit window for reveals
        uint96 slashAmount; // stake slashed per fault
        uint64 claimWindow; // seconds after acceptance before unclaimed trainer payouts return to the poster
    }

    /// @notice What a poster asks for.
    struct BountyInput {
        uint256 algorithmId;
        string controlCid; // IPFS CID of the public labelled control group
        bytes32 metricId; // e.g. keccak256("accuracy")
        uint16 minGainBps; // minimum gain of the control metric per round, in bps of 1e18 (1 bps = 1e14)
        uint128 rewardPool; // escrowed; at most rewardPool / rounds is paid per accepted round
        uint8 rounds;
        uint16 groupSize; // secure-aggregation group size g (0 = default 8)
        uint32 roundDuration; // seconds a round stays open for the refiner's submission
    }

    /// @notice A bounty as stored.
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
    }

    /// @notice What the refiner posts for a round (the attestors recompute exactly this).
    struct RoundClaim {
        string modelCid; // IPFS package CID of the new model
        bytes32 modelSha256;
        uint256 metricBefore; // control metric of the current weights, fixed point 1e18
        uint256 metricAfter; // control metric of the new weights, fixed point 1e18
        bytes32 acceptedGroupsRoot; // Merkle root of the accepted aggregation groups
        bytes32 payoutRoot; // StandardMerkleTree ["address","uint256"] root of trainer payouts
        uint128 payoutTotal;
    }

    /// @notice Public state of one round.
    struct RoundInfo {
        RoundStatus status;
        address refiner;
        uint64 childAlgorithmId;
        uint64 claimDeadline;
        bool swept;
        bytes32 claimHash;
        bytes32 finalHash;
        uint128 payoutTotal;
        uint128 claimed;
        uint64 commitDeadline;
        uint64 revealDeadline;
        uint16 committedMask;
        uint16 revealedMask;
        address[] attestors;
        RoundClaim claim;
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
    /// @notice The bounty input is invalid (zero pool/rounds/duration, bad CID, zero metric, too many rounds).
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
    /// @notice The round's submission deadline passed.
    error FineTuningRoundClosed(uint256 bountyId, uint256 round, uint64 deadline);
    /// @notice The round's submission deadline has not passed yet.
    error FineTuningRoundStillOpen(uint256 bountyId, uint256 round, uint64 deadline);
    /// @notice The claim is malformed (CID, sha, root / total inconsistent) or pays more than the per-round budget.
    error FineTuningInvalidClaim(uint256 payoutTotal, uint256 maxTotal);
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
    /// @notice A round opened for the refiner's submission (deadline = openedAt + roundDuration).
    event RoundOpened(uint256 indexed bountyId, uint256 indexed round, uint256 algorithmId, uint64 openedAt);
    /// @notice A refiner submitted a round; `attestors` were selected.
    event RoundSubmitted(
        uint256 indexed bountyId,
        uint256 indexed round,
        address indexed refiner,
        bytes32 claimHash,
        RoundClaim claim,
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
        bytes32 claimHash
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
    /// @notice A node was slashed.
    event NodeSlashed(
        uint256 indexed bountyId,
        uint256 indexed round,
        address indexed node,
        INodeStaking.Role role,
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

    /// @notice An active refiner submits the current round's claim (first come); attestors are selected with
    ///         `block.prevrandao`, the bounty id and the round as seed, excluding the refiner.
    function submitRound(uint256 bountyId, RoundClaim calldata claim) external;

    /// @notice A selected attestor commits `keccak256(abi.encode(claimHash, salt, attestor))`.
    function commitAttestation(uint256 bountyId, bytes32 commitment) external;

    /// @notice A selected attestor reveals the claim hash it recomputed.
    function revealAttestation(uint256 bountyId, bytes32 claimHash, bytes32 salt) external;

    /// @notice Finalises the current round once everyone revealed or the reveal deadline passed: accepts it
    ///         (publishes the child version, opens claims) or rejects it, slashes faults, opens the next round or
    ///         finalises the bounty. Permissionless; the caller receives the challenger share.
    function finalizeRound(uint256 bountyId) external;

    /// @notice Rejects the current round when no refiner submitted before its deadline. Permissionless.
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

    /// @notice The claim hash attestors reveal for `claim`.
    function claimHashOf(RoundClaim calldata claim) external pure returns (bytes32);

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
