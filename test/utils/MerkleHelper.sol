// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";

/// @title MerkleHelper
/// @notice Builds Merkle trees in Solidity exactly like `@openzeppelin/merkle-tree`'s
///         `StandardMerkleTree.of(values, ["address", "uint256"])`: double-hashed leaves, leaves sorted by hash,
///         the complete-binary-tree array layout and sorted-pair (commutative) hashing, so roots and proofs match
///         the JS library and verify with OpenZeppelin's `MerkleProof`.
library MerkleHelper {
    /// @dev A tree needs at least one leaf.
    error MerkleHelperEmpty();
    /// @dev The leaf is not in the tree.
    error MerkleHelperLeafNotFound(bytes32 leaf);

    /// @dev The leaf of (account, value): keccak256(bytes.concat(keccak256(abi.encode(account, value)))).
    function leaf(address account, uint256 value) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(account, value))));
    }

    /// @dev Tree of the device list `accounts` where device i has value i. Returns the tree array (root first).
    function build(address[] memory accounts) internal pure returns (bytes32[] memory tree) {
        uint256 n = accounts.length;
        if (n == 0) revert MerkleHelperEmpty();
        bytes32[] memory leaves = new bytes32[](n);
        for (uint256 i = 0; i < n; ++i) leaves[i] = leaf(accounts[i], i);
        _sort(leaves);
        tree = new bytes32[](2 * n - 1);
        for (uint256 i = 0; i < n; ++i) tree[2 * n - 2 - i] = leaves[i];
        for (uint256 i = n - 1; i > 0; --i) {
            tree[i - 1] = Hashes.commutativeKeccak256(tree[2 * i - 1], tree[2 * i]);
        }
    }

    /// @dev The root of a tree built by `build`.
    function root(bytes32[] memory tree) internal pure returns (bytes32) {
        return tree[0];
    }

    /// @dev The proof of `leafHash` in `tree` (reverts if the leaf is not in the tree).
    function proof(bytes32[] memory tree, bytes32 leafHash) internal pure returns (bytes32[] memory out) {
        uint256 n = (tree.length + 1) / 2;
        uint256 idx = type(uint256).max;
        for (uint256 i = n - 1; i < tree.length; ++i) {
            if (tree[i] == leafHash) {
                idx = i;
                break;
            }
        }
        if (idx == type(uint256).max) revert MerkleHelperLeafNotFound(leafHash);
        uint256 depth;
        for (uint256 i = idx; i > 0; i = (i - 1) / 2) ++depth;
        out = new bytes32[](depth);
        for (uint256 d = 0; idx > 0; ++d) {
            out[d] = tree[idx % 2 == 1 ? idx + 1 : idx - 1];
            idx = (idx - 1) / 2;
        }
    }

    /// @dev The proof of device `index` (value `index`) in `tree`.
    function proofOf(
        bytes32[] memory tree,
        address account,
        uint256 index
    ) internal pure returns (bytes32[] memory) {
        return proof(tree, leaf(account, index));
    }

    function _sort(bytes32[] memory a) private pure {
        for (uint256 i = 1; i < a.length; ++i) {
            bytes32 v = a[i];
            uint256 j = i;
            while (j > 0 && a[j - 1] > v) {
                a[j] = a[j - 1];
                --j;
            }
            a[j] = v;
        }
    }
}
