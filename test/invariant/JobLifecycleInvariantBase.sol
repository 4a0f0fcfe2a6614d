// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {LifecycleFixture} from "../utils/LifecycleFixture.sol";
import {INodeStaking} from "../../contracts/interfaces/INodeStaking.sol";
import {JobLifecycleHandler} from "./handlers/JobLifecycleHandler.t.sol";

/// @notice Shared set-up of the job lifecycle invariant suites: the real protocol, a second customer and reporter,
///         and the JobLifecycleHandler funded and approved.
abstract contract JobLifecycleInvariantBase is LifecycleFixture {
    JobLifecycleHandler internal handler;
    address internal customer2 = makeAddr("customer2");
    address internal reporter2 = makeAddr("reporter2");

    function setUp() public virtual override {
        super.setUp();
        _operator(reporter2, INodeStaking.Role.Reporter);
        fund(customer2, 10_000_000 ether);
        vm.prank(customer2);
        token.approve(address(jm), type(uint256).max);
        JobLifecycleHandler.Actors memory actors;
        actors.customers = new address[](2);
        actors.customers[0] = customer;
        actors.customers[1] = customer2;
        actors.reporters = new address[](2);
        actors.reporters[0] = reporter;
        actors.reporters[1] = reporter2;
        actors.distributor = distributor;
        actors.aggregator = aggregator;
        actors.developer = developer;
        actors.treasury = treasury;
        actors.funder = faucet; // the handler pranks as the faucet to top up slashed nodes
        handler = new JobLifecycleHandler(token, jm, staking, ra, settlement, actors, attestorSet, spec());
        targetContract(address(handler));
    }
}
