// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {LifecycleFixture} from "./utils/LifecycleFixture.sol";
import {IJobMarket} from "../contracts/interfaces/IJobMarket.sol";
import {INodeStaking} from "../contracts/interfaces/INodeStaking.sol";
import {IResultAttestation} from "../contracts/interfaces/IResultAttestation.sol";
import {ISettlement} from "../contracts/interfaces/ISettlement.sol";

/// @notice End-to-end prediction jobs on the real contracts: create → bid → finalize → assign → commit →
///         attest (3 attestors) → report → settle → device claims; a lying attestor; a failed quality requirement.
contract LifecycleTest is LifecycleFixture {
    function test_lifecycle_happyPath_settlesAndDevicesClaim() public {
        uint256 customerStart = token.balanceOf(customer);
        uint256 jobId = assignedJob(20);
        uint256 escrow = jm.escrowOf(jobId);
        assertEq(escrow, jm.budgetOf(MAX_DEVICES, REWARD));

        // 16 participants, each paid 1.5 DML (≤ reward per device): the attested result.
        Payouts memory p = payouts(16, 1.5 ether);
        ISettlement.ReportInput memory input = reportInput(p.root, 24 ether, 16, true);

        // Unanimous quorum: the aggregator's reveal (the last one) attests the job; no finalize call.
        attestWith(jobId, resultHash(input), honestVotes(resultHash(input)));
        assertEq(uint8(jm.status(jobId)), uint8(IJobMarket.JobStatus.Attested));
        assertEq(uint8(ra.statusOf(jobId)), uint8(IResultAttestation.Status.Attested));
        address[] memory atts = attestorsOf(jobId);
        assertEq(atts.length, Q);

        assertEq(ra.resultOf(jobId), resultHash(input));
        vm.prank(reporter);
        settlement.report(jobId, input);

        assertEq(uint8(jm.status(jobId)), uint8(IJobMarket.JobStatus.Settled));
        assertEq(jm.escrowOf(jobId), 0);
        uint256 fees = ledgerFees(Q, true) + protocolCut();
        assertEq(token.balanceOf(address(settlement)), 24 ether + fees);
        // The customer paid the use price, the clearing price (reserve) and the escrow, and got the rest back.
        assertEq(customerStart - token.balanceOf(customer), USE_PRICE + 1 ether + 24 ether + fees);

        // Every node withdraws its fees (anyone may trigger it); the protocol fee goes to the treasury.
        settlement.withdrawFees(distributor);
        settlement.withdrawFees(aggregator);
        settlement.withdrawFees(reporter);
        uint256 devBefore = token.balanceOf(developer);
        settlement.withdrawFees(developer);
        uint256 treasuryBefore = token.balanceOf(treasury);
        settlement.withdrawProtocolFees();
        assertEq(token.balanceOf(distributor), MIN_STAKE + fee(200));
        assertEq(token.balanceOf(aggregator), MIN_STAKE + fee(300));
        assertEq(token.balanceOf(reporter), MIN_STAKE + fee(200));
        assertEq(token.balanceOf(developer) - devBefore, royaltyNet());
        assertEq(token.balanceOf(treasury) - treasuryBefore, protocolCut());
        for (uint256 i = 0; i < Q; ++i) {
            uint256 before = token.balanceOf(atts[i]);
            settlement.withdrawFees(atts[i]);
            assertEq(token.balanceOf(atts[i]) - before, fee(300) / Q);
        }

        for (uint256 i = 0; i < p.devices.length; ++i) {
            claimLeaf(jobId, p, i);
            assertEq(token.balanceOf(p.devices[i]), 1.5 ether);
        }
        assertEq(token.balanceOf(address(settlement)), 0);
        assertEq(token.balanceOf(address(settlement)), 0);
    }

    function test_lifecycle_lyingAttestor_isSlashedAndUnpaid() public {
        Payouts memory p = payouts(10, REWARD);
        ISettlement.ReportInput memory input = reportInput(p.root, 20 ether, 10, true);
        bytes32 agg = resultHash(input);
        uint256 jobId = assignedJob(20);
        bytes32[] memory votes = honestVotes(agg);
        votes[1] = keccak256("a lie");
        commitAggregate(jobId, agg);
        address[] memory atts = attestorsOf(jobId);
        address liar = atts[1];
        for (uint256 i = 0; i < Q; ++i) commitAtt(jobId, atts[i], votes[i]);
        for (uint256 i = 0; i < Q; ++i) revealAtt(jobId, atts[i], votes[i]);
        revealAgg(jobId, agg);
        // A liar: no auto-finalisation, someone must finalize (and is paid the challenger share).
        assertEq(uint8(jm.status(jobId)), uint8(IJobMarket.JobStatus.Committed));
        uint256 keeperBefore = token.balanceOf(keeper);
        vm.prank(keeper);
        ra.finalize(jobId);

        assertEq(uint8(jm.status(jobId)), uint8(IJobMarket.JobStatus.Attested));
        assertEq(staking.stakeOf(liar, INodeStaking.Role.Attestor), MIN_STAKE - SLASH);
        assertFalse(staking.isActive(liar, INodeStaking.Role.Attestor));
        assertEq(token.balanceOf(keeper) - keeperBefore, (uint256(SLASH) * 1_000) / BPS, "challenger share");
        assertEq(ra.agreeingAttestors(jobId).length, 2);

        vm.prank(reporter);
        settlement.report(jobId, input);
        assertEq(settlement.feesOf(liar), 0, "liar unpaid");
        assertEq(settlement.feesOf(atts[0]), fee(300) / 2);
        assertEq(settlement.feesOf(atts[2]), fee(300) / 2);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementNoFees.selector, liar));
        settlement.withdrawFees(liar);
    }

    function test_lifecycle_qualityFails_refundsLessNodeFees() public {
        ISettlement.ReportInput memory input = reportInput(bytes32(0), 0, 5, false);
        uint256 jobId = attestedJobFor(20, input);
        uint256 escrow = jm.escrowOf(jobId);
        uint256 customerBefore = token.balanceOf(customer);
        vm.prank(reporter);
        settlement.report(jobId, input);
        assertEq(uint8(jm.status(jobId)), uint8(IJobMarket.JobStatus.Failed));
        uint256 nodeFees = ledgerFees(Q, false);
        assertEq(token.balanceOf(customer) - customerBefore, escrow - nodeFees);
        assertEq(settlement.protocolFees(), 0, "no protocol fee");
        assertEq(settlement.feesOf(developer), 0, "no royalty");
        assertEq(token.balanceOf(address(settlement)), nodeFees);
        assertEq(settlement.reportOf(jobId).payoutTotal, 0);
    }

    function test_lifecycle_tooFewParticipants_isAQualityFailure() public {
        ISettlement.ReportInput memory input = reportInput(bytes32(0), 0, 7, true); // minParticipants = 8
        uint256 jobId = attestedJobFor(20, input);
        vm.prank(reporter);
        settlement.report(jobId, input);
        assertEq(uint8(jm.status(jobId)), uint8(IJobMarket.JobStatus.Failed));
    }

    function test_lifecycle_reporterSilent_jobExpiresAndRefunds() public {
        uint256 jobId = attestedJob(20, keccak256("some result"));
        uint256 escrow = jm.escrowOf(jobId);
        uint256 customerBefore = token.balanceOf(customer);
        vm.warp(uint256(jm.getJob(jobId).deadline) + 1);
        jm.timeout(jobId);
        assertEq(uint8(jm.status(jobId)), uint8(IJobMarket.JobStatus.Expired));
        assertEq(token.balanceOf(customer) - customerBefore, escrow);
        assertEq(token.balanceOf(address(settlement)), 0);
    }

    /// @dev Whole lifecycle gas (create → settled, device claims excluded) with 3 attestors, for a small and a
    ///      large cohort / payout tree from the same state: identical, since devices appear on-chain only as a
    ///      root and a count. Only the protocol calls are metered (each in its own gas window). The unanimous
    ///      quorum is finalised by the aggregator's reveal: there is no separate finalize transaction.
    function test_gas_lifecycleIndependentOfDeviceCount() public {
        bytes32 smallRoot = payouts(10, 1 ether).root;
        bytes32 largeRoot = payouts(1000, 0.05 ether).root;
        uint256 snap = vm.snapshotState();
        uint256 small = _lifecycleGas(10, smallRoot, 10 ether);
        vm.revertToState(snap);
        uint256 large = _lifecycleGas(MAX_DEVICES, largeRoot, 50 ether);
        emit log_named_uint("lifecycle gas, 10 devices", small);
        emit log_named_uint("lifecycle gas, 50 devices / 1000-leaf payout tree", large);
        // Independent of the device count (a few hundred gas of calldata / packing noise at most). The absolute
        // figure depends on warm vs cold accounting: in one test transaction storage stays warm.
        assertApproxEqAbs(small, large, 500);
    }

    /// @dev A device claim from a 1024-leaf payout list (10-hash proof), metered with Settlement's and the
    ///      token's storage cold as in a real transaction: the first claim of a bitmap word (a zero word turns
    ///      non-zero) and a second claim in the same word (non-zero → non-zero).
    function test_gas_deviceClaim() public {
        Payouts memory p = payouts(1024, 0.03 ether);
        ISettlement.ReportInput memory input = reportInput(p.root, uint96(p.total), 20, true);
        uint256 jobId = attestedJobFor(20, input);
        vm.prank(reporter);
        settlement.report(jobId, input);
        uint256 first = _meterClaim(jobId, p, 777);
        uint256 second = _meterClaim(jobId, p, 778);
        emit log_named_uint("device claim gas, 1024-leaf list, fresh bitmap word", first);
        emit log_named_uint("device claim gas, 1024-leaf list, bitmap word already used", second);
        assertEq(token.balanceOf(p.devices[777]), 0.03 ether);
        assertTrue(settlement.isClaimed(jobId, 777));
        assertTrue(settlement.isClaimed(jobId, 778));
        // A zero → non-zero bitmap write costs 17 100 gas more than a non-zero → non-zero one.
        assertApproxEqAbs(first - second, 17_100, 100);
        assertGasBelow(first, 100_000);
    }

    function _meterClaim(uint256 jobId, Payouts memory p, uint256 i) internal returns (uint256 used) {
        bytes32[] memory proof = proofOf(p, i);
        assertEq(proof.length, 10);
        vm.cool(address(settlement));
        vm.cool(address(token));
        vm.prank(keeper);
        uint256 g = gasleft();
        settlement.claim(jobId, i, p.devices[i], p.amounts[i], proof);
        used = g - gasleft();
    }

    uint256 private metered;

    function _meter(address from, address target, bytes memory data) internal {
        vm.prank(from);
        uint256 g = gasleft();
        // solhint-disable-next-line avoid-low-level-calls
        (bool ok, bytes memory ret) = target.call(data);
        uint256 used = g - gasleft();
        metered += used;
        emit log_named_uint(_name(bytes4(data)), used);
        if (!ok) {
            assembly {
                revert(add(ret, 0x20), mload(ret))
            }
        }
    }

    function _lifecycleGas(uint32 deviceCount, bytes32 root, uint96 total) internal returns (uint256) {
        metered = 0;
        uint256 jobId = _meterToAssigned(deviceCount);
        _meterAttestAndReport(jobId, deviceCount, root, total);
        assertEq(uint8(jm.status(jobId)), uint8(IJobMarket.JobStatus.Settled));
        return metered;
    }

    function _name(bytes4 selector) internal pure returns (string memory) {
        if (selector == IJobMarket.createJob.selector) return "createJob";
        if (selector == IJobMarket.commitBid.selector) return "commitBid";
        if (selector == IJobMarket.revealBid.selector) return "revealBid";
        if (selector == IJobMarket.finalizeEpoch.selector) return "finalizeEpoch";
        if (selector == IResultAttestation.assignCohort.selector) return "assignCohort (draws attestors)";
        if (selector == IJobMarket.fixSeed.selector) return "fixSeed";
        if (selector == IResultAttestation.commitAggregate.selector) return "commitAggregate";
        if (selector == IResultAttestation.commitAttestation.selector) return "commitAttestation";
        if (selector == IResultAttestation.revealAttestation.selector) return "revealAttestation";
        if (selector == IResultAttestation.revealAggregate.selector) return "revealAggregate (finalises)";
        if (selector == ISettlement.report.selector) return "report (settles)";
        return "call";
    }

    function _meterToAssigned(uint32 deviceCount) internal returns (uint256 jobId) {
        (, uint256 cEnd, , uint256 eEnd) = jm.epochWindows(jm.currentEpoch());
        if (block.timestamp >= cEnd) vm.warp(eEnd);
        jobId = jm.jobCount() + 1;
        _meter(customer, address(jm), abi.encodeCall(IJobMarket.createJob, (spec())));
        uint256 epoch = jm.currentEpoch();
        bytes32 salt = keccak256("bid");
        bytes32 c = keccak256(abi.encode(jobId, uint256(2 ether), salt, customer));
        _meter(customer, address(jm), abi.encodeCall(IJobMarket.commitBid, (jobId, c, 2 ether)));
        (, uint256 commitEnd, uint256 revealEnd, ) = jm.epochWindows(epoch);
        vm.warp(commitEnd);
        _meter(keeper, address(jm), abi.encodeCall(IJobMarket.revealBid, (jobId, 2 ether, salt)));
        vm.warp(revealEnd);
        _meter(keeper, address(jm), abi.encodeCall(IJobMarket.finalizeEpoch, (epoch)));
        vm.roll(block.number + 2); // past the block whose hash seeds the epoch
        // the first assignment of the epoch fixes the epoch seed itself (no separate fixSeed transaction)
        _meter(
            distributor,
            address(ra),
            abi.encodeCall(
                IResultAttestation.assignCohort,
                (jobId, keccak256("cohort"), deviceCount, "bafy-cohort", aggregator, CONNECTED_EPOCH)
            )
        );
        assertTrue(jm.epochSeed(epoch) != bytes32(0));
    }

    function _meterAttestAndReport(uint256 jobId, uint32 deviceCount, bytes32 root, uint96 total) internal {
        ISettlement.ReportInput memory input = reportInput(root, total, deviceCount, true);
        bytes32 agg = resultHash(input);
        bytes32 aggCommit = keccak256(abi.encode(agg, aggSalt(jobId)));
        _meter(
            aggregator,
            address(ra),
            abi.encodeCall(IResultAttestation.commitAggregate, (jobId, aggCommit, TRANSCRIPT))
        );
        address[] memory atts = attestorsOf(jobId);
        for (uint256 i = 0; i < Q; ++i) {
            bytes32 ac = keccak256(abi.encode(agg, attSalt(jobId, atts[i]), atts[i]));
            _meter(atts[i], address(ra), abi.encodeCall(IResultAttestation.commitAttestation, (jobId, ac)));
        }
        for (uint256 i = 0; i < Q; ++i) {
            _meter(
                atts[i],
                address(ra),
                abi.encodeCall(IResultAttestation.revealAttestation, (jobId, agg, attSalt(jobId, atts[i])))
            );
        }
        _meter(
            aggregator,
            address(ra),
            abi.encodeCall(IResultAttestation.revealAggregate, (jobId, agg, aggSalt(jobId)))
        );
        assertEq(uint8(jm.status(jobId)), uint8(IJobMarket.JobStatus.Attested)); // finalised by the last reveal
        _meter(reporter, address(settlement), abi.encodeCall(ISettlement.report, (jobId, input)));
    }
}
