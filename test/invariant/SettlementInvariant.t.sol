// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IJobMarket} from "../../contracts/interfaces/IJobMarket.sol";
import {ISettlement} from "../../contracts/interfaces/ISettlement.sol";
import {JobLifecycleHandler} from "./handlers/JobLifecycleHandler.t.sol";
import {JobLifecycleInvariantBase} from "./JobLifecycleInvariantBase.sol";

/// @notice Settlement and JobMarket escrow invariants over fuzzed job sequences (see JobLifecycleHandler):
///         conservation of every escrowed token across JobMarket, Settlement's pools, its fee ledger and the
///         customers' refunds; Settlement's balance equals what it owes; no leaf is paid twice; payouts never
///         exceed a job's pool or escrow; claims, withdrawals and sweeps behave exactly as specified.
contract SettlementInvariantTest is JobLifecycleInvariantBase {
    function setUp() public override {
        super.setUp();
        bytes4[] memory selectors = new bytes4[](8);
        selectors[0] = JobLifecycleHandler.startJob.selector;
        selectors[1] = JobLifecycleHandler.finalizeOpen.selector;
        selectors[2] = JobLifecycleHandler.report.selector;
        selectors[3] = JobLifecycleHandler.claim.selector;
        selectors[4] = JobLifecycleHandler.withdrawFees.selector;
        selectors[5] = JobLifecycleHandler.withdrawProtocolFees.selector;
        selectors[6] = JobLifecycleHandler.sweep.selector;
        selectors[7] = JobLifecycleHandler.warp.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    /// @dev The JobMarket holds exactly the live escrows, and every escrowed token is still escrowed, was
    ///      refunded to its customer or was paid to Settlement.
    /// hardhat-config: invariant.depth = 64
    function invariant_escrowConservation() public view {
        uint256 live = 0;
        uint256 n = handler.jobCount();
        for (uint256 i = 0; i < n; ++i) live += jm.escrowOf(handler.jobs(i));
        assertEq(token.balanceOf(address(jm)), live, "JobMarket holds the live escrows");
        assertEq(
            handler.ghostEscrowIn(),
            live + handler.ghostRefunded() + handler.ghostToSettlement(),
            "escrow = live + refunded + paid to Settlement"
        );
        assertEq(
            handler.ghostToSettlement(),
            token.balanceOf(address(settlement)) +
                handler.ghostClaimsPaid() +
                handler.ghostSwept() +
                handler.ghostFeesWithdrawn() +
                handler.ghostProtocolWithdrawn(),
            "paid to Settlement = held + claimed + swept + fees withdrawn"
        );
    }

    /// @dev Settlement's balance == Σ unclaimed, unswept pools + Σ ledger fees.
    /// hardhat-config: invariant.depth = 64
    function invariant_settlementSolvent() public view {
        uint256 owed = settlement.protocolFees();
        uint256 n = handler.feeAccountCount();
        for (uint256 i = 0; i < n; ++i) owed += settlement.feesOf(handler.feeAccount(i));
        n = handler.jobCount();
        for (uint256 i = 0; i < n; ++i) {
            ISettlement.Report memory r = settlement.reportOf(handler.jobs(i));
            if (!r.swept) owed += r.payoutTotal - r.claimed;
        }
        assertEq(token.balanceOf(address(settlement)), owed, "balance = pools + fees");
    }

    /// @dev Claims never exceed a pool, every claimed amount was a leaf paid once, and nothing paid to
    ///      Settlement for a job exceeds the job's escrow.
    /// hardhat-config: invariant.depth = 64
    function invariant_payoutsWithinPoolAndEscrow() public view {
        uint256 n = handler.jobCount();
        for (uint256 i = 0; i < n; ++i) {
            uint256 jobId = handler.jobs(i);
            ISettlement.Report memory r = settlement.reportOf(jobId);
            assertLe(r.claimed, r.payoutTotal, "claims within the pool");
            assertEq(r.claimed, handler.claimedAmount(jobId), "claimed = sum of the leaves paid");
            assertLe(handler.paidToSettlement(jobId), handler.escrowAtCreation(jobId), "within escrow");
            assertLe(r.payoutTotal, handler.paidToSettlement(jobId), "pool funded by the escrow");
        }
        assertEq(handler.ghostPayoutAboveEscrow(), 0);
    }

    /// hardhat-config: invariant.depth = 64
    function invariant_noDoubleOrUnexpectedClaim() public view {
        assertEq(handler.ghostDoubleClaims(), 0, "double claim");
        assertEq(handler.ghostUnexpectedClaims(), 0, "claim outcome");
        assertEq(handler.ghostWrongPayments(), 0, "payment");
    }

    /// hardhat-config: invariant.depth = 64
    function invariant_everyJobTerminalAfterItsDeadline() public view {
        assertEq(handler.ghostTimeoutFailures(), 0);
        uint256 n = handler.jobCount();
        for (uint256 i = 0; i < n; ++i) {
            uint256 jobId = handler.jobs(i);
            IJobMarket.JobStatus s = jm.status(jobId);
            if (!handler.isTerminal(s)) assertLe(block.timestamp, jm.getJob(jobId).deadline, "overdue job");
        }
    }
}
