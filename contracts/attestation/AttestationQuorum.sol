// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {INodeStaking} from "../interfaces/INodeStaking.sol";
import {IAttestationQuorum} from "../interfaces/IAttestationQuorum.sol";

/// @title AttestationQuorum
/// @notice Commit-reveal quorum of `q` randomly selected staked attestors, shared by ResultAttestation and
///         FineTuning. Members commit `keccak256(abi.encode(value, salt, member))`, reveal `(value, salt)`, and the
///         value revealed by a strict majority of the `q` members is final.
/// @dev Selection is seeded by the caller and weighted by stake (PROTOCOL.md §7.1): member `j` is
///      `drawActive(Attestor, keccak256(seed, j, attempt))` for the first `attempt < DRAW_ATTEMPTS` that is
///      neither the excluded node nor an earlier member; if every attempt collides, it falls back to the linear
///      probe `activeAt(Attestor, keccak256(seed, j) % n)`, moving to the next index on a collision or on the
///      excluded node, so selection always terminates. Bit `i` of the masks is member `i`.
library AttestationQuorum {
    /// @notice Largest supported quorum.
    uint256 internal constant MAX_SIZE = 15;
    /// @notice The reserved value a member reveals when it could not fetch or verify what it was asked to
    ///         recompute (PROTOCOL.md §7.4). A majority for it is a fault of whoever supplied the data.
    bytes32 internal constant INVALID = keccak256("dml.attestation.INVALID");
    /// @notice Stake-weighted draws tried per member before the linear-probe fallback.
    uint256 internal constant DRAW_ATTEMPTS = 4;

    /// @notice One quorum round. Lives inside the owning contract's ERC-7201 struct.
    struct Round {
        uint40 commitDeadline; // commits accepted while block.timestamp <= commitDeadline
        uint40 revealDeadline; // reveals accepted while block.timestamp <= revealDeadline
        uint16 committedMask;
        uint16 revealedMask;
        uint8 size;
        uint80 lockAmount; // stake the owning contract locked per bound node (packs into the first slot)
        uint40 openedAt; // when `select` drew the members (packs into the first slot)
        uint16 agreeMask; // members who revealed the final value, set by the owning contract (first slot)
        address[MAX_SIZE] members;
        bytes32[MAX_SIZE] slots; // member i's commitment; replaced by its revealed value once revealed
    }

    /// @notice The commitment a member posts for `value`.
    function commitmentOf(bytes32 value, bytes32 salt, address member) internal pure returns (bytes32) {
        return keccak256(abi.encode(value, salt, member));
    }

    /// @notice Selects `q` distinct active attestors other than `exclude` and opens the commit window.
    /// @dev External: deployed once and linked, so its draw loop is not copied into every contract that runs a
    ///      quorum (it keeps ResultAttestation and FineTuning under the 24 KB code limit).
    function select(
        Round storage r,
        INodeStaking staking,
        bytes32 seed,
        uint256 q,
        address exclude,
        uint64 commitDeadline,
        uint64 revealDeadline
    ) external returns (address[] memory chosen) {
        uint256 n = staking.activeCount(INodeStaking.Role.Attestor);
        uint256 available = n;
        if (exclude != address(0) && staking.isActive(exclude, INodeStaking.Role.Attestor)) --available;
        if (available < q) revert IAttestationQuorum.QuorumNotEnoughAttestors(available, q);
        chosen = new address[](q);
        for (uint256 j = 0; j < q; ++j) {
            address candidate = _draw(staking, seed, j, exclude, chosen);
            if (candidate == address(0)) {
                uint256 idx = uint256(keccak256(abi.encode(seed, j))) % n;
                while (true) {
                    candidate = staking.activeAt(INodeStaking.Role.Attestor, idx);
                    if (candidate != exclude && !_contains(chosen, j, candidate)) break;
                    idx = idx + 1 == n ? 0 : idx + 1;
                }
            }
            chosen[j] = candidate;
            r.members[j] = candidate;
        }
        r.size = uint8(q);
        r.commitDeadline = uint40(commitDeadline);
        r.revealDeadline = uint40(revealDeadline);
        r.openedAt = uint40(block.timestamp);
    }

    /// @notice Index of `who` among the members; reverts `QuorumNotMember` when not selected.
    function indexOf(Round storage r, address who) internal view returns (uint256) {
        uint256 size = r.size;
        for (uint256 i = 0; i < size; ++i) if (r.members[i] == who) return i;
        revert IAttestationQuorum.QuorumNotMember(who);
    }

    /// @notice Records `who`'s commitment during the commit window.
    function commit(Round storage r, address who, bytes32 commitment) internal returns (uint256 i) {
        if (commitment == bytes32(0)) revert IAttestationQuorum.QuorumZeroValue();
        i = indexOf(r, who);
        if (block.timestamp > r.commitDeadline)
            revert IAttestationQuorum.QuorumNotInCommitPhase(r.commitDeadline);
        uint16 bit = uint16(1 << i);
        if (r.committedMask & bit != 0) revert IAttestationQuorum.QuorumAlreadyCommitted(who);
        r.committedMask |= bit;
        r.slots[i] = commitment;
    }

    /// @notice True once the reveal phase is open: the commit window closed or every member committed.
    function revealOpen(Round storage r) internal view returns (bool) {
        return block.timestamp > r.commitDeadline || r.committedMask == _full(r.size);
    }

    /// @notice Opens `who`'s commitment with `(value, salt)` during the reveal phase.
    function reveal(Round storage r, address who, bytes32 value, bytes32 salt) internal returns (uint256 i) {
        if (value == bytes32(0)) revert IAttestationQuorum.QuorumZeroValue();
        i = indexOf(r, who);
        if (!revealOpen(r) || block.timestamp > r.revealDeadline) {
            revert IAttestationQuorum.QuorumNotInRevealPhase(r.commitDeadline, r.revealDeadline);
        }
        uint16 bit = uint16(1 << i);
        if (r.committedMask & bit == 0) revert IAttestationQuorum.QuorumNotCommitted(who);
        if (r.revealedMask & bit != 0) revert IAttestationQuorum.QuorumAlreadyRevealed(who);
        if (commitmentOf(value, salt, who) != r.slots[i]) revert IAttestationQuorum.QuorumRevealMismatch(who);
        r.revealedMask |= bit;
        r.slots[i] = value; // overwriting a non-zero slot is far cheaper than a fresh one
    }

    /// @notice True when every member revealed.
    function allRevealed(Round storage r) internal view returns (bool) {
        return r.revealedMask == _full(r.size);
    }

    /// @notice Reverts unless the quorum may be finalised: every member revealed or the reveal deadline passed.
    function requireOver(Round storage r) internal view {
        if (!allRevealed(r) && block.timestamp <= r.revealDeadline) {
            revert IAttestationQuorum.QuorumRevealNotOver(r.revealDeadline);
        }
    }

    /// @notice The value revealed by a strict majority of the `size` members, if any.
    /// @return value The majority value (zero when there is none).
    /// @return majority Whether more than half of the members revealed `value`.
    function tally(Round storage r) internal view returns (bytes32 value, bool majority) {
        uint256 size = r.size;
        uint256 mask = r.revealedMask;
        for (uint256 i = 0; i < size; ++i) {
            if (mask & (1 << i) == 0) continue;
            bytes32 v = r.slots[i];
            uint256 votes = 0;
            for (uint256 k = i; k < size; ++k) if (mask & (1 << k) != 0 && r.slots[k] == v) ++votes;
            if (votes * 2 > size) return (v, true);
        }
        return (bytes32(0), false);
    }

    /// @notice Members at fault, only when a strict majority revealed one value: those who revealed another
    ///         value and those who stayed silent. Without a majority nobody is at fault, so an operator who
    ///         withholds data cannot turn the members it silenced into victims (PROTOCOL.md §7.4). Also returns
    ///         the members who revealed the majority value.
    function faults(
        Round storage r,
        bytes32 value,
        bool majority
    ) internal view returns (uint256 faultMask, uint256 agreeMask) {
        if (!majority) return (0, 0);
        uint256 size = r.size;
        uint256 mask = r.revealedMask;
        for (uint256 i = 0; i < size; ++i) {
            uint256 bit = 1 << i;
            if (mask & bit != 0 && r.slots[i] == value) agreeMask |= bit;
            else faultMask |= bit;
        }
    }

    /// @notice Whether `who` is one of the members (a party of the round: never paid for slashing it).
    function isMember(Round storage r, address who) internal view returns (bool) {
        uint256 size = r.size;
        for (uint256 i = 0; i < size; ++i) if (r.members[i] == who) return true;
        return false;
    }

    /// @notice The selected members, in selection order.
    function membersOf(Round storage r) internal view returns (address[] memory list) {
        uint256 size = r.size;
        list = new address[](size);
        for (uint256 i = 0; i < size; ++i) list[i] = r.members[i];
    }

    function _full(uint256 size) private pure returns (uint16) {
        return uint16((1 << size) - 1);
    }

    /// @dev Up to DRAW_ATTEMPTS stake-weighted draws for member `j`; zero when each hit `exclude` or a member.
    function _draw(
        INodeStaking staking,
        bytes32 seed,
        uint256 j,
        address exclude,
        address[] memory chosen
    ) private view returns (address) {
        for (uint256 attempt = 0; attempt < DRAW_ATTEMPTS; ++attempt) {
            address c = staking.drawActive(
                INodeStaking.Role.Attestor,
                uint256(keccak256(abi.encode(seed, j, attempt)))
            );
            if (c != exclude && !_contains(chosen, j, c)) return c;
        }
        return address(0);
    }

    function _contains(address[] memory list, uint256 len, address a) private pure returns (bool) {
        for (uint256 i = 0; i < len; ++i) if (list[i] == a) return true;
        return false;
    }
}
