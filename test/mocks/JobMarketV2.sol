// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {JobMarket} from "../../contracts/JobMarket.sol";

/// @notice Upgrade target used to prove JobMarket's storage survives a UUPS upgrade.
/// @custom:oz-upgrades-unsafe-allow missing-initializer external-library-linking
/// @custom:oz-upgrades-from contracts/JobMarket.sol:JobMarket
contract JobMarketV2 is JobMarket {
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
