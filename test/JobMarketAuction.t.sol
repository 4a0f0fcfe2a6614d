// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {JobMarketBase} from "./utils/JobMarketBase.sol";
import {IJobMarket} from "../contracts/interfaces/IJobMarket.sol";

contract JobMarketAuctionTest is JobMarketBase {
    // ---------------------------------------------------------------- commitBid

    function test_commitBid_escrowsDepositAndEmits() public {
        uint256 id = createJobAs(alice);
        bytes32 c = commitment(id, 3 ether, saltOf(id), alice);
        uint256 before = token.balanceOf(alice);
        vm.expectEmit(true, true, true, true);
        emit IJobMarket.BidCommitted(id, 0, c, 5 ether, 0);
        vm.expectEmit(true, true, true, true);
        emit IJobMarket.JobStatusChanged(
            id,
            IJobMarket.JobStatus.Created,
            IJobMarket.JobStatus.Bidding,
            uint64(block.timestamp + 7 days)
        );
        vm.prank(alice);
        jm.commitBid(id, c, 5 ether);
        assertEq(token.balanceOf(alice), before - 5 ether);
        assertEq(token.balanceOf(address(jm)), defaultBudget() + 5 ether);
        IJobMarket.Job memory j = jm.getJob(id);
        assertEq(uint8(j.status), uint8(IJobMarket.JobStatus.Bidding));
        assertEq(j.deposit, 5 ether);
        assertEq(j.commitHash, bytes20(c));
        assertEq(j.bidEpoch, 0);
        assertEq(jm.epochInfo(0).bidCount, 1);
        uint64[] memory bids = jm.epochBids(0);
        assertEq(bids.length, 1);
        assertEq(bids[0], id);
    }

    function _expectCommitRevert(
        address who,
        uint256 id,
        bytes32 c,
        uint256 deposit,
        bytes memory err
    ) internal {
        uint256 bal = token.balanceOf(address(jm));
        IJobMarket.JobStatus s = jm.status(id);
        vm.expectRevert(err);
        vm.prank(who);
        jm.commitBid(id, c, deposit);
        assertEq(token.balanceOf(address(jm)), bal);
        assertEq(uint8(jm.status(id)), uint8(s));
    }

    function test_commitBid_reverts() public {
        uint256 id = createJobAs(alice);
        bytes32 c = commitment(id, 2 ether, saltOf(id), alice);
        _expectCommitRevert(
            alice,
            9,
            c,
            2 ether,
            abi.encodeWithSelector(IJobMarket.JobMarketUnknownJob.selector, 9)
        );
        _expectCommitRevert(
            bob,
            id,
            c,
            2 ether,
            abi.encodeWithSelector(IJobMarket.JobMarketNotCustomer.selector, id, bob)
        );
        _expectCommitRevert(
            alice,
            id,
            bytes32(0),
            2 ether,
            abi.encodeWithSelector(IJobMarket.JobMarketZeroCommitment.selector)
        );
        _expectCommitRevert(
            alice,
            id,
            c,
            0.5 ether,
            abi.encodeWithSelector(IJobMarket.JobMarketInvalidDeposit.selector, 0.5 ether)
        );
        uint256 huge = uint256(type(uint96).max) + 1;
        _expectCommitRevert(
            alice,
            id,
            c,
            huge,
            abi.encodeWithSelector(IJobMarket.JobMarketInvalidDeposit.selector, huge)
        );
        vm.prank(alice);
        jm.commitBid(id, c, 2 ether);
        _expectCommitRevert(
            alice,
            id,
            c,
            2 ether,
            abi.encodeWithSelector(
                IJobMarket.JobMarketInvalidStatus.selector,
                id,
                IJobMarket.JobStatus.Bidding
            )
        );
    }

    function test_commitBid_revertsOutsideCommitWindow() public {
        uint256 id = createJobAs(alice);
        warpToReveal();
        _expectCommitRevert(
            alice,
            id,
            commitment(id, 2 ether, saltOf(id), alice),
            2 ether,
            abi.encodeWithSelector(IJobMarket.JobMarketNotInCommitWindow.selector, 0)
        );
    }

    function test_commitBid_revertsAfterBiddingDeadline() public {
        uint256 id = createJobAs(alice);
        vm.warp(block.timestamp + 7 days + 1);
        uint64 deadline = jm.getJob(id).deadline;
        _expectCommitRevert(
            alice,
            id,
            commitment(id, 2 ether, saltOf(id), alice),
            2 ether,
            abi.encodeWithSelector(IJobMarket.JobMarketDeadlinePassed.selector, id, deadline)
        );
    }

    function test_commitBid_revertsWhenEpochFull() public {
        IJobMarket.Params memory p = defaultParams();
        p.maxBidsPerEpoch = 2;
        vm.prank(governance);
        jm.setParams(p);
        uint256 a = createJobAs(alice);
        uint256 b = createJobAs(bob);
        uint256 c = createJobAs(carol);
        commitAs(alice, a, 2 ether, 2 ether);
        commitAs(bob, b, 2 ether, 2 ether);
        _expectCommitRevert(
            carol,
            c,
            commitment(c, 2 ether, saltOf(c), carol),
            2 ether,
            abi.encodeWithSelector(IJobMarket.JobMarketEpochFull.selector, 0)
        );
    }

    // ---------------------------------------------------------------- revealBid

    function test_revealBid_storesBidAndEmits() public {
        uint256 id = createJobAs(alice);
        commitAs(alice, id, 3 ether, 5 ether);
        warpToReveal();
        vm.expectEmit(true, true, true, true);
        emit IJobMarket.BidRevealed(id, 0, 3 ether);
        vm.prank(dave); // anyone holding the preimage may reveal
        jm.revealBid(id, 3 ether, saltOf(id));
        IJobMarket.Job memory j = jm.getJob(id);
        assertTrue(j.revealed);
        assertEq(j.bid, 3 ether);
    }

    function _expectRevealRevert(uint256 id, uint256 bid, bytes32 salt, bytes memory err) internal {
        IJobMarket.Job memory before = jm.getJob(id);
        vm.expectRevert(err);
        jm.revealBid(id, bid, salt);
        assertEq(abi.encode(jm.getJob(id)), abi.encode(before));
    }

    function test_revealBid_revertsOnWrongSaltOrBid() public {
        uint256 id = createJobAs(alice);
        commitAs(alice, id, 3 ether, 5 ether);
        warpToReveal();
        bytes memory err = abi.encodeWithSelector(IJobMarket.JobMarketBidMismatch.selector, id);
        _expectRevealRevert(id, 3 ether, bytes32("wrong"), err);
        _expectRevealRevert(id, 4 ether, saltOf(id), err);
    }

    function test_revealBid_revertsOutsideWindow() public {
        uint256 id = createJobAs(alice);
        commitAs(alice, id, 3 ether, 5 ether);
        bytes memory err = abi.encodeWithSelector(IJobMarket.JobMarketNotInRevealWindow.selector, 0);
        _expectRevealRevert(id, 3 ether, saltOf(id), err); // still commit window
        warpToRevealEnd();
        _expectRevealRevert(id, 3 ether, saltOf(id), err); // after the window
        warpToNextEpoch();
        _expectRevealRevert(id, 3 ether, saltOf(id), err); // next epoch
    }

    function test_revealBid_revertsOnDoubleReveal() public {
        uint256 id = createJobAs(alice);
        commitAs(alice, id, 3 ether, 5 ether);
        warpToReveal();
        reveal(id, 3 ether);
        _expectRevealRevert(
            id,
            3 ether,
            saltOf(id),
            abi.encodeWithSelector(IJobMarket.JobMarketBidAlreadyRevealed.selector, id)
        );
    }

    function test_revealBid_revertsBelowReserve() public {
        uint256 id = createJobAs(alice);
        commitAs(alice, id, 0.5 ether, 2 ether);
        warpToReveal();
        _expectRevealRevert(
            id,
            0.5 ether,
            saltOf(id),
            abi.encodeWithSelector(IJobMarket.JobMarketBidBelowReserve.selector, 0.5 ether, 1 ether)
        );
    }

    function test_revealBid_revertsAboveDeposit() public {
        uint256 id = createJobAs(alice);
        commitAs(alice, id, 3 ether, 2 ether);
        warpToReveal();
        _expectRevealRevert(
            id,
            3 ether,
            saltOf(id),
            abi.encodeWithSelector(IJobMarket.JobMarketBidExceedsDeposit.selector, 3 ether, 2 ether)
        );
    }

    function test_revealBid_revertsOnUnknownOrNotBidding() public {
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarketUnknownJob.selector, 5));
        jm.revealBid(5, 1 ether, bytes32(0));
        uint256 id = createJobAs(alice);
        warpToReveal();
        _expectRevealRevert(
            id,
            1 ether,
            bytes32(0),
            abi.encodeWithSelector(
                IJobMarket.JobMarketInvalidStatus.selector,
                id,
                IJobMarket.JobStatus.Created
            )
        );
    }

    // ---------------------------------------------------------------- finalizeEpoch

    /// @dev K = 2, five bids: 5, 9, 7 (unrevealed), 9, 4 → winners are the two 9s (commit order), price = 5
    ///      (third highest revealed), 7 is penalised, 5 and 4 roll over.
    function test_finalizeEpoch_topKSecondPrice() public {
        address[5] memory who = [alice, bob, carol, dave, alice];
        uint256[5] memory bid = [uint256(5 ether), 9 ether, 7 ether, 9 ether, 4 ether];
        uint256[5] memory ids;
        for (uint256 i = 0; i < 5; ++i) {
            ids[i] = createJobAs(who[i]);
            commitAs(who[i], ids[i], bid[i], 10 ether);
        }
        warpToReveal();
        for (uint256 i = 0; i < 5; ++i) if (i != 2) reveal(ids[i], bid[i]);
        warpToRevealEnd();

        uint256 treasuryBefore = token.balanceOf(treasury);
        uint256[4] memory before = [
            token.balanceOf(alice),
            token.balanceOf(bob),
            token.balanceOf(carol),
            token.balanceOf(dave)
        ];
        vm.expectEmit(true, true, true, true);
        emit IJobMarket.BidLost(ids[0], 0, 10 ether);
        vm.expectEmit(true, true, true, true);
        emit IJobMarket.JobScheduled(ids[1], 0, 0, 5 ether, 5 ether);
        vm.expectEmit(true, true, true, true);
        emit IJobMarket.BidForfeited(ids[2], 0, 1 ether, 9 ether);
        vm.expectEmit(true, true, true, true);
        emit IJobMarket.JobScheduled(ids[3], 0, 1, 5 ether, 5 ether);
        vm.expectEmit(true, true, true, true);
        emit IJobMarket.EpochFinalized(0, 5 ether, 5, 4, 2);
        jm.finalizeEpoch(0);

        assertEq(uint8(jm.status(ids[1])), uint8(IJobMarket.JobStatus.Scheduled));
        assertEq(uint8(jm.status(ids[3])), uint8(IJobMarket.JobStatus.Scheduled));
        assertEq(uint8(jm.status(ids[0])), uint8(IJobMarket.JobStatus.Created));
        assertEq(uint8(jm.status(ids[2])), uint8(IJobMarket.JobStatus.Created));
        assertEq(uint8(jm.status(ids[4])), uint8(IJobMarket.JobStatus.Created));
        assertEq(pricePaidOf(ids[1]), 5 ether);
        assertEq(jm.getJob(ids[1]).deadline, block.timestamp + 1 hours);
        assertEq(jm.getJob(ids[1]).scheduledEpoch, 0);
        assertEq(token.balanceOf(treasury) - treasuryBefore, 2 * 5 ether + 1 ether);
        assertEq(token.balanceOf(alice) - before[0], 20 ether); // both alice's bids lost: full refunds
        assertEq(token.balanceOf(bob) - before[1], 5 ether);
        assertEq(token.balanceOf(carol) - before[2], 9 ether);
        assertEq(token.balanceOf(dave) - before[3], 5 ether);
        assertEq(token.balanceOf(address(jm)), 5 * defaultBudget());
        IJobMarket.EpochInfo memory info = jm.epochInfo(0);
        assertTrue(info.finalized);
        assertEq(info.clearingPrice, 5 ether);
        assertEq(info.scheduledCount, 2);
        assertEq(info.revealedCount, 4);
        assertEq(info.bidCount, 5);
        for (uint256 i = 0; i < 5; ++i) assertEq(jm.getJob(ids[i]).deposit, 0);
    }

    function test_finalizeEpoch_reservePriceWhenFewBids() public {
        uint256 a = createJobAs(alice);
        uint256 b = createJobAs(bob);
        commitAs(alice, a, 8 ether, 8 ether);
        commitAs(bob, b, 3 ether, 4 ether);
        warpToReveal();
        reveal(a, 8 ether);
        reveal(b, 3 ether);
        warpToRevealEnd();
        jm.finalizeEpoch(0);
        assertEq(pricePaidOf(a), 1 ether);
        assertEq(pricePaidOf(b), 1 ether);
        assertEq(token.balanceOf(treasury), 2 ether);
        assertEq(jm.epochInfo(0).clearingPrice, 1 ether);
    }

    function test_finalizeEpoch_emptyEpoch() public {
        warpToNextEpoch();
        vm.expectEmit(true, true, true, true);
        emit IJobMarket.EpochFinalized(0, 1 ether, 0, 0, 0);
        jm.finalizeEpoch(0);
        assertTrue(jm.epochInfo(0).finalized);
    }

    function test_finalizeEpoch_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarketEpochNotOver.selector, 0));
        jm.finalizeEpoch(0);
        warpToReveal();
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarketEpochNotOver.selector, 0));
        jm.finalizeEpoch(0);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarketEpochNotOver.selector, 1));
        jm.finalizeEpoch(1);
        warpToRevealEnd();
        jm.finalizeEpoch(0);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarketEpochAlreadyFinalized.selector, 0));
        jm.finalizeEpoch(0);
    }

    function test_finalizeEpoch_loserRollsOverAndRebids() public {
        IJobMarket.Params memory p = defaultParams();
        p.capacity = 1;
        vm.prank(governance);
        jm.setParams(p);
        uint256 a = createJobAs(alice);
        uint256 b = createJobAs(bob);
        commitAs(alice, a, 6 ether, 6 ether);
        commitAs(bob, b, 2 ether, 2 ether);
        warpToReveal();
        reveal(a, 6 ether);
        reveal(b, 2 ether);
        warpToRevealEnd();
        jm.finalizeEpoch(0);
        assertEq(pricePaidOf(a), 2 ether);
        assertEq(uint8(jm.status(b)), uint8(IJobMarket.JobStatus.Created));
        warpToNextEpoch();
        commitAs(bob, b, 1.5 ether, 1.5 ether);
        warpToReveal();
        reveal(b, 1.5 ether);
        warpToRevealEnd();
        jm.finalizeEpoch(1);
        assertEq(uint8(jm.status(b)), uint8(IJobMarket.JobStatus.Scheduled));
        assertEq(jm.getJob(b).scheduledEpoch, 1);
        assertEq(pricePaidOf(b), 1 ether);
    }

    function test_finalizeEpoch_lateFinalisationOfOldEpoch() public {
        uint256 a = createJobAs(alice);
        commitAs(alice, a, 2 ether, 2 ether);
        vm.warp(block.timestamp + 5 hours); // unrevealed, nobody finalised for hours
        jm.finalizeEpoch(0);
        assertEq(uint8(jm.status(a)), uint8(IJobMarket.JobStatus.Created));
        assertEq(token.balanceOf(treasury), 0.2 ether);
    }

    // ---------------------------------------------------------------- withdrawJob

    function test_withdrawJob_refundsWholeEscrow() public {
        uint256 id = createJobAs(alice);
        uint256 before = token.balanceOf(alice);
        vm.expectEmit(true, true, true, true);
        emit IJobMarket.JobWithdrawn(id, defaultBudget());
        vm.prank(alice);
        jm.withdrawJob(id);
        assertEq(token.balanceOf(alice) - before, defaultBudget());
        assertEq(jm.escrowOf(id), 0);
        assertEq(uint8(jm.status(id)), uint8(IJobMarket.JobStatus.Cancelled));
        assertEq(token.balanceOf(address(jm)), 0);
    }

    function test_withdrawJob_reverts() public {
        uint256 id = createJobAs(alice);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarketNotCustomer.selector, id, bob));
        vm.prank(bob);
        jm.withdrawJob(id);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarketUnknownJob.selector, 42));
        vm.prank(bob);
        jm.withdrawJob(42);
        commitAs(alice, id, 2 ether, 2 ether);
        vm.expectRevert(
            abi.encodeWithSelector(
                IJobMarket.JobMarketInvalidStatus.selector,
                id,
                IJobMarket.JobStatus.Bidding
            )
        );
        vm.prank(alice);
        jm.withdrawJob(id);
        assertEq(jm.escrowOf(id), defaultBudget());
    }

    // ---------------------------------------------------------------- fuzz

    /// @dev Reference: sort revealed bids by (bid desc, commit order asc); winners = first K; price = (K+1)-th
    ///      or reserve.
    function test_fuzz_finalizeEpoch_matchesReference(
        uint256 seed,
        uint8 nBids,
        uint8 k,
        uint96 reserve
    ) public {
        uint256 n = bound(nBids, 0, 12);
        uint256 cap = bound(k, 1, 8);
        uint256 res = bound(reserve, 0, 5 ether);
        IJobMarket.Params memory p = defaultParams();
        p.capacity = uint16(cap);
        p.reservePrice = uint96(res);
        vm.prank(governance);
        jm.setParams(p);

        uint256[] memory ids = new uint256[](n);
        uint256[] memory bids = new uint256[](n);
        bool[] memory rev = new bool[](n);
        for (uint256 i = 0; i < n; ++i) {
            address who = customers[i % customers.length];
            ids[i] = createJobAs(who);
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            bids[i] = res + (r % 4) * 1 ether; // few distinct values: many ties
            rev[i] = (r >> 128) % 5 != 0;
            commitAs(who, ids[i], bids[i], bids[i] + 1 ether);
        }
        warpToReveal();
        for (uint256 i = 0; i < n; ++i) if (rev[i]) reveal(ids[i], bids[i]);
        warpToRevealEnd();
        uint256 balBefore = token.balanceOf(address(jm));
        uint256 treasuryBefore = token.balanceOf(treasury);
        jm.finalizeEpoch(0);

        // reference selection
        bool[] memory win = new bool[](n);
        uint256 winners;
        uint256 price = res;
        uint256 revealedCount;
        for (uint256 i = 0; i < n; ++i) if (rev[i]) ++revealedCount;
        for (uint256 round = 0; round <= cap; ++round) {
            uint256 best = type(uint256).max;
            for (uint256 i = 0; i < n; ++i) {
                if (!rev[i] || win[i]) continue;
                if (best == type(uint256).max || bids[i] > bids[best]) best = i;
            }
            if (best == type(uint256).max) break;
            if (round == cap) {
                price = bids[best];
            } else {
                win[best] = true;
                ++winners;
            }
        }
        uint256 penalties;
        for (uint256 i = 0; i < n; ++i) {
            IJobMarket.Job memory j = jm.getJob(ids[i]);
            if (win[i]) {
                assertEq(uint8(j.status), uint8(IJobMarket.JobStatus.Scheduled));
                assertEq(pricePaidOf(ids[i]), price);
                assertLe(price, bids[i]);
            } else {
                assertEq(uint8(j.status), uint8(IJobMarket.JobStatus.Created));
                if (!rev[i]) penalties += ((bids[i] + 1 ether) * 1_000) / BPS;
            }
            assertEq(j.deposit, 0);
        }
        IJobMarket.EpochInfo memory info = jm.epochInfo(0);
        assertEq(info.scheduledCount, winners);
        assertEq(info.revealedCount, revealedCount);
        assertEq(info.clearingPrice, price);
        assertEq(token.balanceOf(treasury) - treasuryBefore, winners * price + penalties);
        assertEq(token.balanceOf(address(jm)), balBefore - _sumDeposits(bids));
    }

    function _sumDeposits(uint256[] memory bids) internal pure returns (uint256 s) {
        for (uint256 i = 0; i < bids.length; ++i) s += bids[i] + 1 ether;
    }

    function test_fuzz_commitReveal_anyBidWithinDeposit(uint96 bid, uint96 extra, bytes32 salt) public {
        uint256 b = bound(bid, 1 ether, 4e8 ether);
        uint256 d = b + bound(extra, 0, 4e8 ether);
        uint256 id = createJobAs(alice);
        vm.prank(faucet);
        token.transfer(alice, d);
        bytes32 c = keccak256(abi.encode(id, b, salt, alice));
        vm.prank(alice);
        jm.commitBid(id, c, d);
        warpToReveal();
        jm.revealBid(id, b, salt);
        assertEq(jm.getJob(id).bid, b);
        warpToRevealEnd();
        uint256 before = token.balanceOf(alice);
        jm.finalizeEpoch(0);
        assertEq(token.balanceOf(alice) - before, d - 1 ether); // alone: pays the reserve
    }
}
