// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Vm} from "forge-std/Test.sol";
import {JobMarketBase} from "./utils/JobMarketBase.sol";
import {IJobMarket} from "../contracts/interfaces/IJobMarket.sol";
import {FutureSeed} from "../contracts/utils/FutureSeed.sol";

contract JobMarketLifecycleTest is JobMarketBase {
    bytes32 internal constant ROOT = keccak256("root");

    // ---------------------------------------------------------------- markAssigned (cohort assignment hook)

    function test_markAssigned_assignsAndEmits() public {
        uint256 id = scheduledJob(alice);
        uint256 epoch = jm.getJob(id).scheduledEpoch;
        assertEq(jm.epochSeed(epoch), bytes32(0), "not fixed before the first assignment");
        vm.expectEmit(true, true, true, true);
        emit IJobMarket.CohortAssigned(id, distributor, aggregator, ROOT, 20, "bafy-cohort");
        vm.expectEmit(true, true, true, true);
        emit IJobMarket.JobStatusChanged(
            id,
            IJobMarket.JobStatus.Scheduled,
            IJobMarket.JobStatus.Assigned,
            uint64(block.timestamp + 2 hours)
        );
        vm.prank(attestation);
        bytes32 seed = jm.markAssigned(id, ROOT, 20, "bafy-cohort", distributor, aggregator);
        IJobMarket.Job memory j = jm.getJob(id);
        assertEq(uint8(j.status), uint8(IJobMarket.JobStatus.Assigned));
        assertEq(j.cohortRoot, ROOT);
        assertEq(j.deviceCount, 20);
        assertEq(j.distributor, distributor);
        assertEq(j.aggregator, aggregator);
        assertEq(j.deadline, block.timestamp + 2 hours);
        // the job's seed derives from the epoch seed, which the first assignment fixed
        bytes32 es = jm.epochSeed(epoch);
        assertTrue(es != bytes32(0));
        assertEq(seed, keccak256(abi.encode(es, bytes32("dml.job"), id)));
    }

    /// @dev The cohort root and the aggregator are stored in place of the spent bid fields: the view keeps every
    ///      other field, reads the bid fields as finalisation left them, and a later phase changes none of them.
    function test_markAssigned_bidFieldsGiveWayToTheCohort() public {
        uint256 id = scheduledJob(alice);
        IJobMarket.Job memory before = jm.getJob(id);
        assertEq(before.bid, 2 ether, "the winning bid until assignment");
        assertEq(before.bidEpoch, before.scheduledEpoch);
        assertFalse(before.revealed, "meaningful only while Bidding");
        assertEq(before.aggregator, address(0));
        assertEq(before.cohortRoot, bytes32(0));
        assign(id, 20);
        IJobMarket.Job memory j = jm.getJob(id);
        assertEq(j.cohortRoot, keccak256("root"));
        assertEq(j.aggregator, aggregator);
        assertEq(j.deviceCount, 20);
        assertEq(j.commitHash, bytes20(uint160(1)), "NO_COMMITMENT");
        assertEq(j.deposit, 0);
        assertEq(j.bid, 0);
        assertFalse(j.revealed);
        assertEq(j.bidEpoch, before.scheduledEpoch);
        assertEq(j.customer, before.customer);
        assertEq(j.minDevices, before.minDevices);
        assertEq(j.maxDevices, before.maxDevices);
        assertEq(j.algorithmId, before.algorithmId);
        assertEq(j.escrow, before.escrow);
        assertEq(j.rewardPerDevice, before.rewardPerDevice);
        assertEq(j.minParticipants, before.minParticipants);
        assertEq(j.scheduledEpoch, before.scheduledEpoch);
        assertEq(j.maxStdError, before.maxStdError);
        assertEq(j.commitDuration, before.commitDuration);
        assertEq(j.royaltyBps, before.royaltyBps);
        (, address agg, ) = jm.attestationTerms(id);
        assertEq(agg, aggregator);
        assertEq(jm.settlementTerms(id).aggregator, aggregator);
        vm.prank(attestation);
        jm.markCommitted(id);
        IJobMarket.Job memory c = jm.getJob(id);
        assertEq(c.cohortRoot, keccak256("root"));
        assertEq(c.aggregator, aggregator);
        assertEq(c.maxDevices, before.maxDevices);
    }

    function _expectAssignRevert(
        address who,
        uint256 id,
        bytes32 root,
        uint32 count,
        string memory cid,
        bytes memory err
    ) internal {
        IJobMarket.Job memory before = jm.getJob(id);
        vm.expectRevert(err);
        vm.prank(who);
        jm.markAssigned(id, root, count, cid, distributor, aggregator);
        assertEq(abi.encode(jm.getJob(id)), abi.encode(before));
    }

    function test_markAssigned_reverts() public {
        uint256 id = scheduledJob(alice);
        // only the attestation module (which checks the distributor and the aggregator) may assign
        _expectAssignRevert(
            distributor,
            id,
            ROOT,
            20,
            "c",
            abi.encodeWithSelector(IJobMarket.JobMarketUnauthorizedModule.selector, distributor)
        );
        _expectAssignRevert(
            settlementModule,
            id,
            ROOT,
            20,
            "c",
            abi.encodeWithSelector(IJobMarket.JobMarketUnauthorizedModule.selector, settlementModule)
        );
        _expectAssignRevert(
            attestation,
            id,
            ROOT,
            9,
            "c",
            abi.encodeWithSelector(IJobMarket.JobMarketDeviceCountOutOfRange.selector, 9, 10, 50)
        );
        _expectAssignRevert(
            attestation,
            id,
            ROOT,
            51,
            "c",
            abi.encodeWithSelector(IJobMarket.JobMarketDeviceCountOutOfRange.selector, 51, 10, 50)
        );
        _expectAssignRevert(
            attestation,
            id,
            bytes32(0),
            20,
            "c",
            abi.encodeWithSelector(IJobMarket.JobMarketInvalidCohort.selector)
        );
        _expectAssignRevert(
            attestation,
            id,
            ROOT,
            20,
            "",
            abi.encodeWithSelector(IJobMarket.JobMarketInvalidCohort.selector)
        );
        vm.warp(block.timestamp + 1 hours + 1);
        uint64 deadline = jm.getJob(id).deadline;
        _expectAssignRevert(
            attestation,
            id,
            ROOT,
            20,
            "c",
            abi.encodeWithSelector(IJobMarket.JobMarketDeadlinePassed.selector, id, deadline)
        );
    }

    function test_markAssigned_revertsWhenNotScheduled() public {
        uint256 id = createJobAs(alice);
        _expectAssignRevert(
            attestation,
            id,
            ROOT,
            20,
            "c",
            abi.encodeWithSelector(
                IJobMarket.JobMarketInvalidStatus.selector,
                id,
                IJobMarket.JobStatus.Created
            )
        );
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarketUnknownJob.selector, 77));
        vm.prank(attestation);
        jm.markAssigned(77, ROOT, 20, "c", distributor, aggregator);
        // assigned once: a second assignment is refused
        uint256 s = scheduledJob(bob);
        assign(s, 20);
        _expectAssignRevert(
            attestation,
            s,
            ROOT,
            20,
            "c",
            abi.encodeWithSelector(
                IJobMarket.JobMarketInvalidStatus.selector,
                s,
                IJobMarket.JobStatus.Assigned
            )
        );
    }

    function test_fuzz_markAssigned_deviceCountRange(uint32 count) public {
        uint256 id = scheduledJob(alice);
        vm.prank(attestation);
        if (count < 10 || count > MAX_DEVICES) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IJobMarket.JobMarketDeviceCountOutOfRange.selector,
                    count,
                    10,
                    MAX_DEVICES
                )
            );
            jm.markAssigned(id, ROOT, count, "c", distributor, aggregator);
            assertEq(uint8(jm.status(id)), uint8(IJobMarket.JobStatus.Scheduled));
        } else {
            jm.markAssigned(id, ROOT, count, "c", distributor, aggregator);
            assertEq(jm.getJob(id).deviceCount, count);
        }
    }

    // ---------------------------------------------------------------- epoch seeds (PROTOCOL.md §7.1)

    function test_finalizeEpoch_armsSeedOnNextBlock() public {
        uint256 id = createJobAs(alice);
        uint256 epoch = jm.currentEpoch();
        commitAs(alice, id, 2 ether, 2 ether);
        warpToReveal();
        reveal(id, 2 ether);
        warpToRevealEnd();
        vm.expectEmit(true, true, true, true);
        emit IJobMarket.EpochSeedArmed(epoch, block.number + 1);
        jm.finalizeEpoch(epoch);
        // the armed block is not mined yet: neither fixSeed nor an assignment can use it
        vm.expectRevert(abi.encodeWithSelector(FutureSeed.FutureSeedNotReady.selector, block.number + 1));
        jm.fixSeed(epoch);
        vm.expectRevert(abi.encodeWithSelector(FutureSeed.FutureSeedNotReady.selector, block.number + 1));
        vm.prank(attestation);
        jm.markAssigned(id, ROOT, 20, "c", distributor, aggregator);
        vm.roll(block.number + 1);
        vm.expectRevert(abi.encodeWithSelector(FutureSeed.FutureSeedNotReady.selector, block.number));
        jm.fixSeed(epoch);
        // once it is mined anyone fixes it to that block's hash, once
        uint256 armed = block.number;
        vm.roll(block.number + 1);
        bytes32 expected = blockhash(armed);
        vm.expectEmit(true, true, true, true);
        emit IJobMarket.EpochSeedFixed(epoch, expected);
        vm.prank(dave);
        assertEq(jm.fixSeed(epoch), expected);
        assertEq(jm.epochSeed(epoch), expected);
        vm.roll(block.number + 10);
        assertEq(jm.fixSeed(epoch), expected, "fixed for good");
        assertEq(assign(id, 20), keccak256(abi.encode(expected, bytes32("dml.job"), id)));
    }

    function test_fixSeed_revertsForAnEpochWithoutScheduledJobs() public {
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarketNoSeed.selector, 0));
        jm.fixSeed(0);
        warpToNextEpoch();
        jm.finalizeEpoch(0); // empty epoch: no seed armed
        vm.roll(block.number + 5);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarketNoSeed.selector, 0));
        jm.fixSeed(0);
    }

    function test_fixSeed_rearmsWhenTheHashExpired() public {
        uint256 id = createJobAs(alice);
        uint256 epoch = jm.currentEpoch();
        commitAs(alice, id, 2 ether, 2 ether);
        warpToReveal();
        reveal(id, 2 ether);
        warpToRevealEnd();
        jm.finalizeEpoch(epoch);
        vm.roll(block.number + 300); // the armed block's hash is no longer available
        // an assignment cannot use it (and does not fall back to a known hash)
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarketSeedUnavailable.selector, epoch));
        vm.prank(attestation);
        jm.markAssigned(id, ROOT, 20, "c", distributor, aggregator);
        // fixSeed re-arms on the next block instead
        vm.expectEmit(true, true, true, true);
        emit IJobMarket.EpochSeedArmed(epoch, block.number + 1);
        assertEq(jm.fixSeed(epoch), bytes32(0));
        assertEq(jm.epochSeed(epoch), bytes32(0));
        uint256 armed = block.number + 1;
        vm.roll(block.number + 2);
        bytes32 seed = assign(id, 20);
        assertEq(jm.epochSeed(epoch), blockhash(armed));
        assertEq(seed, keccak256(abi.encode(blockhash(armed), bytes32("dml.job"), id)));
    }

    function test_markAssigned_sameEpochSharesTheEpochSeed() public {
        // two jobs scheduled in one epoch derive distinct seeds from one epoch seed
        uint256 a = createJobAs(alice);
        uint256 b = createJobAs(bob);
        uint256 epoch = jm.currentEpoch();
        commitAs(alice, a, 2 ether, 2 ether);
        commitAs(bob, b, 3 ether, 3 ether);
        warpToReveal();
        reveal(a, 2 ether);
        reveal(b, 3 ether);
        warpToRevealEnd();
        jm.finalizeEpoch(epoch);
        nextBlocks();
        bytes32 sa = assign(a, 20);
        bytes32 es = jm.epochSeed(epoch);
        vm.roll(block.number + 7); // later assignments do not change the epoch seed
        bytes32 sb = assign(b, 20);
        assertEq(jm.epochSeed(epoch), es);
        assertEq(sa, keccak256(abi.encode(es, bytes32("dml.job"), a)));
        assertEq(sb, keccak256(abi.encode(es, bytes32("dml.job"), b)));
        assertTrue(sa != sb);
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

        uint64 deadline = uint64(block.timestamp + 1 hours);
        uint256 before = token.balanceOf(alice);
        vm.expectEmit(true, true, true, true, address(jm));
        emit IJobMarket.JobStatusChanged(
            id,
            IJobMarket.JobStatus.Attested,
            IJobMarket.JobStatus.Reported,
            deadline
        );
        vm.expectEmit(true, true, true, true, address(jm));
        emit IJobMarket.EscrowPaid(id, settlementModule, 65 ether);
        vm.expectEmit(true, true, true, true, address(jm));
        emit IJobMarket.JobStatusChanged(
            id,
            IJobMarket.JobStatus.Reported,
            IJobMarket.JobStatus.Settled,
            deadline
        );
        vm.expectEmit(true, true, true, true, address(jm));
        emit IJobMarket.EscrowRefunded(id, alice, escrow - 65 ether);
        vm.prank(settlementModule);
        jm.settle(id, 65 ether, true, bytes32(0));
        assertEq(uint8(jm.status(id)), uint8(IJobMarket.JobStatus.Settled));
        assertEq(jm.escrowOf(id), 0);
        assertEq(token.balanceOf(settlementModule), 65 ether);
        assertEq(token.balanceOf(alice) - before, escrow - 65 ether);
        assertEq(token.balanceOf(address(jm)), 0);
        assertEq(closedCount(id), 1, "the attestation module is told the job is terminal");
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
        jm.markFailed(id, "x");
        vm.expectRevert(errBob);
        jm.settle(id, 1, true, bytes32(0));
        vm.stopPrank();
        // the settlement module cannot drive attestation hooks and vice versa
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarket.JobMarketUnauthorizedModule.selector, settlementModule)
        );
        vm.prank(settlementModule);
        jm.markCommitted(id);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarketUnauthorizedModule.selector, attestation));
        vm.prank(attestation);
        jm.settle(id, 1, true, bytes32(0));
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
        vm.prank(settlementModule);
        jm.markFailed(id, "x");
        vm.expectRevert(err);
        vm.prank(settlementModule);
        jm.settle(id, 1, true, bytes32(0));
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
        for (uint256 phase = 0; phase < 3; ++phase) {
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
            uint256 escrow = jm.escrowOf(id);
            uint256 before = token.balanceOf(alice);
            vm.expectEmit(true, true, true, true);
            emit IJobMarket.JobFailed(id, "quorum", escrow);
            vm.prank(phase % 2 == 0 ? attestation : settlementModule);
            jm.markFailed(id, "quorum");
            assertEq(uint8(jm.status(id)), uint8(IJobMarket.JobStatus.Failed));
            assertEq(token.balanceOf(alice) - before, escrow);
            assertEq(jm.escrowOf(id), 0);
            assertEq(closedCount(id), 1, "terminal hook");
        }
        assertEq(token.balanceOf(address(jm)), 0);
    }

    function test_markFailed_revertsOnceSettledOrFailed() public {
        uint256 id = attestedJob(alice);
        vm.prank(settlementModule);
        jm.settle(id, 1 ether, true, bytes32(0));
        vm.expectRevert(
            abi.encodeWithSelector(
                IJobMarket.JobMarketInvalidStatus.selector,
                id,
                IJobMarket.JobStatus.Settled
            )
        );
        vm.prank(settlementModule);
        jm.markFailed(id, "late");
        warpToNextEpoch();
        uint256 f = attestedJob(alice);
        vm.prank(attestation);
        jm.markFailed(f, "quorum");
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarket.JobMarketInvalidStatus.selector, f, IJobMarket.JobStatus.Failed)
        );
        vm.prank(settlementModule);
        jm.markFailed(f, "again");
        assertEq(token.balanceOf(address(jm)), 0);
    }

    // ---------------------------------------------------------------- settle

    /// @dev Balances and job state that a rejected `settle` must leave untouched.
    struct Snapshot {
        uint256 market;
        uint256 module;
        uint256 customer;
        bytes job;
    }

    function _snap(uint256 id) internal view returns (Snapshot memory s) {
        s.market = token.balanceOf(address(jm));
        s.module = token.balanceOf(settlementModule);
        s.customer = token.balanceOf(alice);
        s.job = abi.encode(jm.getJob(id));
    }

    function _assertUnchanged(uint256 id, Snapshot memory s) internal view {
        assertEq(token.balanceOf(address(jm)), s.market, "market balance");
        assertEq(token.balanceOf(settlementModule), s.module, "module balance");
        assertEq(token.balanceOf(alice), s.customer, "customer balance");
        assertEq(abi.encode(jm.getJob(id)), s.job, "job");
    }

    function _expectSettleRevert(address who, uint256 id, uint256 amount, bytes memory err) internal {
        Snapshot memory s = _snap(id);
        vm.expectRevert(err);
        vm.prank(who);
        jm.settle(id, amount, true, bytes32(0));
        _assertUnchanged(id, s);
    }

    /// @dev Logs emitted by the JobMarket itself since `vm.recordLogs`.
    function _marketLogs() internal returns (Vm.Log[] memory out) {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        uint256 n;
        for (uint256 i = 0; i < logs.length; ++i) if (logs[i].emitter == address(jm)) ++n;
        out = new Vm.Log[](n);
        n = 0;
        for (uint256 i = 0; i < logs.length; ++i) if (logs[i].emitter == address(jm)) out[n++] = logs[i];
    }

    function test_settle_revertsForAnyoneButTheSettlementModule() public {
        uint256 id = attestedJob(alice);
        address[6] memory callers = [alice, bob, attestation, distributor, aggregator, governance];
        for (uint256 i = 0; i < callers.length; ++i) {
            _expectSettleRevert(
                callers[i],
                id,
                1 ether,
                abi.encodeWithSelector(IJobMarket.JobMarketUnauthorizedModule.selector, callers[i])
            );
        }
    }

    function test_settle_revertsWhenSettlementModuleUnset() public {
        uint256 id = attestedJob(alice);
        bytes32 role = jm.SETTLEMENT_MODULE();
        vm.prank(governance);
        jm.setModule(role, address(0));
        _expectSettleRevert(
            settlementModule,
            id,
            0,
            abi.encodeWithSelector(IJobMarket.JobMarketUnauthorizedModule.selector, settlementModule)
        );
        // the zero address never passes as the unset module
        _expectSettleRevert(
            address(0),
            id,
            0,
            abi.encodeWithSelector(IJobMarket.JobMarketUnauthorizedModule.selector, address(0))
        );
    }

    /// @dev Governance replaces the settlement module mid-job: the old one is locked out, the new one settles
    ///      and is the one paid.
    function test_settle_paysTheCurrentModule() public {
        uint256 id = attestedJob(alice);
        address next = makeAddr("settlementModuleV2");
        bytes32 role = jm.SETTLEMENT_MODULE();
        vm.prank(governance);
        jm.setModule(role, next);
        _expectSettleRevert(
            settlementModule,
            id,
            1 ether,
            abi.encodeWithSelector(IJobMarket.JobMarketUnauthorizedModule.selector, settlementModule)
        );
        vm.expectEmit(true, true, true, true, address(jm));
        emit IJobMarket.EscrowPaid(id, next, 4 ether);
        vm.prank(next);
        jm.settle(id, 4 ether, true, bytes32(0));
        assertEq(token.balanceOf(next), 4 ether);
        assertEq(token.balanceOf(settlementModule), 0);
    }

    function _expectSettleStatusRevert(uint256 id, IJobMarket.JobStatus s) internal {
        assertEq(uint8(jm.status(id)), uint8(s));
        _expectSettleRevert(
            settlementModule,
            id,
            0,
            abi.encodeWithSelector(IJobMarket.JobMarketInvalidStatus.selector, id, s)
        );
    }

    function test_settle_revertsOnEveryNonAttestedStatus() public {
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarketUnknownJob.selector, 42));
        vm.prank(settlementModule);
        jm.settle(42, 0, true, bytes32(0));

        _expectSettleStatusRevert(createJobAs(alice), IJobMarket.JobStatus.Created);
        uint256 bidding = createJobAs(alice);
        commitAs(alice, bidding, 2 ether, 2 ether);
        _expectSettleStatusRevert(bidding, IJobMarket.JobStatus.Bidding);
        uint256 cancelled = createJobAs(alice);
        vm.prank(alice);
        jm.withdrawJob(cancelled);
        _expectSettleStatusRevert(cancelled, IJobMarket.JobStatus.Cancelled);

        warpToNextEpoch();
        _expectSettleStatusRevert(scheduledJob(alice), IJobMarket.JobStatus.Scheduled);
        warpToNextEpoch();
        _expectSettleStatusRevert(assignedJob(alice), IJobMarket.JobStatus.Assigned);
        warpToNextEpoch();
        _expectSettleStatusRevert(committedJob(alice), IJobMarket.JobStatus.Committed);

        warpToNextEpoch();
        uint256 settled = attestedJob(alice);
        vm.prank(settlementModule);
        jm.settle(settled, 1 ether, true, bytes32(0));
        _expectSettleStatusRevert(settled, IJobMarket.JobStatus.Settled);

        warpToNextEpoch();
        uint256 failed = attestedJob(alice);
        vm.prank(settlementModule);
        jm.settle(failed, 0, false, "quality");
        _expectSettleStatusRevert(failed, IJobMarket.JobStatus.Failed);

        warpToNextEpoch();
        uint256 marked = attestedJob(alice);
        vm.prank(attestation);
        jm.markFailed(marked, "quorum");
        _expectSettleStatusRevert(marked, IJobMarket.JobStatus.Failed);

        warpToNextEpoch();
        uint256 expired = attestedJob(alice);
        vm.warp(block.timestamp + 1 hours + 1);
        jm.timeout(expired);
        _expectSettleStatusRevert(expired, IJobMarket.JobStatus.Expired);
        // the settled, failed, expired and cancelled jobs hold nothing; the five live ones their budget (and the
        // Bidding job its deposit)
        assertEq(token.balanceOf(address(jm)), 5 * defaultBudget() + 2 ether);
    }

    function test_settle_revertsAfterTheReportDeadline() public {
        uint256 id = attestedJob(alice);
        uint64 deadline = jm.getJob(id).deadline;
        assertEq(deadline, block.timestamp + 1 hours);
        vm.warp(uint256(deadline) + 1);
        _expectSettleRevert(
            settlementModule,
            id,
            1 ether,
            abi.encodeWithSelector(IJobMarket.JobMarketDeadlinePassed.selector, id, deadline)
        );
    }

    function test_settle_succeedsAtTheReportDeadline() public {
        uint256 id = attestedJob(alice);
        vm.warp(jm.getJob(id).deadline);
        vm.prank(settlementModule);
        jm.settle(id, 1 ether, true, bytes32(0));
        assertEq(uint8(jm.status(id)), uint8(IJobMarket.JobStatus.Settled));
        // a settled job cannot time out afterwards
        vm.warp(block.timestamp + 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IJobMarket.JobMarketInvalidStatus.selector,
                id,
                IJobMarket.JobStatus.Settled
            )
        );
        jm.timeout(id);
    }

    function test_settle_revertsAboveEscrow() public {
        uint256 id = attestedJob(alice);
        uint256 escrow = jm.escrowOf(id);
        assertEq(escrow, defaultBudget());
        _expectSettleRevert(
            settlementModule,
            id,
            escrow + 1,
            abi.encodeWithSelector(IJobMarket.JobMarketInsufficientEscrow.selector, id, escrow, escrow + 1)
        );
        _expectSettleRevert(
            settlementModule,
            id,
            type(uint256).max,
            abi.encodeWithSelector(
                IJobMarket.JobMarketInsufficientEscrow.selector,
                id,
                escrow,
                type(uint256).max
            )
        );
        // other jobs' escrow is not reachable: the market holds more than this job's escrow
        warpToNextEpoch();
        createJobAs(bob);
        assertGt(token.balanceOf(address(jm)), escrow);
        _expectSettleRevert(
            settlementModule,
            id,
            escrow + 1,
            abi.encodeWithSelector(IJobMarket.JobMarketInsufficientEscrow.selector, id, escrow, escrow + 1)
        );
    }

    function test_settle_successPaysModuleAndRefundsCustomer() public {
        uint256 id = attestedJob(alice);
        uint256 escrow = jm.escrowOf(id);
        uint256 amount = 42 ether;
        uint64 deadline = jm.getJob(id).deadline;
        uint256 customerBefore = token.balanceOf(alice);
        uint256 marketBefore = token.balanceOf(address(jm));

        vm.recordLogs();
        vm.expectEmit(true, true, true, true, address(jm));
        emit IJobMarket.JobStatusChanged(
            id,
            IJobMarket.JobStatus.Attested,
            IJobMarket.JobStatus.Reported,
            deadline
        );
        vm.expectEmit(true, true, true, true, address(jm));
        emit IJobMarket.EscrowPaid(id, settlementModule, amount);
        vm.expectEmit(true, true, true, true, address(jm));
        emit IJobMarket.JobStatusChanged(
            id,
            IJobMarket.JobStatus.Reported,
            IJobMarket.JobStatus.Settled,
            deadline
        );
        vm.expectEmit(true, true, true, true, address(jm));
        emit IJobMarket.EscrowRefunded(id, alice, escrow - amount);
        vm.prank(settlementModule);
        jm.settle(id, amount, true, "ignored-on-success");
        assertEq(_marketLogs().length, 4, "exactly four JobMarket events");

        assertEq(token.balanceOf(settlementModule), amount);
        assertEq(token.balanceOf(alice), customerBefore + escrow - amount);
        assertEq(token.balanceOf(address(jm)), marketBefore - escrow);
        IJobMarket.Job memory j = jm.getJob(id);
        assertEq(uint8(j.status), uint8(IJobMarket.JobStatus.Settled));
        assertEq(j.escrow, 0);
        assertEq(j.deadline, deadline);
        assertEq(jm.escrowOf(id), 0);
        assertEq(jm.settlementTerms(id).escrow, 0);
    }

    function test_settle_failureRefundsRestWithReason() public {
        uint256 id = attestedJob(alice);
        uint256 escrow = jm.escrowOf(id);
        uint256 amount = 7 ether; // e.g. what the module keeps for the nodes that did their part
        uint64 deadline = jm.getJob(id).deadline;
        uint256 customerBefore = token.balanceOf(alice);

        vm.recordLogs();
        vm.expectEmit(true, true, true, true, address(jm));
        emit IJobMarket.JobStatusChanged(
            id,
            IJobMarket.JobStatus.Attested,
            IJobMarket.JobStatus.Reported,
            deadline
        );
        vm.expectEmit(true, true, true, true, address(jm));
        emit IJobMarket.EscrowPaid(id, settlementModule, amount);
        vm.expectEmit(true, true, true, true, address(jm));
        emit IJobMarket.JobFailed(id, "stderr", escrow - amount);
        vm.expectEmit(true, true, true, true, address(jm));
        emit IJobMarket.JobStatusChanged(
            id,
            IJobMarket.JobStatus.Reported,
            IJobMarket.JobStatus.Failed,
            deadline
        );
        vm.expectEmit(true, true, true, true, address(jm));
        emit IJobMarket.EscrowRefunded(id, alice, escrow - amount);
        vm.prank(settlementModule);
        jm.settle(id, amount, false, "stderr");
        assertEq(_marketLogs().length, 5, "exactly five JobMarket events");

        assertEq(uint8(jm.status(id)), uint8(IJobMarket.JobStatus.Failed));
        assertEq(jm.escrowOf(id), 0);
        assertEq(token.balanceOf(settlementModule), amount);
        assertEq(token.balanceOf(alice), customerBefore + escrow - amount);
        assertEq(token.balanceOf(address(jm)), 0);
    }

    function test_settle_zeroAmountRefundsEverythingWithoutPayment() public {
        uint256 id = attestedJob(alice);
        uint256 escrow = jm.escrowOf(id);
        uint256 customerBefore = token.balanceOf(alice);
        vm.recordLogs();
        vm.prank(settlementModule);
        jm.settle(id, 0, false, "no-result");
        Vm.Log[] memory logs = _marketLogs();
        assertEq(logs.length, 4, "Reported, JobFailed, Failed, EscrowRefunded");
        for (uint256 i = 0; i < logs.length; ++i) {
            assertTrue(logs[i].topics[0] != IJobMarket.EscrowPaid.selector, "no EscrowPaid for 0");
        }
        assertEq(logs[1].topics[0], IJobMarket.JobFailed.selector);
        (bytes32 reason, uint256 refunded) = abi.decode(logs[1].data, (bytes32, uint256));
        assertEq(reason, "no-result");
        assertEq(refunded, escrow);
        assertEq(logs[3].topics[0], IJobMarket.EscrowRefunded.selector);
        assertEq(token.balanceOf(settlementModule), 0);
        assertEq(token.balanceOf(alice), customerBefore + escrow);
        assertEq(token.balanceOf(address(jm)), 0);
        assertEq(uint8(jm.status(id)), uint8(IJobMarket.JobStatus.Failed));
    }

    function test_settle_fullEscrowPaysModuleWithoutRefund() public {
        uint256 id = attestedJob(alice);
        uint256 escrow = jm.escrowOf(id);
        uint256 customerBefore = token.balanceOf(alice);
        vm.recordLogs();
        vm.prank(settlementModule);
        jm.settle(id, escrow, true, bytes32(0));
        Vm.Log[] memory logs = _marketLogs();
        assertEq(logs.length, 3, "Reported, EscrowPaid, Settled");
        assertEq(logs[1].topics[0], IJobMarket.EscrowPaid.selector);
        for (uint256 i = 0; i < logs.length; ++i) {
            assertTrue(logs[i].topics[0] != IJobMarket.EscrowRefunded.selector, "no EscrowRefunded for 0");
        }
        assertEq(token.balanceOf(settlementModule), escrow);
        assertEq(token.balanceOf(alice), customerBefore);
        assertEq(token.balanceOf(address(jm)), 0);
        assertEq(jm.escrowOf(id), 0);
        assertEq(uint8(jm.status(id)), uint8(IJobMarket.JobStatus.Settled));
    }

    function test_fuzz_settle_conservesTokens(uint256 amount, bool success, bytes32 reason) public {
        uint256 other = createJobAs(bob); // another job's escrow stays put
        uint256 id = attestedJob(alice);
        uint256 escrow = jm.escrowOf(id);
        amount = bound(amount, 0, escrow);
        uint256 marketBefore = token.balanceOf(address(jm));
        uint256 customerBefore = token.balanceOf(alice);
        uint256 supply = token.totalSupply();
        vm.prank(settlementModule);
        jm.settle(id, amount, success, reason);
        assertEq(token.balanceOf(settlementModule), amount);
        assertEq(token.balanceOf(alice) - customerBefore, escrow - amount);
        assertEq(marketBefore - token.balanceOf(address(jm)), escrow);
        assertEq(token.balanceOf(address(jm)), jm.escrowOf(other));
        assertEq(token.totalSupply(), supply);
        assertEq(jm.escrowOf(id), 0);
        assertEq(
            uint8(jm.status(id)),
            uint8(success ? IJobMarket.JobStatus.Settled : IJobMarket.JobStatus.Failed)
        );
    }

    // ---------------------------------------------------------------- module views

    function test_attestationTerms_followTheJob() public {
        uint256 id = createJobAs(alice);
        (IJobMarket.JobStatus st, address agg, uint32 dur) = jm.attestationTerms(id);
        assertEq(uint8(st), uint8(IJobMarket.JobStatus.Created));
        assertEq(agg, address(0));
        assertEq(dur, 1 hours);
        warpToNextEpoch();
        uint256 a = assignedJob(alice);
        (st, agg, dur) = jm.attestationTerms(a);
        assertEq(uint8(st), uint8(IJobMarket.JobStatus.Assigned));
        assertEq(agg, aggregator);
        assertEq(dur, defaultDurations().attestation);
        vm.prank(attestation);
        jm.markCommitted(a);
        (st, agg, ) = jm.attestationTerms(a);
        assertEq(uint8(st), uint8(IJobMarket.JobStatus.Committed));
        assertEq(agg, aggregator);
    }

    function test_attestationTerms_customDuration() public {
        IJobMarket.JobSpec memory s = defaultSpec();
        s.durations.attestation = 3 hours;
        vm.prank(alice);
        uint256 id = jm.createJob(s);
        (, , uint32 dur) = jm.attestationTerms(id);
        assertEq(dur, 3 hours);
    }

    /// @dev attestationTerms never reverts (the attestation module checks the status itself): an unknown id
    ///      reads as status None with no aggregator.
    function test_attestationTerms_unknownJobReadsNone() public view {
        (IJobMarket.JobStatus st, address agg, uint32 dur) = jm.attestationTerms(12345);
        assertEq(uint8(st), uint8(IJobMarket.JobStatus.None));
        assertEq(agg, address(0));
        assertEq(dur, 0);
    }

    function test_settlementTerms_matchTheJob() public {
        uint256 id = attestedJob(alice);
        IJobMarket.SettlementTerms memory t = jm.settlementTerms(id);
        IJobMarket.Job memory j = jm.getJob(id);
        assertEq(uint8(t.status), uint8(IJobMarket.JobStatus.Attested));
        assertEq(t.deadline, j.deadline);
        assertEq(t.deadline, block.timestamp + 1 hours);
        assertEq(t.maxDevices, MAX_DEVICES);
        assertEq(t.deviceCount, 20);
        assertEq(t.minParticipants, 8);
        assertEq(t.rewardPerDevice, REWARD);
        assertEq(t.algorithmId, algorithmId);
        assertEq(t.escrow, defaultBudget());
        assertEq(abi.encode(t.fees), abi.encode(defaultParams().fees));
        assertEq(t.distributor, distributor);
        assertEq(t.aggregator, aggregator);
    }

    function test_settlementTerms_beforeAssignmentAndAfterSettlement() public {
        uint256 id = createJobAs(alice);
        IJobMarket.SettlementTerms memory t = jm.settlementTerms(id);
        assertEq(uint8(t.status), uint8(IJobMarket.JobStatus.Created));
        assertEq(t.deviceCount, 0);
        assertEq(t.distributor, address(0));
        assertEq(t.aggregator, address(0));
        assertEq(t.escrow, defaultBudget());
        warpToNextEpoch();
        uint256 s = attestedJob(bob);
        vm.prank(settlementModule);
        jm.settle(s, 3 ether, true, bytes32(0));
        t = jm.settlementTerms(s);
        assertEq(uint8(t.status), uint8(IJobMarket.JobStatus.Settled));
        assertEq(t.escrow, 0);
        assertEq(t.aggregator, aggregator);
    }

    function test_settlementTerms_revertsForUnknownJob() public {
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarketUnknownJob.selector, 0));
        jm.settlementTerms(0);
        createJobAs(alice);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarketUnknownJob.selector, 2));
        jm.settlementTerms(2);
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
        // only a job that had a cohort reaches the attestation module's terminal hook
        assertEq(closedCount(id), from >= IJobMarket.JobStatus.Assigned ? 1 : 0);
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

    function test_timeout_committedAttested() public {
        _expire(committedJob(alice), IJobMarket.JobStatus.Committed);
        warpToNextEpoch();
        _expire(attestedJob(alice), IJobMarket.JobStatus.Attested);
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
