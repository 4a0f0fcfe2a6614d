// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title CidLimits
/// @notice The one on-chain rule for IPFS CIDs: stored as strings of at most `MAX_LENGTH` bytes. Full CID parsing
///         and hash checks happen off-chain, where every reader fetches and verifies the content.
library CidLimits {
    /// @notice Longest CID string any DML contract stores (a CIDv1 base32 sha2-256 CID is 59 bytes).
    uint256 internal constant MAX_LENGTH = 128;
}
