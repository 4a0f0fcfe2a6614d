// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {LifecycleFixture} from "../settlement/LifecycleFixture.sol";
import {IJobMarket} from "../../contracts/interfaces/IJobMarket.sol";
import {JobLifecycleHandler} from "./handlers/JobLifecycleHandler.t.sol";

/// @notice ResultAttestation invariants over fuzzed jobs (random attestor votes, silent or lying attestors, honest or
///         wrong aggregator): an honest majority always finalises its value, every equivocating or silent node is
///         slashed, and every job reaches a terminal state.
contract AttestationInvariantTest is LifecycleFixture {
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
        bytes4[] memory selectors = new bytes4[](1);
        selectors[0] = JobLifecycleHandler.runJob.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
        targetContract(address(handler));
    }

    function invariant_honestMajorityFinalises() public view {
        assertEq(handler.ghostHonestMajorityNotFinal(), 0);
    }

    function invariant_faultsAreSlashed() public view {
        assertEq(handler.ghostUnslashedFaults(), 0);
    }

    function invariant_everyJobTerminal() public view {
        assertEq(handler.ghostNonTerminalJobs(), 0);
        uint256 n = handler.jobCount();
        for (uint256 i = 0; i < n; ++i) {
            IJobMarket.JobStatus s = jm.status(handler.jobs(i));
            assertTrue(s == IJobMarket.JobStatus.Settled || s == IJobMarket.JobStatus.Failed);
        }
    }
}
