// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IAttestationQuorum
/// @notice Errors shared by every contract that runs a commit-reveal attestor quorum through
///         `contracts/attestation/AttestationQuorum.sol` (ResultAttestation, FineTuning).
interface IAttestationQuorum {
    /// @notice Fewer active attestors (excluding the excluded node) than the quorum size.
    error QuorumNotEnoughAttestors(uint256 available, uint256 required);
    /// @notice The caller was not selected for this quorum.
    error QuorumNotMember(address caller);
    /// @notice Commitments are no longer accepted (the commit window closed).
    error QuorumNotInCommitPhase(uint64 commitDeadline);
    /// @notice Reveals are only accepted after the commit window (or once every member committed) and until
    ///         the reveal deadline.
    error QuorumNotInRevealPhase(uint64 commitDeadline, uint64 revealDeadline);
    /// @notice The member already committed.
    error QuorumAlreadyCommitted(address member);
    /// @notice The member did not commit, so it cannot reveal.
    error QuorumNotCommitted(address member);
    /// @notice The member already revealed.
    error QuorumAlreadyRevealed(address member);
    /// @notice (value, salt, member) does not open the member's commitment.
    error QuorumRevealMismatch(address member);
    /// @notice A commitment or revealed value is zero.
    error QuorumZeroValue();
    /// @notice The quorum cannot be finalised yet (reveals outstanding and reveal deadline not passed).
    error QuorumRevealNotOver(uint64 revealDeadline);
}
