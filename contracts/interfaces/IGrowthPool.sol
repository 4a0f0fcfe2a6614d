// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IGrowthPool
/// @notice The growth pool holds 9% of the DML supply and emits it per epoch on a halving schedule
///         `E(e) = E0 >> floor(e / H)`, `E0 = cap / (2H)`. After each epoch an active distributor posts the
///         connected set: the Merkle root over leaves `(index, device, heartbeat signature)` and its count `n`
///         (PROTOCOL.md §7.2). Until the challenge window closes anyone may prove a fault in the post (an
///         unregistered device, a bad heartbeat signature, a device twice, an index ≥ n) with Merkle proofs; a proven
///         fault slashes the poster, pays the challenger and voids the post (another distributor may repost). After
///         the window `requestDraw` allocates the budget and asks Chainlink VRF v2.5 for one random word from which
///         `k` winning indices `keccak256(abi.encode(word, j)) % n` are derived; each winning draw `j` pays
///         `budget / k` to the device of that leaf, claimed with a Merkle proof within a window.
/// @dev Decisions (rollover, duplicate winners, sweep, reposts, retries, parameter changes) are documented in
///      docs/growth-pool.md.
interface IGrowthPool {
    /// @notice Epoch and lottery parameters.
    /// @param genesis Start of epoch 0 (unix seconds). Epoch e covers [genesis + e*len, genesis + (e+1)*len).
    /// @param epochLength Length of an epoch in seconds. Fixed for the life of the pool.
    /// @param halvingEpochs H: the emission halves every H epochs.
    /// @param winnersPerEpoch k: number of draws (winners) per epoch.
    /// @param claimWindow Seconds after the draw during which winners may claim.
    struct Config {
        uint64 genesis;
        uint64 epochLength;
        uint32 halvingEpochs;
        uint32 winnersPerEpoch;
        uint64 claimWindow;
    }

    /// @notice Chainlink VRF v2.5 request parameters (LINK payment from `subscriptionId`).
    struct VrfConfig {
        address coordinator;
        bytes32 keyHash;
        uint256 subscriptionId;
        uint16 requestConfirmations;
        uint32 callbackGasLimit;
    }

    /// @notice A segment of the emission schedule: from epoch `start`, `E(e) = e0 >> floor((e - start) / halvingEpochs)`.
    struct Era {
        uint64 start;
        uint32 halvingEpochs;
        uint96 e0;
    }

    /// @notice A connected-set leaf: `keccak256(bytes.concat(keccak256(abi.encode(index, device, signature))))`
    ///         (StandardMerkleTree `["uint256", "address", "bytes"]`); `signature` is the device's EIP-712 heartbeat
    ///         for the epoch (`DeviceRegistry.heartbeatDigest(device, epoch)`).
    struct Leaf {
        uint256 index;
        address device;
        bytes signature;
    }

    /// @notice Parameters of the challenge game.
    /// @param challengeWindow Seconds after a post during which faults can be proven (shorter than the staking
    ///        unbonding delay, so the poster's stake is still slashable).
    /// @param slashAmount Distributor stake slashed per proven fault (capped by the stake there is).
    struct ChallengeConfig {
        uint64 challengeWindow;
        uint96 slashAmount;
    }

    /// @notice Lifecycle of an epoch's post.
    /// @param None Not posted.
    /// @param Posted Posted with devices; challengeable until `challengeDeadline`, then drawable.
    /// @param Voided A fault was proven; repostable until `repostDeadline`, then its emission rolls over.
    /// @param Settled Its budget was allocated (draw requested, nothing to draw, or rolled over).
    enum EpochStatus {
        None,
        Posted,
        Voided,
        Settled
    }

    /// @notice The kinds of provable faults in a connected-set post.
    enum Fault {
        UnregisteredDevice,
        BadSignature,
        DuplicateDevice,
        IndexOutOfRange
    }

    /// @notice Everything known about one epoch.
    struct EpochInfo {
        bool posted;
        bool drawn;
        bool swept;
        bytes32 root;
        uint256 n;
        uint256 k;
        uint256 budget;
        uint256 perWinner;
        uint256 requestId;
        uint256 randomWord;
        uint256 postedAt;
        uint256 requestedAt;
        uint256 claimWindow;
        uint256 claimDeadline;
        uint256 claimedCount;
        EpochStatus status;
        address poster;
        uint256 challengeDeadline;
        uint256 repostDeadline;
        address requestCoordinator;
    }

    // ---------------------------------------------------------------- errors

    /// @notice A required address is the zero address.
    error GrowthPoolZeroAddress();
    /// @notice The pool balance at initialisation is zero (or does not fit 96 bits).
    error GrowthPoolInvalidCap(uint256 cap);
    /// @notice The epoch length is outside [MIN_EPOCH_LENGTH, MAX_EPOCH_LENGTH].
    error GrowthPoolInvalidEpochLength(uint256 epochLength);
    /// @notice The halving period is outside [1, MAX_HALVING_EPOCHS].
    error GrowthPoolInvalidHalvingEpochs(uint256 halvingEpochs);
    /// @notice The number of winners per epoch is outside [1, MAX_WINNERS_PER_EPOCH].
    error GrowthPoolInvalidWinnersPerEpoch(uint256 winnersPerEpoch);
    /// @notice The claim window is outside [MIN_CLAIM_WINDOW, MAX_CLAIM_WINDOW].
    error GrowthPoolInvalidClaimWindow(uint256 claimWindow);
    /// @notice The VRF callback gas limit is outside [MIN_CALLBACK_GAS_LIMIT, MAX_CALLBACK_GAS_LIMIT].
    error GrowthPoolInvalidCallbackGasLimit(uint256 callbackGasLimit);
    /// @notice The caller is not an active staked distributor.
    error GrowthPoolNotDistributor(address caller);
    /// @notice The epoch has not ended yet; it can be posted from `endsAt`.
    error GrowthPoolEpochNotEnded(uint256 epoch, uint256 endsAt);
    /// @notice The epoch was already posted.
    error GrowthPoolAlreadyPosted(uint256 epoch);
    /// @notice Epochs are posted in order; `expected` is the next one to post.
    error GrowthPoolEpochOutOfOrder(uint256 epoch, uint256 expected);
    /// @notice `n == 0` requires a zero root and `n > 0` a non-zero root.
    error GrowthPoolInvalidRoot(bytes32 root, uint256 n);
    /// @notice The device count does not fit 40 bits (about 1.1e12 devices).
    error GrowthPoolTooManyDevices(uint256 n);
    /// @notice The epoch was not posted.
    error GrowthPoolNotPosted(uint256 epoch);
    /// @notice The epoch has no draw (no devices or no budget), so there is nothing to draw or claim.
    error GrowthPoolNothingToDraw(uint256 epoch);
    /// @notice The epoch's random word has not been delivered yet.
    error GrowthPoolNotDrawn(uint256 epoch);
    /// @notice The epoch's random word was already delivered.
    error GrowthPoolAlreadyDrawn(uint256 epoch);
    /// @notice The epoch's VRF request `requestId` can still be fulfilled by the configured coordinator, so it is
    ///         never re-requested (a fresh seed would re-roll the draw).
    error GrowthPoolRequestPending(uint256 epoch, uint256 requestId);
    /// @notice The challenge window is outside [MIN_CHALLENGE_WINDOW, MAX_CHALLENGE_WINDOW] or not shorter than
    ///         the staking unbonding delay.
    error GrowthPoolInvalidChallengeWindow(uint256 challengeWindow);
    /// @notice The slash amount is zero or does not fit 96 bits.
    error GrowthPoolInvalidSlashAmount(uint256 slashAmount);
    /// @notice The epoch's challenge window is still open until `deadline`; its draw can be requested after it.
    error GrowthPoolChallengeWindowOpen(uint256 epoch, uint256 deadline);
    /// @notice The epoch's challenge window closed at `deadline` (or the post cannot be challenged).
    error GrowthPoolChallengeWindowClosed(uint256 epoch, uint256 deadline);
    /// @notice The epoch's post was voided by a proven fault.
    error GrowthPoolPostVoided(uint256 epoch);
    /// @notice The voided epoch can still be reposted until `deadline`.
    error GrowthPoolRepostWindowOpen(uint256 epoch, uint256 deadline);
    /// @notice The epoch's budget was already allocated (its draw was requested or it had nothing to draw).
    error GrowthPoolAlreadySettled(uint256 epoch);
    /// @notice The proven leaves are in the post but show no fault; nothing changes.
    error GrowthPoolNoFault(uint256 epoch);
    /// @notice Only the configured VRF coordinator may deliver random words.
    error GrowthPoolOnlyCoordinator(address caller, address coordinator);
    /// @notice The request id is not an open request of this pool (unknown, stale or already fulfilled).
    error GrowthPoolUnknownRequest(uint256 requestId);
    /// @notice The coordinator delivered no random words.
    error GrowthPoolNoRandomWords(uint256 requestId);
    /// @notice The claim window of the epoch closed at `deadline`.
    error GrowthPoolClaimWindowClosed(uint256 epoch, uint256 deadline);
    /// @notice The claim window of the epoch is still open until `deadline`.
    error GrowthPoolClaimWindowOpen(uint256 epoch, uint256 deadline);
    /// @notice The draw index `j` is not below the epoch's `k`.
    error GrowthPoolInvalidDraw(uint256 epoch, uint256 j);
    /// @notice Draw `j` of the epoch was already claimed.
    error GrowthPoolAlreadyClaimed(uint256 epoch, uint256 j);
    /// @notice `index` is not the winning device index of draw `j`.
    error GrowthPoolNotWinner(uint256 epoch, uint256 j, uint256 index);
    /// @notice The Merkle proof does not prove the leaf (index, account, signature) under the epoch's root.
    error GrowthPoolInvalidProof(uint256 epoch, address account, uint256 index);
    /// @notice The epoch's unclaimed rewards were already swept.
    error GrowthPoolAlreadySwept(uint256 epoch);

    // ---------------------------------------------------------------- events

    /// @notice The pool was initialised with `cap` tokens and the initial schedule `E0 = e0`.
    event GrowthPoolInitialized(
        address indexed token,
        address indexed staking,
        uint256 cap,
        uint256 e0,
        Config config
    );
    /// @notice An epoch's connected set was posted (or reposted); it can be challenged until `challengeDeadline`
    ///         (0 when `n == 0`: nothing to challenge, the epoch is settled at once).
    event EpochPosted(
        uint256 indexed epoch,
        address indexed distributor,
        bytes32 root,
        uint256 n,
        uint256 challengeDeadline,
        string cid
    );
    /// @notice An epoch's budget was allocated (at `requestDraw`, or at once for `n == 0`). `budget` is its emission
    ///         plus the rollover it consumed (0 without a draw), `perWinner = budget / k`, and `carry` is the
    ///         rollover left for the next epoch.
    event EpochAllocated(uint256 indexed epoch, uint256 k, uint256 budget, uint256 perWinner, uint256 carry);
    /// @notice `challenger` proved `fault` in the post of `epoch` by `distributor`: `slashed` stake was taken and the
    ///         post voided; another distributor may repost until `repostDeadline`.
    event PostChallenged(
        uint256 indexed epoch,
        address indexed distributor,
        address indexed challenger,
        Fault fault,
        uint256 slashed,
        uint256 repostDeadline
    );
    /// @notice A voided epoch nobody reposted in time: its emission (`owed`) joined the rollover (`carry`).
    event EpochRolledOver(uint256 indexed epoch, uint256 owed, uint256 carry);
    /// @notice The challenge window changes for epochs posted from now on.
    event ChallengeWindowUpdated(uint256 oldChallengeWindow, uint256 newChallengeWindow);
    /// @notice The stake slashed per proven fault changed.
    event SlashAmountUpdated(uint256 oldSlashAmount, uint256 newSlashAmount);
    /// @notice Random words were requested from the VRF coordinator for `epoch`.
    event DrawRequested(uint256 indexed epoch, uint256 indexed requestId);
    /// @notice The VRF coordinator delivered the epoch's random word; claims are open until `claimDeadline`.
    event EpochDrawn(
        uint256 indexed epoch,
        uint256 indexed requestId,
        uint256 randomWord,
        uint256 claimDeadline
    );
    /// @notice Draw `j` of `epoch` paid `amount` to `account` (device index `index`).
    event Claimed(
        uint256 indexed epoch,
        uint256 indexed j,
        address indexed account,
        uint256 index,
        uint256 amount
    );
    /// @notice The unclaimed `amount` of `epoch` returned to the pool and joined the rollover (`carry`).
    event Swept(uint256 indexed epoch, uint256 amount, uint256 carry);
    /// @notice The halving period changes to `newHalvingEpochs` from epoch `fromEpoch`, keeping the emission
    ///         level `e0` that the old schedule gives at `fromEpoch`.
    event HalvingEpochsUpdated(
        uint256 oldHalvingEpochs,
        uint256 newHalvingEpochs,
        uint256 fromEpoch,
        uint256 e0
    );
    /// @notice `k` changes for epochs posted from now on.
    event WinnersPerEpochUpdated(uint256 oldWinnersPerEpoch, uint256 newWinnersPerEpoch);
    /// @notice The claim window changes for epochs posted from now on.
    event ClaimWindowUpdated(uint256 oldClaimWindow, uint256 newClaimWindow);
    /// @notice The VRF request parameters changed (open requests of a replaced coordinator can be retried).
    event VrfConfigUpdated(
        address indexed coordinator,
        bytes32 keyHash,
        uint256 subscriptionId,
        uint16 requestConfirmations,
        uint32 callbackGasLimit
    );

    // ---------------------------------------------------------------- actions

    /// @notice Posts the connected set of an ended epoch and opens its challenge window. Only an active distributor.
    ///         Epochs are posted strictly in order (`epoch == nextEpoch()`); a voided epoch may be reposted until its
    ///         `repostDeadline`. An epoch without devices is posted with `n == 0` and a zero root: it is settled at
    ///         once and rolls its emission over to a later epoch.
    /// @param epoch The epoch to post; it must have ended.
    /// @param root Merkle root of leaves `keccak256(bytes.concat(keccak256(abi.encode(index, device, signature))))`.
    /// @param n Number of devices in the list (indices 0..n-1).
    /// @param cid IPFS CID of the full list (StandardMerkleTree dump).
    function postEpoch(uint256 epoch, bytes32 root, uint256 n, string calldata cid) external;

    /// @notice Proves that `leaf.device` is not registered in DeviceRegistry and did not change its registration
    ///         after the post. Permissionless while the challenge window is open.
    function challengeUnregistered(uint256 epoch, Leaf calldata leaf, bytes32[] calldata proof) external;

    /// @notice Proves that `leaf.signature` is not `leaf.device`'s heartbeat for `epoch`.
    function challengeSignature(uint256 epoch, Leaf calldata leaf, bytes32[] calldata proof) external;

    /// @notice Proves that the post holds a leaf whose index is not below `n`.
    function challengeIndex(uint256 epoch, Leaf calldata leaf, bytes32[] calldata proof) external;

    /// @notice Proves that the post holds the same device at two different indices.
    function challengeDuplicate(
        uint256 epoch,
        Leaf calldata a,
        bytes32[] calldata proofA,
        Leaf calldata b,
        bytes32[] calldata proofB
    ) external;

    /// @notice After the challenge window: allocates the epoch's budget and requests its VRF draw (none when
    ///         nothing is worth drawing). For a voided epoch nobody reposted by its `repostDeadline`, rolls its
    ///         emission over instead. Permissionless.
    /// @return requestId The VRF request id, 0 when nothing is drawn.
    function requestDraw(uint256 epoch) external returns (uint256 requestId);

    /// @notice Re-requests the random word of an epoch whose request went to a coordinator governance has since
    ///         replaced (that coordinator can no longer deliver). Never while the configured coordinator can still
    ///         fulfil the first request. Permissionless.
    function retryDraw(uint256 epoch) external returns (uint256 requestId);

    /// @notice VRF v2.5 callback. Only the configured coordinator. Stores the epoch's random word and opens claims.
    function rawFulfillRandomWords(uint256 requestId, uint256[] calldata randomWords) external;

    /// @notice Pays draw `j` of `epoch` (`perWinner` tokens) to `leaf.device`, the device at the winning index.
    ///         Permissionless (anyone may submit the proof; tokens always go to the device).
    function claim(uint256 epoch, uint256 j, Leaf calldata leaf, bytes32[] calldata proof) external;

    /// @notice After the claim window, returns the epoch's unclaimed rewards to the pool; they are added to the
    ///         rollover of the next posted epoch. Permissionless.
    /// @return amount The amount swept.
    function sweep(uint256 epoch) external returns (uint256 amount);

    // ---------------------------------------------------------------- governance

    /// @notice Changes the halving period H from the next epoch on (current and past epochs keep their emission).
    function setHalvingEpochs(uint32 halvingEpochs) external;

    /// @notice Changes k for epochs posted from now on.
    function setWinnersPerEpoch(uint32 winnersPerEpoch) external;

    /// @notice Changes the claim window for epochs posted from now on.
    function setClaimWindow(uint64 claimWindow) external;

    /// @notice Replaces the VRF request parameters.
    function setVrfConfig(VrfConfig calldata vrf) external;

    /// @notice Changes the challenge window for epochs posted from now on (bounded; below the unbonding delay).
    function setChallengeWindow(uint64 challengeWindow) external;

    /// @notice Changes the stake slashed per proven fault.
    function setSlashAmount(uint256 slashAmount) external;

    // ---------------------------------------------------------------- views

    /// @notice Scheduled emission `E(e)` of `epoch` (before rollover and the cap clamp).
    function emission(uint256 epoch) external view returns (uint256);

    /// @notice The epoch in progress (0 before genesis).
    function currentEpoch() external view returns (uint256);

    /// @notice The next epoch to post.
    function nextEpoch() external view returns (uint256);

    /// @notice Timestamp at which `epoch` ends (and may be posted).
    function epochEnd(uint256 epoch) external view returns (uint256);

    /// @notice Everything stored about `epoch`.
    function epochInfo(uint256 epoch) external view returns (EpochInfo memory);

    /// @notice The epoch's connected set as jobs draw cohorts from it (PROTOCOL.md §7.3): its root and size, and
    ///         `finalAt`, the end of its challenge window (zero while there is no live post with devices: not
    ///         posted, voided, or posted empty). From `finalAt` on the post stands for good: nobody can void it.
    function connectedSet(uint256 epoch) external view returns (bytes32 root, uint256 n, uint256 finalAt);

    /// @notice The winning device index of draw `j` of `epoch`.
    function winnerIndex(uint256 epoch, uint256 j) external view returns (uint256);

    /// @notice Whether draw `j` of `epoch` was claimed.
    function isClaimed(uint256 epoch, uint256 j) external view returns (bool);

    /// @notice Tokens allocated to posted epochs' winners, net of swept amounts (always ≤ cap).
    function totalEmitted() external view returns (uint256);

    /// @notice Tokens paid to winners.
    function totalClaimed() external view returns (uint256);

    /// @notice Tokens returned to the pool by sweeps.
    function totalSwept() external view returns (uint256);

    /// @notice Tokens not allocated to any epoch: `cap - totalEmitted`.
    function remaining() external view returns (uint256);

    /// @notice Rollover waiting for the next posted epoch with a draw (empty epochs, dust, sweeps).
    function carry() external view returns (uint256);

    /// @notice The pool size: the token balance at initialisation.
    function cap() external view returns (uint256);

    /// @notice Current parameters.
    function config() external view returns (Config memory);

    /// @notice Current VRF parameters.
    function vrfConfig() external view returns (VrfConfig memory);

    /// @notice Emission schedule segments (one per halving-period change).
    function eras() external view returns (Era[] memory);

    /// @notice The pool token.
    function token() external view returns (address);

    /// @notice The staking contract that vouches for distributors and slashes them.
    function staking() external view returns (address);

    /// @notice The device registry (registrations, heartbeat digests).
    function registry() external view returns (address);

    /// @notice Current challenge parameters.
    function challengeConfig() external view returns (ChallengeConfig memory);
}
