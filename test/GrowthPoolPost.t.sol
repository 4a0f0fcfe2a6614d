// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {GrowthPoolBase, IVRFCoordinatorMockLike} from "./utils/GrowthPoolBase.sol";
import {MerkleHelper} from "./utils/MerkleHelper.sol";
import {IGrowthPool} from "../contracts/interfaces/IGrowthPool.sol";
import {INodeStaking} from "../contracts/interfaces/INodeStaking.sol";

/// @notice GrowthPool unit tests. Posting epochs (budget, rollover, clamp) and the VRF draw (callback, retries).
contract GrowthPoolPostTest is GrowthPoolBase {
    using MerkleHelper for bytes32[];

    // ================================================================ postEpoch

    function test_postEpoch_storesPostAndOpensChallengeWindow() public {
        address[] memory devices = _devices(5, 1);
        bytes32[] memory tree = _tree(0, devices);
        _warpToEnd(0);
        uint256 deadline = block.timestamp + CHALLENGE_WINDOW;
        vm.expectEmit(address(pool));
        emit IGrowthPool.EpochPosted(0, distributor, tree.root(), 5, deadline, "cid0");
        vm.prank(distributor);
        pool.postEpoch(0, tree.root(), 5, "cid0");

        assertEq(pool.nextEpoch(), 1);
        // nothing is allocated or requested before the window closes
        assertEq(pool.totalEmitted(), 0);
        assertEq(pool.carry(), 0);
        IGrowthPool.EpochInfo memory info = pool.epochInfo(0);
        assertTrue(info.posted);
        assertFalse(info.drawn);
        assertEq(uint8(info.status), uint8(IGrowthPool.EpochStatus.Posted));
        assertEq(info.poster, distributor);
        assertEq(info.challengeDeadline, deadline);
        assertEq(info.root, tree.root());
        assertEq(info.n, 5);
        assertEq(info.k, 0);
        assertEq(info.requestId, 0);
        assertEq(info.postedAt, block.timestamp);
    }

    function test_requestDraw_afterWindowAllocatesAndRequests() public {
        address[] memory devices = _devices(5, 1);
        bytes32[] memory tree = _postOnly(0, devices);
        uint256 deadline = pool.epochInfo(0).challengeDeadline;
        vm.warp(deadline);
        vm.expectRevert(
            abi.encodeWithSelector(IGrowthPool.GrowthPoolChallengeWindowOpen.selector, 0, deadline)
        );
        pool.requestDraw(0);
        vm.warp(deadline + 1);
        uint256 budget = _e0();
        uint256 perWinner = budget / K;
        uint256 dust = budget - perWinner * K;
        vm.expectEmit(address(pool));
        emit IGrowthPool.EpochAllocated(0, K, budget, perWinner, dust);
        vm.expectEmit(address(pool));
        emit IGrowthPool.DrawRequested(0, 1);
        vm.prank(alice); // permissionless
        uint256 requestId = pool.requestDraw(0);
        assertEq(requestId, 1);
        assertEq(pool.totalEmitted(), perWinner * K);
        assertEq(pool.remaining(), POOL_CAP - perWinner * K);
        assertEq(pool.carry(), dust);
        IGrowthPool.EpochInfo memory info = pool.epochInfo(0);
        assertEq(uint8(info.status), uint8(IGrowthPool.EpochStatus.Settled));
        assertEq(info.root, tree.root());
        assertEq(info.k, K);
        assertEq(info.budget, budget);
        assertEq(info.perWinner, perWinner);
        assertEq(info.requestId, 1);
        assertEq(info.requestedAt, block.timestamp);
        assertEq(info.requestCoordinator, address(coordinator));
        assertEq(info.claimWindow, WINDOW);
        assertEq(info.claimDeadline, 0);
        // once only
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolAlreadySettled.selector, 0));
        pool.requestDraw(0);
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolNotPosted.selector, 1));
        pool.requestDraw(1);
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
        emit IGrowthPool.EpochPosted(0, distributor, bytes32(0), 0, 0, "");
        vm.expectEmit(address(pool));
        emit IGrowthPool.EpochAllocated(0, 0, 0, 0, _e0());
        vm.prank(distributor);
        pool.postEpoch(0, bytes32(0), 0, "");
        assertEq(uint8(pool.epochInfo(0).status), uint8(IGrowthPool.EpochStatus.Settled));
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolAlreadySettled.selector, 0));
        pool.requestDraw(0);
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

    /// k and the claim window are snapshotted when the budget is allocated (requestDraw).
    function test_postEpoch_usesWinnersAndWindowAtAllocation() public {
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

    /// Low: a pending request is never re-rolled, however late it is; only a request to a replaced coordinator
    /// (which can no longer deliver) is requested again.
    function test_retryDraw_neverWhileTheCoordinatorCanDeliver() public {
        (uint256 first, ) = _post(0, _devices(3, 1));
        vm.warp(block.timestamp + 365 days);
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolRequestPending.selector, 0, first));
        vm.prank(alice);
        pool.retryDraw(0);
        assertEq(pool.epochInfo(0).requestId, first);
        // the first request still arrives and draws
        _fulfil(first);
        assertTrue(pool.epochInfo(0).drawn);
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolAlreadyDrawn.selector, 0));
        pool.retryDraw(0);
    }

    function test_retryDraw_afterCoordinatorReplacedRequestsAgain() public {
        (uint256 first, ) = _post(0, _devices(3, 1));
        IVRFCoordinatorMockLike next = _newCoordinator();
        uint256 nextSub = next.createSubscription();
        next.fundSubscription(nextSub, 1_000_000 ether);
        next.addConsumer(nextSub, address(pool));
        IGrowthPool.VrfConfig memory v = _vrf();
        v.coordinator = address(next);
        v.subscriptionId = nextSub;
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
        pool.rawFulfillRandomWords(first, words);
        vm.expectEmit(address(pool));
        emit IGrowthPool.DrawRequested(0, 1);
        vm.prank(alice);
        uint256 second = pool.retryDraw(0);
        assertEq(pool.epochInfo(0).requestCoordinator, address(next));
        // the new request is pending at the configured coordinator: no second retry
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolRequestPending.selector, 0, second));
        pool.retryDraw(0);
        next.fulfillRandomWords(second, address(pool));
        assertTrue(pool.epochInfo(0).drawn);
    }

    function test_retryDraw_revertsWithoutDraw() public {
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolNotPosted.selector, 0));
        pool.retryDraw(0);
        _post(0, new address[](0));
        vm.expectRevert(abi.encodeWithSelector(IGrowthPool.GrowthPoolNothingToDraw.selector, 0));
        pool.retryDraw(0);
    }
}
