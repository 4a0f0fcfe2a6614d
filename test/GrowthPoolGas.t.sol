// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";
import {GrowthPoolBase} from "./utils/GrowthPoolBase.sol";
import {MerkleHelper} from "./utils/MerkleHelper.sol";
import {IGrowthPool} from "../contracts/interfaces/IGrowthPool.sol";

/// @notice Gas of the hot paths at realistic sizes, each measured in its own transaction (cold storage):
///         a claim against a connected set of 2^20 devices (20-hash proof, 65-byte heartbeat in the leaf) by a
///         first-time recipient, a post, the permissionless draw request (VRFCoordinatorV2_5Mock's storage
///         included), the VRF callback, and each fraud proof against a faulty 2^20 post.
///         Run: npx hardhat test solidity --gas-stats test/GrowthPoolGas.t.sol
contract GrowthPoolGasTest is GrowthPoolBase {
    uint256 internal constant N = 1 << 20;
    uint256 internal constant WORD = 0xC0FFEE;
    address internal winner;
    uint256 internal winnerIndex;
    bytes internal winnerSig;
    bytes32[] internal proof;
    uint256 internal requestId;
    bytes32 internal root;
    uint256 internal constant MIN_CALLBACK = 80_000; // GrowthPool.MIN_CALLBACK_GAS_LIMIT

    function setUp() public override {
        super.setUp();
        address[] memory ds = _registeredDevices(1, 77);
        winner = ds[0];
        winnerSig = _heartbeat(winner, 0);
        // The winning index follows from the word; build a depth-20 path from its leaf to a root.
        winnerIndex = uint256(keccak256(abi.encode(WORD, uint256(0)))) % N;
        root = _path(MerkleHelper.heartbeatLeaf(winnerIndex, winner, winnerSig), proof);
        // epoch 0 is posted and drawn here so the measured calls below start cold
        _warpToEnd(0);
        vm.prank(distributor);
        pool.postEpoch(0, root, N, "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi");
        _fulfilWith(_requestDraw(0), WORD);
        _warpToEnd(1);
        vm.prank(distributor);
        pool.postEpoch(1, root, N, "");
        requestId = _requestDraw(1);
        _warpToEnd(2);
    }

    /// @dev A depth-20 path from `leaf` with made-up siblings; fills `out` with the proof, returns the root.
    function _path(bytes32 leaf, bytes32[] storage out) internal returns (bytes32 node) {
        node = leaf;
        for (uint256 d = 0; d < 20; ++d) {
            bytes32 sibling = keccak256(abi.encode("sibling", d, leaf));
            out.push(sibling);
            node = Hashes.commutativeKeccak256(node, sibling);
        }
    }

    function test_gas_claim() public {
        IGrowthPool.Leaf memory leaf = IGrowthPool.Leaf(winnerIndex, winner, winnerSig);
        bytes32[] memory p = proof;
        uint256 before = token.balanceOf(winner);
        // Measured from a probe contract so the number is execution gas (cold storage, cold accounts, CALL
        // included) both with and without --gas-stats, which runs each top-level call as its own transaction.
        uint256 used = new GasProbe().measure(address(pool), abi.encodeCall(pool.claim, (0, 0, leaf, p)));
        emit log_named_uint("claim gas (cold, new recipient, 20-hash proof)", used);
        assertEq(token.balanceOf(winner) - before, pool.epochInfo(0).perWinner);
        assertGasBelow(used, 80_000);
    }

    function test_gas_postEpoch() public {
        vm.prank(distributor);
        pool.postEpoch(2, root, N, "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi");
        emit log_named_uint("postEpoch gas", vm.lastCallGas().gasTotalUsed);
        assertEq(pool.nextEpoch(), 3);
    }

    function test_gas_requestDraw() public {
        vm.prank(distributor);
        pool.postEpoch(2, root, N, "");
        vm.warp(block.timestamp + CHALLENGE_WINDOW + 1);
        pool.requestDraw(2);
        emit log_named_uint("requestDraw gas (allocation + VRF request)", vm.lastCallGas().gasTotalUsed);
        assertEq(pool.epochInfo(2).k, K);
    }

    function test_gas_rawFulfillRandomWords() public {
        uint256 id = requestId;
        uint256[] memory words = new uint256[](1);
        words[0] = WORD;
        vm.prank(address(coordinator));
        pool.rawFulfillRandomWords(id, words);
        uint256 used = vm.lastCallGas().gasTotalUsed;
        emit log_named_uint("rawFulfillRandomWords gas", used);
        assertTrue(pool.epochInfo(1).drawn);
        assertLt(used, MIN_CALLBACK);
    }

    /// @dev Posts epoch 2 as a 2^20 set containing `bad` (and `other` on a sibling path when given).
    function _postFaulty(IGrowthPool.Leaf memory bad) internal returns (bytes32[] memory p) {
        bytes32[] storage tmp = proof;
        while (tmp.length > 0) tmp.pop();
        bytes32 r = _path(MerkleHelper.heartbeatLeaf(bad.index, bad.device, bad.signature), tmp);
        p = tmp;
        vm.prank(distributor);
        pool.postEpoch(2, r, N, "");
    }

    function test_gas_challengeUnregistered() public {
        IGrowthPool.Leaf memory bad = IGrowthPool.Leaf(5, makeAddr("ghost"), winnerSig);
        bytes32[] memory p = _postFaulty(bad);
        pool.challengeUnregistered(2, bad, p);
        emit log_named_uint(
            "challengeUnregistered gas (20-hash proof, slash)",
            vm.lastCallGas().gasTotalUsed
        );
        assertEq(uint8(pool.epochInfo(2).status), uint8(IGrowthPool.EpochStatus.Voided));
    }

    function test_gas_challengeSignature() public {
        IGrowthPool.Leaf memory bad = IGrowthPool.Leaf(5, winner, winnerSig); // epoch 0's heartbeat in epoch 2
        bytes32[] memory p = _postFaulty(bad);
        pool.challengeSignature(2, bad, p);
        emit log_named_uint(
            "challengeSignature gas (20-hash proof, ecrecover, slash)",
            vm.lastCallGas().gasTotalUsed
        );
        assertEq(uint8(pool.epochInfo(2).status), uint8(IGrowthPool.EpochStatus.Voided));
    }

    function test_gas_challengeIndex() public {
        IGrowthPool.Leaf memory bad = IGrowthPool.Leaf(N, winner, _heartbeat(winner, 2));
        bytes32[] memory p = _postFaulty(bad);
        pool.challengeIndex(2, bad, p);
        emit log_named_uint("challengeIndex gas (20-hash proof, slash)", vm.lastCallGas().gasTotalUsed);
        assertEq(uint8(pool.epochInfo(2).status), uint8(IGrowthPool.EpochStatus.Voided));
    }

    function test_gas_challengeDuplicate() public {
        bytes memory sig = _heartbeat(winner, 2);
        bytes32 la = MerkleHelper.heartbeatLeaf(1, winner, sig);
        bytes32 lb = MerkleHelper.heartbeatLeaf(2, winner, sig);
        // two leaves under one 2^20 root: siblings at the bottom, a shared 19-hash path above
        bytes32[] memory pa = new bytes32[](20);
        bytes32[] memory pb = new bytes32[](20);
        pa[0] = lb;
        pb[0] = la;
        bytes32 node = Hashes.commutativeKeccak256(la, lb);
        for (uint256 d = 1; d < 20; ++d) {
            bytes32 sibling = keccak256(abi.encode("sibling", d));
            pa[d] = sibling;
            pb[d] = sibling;
            node = Hashes.commutativeKeccak256(node, sibling);
        }
        vm.prank(distributor);
        pool.postEpoch(2, node, N, "");
        pool.challengeDuplicate(
            2,
            IGrowthPool.Leaf(1, winner, sig),
            pa,
            IGrowthPool.Leaf(2, winner, sig),
            pb
        );
        emit log_named_uint(
            "challengeDuplicate gas (2 x 20-hash proofs, slash)",
            vm.lastCallGas().gasTotalUsed
        );
        assertEq(uint8(pool.epochInfo(2).status), uint8(IGrowthPool.EpochStatus.Voided));
    }
}

/// @notice Measures the gas of one call made from inside a contract (never a top-level transaction).
contract GasProbe {
    error GasProbeCallReverted();

    function measure(address target, bytes calldata data) external returns (uint256 used) {
        uint256 start = gasleft();
        // solhint-disable-next-line avoid-low-level-calls
        (bool ok, ) = target.call(data);
        used = start - gasleft();
        if (!ok) revert GasProbeCallReverted();
    }
}
