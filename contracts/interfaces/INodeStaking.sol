// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title INodeStaking
/// @notice Node operators stake DML per role, register an endpoint and keys, unbond after a delay and
///         are slashed by contracts that governance authorised to prove faults.
/// @dev Cross-contract surface (used by GrowthPool, JobMarket, ResultAttestation, FineTuning):
///      `Role`, `isActive`, `activeCount`, `activeAt`, `encryptionKey`, `slash`. Keep these signatures stable.
interface INodeStaking {
    /// @notice Operator roles. Each role is staked separately.
    enum Role {
        Distributor,
        Aggregator,
        Attestor,
        Reporter,
        Refiner
    }

    /// @notice True when `operator` has at least the minimum stake in `role` and is not unbonding it.
    function isActive(address operator, Role role) external view returns (bool);

    /// @notice Number of active operators in `role`.
    function activeCount(Role role) external view returns (uint256);

    /// @notice The active operator of `role` at `index` (order is not stable across stake changes).
    function activeAt(Role role, uint256 index) external view returns (address);

    /// @notice The operator's registered X25519 public key (transcripts are encrypted to it).
    function encryptionKey(address operator) external view returns (bytes32);

    /// @notice Stake currently bonded by `operator` in `role` (excludes stake that is unbonding).
    function stakeOf(address operator, Role role) external view returns (uint256);

    /// @notice Slashes up to `amount` of `operator`'s stake in `role` (bonded first, then unbonding).
    ///         Only contracts authorised by governance may call it. A governance-set share goes to
    ///         `challenger` (zero address: no reward), the rest is burned or sent to the treasury.
    /// @return slashed The amount actually taken.
    function slash(address operator, Role role, uint256 amount, address challenger) external returns (uint256 slashed);
}
