// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {JobMarketBase} from "./utils/JobMarketBase.sol";
import {IJobMarket} from "../contracts/interfaces/IJobMarket.sol";

/// @notice Gas scenario for `npx hardhat test solidity --gas-stats test/JobMarketGas.t.sol`: K = 2, five bids, one
///         assignment, one timeout. Each test also checks the outcome so a broken path cannot report gas.
contract JobMarketGasTest is JobMarketBase {
    function test_gas_fullEpochKEquals2FiveBids() public {
        uint256[5] memory ids;
        uint256[5] memory bid = [uint256(5 ether), 9 ether, 7 ether, 8 ether, 4 ether];
        address[5] memory who = [alice, bob, carol, dave, alice];
        // an earlier epoch warms the epoch-independent storage like a long-running market would
        uint256 warm = scheduledJob(bob);
        warpToNextEpoch();
        for (uint256 i = 0; i < 5; ++i) ids[i] = createJobAs(who[i]);
        for (uint256 i = 0; i < 5; ++i) commitAs(who[i], ids[i], bid[i], 10 ether);
        warpToReveal();
        for (uint256 i = 0; i < 5; ++i) reveal(ids[i], bid[i]);
        warpToRevealEnd();
        jm.finalizeEpoch(1);
        assertEq(uint8(jm.status(ids[1])), uint8(IJobMarket.JobStatus.Scheduled));
        assertEq(uint8(jm.status(ids[3])), uint8(IJobMarket.JobStatus.Scheduled));
        assertEq(pricePaidOf(ids[1]), 7 ether);
        nextBlocks();
        // the attestation module's assignment hook (fixes the epoch seed: first assignment of the epoch)
        vm.prank(attestation);
        jm.markAssigned(
            ids[1],
            keccak256("root"),
            40,
            "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
            distributor,
            aggregator
        );
        assertTrue(jm.epochSeed(1) != bytes32(0));
        assertEq(uint8(jm.status(ids[1])), uint8(IJobMarket.JobStatus.Assigned));
        vm.warp(block.timestamp + 3 hours);
        jm.timeout(ids[1]);
        jm.timeout(warm);
        assertEq(uint8(jm.status(ids[1])), uint8(IJobMarket.JobStatus.Expired));
        assertEq(closedCount(ids[1]), 1);
    }

    /// @dev A full epoch (64 commitments) and one eviction by a larger deposit (M2).
    function test_gas_commitBidEvicting() public {
        uint256 max = defaultParams().maxBidsPerEpoch;
        uint256[] memory ids = new uint256[](max);
        for (uint256 i = 0; i < max; ++i) {
            ids[i] = createJobAs(alice);
            commitAs(alice, ids[i], 1 ether, 1 ether);
        }
        uint256 c = createJobAs(bob);
        vm.prank(bob);
        jm.commitBidEvicting(c, commitment(c, 2 ether, saltOf(c), bob), 2 ether, ids[5], ids[4]);
        assertEq(uint8(jm.status(ids[5])), uint8(IJobMarket.JobStatus.Created));
        assertEq(uint8(jm.status(c)), uint8(IJobMarket.JobStatus.Bidding));
    }

    /// @dev The settlement module's single call: a paid success (pays the module and refunds the rest) and a
    ///      failure with nothing paid (refunds everything).
    function test_gas_settleSuccessAndFailure() public {
        uint256 a = attestedJob(alice);
        uint256 escrow = jm.escrowOf(a);
        vm.prank(settlementModule);
        jm.settle(a, 50 ether, true, bytes32(0));
        assertEq(uint8(jm.status(a)), uint8(IJobMarket.JobStatus.Settled));
        assertEq(token.balanceOf(settlementModule), 50 ether);
        warpToNextEpoch();
        uint256 b = attestedJob(bob);
        uint256 bobBefore = token.balanceOf(bob);
        vm.prank(settlementModule);
        jm.settle(b, 0, false, "quorum");
        assertEq(uint8(jm.status(b)), uint8(IJobMarket.JobStatus.Failed));
        assertEq(token.balanceOf(bob) - bobBefore, escrow);
        assertEq(token.balanceOf(address(jm)), 0);
    }
}
