// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {CommonBase} from "forge-std/Base.sol";
import {StdAssertions} from "forge-std/StdAssertions.sol";
import {StdCheats} from "forge-std/StdCheats.sol";
import {StdUtils} from "forge-std/StdUtils.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {VRFCoordinatorV2_5Mock} from "@chainlink/contracts/src/v0.8/vrf/mocks/VRFCoordinatorV2_5Mock.sol";
import {MerkleHelper} from "../../utils/MerkleHelper.sol";
import {GrowthPool} from "../../../contracts/GrowthPool.sol";
import {IGrowthPool} from "../../../contracts/interfaces/IGrowthPool.sol";
import {GrowthPoolV2} from "../../mocks/GrowthPoolV2.sol";

/// @title GrowthPoolHandler
/// @notice Drives GrowthPool through posts (two distributors), VRF fulfilments, claims from several senders,
///         invalid and repeated claims, sweeps, time jumps, parameter changes and one mid-run upgrade.
///         Every input is bounded and no call reverts; ghost variables mirror the pool's accounting.
contract GrowthPoolHandler is CommonBase, StdCheats, StdUtils, StdAssertions {
    error GrowthPoolHandlerUnknownRequest(uint256 requestId);

    using MerkleHelper for bytes32[];

    GrowthPool internal immutable pool;
    IERC20 internal immutable token;
    VRFCoordinatorV2_5Mock internal immutable coordinator;
    address internal immutable governance;
    address[] internal distributors;
    address[] internal senders;

    uint256[] internal pending;
    uint256[] internal drawnEpochs;
    mapping(uint256 epoch => address[]) internal devicesOf;
    mapping(uint256 epoch => bytes32[]) internal treeOf;

    uint256 public ghostAllocated;
    uint256 public ghostSwept;
    uint256 public ghostClaimed;
    uint256 public claimCount;
    bool public doubleClaimSucceeded;
    bool public invalidClaimSucceeded;
    bool public upgraded;
    bool public upgradeChangedState;
    mapping(bytes32 key => bool) internal claimedDraw;

    constructor(
        GrowthPool pool_,
        IERC20 token_,
        VRFCoordinatorV2_5Mock coordinator_,
        address governance_,
        address[] memory distributors_
    ) {
        pool = pool_;
        token = token_;
        coordinator = coordinator_;
        governance = governance_;
        distributors = distributors_;
        for (uint256 i = 0; i < 4; ++i) senders.push(makeAddr(string.concat("sender", vm.toString(i))));
    }

    // ---------------------------------------------------------------- actions

    function post(uint256 nSeed, uint256 saltSeed, uint256 actorSeed) external {
        uint256 epoch = pool.nextEpoch();
        uint256 end = pool.epochEnd(epoch);
        if (block.timestamp < end) vm.warp(end);
        uint256 n = bound(nSeed, 0, 8);
        bytes32 root;
        if (n != 0) {
            address[] memory devices = new address[](n);
            for (uint256 i = 0; i < n; ++i) {
                devices[i] = address(uint160(uint256(keccak256(abi.encode(epoch, saltSeed, i))) | 1));
            }
            bytes32[] memory tree = MerkleHelper.build(devices);
            root = tree.root();
            devicesOf[epoch] = devices;
            treeOf[epoch] = tree;
        }
        vm.prank(distributors[actorSeed % distributors.length]);
        uint256 requestId = pool.postEpoch(epoch, root, n, "cid");
        IGrowthPool.EpochInfo memory info = pool.epochInfo(epoch);
        ghostAllocated += info.perWinner * info.k;
        if (requestId != 0) pending.push(requestId);
    }

    function fulfil(uint256 pickSeed, uint256 word) external {
        if (pending.length == 0) return;
        uint256 at = pickSeed % pending.length;
        uint256 requestId = pending[at];
        pending[at] = pending[pending.length - 1];
        pending.pop();
        uint256[] memory words = new uint256[](1);
        words[0] = word;
        coordinator.fulfillRandomWordsWithOverride(requestId, address(pool), words);
        drawnEpochs.push(_epochOf(requestId));
    }

    function claim(uint256 epochSeed, uint256 jSeed, uint256 senderSeed) external {
        if (drawnEpochs.length == 0) return;
        uint256 epoch = drawnEpochs[epochSeed % drawnEpochs.length];
        IGrowthPool.EpochInfo memory info = pool.epochInfo(epoch);
        if (block.timestamp > info.claimDeadline) return;
        uint256 j = jSeed % info.k;
        if (pool.isClaimed(epoch, j)) return;
        uint256 index = pool.winnerIndex(epoch, j);
        address winner = devicesOf[epoch][index];
        bytes32[] memory proof = treeOf[epoch].proofOf(winner, index);
        uint256 before = token.balanceOf(winner);
        vm.prank(senders[senderSeed % senders.length]);
        pool.claim(epoch, j, winner, index, proof);
        assertEq(token.balanceOf(winner) - before, info.perWinner, "claim paid");
        bytes32 key = keccak256(abi.encode(epoch, j));
        if (claimedDraw[key]) doubleClaimSucceeded = true;
        claimedDraw[key] = true;
        ghostClaimed += info.perWinner;
        ++claimCount;
    }

    /// Replays a claimed draw, or a draw with a wrong index/account: each must fail.
    function claimInvalid(uint256 epochSeed, uint256 jSeed, uint256 mode, uint256 senderSeed) external {
        if (drawnEpochs.length == 0) return;
        uint256 epoch = drawnEpochs[epochSeed % drawnEpochs.length];
        IGrowthPool.EpochInfo memory info = pool.epochInfo(epoch);
        uint256 j = jSeed % info.k;
        uint256 index = pool.winnerIndex(epoch, j);
        address account = devicesOf[epoch][index];
        mode = mode % 3;
        if (mode == 1) {
            index = (index + 1) % info.n; // loser (or the winner itself when n == 1)
            account = devicesOf[epoch][index];
        } else if (mode == 2) {
            account = senders[senderSeed % senders.length]; // not in the list
        }
        bool shouldFail =
            mode == 0
                ? pool.isClaimed(epoch, j) || block.timestamp > info.claimDeadline
                : (mode == 2 || info.n > 1);
        if (!shouldFail) return;
        bytes32[] memory proof =
            mode == 2
                ? treeOf[epoch].proofOf(devicesOf[epoch][index], index)
                : treeOf[epoch].proofOf(account, index);
        vm.prank(senders[senderSeed % senders.length]);
        try pool.claim(epoch, j, account, index, proof) {
            if (mode == 0) doubleClaimSucceeded = true;
            else invalidClaimSucceeded = true;
        } catch {}
    }

    function sweep(uint256 epochSeed) external {
        if (drawnEpochs.length == 0) return;
        uint256 epoch = drawnEpochs[epochSeed % drawnEpochs.length];
        IGrowthPool.EpochInfo memory info = pool.epochInfo(epoch);
        if (block.timestamp <= info.claimDeadline || info.swept) return;
        uint256 amount = pool.sweep(epoch);
        assertEq(amount, info.perWinner * (info.k - info.claimedCount), "sweep amount");
        ghostSwept += amount;
    }

    function warp(uint256 secs) external {
        vm.warp(block.timestamp + bound(secs, 1 hours, 10 days));
    }

    function setParams(uint256 h, uint256 k, uint256 window) external {
        vm.startPrank(governance);
        pool.setHalvingEpochs(uint32(bound(h, 1, 8)));
        pool.setWinnersPerEpoch(uint32(bound(k, 1, 8)));
        pool.setClaimWindow(uint64(bound(window, 1 hours, 10 days)));
        vm.stopPrank();
    }

    function upgrade() external {
        if (upgraded) return;
        bytes32 before = _snapshot();
        GrowthPoolV2 v2 = new GrowthPoolV2();
        vm.prank(governance);
        pool.upgradeToAndCall(address(v2), abi.encodeCall(GrowthPoolV2.initializeV2, ()));
        upgraded = true;
        if (_snapshot() != before || GrowthPoolV2(address(pool)).version() != 2) upgradeChangedState = true;
    }

    // ---------------------------------------------------------------- helpers

    function _epochOf(uint256 requestId) private view returns (uint256 epoch) {
        epoch = pool.nextEpoch();
        while (epoch > 0) {
            --epoch;
            if (pool.epochInfo(epoch).requestId == requestId) return epoch;
        }
        revert GrowthPoolHandlerUnknownRequest(requestId);
    }

    function _snapshot() private view returns (bytes32) {
        uint256 next = pool.nextEpoch();
        bytes32 h = keccak256(
            abi.encode(
                pool.totalEmitted(),
                pool.totalClaimed(),
                pool.totalSwept(),
                pool.carry(),
                next,
                pool.cap(),
                pool.config(),
                pool.vrfConfig(),
                pool.governance()
            )
        );
        for (uint256 e = 0; e < next; ++e) h = keccak256(abi.encode(h, pool.epochInfo(e)));
        return h;
    }

    function drawnCount() external view returns (uint256) {
        return drawnEpochs.length;
    }
}
