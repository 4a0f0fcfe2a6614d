// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {JobMarketBase} from "../utils/JobMarketBase.sol";
import {IJobMarket} from "../../contracts/interfaces/IJobMarket.sol";
import {JobMarketHandler} from "./handlers/JobMarketHandler.t.sol";

/// @dev Run with its handler so Hardhat compiles the handler's artifact:
///      npx hardhat test solidity test/invariant/JobMarketInvariant.t.sol \
///        test/invariant/handlers/JobMarketHandler.t.sol
contract JobMarketInvariantTest is JobMarketBase {
    JobMarketHandler internal handler;
    uint256 internal trackedSupply;

    function setUp() public override {
        super.setUp();
        handler = new JobMarketHandler(
            token,
            jm,
            governance,
            attestation,
            settlementModule,
            distributor,
            aggregator,
            algorithmId,
            SCHEMA,
            customers
        );
        // the handler acts through vm.prank; customers already approved the JobMarket
        targetContract(address(handler));
        // few bid slots, so that epochs fill up and evictions (M2) happen
        IJobMarket.Params memory p = defaultParams();
        p.maxBidsPerEpoch = 4;
        vm.prank(governance);
        jm.setParams(p);
        bytes4[] memory selectors = new bytes4[](20);
        selectors[0] = handler.createJob.selector;
        selectors[1] = handler.commitBid.selector;
        selectors[2] = handler.revealBid.selector;
        selectors[3] = handler.withdrawJob.selector;
        selectors[4] = handler.finalizeEpoch.selector;
        selectors[5] = handler.assignCohort.selector;
        selectors[6] = handler.advance.selector;
        selectors[7] = handler.settle.selector;
        selectors[8] = handler.fail.selector;
        selectors[9] = handler.timeout.selector;
        selectors[10] = handler.warp.selector;
        selectors[11] = handler.setCapacity.selector;
        selectors[12] = handler.upgrade.selector;
        selectors[13] = handler.auctionRound.selector;
        selectors[14] = handler.auctionRound.selector; // whole epochs twice as likely
        selectors[15] = handler.createJob.selector;
        selectors[16] = handler.runJob.selector;
        selectors[17] = handler.runJob.selector;
        selectors[18] = handler.evictBid.selector;
        selectors[19] = handler.evictBid.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
        trackedSupply = _trackedBalances();
    }

    function _trackedBalances() internal view returns (uint256 sum) {
        for (uint256 i = 0; i < customers.length; ++i) sum += token.balanceOf(customers[i]);
        sum += token.balanceOf(address(jm)) + token.balanceOf(settlementModule) + token.balanceOf(treasury);
        sum += token.balanceOf(developer) + token.balanceOf(marketTreasury);
    }

    /// @dev Sum of all open job escrows + bid deposits == token balance of the JobMarket.
    function invariant_escrowConservation() public view {
        uint256 n = jm.jobCount();
        uint256 sum;
        for (uint256 id = 1; id <= n; ++id) {
            IJobMarket.Job memory j = jm.getJob(id);
            sum += uint256(j.escrow) + j.deposit;
        }
        assertEq(sum, token.balanceOf(address(jm)));
    }

    /// @dev Tokens only move between the customers, the JobMarket, the settlement module, the treasury and the
    ///      marketplace's payees (developer and its treasury): their sum never changes.
    function invariant_tokensConserved() public view {
        assertEq(_trackedBalances(), trackedSupply);
    }

    /// @dev The settlement module received exactly what settle paid it, and every settle paid the module
    ///      `amount`, refunded the customer the rest and rejected amounts above the escrow.
    function invariant_settlePaysExactly() public view {
        assertEq(token.balanceOf(settlementModule), handler.paidOut());
        assertEq(handler.settleMismatches(), 0);
    }

    /// @dev Terminal jobs hold nothing; only Bidding jobs hold a deposit; escrow never exceeds the budget.
    function invariant_jobAccounting() public view {
        uint256 n = jm.jobCount();
        for (uint256 id = 1; id <= n; ++id) {
            IJobMarket.Job memory j = jm.getJob(id);
            if (j.status >= IJobMarket.JobStatus.Settled) assertEq(j.escrow, 0);
            if (j.status != IJobMarket.JobStatus.Bidding) assertEq(j.deposit, 0);
            assertLe(j.escrow, jm.budgetOf(j.maxDevices, j.rewardPerDevice) * 2);
        }
    }

    /// @dev The scheduled set of every finalised epoch is exactly its top-K revealed bids, and every winner paid
    ///      the clearing price.
    function invariant_auctionSchedulesTopKAtClearingPrice() public view {
        assertEq(handler.auctionMismatches(), 0);
    }

    /// @dev An upgrade leaves every job, epoch and parameter unchanged.
    function invariant_upgradeKeepsState() public view {
        assertEq(handler.upgradeMismatches(), 0);
    }

    /// @dev Evictions replace exactly the named commitment in place and refund it; bad ones revert and change
    ///      nothing (stale links of earlier epochs included).
    function invariant_evictionsKeepTheListWhole() public view {
        assertEq(handler.evictionMismatches(), 0);
    }

    /// @dev Prints how far the campaign got (`-vvv`); the counters only grow.
    function invariant_callSummary() public view {
        assertGe(handler.jobCount(), 0);
        assertLe(handler.jobsScheduled(), handler.jobCount() * 64);
    }

    /// @dev After all deadlines pass, permissionless finalisation and timeouts bring every job to a terminal state
    ///      and the JobMarket holds no tokens.
    function invariant_everyJobTerminates() public {
        uint256 snap = vm.snapshotState();
        handler.drain();
        uint256 n = jm.jobCount();
        for (uint256 id = 1; id <= n; ++id) {
            assertGe(uint8(jm.status(id)), uint8(IJobMarket.JobStatus.Settled));
        }
        assertEq(token.balanceOf(address(jm)), 0);
        vm.revertToState(snap);
    }
}
