// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {LifecycleFixture} from "../settlement/LifecycleFixture.sol";
import {ISettlement} from "../../contracts/interfaces/ISettlement.sol";
import {JobLifecycleHandler} from "./handlers/JobLifecycleHandler.t.sol";

/// @notice Settlement invariants over fuzzed job sequences (see JobLifecycleHandler): escrow conservation,
///         solvency of the device pools, no double or foreign claim, payouts within the pool.
contract SettlementInvariantTest is LifecycleFixture {
    JobLifecycleHandler internal handler;

    function setUp() public override {
        super.setUp();
        handler = new JobLifecycleHandler(
            token,
            jm,
            staking,
            ra,
            settlement,
            [customer, distributor, aggregator, reporter, address(this)],
            attestorSet,
            spec()
        );
        token.approve(address(handler), type(uint256).max);
        // The handler pranks as the funder (this contract) to top up slashed nodes.
        bytes4[] memory selectors = new bytes4[](3);
        selectors[0] = JobLifecycleHandler.runJob.selector;
        selectors[1] = JobLifecycleHandler.claim.selector;
        selectors[2] = JobLifecycleHandler.sweep.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
        targetContract(address(handler));
    }

    function invariant_escrowConservation() public view {
        uint256 sum = 0;
        uint256 n = handler.jobCount();
        for (uint256 i = 0; i < n; ++i) sum += jm.escrowOf(handler.jobs(i));
        assertEq(token.balanceOf(address(jm)), sum);
    }

    function invariant_devicePoolsSolventAndWithinTotals() public view {
        uint256 outstanding = 0;
        uint256 n = handler.jobCount();
        for (uint256 i = 0; i < n; ++i) {
            ISettlement.Report memory r = settlement.reportOf(handler.jobs(i));
            assertLe(r.claimed, r.payoutTotal, "payouts never exceed the pool");
            if (!r.swept) outstanding += r.payoutTotal - r.claimed;
        }
        assertEq(settlement.totalOutstanding(), outstanding);
        assertEq(token.balanceOf(address(settlement)), outstanding);
    }

    function invariant_noDoubleOrForeignClaim() public view {
        assertEq(handler.ghostDoubleClaims(), 0);
        assertEq(handler.ghostCrossJobClaims(), 0);
    }
}
