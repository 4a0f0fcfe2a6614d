// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {LifecycleFixture, TestMerkle} from "./LifecycleFixture.sol";
import {IJobMarket} from "../../contracts/interfaces/IJobMarket.sol";
import {INodeStaking} from "../../contracts/interfaces/INodeStaking.sol";
import {IResultAttestation} from "../../contracts/interfaces/IResultAttestation.sol";
import {ISettlement} from "../../contracts/interfaces/ISettlement.sol";

/// @notice End-to-end prediction jobs on the real contracts: create → bid → finalize → assign → commit →
///         attest (3 attestors) → report → settle → device claims; a lying attestor; a failed quality requirement.
contract LifecycleTest is LifecycleFixture {
    bytes32 internal constant AGG = keccak256("aggregate-vector");

    function test_lifecycle_happyPath_settlesAndDevicesClaim() public {
        uint256 customerStart = token.balanceOf(customer);
        uint256 jobId = assignedJob(20);
        uint256 escrow = jm.escrowOf(jobId);
        assertEq(escrow, jm.budgetOf(MAX_DEVICES, REWARD));

        attestWith(jobId, AGG, honestVotes(AGG));
        assertEq(uint8(jm.status(jobId)), uint8(IJobMarket.JobStatus.Attested));
        address[] memory atts = attestorsOf(jobId);
        assertEq(atts.length, Q);

        // 16 participants, each paid 1.5 DML (≤ reward per device).
        (address[] memory devices, bytes32[] memory leaves) = payoutLeaves(16, 1.5 ether);
        bytes32 root = TestMerkle.root(leaves);
        uint256[] memory before = new uint256[](Q);
        for (uint256 i = 0; i < Q; ++i) before[i] = token.balanceOf(atts[i]);
        uint256 treasuryBefore = token.balanceOf(treasury);
        uint256 devBefore = token.balanceOf(developer);

        vm.prank(reporter);
        settlement.report(jobId, reportInput(root, 24 ether, 16, true));

        assertEq(uint8(jm.status(jobId)), uint8(IJobMarket.JobStatus.Settled));
        assertEq(jm.escrowOf(jobId), 0);
        assertEq(token.balanceOf(address(settlement)), 24 ether);
        assertEq(token.balanceOf(distributor), MIN_STAKE + fee(200));
        assertEq(token.balanceOf(aggregator), MIN_STAKE + fee(300));
        assertEq(token.balanceOf(reporter), MIN_STAKE + fee(200));
        for (uint256 i = 0; i < Q; ++i) assertEq(token.balanceOf(atts[i]) - before[i], fee(300) / Q);
        assertEq(token.balanceOf(developer) - devBefore, fee(500));
        assertEq(token.balanceOf(treasury) - treasuryBefore, fee(250));
        uint256 paidOut = 24 ether + fee(200) * 2 + fee(300) + (fee(300) / Q) * Q + fee(500) + fee(250);
        // The customer paid the use price, the clearing price (reserve) and the escrow, and got the rest back.
        assertEq(customerStart - token.balanceOf(customer), USE_PRICE + 1 ether + paidOut);

        for (uint256 i = 0; i < devices.length; ++i) {
            settlement.claim(jobId, devices[i], 1.5 ether, TestMerkle.proof(leaves, i));
            assertEq(token.balanceOf(devices[i]), 1.5 ether);
        }
        assertEq(token.balanceOf(address(settlement)), 0);
        assertEq(settlement.totalOutstanding(), 0);
    }

    function test_lifecycle_lyingAttestor_isSlashedAndUnpaid() public {
        uint256 jobId = assignedJob(20);
        bytes32[] memory votes = honestVotes(AGG);
        votes[1] = keccak256("a lie");
        commitAggregate(jobId, AGG);
        address[] memory atts = attestorsOf(jobId);
        address liar = atts[1];
        uint256 liarBalance = token.balanceOf(liar);
        for (uint256 i = 0; i < Q; ++i) commitAtt(jobId, atts[i], votes[i]);
        for (uint256 i = 0; i < Q; ++i) revealAtt(jobId, atts[i], votes[i]);
        revealAgg(jobId, AGG);
        uint256 keeperBefore = token.balanceOf(keeper);
        vm.prank(keeper);
        ra.finalize(jobId);

        assertEq(uint8(jm.status(jobId)), uint8(IJobMarket.JobStatus.Attested));
        assertEq(staking.stakeOf(liar, INodeStaking.Role.Attestor), MIN_STAKE - SLASH);
        assertFalse(staking.isActive(liar, INodeStaking.Role.Attestor));
        assertEq(token.balanceOf(keeper) - keeperBefore, (uint256(SLASH) * 1_000) / BPS, "challenger share");
        assertEq(ra.agreeingAttestors(jobId).length, 2);

        (, bytes32[] memory leaves) = payoutLeaves(10, REWARD);
        vm.prank(reporter);
        settlement.report(jobId, reportInput(TestMerkle.root(leaves), 20 ether, 10, true));
        assertEq(token.balanceOf(liar), liarBalance, "liar unpaid");
        assertEq(token.balanceOf(atts[0]) - liarBalance, fee(300) / 2);
    }

    function test_lifecycle_qualityFails_refundsLessNodeFees() public {
        uint256 jobId = attestedJob(20, AGG);
        uint256 escrow = jm.escrowOf(jobId);
        uint256 customerBefore = token.balanceOf(customer);
        uint256 treasuryBefore = token.balanceOf(treasury);
        uint256 devBefore = token.balanceOf(developer);
        vm.prank(reporter);
        settlement.report(jobId, reportInput(bytes32(0), 0, 5, false));
        assertEq(uint8(jm.status(jobId)), uint8(IJobMarket.JobStatus.Failed));
        uint256 nodeFees = fee(200) + fee(300) + fee(200) + (fee(300) / Q) * Q;
        assertEq(token.balanceOf(customer) - customerBefore, escrow - nodeFees);
        assertEq(token.balanceOf(treasury), treasuryBefore, "no protocol fee");
        assertEq(token.balanceOf(developer), devBefore, "no royalty");
        assertEq(token.balanceOf(address(settlement)), 0);
        assertFalse(settlement.reportOf(jobId).success);
    }

    function test_lifecycle_tooFewParticipants_isAQualityFailure() public {
        uint256 jobId = attestedJob(20, AGG);
        vm.prank(reporter);
        settlement.report(jobId, reportInput(bytes32(0), 0, 7, true)); // minParticipants = 8
        assertEq(uint8(jm.status(jobId)), uint8(IJobMarket.JobStatus.Failed));
    }

    /// @dev Whole lifecycle gas (create → settled, device claims excluded) with 3 attestors, for a small and a
    ///      large cohort / payout tree from the same state: identical, since devices appear on-chain only as a
    ///      root and a count. Only the protocol calls are metered (each in its own gas window).
    function test_gas_lifecycleIndependentOfDeviceCount() public {
        (, bytes32[] memory smallLeaves) = payoutLeaves(10, 1 ether);
        (, bytes32[] memory largeLeaves) = payoutLeaves(1000, 1 ether);
        bytes32 smallRoot = TestMerkle.root(smallLeaves);
        bytes32 largeRoot = TestMerkle.root(largeLeaves);
        uint256 snap = vm.snapshotState();
        uint256 small = _lifecycleGas(10, smallRoot, 10 ether);
        vm.revertToState(snap);
        uint256 large = _lifecycleGas(MAX_DEVICES, largeRoot, 50 ether);
        emit log_named_uint("lifecycle gas, 10 devices", small);
        emit log_named_uint("lifecycle gas, 50 devices / 1000-leaf payout tree", large);
        // Independent of the device count (a few hundred gas of calldata / packing noise at most). The absolute
        // figure depends on warm vs cold accounting: in one test transaction storage stays warm (≈ 1.43 M);
        // under `--gas-stats` every call is metered cold (≈ 2.2 M, of which JobMarket ≈ 0.94 M).
        assertApproxEqAbs(small, large, 500);
    }

    function test_gas_deviceClaim() public {
        uint256 jobId = attestedJob(20, AGG);
        (address[] memory devices, bytes32[] memory leaves) = payoutLeaves(1024, 1 ether);
        vm.prank(reporter);
        settlement.report(jobId, reportInput(TestMerkle.root(leaves), 20 ether, 20, true));
        bytes32[] memory proof = TestMerkle.proof(leaves, 777);
        uint256 g = gasleft();
        settlement.claim(jobId, devices[777], 1 ether, proof);
        g -= gasleft();
        emit log_named_uint("device claim gas (1024-leaf tree)", g);
        assertEq(token.balanceOf(devices[777]), 1 ether);
        assertTrue(settlement.isClaimed(jobId, devices[777]));
    }

    uint256 private metered;

    function _meter(address from, address target, bytes memory data) internal {
        vm.prank(from);
        uint256 g = gasleft();
        (bool ok, bytes memory ret) = target.call(data);
        uint256 used = g - gasleft();
        metered += used;
        emit log_named_uint(vm.toString(bytes4(data)), used);
        if (!ok) {
            assembly {
                revert(add(ret, 0x20), mload(ret))
            }
        }
    }

    function _lifecycleGas(uint32 deviceCount, bytes32 root, uint128 total) internal returns (uint256) {
        metered = 0;
        uint256 jobId = _meterToAssigned(deviceCount);
        _meterAttestAndReport(jobId, deviceCount, root, total);
        assertEq(uint8(jm.status(jobId)), uint8(IJobMarket.JobStatus.Settled));
        return metered;
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
        _meter(
            distributor,
            address(jm),
            abi.encodeCall(
                IJobMarket.assignCohort,
                (jobId, keccak256("cohort"), deviceCount, "bafy-cohort", aggregator)
            )
        );
    }

    function _meterAttestAndReport(uint256 jobId, uint32 deviceCount, bytes32 root, uint128 total) internal {
        bytes32 aggCommit = keccak256(abi.encode(AGG, aggSalt(jobId)));
        _meter(
            aggregator,
            address(ra),
            abi.encodeCall(IResultAttestation.commitAggregate, (jobId, aggCommit, TRANSCRIPT))
        );
        address[] memory atts = attestorsOf(jobId);
        for (uint256 i = 0; i < Q; ++i) {
            bytes32 ac = keccak256(abi.encode(AGG, attSalt(jobId, atts[i]), atts[i]));
            _meter(atts[i], address(ra), abi.encodeCall(IResultAttestation.commitAttestation, (jobId, ac)));
        }
        for (uint256 i = 0; i < Q; ++i) {
            _meter(
                atts[i],
                address(ra),
                abi.encodeCall(IResultAttestation.revealAttestation, (jobId, AGG, attSalt(jobId, atts[i])))
            );
        }
        _meter(
            aggregator,
            address(ra),
            abi.encodeCall(IResultAttestation.revealAggregate, (jobId, AGG, aggSalt(jobId)))
        );
        _meter(keeper, address(ra), abi.encodeCall(IResultAttestation.finalize, (jobId)));
        _meter(
            reporter,
            address(settlement),
            abi.encodeCall(ISettlement.report, (jobId, reportInput(root, total, deviceCount, true)))
        );
    }
}
