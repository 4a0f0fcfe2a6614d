// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";

/// @title MerkleHelper
/// @notice Builds Merkle trees in Solidity exactly like `@openzeppelin/merkle-tree`'s `StandardMerkleTree.of`:
///         double-hashed leaves, leaves sorted by hash, the complete-binary-tree array layout and sorted-pair
///         (commutative) hashing, so roots and proofs match the JS library and verify with OpenZeppelin's
///         `MerkleProof`. The one Merkle helper of the Solidity tests. Leaf encodings: `["address", "uint256"]` (growth pool, fine-tuning) and the indexed
///         job payout leaf `["uint256", "address", "uint256"]` = (index, account, amount) that
///         `sdk/chain/payouts.ts` `buildPayoutTree` builds and `Settlement.claim` verifies.
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

    // ------------------------------------------------------------------------------------------------------
    // Any pre-hashed leaves (e.g. fine-tuning splits and trainer payouts)
    // ------------------------------------------------------------------------------------------------------

    /// @dev The StandardMerkleTree over `leaves` (already double-hashed); `leaves` itself is left unchanged.
    function buildFromLeaves(bytes32[] memory leaves) internal pure returns (bytes32[] memory) {
        if (leaves.length == 0) revert MerkleHelperEmpty();
        bytes32[] memory copy = new bytes32[](leaves.length);
        for (uint256 i = 0; i < leaves.length; ++i) copy[i] = leaves[i];
        return _tree(copy);
    }

    /// @dev The root of the tree over `leaves`.
    function rootOfLeaves(bytes32[] memory leaves) internal pure returns (bytes32) {
        return buildFromLeaves(leaves)[0];
    }

    /// @dev The proof of `leaves[index]` in the tree over `leaves`.
    function proofOfLeaves(bytes32[] memory leaves, uint256 index) internal pure returns (bytes32[] memory) {
        return proof(buildFromLeaves(leaves), leaves[index]);
    }

    // ------------------------------------------------------------------------------------------------------
    // Indexed payout trees: leaf i = (i, accounts[i], amounts[i])
    // ------------------------------------------------------------------------------------------------------

    /// @dev The payout leaf of (index, account, amount):
    ///      keccak256(bytes.concat(keccak256(abi.encode(index, account, amount)))).
    function payoutLeaf(uint256 index, address account, uint256 amount) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(index, account, amount))));
    }

    /// @dev The payout tree whose leaf i is (i, accounts[i], amounts[i]), as `buildPayoutTree` builds it from
    ///      the entries in this order. Returns the tree array (root first); the root is `tree[0]`.
    function buildPayouts(
        address[] memory accounts,
        uint256[] memory amounts
    ) internal pure returns (bytes32[] memory tree) {
        uint256 n = accounts.length;
        if (n == 0 || amounts.length != n) revert MerkleHelperEmpty();
        bytes32[] memory leaves = new bytes32[](n);
        for (uint256 i = 0; i < n; ++i) leaves[i] = payoutLeaf(i, accounts[i], amounts[i]);
        return _tree(leaves);
    }

    /// @dev The proof of payout leaf (index, account, amount) in a tree built by `buildPayouts`.
    function payoutProof(
        bytes32[] memory tree,
        uint256 index,
        address account,
        uint256 amount
    ) internal pure returns (bytes32[] memory) {
        return proof(tree, payoutLeaf(index, account, amount));
    }

    // ------------------------------------------------------------------------------------------------------
    // Connected sets (growth pool): leaf i = (i, devices[i], signatures[i]), types ["uint256", "address", "bytes"]
    // ------------------------------------------------------------------------------------------------------

    /// @dev keccak256(bytes.concat(keccak256(abi.encode(index, device, signature)))).
    function heartbeatLeaf(
        uint256 index,
        address device,
        bytes memory signature
    ) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(index, device, signature))));
    }

    /// @dev The connected-set tree over the given leaves (any indices; the caller chooses them).
    function buildHeartbeats(
        uint256[] memory indices,
        address[] memory devices,
        bytes[] memory signatures
    ) internal pure returns (bytes32[] memory tree) {
        uint256 n = devices.length;
        if (n == 0 || indices.length != n || signatures.length != n) revert MerkleHelperEmpty();
        bytes32[] memory leaves = new bytes32[](n);
        for (uint256 i = 0; i < n; ++i) leaves[i] = heartbeatLeaf(indices[i], devices[i], signatures[i]);
        return _tree(leaves);
    }

    /// @dev The proof of leaf (index, device, signature) in a tree built by `buildHeartbeats`.
    function heartbeatProof(
        bytes32[] memory tree,
        uint256 index,
        address device,
        bytes memory signature
    ) internal pure returns (bytes32[] memory) {
        return proof(tree, heartbeatLeaf(index, device, signature));
    }

    // ------------------------------------------------------------------------------------------------------
    // Cohorts: leaf = (position, connectedIndex, device), types ["uint256", "uint256", "address"]
    // ------------------------------------------------------------------------------------------------------

    /// @dev keccak256(bytes.concat(keccak256(abi.encode(position, connectedIndex, device)))).
    function cohortLeaf(
        uint256 position,
        uint256 connectedIndex,
        address device
    ) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(position, connectedIndex, device))));
    }

    /// @dev The tree over already hashed leaves (a copy is sorted; `leaves` is left as it is).
    function buildLeaves(bytes32[] memory leaves) internal pure returns (bytes32[] memory) {
        if (leaves.length == 0) revert MerkleHelperEmpty();
        bytes32[] memory copy = new bytes32[](leaves.length);
        for (uint256 i = 0; i < leaves.length; ++i) copy[i] = leaves[i];
        return _tree(copy);
    }

    /// @dev Sorts the leaves and lays out the complete binary tree (root at 0, leaves at the end, reversed).
    function _tree(bytes32[] memory leaves) private pure returns (bytes32[] memory tree) {
        uint256 n = leaves.length;
        if (n > 1) _quickSort(leaves, 0, n - 1);
        tree = new bytes32[](2 * n - 1);
        for (uint256 i = 0; i < n; ++i) tree[2 * n - 2 - i] = leaves[i];
        for (uint256 i = n - 1; i > 0; --i) {
            tree[i - 1] = Hashes.commutativeKeccak256(tree[2 * i - 1], tree[2 * i]);
        }
    }

    function _quickSort(bytes32[] memory a, uint256 lo, uint256 hi) private pure {
        while (lo < hi) {
            bytes32 pivot = a[lo + (hi - lo) / 2];
            uint256 i = lo;
            uint256 j = hi;
            while (i <= j) {
                while (a[i] < pivot) ++i;
                while (a[j] > pivot) --j;
                if (i <= j) {
                    (a[i], a[j]) = (a[j], a[i]);
                    ++i;
                    if (j == 0) break;
                    --j;
                }
            }
            if (j > lo) _quickSort(a, lo, j);
            lo = i;
        }
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
