// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {JobMarketBase} from "./JobMarketBase.sol";
import {IJobMarket} from "../../contracts/interfaces/IJobMarket.sol";
import {INodeStaking} from "../../contracts/interfaces/INodeStaking.sol";

contract JobMarketLifecycleTest is JobMarketBase {
    bytes32 internal constant ROOT = keccak256("root");

    // ---------------------------------------------------------------- assignCohort

    function test_assignCohort_assignsAndEmits() public {
        uint256 id = scheduledJob(alice);
        vm.expectEmit(true, true, true, true);
        emit IJobMarket.CohortAssigned(id, distributor, aggregator, ROOT, 20, "bafy-cohort");
        vm.expectEmit(true, true, true, true);
        emit IJobMarket.JobStatusChanged(
            id,
            IJobMarket.JobStatus.Scheduled,
            IJobMarket.JobStatus.Assigned,
            uint64(block.timestamp + 2 hours)
        );
        vm.prank(distributor);
        jm.assignCohort(id, ROOT, 20, "bafy-cohort", aggregator);
        IJobMarket.Job memory j = jm.getJob(id);
        assertEq(uint8(j.status), uint8(IJobMarket.JobStatus.Assigned));
        assertEq(j.cohortRoot, ROOT);
        assertEq(j.deviceCount, 20);
        assertEq(j.cohortCid, "bafy-cohort");
        assertEq(j.distributor, distributor);
        assertEq(j.aggregator, aggregator);
        assertEq(j.deadline, block.timestamp + 2 hours);
    }

    function _expectAssignRevert(
        address who,
        uint256 id,
        bytes32 root,
        uint32 count,
        string memory cid,
        address agg,
        bytes memory err
    ) internal {
        IJobMarket.Job memory before = jm.getJob(id);
        vm.expectRevert(err);
        vm.prank(who);
        jm.assignCohort(id, root, count, cid, agg);
        assertEq(abi.encode(jm.getJob(id)), abi.encode(before));
    }

    function test_assignCohort_reverts() public {
        uint256 id = scheduledJob(alice);
        _expectAssignRevert(
            bob,
            id,
            ROOT,
            20,
            "c",
            aggregator,
            abi.encodeWithSelector(IJobMarket.JobMarketNotDistributor.selector, bob)
        );
        // an aggregator is not a distributor
        _expectAssignRevert(
            aggregator,
            id,
            ROOT,
            20,
            "c",
            aggregator,
            abi.encodeWithSelector(IJobMarket.JobMarketNotDistributor.selector, aggregator)
        );
        _expectAssignRevert(
            distributor,
            id,
            ROOT,
            9,
            "c",
            aggregator,
            abi.encodeWithSelector(IJobMarket.JobMarketDeviceCountOutOfRange.selector, 9, 10, 50)
        );
        _expectAssignRevert(
            distributor,
            id,
            ROOT,
            51,
            "c",
            aggregator,
            abi.encodeWithSelector(IJobMarket.JobMarketDeviceCountOutOfRange.selector, 51, 10, 50)
        );
        _expectAssignRevert(
            distributor,
            id,
            bytes32(0),
            20,
            "c",
            aggregator,
            abi.encodeWithSelector(IJobMarket.JobMarketInvalidCohort.selector)
        );
        _expectAssignRevert(
            distributor,
            id,
            ROOT,
            20,
            "",
            aggregator,
            abi.encodeWithSelector(IJobMarket.JobMarketInvalidCohort.selector)
        );
        _expectAssignRevert(
            distributor,
            id,
            ROOT,
            20,
            "c",
            bob,
            abi.encodeWithSelector(IJobMarket.JobMarketNotAggregator.selector, bob)
        );
        // a distributor that started unbonding is no longer active
        vm.prank(distributor);
        staking.requestUnbond(INodeStaking.Role.Distributor, MIN_STAKE);
        _expectAssignRevert(
            distributor,
            id,
            ROOT,
            20,
            "c",
            aggregator,
            abi.encodeWithSelector(IJobMarket.JobMarketNotDistributor.selector, distributor)
        );
        stakeAs(distributor, INodeStaking.Role.Distributor);
        vm.warp(block.timestamp + 1 hours + 1);
        uint64 deadline = jm.getJob(id).deadline;
        _expectAssignRevert(
            distributor,
            id,
            ROOT,
            20,
            "c",
            aggregator,
            abi.encodeWithSelector(IJobMarket.JobMarketDeadlinePassed.selector, id, deadline)
        );
    }

    function test_assignCohort_revertsWhenNotScheduled() public {
        uint256 id = createJobAs(alice);
        _expectAssignRevert(
            distributor,
            id,
            ROOT,
            20,
            "c",
            aggregator,
            abi.encodeWithSelector(
                IJobMarket.JobMarketInvalidStatus.selector,
                id,
                IJobMarket.JobStatus.Created
            )
        );
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarketUnknownJob.selector, 77));
        vm.prank(distributor);
        jm.assignCohort(77, ROOT, 20, "c", aggregator);
    }

    function test_fuzz_assignCohort_deviceCountRange(uint32 count) public {
        uint256 id = scheduledJob(alice);
        vm.prank(distributor);
        if (count < 10 || count > MAX_DEVICES) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IJobMarket.JobMarketDeviceCountOutOfRange.selector,
                    count,
                    10,
                    MAX_DEVICES
                )
            );
            jm.assignCohort(id, ROOT, count, "c", aggregator);
            assertEq(uint8(jm.status(id)), uint8(IJobMarket.JobStatus.Scheduled));
        } else {
            jm.assignCohort(id, ROOT, count, "c", aggregator);
            assertEq(jm.getJob(id).deviceCount, count);
        }
    }

    // ---------------------------------------------------------------- hooks

    function test_hooks_fullFlowWithSettlement() public {
        uint256 id = assignedJob(alice);
        uint256 escrow = jm.escrowOf(id);

        vm.expectEmit(true, true, true, true);
        emit IJobMarket.JobStatusChanged(
            id,
            IJobMarket.JobStatus.Assigned,
            IJobMarket.JobStatus.Committed,
            uint64(block.timestamp + 1 hours)
        );
        vm.prank(attestation);
        jm.markCommitted(id);
        vm.expectEmit(true, true, true, true);
        emit IJobMarket.JobStatusChanged(
            id,
            IJobMarket.JobStatus.Committed,
            IJobMarket.JobStatus.Attested,
            uint64(block.timestamp + 1 hours)
        );
        vm.prank(attestation);
        jm.markAttested(id);
        vm.expectEmit(true, true, true, true);
        emit IJobMarket.JobStatusChanged(
            id,
            IJobMarket.JobStatus.Attested,
            IJobMarket.JobStatus.Reported,
            uint64(block.timestamp + 1 hours)
        );
        vm.prank(settlement);
        jm.markReported(id);

        vm.expectEmit(true, true, true, true);
        emit IJobMarket.EscrowPaid(id, developer, 5 ether);
        vm.prank(settlement);
        jm.pay(id, developer, 5 ether);
        vm.prank(settlement);
        jm.pay(id, settlement, 60 ether);
        assertEq(jm.escrowOf(id), escrow - 65 ether);
        assertEq(token.balanceOf(settlement), 60 ether);

        uint256 before = token.balanceOf(alice);
        vm.expectEmit(true, true, true, true);
        emit IJobMarket.EscrowRefunded(id, alice, escrow - 65 ether);
        vm.prank(settlement);
        jm.markSettled(id);
        assertEq(uint8(jm.status(id)), uint8(IJobMarket.JobStatus.Settled));
        assertEq(jm.escrowOf(id), 0);
        assertEq(token.balanceOf(alice) - before, escrow - 65 ether);
        assertEq(token.balanceOf(address(jm)), 0);
    }

    function test_pay_revertsAboveEscrowAndZeroRecipient() public {
        uint256 id = reportedJob(alice);
        uint256 escrow = jm.escrowOf(id);
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarket.JobMarketInsufficientEscrow.selector, id, escrow, escrow + 1)
        );
        vm.prank(settlement);
        jm.pay(id, bob, escrow + 1);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarketZeroAddress.selector));
        vm.prank(settlement);
        jm.pay(id, address(0), 1);
        vm.prank(settlement);
        jm.pay(id, bob, escrow);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarketInsufficientEscrow.selector, id, 0, 1));
        vm.prank(settlement);
        jm.pay(id, bob, 1);
        assertEq(jm.escrowOf(id), 0);
    }

    function test_refund_returnsRemainingEscrow() public {
        uint256 id = reportedJob(alice);
        uint256 escrow = jm.escrowOf(id);
        uint256 before = token.balanceOf(alice);
        vm.prank(settlement);
        jm.refund(id);
        assertEq(token.balanceOf(alice) - before, escrow);
        assertEq(jm.escrowOf(id), 0);
        assertEq(uint8(jm.status(id)), uint8(IJobMarket.JobStatus.Reported));
    }

    function test_hooks_revertForUnauthorisedCallers() public {
        uint256 id = assignedJob(alice);
        bytes memory errBob = abi.encodeWithSelector(IJobMarket.JobMarketUnauthorizedModule.selector, bob);
        vm.startPrank(bob);
        vm.expectRevert(errBob);
        jm.markCommitted(id);
        vm.expectRevert(errBob);
        jm.markAttested(id);
        vm.expectRevert(errBob);
        jm.markReported(id);
        vm.expectRevert(errBob);
        jm.markSettled(id);
        vm.expectRevert(errBob);
        jm.markFailed(id, "x");
        vm.expectRevert(errBob);
        jm.pay(id, bob, 1);
        vm.expectRevert(errBob);
        jm.refund(id);
        vm.stopPrank();
        // the settlement module cannot drive attestation hooks and vice versa
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarketUnauthorizedModule.selector, settlement));
        vm.prank(settlement);
        jm.markCommitted(id);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarketUnauthorizedModule.selector, attestation));
        vm.prank(attestation);
        jm.pay(id, attestation, 1);
        assertEq(uint8(jm.status(id)), uint8(IJobMarket.JobStatus.Assigned));
    }

    function test_hooks_unsetModuleCannotCall() public {
        uint256 id = assignedJob(alice);
        bytes32 role = jm.ATTESTATION_MODULE();
        vm.prank(governance);
        jm.setModule(role, address(0));
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarketUnauthorizedModule.selector, attestation));
        vm.prank(attestation);
        jm.markCommitted(id);
    }

    function test_hooks_revertOnWrongStatus() public {
        uint256 id = scheduledJob(alice);
        bytes memory err = abi.encodeWithSelector(
            IJobMarket.JobMarketInvalidStatus.selector,
            id,
            IJobMarket.JobStatus.Scheduled
        );
        vm.expectRevert(err);
        vm.prank(attestation);
        jm.markCommitted(id);
        vm.expectRevert(err);
        vm.prank(attestation);
        jm.markAttested(id);
        vm.expectRevert(err);
        vm.prank(settlement);
        jm.markReported(id);
        vm.expectRevert(err);
        vm.prank(settlement);
        jm.markSettled(id);
        vm.expectRevert(err);
        vm.prank(settlement);
        jm.markFailed(id, "x");
        vm.expectRevert(err);
        vm.prank(settlement);
        jm.pay(id, bob, 1);
        vm.expectRevert(err);
        vm.prank(settlement);
        jm.refund(id);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarketUnknownJob.selector, 99));
        vm.prank(attestation);
        jm.markCommitted(99);
    }

    function test_hooks_revertAfterDeadline() public {
        uint256 id = assignedJob(alice);
        vm.warp(block.timestamp + 2 hours + 1);
        uint64 deadline = jm.getJob(id).deadline;
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarketDeadlinePassed.selector, id, deadline));
        vm.prank(attestation);
        jm.markCommitted(id);
    }

    function test_markFailed_refundsFromEveryRunningPhase() public {
        for (uint256 phase = 0; phase < 4; ++phase) {
            warpToNextEpoch();
            uint256 id = assignedJob(alice);
            if (phase >= 1) {
                vm.prank(attestation);
                jm.markCommitted(id);
            }
            if (phase >= 2) {
                vm.prank(attestation);
                jm.markAttested(id);
            }
            if (phase >= 3) {
                vm.prank(settlement);
                jm.markReported(id);
            }
            uint256 escrow = jm.escrowOf(id);
            uint256 before = token.balanceOf(alice);
            vm.expectEmit(true, true, true, true);
            emit IJobMarket.JobFailed(id, "quorum", escrow);
            vm.prank(phase % 2 == 0 ? attestation : settlement);
            jm.markFailed(id, "quorum");
            assertEq(uint8(jm.status(id)), uint8(IJobMarket.JobStatus.Failed));
            assertEq(token.balanceOf(alice) - before, escrow);
            assertEq(jm.escrowOf(id), 0);
        }
        assertEq(token.balanceOf(address(jm)), 0);
    }

    // ---------------------------------------------------------------- timeout

    function _expire(uint256 id, IJobMarket.JobStatus from) internal {
        IJobMarket.Job memory j = jm.getJob(id);
        assertEq(uint8(j.status), uint8(from));
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarket.JobMarketDeadlineNotPassed.selector, id, j.deadline)
        );
        jm.timeout(id);
        vm.warp(j.deadline);
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarket.JobMarketDeadlineNotPassed.selector, id, j.deadline)
        );
        jm.timeout(id);
        vm.warp(uint256(j.deadline) + 1);
        uint256 before = token.balanceOf(alice);
        vm.expectEmit(true, true, true, true);
        emit IJobMarket.JobExpired(id, from, j.escrow);
        vm.prank(dave); // permissionless
        jm.timeout(id);
        assertEq(uint8(jm.status(id)), uint8(IJobMarket.JobStatus.Expired));
        assertEq(token.balanceOf(alice) - before, j.escrow);
        assertEq(jm.escrowOf(id), 0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IJobMarket.JobMarketInvalidStatus.selector,
                id,
                IJobMarket.JobStatus.Expired
            )
        );
        jm.timeout(id);
    }

    function test_timeout_created() public {
        _expire(createJobAs(alice), IJobMarket.JobStatus.Created);
    }

    function test_timeout_scheduled() public {
        _expire(scheduledJob(alice), IJobMarket.JobStatus.Scheduled);
    }

    function test_timeout_assigned() public {
        _expire(assignedJob(alice), IJobMarket.JobStatus.Assigned);
    }

    function test_timeout_committedAttestedReported() public {
        uint256 id = assignedJob(alice);
        vm.prank(attestation);
        jm.markCommitted(id);
        _expire(id, IJobMarket.JobStatus.Committed);
        warpToNextEpoch();
        id = assignedJob(alice);
        vm.prank(attestation);
        jm.markCommitted(id);
        vm.prank(attestation);
        jm.markAttested(id);
        _expire(id, IJobMarket.JobStatus.Attested);
        warpToNextEpoch();
        id = reportedJob(alice);
        vm.prank(settlement);
        jm.pay(id, bob, 10 ether);
        _expire(id, IJobMarket.JobStatus.Reported);
    }

    function test_timeout_revertsWhileBiddingAndOnUnknownOrTerminal() public {
        uint256 id = createJobAs(alice);
        commitAs(alice, id, 2 ether, 2 ether);
        vm.warp(block.timestamp + 8 days);
        vm.expectRevert(
            abi.encodeWithSelector(
                IJobMarket.JobMarketInvalidStatus.selector,
                id,
                IJobMarket.JobStatus.Bidding
            )
        );
        jm.timeout(id);
        // finalisation (permissionless) releases it, then it can expire
        jm.finalizeEpoch(0);
        jm.timeout(id);
        assertEq(uint8(jm.status(id)), uint8(IJobMarket.JobStatus.Expired));
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarketUnknownJob.selector, 50));
        jm.timeout(50);
        uint256 w = createJobAs(bob);
        vm.prank(bob);
        jm.withdrawJob(w);
        vm.warp(block.timestamp + 30 days);
        vm.expectRevert(
            abi.encodeWithSelector(
                IJobMarket.JobMarketInvalidStatus.selector,
                w,
                IJobMarket.JobStatus.Cancelled
            )
        );
        jm.timeout(w);
    }
}
