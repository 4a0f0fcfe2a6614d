// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IJobMarket} from "../../contracts/interfaces/IJobMarket.sol";
import {IResultAttestation} from "../../contracts/interfaces/IResultAttestation.sol";
import {JobLifecycleHandler} from "./handlers/JobLifecycleHandler.t.sol";
import {JobLifecycleInvariantBase} from "./JobLifecycleInvariantBase.sol";

/// @notice ResultAttestation invariants over fuzzed jobs (honest, lying or silent attestors; honest, wrong or
///         silent aggregator; any reveal order; quorums left open and finalized later or after the job expired):
///         an honest majority always finalises its value, a unanimous quorum finalises itself at its last reveal,
///         when a majority revealed every equivocating or silent attestor is slashed (without one, no attestor
///         is: PROTOCOL.md §7.4), a silent aggregator always is, no honest node is, an aggregator that never
///         committed is not, the challenger share goes to an outsider who finalizes and never to a party of the
///         job (customer, distributor, aggregator, drawn attestor), and every job reaches a terminal state once its
///         deadlines pass.
contract AttestationInvariantTest is JobLifecycleInvariantBase {
    function setUp() public override {
        super.setUp();
        bytes4[] memory selectors = new bytes4[](3);
        selectors[0] = JobLifecycleHandler.startJob.selector;
        selectors[1] = JobLifecycleHandler.finalizeOpen.selector;
        selectors[2] = JobLifecycleHandler.warp.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    /// hardhat-config: invariant.depth = 64
    function invariant_honestMajorityFinalises() public view {
        assertEq(handler.ghostHonestMajorityNotFinal(), 0);
    }

    /// hardhat-config: invariant.depth = 64
    function invariant_unanimousQuorumFinalisesItself() public view {
        assertEq(handler.ghostUnanimousNotAuto(), 0);
    }

    /// hardhat-config: invariant.depth = 64
    function invariant_faultsSlashedHonestNodesNot() public view {
        assertEq(handler.ghostUnslashedFaults(), 0, "equivocation or silence unslashed");
        assertEq(handler.ghostWrongSlashes(), 0, "honest node slashed");
    }

    /// hardhat-config: invariant.depth = 64
    function invariant_noChallengerRewardToAParty() public view {
        assertEq(handler.ghostPartyRewarded(), 0, "a party of the job earned the challenger share");
        assertEq(handler.ghostChallengerUnpaid(), 0, "an outsider finalizing a slash earned nothing");
    }

    /// hardhat-config: invariant.depth = 64
    function invariant_everyJobTerminalAfterItsDeadline() public view {
        assertEq(handler.ghostTimeoutFailures(), 0);
        uint256 n = handler.jobCount();
        for (uint256 i = 0; i < n; ++i) {
            uint256 jobId = handler.jobs(i);
            IJobMarket.JobStatus s = jm.status(jobId);
            if (!handler.isTerminal(s)) assertLe(block.timestamp, jm.getJob(jobId).deadline, "overdue job");
            // A quorum is never left open once its job is over.
            if (handler.isTerminal(s)) {
                assertTrue(ra.statusOf(jobId) != IResultAttestation.Status.Committed, "open quorum");
            }
        }
    }
}
