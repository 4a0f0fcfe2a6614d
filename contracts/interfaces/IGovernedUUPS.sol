// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IGovernedUUPS
/// @notice Governance hooks shared by every upgradeable DML contract: one governance address (the
///         timelock) authorises upgrades and parameter changes.
interface IGovernedUUPS {
    /// @notice The caller is not the governance address.
    error GovernedUnauthorized(address caller);
    /// @notice A required address argument is the zero address.
    error GovernedZeroAddress();

    /// @notice Emitted when the governance address changes (also at initialisation, from the zero address).
    event GovernanceTransferred(address indexed previousGovernance, address indexed newGovernance);

    /// @notice The address allowed to upgrade this contract and change its parameters (the timelock).
    function governance() external view returns (address);

    /// @notice Hands governance to a new address (e.g. a new timelock). Only callable by governance.
    function transferGovernance(address newGovernance) external;
}
