// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {GrowthPoolBase, IGrowthPoolTestable, IVRFCoordinatorMockLike} from "./utils/GrowthPoolBase.sol";
import {MerkleHelper} from "./utils/MerkleHelper.sol";
import {IGrowthPool} from "../contracts/interfaces/IGrowthPool.sol";
import {IGovernedUUPS} from "../contracts/interfaces/IGovernedUUPS.sol";

/// @notice GrowthPool unit tests. Governance setters, upgrades and views.
contract GrowthPoolGovernanceTest is GrowthPoolBase {
    using MerkleHelper for bytes32[];

    // ================================================================ governance

    function test_setHalvingEpochs_beforeGenesisRederivesE0() public {
        vm.expectEmit(address(pool));
        emit IGrowthPool.HalvingEpochsUpdated(H, 10, 0, POOL_CAP / 20);
        vm.prank(governance);
        pool.setHalvingEpochs(10);
        assertEq(pool.emission(0), POOL_CAP / 20);
        assertEq(pool.emission(10), POOL_CAP / 40);
        assertEq(pool.config().halvingEpochs, 10);
        assertEq(pool.eras().length, 1);
    }

    function test_setHalvingEpochs_appliesFromNextEpoch() public {
        vm.warp(genesis + 5 * EPOCH + 1); // epoch 5 in progress: level E0 >> 1
        uint256 level = _e0() >> 1;
        vm.expectEmit(address(pool));
        emit IGrowthPool.HalvingEpochsUpdated(H, 2, 6, level);
        vm.prank(governance);
        pool.setHalvingEpochs(2);
        for (uint256 e = 0; e <= 5; ++e) assertEq(pool.emission(e), _e0() >> (e / H));
        assertEq(pool.emission(6), level);
        assertEq(pool.emission(7), level);
        assertEq(pool.emission(8), level >> 1);
        assertEq(pool.emission(12), level >> 3);
        // a second change in the same epoch replaces the pending one
        vm.prank(governance);
        pool.setHalvingEpochs(1);
        assertEq(pool.eras().length, 2);
        assertEq(pool.emission(7), level >> 1);
        // a later change keeps both earlier segments
        vm.warp(genesis + 9 * EPOCH);
        vm.prank(governance);
        pool.setHalvingEpochs(50);
        assertEq(pool.eras().length, 3);
        assertEq(pool.emission(5), _e0() >> 1);
        assertEq(pool.emission(9), level >> 3);
        assertEq(pool.emission(10), level >> 4);
        assertEq(pool.emission(59), level >> 4);
        assertEq(pool.emission(60), level >> 5);
    }

    function test_setters_revertForNonGovernance() public {
        bytes memory err = abi.encodeWithSelector(IGovernedUUPS.GovernedUnauthorized.selector, alice);
        vm.startPrank(alice);
        vm.expectRevert(err);
        pool.setHalvingEpochs(2);
        vm.expectRevert(err);
        pool.setWinnersPerEpoch(2);
        vm.expectRevert(err);
        pool.setClaimWindow(2 days);
        vm.expectRevert(err);
        pool.setVrfConfig(_vrf());
        vm.expectRevert(err);
        pool.setChallengeWindow(2 hours);
        vm.expectRevert(err);
        pool.setSlashAmount(1 ether);
        address v2 = deployCode(POOL_V2_ARTIFACT);
        vm.expectRevert(err);
        pool.upgradeToAndCall(v2, "");
        vm.stopPrank();
    }

    function test_setters_revertOutOfRange() public {
        vm.startPrank(governance);
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolInvalidHalvingEpochs.selector, 100_001));
        pool.setHalvingEpochs(100_001);
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolInvalidWinnersPerEpoch.selector, 0));
        pool.setWinnersPerEpoch(0);
        vm.expectRevert(
            abi.encodeWithSelector(IGrowthPool.GrowthPoolInvalidClaimWindow.selector, 365 days + 1)
        );
        pool.setClaimWindow(365 days + 1);
        IGrowthPool.VrfConfig memory v = _vrf();
        v.callbackGasLimit = 2_500_001;
        vm.expectRevert(
            abi.encodeWithSelector(IGrowthPool.GrowthPoolInvalidCallbackGasLimit.selector, 2_500_001)
        );
        pool.setVrfConfig(v);
        v = _vrf();
        v.coordinator = address(0);
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolZeroAddress.selector));
        pool.setVrfConfig(v);
        vm.stopPrank();
        assertEq(pool.config().halvingEpochs, H);
        assertEq(pool.config().winnersPerEpoch, K);
        assertEq(pool.config().claimWindow, WINDOW);
        assertEq(pool.vrfConfig().coordinator, address(coordinator));
    }

    function test_setChallengeParams_boundedAndEmitted() public {
        vm.startPrank(governance);
        vm.expectEmit(address(pool));
        emit IGrowthPool.ChallengeWindowUpdated(CHALLENGE_WINDOW, 2 hours);
        pool.setChallengeWindow(2 hours);
        vm.expectEmit(address(pool));
        emit IGrowthPool.SlashAmountUpdated(SLASH, 1 ether);
        pool.setSlashAmount(1 ether);
        vm.expectRevert(
            abi.encodeWithSelector(IGrowthPool.GrowthPoolInvalidChallengeWindow.selector, UNBONDING_DELAY)
        );
        pool.setChallengeWindow(uint64(UNBONDING_DELAY));
        vm.expectRevert(
            abi.encodeWithSelector(IGrowthPool.GrowthPoolInvalidChallengeWindow.selector, 31 days)
        );
        pool.setChallengeWindow(31 days);
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolInvalidSlashAmount.selector, 0));
        pool.setSlashAmount(0);
        vm.stopPrank();
        assertEq(pool.challengeConfig().challengeWindow, 2 hours);
        assertEq(pool.challengeConfig().slashAmount, 1 ether);
        // a post after the change uses the new window
        _postOnly(0, _devices(2, 1));
        assertEq(pool.epochInfo(0).challengeDeadline, block.timestamp + 2 hours);
    }

    function test_setWinnersAndWindow_emitEvents() public {
        vm.startPrank(governance);
        vm.expectEmit(address(pool));
        emit IGrowthPool.WinnersPerEpochUpdated(K, 64);
        pool.setWinnersPerEpoch(64);
        vm.expectEmit(address(pool));
        emit IGrowthPool.ClaimWindowUpdated(WINDOW, 1 hours);
        pool.setClaimWindow(1 hours);
        vm.stopPrank();
        assertEq(pool.config().winnersPerEpoch, 64);
        assertEq(pool.config().claimWindow, 1 hours);
    }

    function test_setVrfConfig_newCoordinatorTakesOverPendingDraw() public {
        (uint256 oldRequest, ) = _post(0, _devices(3, 1));
        IVRFCoordinatorMockLike next = _newCoordinator();
        uint256 nextSub = next.createSubscription();
        next.fundSubscription(nextSub, 1_000_000 ether);
        next.addConsumer(nextSub, address(pool));
        IGrowthPool.VrfConfig memory v = _vrf();
        v.coordinator = address(next);
        v.subscriptionId = nextSub;
        vm.expectEmit(address(pool));
        emit IGrowthPool.VrfConfigUpdated(address(next), KEY_HASH, nextSub, 3, CALLBACK_GAS);
        vm.prank(governance);
        pool.setVrfConfig(v);
        // the old coordinator can no longer deliver
        uint256[] memory words = new uint256[](1);
        vm.prank(address(coordinator));
        vm.expectRevert(
            abi.encodeWithSelector(
                IGrowthPool.GrowthPoolOnlyCoordinator.selector,
                address(coordinator),
                address(next)
            )
        );
        pool.rawFulfillRandomWords(oldRequest, words);
        uint256 requestId = pool.retryDraw(0); // allowed at once: the replaced coordinator cannot deliver
        next.fulfillRandomWords(requestId, address(pool));
        assertTrue(pool.epochInfo(0).drawn);
    }

    function test_upgrade_keepsState() public {
        address[] memory devices = _devices(4, 1);
        bytes32[] memory tree = _postAndDraw(0, devices, 3);
        _claimDraw(0, 0, devices, tree);
        (uint256 pending, ) = _post(1, devices);
        uint256 emitted = pool.totalEmitted();
        uint256 claimed = pool.totalClaimed();
        uint256 carry = pool.carry();
        address v2 = deployCode(POOL_V2_ARTIFACT);
        vm.prank(governance);
        pool.upgradeToAndCall(v2, abi.encodeCall(IGrowthPoolTestable.initializeV2, ()));
        assertEq(IGrowthPoolTestable(address(pool)).version(), 2);
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        IGrowthPoolTestable(address(pool)).initializeV2();
        assertEq(pool.totalEmitted(), emitted);
        assertEq(pool.totalClaimed(), claimed);
        assertEq(pool.carry(), carry);
        assertEq(pool.nextEpoch(), 2);
        assertEq(pool.governance(), governance);
        assertTrue(pool.isClaimed(0, 0));
        // pending VRF request and remaining claims still work
        _fulfil(pending);
        assertTrue(pool.epochInfo(1).drawn);
        _claimDraw(0, 1, devices, tree);
        assertEq(pool.totalClaimed(), claimed + pool.epochInfo(0).perWinner);
    }

    function test_governance_proposalChangesParametersAndUpgrades() public {
        address v2 = deployCode(POOL_V2_ARTIFACT);
        address[] memory targets = new address[](2);
        targets[0] = address(pool);
        targets[1] = address(pool);
        uint256[] memory values = new uint256[](2);
        bytes[] memory calldatas = new bytes[](2);
        calldatas[0] = abi.encodeCall(IGrowthPool.setWinnersPerEpoch, (10));
        calldatas[1] = abi.encodeCall(
            IGrowthPoolTestable.upgradeToAndCall,
            (v2, abi.encodeCall(IGrowthPoolTestable.initializeV2, ()))
        );
        _executeProposal(targets, values, calldatas, "GrowthPool: k = 10 and upgrade to V2");
        assertEq(pool.config().winnersPerEpoch, 10);
        assertEq(IGrowthPoolTestable(address(pool)).version(), 2);
        assertEq(pool.governance(), address(timelock));
        assertEq(pool.cap(), POOL_CAP);
    }

    // ================================================================ views

    function test_views_epochClock() public {
        assertEq(pool.currentEpoch(), 0); // before genesis
        vm.warp(genesis + EPOCH - 1);
        assertEq(pool.currentEpoch(), 0);
        vm.warp(genesis + EPOCH);
        assertEq(pool.currentEpoch(), 1);
        assertEq(pool.epochEnd(1), genesis + 2 * EPOCH);
        assertEq(pool.emission(0), _e0());
        assertEq(pool.emission(H), _e0() / 2);
        assertEq(pool.emission(2 * H - 1), _e0() / 2);
        assertEq(pool.emission(uint256(H) * 300), 0);
    }

    function test_winnerIndex_revertsBeforeDraw() public {
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolNotDrawn.selector, 0));
        pool.winnerIndex(0, 0);
    }

    function test_merkleHelper_matchesOpenZeppelinJs() public pure {
        // StandardMerkleTree.of([[0x11..11, 0], [0x22..22, 1], [0x33..33, 2]], ["address", "uint256"])
        address[] memory accounts = new address[](3);
        accounts[0] = 0x1111111111111111111111111111111111111111;
        accounts[1] = 0x2222222222222222222222222222222222222222;
        accounts[2] = 0x3333333333333333333333333333333333333333;
        bytes32[] memory tree = MerkleHelper.build(accounts);
        assertEq(tree.root(), 0x635f234a06280b85fea08966f0b546da8015f6d66bc01b5f09e954770d94c3fe);
        bytes32[] memory p = tree.proofOf(accounts[1], 1);
        assertEq(p.length, 1);
        assertEq(p[0], 0x8f064d8e19186bd62cf601ec6c7f20b64f13d7c4e5a759e19af60bac718876ba);
        p = tree.proofOf(accounts[0], 0);
        assertEq(p.length, 2);
        assertEq(p[0], 0xb2ce023eb7699d0f63c0e210139c43d078802e57901c5a7547aa5d88b5562adb);
        assertEq(p[1], 0xebf09d18ef212432cfa2e714503e8710a4032aa6d15b222f8880dd796ec2e957);
    }
}
