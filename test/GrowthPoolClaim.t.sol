// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {GrowthPoolBase} from "./utils/GrowthPoolBase.sol";
import {MerkleHelper} from "./utils/MerkleHelper.sol";
import {IGrowthPool} from "../contracts/interfaces/IGrowthPool.sol";

/// @notice GrowthPool unit tests. Claims (winners, duplicates, window, every revert) and sweeps.
contract GrowthPoolClaimTest is GrowthPoolBase {
    using MerkleHelper for bytes32[];

    // ================================================================ claim

    function test_claim_paysWinner() public {
        address[] memory devices = _devices(6, 1);
        bytes32[] memory tree = _postAndDraw(0, devices, 42);
        uint256 perWinner = pool.epochInfo(0).perWinner;
        uint256 index = pool.winnerIndex(0, 1);
        address winner = devices[index];
        uint256 before = token.balanceOf(winner);
        uint256 bobBefore = token.balanceOf(bob);
        IGrowthPool.Leaf memory leaf = _leaf(0, devices, index);
        vm.expectEmit(address(pool));
        emit IGrowthPool.Claimed(0, 1, winner, index, perWinner);
        vm.prank(bob); // anyone may submit; tokens go to the device
        pool.claim(0, 1, leaf, _proof(tree, leaf));
        assertEq(token.balanceOf(winner) - before, perWinner);
        assertEq(token.balanceOf(bob), bobBefore);
        assertEq(pool.totalClaimed(), perWinner);
        assertEq(token.balanceOf(address(pool)), POOL_CAP - perWinner);
        assertTrue(pool.isClaimed(0, 1));
        assertFalse(pool.isClaimed(0, 0));
        assertEq(pool.epochInfo(0).claimedCount, 1);
    }

    function test_claim_duplicateIndexWinsPerDraw() public {
        // one device: every draw picks index 0 and the device claims each draw once
        address[] memory devices = _devices(1, 7);
        bytes32[] memory tree = _postAndDraw(0, devices, 99);
        IGrowthPool.Leaf memory leaf = _leaf(0, devices, 0);
        bytes32[] memory proof = _proof(tree, leaf);
        assertEq(proof.length, 0);
        uint256 perWinner = pool.epochInfo(0).perWinner;
        for (uint256 j = 0; j < K; ++j) {
            assertEq(pool.winnerIndex(0, j), 0);
            pool.claim(0, j, leaf, proof);
        }
        assertEq(token.balanceOf(devices[0]), perWinner * K);
        assertEq(pool.totalClaimed(), pool.totalEmitted());
    }

    function test_claim_revertsBeforeDraw() public {
        IGrowthPool.Leaf memory leaf = IGrowthPool.Leaf(0, alice, "");
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolNotDrawn.selector, 0));
        pool.claim(0, 0, leaf, new bytes32[](0));
        _postOnly(0, _devices(2, 1));
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolNotDrawn.selector, 0));
        pool.claim(0, 0, leaf, new bytes32[](0));
        _requestDraw(0);
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolNotDrawn.selector, 0));
        pool.claim(0, 0, leaf, new bytes32[](0));
    }

    function test_claim_windowBoundaries() public {
        address[] memory devices = _devices(4, 1);
        bytes32[] memory tree = _postAndDraw(0, devices, 5);
        uint256 deadline = pool.epochInfo(0).claimDeadline;
        vm.warp(deadline);
        _claimDraw(0, 0, devices, tree); // last second still open
        vm.warp(deadline + 1);
        IGrowthPool.Leaf memory leaf = _leaf(0, devices, pool.winnerIndex(0, 1));
        bytes32[] memory proof = _proof(tree, leaf);
        vm.expectRevert(
            abi.encodeWithSelector(IGrowthPool.GrowthPoolClaimWindowClosed.selector, 0, deadline)
        );
        pool.claim(0, 1, leaf, proof);
    }

    function test_claim_revertsOnInvalidDraw() public {
        address[] memory devices = _devices(4, 1);
        _postAndDraw(0, devices, 5);
        IGrowthPool.Leaf memory leaf = _leaf(0, devices, 0);
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolInvalidDraw.selector, 0, K));
        pool.claim(0, K, leaf, new bytes32[](0));
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolInvalidDraw.selector, 0, K));
        pool.winnerIndex(0, K);
    }

    function test_claim_revertsOnDoubleClaim() public {
        address[] memory devices = _devices(4, 1);
        bytes32[] memory tree = _postAndDraw(0, devices, 5);
        _claimDraw(0, 2, devices, tree);
        IGrowthPool.Leaf memory leaf = _leaf(0, devices, pool.winnerIndex(0, 2));
        bytes32[] memory proof = _proof(tree, leaf);
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolAlreadyClaimed.selector, 0, 2));
        pool.claim(0, 2, leaf, proof);
    }

    function test_claim_revertsForLoser() public {
        address[] memory devices = _devices(8, 1);
        bytes32[] memory tree = _postAndDraw(0, devices, 5);
        uint256 index = pool.winnerIndex(0, 0);
        uint256 other = (index + 1) % 8;
        IGrowthPool.Leaf memory leaf = _leaf(0, devices, other);
        bytes32[] memory proof = _proof(tree, leaf);
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolNotWinner.selector, 0, 0, other));
        pool.claim(0, 0, leaf, proof);
    }

    function test_claim_revertsOnInvalidProof() public {
        address[] memory devices = _devices(8, 1);
        bytes32[] memory tree = _postAndDraw(0, devices, 5);
        uint256 index = pool.winnerIndex(0, 0);
        IGrowthPool.Leaf memory leaf = _leaf(0, devices, index);
        bytes32[] memory proof = _proof(tree, leaf);
        // right index, wrong account
        IGrowthPool.Leaf memory other = IGrowthPool.Leaf(index, alice, leaf.signature);
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolInvalidProof.selector, 0, alice, index));
        pool.claim(0, 0, other, proof);
        // right device, another signature (another epoch's heartbeat)
        other = IGrowthPool.Leaf(index, devices[index], _heartbeat(devices[index], 1));
        vm.expectRevert(
            abi.encodeWithSelector(IGrowthPool.GrowthPoolInvalidProof.selector, 0, devices[index], index)
        );
        pool.claim(0, 0, other, proof);
        // tampered proof
        proof[0] = bytes32(uint256(proof[0]) ^ 1);
        vm.expectRevert(
            abi.encodeWithSelector(IGrowthPool.GrowthPoolInvalidProof.selector, 0, devices[index], index)
        );
        pool.claim(0, 0, leaf, proof);
        other = IGrowthPool.Leaf(index, address(0), leaf.signature);
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolZeroAddress.selector));
        pool.claim(0, 0, other, proof);
        assertEq(pool.totalClaimed(), 0);
    }

    function test_claim_proofFromOtherEpochRejected() public {
        address[] memory devicesA = _devices(4, 1);
        address[] memory devicesB = _devices(4, 2);
        bytes32[] memory treeA = _postAndDraw(0, devicesA, 5);
        _postAndDraw(1, devicesB, 5); // same word: same winning indices, different list
        uint256 index = pool.winnerIndex(1, 0);
        IGrowthPool.Leaf memory leaf = _leaf(0, devicesA, index);
        bytes32[] memory proof = _proof(treeA, leaf);
        vm.expectRevert(
            abi.encodeWithSelector(IGrowthPool.GrowthPoolInvalidProof.selector, 1, devicesA[index], index)
        );
        pool.claim(1, 0, leaf, proof);
    }

    // ================================================================ sweep

    function test_sweep_returnsUnclaimedToRollover() public {
        address[] memory devices = _devices(5, 1);
        bytes32[] memory tree = _postAndDraw(0, devices, 11);
        uint256 perWinner = pool.epochInfo(0).perWinner;
        uint256 dust = pool.carry();
        _claimDraw(0, 0, devices, tree);
        uint256 deadline = pool.epochInfo(0).claimDeadline;
        vm.warp(deadline);
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolClaimWindowOpen.selector, 0, deadline));
        pool.sweep(0);
        vm.warp(deadline + 1);
        uint256 unclaimed = perWinner * (K - 1);
        vm.expectEmit(address(pool));
        emit IGrowthPool.Swept(0, unclaimed, dust + unclaimed);
        vm.prank(carol);
        assertEq(pool.sweep(0), unclaimed);
        assertEq(pool.totalEmitted(), perWinner);
        assertEq(pool.totalSwept(), unclaimed);
        assertEq(pool.carry(), dust + unclaimed);
        assertEq(pool.remaining(), POOL_CAP - perWinner);
        assertTrue(pool.epochInfo(0).swept);
        assertEq(token.balanceOf(address(pool)), POOL_CAP - perWinner);
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolAlreadySwept.selector, 0));
        pool.sweep(0);

        // the swept amount joins the next posted epoch's budget
        uint256 e = pool.currentEpoch();
        for (uint256 i = 1; i < e; ++i) _post(i, new address[](0));
        uint256 owed = pool.carry() + pool.emission(e);
        _post(e, devices);
        assertEq(pool.epochInfo(e).budget, owed);
    }

    function test_sweep_revertsWhenNothingToSweep() public {
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolNotPosted.selector, 0));
        pool.sweep(0);
        _post(0, new address[](0));
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolNothingToDraw.selector, 0));
        pool.sweep(0);
        _post(1, _devices(2, 1));
        vm.warp(block.timestamp + 400 days);
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolNotDrawn.selector, 1));
        pool.sweep(1);
    }

    function test_sweep_fullyClaimedSweepsZero() public {
        address[] memory devices = _devices(1, 3);
        bytes32[] memory tree = _postAndDraw(0, devices, 1);
        for (uint256 j = 0; j < K; ++j) _claimDraw(0, j, devices, tree);
        vm.warp(pool.epochInfo(0).claimDeadline + 1);
        assertEq(pool.sweep(0), 0);
        assertEq(pool.totalEmitted(), pool.totalClaimed());
    }
}
