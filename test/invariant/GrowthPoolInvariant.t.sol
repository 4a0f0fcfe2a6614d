// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {GrowthPoolBase, IGrowthPoolTestable, IVRFCoordinatorMockLike} from "../utils/GrowthPoolBase.sol";
import {GrowthPoolHandler} from "./handlers/GrowthPoolHandler.t.sol";
import {INodeStaking} from "../../contracts/interfaces/INodeStaking.sol";
import {IDeviceRegistry} from "../../contracts/interfaces/IDeviceRegistry.sol";

contract GrowthPoolInvariantTest is GrowthPoolBase {
    GrowthPoolHandler internal handler;
    uint256 internal stakedAtStart;

    function setUp() public override {
        super.setUp();
        address[] memory ds = new address[](2);
        ds[0] = distributor;
        ds[1] = distributor2;
        address[] memory devices = _registeredDevices(8, 1);
        uint256[] memory keys = new uint256[](8);
        for (uint256 i = 0; i < 8; ++i) keys[i] = keyOf[devices[i]];
        handler = new GrowthPoolHandler(
            GrowthPoolHandler.Ctx({
                pool: IGrowthPoolTestable(address(pool)),
                token: IERC20(address(token)),
                coordinator: IVRFCoordinatorMockLike(address(coordinator)),
                staking: INodeStaking(address(staking)),
                registry: IDeviceRegistry(address(registry)),
                governance: governance
            }),
            ds,
            devices,
            keys
        );
        _fund(address(handler), 1_000_000 ether); // tops up slashed distributors
        targetContract(address(handler));
    }

    function invariant_emittedNeverAboveCap() public view {
        assertLe(pool.totalEmitted(), pool.cap());
        assertEq(pool.remaining() + pool.totalEmitted(), pool.cap());
    }

    function invariant_claimedNeverAboveEmitted() public view {
        assertLe(pool.totalClaimed(), pool.totalEmitted());
    }

    /// Emission conservation: challenges, slashes and rollovers never move the pool's tokens.
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

    function invariant_challengesAreSound() public view {
        assertFalse(handler.baselessChallengeSucceeded(), "a correct post was voided");
        assertFalse(handler.faultyPostSurvivedChallenge(), "a proven fault did not void the post");
        assertFalse(handler.slashExceededStake(), "a slash exceeded the stake or the slash amount");
        assertFalse(handler.posterRewarded(), "the poster received a challenger reward");
    }

    function invariant_upgradeKeepsState() public view {
        assertFalse(handler.upgradeChangedState());
        if (handler.upgraded()) assertEq(IGrowthPoolTestable(address(pool)).version(), 2);
    }
}
