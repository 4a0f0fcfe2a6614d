// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Vm} from "forge-std/Vm.sol";
import {IERC1967} from "@openzeppelin/contracts/interfaces/IERC1967.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {LifecycleFixture} from "./utils/LifecycleFixture.sol";
import {ResultAttestation} from "../contracts/ResultAttestation.sol";
import {IJobMarket} from "../contracts/interfaces/IJobMarket.sol";
import {INodeStaking} from "../contracts/interfaces/INodeStaking.sol";
import {IGovernedUUPS} from "../contracts/interfaces/IGovernedUUPS.sol";
import {IResultAttestation} from "../contracts/interfaces/IResultAttestation.sol";
import {IAttestationQuorum} from "../contracts/interfaces/IAttestationQuorum.sol";
import {IGrowthPool} from "../contracts/interfaces/IGrowthPool.sol";
import {ResultAttestationV2} from "./mocks/ResultAttestationV2.sol";

contract ResultAttestationTest is LifecycleFixture {
    bytes32 internal constant AGG = keccak256("aggregate");
    bytes32 internal constant LIE = keccak256("lie");

    // ------------------------------------------------------------------------------------------- init / params

    function test_initialize_setsWiringAndParams() public view {
        assertEq(address(ra.jobMarket()), address(jm));
        assertEq(address(ra.staking()), address(staking));
        assertEq(IGovernedUUPS(address(ra)).governance(), governance);
        IResultAttestation.Params memory p = ra.params();
        assertEq(p.quorum, Q);
        assertEq(p.slashAmount, SLASH);
    }

    function test_initialize_revertsTwice() public {
        vm.expectRevert(bytes4(keccak256("InvalidInitialization()")));
        ra.initialize(governance, jm, staking, IGrowthPool(address(pool)), raParams());
    }

    function test_initialize_revertsOnZeroAddress() public {
        address impl = address(new ResultAttestation());
        vm.expectRevert(IResultAttestation.AttestationZeroAddress.selector);
        deployProxy(
            impl,
            abi.encodeCall(
                ResultAttestation.initialize,
                (governance, IJobMarket(address(0)), staking, IGrowthPool(address(pool)), raParams())
            )
        );
    }

    function test_setParams_updatesAndEmits() public {
        IResultAttestation.Params memory p = raParams();
        p.quorum = 5;
        vm.expectEmit(address(ra));
        emit IResultAttestation.ParamsUpdated(p);
        vm.prank(governance);
        ra.setParams(p);
        assertEq(ra.params().quorum, 5);
    }

    function test_setParams_revertsForNonGovernance() public {
        IResultAttestation.Params memory p = raParams();
        vm.expectRevert(abi.encodeWithSelector(IGovernedUUPS.GovernedUnauthorized.selector, alice));
        vm.prank(alice);
        ra.setParams(p);
    }

    function test_setParams_revertsOnInvalid() public {
        IResultAttestation.Params memory p = raParams();
        p.quorum = 0;
        vm.startPrank(governance);
        vm.expectRevert(IResultAttestation.AttestationInvalidParams.selector);
        ra.setParams(p);
        p.quorum = 16;
        vm.expectRevert(IResultAttestation.AttestationInvalidParams.selector);
        ra.setParams(p);
        p.quorum = 3;
        p.commitWindowBps = 6_000;
        p.revealWindowBps = 4_000;
        vm.expectRevert(IResultAttestation.AttestationInvalidParams.selector);
        ra.setParams(p);
        vm.stopPrank();
    }

    function test_upgrade_preservesStorage() public {
        uint256 jobId = assignedJob(20);
        commitAggregate(jobId, AGG);
        ResultAttestationV2 v2 = new ResultAttestationV2();
        vm.expectEmit(address(ra));
        emit IERC1967.Upgraded(address(v2));
        vm.prank(governance);
        UUPSUpgradeable(address(ra)).upgradeToAndCall(
            address(v2),
            abi.encodeCall(ResultAttestationV2.initializeV2, ())
        );
        assertEq(ResultAttestationV2(address(ra)).version(), 2);
        assertEq(uint8(ra.statusOf(jobId)), uint8(IResultAttestation.Status.Committed));
        assertEq(ra.attestationOf(jobId).attestors.length, Q);
        assertEq(ra.params().quorum, Q);
    }

    function test_upgrade_revertsForNonGovernance() public {
        ResultAttestationV2 v2 = new ResultAttestationV2();
        vm.expectRevert(abi.encodeWithSelector(IGovernedUUPS.GovernedUnauthorized.selector, alice));
        vm.prank(alice);
        UUPSUpgradeable(address(ra)).upgradeToAndCall(address(v2), "");
    }

    // ------------------------------------------------------------------------------------------- assignCohort

    function test_assignCohort_drawsDistinctAttestorsFromTheJobSeed() public {
        // The aggregator also stakes as attestor: it must never be drawn for its own job.
        _operator(aggregator, INodeStaking.Role.Attestor);
        uint256 jobId = scheduledJob();
        uint256 epoch = jm.getJob(jobId).scheduledEpoch;
        vm.recordLogs();
        _assignCohort(distributor, jobId, keccak256("cohort"), 20, "bafy-cohort", aggregator);
        bytes32 jobSeed = keccak256(abi.encode(jm.epochSeed(epoch), bytes32("dml.job"), jobId));
        assertTrue(jm.epochSeed(epoch) != bytes32(0), "the first assignment fixed the epoch seed");

        IJobMarket.Job memory j = jm.getJob(jobId);
        assertEq(uint8(j.status), uint8(IJobMarket.JobStatus.Assigned));
        assertEq(j.distributor, distributor);
        assertEq(j.aggregator, aggregator);
        assertEq(j.deviceCount, 20);
        IResultAttestation.Attestation memory a = ra.attestationOf(jobId);
        assertEq(uint8(a.status), uint8(IResultAttestation.Status.Drawn));
        assertEq(uint8(ra.statusOf(jobId)), uint8(IResultAttestation.Status.Drawn));
        assertEq(a.aggregator, aggregator);
        assertEq(a.distributor, distributor);
        assertEq(a.lockAmount, SLASH);
        assertEq(a.aggregatorCommitment, bytes32(0));
        assertEq(a.attestors.length, Q);
        for (uint256 i = 0; i < Q; ++i) {
            assertTrue(a.attestors[i] != aggregator);
            assertTrue(staking.isActive(a.attestors[i], INodeStaking.Role.Attestor));
            for (uint256 k = 0; k < i; ++k) assertTrue(a.attestors[i] != a.attestors[k]);
        }
        // AttestorsDrawn carries the job's seed and the drawn attestors.
        Vm.Log[] memory logs = vm.getRecordedLogs();
        bool found = false;
        for (uint256 i = 0; i < logs.length; ++i) {
            if (
                logs[i].emitter != address(ra) ||
                logs[i].topics[0] != IResultAttestation.AttestorsDrawn.selector
            ) continue;
            found = true;
            assertEq(uint256(logs[i].topics[1]), jobId);
            assertEq(address(uint160(uint256(logs[i].topics[2]))), distributor);
            (bytes32 seed, , address[] memory chosen) = abi.decode(
                logs[i].data,
                (bytes32, uint256, address[])
            );
            assertEq(seed, jobSeed);
            assertEq(chosen, a.attestors);
        }
        assertTrue(found, "AttestorsDrawn emitted");
    }

    function _expectAssignRevert(address who, uint32 count, address agg, bytes memory err) internal {
        uint256 jobId = jm.jobCount();
        vm.expectRevert(err);
        _assignCohort(who, jobId, keccak256("cohort"), count, "bafy-cohort", agg);
        assertEq(uint8(ra.statusOf(jobId)), uint8(IResultAttestation.Status.None));
        assertEq(uint8(jm.status(jobId)), uint8(IJobMarket.JobStatus.Scheduled));
    }

    function test_assignCohort_reverts() public {
        uint256 jobId = scheduledJob();
        _expectAssignRevert(
            alice,
            20,
            aggregator,
            abi.encodeWithSelector(IResultAttestation.AttestationNotDistributor.selector, alice)
        );
        // an aggregator is not a distributor
        _expectAssignRevert(
            aggregator,
            20,
            aggregator,
            abi.encodeWithSelector(IResultAttestation.AttestationNotDistributor.selector, aggregator)
        );
        _expectAssignRevert(
            distributor,
            20,
            alice,
            abi.encodeWithSelector(IResultAttestation.AttestationInactiveAggregator.selector, alice)
        );
        // the JobMarket's checks: count within the job's range, a cohort root and CID
        _expectAssignRevert(
            distributor,
            51,
            aggregator,
            abi.encodeWithSelector(IJobMarket.JobMarketDeviceCountOutOfRange.selector, 51, 10, 50)
        );
        // kMin is enforced whatever the job asks for
        IResultAttestation.Params memory p = raParams();
        p.kMin = 15;
        vm.prank(governance);
        ra.setParams(p);
        _expectAssignRevert(
            distributor,
            12,
            aggregator,
            abi.encodeWithSelector(IResultAttestation.AttestationCohortTooSmall.selector, 12, 15)
        );
        // a distributor that started unbonding is no longer active
        vm.prank(distributor);
        staking.requestUnbond(INodeStaking.Role.Distributor, MIN_STAKE);
        _expectAssignRevert(
            distributor,
            20,
            aggregator,
            abi.encodeWithSelector(IResultAttestation.AttestationNotDistributor.selector, distributor)
        );
        _operator(distributor, INodeStaking.Role.Distributor);
        _assignCohort(distributor, jobId, keccak256("cohort"), 15, "bafy-cohort", aggregator);
        assertEq(jm.getJob(jobId).deviceCount, 15);
        // assigned once
        vm.expectRevert(
            abi.encodeWithSelector(
                IJobMarket.JobMarketInvalidStatus.selector,
                jobId,
                IJobMarket.JobStatus.Assigned
            )
        );
        _assignCohort(distributor, jobId, keccak256("cohort"), 20, "bafy-cohort", aggregator);
        assertEq(jm.getJob(jobId).deviceCount, 15);
    }

    function test_assignCohort_revertsWithTooFewAttestors() public {
        IResultAttestation.Params memory p = raParams();
        p.quorum = 6;
        vm.prank(governance);
        ra.setParams(p);
        uint256 jobId = scheduledJob();
        vm.expectRevert(abi.encodeWithSelector(IAttestationQuorum.QuorumNotEnoughAttestors.selector, 5, 6));
        _assignCohort(distributor, jobId, keccak256("cohort"), 20, "bafy-cohort", aggregator);
        assertEq(uint8(jm.status(jobId)), uint8(IJobMarket.JobStatus.Scheduled));
    }

    function test_onJobClosed_onlyTheJobMarketReleasesTheLock() public {
        uint256 jobId = assignedJob(20);
        assertEq(ra.attestationOf(jobId).lockAmount, SLASH);
        vm.expectRevert(abi.encodeWithSelector(IResultAttestation.AttestationNotJobMarket.selector, alice));
        vm.prank(alice);
        ra.onJobClosed(jobId, distributor);
        assertEq(staking.lockedOf(distributor, INodeStaking.Role.Distributor), SLASH);
        // the job expires in Assigned: the JobMarket tells the module, which releases the lock once
        vm.warp(uint256(jm.getJob(jobId).deadline) + 1);
        jm.timeout(jobId);
        assertNoLocks(jobId);
        // a job the module never bound is a no-op
        vm.prank(address(jm));
        ra.onJobClosed(999, distributor);
        assertEq(uint8(ra.statusOf(999)), uint8(IResultAttestation.Status.None));
    }

    // ------------------------------------------------------------------------------------------- commitAggregate

    function test_commitAggregate_bindsTheAggregatorAndOpensWindows() public {
        uint256 jobId = assignedJob(20);
        address[] memory drawn = attestorsOf(jobId);
        bytes32 c = keccak256(abi.encode(AGG, aggSalt(jobId)));
        uint64 cd = uint64(block.timestamp + (1 hours * 4_000) / BPS);
        uint64 rd = cd + uint64((1 hours * 4_000) / BPS);
        vm.expectEmit(address(ra));
        emit IResultAttestation.AggregateCommitted(jobId, aggregator, c, TRANSCRIPT, cd, rd);
        vm.prank(aggregator);
        ra.commitAggregate(jobId, c, TRANSCRIPT);
        assertEq(uint8(jm.status(jobId)), uint8(IJobMarket.JobStatus.Committed));
        IResultAttestation.Attestation memory a = ra.attestationOf(jobId);
        assertEq(uint8(a.status), uint8(IResultAttestation.Status.Committed));
        assertEq(a.aggregator, aggregator);
        assertEq(a.aggregatorCommitment, c);
        assertEq(a.aggregateHash, bytes32(0));
        assertEq(a.finalHash, bytes32(0));
        assertEq(a.commitDeadline, cd);
        assertEq(a.revealDeadline, rd);
        // the attestors were drawn at assignment; the aggregator's transaction does not redraw them
        assertEq(a.attestors, drawn);
    }

    function test_commitAggregate_revertsForNonAggregator() public {
        uint256 jobId = assignedJob(20);
        vm.expectRevert(
            abi.encodeWithSelector(IResultAttestation.AttestationNotAggregator.selector, jobId, alice)
        );
        vm.prank(alice);
        ra.commitAggregate(jobId, keccak256("c"), TRANSCRIPT);
    }

    function test_commitAggregate_revertsWhenNotAssigned() public {
        uint256 jobId = scheduledJob();
        vm.expectRevert(
            abi.encodeWithSelector(
                IResultAttestation.AttestationInvalidStatus.selector,
                jobId,
                IResultAttestation.Status.None
            )
        );
        vm.prank(aggregator);
        ra.commitAggregate(jobId, keccak256("c"), TRANSCRIPT);
    }

    function test_commitAggregate_revertsTwice() public {
        uint256 jobId = assignedJob(20);
        commitAggregate(jobId, AGG);
        vm.expectRevert(
            abi.encodeWithSelector(
                IResultAttestation.AttestationInvalidStatus.selector,
                jobId,
                IResultAttestation.Status.Committed
            )
        );
        vm.prank(aggregator);
        ra.commitAggregate(jobId, keccak256("c"), TRANSCRIPT);
    }

    function test_commitAggregate_revertsOnInvalidCommitment() public {
        uint256 jobId = assignedJob(20);
        vm.startPrank(aggregator);
        vm.expectRevert(IResultAttestation.AttestationInvalidCommitment.selector);
        ra.commitAggregate(jobId, bytes32(0), TRANSCRIPT);
        vm.expectRevert(IResultAttestation.AttestationInvalidCommitment.selector);
        ra.commitAggregate(jobId, keccak256("c"), "");
        vm.stopPrank();
    }

    // ------------------------------------------------------------------------------------------- commit / reveal

    function test_commitAttestation_recordsAndEmits() public {
        uint256 jobId = assignedJob(20);
        commitAggregate(jobId, AGG);
        address a0 = attestorsOf(jobId)[0];
        bytes32 c = keccak256(abi.encode(AGG, attSalt(jobId, a0), a0));
        vm.expectEmit(address(ra));
        emit IResultAttestation.AttestationCommitted(jobId, a0, c);
        vm.prank(a0);
        ra.commitAttestation(jobId, c);
        assertEq(ra.attestationOf(jobId).committedMask, 1);
    }

    function test_commitAttestation_reverts() public {
        uint256 jobId = assignedJob(20);
        // drawn, but the aggregator has not bound itself yet: nothing to attest
        address first = attestorsOf(jobId)[0];
        vm.expectRevert(
            abi.encodeWithSelector(
                IResultAttestation.AttestationInvalidStatus.selector,
                jobId,
                IResultAttestation.Status.Drawn
            )
        );
        vm.prank(first);
        ra.commitAttestation(jobId, keccak256("x"));
        commitAggregate(jobId, AGG);
        address a0 = attestorsOf(jobId)[0];
        vm.expectRevert(abi.encodeWithSelector(IAttestationQuorum.QuorumNotMember.selector, alice));
        vm.prank(alice);
        ra.commitAttestation(jobId, keccak256("x"));
        vm.expectRevert(IAttestationQuorum.QuorumZeroValue.selector);
        vm.prank(a0);
        ra.commitAttestation(jobId, bytes32(0));
        commitAtt(jobId, a0, AGG);
        vm.expectRevert(abi.encodeWithSelector(IAttestationQuorum.QuorumAlreadyCommitted.selector, a0));
        vm.prank(a0);
        ra.commitAttestation(jobId, keccak256("x"));
        IResultAttestation.Attestation memory a = ra.attestationOf(jobId);
        vm.warp(a.commitDeadline + 1);
        address a1 = attestorsOf(jobId)[1];
        vm.expectRevert(
            abi.encodeWithSelector(IAttestationQuorum.QuorumNotInCommitPhase.selector, a.commitDeadline)
        );
        vm.prank(a1);
        ra.commitAttestation(jobId, keccak256("x"));
    }

    function test_revealAttestation_reverts() public {
        uint256 jobId = assignedJob(20);
        commitAggregate(jobId, AGG);
        address[] memory atts = attestorsOf(jobId);
        commitAtt(jobId, atts[0], AGG);
        IResultAttestation.Attestation memory a = ra.attestationOf(jobId);
        // Reveal phase not open while commits are outstanding and the commit window runs.
        vm.expectRevert(
            abi.encodeWithSelector(
                IAttestationQuorum.QuorumNotInRevealPhase.selector,
                a.commitDeadline,
                a.revealDeadline
            )
        );
        revealAtt(jobId, atts[0], AGG);
        vm.warp(a.commitDeadline + 1);
        vm.expectRevert(abi.encodeWithSelector(IAttestationQuorum.QuorumRevealMismatch.selector, atts[0]));
        revealAtt(jobId, atts[0], LIE);
        vm.expectRevert(abi.encodeWithSelector(IAttestationQuorum.QuorumNotCommitted.selector, atts[1]));
        revealAtt(jobId, atts[1], AGG);
        vm.expectRevert(IAttestationQuorum.QuorumZeroValue.selector);
        revealAtt(jobId, atts[0], bytes32(0));
        vm.expectEmit(address(ra));
        emit IResultAttestation.AttestationRevealed(jobId, atts[0], AGG);
        revealAtt(jobId, atts[0], AGG);
        vm.expectRevert(abi.encodeWithSelector(IAttestationQuorum.QuorumAlreadyRevealed.selector, atts[0]));
        revealAtt(jobId, atts[0], AGG);
        vm.warp(a.revealDeadline + 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAttestationQuorum.QuorumNotInRevealPhase.selector,
                a.commitDeadline,
                a.revealDeadline
            )
        );
        revealAgg(jobId, AGG);
    }

    function test_revealAggregate_reverts() public {
        uint256 jobId = assignedJob(20);
        commitAggregate(jobId, AGG);
        IResultAttestation.Attestation memory a = ra.attestationOf(jobId);
        vm.warp(a.commitDeadline + 1);
        vm.expectRevert(
            abi.encodeWithSelector(IResultAttestation.AttestationNotAggregator.selector, jobId, alice)
        );
        vm.prank(alice);
        ra.revealAggregate(jobId, AGG, aggSalt(jobId));
        vm.expectRevert(
            abi.encodeWithSelector(IResultAttestation.AttestationAggregatorMismatch.selector, jobId)
        );
        revealAgg(jobId, LIE);
        vm.expectEmit(address(ra));
        emit IResultAttestation.AggregateRevealed(jobId, aggregator, AGG);
        revealAgg(jobId, AGG);
        assertEq(ra.attestationOf(jobId).aggregateHash, AGG);
        vm.expectRevert(
            abi.encodeWithSelector(IResultAttestation.AttestationAggregatorAlreadyRevealed.selector, jobId)
        );
        revealAgg(jobId, AGG);
    }

    /// @dev INVALID is reserved for attestors who cannot fetch or verify the transcript: an aggregator that
    ///      committed to it cannot reveal it (and so is slashed as silent).
    function test_revealAggregate_revertsOnTheReservedInvalidValue() public {
        bytes32 invalid = ra.INVALID();
        assertTrue(invalid != bytes32(0));
        uint256 jobId = assignedJob(20);
        commitAggregate(jobId, invalid);
        vm.warp(ra.attestationOf(jobId).commitDeadline + 1);
        vm.expectRevert(IResultAttestation.AttestationInvalidValue.selector);
        revealAgg(jobId, invalid);
        assertFalse(ra.attestationOf(jobId).aggregatorRevealed);
        vm.warp(ra.attestationOf(jobId).revealDeadline + 1);
        vm.prank(keeper);
        ra.finalize(jobId);
        assertEq(staking.stakeOf(aggregator, INodeStaking.Role.Aggregator), MIN_STAKE - SLASH);
        assertEq(uint8(jm.status(jobId)), uint8(IJobMarket.JobStatus.Failed));
    }

    function test_finalize_majorityInvalid_slashesAggregatorOnlyAndFails() public {
        bytes32 invalid = ra.INVALID();
        uint256 jobId = assignedJob(20);
        uint256 escrow = jm.escrowOf(jobId);
        uint256 customerBefore = token.balanceOf(customer);
        bytes32[] memory votes = honestVotes(invalid);
        votes[2] = AGG; // one attestor (say, colluding) agrees with the aggregator
        commitAggregate(jobId, AGG);
        address[] memory atts = attestorsOf(jobId);
        for (uint256 i = 0; i < Q; ++i) commitAtt(jobId, atts[i], votes[i]);
        for (uint256 i = 0; i < Q; ++i) revealAtt(jobId, atts[i], votes[i]);
        revealAgg(jobId, AGG);
        vm.expectEmit(address(jm));
        emit IJobMarket.JobFailed(jobId, "TRANSCRIPT_INVALID", escrow);
        vm.prank(keeper);
        ra.finalize(jobId);
        assertEq(uint8(ra.statusOf(jobId)), uint8(IResultAttestation.Status.Failed));
        assertEq(ra.resultOf(jobId), bytes32(0), "nothing attested");
        assertEq(ra.attestationOf(jobId).finalHash, invalid);
        assertEq(staking.stakeOf(aggregator, INodeStaking.Role.Aggregator), MIN_STAKE - SLASH);
        assertEq(staking.stakeOf(atts[0], INodeStaking.Role.Attestor), MIN_STAKE);
        assertEq(staking.stakeOf(atts[1], INodeStaking.Role.Attestor), MIN_STAKE);
        assertEq(
            staking.stakeOf(atts[2], INodeStaking.Role.Attestor),
            MIN_STAKE - SLASH,
            "dissent from a majority"
        );
        assertEq(token.balanceOf(customer) - customerBefore, escrow);
    }

    // ------------------------------------------------------------------------------------------- finalize

    function test_finalize_revertsBeforeRevealsAreOver() public {
        uint256 jobId = assignedJob(20);
        commitAggregate(jobId, AGG);
        address[] memory atts = attestorsOf(jobId);
        for (uint256 i = 0; i < Q; ++i) commitAtt(jobId, atts[i], AGG);
        revealAtt(jobId, atts[0], AGG);
        IResultAttestation.Attestation memory a = ra.attestationOf(jobId);
        vm.expectRevert(
            abi.encodeWithSelector(IAttestationQuorum.QuorumRevealNotOver.selector, a.revealDeadline)
        );
        ra.finalize(jobId);
        for (uint256 i = 1; i < Q; ++i) revealAtt(jobId, atts[i], AGG);
        vm.expectRevert(
            abi.encodeWithSelector(
                IResultAttestation.AttestationAggregatorRevealPending.selector,
                jobId,
                a.revealDeadline
            )
        );
        ra.finalize(jobId);
        // The aggregator's reveal completes a unanimous quorum: the job is final, finalize has nothing to do.
        revealAgg(jobId, AGG);
        vm.expectRevert(
            abi.encodeWithSelector(
                IResultAttestation.AttestationInvalidStatus.selector,
                jobId,
                IResultAttestation.Status.Attested
            )
        );
        ra.finalize(jobId);
    }

    // ------------------------------------------------------------------------------------------- auto-finalisation

    function _assertUnanimouslyAttested(uint256 jobId, address[] memory atts) internal {
        assertEq(uint8(ra.statusOf(jobId)), uint8(IResultAttestation.Status.Attested));
        assertEq(uint8(jm.status(jobId)), uint8(IJobMarket.JobStatus.Attested));
        IResultAttestation.Attestation memory a = ra.attestationOf(jobId);
        assertEq(a.agreeMask, 7);
        assertEq(a.finalHash, AGG);
        assertEq(a.aggregateHash, AGG);
        assertEq(ra.agreeingAttestors(jobId), atts);
        for (uint256 i = 0; i < Q; ++i)
            assertEq(staking.stakeOf(atts[i], INodeStaking.Role.Attestor), MIN_STAKE);
        assertEq(staking.stakeOf(aggregator, INodeStaking.Role.Aggregator), MIN_STAKE);
        // The report phase started at the finalising reveal.
        assertEq(jm.getJob(jobId).deadline, block.timestamp + durations().report);
        vm.expectRevert(
            abi.encodeWithSelector(
                IResultAttestation.AttestationInvalidStatus.selector,
                jobId,
                IResultAttestation.Status.Attested
            )
        );
        ra.finalize(jobId);
    }

    function test_revealAttestation_lastAttestorRevealFinalises() public {
        uint256 jobId = assignedJob(20);
        commitAggregate(jobId, AGG);
        address[] memory atts = attestorsOf(jobId);
        for (uint256 i = 0; i < Q; ++i) commitAtt(jobId, atts[i], AGG);
        // Every member committed: the reveal phase is open before the commit deadline.
        revealAgg(jobId, AGG);
        revealAtt(jobId, atts[0], AGG);
        revealAtt(jobId, atts[1], AGG);
        assertEq(uint8(ra.statusOf(jobId)), uint8(IResultAttestation.Status.Committed));
        assertEq(uint8(jm.status(jobId)), uint8(IJobMarket.JobStatus.Committed));
        vm.expectEmit(address(ra));
        emit IResultAttestation.AttestationRevealed(jobId, atts[2], AGG);
        vm.expectEmit(address(ra));
        emit IResultAttestation.AttestationFinalized(jobId, true, true, AGG, 7, 0, false);
        vm.expectEmit(address(jm));
        emit IJobMarket.JobStatusChanged(
            jobId,
            IJobMarket.JobStatus.Committed,
            IJobMarket.JobStatus.Attested,
            uint64(block.timestamp + durations().report)
        );
        revealAtt(jobId, atts[2], AGG);
        _assertUnanimouslyAttested(jobId, atts);
    }

    function test_revealAggregate_lastRevealFinalises() public {
        uint256 jobId = assignedJob(20);
        commitAggregate(jobId, AGG);
        address[] memory atts = attestorsOf(jobId);
        for (uint256 i = 0; i < Q; ++i) commitAtt(jobId, atts[i], AGG);
        for (uint256 i = 0; i < Q; ++i) revealAtt(jobId, atts[i], AGG);
        assertEq(uint8(ra.statusOf(jobId)), uint8(IResultAttestation.Status.Committed));
        vm.expectEmit(address(ra));
        emit IResultAttestation.AggregateRevealed(jobId, aggregator, AGG);
        vm.expectEmit(address(ra));
        emit IResultAttestation.AttestationFinalized(jobId, true, true, AGG, 7, 0, false);
        revealAgg(jobId, AGG);
        _assertUnanimouslyAttested(jobId, atts);
    }

    function test_reveal_liarPreventsAutoFinalisation_finalizeSlashes() public {
        uint256 jobId = assignedJob(20);
        commitAggregate(jobId, AGG);
        address[] memory atts = attestorsOf(jobId);
        commitAtt(jobId, atts[0], AGG);
        commitAtt(jobId, atts[1], LIE);
        commitAtt(jobId, atts[2], AGG);
        revealAgg(jobId, AGG);
        revealAtt(jobId, atts[0], AGG);
        revealAtt(jobId, atts[2], AGG);
        revealAtt(jobId, atts[1], LIE); // last reveal, not unanimous
        assertEq(uint8(ra.statusOf(jobId)), uint8(IResultAttestation.Status.Committed));
        assertEq(uint8(jm.status(jobId)), uint8(IJobMarket.JobStatus.Committed));
        assertEq(ra.attestationOf(jobId).agreeMask, 0);
        // Everyone revealed: finalize needs no waiting, slashes the liar and attests with the honest majority.
        vm.expectEmit(address(ra));
        emit IResultAttestation.AttestationFinalized(jobId, true, true, AGG, 5, 2, false);
        vm.expectEmit(address(ra));
        emit IResultAttestation.NodeSlashed(jobId, atts[1], INodeStaking.Role.Attestor, SLASH, keeper);
        vm.prank(keeper);
        ra.finalize(jobId);
        assertEq(uint8(jm.status(jobId)), uint8(IJobMarket.JobStatus.Attested));
        assertEq(staking.stakeOf(atts[1], INodeStaking.Role.Attestor), MIN_STAKE - SLASH);
        assertEq(staking.stakeOf(atts[0], INodeStaking.Role.Attestor), MIN_STAKE);
        address[] memory agreeing = ra.agreeingAttestors(jobId);
        assertEq(agreeing.length, 2);
        assertEq(agreeing[0], atts[0]);
        assertEq(agreeing[1], atts[2]);
    }

    function test_reveal_silentAttestorPreventsAutoFinalisation() public {
        uint256 jobId = assignedJob(20);
        commitAggregate(jobId, AGG);
        address[] memory atts = attestorsOf(jobId);
        for (uint256 i = 0; i < Q; ++i) commitAtt(jobId, atts[i], AGG);
        revealAtt(jobId, atts[0], AGG);
        revealAtt(jobId, atts[1], AGG);
        revealAgg(jobId, AGG); // committed but never revealed: atts[2]
        assertEq(uint8(ra.statusOf(jobId)), uint8(IResultAttestation.Status.Committed));
        IResultAttestation.Attestation memory a = ra.attestationOf(jobId);
        vm.expectRevert(
            abi.encodeWithSelector(IAttestationQuorum.QuorumRevealNotOver.selector, a.revealDeadline)
        );
        ra.finalize(jobId);
        vm.warp(a.revealDeadline + 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAttestationQuorum.QuorumNotInRevealPhase.selector,
                a.commitDeadline,
                a.revealDeadline
            )
        );
        revealAtt(jobId, atts[2], AGG);
        ra.finalize(jobId);
        assertEq(uint8(jm.status(jobId)), uint8(IJobMarket.JobStatus.Attested));
        assertEq(staking.stakeOf(atts[2], INodeStaking.Role.Attestor), MIN_STAKE - SLASH);
        assertEq(ra.attestationOf(jobId).agreeMask, 3);
    }

    function test_reveal_wrongAggregatorPreventsAutoFinalisation() public {
        uint256 jobId = assignedJob(20);
        commitAggregate(jobId, LIE);
        address[] memory atts = attestorsOf(jobId);
        for (uint256 i = 0; i < Q; ++i) commitAtt(jobId, atts[i], AGG);
        for (uint256 i = 0; i < Q; ++i) revealAtt(jobId, atts[i], AGG);
        revealAgg(jobId, LIE);
        // The attestors agree among themselves, but not with the aggregator: no auto-finalisation.
        assertEq(uint8(ra.statusOf(jobId)), uint8(IResultAttestation.Status.Committed));
        assertEq(uint8(jm.status(jobId)), uint8(IJobMarket.JobStatus.Committed));
    }

    /// @dev Any quorum size and any reveal order: the job stays Committed until the last reveal, which attests
    ///      it; before that, nothing is final.
    function test_fuzz_autoFinalise_lastRevealInAnyOrder(uint8 q, uint256 orderSeed) public {
        q = uint8(bound(q, 1, N_ATTESTORS));
        IResultAttestation.Params memory params = raParams();
        params.quorum = q;
        vm.prank(governance);
        ra.setParams(params);
        uint256 jobId = assignedJob(20);
        commitAggregate(jobId, AGG);
        address[] memory atts = attestorsOf(jobId);
        for (uint256 i = 0; i < q; ++i) commitAtt(jobId, atts[i], AGG);
        // Reveal order: a random permutation of the q attestors and the aggregator (index q).
        uint256[] memory order = new uint256[](q + 1);
        for (uint256 i = 0; i <= q; ++i) order[i] = i;
        for (uint256 i = q; i > 0; --i) {
            uint256 j = uint256(keccak256(abi.encode(orderSeed, i))) % (i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        for (uint256 k = 0; k <= q; ++k) {
            assertEq(uint8(jm.status(jobId)), uint8(IJobMarket.JobStatus.Committed));
            if (order[k] == q) revealAgg(jobId, AGG);
            else revealAtt(jobId, atts[order[k]], AGG);
        }
        assertEq(uint8(jm.status(jobId)), uint8(IJobMarket.JobStatus.Attested));
        assertEq(ra.attestationOf(jobId).agreeMask, (1 << q) - 1);
        assertEq(ra.agreeingAttestors(jobId).length, q);
    }

    function test_finalize_silentAttestorIsSlashed() public {
        uint256 jobId = assignedJob(20);
        bytes32[] memory votes = honestVotes(AGG);
        votes[2] = bytes32(0); // silent
        attestWith(jobId, AGG, votes);
        address silent = attestorsOf(jobId)[2];
        assertEq(staking.stakeOf(silent, INodeStaking.Role.Attestor), MIN_STAKE - SLASH);
        assertEq(uint8(jm.status(jobId)), uint8(IJobMarket.JobStatus.Attested));
        assertEq(ra.agreeingAttestors(jobId).length, 2);
    }

    /// @dev Without a strict majority nobody revealed enough to prove anyone wrong: silence is not a fault
    ///      (PROTOCOL.md §7.4), the aggregator revealed, so nobody is slashed; the job fails and is refunded.
    function test_finalize_noMajority_failsRefundsAndSlashesNobody() public {
        uint256 jobId = assignedJob(20);
        uint256 customerBefore = token.balanceOf(customer);
        uint256 escrow = jm.escrowOf(jobId);
        bytes32[] memory votes = new bytes32[](Q);
        votes[0] = AGG;
        votes[1] = LIE;
        votes[2] = bytes32(0);
        attestWith(jobId, AGG, votes);
        address[] memory atts = attestorsOf(jobId);
        assertEq(uint8(ra.statusOf(jobId)), uint8(IResultAttestation.Status.Failed));
        assertEq(uint8(jm.status(jobId)), uint8(IJobMarket.JobStatus.Failed));
        assertEq(token.balanceOf(customer) - customerBefore, escrow);
        assertEq(staking.stakeOf(atts[0], INodeStaking.Role.Attestor), MIN_STAKE);
        assertEq(staking.stakeOf(atts[1], INodeStaking.Role.Attestor), MIN_STAKE);
        assertEq(
            staking.stakeOf(atts[2], INodeStaking.Role.Attestor),
            MIN_STAKE,
            "silent without a majority"
        );
        assertEq(staking.stakeOf(aggregator, INodeStaking.Role.Aggregator), MIN_STAKE);
        assertEq(ra.attestationOf(jobId).agreeMask, 0);
        assertEq(ra.resultOf(jobId), bytes32(0));
    }

    function test_finalize_wrongAggregator_failsAndIsSlashed() public {
        uint256 jobId = assignedJob(20);
        uint256 escrow = jm.escrowOf(jobId);
        uint256 customerBefore = token.balanceOf(customer);
        commitAggregate(jobId, LIE);
        address[] memory atts = attestorsOf(jobId);
        for (uint256 i = 0; i < Q; ++i) commitAtt(jobId, atts[i], AGG);
        for (uint256 i = 0; i < Q; ++i) revealAtt(jobId, atts[i], AGG);
        revealAgg(jobId, LIE);
        assertEq(uint8(ra.statusOf(jobId)), uint8(IResultAttestation.Status.Committed));
        vm.expectEmit(address(ra));
        emit IResultAttestation.NodeSlashed(jobId, aggregator, INodeStaking.Role.Aggregator, SLASH, keeper);
        vm.prank(keeper);
        ra.finalize(jobId);
        assertEq(uint8(jm.status(jobId)), uint8(IJobMarket.JobStatus.Failed));
        assertEq(token.balanceOf(customer) - customerBefore, escrow);
        assertEq(staking.stakeOf(aggregator, INodeStaking.Role.Aggregator), MIN_STAKE - SLASH);
        assertEq(ra.attestationOf(jobId).finalHash, AGG);
    }

    function test_finalize_silentAggregator_failsAndIsSlashed() public {
        uint256 jobId = assignedJob(20);
        commitAggregate(jobId, AGG);
        address[] memory atts = attestorsOf(jobId);
        for (uint256 i = 0; i < Q; ++i) commitAtt(jobId, atts[i], AGG);
        for (uint256 i = 0; i < Q; ++i) revealAtt(jobId, atts[i], AGG);
        vm.warp(ra.attestationOf(jobId).revealDeadline + 1);
        ra.finalize(jobId);
        assertEq(uint8(jm.status(jobId)), uint8(IJobMarket.JobStatus.Failed));
        assertEq(staking.stakeOf(aggregator, INodeStaking.Role.Aggregator), MIN_STAKE - SLASH);
    }

    function test_finalize_afterJobDeadline_failsLate() public {
        // A liar keeps the quorum from finalising itself; nobody finalizes before the job's deadline.
        uint256 jobId = assignedJob(20);
        commitAggregate(jobId, AGG);
        address[] memory atts = attestorsOf(jobId);
        commitAtt(jobId, atts[0], AGG);
        commitAtt(jobId, atts[1], AGG);
        commitAtt(jobId, atts[2], LIE);
        revealAtt(jobId, atts[0], AGG);
        revealAtt(jobId, atts[1], AGG);
        revealAtt(jobId, atts[2], LIE);
        revealAgg(jobId, AGG);
        vm.warp(jm.getJob(jobId).deadline + 1);
        vm.expectEmit(address(jm));
        emit IJobMarket.JobFailed(jobId, "ATTESTATION_LATE", jm.escrowOf(jobId));
        ra.finalize(jobId);
        assertEq(uint8(jm.status(jobId)), uint8(IJobMarket.JobStatus.Failed));
        assertEq(
            staking.stakeOf(atts[2], INodeStaking.Role.Attestor),
            MIN_STAKE - SLASH,
            "liar still slashed"
        );
    }

    /// @dev Quorum rounds are pooled: a closed job's round is rewritten by a later job (its record keeps the status,
    ///      the result and the connected epoch); a job that expired with its quorum still open keeps its round until
    ///      `finalize` settles it.
    function test_roundPool_reusesOnlyRoundsOfClosedJobs() public {
        bytes32 invalid = ra.INVALID();
        bytes32[] memory votes = honestVotes(invalid);
        uint256 a = assignedJob(20);
        attestWith(a, AGG, votes); // a majority for INVALID: the job fails and closes
        assertEq(uint8(jm.status(a)), uint8(IJobMarket.JobStatus.Failed));
        assertEq(attestorsOf(a).length, Q, "the closed job's round is still readable");
        _operator(aggregator, INodeStaking.Role.Aggregator); // slashed for a: active again
        uint256 b = assignedJob(20);
        assertEq(attestorsOf(b).length, Q);
        IResultAttestation.Attestation memory oldA = ra.attestationOf(a);
        assertEq(oldA.attestors.length, 0, "a's round went to b");
        assertEq(uint8(oldA.status), uint8(IResultAttestation.Status.Failed), "a's record stays");
        assertEq(oldA.aggregateHash, AGG);
        assertEq(oldA.connectedEpoch, CONNECTED_EPOCH);
        assertEq(ra.agreeingAttestors(a).length, 0);
        // b starts clean: nothing committed or revealed, although the round held a's votes
        IResultAttestation.Attestation memory nb = ra.attestationOf(b);
        assertEq(nb.committedMask, 0);
        assertEq(nb.revealedMask, 0);
        assertEq(nb.agreeMask, 0);
        assertEq(nb.finalHash, bytes32(0));
        // b runs to Attested with its own quorum
        attestWith(b, AGG, honestVotes(AGG));
        assertEq(ra.resultOf(b), AGG);
        assertEq(ra.agreeingAttestors(b).length, Q);

        // c expires while its quorum is open: its round is kept for finalize, d gets another one
        uint256 c = assignedJob(20);
        commitAggregate(c, AGG);
        vm.warp(jm.getJob(c).deadline + 1);
        jm.timeout(c);
        uint256 d = assignedJob(20);
        assertEq(attestorsOf(c).length, Q, "c keeps its round");
        assertEq(attestorsOf(d).length, Q);
        uint256 aggStake = staking.stakeOf(aggregator, INodeStaking.Role.Aggregator);
        ra.finalize(c); // the silent aggregator of c is slashed from c's own round
        assertEq(staking.stakeOf(aggregator, INodeStaking.Role.Aggregator), aggStake - SLASH);
        _operator(aggregator, INodeStaking.Role.Aggregator); // active again
        // finalize released c's round: the next job reuses it
        uint256 e = assignedJob(20);
        assertEq(attestorsOf(e).length, Q);
        assertEq(ra.attestationOf(c).attestors.length, 0, "c's round went to e");
        assertEq(uint8(ra.statusOf(c)), uint8(IResultAttestation.Status.Failed));
    }

    function test_finalize_afterTimeout_stillSlashes() public {
        uint256 jobId = assignedJob(20);
        commitAggregate(jobId, AGG);
        vm.warp(jm.getJob(jobId).deadline + 1);
        jm.timeout(jobId);
        // everyone silent: no majority, so no attestor is at fault; the aggregator bound itself and is
        ra.finalize(jobId);
        address[] memory atts = attestorsOf(jobId);
        for (uint256 i = 0; i < Q; ++i)
            assertEq(staking.stakeOf(atts[i], INodeStaking.Role.Attestor), MIN_STAKE);
        assertEq(staking.stakeOf(aggregator, INodeStaking.Role.Aggregator), MIN_STAKE - SLASH);
        assertEq(uint8(jm.status(jobId)), uint8(IJobMarket.JobStatus.Expired));
    }

    /// @dev An aggregator named by a distributor never bound itself until it commits: when it never does, the
    ///      job simply expires and is refunded, and nobody is slashed (the old `slashMissedCommit` let any
    ///      distributor get an innocent aggregator slashed).
    function test_missedCommit_jobExpiresAndNobodyIsSlashed() public {
        uint256 jobId = assignedJob(20);
        uint256 escrow = jm.escrowOf(jobId);
        uint256 customerBefore = token.balanceOf(customer);
        vm.warp(jm.getJob(jobId).deadline + 1);
        vm.prank(keeper);
        jm.timeout(jobId);
        assertEq(uint8(jm.status(jobId)), uint8(IJobMarket.JobStatus.Expired));
        assertEq(token.balanceOf(customer) - customerBefore, escrow);
        assertEq(staking.stakeOf(aggregator, INodeStaking.Role.Aggregator), MIN_STAKE);
        assertEq(staking.stakeOf(distributor, INodeStaking.Role.Distributor), MIN_STAKE);
        address[] memory atts = attestorsOf(jobId);
        for (uint256 i = 0; i < Q; ++i)
            assertEq(staking.stakeOf(atts[i], INodeStaking.Role.Attestor), MIN_STAKE);
        // the record stays Drawn (never committed) and its lock is released; nothing can finalise it
        assertEq(uint8(ra.statusOf(jobId)), uint8(IResultAttestation.Status.Drawn));
        assertNoLocks(jobId);
        vm.expectRevert(
            abi.encodeWithSelector(
                IResultAttestation.AttestationInvalidStatus.selector,
                jobId,
                IResultAttestation.Status.Drawn
            )
        );
        vm.prank(keeper);
        ra.finalize(jobId);
        // the JobMarket refuses to move an expired job (the record alone would still say Drawn)
        vm.expectRevert(
            abi.encodeWithSelector(
                IJobMarket.JobMarketInvalidStatus.selector,
                jobId,
                IJobMarket.JobStatus.Expired
            )
        );
        vm.prank(aggregator);
        ra.commitAggregate(jobId, keccak256("late"), TRANSCRIPT);
        assertEq(staking.stakeOf(aggregator, INodeStaking.Role.Aggregator), MIN_STAKE);
    }

    function test_finalize_revertsForAnUnassignedExpiredJob() public {
        uint256 jobId = scheduledJob();
        vm.warp(jm.getJob(jobId).deadline + 1);
        jm.timeout(jobId);
        vm.expectRevert(
            abi.encodeWithSelector(
                IResultAttestation.AttestationInvalidStatus.selector,
                jobId,
                IResultAttestation.Status.None
            )
        );
        ra.finalize(jobId);
    }

    // ------------------------------------------------------------------------------------------- fuzz

    /// @dev Any vote pattern: a strict majority finalises its value; every silent or deviating attestor is
    ///      slashed when (and only when) a majority revealed; the job is Attested iff the majority equals the
    ///      aggregator's value.
    function test_fuzz_finalize_majorityAndSlashing(uint8 pattern, bool aggregatorHonest) public {
        uint256 jobId = assignedJob(20);
        bytes32[] memory votes = new bytes32[](Q);
        uint256 honest = 0;
        for (uint256 i = 0; i < Q; ++i) {
            uint256 kind = (uint256(pattern) >> (2 * i)) & 3; // 0 silent, 1 honest, 2/3 distinct lies
            votes[i] =
                kind == 0
                    ? bytes32(0)
                    : kind == 1
                        ? AGG
                        : keccak256(abi.encode(kind, i));
            if (kind == 1) ++honest;
        }
        bytes32 aggValue = aggregatorHonest ? AGG : LIE;
        attestWith(jobId, aggValue, votes);
        address[] memory atts = attestorsOf(jobId);
        bool majority = honest * 2 > Q;
        for (uint256 i = 0; i < Q; ++i) {
            bool fault = majority && votes[i] != AGG;
            assertEq(
                staking.stakeOf(atts[i], INodeStaking.Role.Attestor),
                fault ? MIN_STAKE - SLASH : MIN_STAKE
            );
        }
        bool attested = majority && aggregatorHonest;
        assertEq(ra.resultOf(jobId), attested ? AGG : bytes32(0));
        assertEq(
            uint8(jm.status(jobId)),
            uint8(attested ? IJobMarket.JobStatus.Attested : IJobMarket.JobStatus.Failed)
        );
        assertEq(
            staking.stakeOf(aggregator, INodeStaking.Role.Aggregator),
            majority && !aggregatorHonest ? MIN_STAKE - SLASH : MIN_STAKE
        );
    }
}
