// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {CommonBase} from "forge-std/Base.sol";
import {StdAssertions} from "forge-std/StdAssertions.sol";
import {StdCheats} from "forge-std/StdCheats.sol";
import {StdUtils} from "forge-std/StdUtils.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {MerkleHelper} from "../../utils/MerkleHelper.sol";
import {IGrowthPoolTestable, IVRFCoordinatorMockLike} from "../../utils/GrowthPoolBase.sol";
import {IGrowthPool} from "../../../contracts/interfaces/IGrowthPool.sol";
import {INodeStaking} from "../../../contracts/interfaces/INodeStaking.sol";
import {IDeviceRegistry} from "../../../contracts/interfaces/IDeviceRegistry.sol";

/// @title GrowthPoolHandler
/// @notice Drives GrowthPool through honest and faulty posts (two distributors), challenges of every kind (correct
///         and baseless, by outsiders and by the poster), reposts, draw requests, VRF fulfilments, claims from several
///         senders, invalid and repeated claims, sweeps, time jumps, parameter changes and one mid-run upgrade.
///         Every input is bounded and no call reverts; ghost variables mirror the pool's accounting.
contract GrowthPoolHandler is CommonBase, StdCheats, StdUtils, StdAssertions {
    error GrowthPoolHandlerUnknownRequest(uint256 requestId);

    using MerkleHelper for bytes32[];

    struct Ctx {
        IGrowthPoolTestable pool;
        IERC20 token;
        IVRFCoordinatorMockLike coordinator;
        INodeStaking staking;
        IDeviceRegistry registry;
        address governance;
    }

    IGrowthPoolTestable internal immutable pool;
    IERC20 internal immutable token;
    IVRFCoordinatorMockLike internal immutable coordinator;
    INodeStaking internal immutable staking;
    IDeviceRegistry internal immutable registry;
    address internal immutable governance;
    address[] internal distributors;
    address[] internal senders;
    address[] internal devices;
    mapping(address device => uint256 key) internal keyOf;

    uint256[] internal pending;
    uint256[] internal drawnEpochs;
    /// @dev The live post of each epoch: its leaves, tree and fault (0 = honest).
    mapping(uint256 epoch => IGrowthPool.Leaf[]) internal leavesOf;
    mapping(uint256 epoch => bytes32[]) internal treeOf;
    mapping(uint256 epoch => uint256) internal faultOf;

    uint256 public ghostAllocated;
    uint256 public ghostSwept;
    uint256 public ghostClaimed;
    uint256 public ghostSlashed;
    uint256 public claimCount;
    uint256 public challengeCount;
    bool public doubleClaimSucceeded;
    bool public invalidClaimSucceeded;
    bool public baselessChallengeSucceeded;
    bool public faultyPostSurvivedChallenge;
    bool public slashExceededStake;
    bool public posterRewarded;
    bool public upgraded;
    bool public upgradeChangedState;
    mapping(bytes32 key => bool) internal claimedDraw;

    constructor(
        Ctx memory c,
        address[] memory distributors_,
        address[] memory devices_,
        uint256[] memory keys
    ) {
        pool = c.pool;
        token = c.token;
        coordinator = c.coordinator;
        staking = c.staking;
        registry = c.registry;
        governance = c.governance;
        distributors = distributors_;
        devices = devices_;
        for (uint256 i = 0; i < keys.length; ++i) keyOf[devices_[i]] = keys[i];
        for (uint256 i = 0; i < 4; ++i) senders.push(makeAddr(string.concat("sender", vm.toString(i))));
    }

    // ---------------------------------------------------------------- actions

    /// Posts the next epoch (or reposts a voided one): `mode` 0 honest, 1 unregistered device, 2 bad signature,
    /// 3 a device twice, 4 an index ≥ n.
    function post(uint256 nSeed, uint256 saltSeed, uint256 actorSeed, uint256 mode) external {
        address poster = _activeDistributor(actorSeed);
        uint256 epoch = pool.nextEpoch();
        uint256 end = pool.epochEnd(epoch);
        if (block.timestamp < end) vm.warp(end);
        uint256 n = bound(nSeed, 0, devices.length);
        mode = n == 0 ? 0 : mode % 5;
        if (mode == 3 && n < 2) mode = 0;
        bytes32 root = n == 0 ? bytes32(0) : _build(epoch, n, saltSeed, mode);
        vm.prank(poster);
        pool.postEpoch(epoch, root, n, "cid");
        _afterPost(epoch);
    }

    /// Reposts a voided epoch honestly while its repost window is open.
    function repost(uint256 epochSeed, uint256 nSeed, uint256 saltSeed, uint256 actorSeed) external {
        uint256 next = pool.nextEpoch();
        if (next == 0) return;
        uint256 epoch = epochSeed % next;
        IGrowthPool.EpochInfo memory info = pool.epochInfo(epoch);
        if (info.status != IGrowthPool.EpochStatus.Voided || block.timestamp > info.repostDeadline) return;
        address poster = _activeDistributor(actorSeed);
        uint256 n = bound(nSeed, 1, devices.length);
        bytes32 root = _build(epoch, n, saltSeed, 0);
        vm.prank(poster);
        pool.postEpoch(epoch, root, n, "cid-repost");
        _afterPost(epoch);
    }

    /// Proves the recorded fault of a challengeable post (or, for an honest post, tries a baseless challenge).
    function challenge(uint256 epochSeed, uint256 senderSeed, uint256 kindSeed) external {
        uint256 next = pool.nextEpoch();
        if (next == 0) return;
        uint256 epoch = epochSeed % next;
        IGrowthPool.EpochInfo memory info = pool.epochInfo(epoch);
        if (info.status != IGrowthPool.EpochStatus.Posted || block.timestamp > info.challengeDeadline) return;
        // sometimes the poster challenges its own post
        address sender = senderSeed % 5 == 4 ? info.poster : senders[senderSeed % senders.length];
        uint256 fault = faultOf[epoch];
        IGrowthPool.Leaf[] storage leaves = leavesOf[epoch];
        bytes32[] storage tree = treeOf[epoch];
        if (fault == 0) {
            uint256 i = kindSeed % leaves.length;
            IGrowthPool.Leaf memory leaf = leaves[i];
            bytes32[] memory proof = tree.heartbeatProof(leaf.index, leaf.device, leaf.signature);
            vm.startPrank(sender);
            try pool.challengeUnregistered(epoch, leaf, proof) {
                baselessChallengeSucceeded = true;
            } catch {}
            try pool.challengeSignature(epoch, leaf, proof) {
                baselessChallengeSucceeded = true;
            } catch {}
            try pool.challengeIndex(epoch, leaf, proof) {
                baselessChallengeSucceeded = true;
            } catch {}
            vm.stopPrank();
            return;
        }
        INodeStaking.StakeInfo memory s = staking.stakeInfo(info.poster, INodeStaking.Role.Distributor);
        uint256 posterBalance = token.balanceOf(info.poster);
        uint256 stakeBefore = s.bonded + s.unbonding;
        IGrowthPool.Leaf memory bad = leaves[leaves.length - 1];
        bytes32[] memory badProof = tree.heartbeatProof(bad.index, bad.device, bad.signature);
        vm.startPrank(sender);
        if (fault == 1) pool.challengeUnregistered(epoch, bad, badProof);
        else if (fault == 2) pool.challengeSignature(epoch, bad, badProof);
        else if (fault == 4) pool.challengeIndex(epoch, bad, badProof);
        else {
            IGrowthPool.Leaf memory first = leaves[0];
            pool.challengeDuplicate(
                epoch,
                first,
                tree.heartbeatProof(first.index, first.device, first.signature),
                bad,
                badProof
            );
        }
        vm.stopPrank();
        ++challengeCount;
        if (pool.epochInfo(epoch).status != IGrowthPool.EpochStatus.Voided)
            faultyPostSurvivedChallenge = true;
        s = staking.stakeInfo(info.poster, INodeStaking.Role.Distributor);
        uint256 slashed = stakeBefore - (s.bonded + s.unbonding);
        if (slashed > stakeBefore || slashed > pool.challengeConfig().slashAmount) slashExceededStake = true;
        ghostSlashed += slashed;
        if (token.balanceOf(info.poster) > posterBalance) posterRewarded = true;
    }

    /// Requests the draw of an epoch whose window closed (or rolls a voided one over).
    function requestDraw(uint256 epochSeed) external {
        uint256 next = pool.nextEpoch();
        if (next == 0) return;
        uint256 epoch = epochSeed % next;
        IGrowthPool.EpochInfo memory info = pool.epochInfo(epoch);
        if (info.status == IGrowthPool.EpochStatus.Posted) {
            if (block.timestamp <= info.challengeDeadline) return;
        } else if (info.status == IGrowthPool.EpochStatus.Voided) {
            if (block.timestamp <= info.repostDeadline) return;
        } else {
            return;
        }
        uint256 requestId = pool.requestDraw(epoch);
        info = pool.epochInfo(epoch);
        ghostAllocated += info.perWinner * info.k;
        if (requestId != 0) pending.push(requestId);
    }

    function fulfil(uint256 pickSeed, uint256 word) external {
        if (pending.length == 0) return;
        uint256 at = pickSeed % pending.length;
        uint256 requestId = pending[at];
        pending[at] = pending[pending.length - 1];
        pending.pop();
        uint256[] memory words = new uint256[](1);
        words[0] = word;
        coordinator.fulfillRandomWordsWithOverride(requestId, address(pool), words);
        drawnEpochs.push(_epochOf(requestId));
    }

    function claim(uint256 epochSeed, uint256 jSeed, uint256 senderSeed) external {
        if (drawnEpochs.length == 0) return;
        uint256 epoch = drawnEpochs[epochSeed % drawnEpochs.length];
        IGrowthPool.EpochInfo memory info = pool.epochInfo(epoch);
        if (block.timestamp > info.claimDeadline) return;
        uint256 j = jSeed % info.k;
        if (pool.isClaimed(epoch, j)) return;
        IGrowthPool.Leaf memory leaf = _leafAt(epoch, pool.winnerIndex(epoch, j));
        if (leaf.device == address(0)) return; // the winning index has no leaf (an unchallenged faulty post)
        bytes32[] memory proof = treeOf[epoch].heartbeatProof(leaf.index, leaf.device, leaf.signature);
        uint256 before = token.balanceOf(leaf.device);
        vm.prank(senders[senderSeed % senders.length]);
        pool.claim(epoch, j, leaf, proof);
        assertEq(token.balanceOf(leaf.device) - before, info.perWinner, "claim paid");
        bytes32 key = keccak256(abi.encode(epoch, j));
        if (claimedDraw[key]) doubleClaimSucceeded = true;
        claimedDraw[key] = true;
        ghostClaimed += info.perWinner;
        ++claimCount;
    }

    /// Replays a claimed draw, or a draw with a loser's leaf or a leaf not in the set: each must fail.
    function claimInvalid(uint256 epochSeed, uint256 jSeed, uint256 mode, uint256 senderSeed) external {
        if (drawnEpochs.length == 0) return;
        uint256 epoch = drawnEpochs[epochSeed % drawnEpochs.length];
        IGrowthPool.EpochInfo memory info = pool.epochInfo(epoch);
        uint256 j = jSeed % info.k;
        uint256 index = pool.winnerIndex(epoch, j);
        IGrowthPool.Leaf memory leaf = _leafAt(epoch, index);
        if (leaf.device == address(0)) return;
        mode = mode % 3;
        bool shouldFail;
        if (mode == 0) {
            shouldFail = pool.isClaimed(epoch, j) || block.timestamp > info.claimDeadline;
        } else if (mode == 1) {
            IGrowthPool.Leaf memory other = _leafAt(epoch, (index + 1) % info.n);
            shouldFail = other.device != address(0) && other.index != index;
            leaf = other;
        } else {
            leaf.device = senders[senderSeed % senders.length]; // not in the list
            shouldFail = true;
        }
        if (!shouldFail) return;
        IGrowthPool.Leaf memory real = _leafAt(epoch, mode == 1 ? leaf.index : index);
        bytes32[] memory proof = treeOf[epoch].heartbeatProof(real.index, real.device, real.signature);
        vm.prank(senders[senderSeed % senders.length]);
        try pool.claim(epoch, j, leaf, proof) {
            if (mode == 0) doubleClaimSucceeded = true;
            else invalidClaimSucceeded = true;
        } catch {}
    }

    function sweep(uint256 epochSeed) external {
        if (drawnEpochs.length == 0) return;
        uint256 epoch = drawnEpochs[epochSeed % drawnEpochs.length];
        IGrowthPool.EpochInfo memory info = pool.epochInfo(epoch);
        if (block.timestamp <= info.claimDeadline || info.swept) return;
        uint256 amount = pool.sweep(epoch);
        assertEq(amount, info.perWinner * (info.k - info.claimedCount), "sweep amount");
        ghostSwept += amount;
    }

    function warp(uint256 secs) external {
        vm.warp(block.timestamp + bound(secs, 1 hours, 10 days));
    }

    function setParams(uint256 h, uint256 k, uint256 window) external {
        vm.startPrank(governance);
        pool.setHalvingEpochs(uint32(bound(h, 1, 8)));
        pool.setWinnersPerEpoch(uint32(bound(k, 1, 8)));
        pool.setClaimWindow(uint64(bound(window, 1 hours, 10 days)));
        pool.setChallengeWindow(uint64(bound(window, 10 minutes, 3 days)));
        vm.stopPrank();
    }

    function upgrade() external {
        if (upgraded) return;
        bytes32 before = _snapshot();
        address v2 = deployCode("test/mocks/GrowthPoolV2.sol:GrowthPoolV2");
        vm.prank(governance);
        pool.upgradeToAndCall(v2, abi.encodeCall(IGrowthPoolTestable.initializeV2, ()));
        upgraded = true;
        if (_snapshot() != before || pool.version() != 2) upgradeChangedState = true;
    }

    // ---------------------------------------------------------------- helpers

    /// @dev An active distributor; tops a slashed one up from this handler's balance.
    function _activeDistributor(uint256 seed) private returns (address d) {
        d = distributors[seed % distributors.length];
        if (staking.isActive(d, INodeStaking.Role.Distributor)) return d;
        uint256 minStake = staking.minStake(INodeStaking.Role.Distributor);
        uint256 bonded = staking.stakeOf(d, INodeStaking.Role.Distributor);
        uint256 top = minStake - bonded;
        token.transfer(d, top);
        vm.startPrank(d);
        token.approve(address(staking), top);
        staking.stake(INodeStaking.Role.Distributor, top);
        vm.stopPrank();
    }

    /// @dev Builds and records the leaves of a post with `n` indices (plus the fault of `mode`); returns the root.
    function _build(uint256 epoch, uint256 n, uint256 salt, uint256 mode) private returns (bytes32) {
        delete leavesOf[epoch];
        uint256 count = mode == 4 ? n + 1 : n;
        uint256[] memory idx = new uint256[](count);
        address[] memory ds = new address[](count);
        bytes[] memory sigs = new bytes[](count);
        for (uint256 i = 0; i < n; ++i) {
            address d = devices[((salt % devices.length) + i) % devices.length];
            idx[i] = i;
            ds[i] = d;
            sigs[i] = _sign(keyOf[d], d, epoch);
        }
        uint256 last = count - 1;
        if (mode == 1) {
            uint256 key = (uint256(keccak256(abi.encode("ghost", epoch, salt))) % 1e70) + 1;
            ds[last] = vm.addr(key);
            sigs[last] = _sign(key, ds[last], epoch);
        } else if (mode == 2) {
            sigs[last] = _sign(keyOf[ds[last]], ds[last], epoch + 1);
        } else if (mode == 3) {
            ds[last] = ds[0];
            sigs[last] = sigs[0];
        } else if (mode == 4) {
            idx[last] = n;
            ds[last] = ds[0];
            sigs[last] = sigs[0];
        }
        for (uint256 i = 0; i < count; ++i) leavesOf[epoch].push(IGrowthPool.Leaf(idx[i], ds[i], sigs[i]));
        bytes32[] memory tree = MerkleHelper.buildHeartbeats(idx, ds, sigs);
        treeOf[epoch] = tree;
        faultOf[epoch] = mode;
        return tree.root();
    }

    function _afterPost(uint256 epoch) private {
        IGrowthPool.EpochInfo memory info = pool.epochInfo(epoch);
        ghostAllocated += info.perWinner * info.k; // n = 0 settles at once (nothing allocated)
    }

    function _sign(uint256 key, address device, uint256 epoch) private view returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, registry.heartbeatDigest(device, uint64(epoch)));
        return abi.encodePacked(r, s, v);
    }

    /// @dev The recorded leaf with `index` in the epoch's live post (zero device when there is none).
    function _leafAt(uint256 epoch, uint256 index) private view returns (IGrowthPool.Leaf memory leaf) {
        IGrowthPool.Leaf[] storage leaves = leavesOf[epoch];
        for (uint256 i = 0; i < leaves.length; ++i) if (leaves[i].index == index) return leaves[i];
    }

    function _epochOf(uint256 requestId) private view returns (uint256 epoch) {
        epoch = pool.nextEpoch();
        while (epoch > 0) {
            --epoch;
            if (pool.epochInfo(epoch).requestId == requestId) return epoch;
        }
        revert GrowthPoolHandlerUnknownRequest(requestId);
    }

    function _snapshot() private view returns (bytes32) {
        uint256 next = pool.nextEpoch();
        bytes32 h = keccak256(
            abi.encode(
                pool.totalEmitted(),
                pool.totalClaimed(),
                pool.totalSwept(),
                pool.carry(),
                next,
                pool.cap(),
                pool.config(),
                pool.vrfConfig(),
                pool.challengeConfig(),
                pool.governance()
            )
        );
        for (uint256 e = 0; e < next; ++e) h = keccak256(abi.encode(h, pool.epochInfo(e)));
        return h;
    }

    function drawnCount() external view returns (uint256) {
        return drawnEpochs.length;
    }
}
