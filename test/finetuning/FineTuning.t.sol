// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {FineTuningFixture} from "./FineTuningFixture.sol";
import {TestMerkle} from "../settlement/LifecycleFixture.sol";
import {INodeStaking} from "../../contracts/interfaces/INodeStaking.sol";
import {IGovernedUUPS} from "../../contracts/interfaces/IGovernedUUPS.sol";
import {IAlgorithmMarketplace} from "../../contracts/interfaces/IAlgorithmMarketplace.sol";
import {IFineTuning} from "../../contracts/interfaces/IFineTuning.sol";
import {IAttestationQuorum} from "../../contracts/interfaces/IAttestationQuorum.sol";
import {FineTuningV2} from "../mocks/FineTuningV2.sol";

contract FineTuningTest is FineTuningFixture {
    uint256 internal constant BEFORE = 0.90e18;
    uint256 internal constant AFTER = 0.92e18;

    // ------------------------------------------------------------------------------------------- params

    function test_initialize_wiring() public view {
        assertEq(address(ft.token()), address(token));
        assertEq(address(ft.market()), address(market));
        assertEq(address(ft.staking()), address(staking));
        assertEq(address(ft.registry()), address(registry));
        assertEq(ft.params().quorum, Q);
    }

    function test_setParams_guardsAndValidates() public {
        IFineTuning.Params memory p = ftParams();
        vm.expectRevert(abi.encodeWithSelector(IGovernedUUPS.GovernedUnauthorized.selector, alice));
        vm.prank(alice);
        ft.setParams(p);
        p.quorum = 0;
        vm.expectRevert(IFineTuning.FineTuningInvalidParams.selector);
        vm.prank(governance);
        ft.setParams(p);
        p = ftParams();
        p.claimWindow = 60 days;
        vm.expectEmit(address(ft));
        emit IFineTuning.ParamsUpdated(p);
        vm.prank(governance);
        ft.setParams(p);
        assertEq(ft.params().claimWindow, 60 days);
    }

    function test_upgrade_preservesBounties() public {
        uint256 id = createBounty();
        FineTuningV2 v2 = new FineTuningV2();
        vm.prank(governance);
        UUPSUpgradeable(address(ft)).upgradeToAndCall(address(v2), "");
        assertEq(FineTuningV2(address(ft)).version(), 2);
        assertEq(ft.getBounty(id).rewardPool, POOL);
        assertEq(ft.totalHeld(), POOL);
    }

    // ------------------------------------------------------------------------------------------- bounties

    function test_createBounty_escrowsAndOpensRoundZero() public {
        IFineTuning.BountyInput memory b = bountyInput();
        uint256 before = token.balanceOf(customer);
        vm.expectEmit(address(ft));
        emit IFineTuning.BountyCreated(1, customer, algorithmId, b);
        vm.expectEmit(address(ft));
        emit IFineTuning.RoundOpened(1, 0, algorithmId, uint64(block.timestamp));
        vm.prank(customer);
        uint256 id = ft.createBounty(b);
        assertEq(id, 1);
        assertEq(before - token.balanceOf(customer), POOL);
        IFineTuning.Bounty memory s = ft.getBounty(id);
        assertEq(s.poster, customer);
        assertEq(uint8(s.status), uint8(IFineTuning.BountyStatus.Active));
        assertEq(s.groupSize, 8);
        assertEq(s.currentAlgorithmId, algorithmId);
        assertEq(ft.totalHeld(), POOL);
        assertEq(ft.bountyCount(), 1);
    }

    function test_createBounty_reverts() public {
        IFineTuning.BountyInput memory b = bountyInput();
        b.algorithmId = 99;
        vm.expectRevert(abi.encodeWithSelector(IFineTuning.FineTuningAlgorithmNotListed.selector, 99));
        vm.prank(customer);
        ft.createBounty(b);
        b = bountyInput();
        b.rewardPool = 0;
        vm.expectRevert(IFineTuning.FineTuningInvalidBounty.selector);
        vm.prank(customer);
        ft.createBounty(b);
        b = bountyInput();
        b.rounds = 101;
        vm.expectRevert(IFineTuning.FineTuningInvalidBounty.selector);
        vm.prank(customer);
        ft.createBounty(b);
        b = bountyInput();
        b.controlCid = "";
        vm.expectRevert(IFineTuning.FineTuningInvalidBounty.selector);
        vm.prank(customer);
        ft.createBounty(b);
    }

    function test_getBounty_revertsForUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IFineTuning.FineTuningUnknownBounty.selector, 7));
        ft.getBounty(7);
    }

    function test_enrol_registersDevicesOnce() public {
        uint256 id = createBounty();
        vm.expectEmit(address(ft));
        emit IFineTuning.TrainerEnrolled(id, trainers[0]);
        vm.prank(trainers[0]);
        ft.enrol(id);
        assertTrue(ft.isEnrolled(id, trainers[0]));
        assertEq(ft.getBounty(id).trainerCount, 1);
        vm.expectRevert(
            abi.encodeWithSelector(IFineTuning.FineTuningAlreadyEnrolled.selector, id, trainers[0])
        );
        vm.prank(trainers[0]);
        ft.enrol(id);
        vm.expectRevert(abi.encodeWithSelector(IFineTuning.FineTuningNotDevice.selector, alice));
        vm.prank(alice);
        ft.enrol(id);
        vm.expectRevert(abi.encodeWithSelector(IFineTuning.FineTuningUnknownBounty.selector, 9));
        vm.prank(trainers[1]);
        ft.enrol(9);
    }

    // ------------------------------------------------------------------------------------------- rounds

    function test_acceptedRound_publishesChildAndPaysTrainers() public {
        uint256 id = createBounty();
        enrolAll(id);
        IFineTuning.RoundClaim memory c = roundClaim(BEFORE, AFTER);
        bytes32 h = ft.claimHashOf(c);
        uint256 countBefore = market.algorithmCount();
        runRound(id, c, votesFor(h));

        IFineTuning.RoundInfo memory r = ft.getRound(id, 0);
        assertEq(uint8(r.status), uint8(IFineTuning.RoundStatus.Accepted));
        assertEq(r.childAlgorithmId, countBefore + 1);
        IAlgorithmMarketplace.Algorithm memory child = market.getAlgorithm(r.childAlgorithmId);
        assertEq(child.parentId, algorithmId);
        assertEq(child.developer, refiner);
        assertEq(child.modelSha256, NEW_SHA);
        IFineTuning.Bounty memory b = ft.getBounty(id);
        assertEq(b.currentAlgorithmId, r.childAlgorithmId);
        assertEq(b.currentRound, 1);
        assertEq(b.reserved, 50 ether);

        bytes32[] memory leaves = trainerLeaves();
        for (uint256 i = 0; i < trainers.length; ++i) {
            vm.expectEmit(address(ft));
            emit IFineTuning.TrainerPaid(id, 0, trainers[i], (i + 1) * 5 ether);
            ft.claim(id, 0, trainers[i], (i + 1) * 5 ether, TestMerkle.proof(leaves, i));
            assertEq(token.balanceOf(trainers[i]), (i + 1) * 5 ether);
        }
        bytes32[] memory p0 = TestMerkle.proof(leaves, 0);
        vm.expectRevert(
            abi.encodeWithSelector(IFineTuning.FineTuningAlreadyClaimed.selector, id, 0, trainers[0])
        );
        ft.claim(id, 0, trainers[0], 5 ether, p0);
    }

    function test_rejectedRound_gainTooSmall_paysNothingAndKeepsWeights() public {
        uint256 id = createBounty();
        IFineTuning.RoundClaim memory c = roundClaim(BEFORE, BEFORE + 0.004e18); // +0.4 points < 0.5
        runRound(id, c, votesFor(ft.claimHashOf(c)));
        IFineTuning.RoundInfo memory r = ft.getRound(id, 0);
        assertEq(uint8(r.status), uint8(IFineTuning.RoundStatus.Rejected));
        assertEq(ft.getBounty(id).currentAlgorithmId, algorithmId);
        assertEq(ft.getBounty(id).reserved, 0);
        assertEq(
            staking.stakeOf(refiner, INodeStaking.Role.Refiner),
            MIN_STAKE,
            "honest refiner not slashed"
        );
        vm.expectRevert(
            abi.encodeWithSelector(
                IFineTuning.FineTuningInvalidRoundStatus.selector,
                id,
                0,
                IFineTuning.RoundStatus.Rejected
            )
        );
        ft.claim(id, 0, trainers[0], 5 ether, new bytes32[](0));
    }

    function test_lyingRefiner_isSlashedAndRoundRejected() public {
        uint256 id = createBounty();
        IFineTuning.RoundClaim memory c = roundClaim(BEFORE, AFTER);
        IFineTuning.RoundClaim memory truth = roundClaim(BEFORE, BEFORE); // attestors measured no gain
        runRound(id, c, votesFor(ft.claimHashOf(truth)));
        assertEq(uint8(ft.getRound(id, 0).status), uint8(IFineTuning.RoundStatus.Rejected));
        assertEq(staking.stakeOf(refiner, INodeStaking.Role.Refiner), MIN_STAKE - SLASH);
    }

    function test_lyingAndSilentAttestors_areSlashed() public {
        uint256 id = createBounty();
        IFineTuning.RoundClaim memory c = roundClaim(BEFORE, AFTER);
        bytes32[] memory votes = votesFor(ft.claimHashOf(c));
        votes[0] = keccak256("lie");
        votes[1] = bytes32(0);
        // Only one honest reveal out of three: no majority → rejected; the silent one is slashed, not the liar.
        runRound(id, c, votes);
        address[] memory atts = ft.getRound(id, 0).attestors;
        assertEq(uint8(ft.getRound(id, 0).status), uint8(IFineTuning.RoundStatus.Rejected));
        assertEq(staking.stakeOf(atts[1], INodeStaking.Role.Attestor), MIN_STAKE - SLASH);
        assertEq(staking.stakeOf(atts[0], INodeStaking.Role.Attestor), MIN_STAKE);
        // Next round with a majority: the liar is slashed.
        IFineTuning.RoundClaim memory c2 = roundClaim(AFTER, AFTER + 0.01e18);
        bytes32[] memory v2 = votesFor(ft.claimHashOf(c2));
        v2[2] = keccak256("lie2");
        runRound(id, c2, v2);
        address[] memory atts2 = ft.getRound(id, 1).attestors;
        assertEq(uint8(ft.getRound(id, 1).status), uint8(IFineTuning.RoundStatus.Accepted));
        assertLt(staking.stakeOf(atts2[2], INodeStaking.Role.Attestor), MIN_STAKE);
    }

    function test_submitRound_reverts() public {
        uint256 id = createBounty();
        IFineTuning.RoundClaim memory c = roundClaim(BEFORE, AFTER);
        vm.expectRevert(abi.encodeWithSelector(IFineTuning.FineTuningNotRefiner.selector, alice));
        vm.prank(alice);
        ft.submitRound(id, c);
        IFineTuning.RoundClaim memory bad = roundClaim(BEFORE, AFTER);
        bad.payoutTotal = 101 ether; // > 300 / 3
        vm.expectRevert(
            abi.encodeWithSelector(IFineTuning.FineTuningInvalidClaim.selector, 101 ether, 100 ether)
        );
        vm.prank(refiner);
        ft.submitRound(id, bad);
        bad = roundClaim(BEFORE, AFTER);
        bad.modelSha256 = bytes32(0);
        vm.expectRevert(
            abi.encodeWithSelector(IFineTuning.FineTuningInvalidClaim.selector, 50 ether, 100 ether)
        );
        vm.prank(refiner);
        ft.submitRound(id, bad);
        vm.prank(refiner);
        ft.submitRound(id, c);
        vm.expectRevert(
            abi.encodeWithSelector(
                IFineTuning.FineTuningInvalidRoundStatus.selector,
                id,
                0,
                IFineTuning.RoundStatus.Submitted
            )
        );
        vm.prank(refiner);
        ft.submitRound(id, c);
    }

    function test_submitRound_revertsAfterDeadline_andCloseRoundRejects() public {
        uint256 id = createBounty();
        uint64 deadline = uint64(block.timestamp) + 1 days;
        vm.expectRevert(
            abi.encodeWithSelector(IFineTuning.FineTuningRoundStillOpen.selector, id, 0, deadline)
        );
        ft.closeRound(id);
        vm.warp(uint256(deadline) + 1);
        IFineTuning.RoundClaim memory c = roundClaim(BEFORE, AFTER);
        vm.expectRevert(abi.encodeWithSelector(IFineTuning.FineTuningRoundClosed.selector, id, 0, deadline));
        vm.prank(refiner);
        ft.submitRound(id, c);
        vm.expectEmit(address(ft));
        emit IFineTuning.RoundFinalized(id, 0, false, "NO_SUBMISSION", bytes32(0), 0);
        ft.closeRound(id);
        assertEq(ft.getBounty(id).currentRound, 1);
    }

    function test_quorumErrors_onFineTuningRounds() public {
        uint256 id = createBounty();
        vm.expectRevert(
            abi.encodeWithSelector(
                IFineTuning.FineTuningInvalidRoundStatus.selector,
                id,
                0,
                IFineTuning.RoundStatus.Open
            )
        );
        ft.commitAttestation(id, keccak256("x"));
        IFineTuning.RoundClaim memory c = roundClaim(BEFORE, AFTER);
        vm.prank(refiner);
        ft.submitRound(id, c);
        vm.expectRevert(abi.encodeWithSelector(IAttestationQuorum.QuorumNotMember.selector, alice));
        vm.prank(alice);
        ft.commitAttestation(id, keccak256("x"));
        IFineTuning.RoundInfo memory info = ft.getRound(id, 0);
        vm.expectRevert(
            abi.encodeWithSelector(IAttestationQuorum.QuorumRevealNotOver.selector, info.revealDeadline)
        );
        ft.finalizeRound(id);
        for (uint256 i = 0; i < Q; ++i) assertTrue(info.attestors[i] != refiner);
    }

    function test_lastRound_refundsLeftoverAndClaimsThenSweep() public {
        uint256 id = createBounty();
        enrolAll(id);
        uint256 posterBefore = token.balanceOf(customer);
        IFineTuning.RoundClaim memory c = roundClaim(BEFORE, AFTER);
        runRound(id, c, votesFor(ft.claimHashOf(c))); // accepted: 50 reserved
        vm.warp(block.timestamp + 1 days + 1);
        ft.closeRound(id); // round 1: no submission
        IFineTuning.RoundClaim memory weak = roundClaim(AFTER, AFTER);
        runRound(id, weak, votesFor(ft.claimHashOf(weak))); // round 2 rejected → bounty finalised
        IFineTuning.Bounty memory b = ft.getBounty(id);
        assertEq(uint8(b.status), uint8(IFineTuning.BountyStatus.Finalized));
        assertEq(token.balanceOf(customer) - posterBefore, POOL - 50 ether);
        assertEq(ft.totalHeld(), 50 ether);
        vm.expectRevert(abi.encodeWithSelector(IFineTuning.FineTuningBountyNotActive.selector, id));
        ft.closeRound(id);

        bytes32[] memory leaves = trainerLeaves();
        ft.claim(id, 0, trainers[0], 5 ether, TestMerkle.proof(leaves, 0));
        uint64 claimDeadline = ft.getRound(id, 0).claimDeadline;
        vm.expectRevert(
            abi.encodeWithSelector(IFineTuning.FineTuningClaimWindowOpen.selector, id, 0, claimDeadline)
        );
        ft.sweep(id, 0);
        vm.warp(uint256(claimDeadline) + 1);
        uint256 mid = token.balanceOf(customer);
        ft.sweep(id, 0);
        assertEq(token.balanceOf(customer) - mid, 45 ether);
        assertEq(ft.totalHeld(), 0);
        assertEq(token.balanceOf(address(ft)), 0);
        bytes32[] memory p1 = TestMerkle.proof(leaves, 1);
        vm.expectRevert(abi.encodeWithSelector(IFineTuning.FineTuningAlreadySwept.selector, id, 0));
        ft.claim(id, 0, trainers[1], 10 ether, p1);
    }

    function test_claim_reverts() public {
        uint256 id = createBounty();
        vm.prank(trainers[0]);
        ft.enrol(id);
        IFineTuning.RoundClaim memory c = roundClaim(BEFORE, AFTER);
        runRound(id, c, votesFor(ft.claimHashOf(c)));
        bytes32[] memory leaves = trainerLeaves();
        bytes32[] memory p1 = TestMerkle.proof(leaves, 1);
        vm.expectRevert(abi.encodeWithSelector(IFineTuning.FineTuningNotTrainer.selector, id, trainers[1]));
        ft.claim(id, 0, trainers[1], 10 ether, p1);
        bytes32[] memory p0 = TestMerkle.proof(leaves, 0);
        vm.expectRevert(
            abi.encodeWithSelector(IFineTuning.FineTuningInvalidProof.selector, id, 0, trainers[0], 6 ether)
        );
        ft.claim(id, 0, trainers[0], 6 ether, p0);
    }

    /// @dev Escrow conservation over any sequence of round outcomes: the pool ends split between claims
    ///      reserved for accepted rounds and the refund to the poster.
    function test_fuzz_rounds_conservePool(uint8 outcomes) public {
        uint256 id = createBounty();
        uint256 posterBefore = token.balanceOf(customer);
        uint256 accepted = 0;
        for (uint256 round = 0; round < ROUNDS; ++round) {
            uint256 kind = (uint256(outcomes) >> (2 * round)) & 3;
            if (kind == 0) {
                vm.warp(block.timestamp + 1 days + 1);
                ft.closeRound(id);
                continue;
            }
            if (!staking.isActive(refiner, INodeStaking.Role.Refiner)) {
                vm.prank(refiner);
                staking.stake(INodeStaking.Role.Refiner, SLASH); // top up after a slash
            }
            IFineTuning.RoundClaim memory c = roundClaim(BEFORE, kind == 1 ? AFTER : BEFORE);
            runRound(id, c, votesFor(kind == 3 ? keccak256("other") : ft.claimHashOf(c)));
            if (kind == 1) ++accepted;
        }
        assertEq(uint8(ft.getBounty(id).status), uint8(IFineTuning.BountyStatus.Finalized));
        assertEq(ft.getBounty(id).reserved, accepted * 50 ether);
        assertEq(token.balanceOf(customer) - posterBefore, POOL - accepted * 50 ether);
        assertEq(token.balanceOf(address(ft)), ft.totalHeld());
        assertEq(ft.totalHeld(), accepted * 50 ether);
    }
}
