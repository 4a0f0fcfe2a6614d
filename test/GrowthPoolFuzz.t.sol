// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {GrowthPoolBase} from "./utils/GrowthPoolBase.sol";
import {MerkleHelper} from "./utils/MerkleHelper.sol";
import {IGrowthPool} from "../contracts/interfaces/IGrowthPool.sol";

contract GrowthPoolFuzzTest is GrowthPoolBase {
    using MerkleHelper for bytes32[];

    /// E(e) = E0 >> floor(e / H) with E0 = cap / (2H), for any H (set before genesis) and any epoch.
    function test_fuzz_emission_matchesFormula(uint32 h, uint256 epoch) public {
        h = uint32(bound(h, 1, 100_000));
        epoch = bound(epoch, 0, type(uint64).max);
        vm.prank(governance);
        pool.setHalvingEpochs(h);
        uint256 e0 = POOL_CAP / (2 * uint256(h));
        assertEq(pool.emission(epoch), e0 >> (epoch / h));
        // constant within a halving period, halves at its boundary
        uint256 start = (epoch / h) * h;
        assertEq(pool.emission(start), pool.emission(epoch));
        if (start + h <= type(uint64).max) assertEq(pool.emission(start + h), pool.emission(epoch) / 2);
    }

    /// The scheduled emission summed over every epoch never exceeds the pool.
    function test_fuzz_emission_sumBelowCap(uint32 h) public {
        h = uint32(bound(h, 1, 100_000));
        vm.prank(governance);
        pool.setHalvingEpochs(h);
        uint256 sum;
        for (uint256 period = 0; period < 128; ++period) {
            uint256 level = pool.emission(period * h);
            if (level == 0) break;
            sum += level * h;
        }
        assertLe(sum, POOL_CAP);
        // and the schedule emits almost all of it (floor losses only)
        assertGe(sum, POOL_CAP - 2 * uint256(h) * 128);
    }

    /// Posting a long sequence of epochs never allocates more than the pool and conserves every token.
    function test_fuzz_postEpoch_conservesPool(uint256 seed, uint32 h) public {
        h = uint32(bound(h, 1, 8));
        vm.prank(governance);
        pool.setHalvingEpochs(h);
        uint256 expectedOwed;
        for (uint256 e = 0; e < 40; ++e) {
            uint256 n = uint256(keccak256(abi.encode(seed, e))) % 4; // 0..3 devices
            bytes32 root = n == 0 ? bytes32(0) : keccak256(abi.encode(seed, e, "root"));
            expectedOwed = pool.carry() + pool.emission(e);
            uint256 available = pool.remaining();
            _warpToEnd(e);
            vm.prank(distributor);
            pool.postEpoch(e, root, n, "");
            if (n != 0) {
                assertEq(pool.remaining(), available); // nothing allocated before the window closes
                _requestDraw(e);
            }
            IGrowthPool.EpochInfo memory info = pool.epochInfo(e);
            if (n == 0) {
                assertEq(info.budget, 0);
                assertEq(pool.carry(), expectedOwed);
            } else {
                uint256 budget = expectedOwed < available ? expectedOwed : available;
                if (budget >= K) {
                    assertEq(info.budget, budget);
                    assertEq(info.perWinner, budget / K);
                    assertEq(pool.carry(), budget % K);
                }
            }
            assertLe(pool.totalEmitted(), POOL_CAP);
            assertEq(pool.remaining() + pool.totalEmitted(), POOL_CAP);
        }
    }

    /// Winner indices are in [0, n) and follow keccak256(abi.encode(word, j)) % n.
    function test_fuzz_winnerIndex_inRange(uint256 n, uint256 word, uint256 j) public {
        n = bound(n, 1, type(uint40).max);
        j = bound(j, 0, K - 1);
        _warpToEnd(0);
        vm.prank(distributor);
        pool.postEpoch(0, keccak256("root"), n, "");
        _fulfilWith(_requestDraw(0), word);
        uint256 index = pool.winnerIndex(0, j);
        assertLt(index, n);
        assertEq(index, uint256(keccak256(abi.encode(word, j))) % n);
    }

    /// The winner claims with its proof; any other index, account or proof is refused and changes nothing.
    function test_fuzz_claim_onlyWinnerWithValidProof(
        uint256 n,
        uint256 word,
        uint256 j,
        uint256 wrongIndex,
        address wrongAccount,
        bytes32 junk
    ) public {
        n = bound(n, 1, 24);
        j = bound(j, 0, K - 1);
        address[] memory devices = _devices(n, word);
        bytes32[] memory tree = _postAndDraw(0, devices, word);
        uint256 index = pool.winnerIndex(0, j);
        address winner = devices[index];
        IGrowthPool.Leaf memory leaf = _leaf(0, devices, index);
        bytes32[] memory proof = _proof(tree, leaf);

        wrongIndex = bound(wrongIndex, 0, n - 1);
        if (wrongIndex != index) {
            IGrowthPool.Leaf memory otherLeaf = _leaf(0, devices, wrongIndex);
            bytes32[] memory otherProof = _proof(tree, otherLeaf);
            vm.expectRevert(
                abi.encodeWithSelector(IGrowthPool.GrowthPoolNotWinner.selector, 0, j, wrongIndex)
            );
            pool.claim(0, j, otherLeaf, otherProof);
        }
        if (wrongAccount != winner && wrongAccount != address(0)) {
            vm.expectRevert(
                abi.encodeWithSelector(IGrowthPool.GrowthPoolInvalidProof.selector, 0, wrongAccount, index)
            );
            pool.claim(0, j, IGrowthPool.Leaf(index, wrongAccount, leaf.signature), proof);
        }
        if (proof.length != 0) {
            bytes32[] memory bad = new bytes32[](proof.length);
            for (uint256 i = 0; i < proof.length; ++i) bad[i] = proof[i];
            uint256 at = uint256(junk) % proof.length;
            if (bad[at] != junk) {
                bad[at] = junk;
                vm.expectRevert(
                    abi.encodeWithSelector(IGrowthPool.GrowthPoolInvalidProof.selector, 0, winner, index)
                );
                pool.claim(0, j, leaf, bad);
            }
        }
        assertEq(pool.totalClaimed(), 0);

        uint256 perWinner = pool.epochInfo(0).perWinner;
        uint256 before = token.balanceOf(winner);
        pool.claim(0, j, leaf, proof);
        assertEq(token.balanceOf(winner) - before, perWinner);
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolAlreadyClaimed.selector, 0, j));
        pool.claim(0, j, leaf, proof);
        assertEq(pool.totalClaimed(), perWinner);
    }

    /// Claims at any time inside the window succeed, any time after it fail; a sweep returns exactly the rest.
    function test_fuzz_claimWindow_andSweep(uint256 word, uint256 delay, uint256 claims) public {
        address[] memory devices = _devices(5, word);
        bytes32[] memory tree = _postAndDraw(0, devices, word);
        IGrowthPool.EpochInfo memory info = pool.epochInfo(0);
        delay = bound(delay, 0, 2 * WINDOW);
        claims = bound(claims, 0, K);
        vm.warp(block.timestamp + delay);
        bool open = block.timestamp <= info.claimDeadline;
        for (uint256 j = 0; j < claims; ++j) {
            IGrowthPool.Leaf memory leaf = _leaf(0, devices, pool.winnerIndex(0, j));
            bytes32[] memory proof = _proof(tree, leaf);
            if (!open) {
                vm.expectRevert(
                    abi.encodeWithSelector(
                        IGrowthPool.GrowthPoolClaimWindowClosed.selector,
                        0,
                        info.claimDeadline
                    )
                );
            }
            pool.claim(0, j, leaf, proof);
        }
        uint256 paid = open ? claims * info.perWinner : 0;
        assertEq(pool.totalClaimed(), paid);
        vm.warp(info.claimDeadline + 1);
        uint256 swept = pool.sweep(0);
        assertEq(swept, info.perWinner * K - paid);
        assertEq(pool.totalEmitted(), paid);
        assertEq(token.balanceOf(address(pool)), POOL_CAP - paid);
    }
}
