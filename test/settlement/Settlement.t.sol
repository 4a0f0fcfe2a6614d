// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {LifecycleFixture, ISettlementInit, TestMerkle} from "./LifecycleFixture.sol";
import {IJobMarket} from "../../contracts/interfaces/IJobMarket.sol";
import {IGovernedUUPS} from "../../contracts/interfaces/IGovernedUUPS.sol";
import {ISettlement} from "../../contracts/interfaces/ISettlement.sol";
import {IResultAttestation} from "../../contracts/interfaces/IResultAttestation.sol";
import {SettlementV2} from "../mocks/SettlementV2.sol";

contract SettlementTest is LifecycleFixture {
    bytes32 internal constant AGG = keccak256("aggregate");

    address[] internal devices;
    bytes32[] internal leaves;

    function _tree(uint256 n, uint256 amount) internal returns (bytes32) {
        (address[] memory d, bytes32[] memory l) = payoutLeaves(n, amount);
        devices = d;
        leaves = l;
        return TestMerkle.root(l);
    }

    function _report(uint256 jobId, ISettlement.ReportInput memory input) internal {
        vm.prank(reporter);
        settlement.report(jobId, input);
    }

    /// @dev An attested job settled with `n` devices paid `amount` each.
    function _settled(uint256 n, uint256 amount) internal returns (uint256 jobId) {
        jobId = attestedJob(20, AGG);
        bytes32 root = _tree(n, amount);
        _report(jobId, reportInput(root, uint128(n * amount), uint32(n < 10 ? 10 : n), true));
    }

    // ------------------------------------------------------------------------------------------- init / params

    function test_initialize_readsWiringFromJobMarket() public view {
        assertEq(address(settlement.jobMarket()), address(jm));
        assertEq(address(settlement.attestation()), address(ra));
        assertEq(address(settlement.staking()), address(staking));
        assertEq(settlement.claimWindow(), 30 days);
    }

    function test_initialize_revertsOnInvalidInput() public {
        address impl = deployArtifact("Settlement", "");
        vm.expectRevert(ISettlement.SettlementZeroAddress.selector);
        deployProxy(
            impl,
            abi.encodeCall(
                ISettlementInit.initialize,
                (governance, jm, IResultAttestation(address(0)), 30 days)
            )
        );
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementInvalidClaimWindow.selector, 1 days));
        deployProxy(impl, abi.encodeCall(ISettlementInit.initialize, (governance, jm, ra, 1 days)));
    }

    function test_setClaimWindow_updatesEmitsAndGuards() public {
        vm.expectEmit(address(settlement));
        emit ISettlement.ClaimWindowUpdated(60 days);
        vm.prank(governance);
        settlement.setClaimWindow(60 days);
        assertEq(settlement.claimWindow(), 60 days);
        vm.expectRevert(abi.encodeWithSelector(IGovernedUUPS.GovernedUnauthorized.selector, alice));
        vm.prank(alice);
        settlement.setClaimWindow(60 days);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementInvalidClaimWindow.selector, 6 * 365 days)
        );
        vm.prank(governance);
        settlement.setClaimWindow(6 * 365 days);
    }

    function test_upgrade_preservesReports() public {
        uint256 jobId = _settled(4, 1 ether);
        SettlementV2 v2 = new SettlementV2();
        vm.prank(governance);
        UUPSUpgradeable(address(settlement)).upgradeToAndCall(address(v2), "");
        assertEq(SettlementV2(address(settlement)).version(), 2);
        assertEq(settlement.reportOf(jobId).payoutTotal, 4 ether);
        settlement.claim(jobId, devices[0], 1 ether, TestMerkle.proof(leaves, 0));
        assertTrue(settlement.isClaimed(jobId, devices[0]));
    }

    // ------------------------------------------------------------------------------------------- report

    function test_report_storesAndEmits() public {
        uint256 jobId = attestedJob(20, AGG);
        bytes32 root = _tree(3, 1 ether);
        ISettlement.ReportInput memory input = reportInput(root, 3 ether, 10, true);
        vm.expectEmit(address(settlement));
        emit ISettlement.ReportPosted(
            jobId,
            reporter,
            REPORT,
            input.reportCommitment,
            10,
            root,
            3 ether,
            true,
            true
        );
        _report(jobId, input);
        ISettlement.Report memory r = settlement.reportOf(jobId);
        assertEq(r.reporter, reporter);
        assertEq(r.participants, 10);
        assertTrue(r.success);
        assertEq(r.payoutRoot, root);
        assertEq(r.claimDeadline, block.timestamp + 30 days);
        assertEq(r.reportCidHash, keccak256(bytes(REPORT)));
        assertEq(settlement.totalOutstanding(), 3 ether);
    }

    function test_report_revertsForNonReporter() public {
        uint256 jobId = attestedJob(20, AGG);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementNotReporter.selector, alice));
        vm.prank(alice);
        settlement.report(jobId, reportInput(bytes32(0), 0, 1, false));
    }

    function test_report_revertsWhenNotAttested() public {
        uint256 jobId = assignedJob(20);
        vm.expectRevert(
            abi.encodeWithSelector(
                ISettlement.SettlementInvalidJobStatus.selector,
                jobId,
                IJobMarket.JobStatus.Assigned
            )
        );
        _report(jobId, reportInput(bytes32(0), 0, 1, false));
    }

    function test_report_revertsTwice() public {
        uint256 jobId = _settled(2, 1 ether);
        vm.expectRevert(
            abi.encodeWithSelector(
                ISettlement.SettlementInvalidJobStatus.selector,
                jobId,
                IJobMarket.JobStatus.Settled
            )
        );
        _report(jobId, reportInput(bytes32(0), 0, 1, false));
    }

    function test_report_revertsAfterDeadline() public {
        uint256 jobId = attestedJob(20, AGG);
        uint64 deadline = jm.getJob(jobId).deadline;
        vm.warp(deadline + 1);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementDeadlinePassed.selector, jobId, deadline)
        );
        _report(jobId, reportInput(bytes32(0), 0, 1, false));
    }

    function test_report_revertsOnInvalidReport() public {
        uint256 jobId = attestedJob(20, AGG);
        ISettlement.ReportInput memory input = reportInput(bytes32(0), 0, 1, false);
        input.reportCid = "";
        vm.expectRevert(ISettlement.SettlementInvalidReport.selector);
        _report(jobId, input);
        input = reportInput(bytes32(0), 0, 1, false);
        input.reportCommitment = bytes32(0);
        vm.expectRevert(ISettlement.SettlementInvalidReport.selector);
        _report(jobId, input);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementTooManyParticipants.selector, 21, 20));
        _report(jobId, reportInput(bytes32(0), 0, 21, false));
    }

    function test_report_revertsOnInvalidPayout() public {
        uint256 jobId = attestedJob(20, AGG);
        uint256 max = 10 * uint256(REWARD);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementInvalidPayout.selector, max + 1, max));
        _report(jobId, reportInput(keccak256("root"), uint128(max + 1), 10, true));
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementInvalidPayout.selector, 1 ether, max));
        _report(jobId, reportInput(bytes32(0), 1 ether, 10, true));
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementInvalidPayout.selector, 0, max));
        _report(jobId, reportInput(keccak256("root"), 0, 10, true));
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementInvalidPayout.selector, 1 ether, 0));
        _report(jobId, reportInput(keccak256("root"), 1 ether, 10, false));
    }

    /// @dev Conservation of the escrow for any valid report: everything that left the JobMarket went to a fee
    ///      recipient, the device pool or back to the customer, and the pool never exceeds participants × reward.
    function test_fuzz_report_conservesEscrow(uint32 participants, uint128 total, bool quality) public {
        uint256 jobId = attestedJob(20, AGG);
        participants = uint32(bound(participants, 0, 20));
        bool success = quality && participants >= 8;
        if (success) total = uint128(bound(total, 1, uint256(participants) * REWARD));
        else total = 0;
        bytes32 root = success ? keccak256(abi.encode(total)) : bytes32(0);
        uint256 escrow = jm.escrowOf(jobId);
        uint256 jmBefore = token.balanceOf(address(jm));
        uint256 customerBefore = token.balanceOf(customer);
        _report(jobId, reportInput(root, total, participants, quality));
        assertEq(jm.escrowOf(jobId), 0);
        assertEq(jmBefore - token.balanceOf(address(jm)), escrow);
        assertEq(token.balanceOf(address(settlement)), total);
        uint256 nodeFees = fee(200) * 2 + fee(300) + (fee(300) / Q) * Q;
        uint256 expectedRefund =
            success ? escrow - nodeFees - fee(500) - fee(250) - total : escrow - nodeFees;
        assertEq(token.balanceOf(customer) - customerBefore, expectedRefund);
        assertEq(
            uint8(jm.status(jobId)),
            uint8(success ? IJobMarket.JobStatus.Settled : IJobMarket.JobStatus.Failed)
        );
    }

    // ------------------------------------------------------------------------------------------- claim

    function test_claim_paysOnceToTheAccount() public {
        uint256 jobId = _settled(5, 1 ether);
        bytes32[] memory proof = TestMerkle.proof(leaves, 3);
        vm.expectEmit(address(settlement));
        emit ISettlement.PayoutClaimed(jobId, devices[3], 1 ether);
        vm.prank(alice); // a relayer may submit; the device is paid
        settlement.claim(jobId, devices[3], 1 ether, proof);
        assertEq(token.balanceOf(devices[3]), 1 ether);
        assertEq(token.balanceOf(alice), 0);
        assertEq(settlement.reportOf(jobId).claimed, 1 ether);
        assertEq(settlement.totalOutstanding(), 4 ether);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementAlreadyClaimed.selector, jobId, devices[3])
        );
        settlement.claim(jobId, devices[3], 1 ether, proof);
    }

    function test_claim_revertsOnInvalidProof() public {
        uint256 jobId = _settled(5, 1 ether);
        bytes32[] memory proof = TestMerkle.proof(leaves, 3);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementInvalidProof.selector, jobId, devices[3], 2 ether)
        );
        settlement.claim(jobId, devices[3], 2 ether, proof);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementInvalidProof.selector, jobId, devices[2], 1 ether)
        );
        settlement.claim(jobId, devices[2], 1 ether, proof);
    }

    function test_claim_proofForAnotherJobFails() public {
        uint256 jobA = _settled(4, 1 ether);
        bytes32[] memory proofA = TestMerkle.proof(leaves, 1);
        address device = devices[1];
        uint256 jobB = attestedJob(20, AGG);
        (, bytes32[] memory other) = payoutLeaves(6, 1.5 ether);
        _report(jobB, reportInput(TestMerkle.root(other), 9 ether, 10, true));
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementInvalidProof.selector, jobB, device, 1 ether)
        );
        settlement.claim(jobB, device, 1 ether, proofA);
        settlement.claim(jobA, device, 1 ether, proofA);
        assertEq(token.balanceOf(device), 1 ether);
    }

    function test_claim_revertsWithoutPayouts() public {
        uint256 jobId = attestedJob(20, AGG);
        _report(jobId, reportInput(bytes32(0), 0, 3, false));
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementNoPayouts.selector, jobId));
        settlement.claim(jobId, alice, 1, new bytes32[](0));
    }

    function test_claim_cannotExceedPayoutTotal() public {
        // A tree whose leaves sum to more than the posted total: the pool caps what leaves can take.
        uint256 jobId = attestedJob(20, AGG);
        bytes32 root = _tree(3, 1 ether);
        _report(jobId, reportInput(root, 2 ether, 10, true));
        settlement.claim(jobId, devices[0], 1 ether, TestMerkle.proof(leaves, 0));
        settlement.claim(jobId, devices[1], 1 ether, TestMerkle.proof(leaves, 1));
        bytes32[] memory p2 = TestMerkle.proof(leaves, 2);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementPoolExhausted.selector, jobId, 0, 1 ether)
        );
        settlement.claim(jobId, devices[2], 1 ether, p2);
    }

    // ------------------------------------------------------------------------------------------- sweep

    function test_sweep_sendsUnclaimedToTreasuryAfterWindow() public {
        uint256 jobId = _settled(4, 1 ether);
        settlement.claim(jobId, devices[0], 1 ether, TestMerkle.proof(leaves, 0));
        uint48 deadline = settlement.reportOf(jobId).claimDeadline;
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementClaimWindowOpen.selector, jobId, deadline)
        );
        settlement.sweep(jobId);
        vm.warp(uint256(deadline) + 1);
        uint256 before = token.balanceOf(treasury);
        vm.expectEmit(address(settlement));
        emit ISettlement.PayoutSwept(jobId, treasury, 3 ether);
        settlement.sweep(jobId);
        assertEq(token.balanceOf(treasury) - before, 3 ether);
        assertEq(token.balanceOf(address(settlement)), 0);
        assertEq(settlement.totalOutstanding(), 0);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementAlreadySwept.selector, jobId));
        settlement.sweep(jobId);
        bytes32[] memory p1 = TestMerkle.proof(leaves, 1);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementAlreadySwept.selector, jobId));
        settlement.claim(jobId, devices[1], 1 ether, p1);
    }

    function test_sweep_revertsWithoutPayouts() public {
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementNoPayouts.selector, 99));
        settlement.sweep(99);
    }
}
