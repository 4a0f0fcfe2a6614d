// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {LifecycleFixture} from "./utils/LifecycleFixture.sol";
import {Settlement} from "../contracts/Settlement.sol";
import {IJobMarket} from "../contracts/interfaces/IJobMarket.sol";
import {IGovernedUUPS} from "../contracts/interfaces/IGovernedUUPS.sol";
import {ISettlement} from "../contracts/interfaces/ISettlement.sol";
import {IResultAttestation} from "../contracts/interfaces/IResultAttestation.sol";
import {INodeStaking} from "../contracts/interfaces/INodeStaking.sol";
import {MerkleHelper} from "./utils/MerkleHelper.sol";
import {SettlementV2} from "./mocks/SettlementV2.sol";

contract SettlementTest is LifecycleFixture {
    /// @dev A relayer holding no DML (alice is a genesis voter in the shared fixture).
    address internal relayer = makeAddr("relayer");

    /// @dev An attested job settled with `n` devices paid `amount` each (20 participants at most).
    function _settled(uint256 n, uint256 amount) internal returns (uint256 jobId, Payouts memory p) {
        p = payouts(n, amount);
        ISettlement.ReportInput memory input = reportInput(
            p.root,
            uint96(p.total),
            uint32(
                n < 10
                    ? 10
                    : n > 20
                        ? 20
                        : n
            ),
            true
        );
        jobId = attestedJobFor(20, input);
        postReport(jobId, input);
    }

    function _cid(uint256 length) internal pure returns (string memory) {
        bytes memory b = new bytes(length);
        for (uint256 i = 0; i < length; ++i) b[i] = "b";
        return string(b);
    }

    /// @dev Settlement's balance equals the sum of what it owes: unclaimed pools and the fee ledger.
    function _assertSolvent(uint256 owedPools) internal view {
        uint256 fees =
            settlement.protocolFees() + settlement.feesOf(distributor) + settlement.feesOf(aggregator);
        fees += settlement.feesOf(reporter) + settlement.feesOf(developer);
        for (uint256 i = 0; i < attestorSet.length; ++i) fees += settlement.feesOf(attestorSet[i]);
        assertEq(token.balanceOf(address(settlement)), owedPools + fees, "balance = pools + fees");
    }

    // ------------------------------------------------------------------------------------------- init / params

    function test_initialize_readsWiringFromJobMarket() public view {
        assertEq(address(settlement.jobMarket()), address(jm));
        assertEq(address(settlement.attestation()), address(ra));
        assertEq(address(settlement.staking()), address(staking));
        assertEq(settlement.claimWindow(), 30 days);
        assertEq(token.balanceOf(address(settlement)), 0);
        assertEq(settlement.protocolFees(), 0);
    }

    function test_constructor_revertsOnZeroToken() public {
        bytes memory code = bytes.concat(vm.getCode("Settlement"), abi.encode(address(0)));
        address a;
        assembly {
            a := create(0, add(code, 0x20), mload(code))
        }
        assertEq(a, address(0), "an implementation without a token cannot be deployed");
    }

    function test_initialize_revertsOnTokenMismatch() public {
        address other = makeAddr("otherToken");
        address impl = address(new Settlement(IERC20(other)));
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementTokenMismatch.selector, address(token), other)
        );
        deployProxy(impl, abi.encodeCall(Settlement.initialize, (governance, jm, ra, 30 days)));
    }

    function test_initialize_revertsOnInvalidInput() public {
        address impl = address(new Settlement(IERC20(address(token))));
        vm.expectRevert(ISettlement.SettlementZeroAddress.selector);
        deployProxy(
            impl,
            abi.encodeCall(Settlement.initialize, (governance, jm, IResultAttestation(address(0)), 30 days))
        );
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementInvalidClaimWindow.selector, 1 days));
        deployProxy(impl, abi.encodeCall(Settlement.initialize, (governance, jm, ra, 1 days)));
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

    function test_upgrade_preservesReportsBitmapAndFees() public {
        (uint256 jobId, Payouts memory p) = _settled(4, 1 ether);
        claimLeaf(jobId, p, 0);
        uint256 distributorFees = settlement.feesOf(distributor);
        SettlementV2 v2 = new SettlementV2(token);
        vm.prank(governance);
        UUPSUpgradeable(address(settlement)).upgradeToAndCall(
            address(v2),
            abi.encodeCall(SettlementV2.initializeV2, ())
        );
        assertEq(SettlementV2(address(settlement)).version(), 2);
        assertEq(settlement.reportOf(jobId).payoutTotal, 4 ether);
        assertEq(settlement.reportOf(jobId).claimed, 1 ether);
        assertTrue(settlement.isClaimed(jobId, 0));
        assertEq(settlement.feesOf(distributor), distributorFees);
        bytes32[] memory p0 = proofOf(p, 0);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementAlreadyClaimed.selector, jobId, 0));
        settlement.claim(jobId, 0, p.devices[0], 1 ether, p0);
        claimLeaf(jobId, p, 1);
        assertTrue(settlement.isClaimed(jobId, 1));
        _assertSolvent(2 ether);
    }

    // ------------------------------------------------------------------------------------------- payout tree

    /// @dev Root and proofs fixed by `buildPayoutTree` (sdk/chain/payouts.ts, @openzeppelin/merkle-tree) for these
    ///      five entries: the Solidity helper builds the same tree and Settlement's leaf encoding verifies it.
    function test_payoutTree_matchesTheSdk() public pure {
        address[] memory accounts = new address[](5);
        uint256[] memory amounts = new uint256[](5);
        accounts[0] = address(0xA1);
        accounts[1] = address(0xB2);
        accounts[2] = address(0xC3);
        accounts[3] = address(0xD4);
        accounts[4] = address(0xE5);
        amounts[0] = 1.5 ether;
        amounts[1] = 2 ether;
        amounts[2] = 1;
        amounts[3] = 0.7 ether;
        amounts[4] = 3;
        bytes32[] memory tree = MerkleHelper.buildPayouts(accounts, amounts);
        assertEq(tree[0], 0xfac8d795bd0099738ed97c81ff33a4bc034e2216b40b5b13700e1f44b3d1e26f);
        bytes32[] memory p1 = MerkleHelper.payoutProof(tree, 1, accounts[1], amounts[1]);
        assertEq(p1.length, 3);
        assertEq(p1[0], 0x36cf49a3e16fea12acea29ef241a1cc21c6a0d1a8678ca41cc670149ac0d4eab);
        assertEq(p1[1], 0xf40401194aad6bdc4a09cc2954fb2f2e0d0b5ca5ff1831bbb38a002f87d1681d);
        assertEq(p1[2], 0xb568f6b84e0397d52fc785c4949c224f3d50eca40dc085f85e13d123f24bbc96);
        bytes32[] memory p3 = MerkleHelper.payoutProof(tree, 3, accounts[3], amounts[3]);
        assertEq(p3.length, 2);
        assertEq(p3[0], 0xbc5807ec83498fb80dc85ce2b293a795e998970aa6661f61243eb211eefdb735);
        assertEq(p3[1], 0xdda02a772dafa4ec22037d3aadc6a12a5a5a518a0757b42403f8eaa3d698ff63);
    }

    /// @dev 300 entries (device i paid (i mod 7) × 0.01 DML + 1 wei): the root `buildPayoutTree` computes.
    function test_payoutTree_largeListMatchesTheSdk() public pure {
        address[] memory accounts = new address[](300);
        uint256[] memory amounts = new uint256[](300);
        uint256 total = 0;
        for (uint256 i = 0; i < 300; ++i) {
            accounts[i] = deviceAt(i);
            amounts[i] = (i % 7) * 0.01 ether + 1;
            total += amounts[i];
        }
        assertEq(total, 8970000000000000300);
        bytes32[] memory tree = MerkleHelper.buildPayouts(accounts, amounts);
        assertEq(tree[0], 0x331ddac98f43858b05f6718d661de44b82aff6f5ebcf1ddee7e570a4dab6c66e);
    }

    function test_payoutTree_claimsTheSdkTree() public {
        bytes32 root = 0xfac8d795bd0099738ed97c81ff33a4bc034e2216b40b5b13700e1f44b3d1e26f;
        ISettlement.ReportInput memory input = reportInput(root, 4.2 ether + 4, 10, true);
        uint256 jobId = attestedJobFor(20, input);
        postReport(jobId, input);
        bytes32[] memory proof = new bytes32[](2);
        proof[0] = 0xbc5807ec83498fb80dc85ce2b293a795e998970aa6661f61243eb211eefdb735;
        proof[1] = 0xdda02a772dafa4ec22037d3aadc6a12a5a5a518a0757b42403f8eaa3d698ff63;
        settlement.claim(jobId, 3, address(0xD4), 0.7 ether, proof);
        assertEq(token.balanceOf(address(0xD4)), 0.7 ether);
        assertTrue(settlement.isClaimed(jobId, 3));
    }

    // ------------------------------------------------------------------------------------------- report

    function test_report_storesEmitsAndCredits() public {
        Payouts memory p = payouts(3, 1 ether);
        ISettlement.ReportInput memory input = reportInput(p.root, 3 ether, 10, true);
        uint256 jobId = attestedJobFor(20, input);
        assertEq(ra.resultOf(jobId), settlement.resultHashOf(input.result), "the contract's resultHash");
        address[] memory atts = ra.agreeingAttestors(jobId);
        assertEq(atts.length, Q);
        ISettlement.Split memory split = ISettlement.Split({
            distributor: distributor,
            aggregator: aggregator,
            reporter: reporter,
            developer: developer,
            parentDeveloper: address(0),
            distributorFee: fee(200),
            aggregatorFee: fee(300),
            reporterFee: fee(200),
            attestorShare: fee(300) / Q,
            attestorCount: Q,
            royalty: royaltyNet(),
            parentRoyalty: 0,
            protocolFee: protocolCut(),
            devicePool: 3 ether
        });
        uint256 pull = 3 ether + ledgerFees(Q, true) + protocolCut();
        assertEq(pull, 3 ether + ledgerFees(Q, false) + fee(500) + fee(250), "royalty shared, not added");
        vm.expectEmit(address(settlement));
        emit ISettlement.ReportPosted(
            jobId,
            reporter,
            REPORT,
            input.reportCommitment,
            AGG_HASH,
            10,
            p.root,
            3 ether,
            PAYOUTS,
            true,
            true
        );
        vm.expectEmit(address(settlement));
        emit ISettlement.JobSplit(jobId, true, split, atts);
        vm.expectEmit(address(jm));
        emit IJobMarket.EscrowPaid(jobId, address(settlement), pull);
        postReport(jobId, input);

        ISettlement.Report memory r = settlement.reportOf(jobId);
        assertEq(r.payoutRoot, p.root);
        assertEq(r.payoutTotal, 3 ether);
        assertEq(r.claimed, 0);
        assertEq(r.claimDeadline, block.timestamp + 30 days);
        assertFalse(r.swept);
        assertEq(uint8(jm.status(jobId)), uint8(IJobMarket.JobStatus.Settled));
        assertEq(token.balanceOf(address(settlement)), pull);
        _assertSolvent(3 ether);
    }

    function test_report_revertsForNonReporter() public {
        ISettlement.ReportInput memory input = reportInput(bytes32(0), 0, 1, false);
        uint256 jobId = attestedJobFor(20, input);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementNotReporter.selector, alice));
        vm.prank(alice);
        settlement.report(jobId, input);
    }

    function test_report_revertsWhenNotAttested() public {
        // nothing attested yet: no result to present
        uint256 jobId = assignedJob(20);
        ISettlement.ReportInput memory input = reportInput(bytes32(0), 0, 1, false);
        vm.expectRevert(
            abi.encodeWithSelector(
                ISettlement.SettlementResultMismatch.selector,
                jobId,
                bytes32(0),
                resultHash(input)
            )
        );
        postReport(jobId, input);
        // attested, then expired in the JobMarket: the attested result can no longer be reported
        uint256 expired = attestedJobFor(20, input);
        vm.warp(uint256(jm.getJob(expired).deadline) + 1);
        jm.timeout(expired);
        vm.expectRevert(
            abi.encodeWithSelector(
                ISettlement.SettlementInvalidJobStatus.selector,
                expired,
                IJobMarket.JobStatus.Expired
            )
        );
        postReport(expired, input);
    }

    function test_report_revertsTwice() public {
        (uint256 jobId, Payouts memory p) = _settled(2, 1 ether);
        vm.expectRevert(
            abi.encodeWithSelector(
                ISettlement.SettlementInvalidJobStatus.selector,
                jobId,
                IJobMarket.JobStatus.Settled
            )
        );
        postReport(jobId, reportInput(p.root, uint96(p.total), 10, true));
    }

    function test_report_revertsAfterDeadline() public {
        ISettlement.ReportInput memory input = reportInput(bytes32(0), 0, 1, false);
        uint256 jobId = attestedJobFor(20, input);
        uint64 deadline = jm.getJob(jobId).deadline;
        vm.warp(deadline + 1);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementDeadlinePassed.selector, jobId, deadline)
        );
        postReport(jobId, input);
    }

    function test_report_revertsOnInvalidReport() public {
        ISettlement.ReportInput memory input = reportInput(bytes32(0), 0, 1, false);
        uint256 jobId = attestedJobFor(20, input);
        input.reportCid = "";
        vm.expectRevert(ISettlement.SettlementInvalidReport.selector);
        postReport(jobId, input);
        input.reportCid = _cid(129);
        vm.expectRevert(ISettlement.SettlementInvalidReport.selector);
        postReport(jobId, input);
        input = reportInput(bytes32(0), 0, 1, false);
        input.reportCommitment = bytes32(0);
        vm.expectRevert(ISettlement.SettlementInvalidReport.selector);
        postReport(jobId, input);
        // a quorum that attested more participants than the cohort still cannot be reported (defence in depth)
        input = reportInput(bytes32(0), 0, 21, false);
        uint256 over = attestedJobFor(20, input);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementTooManyParticipants.selector, 21, 20));
        postReport(over, input);
        assertEq(uint8(jm.status(over)), uint8(IJobMarket.JobStatus.Attested));
    }

    /// @dev The payout bounds still hold for an attested result: even a quorum cannot overpay (defence in
    ///      depth). Each bad result is attested, then refused, and the job stays Attested.
    function _expectPayoutRevert(ISettlement.ReportInput memory input, bytes memory err) internal {
        uint256 jobId = attestedJobFor(20, input);
        uint256 escrow = jm.escrowOf(jobId);
        vm.expectRevert(err);
        postReport(jobId, input);
        assertEq(jm.escrowOf(jobId), escrow);
        assertEq(uint8(jm.status(jobId)), uint8(IJobMarket.JobStatus.Attested));
    }

    function test_report_revertsOnInvalidPayout() public {
        uint256 max = 10 * uint256(REWARD);
        _expectPayoutRevert(
            reportInput(keccak256("root"), uint96(max + 1), 10, true),
            abi.encodeWithSelector(ISettlement.SettlementInvalidPayout.selector, max + 1, max)
        );
        _expectPayoutRevert(
            reportInput(bytes32(0), 1 ether, 10, true),
            abi.encodeWithSelector(ISettlement.SettlementInvalidPayout.selector, 1 ether, max)
        );
        _expectPayoutRevert(
            reportInput(keccak256("root"), 0, 10, true),
            abi.encodeWithSelector(ISettlement.SettlementInvalidPayout.selector, 0, max)
        );
        _expectPayoutRevert(
            reportInput(keccak256("root"), 1 ether, 10, false),
            abi.encodeWithSelector(ISettlement.SettlementInvalidPayout.selector, 1 ether, 0)
        );
    }

    /// @dev Any field of the result that differs from the attested preimage is refused (C1).
    function test_report_revertsOnAnyFieldDifferingFromTheAttestedResult() public {
        Payouts memory p = payouts(4, 1 ether);
        ISettlement.ReportInput memory input = reportInput(p.root, 4 ether, 10, true);
        uint256 jobId = attestedJobFor(20, input);
        bytes32 attested = ra.resultOf(jobId);
        assertEq(attested, resultHash(input));
        for (uint256 f = 0; f < 5; ++f) {
            ISettlement.ReportInput memory bad = reportInput(p.root, 4 ether, 10, true);
            if (f == 0) bad.result.aggregateHash = keccak256("other aggregate");
            if (f == 1) bad.result.payoutRoot = keccak256("other root");
            if (f == 2) bad.result.payoutTotal = 3 ether;
            if (f == 3) bad.result.participants = 11;
            if (f == 4) bad.result.qualityMet = false;
            vm.expectRevert(
                abi.encodeWithSelector(
                    ISettlement.SettlementResultMismatch.selector,
                    jobId,
                    attested,
                    resultHash(bad)
                )
            );
            postReport(jobId, bad);
        }
        assertEq(uint8(jm.status(jobId)), uint8(IJobMarket.JobStatus.Attested));
        postReport(jobId, input);
        assertEq(uint8(jm.status(jobId)), uint8(IJobMarket.JobStatus.Settled));
    }

    // ------------------------------------------------------------------------------------------- payouts CID

    function test_report_revertsWithoutPayoutsCidOnSuccess() public {
        ISettlement.ReportInput memory input = reportInput(keccak256("root"), 10 ether, 10, true);
        uint256 jobId = attestedJobFor(20, input);
        input.payoutsCid = "";
        uint256 escrow = jm.escrowOf(jobId);
        vm.expectRevert(ISettlement.SettlementInvalidPayoutsCid.selector);
        postReport(jobId, input);
        assertEq(jm.escrowOf(jobId), escrow);
        assertEq(uint8(jm.status(jobId)), uint8(IJobMarket.JobStatus.Attested));
    }

    function test_report_revertsOnTooLongPayoutsCid() public {
        ISettlement.ReportInput memory input = reportInput(keccak256("root"), 10 ether, 10, true);
        uint256 jobId = attestedJobFor(20, input);
        input.payoutsCid = _cid(129);
        vm.expectRevert(ISettlement.SettlementInvalidPayoutsCid.selector);
        postReport(jobId, input);
        input.payoutsCid = _cid(128); // the longest CID accepted
        vm.expectEmit(true, true, false, false, address(settlement));
        emit ISettlement.ReportPosted(jobId, reporter, "", 0, 0, 0, 0, 0, "", true, true);
        postReport(jobId, input);
        assertEq(settlement.reportOf(jobId).payoutTotal, 10 ether);
    }

    function test_report_revertsOnPayoutsCidForAFailedJob() public {
        ISettlement.ReportInput memory input = reportInput(bytes32(0), 0, 10, false);
        uint256 jobId = attestedJobFor(20, input);
        input.payoutsCid = PAYOUTS;
        vm.expectRevert(ISettlement.SettlementInvalidPayoutsCid.selector);
        postReport(jobId, input);
        assertEq(uint8(jm.status(jobId)), uint8(IJobMarket.JobStatus.Attested));
        // Quality met but too few participants is a failure too: no payout list allowed.
        input = reportInput(bytes32(0), 0, 7, true);
        jobId = attestedJobFor(20, input);
        input.payoutsCid = PAYOUTS;
        vm.expectRevert(ISettlement.SettlementInvalidPayoutsCid.selector);
        postReport(jobId, input);
        assertEq(uint8(jm.status(jobId)), uint8(IJobMarket.JobStatus.Attested));
    }

    // ------------------------------------------------------------------------------------------- fee ledger

    function test_report_creditsEveryRoleExactlyAndPaysNobody() public {
        Payouts memory p = payouts(8, 2 ether);
        ISettlement.ReportInput memory input = reportInput(p.root, 16 ether, 12, true);
        uint256 jobId = attestedJobFor(20, input);
        address[] memory atts = ra.agreeingAttestors(jobId);
        uint256 distributorBalance = token.balanceOf(distributor);
        uint256 developerBalance = token.balanceOf(developer);
        uint256 treasuryBalance = token.balanceOf(treasury);
        postReport(jobId, input);

        assertEq(settlement.feesOf(distributor), fee(200), "distributor");
        assertEq(settlement.feesOf(aggregator), fee(300), "aggregator");
        assertEq(settlement.feesOf(reporter), fee(200), "reporter");
        for (uint256 i = 0; i < atts.length; ++i)
            assertEq(settlement.feesOf(atts[i]), fee(300) / Q, "attestor");
        assertEq(settlement.feesOf(developer), royaltyNet(), "developer royalty less the marketplace fee");
        assertEq(settlement.protocolFees(), protocolCut(), "protocol fee and the fee on the royalty");
        // Attestors not selected for the job earn nothing: the whole set holds exactly Q shares.
        uint256 attestorTotal = 0;
        for (uint256 i = 0; i < attestorSet.length; ++i) attestorTotal += settlement.feesOf(attestorSet[i]);
        assertEq(attestorTotal, (fee(300) / Q) * Q);
        // Fees are only credited: nothing was pushed.
        assertEq(token.balanceOf(distributor), distributorBalance);
        assertEq(token.balanceOf(developer), developerBalance);
        assertEq(token.balanceOf(treasury), treasuryBalance);
        _assertSolvent(16 ether);
    }

    function test_report_liarAttestorEarnsNoShare() public {
        ISettlement.ReportInput memory input = reportInput(payouts(10, 1 ether).root, 10 ether, 10, true);
        bytes32 value = resultHash(input);
        uint256 jobId = assignedJob(20);
        bytes32[] memory votes = honestVotes(value);
        votes[0] = keccak256("a lie");
        attestWith(jobId, value, votes);
        address[] memory atts = attestorsOf(jobId);
        postReport(jobId, input);
        assertEq(settlement.feesOf(atts[0]), 0, "liar unpaid");
        assertEq(settlement.feesOf(atts[1]), fee(300) / 2);
        assertEq(settlement.feesOf(atts[2]), fee(300) / 2);
        _assertSolvent(10 ether);
    }

    function test_report_failureCreditsNodeFeesOnly() public {
        ISettlement.ReportInput memory input = reportInput(bytes32(0), 0, 5, false);
        uint256 jobId = attestedJobFor(20, input);
        uint256 escrow = jm.escrowOf(jobId);
        uint256 customerBefore = token.balanceOf(customer);
        postReport(jobId, input);
        assertEq(uint8(jm.status(jobId)), uint8(IJobMarket.JobStatus.Failed));
        assertEq(settlement.feesOf(developer), 0, "no royalty");
        assertEq(settlement.protocolFees(), 0, "no protocol fee");
        assertEq(settlement.feesOf(distributor), fee(200));
        assertEq(token.balanceOf(customer) - customerBefore, escrow - ledgerFees(Q, false));
        ISettlement.Report memory r = settlement.reportOf(jobId);
        assertEq(r.payoutRoot, bytes32(0));
        assertEq(r.payoutTotal, 0);
        assertEq(r.claimDeadline, 0);
        _assertSolvent(0);
    }

    function test_fees_accumulateAcrossJobsAndOneWithdrawalPaysAll() public {
        _settled(4, 1 ether);
        ISettlement.ReportInput memory failed = reportInput(bytes32(0), 0, 3, false);
        uint256 jobB = attestedJobFor(20, failed);
        postReport(jobB, failed);
        assertEq(settlement.feesOf(distributor), 2 * fee(200));
        assertEq(settlement.feesOf(developer), royaltyNet(), "royalty only for the successful job");
        uint256 before = token.balanceOf(distributor);
        settlement.withdrawFees(distributor);
        assertEq(token.balanceOf(distributor) - before, 2 * fee(200));
        _assertSolvent(4 ether);
    }

    function test_withdrawFees_byAThirdPartyPaysTheAccount() public {
        (, Payouts memory p) = _settled(4, 1 ether);
        uint256 owed = settlement.feesOf(aggregator);
        uint256 outstanding = token.balanceOf(address(settlement));
        uint256 before = token.balanceOf(aggregator);
        vm.expectEmit(address(settlement));
        emit ISettlement.FeesWithdrawn(aggregator, owed);
        vm.prank(relayer);
        settlement.withdrawFees(aggregator);
        assertEq(token.balanceOf(aggregator) - before, owed);
        assertEq(token.balanceOf(relayer), 0);
        assertEq(settlement.feesOf(aggregator), 0);
        assertEq(token.balanceOf(address(settlement)), outstanding - owed);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementNoFees.selector, aggregator));
        vm.prank(relayer);
        settlement.withdrawFees(aggregator);
        _assertSolvent(p.total);
    }

    function test_withdrawFees_revertsWithoutFees() public {
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementNoFees.selector, alice));
        settlement.withdrawFees(alice);
    }

    function test_withdrawProtocolFees_paysTheTreasuryOnce() public {
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementNoFees.selector, treasury));
        settlement.withdrawProtocolFees();
        _settled(4, 1 ether);
        uint256 before = token.balanceOf(treasury);
        vm.expectEmit(address(settlement));
        emit ISettlement.ProtocolFeesWithdrawn(treasury, protocolCut());
        vm.prank(alice);
        settlement.withdrawProtocolFees();
        assertEq(token.balanceOf(treasury) - before, protocolCut());
        assertEq(settlement.protocolFees(), 0);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementNoFees.selector, treasury));
        settlement.withdrawProtocolFees();
        _assertSolvent(4 ether);
    }

    function test_withdrawProtocolFees_followsTheJobMarketTreasury() public {
        _settled(4, 1 ether);
        address newTreasury = makeAddr("newTreasury");
        vm.prank(governance);
        jm.setTreasury(newTreasury);
        settlement.withdrawProtocolFees();
        assertEq(token.balanceOf(newTreasury), protocolCut());
    }

    /// @dev Random reports (success or not, liars or not), claims, fee withdrawals and sweeps: at every step
    ///      Settlement's token balance == Σ unclaimed, unswept pools + Σ ledger fees.
    function test_fuzz_ledger_balanceEqualsOutstanding(uint256 seed) public {
        uint256[] memory jobIds = new uint256[](3);
        Payouts[] memory lists = new Payouts[](3);
        address[] memory accounts = new address[](4 + attestorSet.length);
        accounts[0] = distributor;
        accounts[1] = aggregator;
        accounts[2] = reporter;
        accounts[3] = developer;
        for (uint256 i = 0; i < attestorSet.length; ++i) accounts[4 + i] = attestorSet[i];
        for (uint256 k = 0; k < 3; ++k) {
            seed = uint256(keccak256(abi.encode(seed)));
            uint32 participants = uint32(bound(seed >> 8, 5, 20));
            bool success = (seed >> 40) % 4 != 0 && participants >= 8;
            ISettlement.ReportInput memory input;
            if (success) {
                uint256 n = bound(seed >> 48, 1, 12);
                uint256 amount = bound(seed >> 96, 1, (uint256(participants) * REWARD) / n);
                lists[k] = payouts(n, amount);
                input = reportInput(lists[k].root, uint96(lists[k].total), participants, true);
            } else {
                input = reportInput(bytes32(0), 0, participants, false);
            }
            uint256 jobId = assignedJob(20);
            bytes32[] memory votes = honestVotes(resultHash(input));
            if (seed & 1 != 0) votes[seed % Q] = keccak256(abi.encode("lie", k));
            attestWith(jobId, resultHash(input), votes);
            postReport(jobId, input);
            jobIds[k] = jobId;
            _checkLedger(jobIds, k + 1);
            for (uint256 step = 0; step < 6; ++step) {
                seed = uint256(keccak256(abi.encode(seed, step)));
                _randomAction(seed, jobIds, lists, k + 1, accounts);
                _checkLedger(jobIds, k + 1);
            }
        }
    }

    function _randomAction(
        uint256 seed,
        uint256[] memory jobIds,
        Payouts[] memory lists,
        uint256 jobs,
        address[] memory accounts
    ) internal {
        uint256 action = seed % 4;
        uint256 k = (seed >> 8) % jobs;
        if (action == 0 || action == 1) {
            if (lists[k].devices.length == 0) return;
            uint256 i = (seed >> 16) % lists[k].devices.length;
            ISettlement.Report memory r = settlement.reportOf(jobIds[k]);
            if (r.swept || settlement.isClaimed(jobIds[k], i)) return;
            uint256 before = token.balanceOf(lists[k].devices[i]);
            claimLeaf(jobIds[k], lists[k], i);
            assertEq(token.balanceOf(lists[k].devices[i]) - before, lists[k].amounts[i]);
        } else if (action == 2) {
            address account = accounts[(seed >> 16) % accounts.length];
            uint256 owed = settlement.feesOf(account);
            if ((seed >> 24) % 3 == 0) {
                owed = settlement.protocolFees();
                if (owed == 0) return;
                uint256 t = token.balanceOf(treasury);
                settlement.withdrawProtocolFees();
                assertEq(token.balanceOf(treasury) - t, owed);
            } else if (owed != 0) {
                uint256 before = token.balanceOf(account);
                vm.prank(alice);
                settlement.withdrawFees(account);
                assertEq(token.balanceOf(account) - before, owed);
            }
        } else {
            ISettlement.Report memory r = settlement.reportOf(jobIds[k]);
            if (r.payoutTotal == 0 || r.swept) return;
            vm.warp(uint256(r.claimDeadline) + 1);
            settlement.sweep(jobIds[k]);
        }
    }

    function _checkLedger(uint256[] memory jobIds, uint256 jobs) internal view {
        uint256 pools = 0;
        for (uint256 k = 0; k < jobs; ++k) {
            ISettlement.Report memory r = settlement.reportOf(jobIds[k]);
            assertLe(r.claimed, r.payoutTotal);
            if (!r.swept) pools += r.payoutTotal - r.claimed;
        }
        _assertSolvent(pools);
    }

    /// @dev Conservation of the escrow for any valid report: everything that left the JobMarket is credited to a
    ///      fee recipient, held for the device pool or refunded to the customer; the pool never exceeds
    ///      participants × reward.
    function test_fuzz_report_conservesEscrow(uint32 participants, uint96 total, bool quality) public {
        participants = uint32(bound(participants, 0, 20));
        bool success = quality && participants >= 8;
        if (success) total = uint96(bound(total, 1, uint256(participants) * REWARD));
        else total = 0;
        bytes32 root = success ? keccak256(abi.encode(total)) : bytes32(0);
        ISettlement.ReportInput memory input = reportInput(root, total, participants, quality);
        uint256 jobId = attestedJobFor(20, input);
        uint256 escrow = jm.escrowOf(jobId);
        uint256 jmBefore = token.balanceOf(address(jm));
        uint256 customerBefore = token.balanceOf(customer);
        postReport(jobId, input);
        assertEq(jm.escrowOf(jobId), 0);
        assertEq(jmBefore - token.balanceOf(address(jm)), escrow);
        uint256 credited = ledgerFees(Q, success) + (success ? protocolCut() : 0);
        assertEq(token.balanceOf(address(settlement)), total + credited);
        assertEq(token.balanceOf(customer) - customerBefore, escrow - credited - total);
        assertEq(
            uint8(jm.status(jobId)),
            uint8(success ? IJobMarket.JobStatus.Settled : IJobMarket.JobStatus.Failed)
        );
        _assertSolvent(total);
    }

    // ------------------------------------------------------------------------------------------- claim

    function test_claim_paysByIndexOnce() public {
        (uint256 jobId, Payouts memory p) = _settled(5, 1 ether);
        uint256 outstanding = token.balanceOf(address(settlement));
        bytes32[] memory proof = proofOf(p, 3);
        vm.expectEmit(address(settlement));
        emit ISettlement.PayoutClaimed(jobId, 3, p.devices[3], 1 ether);
        vm.prank(relayer); // a relayer may submit; the device is paid
        settlement.claim(jobId, 3, p.devices[3], 1 ether, proof);
        assertEq(token.balanceOf(p.devices[3]), 1 ether);
        assertEq(token.balanceOf(relayer), 0);
        assertEq(settlement.reportOf(jobId).claimed, 1 ether);
        assertEq(token.balanceOf(address(settlement)), outstanding - 1 ether);
        assertTrue(settlement.isClaimed(jobId, 3));
        assertFalse(settlement.isClaimed(jobId, 2));
        assertFalse(settlement.isClaimed(jobId, 4));
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementAlreadyClaimed.selector, jobId, 3));
        settlement.claim(jobId, 3, p.devices[3], 1 ether, proof);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementAlreadyClaimed.selector, jobId, 3));
        vm.prank(p.devices[3]);
        settlement.claim(jobId, 3, p.devices[3], 1 ether, proof);
        assertEq(token.balanceOf(p.devices[3]), 1 ether);
        _assertSolvent(4 ether);
    }

    function test_claim_revertsForAWrongIndex() public {
        (uint256 jobId, Payouts memory p) = _settled(5, 1 ether);
        bytes32[] memory proof = proofOf(p, 3);
        // Right account, amount and proof, wrong index: the leaf (2, device3, 1) is not in the tree.
        vm.expectRevert(
            abi.encodeWithSelector(
                ISettlement.SettlementInvalidProof.selector,
                jobId,
                2,
                p.devices[3],
                1 ether
            )
        );
        settlement.claim(jobId, 2, p.devices[3], 1 ether, proof);
        bytes32[] memory proof2 = proofOf(p, 2);
        vm.expectRevert(
            abi.encodeWithSelector(
                ISettlement.SettlementInvalidProof.selector,
                jobId,
                2,
                p.devices[3],
                1 ether
            )
        );
        settlement.claim(jobId, 2, p.devices[3], 1 ether, proof2);
        // An index beyond the list.
        vm.expectRevert(
            abi.encodeWithSelector(
                ISettlement.SettlementInvalidProof.selector,
                jobId,
                5,
                p.devices[3],
                1 ether
            )
        );
        settlement.claim(jobId, 5, p.devices[3], 1 ether, proof);
        // Nothing was marked: the rightful leaves still claim.
        assertFalse(settlement.isClaimed(jobId, 2));
        assertFalse(settlement.isClaimed(jobId, 5));
        claimLeaf(jobId, p, 2);
        claimLeaf(jobId, p, 3);
        assertEq(token.balanceOf(p.devices[3]), 1 ether);
    }

    function test_claim_revertsOnAWrongAmountOrAccount() public {
        (uint256 jobId, Payouts memory p) = _settled(5, 1 ether);
        bytes32[] memory proof = proofOf(p, 3);
        vm.expectRevert(
            abi.encodeWithSelector(
                ISettlement.SettlementInvalidProof.selector,
                jobId,
                3,
                p.devices[3],
                2 ether
            )
        );
        settlement.claim(jobId, 3, p.devices[3], 2 ether, proof);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementInvalidProof.selector, jobId, 3, alice, 1 ether)
        );
        settlement.claim(jobId, 3, alice, 1 ether, proof);
        vm.expectRevert(
            abi.encodeWithSelector(
                ISettlement.SettlementInvalidProof.selector,
                jobId,
                3,
                p.devices[3],
                1 ether
            )
        );
        settlement.claim(jobId, 3, p.devices[3], 1 ether, new bytes32[](0));
    }

    function test_claim_proofOfAnotherJobFails() public {
        (uint256 jobA, Payouts memory a) = _settled(4, 1 ether);
        (uint256 jobB, Payouts memory b) = _settled(6, 1.5 ether);
        bytes32[] memory proofA = proofOf(a, 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                ISettlement.SettlementInvalidProof.selector,
                jobB,
                1,
                a.devices[1],
                1 ether
            )
        );
        settlement.claim(jobB, 1, a.devices[1], 1 ether, proofA);
        // The same index is a different leaf in each job and each bitmap is the job's own.
        claimLeaf(jobA, a, 1);
        assertTrue(settlement.isClaimed(jobA, 1));
        assertFalse(settlement.isClaimed(jobB, 1));
        claimLeaf(jobB, b, 1);
        assertEq(token.balanceOf(a.devices[1]), 2.5 ether); // device 1 is in both lists
        _assertSolvent(3 ether + 7.5 ether);
    }

    /// @dev 300 leaves: indices 0…255 live in bitmap word 0 and 256…299 in word 1; claimed in an interleaved
    ///      order, each exactly once, and every bit reads back independently.
    function test_claim_300LeavesSpanTwoBitmapWords() public {
        Payouts memory p = payouts(300, 0.1 ether);
        ISettlement.ReportInput memory input = reportInput(p.root, uint96(p.total), 20, true);
        uint256 jobId = attestedJobFor(20, input);
        postReport(jobId, input);
        claimLeaf(jobId, p, 255);
        assertFalse(settlement.isClaimed(jobId, 256), "next word untouched");
        assertFalse(settlement.isClaimed(jobId, 254));
        claimLeaf(jobId, p, 256);
        assertTrue(settlement.isClaimed(jobId, 255));
        assertTrue(settlement.isClaimed(jobId, 256));
        for (uint256 k = 0; k < 300; ++k) {
            uint256 i = (k * 7) % 300; // 7 is coprime with 300: a permutation
            if (i == 255 || i == 256) continue;
            assertFalse(settlement.isClaimed(jobId, i));
            claimLeaf(jobId, p, i);
            assertTrue(settlement.isClaimed(jobId, i));
        }
        for (uint256 i = 0; i < 300; ++i) assertEq(token.balanceOf(p.devices[i]), 0.1 ether);
        assertFalse(settlement.isClaimed(jobId, 300));
        assertEq(settlement.reportOf(jobId).claimed, 30 ether);
        uint256[3] memory replays = [uint256(0), 255, 299];
        for (uint256 k = 0; k < 3; ++k) {
            uint256 i = replays[k];
            bytes32[] memory proof = proofOf(p, i);
            vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementAlreadyClaimed.selector, jobId, i));
            settlement.claim(jobId, i, p.devices[i], 0.1 ether, proof);
        }
        _assertSolvent(0);
    }

    /// @dev A zero-amount leaf (a device listed with nothing to earn) is claimed once: its bit flips, nothing
    ///      moves.
    function test_claim_zeroAmountLeafFlipsItsBitOnly() public {
        address[] memory accounts = new address[](3);
        uint256[] memory amounts = new uint256[](3);
        for (uint256 i = 0; i < 3; ++i) accounts[i] = deviceAt(i);
        amounts[0] = 1 ether;
        amounts[2] = 2 ether;
        bytes32[] memory tree = MerkleHelper.buildPayouts(accounts, amounts);
        ISettlement.ReportInput memory input = reportInput(tree[0], 3 ether, 10, true);
        uint256 jobId = attestedJobFor(20, input);
        postReport(jobId, input);
        bytes32[] memory proof = MerkleHelper.payoutProof(tree, 1, accounts[1], 0);
        uint256 outstanding = token.balanceOf(address(settlement));
        vm.expectEmit(address(settlement));
        emit ISettlement.PayoutClaimed(jobId, 1, accounts[1], 0);
        settlement.claim(jobId, 1, accounts[1], 0, proof);
        assertTrue(settlement.isClaimed(jobId, 1));
        assertEq(token.balanceOf(accounts[1]), 0);
        assertEq(token.balanceOf(address(settlement)), outstanding);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementAlreadyClaimed.selector, jobId, 1));
        settlement.claim(jobId, 1, accounts[1], 0, proof);
    }

    /// @dev One account serving two roles (here the reporter also attests) has one ledger entry holding both.
    function test_fees_oneEntryPerAccountAcrossRoles() public {
        Payouts memory p = payouts(4, 1 ether);
        ISettlement.ReportInput memory input = reportInput(p.root, 4 ether, 10, true);
        bytes32 value = resultHash(input);
        uint256 jobId = assignedJob(20);
        commitAggregate(jobId, value);
        address[] memory atts = attestorsOf(jobId);
        for (uint256 i = 0; i < Q; ++i) commitAtt(jobId, atts[i], value);
        vm.warp(ra.attestationOf(jobId).commitDeadline + 1);
        for (uint256 i = 0; i < Q; ++i) revealAtt(jobId, atts[i], value);
        revealAgg(jobId, value);
        address attestorReporter = atts[0];
        _operator(attestorReporter, INodeStaking.Role.Reporter);
        vm.prank(attestorReporter);
        settlement.report(jobId, input);
        assertEq(settlement.feesOf(attestorReporter), fee(200) + fee(300) / Q);
        assertEq(settlement.feesOf(reporter), 0);
        uint256 before = token.balanceOf(attestorReporter);
        settlement.withdrawFees(attestorReporter);
        assertEq(token.balanceOf(attestorReporter) - before, fee(200) + fee(300) / Q);
        _assertSolvent(4 ether);
    }

    function test_claim_revertsWithoutPayouts() public {
        ISettlement.ReportInput memory input = reportInput(bytes32(0), 0, 3, false);
        uint256 jobId = attestedJobFor(20, input);
        postReport(jobId, input);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementNoPayouts.selector, jobId));
        settlement.claim(jobId, 0, alice, 1, new bytes32[](0));
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementNoPayouts.selector, 99));
        settlement.claim(99, 0, alice, 1, new bytes32[](0));
    }

    function test_claim_cannotExceedPayoutTotal() public {
        // A tree whose leaves sum to more than the posted total: the pool caps what leaves can take.
        Payouts memory p = payouts(3, 1 ether);
        ISettlement.ReportInput memory input = reportInput(p.root, 2 ether, 10, true);
        uint256 jobId = attestedJobFor(20, input);
        postReport(jobId, input);
        claimLeaf(jobId, p, 0);
        claimLeaf(jobId, p, 1);
        bytes32[] memory p2 = proofOf(p, 2);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementPoolExhausted.selector, jobId, 0, 1 ether)
        );
        settlement.claim(jobId, 2, p.devices[2], 1 ether, p2);
        assertFalse(settlement.isClaimed(jobId, 2));
        _assertSolvent(0);
    }

    // ------------------------------------------------------------------------------------------- sweep

    function test_sweep_sendsUnclaimedToTreasuryAfterWindowAndKeepsFees() public {
        (uint256 jobId, Payouts memory p) = _settled(4, 1 ether);
        claimLeaf(jobId, p, 0);
        uint48 deadline = settlement.reportOf(jobId).claimDeadline;
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementClaimWindowOpen.selector, jobId, deadline)
        );
        settlement.sweep(jobId);
        vm.warp(uint256(deadline) + 1);
        uint256 before = token.balanceOf(treasury);
        uint256 fees = token.balanceOf(address(settlement)) - 3 ether;
        vm.expectEmit(address(settlement));
        emit ISettlement.PayoutSwept(jobId, treasury, 3 ether);
        vm.prank(alice);
        settlement.sweep(jobId);
        assertEq(token.balanceOf(treasury) - before, 3 ether);
        assertTrue(settlement.reportOf(jobId).swept);
        assertEq(token.balanceOf(address(settlement)), fees, "fees are never swept");
        _assertSolvent(0);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementAlreadySwept.selector, jobId));
        settlement.sweep(jobId);
        bytes32[] memory p1 = proofOf(p, 1);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementAlreadySwept.selector, jobId));
        settlement.claim(jobId, 1, p.devices[1], 1 ether, p1);
        // Fees stay withdrawable after the sweep.
        uint256 owed = settlement.feesOf(reporter);
        uint256 reporterBefore = token.balanceOf(reporter);
        settlement.withdrawFees(reporter);
        assertEq(token.balanceOf(reporter) - reporterBefore, owed);
        _assertSolvent(0);
    }

    function test_sweep_revertsWithoutPayouts() public {
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementNoPayouts.selector, 99));
        settlement.sweep(99);
    }
}
