// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {GrowthPoolBase} from "../growth/GrowthPoolBase.sol";
import {GrowthPoolHandler} from "./handlers/GrowthPoolHandler.t.sol";
import {GrowthPoolV2} from "../mocks/GrowthPoolV2.sol";

contract GrowthPoolInvariantTest is GrowthPoolBase {
    GrowthPoolHandler internal handler;

    function setUp() public override {
        super.setUp();
        address[] memory ds = new address[](2);
        ds[0] = distributor;
        ds[1] = distributor2;
        handler = new GrowthPoolHandler(pool, IERC20(address(token)), coordinator, governance, ds);
        targetContract(address(handler));
    }

    function invariant_emittedNeverAboveCap() public view {
        assertLe(pool.totalEmitted(), pool.cap());
        assertEq(pool.remaining() + pool.totalEmitted(), pool.cap());
    }

    function invariant_claimedNeverAboveEmitted() public view {
        assertLe(pool.totalClaimed(), pool.totalEmitted());
    }

    function invariant_balanceIsCapMinusClaimed() public view {
        assertEq(token.balanceOf(address(pool)), pool.cap() - pool.totalClaimed());
    }

    function invariant_noDoubleOrInvalidClaim() public view {
        assertFalse(handler.doubleClaimSucceeded());
        assertFalse(handler.invalidClaimSucceeded());
        assertEq(pool.totalClaimed(), handler.ghostClaimed());
    }

    function invariant_accountingMatchesGhosts() public view {
        assertEq(pool.totalEmitted(), handler.ghostAllocated() - handler.ghostSwept());
        assertEq(pool.totalSwept(), handler.ghostSwept());
    }

    function invariant_upgradeKeepsState() public view {
        assertFalse(handler.upgradeChangedState());
        if (handler.upgraded()) assertEq(GrowthPoolV2(address(pool)).version(), 2);
    }
}
