// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {PaymentChannels} from "../../contracts/PaymentChannels.sol";

/// @notice Upgrade target used to prove PaymentChannels storage survives a UUPS upgrade.
/// @custom:oz-upgrades-unsafe-allow missing-initializer
/// @custom:oz-upgrades-from contracts/PaymentChannels.sol:PaymentChannels
contract PaymentChannelsV2 is PaymentChannels {
    /// @notice Emitted once by the V2 migration.
    event UpgradedToV2();

    /// @notice V2 migration hook, run through `upgradeToAndCall` (the V1 state is already initialised).
    function initializeV2() external reinitializer(2) {
        emit UpgradedToV2();
    }

    /// @notice Implementation version marker.
    function version() external pure returns (uint256) {
        return 2;
    }
}
