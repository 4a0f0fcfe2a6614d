// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {GrowthPool} from "../../contracts/GrowthPool.sol";

/// @title GrowthPoolV2
/// @notice Test-only upgrade target: same storage, one extra view, proves state survives a UUPS upgrade.
contract GrowthPoolV2 is GrowthPool {
    /// @notice Implementation version.
    function version() external pure returns (uint256) {
        return 2;
    }
}
