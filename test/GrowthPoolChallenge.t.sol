// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {GrowthPoolBase} from "./utils/GrowthPoolBase.sol";
import {MerkleHelper} from "./utils/MerkleHelper.sol";
import {IGrowthPool} from "../contracts/interfaces/IGrowthPool.sol";
import {INodeStaking} from "../contracts/interfaces/INodeStaking.sol";

/// @notice GrowthPool fraud proofs (PROTOCOL.md §7.2): every fault kind slashes, pays and voids; every bad
///         challenge reverts with a named error and changes nothing; reposts and rollover of voided epochs.
contract GrowthPoolChallengeTest is GrowthPoolBase {
    using MerkleHelper for bytes32[];

    uint256 internal constant CHALLENGER_REWARD = (SLASH * CHALLENGER_SHARE_BPS) / BPS;

    address[] internal honest;

    function setUp() public override {
        super.setUp();
        honest = _registeredDevices(4, 1);
    }

    // ---------------------------------------------------------------- helpers

    /// @dev Posts the leaves as `distributor` for `epoch`, with count `n`; returns the tree.
    function _postLeaves(
        uint256 epoch,
        IGrowthPool.Leaf[] memory leaves,
        uint256 n
    ) internal returns (bytes32[] memory tree) {
        uint256[] memory idx = new uint256[](leaves.length);
        address[] memory ds = new address[](leaves.length);
        bytes[] memory sigs = new bytes[](leaves.length);
        for (uint256 i = 0; i < leaves.length; ++i) {
            idx[i] = leaves[i].index;
            ds[i] = leaves[i].device;
            sigs[i] = leaves[i].signature;
        }
        tree = MerkleHelper.buildHeartbeats(idx, ds, sigs);
        _warpToEnd(epoch);
        vm.prank(distributor);
        pool.postEpoch(epoch, tree.root(), n, "bafy-faulty");
    }

    /// @dev The honest leaves of epoch 0 with `bad` as an extra leaf at the end (n counts it).
    function _withBad(IGrowthPool.Leaf memory bad) internal view returns (IGrowthPool.Leaf[] memory leaves) {
        leaves = new IGrowthPool.Leaf[](honest.length + 1);
        for (uint256 i = 0; i < honest.length; ++i) leaves[i] = _leaf(0, honest, i);
        leaves[honest.length] = bad;
    }

    function _assertVoided(uint256 epoch, uint256 stakeBefore, uint256 challengerBefore) internal view {
        IGrowthPool.EpochInfo memory info = pool.epochInfo(epoch);
        assertEq(uint8(info.status), uint8(IGrowthPool.EpochStatus.Voided));
        assertEq(info.root, bytes32(0));
        assertEq(info.n, 0);
        assertEq(info.repostDeadline, block.timestamp + CHALLENGE_WINDOW);
        assertEq(stakeBefore - staking.stakeOf(distributor, INodeStaking.Role.Distributor), SLASH);
        assertEq(token.balanceOf(challenger) - challengerBefore, CHALLENGER_REWARD);
        assertEq(pool.totalEmitted(), 0);
        assertEq(token.balanceOf(address(pool)), POOL_CAP);
    }

    function _expectUnchanged(uint256 epoch, bytes32 root, uint256 stakeBefore) internal view {
        IGrowthPool.EpochInfo memory info = pool.epochInfo(epoch);
        assertEq(uint8(info.status), uint8(IGrowthPool.EpochStatus.Posted));
        assertEq(info.root, root);
        assertEq(staking.stakeOf(distributor, INodeStaking.Role.Distributor), stakeBefore);
        assertEq(token.balanceOf(challenger), 0);
    }

    // ---------------------------------------------------------------- unregistered device

    function test_challengeUnregistered_slashesPaysAndVoids() public {
        address[] memory ghost = _devices(1, 99); // never registered
        IGrowthPool.Leaf memory bad = IGrowthPool.Leaf(4, ghost[0], _heartbeat(ghost[0], 0));
        bytes32[] memory tree = _postLeaves(0, _withBad(bad), 5);
        uint256 stakeBefore = staking.stakeOf(distributor, INodeStaking.Role.Distributor);
        vm.expectEmit(address(pool));
        emit IGrowthPool.PostChallenged(
            0,
            distributor,
            challenger,
            IGrowthPool.Fault.UnregisteredDevice,
            SLASH,
            block.timestamp + CHALLENGE_WINDOW
        );
        vm.prank(challenger);
        pool.challengeUnregistered(0, bad, _proof(tree, bad));
        _assertVoided(0, stakeBefore, 0);
    }

    function test_challengeUnregistered_deviceThatLeftAfterThePostIsNoFault() public {
        bytes32[] memory tree = _postOnly(0, honest);
        IGrowthPool.Leaf memory leaf = _leaf(0, honest, 2);
        vm.warp(block.timestamp + 1);
        vm.prank(honest[2]);
        registry.deregister(); // the device tries to frame the operator
        uint256 stakeBefore = staking.stakeOf(distributor, INodeStaking.Role.Distributor);
        bytes32[] memory proof = _proof(tree, leaf);
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolNoFault.selector, 0));
        vm.prank(challenger);
        pool.challengeUnregistered(0, leaf, proof);
        // a registered device is no fault either
        leaf = _leaf(0, honest, 1);
        proof = _proof(tree, leaf);
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolNoFault.selector, 0));
        vm.prank(challenger);
        pool.challengeUnregistered(0, leaf, proof);
        _expectUnchanged(0, tree.root(), stakeBefore);
    }

    // ---------------------------------------------------------------- signature

    function test_challengeSignature_everyBadSignatureIsAFault() public {
        bytes[4] memory bads = [
            _heartbeat(honest[0], 1), // another epoch's heartbeat
            _heartbeat(honest[1], 0), // another device's heartbeat
            bytes(hex"0102030405"), // not a signature
            new bytes(65) // zeros
        ];
        for (uint256 b = 0; b < bads.length; ++b) {
            uint256 epoch = b;
            IGrowthPool.Leaf[] memory leaves = new IGrowthPool.Leaf[](honest.length);
            for (uint256 i = 0; i < honest.length; ++i) leaves[i] = _leaf(epoch, honest, i);
            leaves[0].signature = bads[b];
            if (b == 1) leaves[0].signature = _heartbeat(honest[1], epoch);
            bytes32[] memory tree = _postLeaves(epoch, leaves, honest.length);
            uint256 stakeBefore = staking.stakeOf(distributor, INodeStaking.Role.Distributor);
            uint256 rewardBefore = token.balanceOf(challenger);
            vm.prank(challenger);
            pool.challengeSignature(epoch, leaves[0], _proof(tree, leaves[0]));
            assertEq(uint8(pool.epochInfo(epoch).status), uint8(IGrowthPool.EpochStatus.Voided));
            assertEq(stakeBefore - staking.stakeOf(distributor, INodeStaking.Role.Distributor), SLASH);
            assertEq(token.balanceOf(challenger) - rewardBefore, CHALLENGER_REWARD);
            // keep the distributor above the minimum for the next round
            _stakeAs(distributor, INodeStaking.Role.Distributor, SLASH);
        }
    }

    function test_challengeSignature_validHeartbeatIsNoFault() public {
        bytes32[] memory tree = _postOnly(0, honest);
        uint256 stakeBefore = staking.stakeOf(distributor, INodeStaking.Role.Distributor);
        IGrowthPool.Leaf memory leaf = _leaf(0, honest, 3);
        bytes32[] memory proof = _proof(tree, leaf);
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolNoFault.selector, 0));
        vm.prank(challenger);
        pool.challengeSignature(0, leaf, proof);
        _expectUnchanged(0, tree.root(), stakeBefore);
    }

    // ---------------------------------------------------------------- index

    function test_challengeIndex_indexNotBelowN() public {
        // four honest leaves at 0..3 and the attacker's own device at index 4, but n = 4
        address[] memory own = _registeredDevices(1, 50);
        IGrowthPool.Leaf memory bad = IGrowthPool.Leaf(4, own[0], _heartbeat(own[0], 0));
        bytes32[] memory tree = _postLeaves(0, _withBad(bad), 4);
        uint256 stakeBefore = staking.stakeOf(distributor, INodeStaking.Role.Distributor);
        IGrowthPool.Leaf memory ok = _leaf(0, honest, 3);
        bytes32[] memory okProof = _proof(tree, ok);
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolNoFault.selector, 0));
        vm.prank(challenger);
        pool.challengeIndex(0, ok, okProof);
        vm.prank(challenger);
        pool.challengeIndex(0, bad, _proof(tree, bad));
        _assertVoided(0, stakeBefore, 0);
    }

    // ---------------------------------------------------------------- duplicates

    function test_challengeDuplicate_sameDeviceTwice() public {
        IGrowthPool.Leaf memory again = IGrowthPool.Leaf(4, honest[1], _heartbeat(honest[1], 0));
        bytes32[] memory tree = _postLeaves(0, _withBad(again), 5);
        uint256 stakeBefore = staking.stakeOf(distributor, INodeStaking.Role.Distributor);
        IGrowthPool.Leaf memory first = _leaf(0, honest, 1);
        IGrowthPool.Leaf memory other = _leaf(0, honest, 2);
        bytes32[] memory pFirst = _proof(tree, first);
        bytes32[] memory pOther = _proof(tree, other);
        // two different devices, or one leaf twice: no fault
        vm.startPrank(challenger);
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolNoFault.selector, 0));
        pool.challengeDuplicate(0, first, pFirst, other, pOther);
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolNoFault.selector, 0));
        pool.challengeDuplicate(0, first, pFirst, first, pFirst);
        pool.challengeDuplicate(0, first, pFirst, again, _proof(tree, again));
        vm.stopPrank();
        _assertVoided(0, stakeBefore, 0);
    }

    function test_challengeDuplicate_twoLeavesAtOneIndex() public {
        address[] memory own = _registeredDevices(1, 51);
        IGrowthPool.Leaf memory clash = IGrowthPool.Leaf(2, own[0], _heartbeat(own[0], 0));
        bytes32[] memory tree = _postLeaves(0, _withBad(clash), 4);
        uint256 stakeBefore = staking.stakeOf(distributor, INodeStaking.Role.Distributor);
        IGrowthPool.Leaf memory honest2 = _leaf(0, honest, 2);
        vm.prank(challenger);
        pool.challengeDuplicate(0, honest2, _proof(tree, honest2), clash, _proof(tree, clash));
        _assertVoided(0, stakeBefore, 0);
    }

    // ---------------------------------------------------------------- bad challenges change nothing

    function test_challenge_badInputsRevertWithNamedErrors() public {
        address[] memory ghost = _devices(1, 98);
        IGrowthPool.Leaf memory bad = IGrowthPool.Leaf(4, ghost[0], _heartbeat(ghost[0], 0));
        bytes32[] memory proof = new bytes32[](0);
        // not posted
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolNotPosted.selector, 0));
        pool.challengeUnregistered(0, bad, proof);
        bytes32[] memory tree = _postLeaves(0, _withBad(bad), 5);
        proof = _proof(tree, bad);
        uint256 stakeBefore = staking.stakeOf(distributor, INodeStaking.Role.Distributor);
        vm.startPrank(challenger);
        // a leaf that is not in the post (another index, another epoch's tree)
        IGrowthPool.Leaf memory moved = IGrowthPool.Leaf(3, ghost[0], bad.signature);
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolInvalidProof.selector, 0, ghost[0], 3));
        pool.challengeUnregistered(0, moved, proof);
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolNotPosted.selector, 1));
        pool.challengeUnregistered(1, bad, proof);
        // after the window
        uint256 deadline = pool.epochInfo(0).challengeDeadline;
        vm.warp(deadline + 1);
        vm.expectRevert(
            abi.encodeWithSelector(IGrowthPool.GrowthPoolChallengeWindowClosed.selector, 0, deadline)
        );
        pool.challengeUnregistered(0, bad, proof);
        vm.stopPrank();
        _expectUnchanged(0, tree.root(), stakeBefore);
        // once drawn it stays closed
        _requestDraw(0);
        vm.expectRevert(
            abi.encodeWithSelector(IGrowthPool.GrowthPoolChallengeWindowClosed.selector, 0, deadline)
        );
        vm.prank(challenger);
        pool.challengeIndex(0, bad, proof);
        // an empty post has nothing to challenge
        _postOnly(1, new address[](0));
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolChallengeWindowClosed.selector, 1, 0));
        vm.prank(challenger);
        pool.challengeIndex(1, bad, proof);
    }

    function test_challenge_twiceRevertsAndSlashesOnce() public {
        address[] memory ghost = _devices(1, 97);
        IGrowthPool.Leaf memory bad = IGrowthPool.Leaf(4, ghost[0], _heartbeat(ghost[0], 0));
        bytes32[] memory tree = _postLeaves(0, _withBad(bad), 5);
        bytes32[] memory proof = _proof(tree, bad);
        uint256 stakeBefore = staking.stakeOf(distributor, INodeStaking.Role.Distributor);
        vm.prank(challenger);
        pool.challengeUnregistered(0, bad, proof);
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolPostVoided.selector, 0));
        vm.prank(alice);
        pool.challengeSignature(0, bad, proof);
        _assertVoided(0, stakeBefore, 0);
        assertEq(token.balanceOf(alice), GENESIS_VOTER);
    }

    function test_challenge_byThePosterPaysNoReward() public {
        address[] memory ghost = _devices(1, 96);
        IGrowthPool.Leaf memory bad = IGrowthPool.Leaf(4, ghost[0], _heartbeat(ghost[0], 0));
        bytes32[] memory tree = _postLeaves(0, _withBad(bad), 5);
        uint256 balanceBefore = token.balanceOf(distributor);
        uint256 stakeBefore = staking.stakeOf(distributor, INodeStaking.Role.Distributor);
        vm.expectEmit(address(staking));
        emit INodeStaking.Slashed(
            distributor,
            INodeStaking.Role.Distributor,
            address(pool),
            SLASH,
            address(0),
            0,
            SLASH,
            true
        );
        vm.prank(distributor);
        pool.challengeUnregistered(0, bad, _proof(tree, bad));
        assertEq(token.balanceOf(distributor), balanceBefore);
        assertEq(stakeBefore - staking.stakeOf(distributor, INodeStaking.Role.Distributor), SLASH);
    }

    // ---------------------------------------------------------------- repost and rollover

    function test_repost_anotherDistributorReplacesAVoidedPost() public {
        address[] memory ghost = _devices(1, 95);
        IGrowthPool.Leaf memory bad = IGrowthPool.Leaf(4, ghost[0], _heartbeat(ghost[0], 0));
        bytes32[] memory tree = _postLeaves(0, _withBad(bad), 5);
        // an unchallenged post cannot be replaced
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolAlreadyPosted.selector, 0));
        vm.prank(distributor2);
        pool.postEpoch(0, keccak256("other"), 3, "");
        vm.prank(challenger);
        pool.challengeUnregistered(0, bad, _proof(tree, bad));
        vm.expectRevert(
            abi.encodeWithSelector(
                IGrowthPool.GrowthPoolRepostWindowOpen.selector,
                0,
                block.timestamp + CHALLENGE_WINDOW
            )
        );
        pool.requestDraw(0);

        bytes32[] memory good = _tree(0, honest);
        vm.prank(distributor2);
        pool.postEpoch(0, good.root(), honest.length, "bafy-honest");
        IGrowthPool.EpochInfo memory info = pool.epochInfo(0);
        assertEq(uint8(info.status), uint8(IGrowthPool.EpochStatus.Posted));
        assertEq(info.poster, distributor2);
        assertEq(info.repostDeadline, 0);
        assertEq(pool.nextEpoch(), 1);
        // the honest repost survives a challenge and draws
        IGrowthPool.Leaf memory leaf = _leaf(0, honest, 0);
        bytes32[] memory proof = _proof(good, leaf);
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolNoFault.selector, 0));
        pool.challengeSignature(0, leaf, proof);
        uint256 requestId = _requestDraw(0);
        assertEq(pool.epochInfo(0).budget, _e0());
        _fulfilWith(requestId, 7);
        _claimDraw(0, 0, honest, good);
        assertEq(pool.totalClaimed(), pool.epochInfo(0).perWinner);
    }

    function test_rollover_voidedEpochNobodyReposts() public {
        address[] memory ghost = _devices(1, 94);
        IGrowthPool.Leaf memory bad = IGrowthPool.Leaf(4, ghost[0], _heartbeat(ghost[0], 0));
        bytes32[] memory tree = _postLeaves(0, _withBad(bad), 5);
        vm.prank(challenger);
        pool.challengeUnregistered(0, bad, _proof(tree, bad));
        uint256 repostDeadline = pool.epochInfo(0).repostDeadline;
        vm.warp(repostDeadline + 1);
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolAlreadyPosted.selector, 0));
        vm.prank(distributor2);
        pool.postEpoch(0, keccak256("late"), 3, "");
        vm.expectEmit(address(pool));
        emit IGrowthPool.EpochRolledOver(0, _e0(), _e0());
        vm.prank(bob);
        assertEq(pool.requestDraw(0), 0);
        assertEq(uint8(pool.epochInfo(0).status), uint8(IGrowthPool.EpochStatus.Settled));
        assertEq(pool.carry(), _e0());
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolAlreadySettled.selector, 0));
        pool.requestDraw(0);
        // the next epoch receives E(0) + E(1) (the slashed poster is out; the other distributor posts)
        bytes32[] memory next = _tree(1, honest);
        _warpToEnd(1);
        vm.prank(distributor2);
        pool.postEpoch(1, next.root(), honest.length, "");
        _requestDraw(1);
        assertEq(pool.epochInfo(1).budget, 2 * _e0());
        assertLe(pool.totalEmitted(), POOL_CAP);
    }
}
