// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {VRFCoordinatorV2_5Mock} from "@chainlink/contracts/src/v0.8/vrf/mocks/VRFCoordinatorV2_5Mock.sol";
import {GrowthPoolBase} from "./GrowthPoolBase.sol";
import {MerkleHelper} from "../utils/MerkleHelper.sol";
import {GrowthPoolV2} from "../mocks/GrowthPoolV2.sol";
import {GrowthPool} from "../../contracts/GrowthPool.sol";
import {IGrowthPool} from "../../contracts/interfaces/IGrowthPool.sol";
import {IGovernedUUPS} from "../../contracts/interfaces/IGovernedUUPS.sol";
import {INodeStaking} from "../../contracts/interfaces/INodeStaking.sol";

contract GrowthPoolTest is GrowthPoolBase {
    using MerkleHelper for bytes32[];

    // ================================================================ initialize

    function test_initialize_setsState() public view {
        assertEq(pool.cap(), POOL_CAP);
        assertEq(token.balanceOf(address(pool)), POOL_CAP);
        assertEq(pool.remaining(), POOL_CAP);
        assertEq(pool.governance(), governance);
        assertEq(pool.token(), address(token));
        assertEq(pool.staking(), address(staking));
        IGrowthPool.Config memory c = pool.config();
        assertEq(c.genesis, genesis);
        assertEq(c.epochLength, EPOCH);
        assertEq(c.halvingEpochs, H);
        assertEq(c.winnersPerEpoch, K);
        assertEq(c.claimWindow, WINDOW);
        IGrowthPool.VrfConfig memory v = pool.vrfConfig();
        assertEq(v.coordinator, address(coordinator));
        assertEq(v.keyHash, KEY_HASH);
        assertEq(v.subscriptionId, subId);
        assertEq(v.requestConfirmations, 3);
        assertEq(v.callbackGasLimit, CALLBACK_GAS);
        IGrowthPool.Era[] memory e = pool.eras();
        assertEq(e.length, 1);
        assertEq(e[0].start, 0);
        assertEq(e[0].halvingEpochs, H);
        assertEq(e[0].e0, _e0());
        assertEq(pool.nextEpoch(), 0);
        assertEq(pool.totalEmitted(), 0);
        assertEq(pool.totalClaimed(), 0);
        assertEq(pool.carry(), 0);
    }

    function test_initialize_emitsEvents() public {
        address predicted = vm.computeCreateAddress(address(this), vm.getNonce(address(this)));
        vm.prank(treasury);
        token.transfer(predicted, 1_000 ether);
        bytes memory data = _initData(governance, address(token), address(staking), _config(), _vrf());
        vm.expectEmit(true, true, true, true, predicted);
        emit IGovernedUUPS.GovernanceTransferred(address(0), governance);
        vm.expectEmit(true, true, true, true, predicted);
        emit IGrowthPool.GrowthPoolInitialized(
            address(token),
            address(staking),
            1_000 ether,
            125 ether,
            _config()
        );
        vm.expectEmit(true, true, true, true, predicted);
        emit IGrowthPool.VrfConfigUpdated(address(coordinator), KEY_HASH, subId, 3, CALLBACK_GAS);
        address proxy = address(new ERC1967Proxy(address(implementation), data));
        assertEq(proxy, predicted);
    }

    function test_initialize_revertsOnSecondCall() public {
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        pool.initialize(
            governance,
            IERC20(address(token)),
            INodeStaking(address(staking)),
            _config(),
            _vrf()
        );
    }

    function test_initialize_revertsOnImplementation() public {
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        implementation.initialize(
            governance,
            IERC20(address(token)),
            INodeStaking(address(staking)),
            _config(),
            _vrf()
        );
    }

    function test_initialize_revertsOnZeroAddresses() public {
        _expectInitRevert(
            _initData(address(0), address(token), address(staking), _config(), _vrf()),
            abi.encodeWithSelector(IGovernedUUPS.GovernedZeroAddress.selector)
        );
        bytes memory zero = abi.encodeWithSelector(IGrowthPool.GrowthPoolZeroAddress.selector);
        _expectInitRevert(_initData(governance, address(0), address(staking), _config(), _vrf()), zero);
        _expectInitRevert(_initData(governance, address(token), address(0), _config(), _vrf()), zero);
        IGrowthPool.VrfConfig memory v = _vrf();
        v.coordinator = address(0);
        // the proxy must hold tokens to get past the cap check
        address predicted = vm.computeCreateAddress(address(this), vm.getNonce(address(this)));
        vm.prank(treasury);
        token.transfer(predicted, 1 ether);
        _expectInitRevert(_initData(governance, address(token), address(staking), _config(), v), zero);
    }

    function test_initialize_revertsOnZeroCap() public {
        _expectInitRevert(
            _initData(governance, address(token), address(staking), _config(), _vrf()),
            abi.encodeWithSelector(IGrowthPool.GrowthPoolInvalidCap.selector, 0)
        );
    }

    function test_initialize_revertsOnInvalidConfig() public {
        IGrowthPool.Config memory c = _config();
        c.epochLength = 10 minutes - 1;
        _expectInitRevert(
            _initData(governance, address(token), address(staking), c, _vrf()),
            abi.encodeWithSelector(IGrowthPool.GrowthPoolInvalidEpochLength.selector, c.epochLength)
        );
        c = _config();
        c.epochLength = 365 days + 1;
        _expectInitRevert(
            _initData(governance, address(token), address(staking), c, _vrf()),
            abi.encodeWithSelector(IGrowthPool.GrowthPoolInvalidEpochLength.selector, c.epochLength)
        );
        c = _config();
        c.halvingEpochs = 0;
        _expectInitRevert(
            _initData(governance, address(token), address(staking), c, _vrf()),
            abi.encodeWithSelector(IGrowthPool.GrowthPoolInvalidHalvingEpochs.selector, 0)
        );
        c = _config();
        c.winnersPerEpoch = 65;
        _expectInitRevert(
            _initData(governance, address(token), address(staking), c, _vrf()),
            abi.encodeWithSelector(IGrowthPool.GrowthPoolInvalidWinnersPerEpoch.selector, 65)
        );
        c = _config();
        c.claimWindow = 1 hours - 1;
        _expectInitRevert(
            _initData(governance, address(token), address(staking), c, _vrf()),
            abi.encodeWithSelector(IGrowthPool.GrowthPoolInvalidClaimWindow.selector, c.claimWindow)
        );
        address predicted = vm.computeCreateAddress(address(this), vm.getNonce(address(this)));
        vm.prank(treasury);
        token.transfer(predicted, 1 ether);
        IGrowthPool.VrfConfig memory v = _vrf();
        v.callbackGasLimit = 79_999;
        _expectInitRevert(
            _initData(governance, address(token), address(staking), _config(), v),
            abi.encodeWithSelector(IGrowthPool.GrowthPoolInvalidCallbackGasLimit.selector, 79_999)
        );
    }

    // ================================================================ postEpoch

    function test_postEpoch_storesEpochAndRequestsDraw() public {
        address[] memory devices = _devices(5, 1);
        bytes32[] memory tree = MerkleHelper.build(devices);
        _warpToEnd(0);
        uint256 budget = _e0();
        uint256 perWinner = budget / K;
        uint256 dust = budget - perWinner * K;
        vm.expectEmit(address(pool));
        emit IGrowthPool.EpochPosted(0, distributor, tree.root(), 5, K, budget, perWinner, dust, "cid0");
        vm.expectEmit(address(pool));
        emit IGrowthPool.DrawRequested(0, 1);
        vm.prank(distributor);
        uint256 requestId = pool.postEpoch(0, tree.root(), 5, "cid0");

        assertEq(requestId, 1);
        assertEq(pool.nextEpoch(), 1);
        assertEq(pool.totalEmitted(), perWinner * K);
        assertEq(pool.remaining(), POOL_CAP - perWinner * K);
        assertEq(pool.carry(), dust);
        IGrowthPool.EpochInfo memory info = pool.epochInfo(0);
        assertTrue(info.posted);
        assertFalse(info.drawn);
        assertFalse(info.swept);
        assertEq(info.root, tree.root());
        assertEq(info.n, 5);
        assertEq(info.k, K);
        assertEq(info.budget, budget);
        assertEq(info.perWinner, perWinner);
        assertEq(info.requestId, 1);
        assertEq(info.postedAt, block.timestamp);
        assertEq(info.requestedAt, block.timestamp);
        assertEq(info.claimWindow, WINDOW);
        assertEq(info.claimDeadline, 0);
        assertEq(info.claimedCount, 0);
    }

    function test_postEpoch_allowsAnyActiveDistributor() public {
        _warpToEnd(0);
        vm.prank(distributor2);
        pool.postEpoch(0, keccak256("r"), 1, "");
        assertEq(pool.nextEpoch(), 1);
    }

    function test_postEpoch_revertsBeforeEpochEnd() public {
        uint256 end = pool.epochEnd(0);
        assertEq(end, genesis + EPOCH);
        vm.warp(end - 1);
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolEpochNotEnded.selector, 0, end));
        vm.prank(distributor);
        pool.postEpoch(0, keccak256("r"), 1, "");
        assertEq(pool.nextEpoch(), 0);
    }

    function test_postEpoch_revertsOnDoublePost() public {
        _post(0, _devices(2, 1));
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolAlreadyPosted.selector, 0));
        vm.prank(distributor2);
        pool.postEpoch(0, keccak256("r"), 1, "");
    }

    function test_postEpoch_revertsOutOfOrder() public {
        _warpToEnd(3);
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolEpochOutOfOrder.selector, 2, 0));
        vm.prank(distributor);
        pool.postEpoch(2, keccak256("r"), 1, "");
    }

    function test_postEpoch_revertsForNonDistributor() public {
        _warpToEnd(0);
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolNotDistributor.selector, alice));
        vm.prank(alice);
        pool.postEpoch(0, keccak256("r"), 1, "");
    }

    function test_postEpoch_revertsForUnbondingDistributor() public {
        vm.prank(distributor);
        staking.requestUnbond(INodeStaking.Role.Distributor, 1);
        _warpToEnd(0);
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolNotDistributor.selector, distributor));
        vm.prank(distributor);
        pool.postEpoch(0, keccak256("r"), 1, "");
    }

    function test_postEpoch_revertsOnRootCountMismatch() public {
        _warpToEnd(0);
        vm.startPrank(distributor);
        vm.expectRevert(
            abi.encodeWithSelector(IGrowthPool.GrowthPoolInvalidRoot.selector, keccak256("r"), 0)
        );
        pool.postEpoch(0, keccak256("r"), 0, "");
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolInvalidRoot.selector, bytes32(0), 4));
        pool.postEpoch(0, bytes32(0), 4, "");
        uint256 tooMany = uint256(type(uint40).max) + 1;
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolTooManyDevices.selector, tooMany));
        pool.postEpoch(0, keccak256("r"), tooMany, "");
        vm.stopPrank();
        assertEq(pool.nextEpoch(), 0);
    }

    function test_postEpoch_emptyEpochRollsOver() public {
        _warpToEnd(0);
        vm.expectEmit(address(pool));
        emit IGrowthPool.EpochPosted(0, distributor, bytes32(0), 0, 0, 0, 0, _e0(), "");
        vm.prank(distributor);
        uint256 requestId = pool.postEpoch(0, bytes32(0), 0, "");
        assertEq(requestId, 0);
        assertEq(pool.carry(), _e0());
        assertEq(pool.totalEmitted(), 0);
        IGrowthPool.EpochInfo memory info = pool.epochInfo(0);
        assertTrue(info.posted);
        assertEq(info.k, 0);
        assertEq(info.budget, 0);

        // epoch 1 with devices gets E(0) + E(1)
        _post(1, _devices(4, 1));
        uint256 budget = 2 * _e0();
        uint256 perWinner = budget / K;
        info = pool.epochInfo(1);
        assertEq(info.budget, budget);
        assertEq(info.perWinner, perWinner);
        assertEq(pool.carry(), budget - perWinner * K);
        assertEq(pool.totalEmitted(), perWinner * K);
    }

    function test_postEpoch_neverAboveRemaining() public {
        // H = 1 then a very long halving period from epoch 1 keeps cap/4 per epoch: the pool runs dry at epoch 3.
        vm.prank(governance);
        pool.setHalvingEpochs(1);
        assertEq(pool.emission(0), POOL_CAP / 2);
        vm.warp(genesis);
        vm.prank(governance);
        pool.setHalvingEpochs(100_000);
        assertEq(pool.emission(1), POOL_CAP / 4);
        assertEq(pool.emission(500), POOL_CAP / 4);
        address[] memory devices = _devices(3, 1);
        for (uint256 e = 0; e < 3; ++e) _post(e, devices);
        uint256 left = pool.remaining();
        assertLt(left, POOL_CAP / 4);
        _post(3, devices);
        IGrowthPool.EpochInfo memory info = pool.epochInfo(3);
        assertEq(info.budget, left);
        assertLe(pool.totalEmitted(), POOL_CAP);
        assertEq(pool.remaining(), left - info.perWinner * K);
        // nothing worth a draw is left: epoch 4 is posted without a draw and everything rolls over
        _post(4, devices);
        info = pool.epochInfo(4);
        assertEq(info.k, 0);
        assertEq(info.requestId, 0);
        assertLe(pool.totalEmitted(), POOL_CAP);
    }

    function test_postEpoch_usesWinnersAndWindowAtPostTime() public {
        _post(0, _devices(3, 1));
        vm.startPrank(governance);
        pool.setWinnersPerEpoch(7);
        pool.setClaimWindow(2 days);
        vm.stopPrank();
        assertEq(pool.epochInfo(0).k, K);
        assertEq(pool.epochInfo(0).claimWindow, WINDOW);
        _post(1, _devices(3, 2));
        assertEq(pool.epochInfo(1).k, 7);
        assertEq(pool.epochInfo(1).claimWindow, 2 days);
    }

    // ================================================================ VRF

    function test_rawFulfillRandomWords_throughMockOpensClaims() public {
        (uint256 requestId, ) = _post(0, _devices(3, 1));
        uint256 deadline = block.timestamp + WINDOW;
        uint256 word = uint256(keccak256(abi.encode(requestId, 0)));
        vm.expectEmit(address(pool));
        emit IGrowthPool.EpochDrawn(0, requestId, word, deadline);
        _fulfil(requestId);
        IGrowthPool.EpochInfo memory info = pool.epochInfo(0);
        assertTrue(info.drawn);
        assertEq(info.randomWord, word);
        assertEq(info.claimDeadline, deadline);
        for (uint256 j = 0; j < K; ++j) {
            assertEq(pool.winnerIndex(0, j), uint256(keccak256(abi.encode(word, j))) % 3);
        }
    }

    function test_rawFulfillRandomWords_revertsForNonCoordinator() public {
        (uint256 requestId, ) = _post(0, _devices(3, 1));
        uint256[] memory words = new uint256[](1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IGrowthPool.GrowthPoolOnlyCoordinator.selector,
                alice,
                address(coordinator)
            )
        );
        vm.prank(alice);
        pool.rawFulfillRandomWords(requestId, words);
    }

    function test_rawFulfillRandomWords_revertsOnUnknownOrFulfilledRequest() public {
        (uint256 requestId, ) = _post(0, _devices(3, 1));
        uint256[] memory words = new uint256[](1);
        vm.prank(address(coordinator));
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolUnknownRequest.selector, requestId + 1));
        pool.rawFulfillRandomWords(requestId + 1, words);
        vm.prank(address(coordinator));
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolNoRandomWords.selector, requestId));
        pool.rawFulfillRandomWords(requestId, new uint256[](0));
        vm.prank(address(coordinator));
        pool.rawFulfillRandomWords(requestId, words);
        vm.prank(address(coordinator));
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolUnknownRequest.selector, requestId));
        pool.rawFulfillRandomWords(requestId, words);
    }

    function test_retryDraw_afterDelayReplacesRequest() public {
        (uint256 first, ) = _post(0, _devices(3, 1));
        uint256 retryAt = block.timestamp + pool.DRAW_RETRY_DELAY();
        vm.warp(retryAt - 1);
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolRetryTooEarly.selector, 0, retryAt));
        pool.retryDraw(0);
        vm.warp(retryAt);
        vm.expectEmit(address(pool));
        emit IGrowthPool.DrawRequested(0, first + 1);
        vm.prank(alice);
        uint256 second = pool.retryDraw(0);
        assertEq(second, first + 1);
        assertEq(pool.epochInfo(0).requestId, second);
        assertEq(pool.epochInfo(0).requestedAt, retryAt);
        // the stale request is refused, the new one draws
        uint256[] memory words = new uint256[](1);
        vm.prank(address(coordinator));
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolUnknownRequest.selector, first));
        pool.rawFulfillRandomWords(first, words);
        _fulfil(second);
        assertTrue(pool.epochInfo(0).drawn);
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolAlreadyDrawn.selector, 0));
        pool.retryDraw(0);
    }

    function test_retryDraw_revertsWithoutDraw() public {
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolNotPosted.selector, 0));
        pool.retryDraw(0);
        _post(0, new address[](0));
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolNothingToDraw.selector, 0));
        pool.retryDraw(0);
    }

    // ================================================================ claim

    function test_claim_paysWinner() public {
        address[] memory devices = _devices(6, 1);
        bytes32[] memory tree = _postAndDraw(0, devices, 42);
        uint256 perWinner = pool.epochInfo(0).perWinner;
        uint256 index = pool.winnerIndex(0, 1);
        address winner = devices[index];
        uint256 before = token.balanceOf(winner);
        vm.expectEmit(address(pool));
        emit IGrowthPool.Claimed(0, 1, winner, index, perWinner);
        vm.prank(bob); // anyone may submit; tokens go to the device
        pool.claim(0, 1, winner, index, tree.proofOf(winner, index));
        assertEq(token.balanceOf(winner) - before, perWinner);
        assertEq(token.balanceOf(bob), 0);
        assertEq(pool.totalClaimed(), perWinner);
        assertEq(token.balanceOf(address(pool)), POOL_CAP - perWinner);
        assertTrue(pool.isClaimed(0, 1));
        assertFalse(pool.isClaimed(0, 0));
        assertEq(pool.epochInfo(0).claimedCount, 1);
    }

    function test_claim_duplicateIndexWinsPerDraw() public {
        // one device: every draw picks index 0 and the device claims each draw once
        address[] memory devices = _devices(1, 7);
        bytes32[] memory tree = _postAndDraw(0, devices, 99);
        bytes32[] memory proof = tree.proofOf(devices[0], 0);
        assertEq(proof.length, 0);
        uint256 perWinner = pool.epochInfo(0).perWinner;
        for (uint256 j = 0; j < K; ++j) {
            assertEq(pool.winnerIndex(0, j), 0);
            pool.claim(0, j, devices[0], 0, proof);
        }
        assertEq(token.balanceOf(devices[0]), perWinner * K);
        assertEq(pool.totalClaimed(), pool.totalEmitted());
    }

    function test_claim_revertsBeforeDraw() public {
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolNotDrawn.selector, 0));
        pool.claim(0, 0, alice, 0, new bytes32[](0));
        _post(0, _devices(2, 1));
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolNotDrawn.selector, 0));
        pool.claim(0, 0, alice, 0, new bytes32[](0));
    }

    function test_claim_windowBoundaries() public {
        address[] memory devices = _devices(4, 1);
        bytes32[] memory tree = _postAndDraw(0, devices, 5);
        uint256 deadline = pool.epochInfo(0).claimDeadline;
        vm.warp(deadline);
        _claimDraw(0, 0, devices, tree); // last second still open
        vm.warp(deadline + 1);
        uint256 index = pool.winnerIndex(0, 1);
        bytes32[] memory proof = tree.proofOf(devices[index], index);
        vm.expectRevert(
            abi.encodeWithSelector(IGrowthPool.GrowthPoolClaimWindowClosed.selector, 0, deadline)
        );
        pool.claim(0, 1, devices[index], index, proof);
    }

    function test_claim_revertsOnInvalidDraw() public {
        address[] memory devices = _devices(4, 1);
        _postAndDraw(0, devices, 5);
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolInvalidDraw.selector, 0, K));
        pool.claim(0, K, devices[0], 0, new bytes32[](0));
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolInvalidDraw.selector, 0, K));
        pool.winnerIndex(0, K);
    }

    function test_claim_revertsOnDoubleClaim() public {
        address[] memory devices = _devices(4, 1);
        bytes32[] memory tree = _postAndDraw(0, devices, 5);
        address winner = _claimDraw(0, 2, devices, tree);
        uint256 index = pool.winnerIndex(0, 2);
        bytes32[] memory proof = tree.proofOf(winner, index);
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolAlreadyClaimed.selector, 0, 2));
        pool.claim(0, 2, winner, index, proof);
    }

    function test_claim_revertsForLoser() public {
        address[] memory devices = _devices(8, 1);
        bytes32[] memory tree = _postAndDraw(0, devices, 5);
        uint256 index = pool.winnerIndex(0, 0);
        uint256 other = (index + 1) % 8;
        bytes32[] memory proof = tree.proofOf(devices[other], other);
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolNotWinner.selector, 0, 0, other));
        pool.claim(0, 0, devices[other], other, proof);
    }

    function test_claim_revertsOnInvalidProof() public {
        address[] memory devices = _devices(8, 1);
        bytes32[] memory tree = _postAndDraw(0, devices, 5);
        uint256 index = pool.winnerIndex(0, 0);
        bytes32[] memory proof = tree.proofOf(devices[index], index);
        // right index, wrong account
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolInvalidProof.selector, 0, alice, index));
        pool.claim(0, 0, alice, index, proof);
        // tampered proof
        proof[0] = bytes32(uint256(proof[0]) ^ 1);
        vm.expectRevert(
            abi.encodeWithSelector(IGrowthPool.GrowthPoolInvalidProof.selector, 0, devices[index], index)
        );
        pool.claim(0, 0, devices[index], index, proof);
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolZeroAddress.selector));
        pool.claim(0, 0, address(0), index, proof);
        assertEq(pool.totalClaimed(), 0);
    }

    function test_claim_proofFromOtherEpochRejected() public {
        address[] memory devicesA = _devices(4, 1);
        address[] memory devicesB = _devices(4, 2);
        bytes32[] memory treeA = _postAndDraw(0, devicesA, 5);
        _postAndDraw(1, devicesB, 5); // same word: same winning indices, different list
        uint256 index = pool.winnerIndex(1, 0);
        bytes32[] memory proof = treeA.proofOf(devicesA[index], index);
        vm.expectRevert(
            abi.encodeWithSelector(IGrowthPool.GrowthPoolInvalidProof.selector, 1, devicesA[index], index)
        );
        pool.claim(1, 0, devicesA[index], index, proof);
    }

    // ================================================================ sweep

    function test_sweep_returnsUnclaimedToRollover() public {
        address[] memory devices = _devices(5, 1);
        bytes32[] memory tree = _postAndDraw(0, devices, 11);
        uint256 perWinner = pool.epochInfo(0).perWinner;
        uint256 dust = pool.carry();
        _claimDraw(0, 0, devices, tree);
        uint256 deadline = pool.epochInfo(0).claimDeadline;
        vm.warp(deadline);
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolClaimWindowOpen.selector, 0, deadline));
        pool.sweep(0);
        vm.warp(deadline + 1);
        uint256 unclaimed = perWinner * (K - 1);
        vm.expectEmit(address(pool));
        emit IGrowthPool.Swept(0, unclaimed, dust + unclaimed);
        vm.prank(carol);
        assertEq(pool.sweep(0), unclaimed);
        assertEq(pool.totalEmitted(), perWinner);
        assertEq(pool.totalSwept(), unclaimed);
        assertEq(pool.carry(), dust + unclaimed);
        assertEq(pool.remaining(), POOL_CAP - perWinner);
        assertTrue(pool.epochInfo(0).swept);
        assertEq(token.balanceOf(address(pool)), POOL_CAP - perWinner);
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolAlreadySwept.selector, 0));
        pool.sweep(0);

        // the swept amount joins the next posted epoch's budget
        uint256 e = pool.currentEpoch();
        for (uint256 i = 1; i < e; ++i) _post(i, new address[](0));
        uint256 owed = pool.carry() + pool.emission(e);
        _post(e, devices);
        assertEq(pool.epochInfo(e).budget, owed);
    }

    function test_sweep_revertsWhenNothingToSweep() public {
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolNotPosted.selector, 0));
        pool.sweep(0);
        _post(0, new address[](0));
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolNothingToDraw.selector, 0));
        pool.sweep(0);
        _post(1, _devices(2, 1));
        vm.warp(block.timestamp + 400 days);
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolNotDrawn.selector, 1));
        pool.sweep(1);
    }

    function test_sweep_fullyClaimedSweepsZero() public {
        address[] memory devices = _devices(1, 3);
        bytes32[] memory tree = _postAndDraw(0, devices, 1);
        for (uint256 j = 0; j < K; ++j) _claimDraw(0, j, devices, tree);
        vm.warp(pool.epochInfo(0).claimDeadline + 1);
        assertEq(pool.sweep(0), 0);
        assertEq(pool.totalEmitted(), pool.totalClaimed());
    }

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
        GrowthPoolV2 v2 = new GrowthPoolV2();
        vm.expectRevert(err);
        pool.upgradeToAndCall(address(v2), "");
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
        VRFCoordinatorV2_5Mock next = new VRFCoordinatorV2_5Mock(0.1 ether, 1 gwei, 4e15);
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
        vm.warp(block.timestamp + 1 days);
        uint256 requestId = pool.retryDraw(0);
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
        GrowthPoolV2 v2 = new GrowthPoolV2();
        vm.prank(governance);
        pool.upgradeToAndCall(address(v2), abi.encodeCall(GrowthPoolV2.initializeV2, ()));
        assertEq(GrowthPoolV2(address(pool)).version(), 2);
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        GrowthPoolV2(address(pool)).initializeV2();
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

    // ================================================================ helpers

    function _initData(
        address gov,
        address tok,
        address stk,
        IGrowthPool.Config memory c,
        IGrowthPool.VrfConfig memory v
    ) internal pure returns (bytes memory) {
        return abi.encodeCall(GrowthPool.initialize, (gov, IERC20(tok), INodeStaking(stk), c, v));
    }

    function _expectInitRevert(bytes memory data, bytes memory err) internal {
        vm.expectRevert(err);
        new ERC1967Proxy(address(implementation), data);
    }
}
