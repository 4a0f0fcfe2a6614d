// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IDeviceRegistry
/// @notice Data owners register a device key with the dataset schemas it serves and its consent.
/// @dev Cross-contract surface (used by JobMarket and the distributor): `isRegistered`, `isEligible`.
///      Keep these signatures stable.
interface IDeviceRegistry {
    /// @notice True when `device` is registered (and not deregistered).
    function isRegistered(address device) external view returns (bool);

    /// @notice True when `device` is registered, serves `schema`, consents to `algorithmId` (explicitly or
    ///         because it accepts any algorithm within the schema) and `reward` meets its price floor.
    function isEligible(address device, bytes32 schema, uint256 algorithmId, uint256 reward) external view returns (bool);
}
