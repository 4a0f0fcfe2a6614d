// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {GrowthPool} from "../../contracts/GrowthPool.sol";

/// @title GrowthPoolV2
/// @notice Test-only upgrade target: same storage, one extra view, proves state survives a UUPS upgrade.
/// @custom:oz-upgrades-from GrowthPool
contract GrowthPoolV2 is GrowthPool {
    /// @notice Second-version initialiser (nothing new to set; marks the upgrade).
    /// @custom:oz-upgrades-validate-as-initializer
    /// @custom:oz-upgrades-unsafe-allow missing-initializer-call
    function initializeV2() external reinitializer(2) {}

    /// @notice Implementation version.
    function version() external pure returns (uint256) {
        return 2;
    }
}
