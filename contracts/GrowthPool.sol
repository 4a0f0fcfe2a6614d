// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IVRFCoordinatorV2Plus} from "@chainlink/contracts/src/v0.8/vrf/dev/interfaces/IVRFCoordinatorV2Plus.sol";
import {VRFV2PlusClient} from "@chainlink/contracts/src/v0.8/vrf/dev/libraries/VRFV2PlusClient.sol";
import {GovernedUUPS} from "./utils/GovernedUUPS.sol";
import {IGrowthPool} from "./interfaces/IGrowthPool.sol";
import {INodeStaking} from "./interfaces/INodeStaking.sol";
import {IDeviceRegistry} from "./interfaces/IDeviceRegistry.sol";

/// @title GrowthPool
/// @notice Emits the 9% growth allocation of DML per epoch on a halving schedule to devices drawn by
///         Chainlink VRF v2.5 from the connected set a staked distributor posts as a Merkle root. The post is
///         challengeable for `challengeWindow` (PROTOCOL.md §7.2): any provable fault slashes the poster, pays the
///         challenger and voids the post; the draw is requested only after the window.
/// @dev A UUPS proxy cannot use `VRFConsumerBaseV2Plus` (constructor, owner), so the VRF callback
///      `rawFulfillRandomWords` is implemented here and accepts only the configured coordinator.
///      Decisions are documented in docs/growth-pool.md.
contract GrowthPool is GovernedUUPS, IGrowthPool, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Shortest allowed epoch.
    uint256 public constant MIN_EPOCH_LENGTH = 10 minutes;
    /// @notice Longest allowed epoch.
    uint256 public constant MAX_EPOCH_LENGTH = 365 days;
    /// @notice Largest allowed halving period, in epochs.
    uint256 public constant MAX_HALVING_EPOCHS = 100_000;
    /// @notice Largest allowed k (one bit per draw of the 64-bit claimed bitmap).
    uint256 public constant MAX_WINNERS_PER_EPOCH = 64;
    /// @notice Shortest allowed claim window.
    uint256 public constant MIN_CLAIM_WINDOW = 1 hours;
    /// @notice Longest allowed claim window.
    uint256 public constant MAX_CLAIM_WINDOW = 365 days;
    /// @notice Smallest allowed VRF callback gas limit (the callback needs about 50k).
    uint256 public constant MIN_CALLBACK_GAS_LIMIT = 80_000;
    /// @notice Largest VRF callback gas limit the coordinator accepts.
    uint256 public constant MAX_CALLBACK_GAS_LIMIT = 2_500_000;
    /// @notice Shortest allowed challenge window.
    uint256 public constant MIN_CHALLENGE_WINDOW = 10 minutes;
    /// @notice Longest allowed challenge window (it must also stay below the staking unbonding delay).
    uint256 public constant MAX_CHALLENGE_WINDOW = 30 days;

    struct EpochData {
        bytes32 root;
        uint256 randomWord;
        // one slot, read and written by claim; bit j of claimedBits is set once draw j is claimed
        uint96 perWinner;
        uint40 n;
        uint8 k;
        uint40 claimDeadline;
        uint64 claimedBits;
        uint256 requestId;
        uint96 budget;
        uint40 postedAt;
        uint40 requestedAt;
        uint64 claimWindow;
        bool swept;
        // appended: the post and its challenge game
        address poster;
        uint40 challengeDeadline;
        EpochStatus status;
        uint40 repostDeadline;
        // appended: the coordinator the open VRF request went to
        address requestCoordinator;
    }

    /// @custom:storage-location erc7201:dml.storage.GrowthPool
    struct GrowthPoolStorage {
        // token and totalClaimed share a slot: claim reads the one and writes the other
        IERC20 token;
        uint96 totalClaimed;
        INodeStaking staking;
        uint96 cap;
        Config config;
        VrfConfig vrf;
        uint128 totalEmitted;
        uint128 carry;
        uint256 totalSwept;
        uint256 nextEpoch;
        Era[] eras;
        mapping(uint256 epoch => EpochData) epochs;
        mapping(uint256 requestId => uint256 epochPlusOne) requestEpoch;
        // appended: fraud proofs
        IDeviceRegistry registry;
        uint64 challengeWindow;
        uint96 slashAmount;
    }

    // keccak256(abi.encode(uint256(keccak256("dml.storage.GrowthPool")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant GROWTH_POOL_STORAGE_LOCATION =
        0x84e7442263ce172b6e84d3775c449d6c1449e230e81be9029a173f1ed8409d00;

    /// @notice Initialises the pool. The pool size is the token balance the proxy already holds.
    /// @param governance_ The governance timelock.
    /// @param token_ The DML token (it minted the pool's 9% to this proxy before this call).
    /// @param staking_ NodeStaking, which vouches for distributors and slashes them (this pool must be a slasher).
    /// @param registry_ DeviceRegistry (registrations, heartbeat digests).
    /// @param config_ Epoch and lottery parameters.
    /// @param vrf_ Chainlink VRF v2.5 request parameters.
    /// @param challenge_ Challenge window and stake slashed per proven fault.
    function initialize(
        address governance_,
        IERC20 token_,
        INodeStaking staking_,
        IDeviceRegistry registry_,
        Config calldata config_,
        VrfConfig calldata vrf_,
        ChallengeConfig calldata challenge_
    ) external initializer {
        __GovernedUUPS_init(governance_);
        if (
            address(token_) == address(0) ||
            address(staking_) == address(0) ||
            address(registry_) == address(0)
        ) revert GrowthPoolZeroAddress();
        if (config_.epochLength < MIN_EPOCH_LENGTH || config_.epochLength > MAX_EPOCH_LENGTH) {
            revert GrowthPoolInvalidEpochLength(config_.epochLength);
        }
        _checkHalvingEpochs(config_.halvingEpochs);
        _checkWinnersPerEpoch(config_.winnersPerEpoch);
        _checkClaimWindow(config_.claimWindow);
        uint256 cap_ = token_.balanceOf(address(this));
        if (cap_ == 0 || cap_ > type(uint96).max) revert GrowthPoolInvalidCap(cap_);

        GrowthPoolStorage storage $ = _getGrowthPoolStorage();
        $.token = token_;
        $.cap = uint96(cap_);
        $.staking = staking_;
        $.config = config_;
        uint256 e0 = cap_ / (2 * uint256(config_.halvingEpochs));
        $.eras.push(Era({start: 0, halvingEpochs: config_.halvingEpochs, e0: uint96(e0)}));
        emit GrowthPoolInitialized(address(token_), address(staking_), cap_, e0, config_);
        _setVrfConfig($, vrf_);
        $.registry = registry_;
        _setChallengeWindow($, challenge_.challengeWindow);
        _setSlashAmount($, challenge_.slashAmount);
    }

    // ================================================================ actions

    /// @inheritdoc IGrowthPool
    function postEpoch(uint256 epoch, bytes32 root, uint256 n, string calldata cid) external nonReentrant {
        GrowthPoolStorage storage $ = _getGrowthPoolStorage();
        EpochData storage ep = $.epochs[epoch];
        uint256 expected = $.nextEpoch;
        if (epoch > expected) revert GrowthPoolEpochOutOfOrder(epoch, expected);
        if (epoch < expected) {
            // only a voided post may be replaced, and only until its repost deadline
            if (ep.status != EpochStatus.Voided || block.timestamp > ep.repostDeadline) {
                revert GrowthPoolAlreadyPosted(epoch);
            }
        } else {
            uint256 endsAt = _epochEnd($, epoch);
            if (block.timestamp < endsAt) revert GrowthPoolEpochNotEnded(epoch, endsAt);
            $.nextEpoch = epoch + 1;
        }
        if (!$.staking.isActive(msg.sender, INodeStaking.Role.Distributor)) {
            revert GrowthPoolNotDistributor(msg.sender);
        }
        if ((n == 0) != (root == bytes32(0))) revert GrowthPoolInvalidRoot(root, n);
        if (n > type(uint40).max) revert GrowthPoolTooManyDevices(n);

        ep.postedAt = uint40(block.timestamp);
        ep.root = root;
        ep.n = uint40(n);
        ep.poster = msg.sender;
        ep.repostDeadline = 0;
        if (n == 0) {
            // nothing to challenge or draw: settled at once, the emission rolls over
            ep.status = EpochStatus.Settled;
            ep.challengeDeadline = 0;
            emit EpochPosted(epoch, msg.sender, root, 0, 0, cid);
            _allocate($, ep, epoch, 0);
        } else {
            uint256 deadline = block.timestamp + $.challengeWindow;
            ep.status = EpochStatus.Posted;
            ep.challengeDeadline = uint40(deadline);
            emit EpochPosted(epoch, msg.sender, root, n, deadline, cid);
        }
    }

    /// @inheritdoc IGrowthPool
    function challengeUnregistered(
        uint256 epoch,
        Leaf calldata leaf,
        bytes32[] calldata proof
    ) external nonReentrant {
        GrowthPoolStorage storage $ = _getGrowthPoolStorage();
        EpochData storage ep = _challengeable($, epoch);
        _checkLeaf(ep, epoch, leaf, proof);
        IDeviceRegistry registry_ = $.registry;
        // A device that changed its registration after the post cannot frame the poster.
        if (registry_.isRegistered(leaf.device) || registry_.lastChange(leaf.device) > ep.postedAt) {
            revert GrowthPoolNoFault(epoch);
        }
        _void($, ep, epoch, Fault.UnregisteredDevice);
    }

    /// @inheritdoc IGrowthPool
    function challengeSignature(
        uint256 epoch,
        Leaf calldata leaf,
        bytes32[] calldata proof
    ) external nonReentrant {
        GrowthPoolStorage storage $ = _getGrowthPoolStorage();
        EpochData storage ep = _challengeable($, epoch);
        _checkLeaf(ep, epoch, leaf, proof);
        // epoch < 2^40: it has ended, so its end fits a timestamp
        bytes32 digest = $.registry.heartbeatDigest(leaf.device, uint64(epoch));
        (address signer, ECDSA.RecoverError err, ) = ECDSA.tryRecover(digest, leaf.signature);
        if (err == ECDSA.RecoverError.NoError && signer == leaf.device) revert GrowthPoolNoFault(epoch);
        _void($, ep, epoch, Fault.BadSignature);
    }

    /// @inheritdoc IGrowthPool
    function challengeIndex(
        uint256 epoch,
        Leaf calldata leaf,
        bytes32[] calldata proof
    ) external nonReentrant {
        GrowthPoolStorage storage $ = _getGrowthPoolStorage();
        EpochData storage ep = _challengeable($, epoch);
        _checkLeaf(ep, epoch, leaf, proof);
        if (leaf.index < ep.n) revert GrowthPoolNoFault(epoch);
        _void($, ep, epoch, Fault.IndexOutOfRange);
    }

    /// @inheritdoc IGrowthPool
    function challengeDuplicate(
        uint256 epoch,
        Leaf calldata a,
        bytes32[] calldata proofA,
        Leaf calldata b,
        bytes32[] calldata proofB
    ) external nonReentrant {
        GrowthPoolStorage storage $ = _getGrowthPoolStorage();
        EpochData storage ep = _challengeable($, epoch);
        bytes32 leafA = _checkLeaf(ep, epoch, a, proofA);
        bytes32 leafB = _checkLeaf(ep, epoch, b, proofB);
        // the same device at two indices, or two different leaves at one index
        bool sameDevice = a.device == b.device && a.index != b.index;
        bool sameIndex = a.index == b.index && leafA != leafB;
        if (!sameDevice && !sameIndex) revert GrowthPoolNoFault(epoch);
        _void($, ep, epoch, Fault.DuplicateDevice);
    }

    /// @inheritdoc IGrowthPool
    function requestDraw(uint256 epoch) external nonReentrant returns (uint256 requestId) {
        GrowthPoolStorage storage $ = _getGrowthPoolStorage();
        EpochData storage ep = $.epochs[epoch];
        EpochStatus status = ep.status;
        if (status == EpochStatus.None) revert GrowthPoolNotPosted(epoch);
        if (status == EpochStatus.Settled) revert GrowthPoolAlreadySettled(epoch);
        if (status == EpochStatus.Voided) {
            uint256 repostDeadline = ep.repostDeadline;
            if (block.timestamp <= repostDeadline) revert GrowthPoolRepostWindowOpen(epoch, repostDeadline);
            // nobody reposted: the epoch's emission rolls over
            ep.status = EpochStatus.Settled;
            uint256 owed = _emission($, epoch);
            uint256 carry_ = $.carry + owed;
            $.carry = uint128(carry_);
            emit EpochRolledOver(epoch, owed, carry_);
            return 0;
        }
        uint256 deadline = ep.challengeDeadline;
        if (block.timestamp <= deadline) revert GrowthPoolChallengeWindowOpen(epoch, deadline);
        ep.status = EpochStatus.Settled;
        _allocate($, ep, epoch, ep.n);
        if (ep.k != 0) requestId = _requestDraw($, ep, epoch);
    }

    /// @inheritdoc IGrowthPool
    function retryDraw(uint256 epoch) external nonReentrant returns (uint256 requestId) {
        GrowthPoolStorage storage $ = _getGrowthPoolStorage();
        EpochData storage ep = _drawableEpoch($, epoch);
        if (ep.claimDeadline != 0) revert GrowthPoolAlreadyDrawn(epoch);
        uint256 stale = ep.requestId;
        // The configured coordinator may still deliver the first request: never re-roll it.
        if (ep.requestCoordinator == $.vrf.coordinator) revert GrowthPoolRequestPending(epoch, stale);
        if ($.requestEpoch[stale] == epoch + 1) delete $.requestEpoch[stale];
        requestId = _requestDraw($, ep, epoch);
    }

    /// @inheritdoc IGrowthPool
    function rawFulfillRandomWords(uint256 requestId, uint256[] calldata randomWords) external {
        GrowthPoolStorage storage $ = _getGrowthPoolStorage();
        address coordinator = $.vrf.coordinator;
        if (msg.sender != coordinator) revert GrowthPoolOnlyCoordinator(msg.sender, coordinator);
        uint256 tag = $.requestEpoch[requestId];
        if (tag == 0) revert GrowthPoolUnknownRequest(requestId);
        uint256 epoch = tag - 1;
        EpochData storage ep = $.epochs[epoch];
        if (ep.requestId != requestId || ep.claimDeadline != 0 || ep.requestCoordinator != coordinator) {
            revert GrowthPoolUnknownRequest(requestId);
        }
        if (randomWords.length == 0) revert GrowthPoolNoRandomWords(requestId);

        delete $.requestEpoch[requestId];
        uint256 word = randomWords[0];
        uint256 deadline = block.timestamp + ep.claimWindow;
        ep.randomWord = word;
        ep.claimDeadline = uint40(deadline);
        emit EpochDrawn(epoch, requestId, word, deadline);
    }

    /// @inheritdoc IGrowthPool
    function claim(
        uint256 epoch,
        uint256 j,
        Leaf calldata leaf,
        bytes32[] calldata proof
    ) external nonReentrant {
        address account = leaf.device;
        if (account == address(0)) revert GrowthPoolZeroAddress();
        GrowthPoolStorage storage $ = _getGrowthPoolStorage();
        EpochData storage ep = $.epochs[epoch];
        uint256 deadline = ep.claimDeadline;
        if (deadline == 0) revert GrowthPoolNotDrawn(epoch);
        if (block.timestamp > deadline) revert GrowthPoolClaimWindowClosed(epoch, deadline);
        if (j >= ep.k) revert GrowthPoolInvalidDraw(epoch, j);
        uint64 bits = ep.claimedBits;
        uint64 mask = uint64(1 << j);
        if (bits & mask != 0) revert GrowthPoolAlreadyClaimed(epoch, j);
        uint256 index = leaf.index;
        if (index != _winner(ep.randomWord, j, ep.n)) revert GrowthPoolNotWinner(epoch, j, index);
        if (!MerkleProof.verifyCalldata(proof, ep.root, _leafHash(leaf))) {
            revert GrowthPoolInvalidProof(epoch, account, index);
        }

        ep.claimedBits = bits | mask;
        uint256 amount = ep.perWinner;
        $.totalClaimed += uint96(amount);
        emit Claimed(epoch, j, account, index, amount);
        $.token.safeTransfer(account, amount);
    }

    /// @inheritdoc IGrowthPool
    function sweep(uint256 epoch) external nonReentrant returns (uint256 amount) {
        GrowthPoolStorage storage $ = _getGrowthPoolStorage();
        EpochData storage ep = _drawableEpoch($, epoch);
        uint256 deadline = ep.claimDeadline;
        if (deadline == 0) revert GrowthPoolNotDrawn(epoch);
        if (block.timestamp <= deadline) revert GrowthPoolClaimWindowOpen(epoch, deadline);
        if (ep.swept) revert GrowthPoolAlreadySwept(epoch);

        ep.swept = true;
        amount = uint256(ep.perWinner) * (ep.k - _claimedCount(ep.claimedBits));
        $.totalEmitted -= uint128(amount);
        $.totalSwept += amount;
        $.carry += uint128(amount);
        emit Swept(epoch, amount, $.carry);
    }

    // ================================================================ governance

    /// @inheritdoc IGrowthPool
    function setHalvingEpochs(uint32 halvingEpochs) external onlyGovernance {
        _checkHalvingEpochs(halvingEpochs);
        GrowthPoolStorage storage $ = _getGrowthPoolStorage();
        uint256 old = $.config.halvingEpochs;
        Era storage last = $.eras[$.eras.length - 1];
        uint256 fromEpoch;
        uint256 e0;
        if (block.timestamp < $.config.genesis) {
            // Nothing has been emitted yet: the schedule is re-derived from the pool, E0 = cap / (2H).
            e0 = uint256($.cap) / (2 * uint256(halvingEpochs));
            last.e0 = uint96(e0);
            last.halvingEpochs = halvingEpochs;
        } else {
            fromEpoch = _currentEpoch($) + 1;
            if (last.start == fromEpoch) {
                e0 = last.e0;
                last.halvingEpochs = halvingEpochs;
            } else {
                // Keep the level the old schedule gives at `fromEpoch`; halve every `halvingEpochs` from there.
                e0 = _eraEmission(last, fromEpoch);
                $.eras.push(Era({start: uint64(fromEpoch), halvingEpochs: halvingEpochs, e0: uint96(e0)}));
            }
        }
        $.config.halvingEpochs = halvingEpochs;
        emit HalvingEpochsUpdated(old, halvingEpochs, fromEpoch, e0);
    }

    /// @inheritdoc IGrowthPool
    function setWinnersPerEpoch(uint32 winnersPerEpoch) external onlyGovernance {
        _checkWinnersPerEpoch(winnersPerEpoch);
        GrowthPoolStorage storage $ = _getGrowthPoolStorage();
        emit WinnersPerEpochUpdated($.config.winnersPerEpoch, winnersPerEpoch);
        $.config.winnersPerEpoch = winnersPerEpoch;
    }

    /// @inheritdoc IGrowthPool
    function setClaimWindow(uint64 claimWindow) external onlyGovernance {
        _checkClaimWindow(claimWindow);
        GrowthPoolStorage storage $ = _getGrowthPoolStorage();
        emit ClaimWindowUpdated($.config.claimWindow, claimWindow);
        $.config.claimWindow = claimWindow;
    }

    /// @inheritdoc IGrowthPool
    function setVrfConfig(VrfConfig calldata vrf) external onlyGovernance {
        _setVrfConfig(_getGrowthPoolStorage(), vrf);
    }

    /// @inheritdoc IGrowthPool
    function setChallengeWindow(uint64 challengeWindow) external onlyGovernance {
        _setChallengeWindow(_getGrowthPoolStorage(), challengeWindow);
    }

    /// @inheritdoc IGrowthPool
    function setSlashAmount(uint256 slashAmount) external onlyGovernance {
        _setSlashAmount(_getGrowthPoolStorage(), slashAmount);
    }

    // ================================================================ views

    /// @inheritdoc IGrowthPool
    function emission(uint256 epoch) external view returns (uint256) {
        return _emission(_getGrowthPoolStorage(), epoch);
    }

    /// @inheritdoc IGrowthPool
    function currentEpoch() external view returns (uint256) {
        return _currentEpoch(_getGrowthPoolStorage());
    }

    /// @inheritdoc IGrowthPool
    function nextEpoch() external view returns (uint256) {
        return _getGrowthPoolStorage().nextEpoch;
    }

    /// @inheritdoc IGrowthPool
    function epochEnd(uint256 epoch) external view returns (uint256) {
        return _epochEnd(_getGrowthPoolStorage(), epoch);
    }

    /// @inheritdoc IGrowthPool
    function epochInfo(uint256 epoch) external view returns (EpochInfo memory info) {
        GrowthPoolStorage storage $ = _getGrowthPoolStorage();
        EpochData storage ep = $.epochs[epoch];
        info.posted = epoch < $.nextEpoch;
        info.drawn = ep.claimDeadline != 0;
        info.swept = ep.swept;
        info.root = ep.root;
        info.n = ep.n;
        info.k = ep.k;
        info.budget = ep.budget;
        info.perWinner = ep.perWinner;
        info.requestId = ep.requestId;
        info.randomWord = ep.randomWord;
        info.postedAt = ep.postedAt;
        info.requestedAt = ep.requestedAt;
        info.claimWindow = ep.claimWindow;
        info.claimDeadline = ep.claimDeadline;
        info.claimedCount = _claimedCount(ep.claimedBits);
        info.status = ep.status;
        info.poster = ep.poster;
        info.challengeDeadline = ep.challengeDeadline;
        info.repostDeadline = ep.repostDeadline;
        info.requestCoordinator = ep.requestCoordinator;
    }

    /// @inheritdoc IGrowthPool
    function connectedSet(uint256 epoch) external view returns (bytes32 root, uint256 n, uint256 finalAt) {
        EpochData storage ep = _getGrowthPoolStorage().epochs[epoch];
        EpochStatus status = ep.status;
        // not posted or voided: nothing to read (a cohort's assignment asks about the next epoch every time)
        if (status != EpochStatus.Posted && status != EpochStatus.Settled) return (bytes32(0), 0, 0);
        root = ep.root;
        n = ep.n;
        // a Settled post with devices went through its whole challenge window; an empty one has a zero root
        if (root != bytes32(0)) finalAt = ep.challengeDeadline;
    }

    /// @inheritdoc IGrowthPool
    function winnerIndex(uint256 epoch, uint256 j) external view returns (uint256) {
        EpochData storage ep = _getGrowthPoolStorage().epochs[epoch];
        if (ep.claimDeadline == 0) revert GrowthPoolNotDrawn(epoch);
        if (j >= ep.k) revert GrowthPoolInvalidDraw(epoch, j);
        return _winner(ep.randomWord, j, ep.n);
    }

    /// @inheritdoc IGrowthPool
    function isClaimed(uint256 epoch, uint256 j) external view returns (bool) {
        return j < 64 && (_getGrowthPoolStorage().epochs[epoch].claimedBits >> j) & 1 == 1;
    }

    /// @inheritdoc IGrowthPool
    function totalEmitted() external view returns (uint256) {
        return _getGrowthPoolStorage().totalEmitted;
    }

    /// @inheritdoc IGrowthPool
    function totalClaimed() external view returns (uint256) {
        return _getGrowthPoolStorage().totalClaimed;
    }

    /// @inheritdoc IGrowthPool
    function totalSwept() external view returns (uint256) {
        return _getGrowthPoolStorage().totalSwept;
    }

    /// @inheritdoc IGrowthPool
    function remaining() external view returns (uint256) {
        GrowthPoolStorage storage $ = _getGrowthPoolStorage();
        return $.cap - $.totalEmitted;
    }

    /// @inheritdoc IGrowthPool
    function carry() external view returns (uint256) {
        return _getGrowthPoolStorage().carry;
    }

    /// @inheritdoc IGrowthPool
    function cap() external view returns (uint256) {
        return _getGrowthPoolStorage().cap;
    }

    /// @inheritdoc IGrowthPool
    function config() external view returns (Config memory) {
        return _getGrowthPoolStorage().config;
    }

    /// @inheritdoc IGrowthPool
    function vrfConfig() external view returns (VrfConfig memory) {
        return _getGrowthPoolStorage().vrf;
    }

    /// @inheritdoc IGrowthPool
    function eras() external view returns (Era[] memory) {
        return _getGrowthPoolStorage().eras;
    }

    /// @inheritdoc IGrowthPool
    function token() external view returns (address) {
        return address(_getGrowthPoolStorage().token);
    }

    /// @inheritdoc IGrowthPool
    function staking() external view returns (address) {
        return address(_getGrowthPoolStorage().staking);
    }

    /// @inheritdoc IGrowthPool
    function registry() external view returns (address) {
        return address(_getGrowthPoolStorage().registry);
    }

    /// @inheritdoc IGrowthPool
    function challengeConfig() external view returns (ChallengeConfig memory) {
        GrowthPoolStorage storage $ = _getGrowthPoolStorage();
        return ChallengeConfig({challengeWindow: $.challengeWindow, slashAmount: $.slashAmount});
    }

    // ================================================================ internals

    /// @dev The epoch's post, while it can be challenged.
    function _challengeable(
        GrowthPoolStorage storage $,
        uint256 epoch
    ) private view returns (EpochData storage ep) {
        ep = $.epochs[epoch];
        EpochStatus status = ep.status;
        if (status == EpochStatus.None) revert GrowthPoolNotPosted(epoch);
        if (status == EpochStatus.Voided) revert GrowthPoolPostVoided(epoch);
        uint256 deadline = ep.challengeDeadline;
        if (status != EpochStatus.Posted || block.timestamp > deadline) {
            revert GrowthPoolChallengeWindowClosed(epoch, deadline);
        }
    }

    /// @dev Checks that `leaf` is in the epoch's post; returns its hash.
    function _checkLeaf(
        EpochData storage ep,
        uint256 epoch,
        Leaf calldata leaf,
        bytes32[] calldata proof
    ) private view returns (bytes32 hash) {
        hash = _leafHash(leaf);
        if (!MerkleProof.verifyCalldata(proof, ep.root, hash)) {
            revert GrowthPoolInvalidProof(epoch, leaf.device, leaf.index);
        }
    }

    /// @dev Voids the post, slashes its poster and pays the challenger (never the poster itself).
    function _void(GrowthPoolStorage storage $, EpochData storage ep, uint256 epoch, Fault fault) private {
        address poster = ep.poster;
        uint256 repostDeadline = block.timestamp + $.challengeWindow;
        ep.status = EpochStatus.Voided;
        ep.root = bytes32(0);
        ep.n = 0;
        ep.challengeDeadline = 0;
        ep.repostDeadline = uint40(repostDeadline);
        address rewardTo = msg.sender == poster ? address(0) : msg.sender;
        uint256 slashed = $.staking.slash(poster, INodeStaking.Role.Distributor, $.slashAmount, rewardTo);
        emit PostChallenged(epoch, poster, msg.sender, fault, slashed, repostDeadline);
    }

    function _leafHash(Leaf calldata leaf) private pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(leaf.index, leaf.device, leaf.signature))));
    }

    /// @dev Sets the epoch's budget: its scheduled emission plus the rollover of earlier epochs, clamped to what
    ///      is left of the pool, split into k equal draws. Without devices (or when a draw would be worth
    ///      nothing) the whole amount rolls over; the division dust always rolls over.
    function _allocate(GrowthPoolStorage storage $, EpochData storage ep, uint256 epoch, uint256 n) private {
        uint256 owed = $.carry + _emission($, epoch);
        uint256 k;
        uint256 budget;
        uint256 perWinner;
        if (n != 0) {
            uint256 available = $.cap - $.totalEmitted;
            k = $.config.winnersPerEpoch;
            budget = owed < available ? owed : available;
            perWinner = budget / k;
        }
        if (perWinner == 0) {
            $.carry = uint128(owed);
            emit EpochAllocated(epoch, 0, 0, 0, owed);
            return;
        }
        uint256 allocated = perWinner * k;
        uint256 carry_ = budget - allocated;
        $.carry = uint128(carry_);
        $.totalEmitted += uint128(allocated);
        ep.perWinner = uint96(perWinner);
        ep.k = uint8(k);
        ep.budget = uint96(budget);
        ep.claimWindow = $.config.claimWindow;
        emit EpochAllocated(epoch, k, budget, perWinner, carry_);
    }

    function _requestDraw(
        GrowthPoolStorage storage $,
        EpochData storage ep,
        uint256 epoch
    ) private returns (uint256 requestId) {
        VrfConfig memory v = $.vrf;
        requestId = IVRFCoordinatorV2Plus(v.coordinator).requestRandomWords(
            VRFV2PlusClient.RandomWordsRequest({
                keyHash: v.keyHash,
                subId: v.subscriptionId,
                requestConfirmations: v.requestConfirmations,
                callbackGasLimit: v.callbackGasLimit,
                numWords: 1,
                extraArgs: VRFV2PlusClient._argsToBytes(VRFV2PlusClient.ExtraArgsV1({nativePayment: false}))
            })
        );
        $.requestEpoch[requestId] = epoch + 1;
        ep.requestId = requestId;
        ep.requestedAt = uint40(block.timestamp);
        ep.requestCoordinator = v.coordinator;
        emit DrawRequested(epoch, requestId);
    }

    function _setVrfConfig(GrowthPoolStorage storage $, VrfConfig calldata vrf) private {
        if (vrf.coordinator == address(0)) revert GrowthPoolZeroAddress();
        if (vrf.callbackGasLimit < MIN_CALLBACK_GAS_LIMIT || vrf.callbackGasLimit > MAX_CALLBACK_GAS_LIMIT) {
            revert GrowthPoolInvalidCallbackGasLimit(vrf.callbackGasLimit);
        }
        $.vrf = vrf;
        emit VrfConfigUpdated(
            vrf.coordinator,
            vrf.keyHash,
            vrf.subscriptionId,
            vrf.requestConfirmations,
            vrf.callbackGasLimit
        );
    }

    /// @dev A posted epoch that has a draw (devices and a non-zero per-winner amount).
    function _drawableEpoch(
        GrowthPoolStorage storage $,
        uint256 epoch
    ) private view returns (EpochData storage ep) {
        if (epoch >= $.nextEpoch) revert GrowthPoolNotPosted(epoch);
        ep = $.epochs[epoch];
        if (ep.k == 0) revert GrowthPoolNothingToDraw(epoch);
    }

    function _emission(GrowthPoolStorage storage $, uint256 epoch) private view returns (uint256) {
        uint256 i = $.eras.length;
        while (i > 1 && $.eras[i - 1].start > epoch) --i;
        return _eraEmission($.eras[i - 1], epoch);
    }

    function _eraEmission(Era storage era, uint256 epoch) private view returns (uint256) {
        // A shift of 256 or more yields zero.
        return uint256(era.e0) >> ((epoch - era.start) / era.halvingEpochs);
    }

    function _currentEpoch(GrowthPoolStorage storage $) private view returns (uint256) {
        uint256 genesis = $.config.genesis;
        if (block.timestamp < genesis) return 0;
        return (block.timestamp - genesis) / $.config.epochLength;
    }

    function _epochEnd(GrowthPoolStorage storage $, uint256 epoch) private view returns (uint256) {
        return uint256($.config.genesis) + (epoch + 1) * $.config.epochLength;
    }

    function _winner(uint256 word, uint256 j, uint256 n) private pure returns (uint256) {
        return uint256(keccak256(abi.encode(word, j))) % n;
    }

    function _claimedCount(uint256 bits) private pure returns (uint256 count) {
        while (bits != 0) {
            bits &= bits - 1;
            ++count;
        }
    }

    function _checkHalvingEpochs(uint256 halvingEpochs) private pure {
        if (halvingEpochs == 0 || halvingEpochs > MAX_HALVING_EPOCHS) {
            revert GrowthPoolInvalidHalvingEpochs(halvingEpochs);
        }
    }

    function _checkWinnersPerEpoch(uint256 winnersPerEpoch) private pure {
        if (winnersPerEpoch == 0 || winnersPerEpoch > MAX_WINNERS_PER_EPOCH) {
            revert GrowthPoolInvalidWinnersPerEpoch(winnersPerEpoch);
        }
    }

    function _setChallengeWindow(GrowthPoolStorage storage $, uint64 challengeWindow) private {
        // The poster's stake must still be there when the window closes: shorter than the unbonding delay.
        if (
            challengeWindow < MIN_CHALLENGE_WINDOW ||
            challengeWindow > MAX_CHALLENGE_WINDOW ||
            challengeWindow >= $.staking.unbondingDelay()
        ) revert GrowthPoolInvalidChallengeWindow(challengeWindow);
        emit ChallengeWindowUpdated($.challengeWindow, challengeWindow);
        $.challengeWindow = challengeWindow;
    }

    function _setSlashAmount(GrowthPoolStorage storage $, uint256 slashAmount) private {
        if (slashAmount == 0 || slashAmount > type(uint96).max)
            revert GrowthPoolInvalidSlashAmount(slashAmount);
        emit SlashAmountUpdated($.slashAmount, slashAmount);
        $.slashAmount = uint96(slashAmount);
    }

    function _checkClaimWindow(uint256 claimWindow) private pure {
        if (claimWindow < MIN_CLAIM_WINDOW || claimWindow > MAX_CLAIM_WINDOW) {
            revert GrowthPoolInvalidClaimWindow(claimWindow);
        }
    }

    function _getGrowthPoolStorage() private pure returns (GrowthPoolStorage storage $) {
        assembly {
            $.slot := GROWTH_POOL_STORAGE_LOCATION
        }
    }
}
