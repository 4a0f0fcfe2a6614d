// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {FineTuningFixture} from "./utils/FineTuningFixture.sol";
import {MerkleHelper} from "./utils/MerkleHelper.sol";
import {INodeStaking} from "../contracts/interfaces/INodeStaking.sol";
import {IGovernedUUPS} from "../contracts/interfaces/IGovernedUUPS.sol";
import {IAlgorithmMarketplace} from "../contracts/interfaces/IAlgorithmMarketplace.sol";
import {IFineTuning} from "../contracts/interfaces/IFineTuning.sol";
import {IAttestationQuorum} from "../contracts/interfaces/IAttestationQuorum.sol";
import {FutureSeed} from "../contracts/utils/FutureSeed.sol";
import {FineTuningV2} from "./mocks/FineTuningV2.sol";

contract FineTuningTest is FineTuningFixture {
    uint256 internal constant AFTER = 0.92e18;
    /// @dev 10% of the 100 DML round reward, split between the three majority attestors.
    uint256 internal constant ATTESTOR_EACH = uint256(10 ether) / 3;
    uint128 internal constant BUDGET = 90 ether;
    bytes32 internal constant INVALID = keccak256("dml.attestation.INVALID");

    // ------------------------------------------------------------------------------------------- params

    function test_initialize_wiring() public view {
        assertEq(address(ft.token()), address(token));
        assertEq(address(ft.market()), address(market));
        assertEq(address(ft.staking()), address(staking));
        assertEq(address(ft.registry()), address(registry));
        assertEq(ft.params().quorum, Q);
        assertEq(ft.params().attestorShareBps, ATTESTOR_SHARE_BPS);
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
        p.attestorShareBps = 10_001;
        vm.expectRevert(IFineTuning.FineTuningInvalidParams.selector);
        vm.prank(governance);
        ft.setParams(p);
        p = ftParams();
        p.claimWindow = 60 days;
        p.attestorShareBps = 2_000;
        vm.expectEmit(address(ft));
        emit IFineTuning.ParamsUpdated(p);
        vm.prank(governance);
        ft.setParams(p);
        assertEq(ft.params().claimWindow, 60 days);
        assertEq(ft.params().attestorShareBps, 2_000);
    }

    function test_upgrade_preservesBounties() public {
        uint256 id = createBounty();
        commitCandidate(id, payoutRoot());
        FineTuningV2 v2 = new FineTuningV2();
        vm.prank(governance);
        UUPSUpgradeable(address(ft)).upgradeToAndCall(
            address(v2),
            abi.encodeCall(FineTuningV2.initializeV2, ())
        );
        assertEq(FineTuningV2(address(ft)).version(), 2);
        IFineTuning.Bounty memory b = ft.getBounty(id);
        assertEq(b.rewardPool, POOL);
        assertEq(b.splitRoot, MerkleHelper.rootOfLeaves(splitLeaves(ROUNDS)));
        assertEq(b.acceptedMetric, BASELINE);
        assertEq(ft.totalHeld(), POOL);
        IFineTuning.RoundInfo memory r = ft.getRound(id, 0);
        assertEq(uint8(r.status), uint8(IFineTuning.RoundStatus.Committed));
        assertEq(r.listCid, LIST);
        assertEq(r.seedBlock, block.number + 1);
        // the round continues on V2
        revealSplit(id);
        assertEq(uint8(ft.getRound(id, 0).status), uint8(IFineTuning.RoundStatus.Attesting));
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
        assertEq(s.splitRoot, b.splitRoot);
        assertEq(s.splitWindow, 1 days);
        assertEq(s.acceptedMetric, BASELINE);
        assertEq(ft.totalHeld(), POOL);
        assertEq(ft.bountyCount(), 1);
    }

    function test_createBounty_reverts() public {
        IFineTuning.BountyInput memory b = bountyInput();
        b.algorithmId = 99;
        vm.expectRevert(abi.encodeWithSelector(IFineTuning.FineTuningAlgorithmNotListed.selector, 99));
        vm.prank(customer);
        ft.createBounty(b);
        IFineTuning.BountyInput[6] memory bad;
        for (uint256 i = 0; i < bad.length; ++i) bad[i] = bountyInput();
        bad[0].rewardPool = 0;
        bad[1].rounds = 101;
        bad[2].controlCid = "";
        bad[3].splitRoot = bytes32(0); // no hidden split
        bad[4].splitWindow = 0;
        bad[5].splitWindow = 30 days + 1;
        for (uint256 i = 0; i < bad.length; ++i) {
            vm.expectRevert(IFineTuning.FineTuningInvalidBounty.selector);
            vm.prank(customer);
            ft.createBounty(bad[i]);
        }
        assertEq(ft.bountyCount(), 0);
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

    function test_commitCandidate_bindsAndArmsSeed() public {
        uint256 id = createBounty();
        bytes32 commitment = keccak256(abi.encode(NEW_SHA, payoutRoot(), refinerSalt(id, 0)));
        vm.expectEmit(address(ft));
        emit IFineTuning.CandidateCommitted(
            id,
            0,
            refiner,
            commitment,
            NEW_MODEL,
            LIST,
            uint64(block.timestamp + 1 days),
            uint64(block.number + 1)
        );
        commitCandidate(id, payoutRoot());
        IFineTuning.RoundInfo memory r = ft.getRound(id, 0);
        assertEq(uint8(r.status), uint8(IFineTuning.RoundStatus.Committed));
        assertEq(r.refiner, refiner);
        assertEq(r.claimHash, commitment, "only the hidden commitment is public");
        assertEq(r.claim.modelCid, NEW_MODEL);
        assertEq(r.claim.payoutRoot, bytes32(0));
        assertEq(r.attestors.length, 0, "no attestor before the split");
    }

    function test_acceptedRound_publishesChildPaysTrainersAndAttestors() public {
        uint256 id = createBounty();
        enrolAll(id);
        uint256 countBefore = market.algorithmCount();
        bytes32 v = valueOf(NEW_SHA, AFTER, payoutRoot());
        assertEq(ft.attestedValueOf(NEW_SHA, AFTER, payoutRoot()), v);
        runRound(id, AFTER, votesFor(v));

        IFineTuning.RoundInfo memory r = ft.getRound(id, 0);
        assertEq(uint8(r.status), uint8(IFineTuning.RoundStatus.Accepted));
        assertEq(r.finalHash, v);
        assertEq(r.claimHash, v);
        assertEq(r.childAlgorithmId, countBefore + 1);
        assertEq(r.payoutTotal, BUDGET);
        assertEq(r.claim.metricBefore, BASELINE);
        assertEq(r.claim.metricAfter, AFTER);
        IAlgorithmMarketplace.Algorithm memory child = market.getAlgorithm(r.childAlgorithmId);
        assertEq(child.parentId, algorithmId);
        assertEq(child.developer, refiner);
        assertEq(child.modelSha256, NEW_SHA);
        IFineTuning.Bounty memory b = ft.getBounty(id);
        assertEq(b.currentAlgorithmId, r.childAlgorithmId);
        assertEq(b.currentRound, 1);
        assertEq(b.reserved, BUDGET);
        assertEq(b.acceptedMetric, AFTER, "the next round must beat the attested metric");
        assertEq(b.attestorsPaid, 3 * ATTESTOR_EACH);
        for (uint256 i = 0; i < Q; ++i) {
            assertEq(earned(r.attestors[i]), ATTESTOR_EACH, "attestor paid from the bounty");
            assertEq(staking.stakeOf(r.attestors[i], INodeStaking.Role.Attestor), MIN_STAKE);
        }
        assertEq(ft.totalHeld(), POOL - 3 * ATTESTOR_EACH);
        assertEq(token.balanceOf(address(ft)), ft.totalHeld());

        bytes32[] memory leaves = trainerLeaves();
        for (uint256 i = 0; i < trainers.length; ++i) {
            vm.expectEmit(address(ft));
            emit IFineTuning.TrainerPaid(id, 0, trainers[i], (i + 1) * 5 ether);
            ft.claim(id, 0, trainers[i], (i + 1) * 5 ether, MerkleHelper.proofOfLeaves(leaves, i));
            assertEq(token.balanceOf(trainers[i]), (i + 1) * 5 ether);
        }
        bytes32[] memory p0 = MerkleHelper.proofOfLeaves(leaves, 0);
        vm.expectRevert(
            abi.encodeWithSelector(IFineTuning.FineTuningAlreadyClaimed.selector, id, 0, trainers[0])
        );
        ft.claim(id, 0, trainers[0], 5 ether, p0);
    }

    function test_rejectedRound_gainTooSmall_paysAttestorsNotTrainers() public {
        uint256 id = createBounty();
        uint256 weak = BASELINE + 0.004e18; // +0.4 points < 0.5
        runRound(id, weak, votesFor(valueOf(NEW_SHA, weak, payoutRoot())));
        IFineTuning.RoundInfo memory r = ft.getRound(id, 0);
        assertEq(uint8(r.status), uint8(IFineTuning.RoundStatus.Rejected));
        assertEq(ft.getBounty(id).currentAlgorithmId, algorithmId);
        assertEq(ft.getBounty(id).reserved, 0);
        assertEq(ft.getBounty(id).acceptedMetric, BASELINE);
        assertEq(earned(r.attestors[0]), ATTESTOR_EACH, "attestors paid for a rejected round too");
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
        // the attestors measured no gain on the hidden split
        runRound(id, AFTER, votesFor(valueOf(NEW_SHA, BASELINE, payoutRoot())));
        assertEq(uint8(ft.getRound(id, 0).status), uint8(IFineTuning.RoundStatus.Rejected));
        assertEq(staking.stakeOf(refiner, INodeStaking.Role.Refiner), MIN_STAKE - SLASH);
        assertEq(token.balanceOf(keeper), SLASH / 10, "an outside caller earns the challenger share");
    }

    function test_invalidMajority_slashesRefiner() public {
        uint256 id = createBounty();
        runRound(id, AFTER, votesFor(INVALID));
        IFineTuning.RoundInfo memory r = ft.getRound(id, 0);
        assertEq(uint8(r.status), uint8(IFineTuning.RoundStatus.Rejected));
        assertEq(r.finalHash, INVALID);
        assertEq(staking.stakeOf(refiner, INodeStaking.Role.Refiner), MIN_STAKE - SLASH);
        assertEq(earned(r.attestors[1]), ATTESTOR_EACH, "attestors who revealed INVALID are paid");
    }

    function test_silentRefiner_isSlashed() public {
        uint256 id = createBounty();
        bytes32 v = valueOf(NEW_SHA, AFTER, payoutRoot());
        commitCandidate(id, payoutRoot());
        revealSplit(id);
        commitVotes(id, votesFor(v));
        IFineTuning.RoundInfo memory info = ft.getRound(id, 0);
        vm.warp(info.commitDeadline + 1);
        revealVotes(id, votesFor(v));
        // every attestor revealed, but the refiner has not: finalisation waits for the reveal deadline
        vm.expectRevert(
            abi.encodeWithSelector(IAttestationQuorum.QuorumRevealNotOver.selector, info.revealDeadline)
        );
        ft.finalizeRound(id);
        vm.warp(info.revealDeadline + 1);
        vm.expectEmit(address(ft));
        emit IFineTuning.RoundFinalized(id, 0, false, "REFINER_SILENT", v, 0);
        vm.prank(keeper);
        ft.finalizeRound(id);
        assertEq(staking.stakeOf(refiner, INodeStaking.Role.Refiner), MIN_STAKE - SLASH);
    }

    function test_lyingAndSilentAttestors_areSlashedOnlyUnderAMajority() public {
        uint256 id = createBounty();
        bytes32[] memory votes = votesFor(valueOf(NEW_SHA, AFTER, payoutRoot()));
        votes[0] = keccak256("lie");
        votes[1] = bytes32(0);
        // One honest reveal out of three: no majority → rejected, nobody slashed, nobody paid.
        runRound(id, AFTER, votes);
        address[] memory atts = ft.getRound(id, 0).attestors;
        assertEq(uint8(ft.getRound(id, 0).status), uint8(IFineTuning.RoundStatus.Rejected));
        for (uint256 i = 0; i < Q; ++i) {
            assertEq(staking.stakeOf(atts[i], INodeStaking.Role.Attestor), MIN_STAKE);
            assertEq(earned(atts[i]), 0);
        }
        assertEq(staking.stakeOf(refiner, INodeStaking.Role.Refiner), MIN_STAKE);
        // Next round with a majority: the liar is slashed and unpaid, the others are paid.
        bytes32[] memory v2 = votesFor(valueOf(NEW_SHA, AFTER, payoutRoot()));
        v2[2] = keccak256("lie2");
        runRound(id, AFTER, v2);
        IFineTuning.RoundInfo memory r1 = ft.getRound(id, 1);
        assertEq(uint8(r1.status), uint8(IFineTuning.RoundStatus.Accepted));
        assertEq(staking.stakeOf(r1.attestors[2], INodeStaking.Role.Attestor), MIN_STAKE - SLASH);
        assertEq(earned(r1.attestors[0]), 5 ether, "the two agreeing attestors split 10 DML");
        assertEq(ft.getBounty(id).attestorsPaid, 10 ether);
    }

    function test_publishFailure_rejectsRoundInsteadOfBlocking() public {
        uint256 id = createBounty();
        vm.prank(governance);
        market.setPublisher(address(ft), false);
        bytes32 v = valueOf(NEW_SHA, AFTER, payoutRoot());
        commitCandidate(id, payoutRoot());
        revealSplit(id);
        commitVotes(id, votesFor(v)); // every member committed: the reveal phase opens at once
        revealVotes(id, votesFor(v));
        revealCandidate(id, AFTER, payoutRoot());
        vm.expectRevert(
            abi.encodeWithSelector(
                IFineTuning.FineTuningInvalidRoundStatus.selector,
                id,
                0,
                IFineTuning.RoundStatus.Attesting
            )
        );
        ft.closeRound(id);
        vm.expectEmit(address(ft));
        emit IFineTuning.RoundFinalized(id, 0, false, "PUBLISH_FAILED", v, 0);
        ft.finalizeRound(id); // everyone revealed: no need to wait for the deadline
        assertEq(uint8(ft.getRound(id, 0).status), uint8(IFineTuning.RoundStatus.Rejected));
        assertEq(ft.getBounty(id).reserved, 0);
    }

    // --------------------------------------------------------------------------------- bad input

    function test_commitCandidate_reverts() public {
        uint256 id = createBounty();
        bytes32 c = keccak256("commitment");
        vm.expectRevert(abi.encodeWithSelector(IFineTuning.FineTuningNotRefiner.selector, alice));
        vm.prank(alice);
        ft.commitCandidate(id, c, NEW_MODEL, LIST);
        vm.expectRevert(IFineTuning.FineTuningInvalidCandidate.selector);
        vm.prank(refiner);
        ft.commitCandidate(id, bytes32(0), NEW_MODEL, LIST);
        vm.expectRevert(IFineTuning.FineTuningInvalidCandidate.selector);
        vm.prank(refiner);
        ft.commitCandidate(id, c, "", LIST);
        vm.expectRevert(IFineTuning.FineTuningInvalidCandidate.selector);
        vm.prank(refiner);
        ft.commitCandidate(id, c, NEW_MODEL, "");
        assertEq(uint8(ft.getRound(id, 0).status), uint8(IFineTuning.RoundStatus.Open));
        commitCandidate(id, payoutRoot());
        vm.expectRevert(
            abi.encodeWithSelector(
                IFineTuning.FineTuningInvalidRoundStatus.selector,
                id,
                0,
                IFineTuning.RoundStatus.Committed
            )
        );
        vm.prank(refiner);
        ft.commitCandidate(id, c, NEW_MODEL, LIST);
        assertEq(
            ft.getRound(id, 0).claimHash,
            keccak256(abi.encode(NEW_SHA, payoutRoot(), refinerSalt(id, 0)))
        );
    }

    function test_commitCandidate_revertsAfterDeadline_andCloseRoundRejects() public {
        uint256 id = createBounty();
        uint64 deadline = uint64(block.timestamp) + 1 days;
        vm.expectRevert(
            abi.encodeWithSelector(IFineTuning.FineTuningRoundStillOpen.selector, id, 0, deadline)
        );
        ft.closeRound(id);
        vm.warp(uint256(deadline) + 1);
        vm.expectRevert(abi.encodeWithSelector(IFineTuning.FineTuningRoundClosed.selector, id, 0, deadline));
        vm.prank(refiner);
        ft.commitCandidate(id, keccak256("c"), NEW_MODEL, LIST);
        vm.expectEmit(address(ft));
        emit IFineTuning.RoundFinalized(id, 0, false, "NO_SUBMISSION", bytes32(0), 0);
        ft.closeRound(id);
        assertEq(ft.getBounty(id).currentRound, 1);
    }

    function test_revealSplit_badInput_revertsAndChangesNothing() public {
        uint256 id = createBounty();
        bytes32[] memory proof0 = splitProof(0);
        // before any candidate: the split must stay hidden
        vm.expectRevert(
            abi.encodeWithSelector(
                IFineTuning.FineTuningInvalidRoundStatus.selector,
                id,
                0,
                IFineTuning.RoundStatus.Open
            )
        );
        ft.revealSplit(id, splitCid(0), splitSalt(0), proof0);
        commitCandidate(id, payoutRoot());
        vm.roll(block.number + 2);
        // wrong salt, wrong CID, another round's split (with its valid proof)
        vm.expectRevert(abi.encodeWithSelector(IFineTuning.FineTuningSplitMismatch.selector, id, 0));
        ft.revealSplit(id, splitCid(0), splitSalt(1), proof0);
        vm.expectRevert(abi.encodeWithSelector(IFineTuning.FineTuningSplitMismatch.selector, id, 0));
        ft.revealSplit(id, "bafybeiotherset", splitSalt(0), proof0);
        bytes32[] memory proof1 = splitProof(1);
        vm.expectRevert(abi.encodeWithSelector(IFineTuning.FineTuningSplitMismatch.selector, id, 0));
        ft.revealSplit(id, splitCid(1), splitSalt(1), proof1);
        assertEq(uint8(ft.getRound(id, 0).status), uint8(IFineTuning.RoundStatus.Committed));
        // late
        uint64 splitDeadline = ft.getRound(id, 0).splitDeadline;
        vm.warp(uint256(splitDeadline) + 1);
        vm.expectRevert(
            abi.encodeWithSelector(IFineTuning.FineTuningSplitRevealLate.selector, id, 0, splitDeadline)
        );
        ft.revealSplit(id, splitCid(0), splitSalt(0), proof0);
        assertEq(uint8(ft.getRound(id, 0).status), uint8(IFineTuning.RoundStatus.Committed));
        assertEq(ft.getRound(id, 0).attestors.length, 0);
    }

    function test_revealSplit_twiceReverts() public {
        uint256 id = createBounty();
        commitCandidate(id, payoutRoot());
        vm.roll(block.number + 2);
        vm.expectEmit(address(ft));
        emit IFineTuning.SplitRevealed(id, 0, splitCid(0), splitSalt(0));
        ft.revealSplit(id, splitCid(0), splitSalt(0), splitProof(0));
        address[] memory drawn = ft.getRound(id, 0).attestors;
        assertEq(drawn.length, Q);
        bytes32[] memory proof0 = splitProof(0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IFineTuning.FineTuningInvalidRoundStatus.selector,
                id,
                0,
                IFineTuning.RoundStatus.Attesting
            )
        );
        ft.revealSplit(id, splitCid(0), splitSalt(0), proof0);
        assertEq(ft.getRound(id, 0).attestors, drawn);
    }

    function test_revealCandidate_badInput_revertsAndChangesNothing() public {
        uint256 id = createBounty();
        bytes32 root = payoutRoot();
        bytes32 salt = refinerSalt(id, 0);
        commitCandidate(id, root);
        // before the split: nobody may see the refiner's value yet
        vm.expectRevert(abi.encodeWithSelector(IFineTuning.FineTuningNotInCandidateReveal.selector, id, 0));
        vm.prank(refiner);
        ft.revealCandidate(id, NEW_SHA, AFTER, root, salt);
        revealSplit(id);
        // during the commit window (attestors have not all committed)
        vm.expectRevert(abi.encodeWithSelector(IFineTuning.FineTuningNotInCandidateReveal.selector, id, 0));
        vm.prank(refiner);
        ft.revealCandidate(id, NEW_SHA, AFTER, root, salt);
        IFineTuning.RoundInfo memory info = ft.getRound(id, 0);
        vm.warp(info.commitDeadline + 1);
        vm.expectRevert(abi.encodeWithSelector(IFineTuning.FineTuningNotRoundRefiner.selector, id, 0, alice));
        vm.prank(alice);
        ft.revealCandidate(id, NEW_SHA, AFTER, root, salt);
        vm.expectRevert(abi.encodeWithSelector(IFineTuning.FineTuningCandidateMismatch.selector, id, 0));
        vm.prank(refiner);
        ft.revealCandidate(id, NEW_SHA, AFTER, keccak256("another root"), salt);
        vm.expectRevert(abi.encodeWithSelector(IFineTuning.FineTuningCandidateMismatch.selector, id, 0));
        vm.prank(refiner);
        ft.revealCandidate(id, keccak256("other model"), AFTER, root, salt);
        assertFalse(ft.getRound(id, 0).candidateRevealed);
        assertEq(ft.getRound(id, 0).claimHash, keccak256(abi.encode(NEW_SHA, root, salt)));
        vm.expectEmit(address(ft));
        emit IFineTuning.CandidateRevealed(id, 0, NEW_SHA, AFTER, root, valueOf(NEW_SHA, AFTER, root));
        vm.prank(refiner);
        ft.revealCandidate(id, NEW_SHA, AFTER, root, salt);
        vm.expectRevert(
            abi.encodeWithSelector(IFineTuning.FineTuningCandidateAlreadyRevealed.selector, id, 0)
        );
        vm.prank(refiner);
        ft.revealCandidate(id, NEW_SHA, BASELINE, root, salt);
        assertEq(ft.getRound(id, 0).claim.metricAfter, AFTER);
    }

    function test_revealCandidate_late_reverts() public {
        uint256 id = createBounty();
        commitCandidate(id, payoutRoot());
        revealSplit(id);
        vm.warp(ft.getRound(id, 0).revealDeadline + 1);
        vm.expectRevert(abi.encodeWithSelector(IFineTuning.FineTuningNotInCandidateReveal.selector, id, 0));
        vm.prank(refiner);
        ft.revealCandidate(id, NEW_SHA, AFTER, payoutRoot(), refinerSalt(id, 0));
        assertFalse(ft.getRound(id, 0).candidateRevealed);
    }

    function test_attestation_badInput_reverts() public {
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
        commitCandidate(id, payoutRoot());
        revealSplit(id);
        IFineTuning.RoundInfo memory info = ft.getRound(id, 0);
        for (uint256 i = 0; i < Q; ++i) assertTrue(info.attestors[i] != refiner, "refiner excluded");
        vm.expectRevert(abi.encodeWithSelector(IAttestationQuorum.QuorumNotMember.selector, alice));
        vm.prank(alice);
        ft.commitAttestation(id, keccak256("x"));
        bytes32 v = valueOf(NEW_SHA, AFTER, payoutRoot());
        address a = info.attestors[0];
        bytes32 salt = ftSalt(id, a);
        vm.prank(a);
        ft.commitAttestation(id, keccak256(abi.encode(v, salt, a)));
        vm.expectRevert(abi.encodeWithSelector(IAttestationQuorum.QuorumAlreadyCommitted.selector, a));
        vm.prank(a);
        ft.commitAttestation(id, keccak256(abi.encode(v, salt, a)));
        vm.warp(info.commitDeadline + 1);
        vm.expectRevert(abi.encodeWithSelector(IAttestationQuorum.QuorumRevealMismatch.selector, a));
        vm.prank(a);
        ft.revealAttestation(id, INVALID, salt);
        vm.prank(a);
        ft.revealAttestation(id, v, salt);
        vm.expectRevert(abi.encodeWithSelector(IAttestationQuorum.QuorumAlreadyRevealed.selector, a));
        vm.prank(a);
        ft.revealAttestation(id, v, salt);
        vm.expectRevert(
            abi.encodeWithSelector(IAttestationQuorum.QuorumRevealNotOver.selector, info.revealDeadline)
        );
        ft.finalizeRound(id);
        vm.warp(info.revealDeadline + 1);
        address b = info.attestors[1];
        bytes32 saltB = ftSalt(id, b);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAttestationQuorum.QuorumNotInRevealPhase.selector,
                info.commitDeadline,
                info.revealDeadline
            )
        );
        vm.prank(b);
        ft.revealAttestation(id, v, saltB);
        assertEq(ft.getRound(id, 0).revealedMask, 1);
    }

    // --------------------------------------------------------------------------------- seed and timeouts

    function test_draw_waitsForTheSeedBlock_thenDrawAttestors() public {
        uint256 id = createBounty();
        commitCandidate(id, payoutRoot());
        // same block as the commitment: the seed's block is not mined, so the split is revealed but nobody drawn
        vm.prank(customer);
        ft.revealSplit(id, splitCid(0), splitSalt(0), splitProof(0));
        IFineTuning.RoundInfo memory r = ft.getRound(id, 0);
        assertEq(uint8(r.status), uint8(IFineTuning.RoundStatus.Attesting));
        assertEq(r.attestors.length, 0);
        vm.expectRevert(abi.encodeWithSelector(IAttestationQuorum.QuorumNotMember.selector, attestorSet[0]));
        vm.prank(attestorSet[0]);
        ft.commitAttestation(id, keccak256("x"));
        vm.roll(block.number + 1); // the seed's block itself: its hash is not known inside it
        vm.expectRevert(abi.encodeWithSelector(FutureSeed.FutureSeedNotReady.selector, block.number));
        ft.drawAttestors(id);
        vm.roll(block.number + 1);
        ft.drawAttestors(id);
        r = ft.getRound(id, 0);
        assertEq(r.attestors.length, Q);
        assertEq(r.commitDeadline, block.timestamp + 1 hours);
        vm.expectRevert(abi.encodeWithSelector(IFineTuning.FineTuningAttestorsAlreadyDrawn.selector, id, 0));
        ft.drawAttestors(id);
    }

    function test_draw_rearmsAfter256Blocks() public {
        uint256 id = createBounty();
        commitCandidate(id, payoutRoot());
        vm.roll(block.number + 300);
        vm.expectEmit(address(ft));
        emit IFineTuning.SeedRearmed(id, 0, uint64(block.number + 1));
        vm.prank(customer);
        ft.revealSplit(id, splitCid(0), splitSalt(0), splitProof(0));
        assertEq(ft.getRound(id, 0).attestors.length, 0);
        assertEq(uint8(ft.getRound(id, 0).status), uint8(IFineTuning.RoundStatus.Attesting), "reveal kept");
        vm.roll(block.number + 2);
        ft.drawAttestors(id);
        assertEq(ft.getRound(id, 0).attestors.length, Q);
    }

    function test_noQuorum_rejectsWithoutSlashing() public {
        uint256 id = createBounty();
        IFineTuning.Params memory p = ftParams();
        p.quorum = uint8(N_ATTESTORS + 1); // more than the active attestors
        vm.prank(governance);
        ft.setParams(p);
        commitCandidate(id, payoutRoot());
        revealSplit(id);
        IFineTuning.RoundInfo memory r = ft.getRound(id, 0);
        assertEq(r.attestors.length, 0);
        vm.expectRevert(
            abi.encodeWithSelector(IFineTuning.FineTuningRoundNotOver.selector, id, 0, r.revealDeadline)
        );
        ft.finalizeRound(id);
        vm.warp(r.revealDeadline + 1);
        vm.expectRevert(
            abi.encodeWithSelector(IFineTuning.FineTuningRoundClosed.selector, id, 0, r.revealDeadline)
        );
        ft.drawAttestors(id);
        vm.expectEmit(address(ft));
        emit IFineTuning.RoundFinalized(id, 0, false, "NO_QUORUM", bytes32(0), 0);
        ft.finalizeRound(id);
        assertEq(staking.stakeOf(refiner, INodeStaking.Role.Refiner), MIN_STAKE);
        assertEq(ft.getBounty(id).currentRound, 1);
    }

    function test_posterSilent_acceptsOnRefinersCommitment() public {
        uint256 id = createBounty();
        enrolAll(id);
        commitCandidate(id, payoutRoot());
        uint64 splitDeadline = ft.getRound(id, 0).splitDeadline;
        vm.expectRevert(
            abi.encodeWithSelector(
                IFineTuning.FineTuningRoundNotOver.selector,
                id,
                0,
                splitDeadline + 1 hours
            )
        );
        ft.finalizeRound(id);
        vm.warp(uint256(splitDeadline) + 1);
        revealCandidate(id, AFTER, payoutRoot());
        vm.prank(keeper);
        ft.finalizeRound(id);
        IFineTuning.RoundInfo memory r = ft.getRound(id, 0);
        assertEq(uint8(r.status), uint8(IFineTuning.RoundStatus.Accepted));
        assertEq(r.payoutTotal, BUDGET);
        assertEq(ft.getBounty(id).attestorsPaid, 0, "no attestor drawn, none paid");
        ft.claim(id, 0, trainers[1], 10 ether, MerkleHelper.proofOfLeaves(trainerLeaves(), 1));
        assertEq(token.balanceOf(trainers[1]), 10 ether);
    }

    function test_posterAndRefinerSilent_rejectsAndSlashesRefiner() public {
        uint256 id = createBounty();
        commitCandidate(id, payoutRoot());
        uint64 end = ft.getRound(id, 0).splitDeadline + 1 hours;
        vm.warp(uint256(end) + 1);
        vm.expectRevert(abi.encodeWithSelector(IFineTuning.FineTuningNotInCandidateReveal.selector, id, 0));
        vm.prank(refiner);
        ft.revealCandidate(id, NEW_SHA, AFTER, payoutRoot(), refinerSalt(id, 0));
        vm.expectEmit(address(ft));
        emit IFineTuning.RoundFinalized(id, 0, false, "REFINER_SILENT", bytes32(0), 0);
        vm.prank(customer); // a party: no challenger share
        ft.finalizeRound(id);
        assertEq(uint8(ft.getRound(id, 0).status), uint8(IFineTuning.RoundStatus.Rejected));
        assertEq(staking.stakeOf(refiner, INodeStaking.Role.Refiner), MIN_STAKE - SLASH);
    }

    function test_challengerShare_neverToAParty() public {
        uint256 id = createBounty();
        bytes32 truth = valueOf(NEW_SHA, BASELINE, payoutRoot());
        commitCandidate(id, payoutRoot());
        revealSplit(id);
        commitVotes(id, votesFor(truth));
        revealVotes(id, votesFor(truth));
        revealCandidate(id, AFTER, payoutRoot()); // lies
        address member = ft.getRound(id, 0).attestors[0];
        uint256 before = token.balanceOf(member);
        uint256 treasuryBefore = token.balanceOf(treasury);
        vm.prank(member); // a drawn attestor finalises: paid as an attestor, not as a challenger
        ft.finalizeRound(id);
        assertEq(staking.stakeOf(refiner, INodeStaking.Role.Refiner), MIN_STAKE - SLASH);
        assertEq(token.balanceOf(member) - before, ATTESTOR_EACH);
        assertEq(token.balanceOf(treasury) - treasuryBefore, SLASH, "the whole slash goes to the treasury");
    }

    // --------------------------------------------------------------------------------- end of a bounty

    function test_lastRound_refundsLeftoverAndClaimsThenSweep() public {
        uint256 id = createBounty();
        enrolAll(id);
        uint256 posterBefore = token.balanceOf(customer);
        runRound(id, AFTER, votesFor(valueOf(NEW_SHA, AFTER, payoutRoot()))); // accepted: 90 reserved
        vm.warp(block.timestamp + 1 days + 1);
        ft.closeRound(id); // round 1: no candidate
        runRound(id, AFTER, votesFor(valueOf(NEW_SHA, AFTER, payoutRoot()))); // no gain over AFTER → rejected
        IFineTuning.Bounty memory b = ft.getBounty(id);
        assertEq(uint8(b.status), uint8(IFineTuning.BountyStatus.Finalized));
        uint256 attestors = 6 * ATTESTOR_EACH;
        assertEq(b.attestorsPaid, attestors);
        assertEq(token.balanceOf(customer) - posterBefore, POOL - BUDGET - attestors);
        assertEq(ft.totalHeld(), BUDGET);
        vm.expectRevert(abi.encodeWithSelector(IFineTuning.FineTuningBountyNotActive.selector, id));
        ft.closeRound(id);

        bytes32[] memory leaves = trainerLeaves();
        ft.claim(id, 0, trainers[0], 5 ether, MerkleHelper.proofOfLeaves(leaves, 0));
        uint64 claimDeadline = ft.getRound(id, 0).claimDeadline;
        vm.expectRevert(
            abi.encodeWithSelector(IFineTuning.FineTuningClaimWindowOpen.selector, id, 0, claimDeadline)
        );
        ft.sweep(id, 0);
        vm.warp(uint256(claimDeadline) + 1);
        uint256 mid = token.balanceOf(customer);
        ft.sweep(id, 0);
        assertEq(token.balanceOf(customer) - mid, BUDGET - 5 ether);
        assertEq(ft.totalHeld(), 0);
        assertEq(token.balanceOf(address(ft)), 0);
        bytes32[] memory p1 = MerkleHelper.proofOfLeaves(leaves, 1);
        vm.expectRevert(abi.encodeWithSelector(IFineTuning.FineTuningAlreadySwept.selector, id, 0));
        ft.claim(id, 0, trainers[1], 10 ether, p1);
    }

    function test_claim_reverts() public {
        uint256 id = createBounty();
        vm.prank(trainers[0]);
        ft.enrol(id);
        runRound(id, AFTER, votesFor(valueOf(NEW_SHA, AFTER, payoutRoot())));
        bytes32[] memory leaves = trainerLeaves();
        bytes32[] memory p1 = MerkleHelper.proofOfLeaves(leaves, 1);
        vm.expectRevert(abi.encodeWithSelector(IFineTuning.FineTuningNotTrainer.selector, id, trainers[1]));
        ft.claim(id, 0, trainers[1], 10 ether, p1);
        bytes32[] memory p0 = MerkleHelper.proofOfLeaves(leaves, 0);
        vm.expectRevert(
            abi.encodeWithSelector(IFineTuning.FineTuningInvalidProof.selector, id, 0, trainers[0], 6 ether)
        );
        ft.claim(id, 0, trainers[0], 6 ether, p0);
    }

    /// @dev Escrow conservation over any sequence of round outcomes: the pool ends split between claims
    ///      reserved for accepted rounds, the attestors' pay and the refund to the poster.
    function test_fuzz_rounds_conservePool(uint8 outcomes) public {
        uint256 id = createBounty();
        uint256 posterBefore = token.balanceOf(customer);
        uint256 accepted = 0;
        uint256 paidRounds = 0;
        uint256 metric = BASELINE;
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
            uint256 next = kind == 1 ? metric + 0.01e18 : metric;
            bytes32 v = kind == 3 ? keccak256("other") : valueOf(NEW_SHA, next, payoutRoot());
            runRound(id, next, votesFor(v));
            ++paidRounds;
            if (kind == 1) {
                ++accepted;
                metric = next;
            }
        }
        uint256 attestors = paidRounds * 3 * ATTESTOR_EACH;
        assertEq(uint8(ft.getBounty(id).status), uint8(IFineTuning.BountyStatus.Finalized));
        assertEq(ft.getBounty(id).reserved, accepted * BUDGET);
        assertEq(ft.getBounty(id).attestorsPaid, attestors);
        assertEq(token.balanceOf(customer) - posterBefore, POOL - accepted * BUDGET - attestors);
        assertEq(token.balanceOf(address(ft)), ft.totalHeld());
        assertEq(ft.totalHeld(), accepted * BUDGET);
    }
}
