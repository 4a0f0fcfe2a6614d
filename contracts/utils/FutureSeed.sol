// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title FutureSeed
/// @notice A random seed that nobody who acts on it can choose (PROTOCOL.md §7.1): when a party binds itself
///         (a job is scheduled, a candidate is committed) the seed is *armed* on the hash of the next block, which
///         no transaction in the arming block can know. The first call after that block *fixes* the seed by
///         storing the hash; honest parties fix it at once. The EVM keeps only the last 256 block hashes: a seed
///         nobody fixed in time is re-armed on a fresh future block (never on a hash that is already known).
/// @dev Block proposers can withhold a block to bias the hash; where that matters, use Chainlink VRF instead.
library FutureSeed {
    /// @notice One seed: the block whose hash it takes, then the stored value (zero until fixed).
    struct Seed {
        uint64 blockNumber;
        bytes32 value;
    }

    /// @notice The seed was never armed.
    error FutureSeedNotArmed();
    /// @notice The seed's block has not been mined yet.
    error FutureSeedNotReady(uint256 blockNumber);

    /// @notice Arms `s` on the next block's hash (clears a previous value).
    function arm(Seed storage s) internal {
        s.blockNumber = uint64(block.number + 1);
        s.value = bytes32(0);
    }

    /// @notice Fixes and returns the seed. Returns `(0, true)` when the block hash expired and the seed was
    ///         re-armed (the caller must not revert, or the re-arm is lost; it retries after the next block).
    function fix(Seed storage s) internal returns (bytes32 value, bool rearmed) {
        value = s.value;
        if (value != bytes32(0)) return (value, false);
        (value, rearmed) = hashOf(s.blockNumber);
        if (rearmed) s.blockNumber = uint64(block.number + 1);
        else s.value = value;
    }

    /// @notice The hash of the armed block `b`: `(hash, false)` once `b` is mined, `(0, true)` when its hash has
    ///         expired (the caller re-arms on the next block). For a seed whose block number is stored elsewhere.
    function hashOf(uint256 b) internal view returns (bytes32 value, bool expired) {
        if (b == 0) revert FutureSeedNotArmed();
        if (block.number <= b) revert FutureSeedNotReady(b);
        value = blockhash(b);
        expired = value == bytes32(0);
    }

    /// @notice The fixed value, or zero while the seed is not fixed.
    function peek(Seed storage s) internal view returns (bytes32) {
        return s.value;
    }

    /// @notice Derives an independent value for `tag` and `id` from a fixed seed.
    function derive(bytes32 seed, bytes32 tag, uint256 id) internal pure returns (bytes32) {
        return keccak256(abi.encode(seed, tag, id));
    }
}
