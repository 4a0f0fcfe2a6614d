// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";
import {GrowthPoolBase} from "./GrowthPoolBase.sol";
import {MerkleHelper} from "../utils/MerkleHelper.sol";

/// @notice Gas of the hot paths at realistic sizes, each measured in its own transaction (cold storage):
///         a claim against a list of 2^20 devices (20-hash proof) by a first-time recipient, a post with its
///         VRF request (VRFCoordinatorV2_5Mock's storage included) and the VRF callback.
///         Run: npx hardhat test solidity --gas-stats test/growth/GrowthPoolGas.t.sol
contract GrowthPoolGasTest is GrowthPoolBase {
    uint256 internal constant N = 1 << 20;
    uint256 internal constant WORD = 0xC0FFEE;
    address internal winner = makeAddr("winner");
    uint256 internal winnerIndex;
    bytes32[] internal proof;
    uint256 internal requestId;
    bytes32 internal root;
    uint256 internal constant MIN_CALLBACK = 80_000; // GrowthPool.MIN_CALLBACK_GAS_LIMIT

    function setUp() public override {
        super.setUp();
        // The winning index follows from the word; build a depth-20 path from its leaf to a root.
        winnerIndex = uint256(keccak256(abi.encode(WORD, uint256(0)))) % N;
        bytes32 node = MerkleHelper.leaf(winner, winnerIndex);
        for (uint256 d = 0; d < 20; ++d) {
            bytes32 sibling = keccak256(abi.encode("sibling", d));
            proof.push(sibling);
            node = Hashes.commutativeKeccak256(node, sibling);
        }
        root = node;
        // epoch 0 is posted and drawn here so the measured calls below start cold
        _warpToEnd(0);
        vm.prank(distributor);
        uint256 first = pool.postEpoch(
            0,
            root,
            N,
            "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"
        );
        _fulfilWith(first, WORD);
        _warpToEnd(1);
        vm.prank(distributor);
        requestId = pool.postEpoch(1, root, N, "");
        _warpToEnd(2);
    }

    function test_gas_claim() public {
        bytes32[] memory p = proof;
        address w = winner;
        uint256 index = winnerIndex;
        // Measured from a probe contract so the number is execution gas (cold storage, cold accounts, CALL
        // included) both with and without --gas-stats, which runs each top-level call as its own transaction.
        uint256 used = new GasProbe().measure(address(pool), abi.encodeCall(pool.claim, (0, 0, w, index, p)));
        emit log_named_uint("claim gas (cold, new recipient, 20-hash proof)", used);
        assertEq(token.balanceOf(winner), pool.epochInfo(0).perWinner);
        assertLt(used, 80_000);
    }

    function test_gas_postEpoch() public {
        vm.prank(distributor);
        pool.postEpoch(2, root, N, "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi");
        emit log_named_uint("postEpoch gas (with VRF request)", vm.lastCallGas().gasTotalUsed);
        assertEq(pool.nextEpoch(), 3);
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
