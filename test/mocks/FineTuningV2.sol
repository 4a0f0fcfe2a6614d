// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {FineTuning} from "../../contracts/FineTuning.sol";

/// @notice Upgrade target used to prove that FineTuning storage survives a UUPS upgrade.
contract FineTuningV2 is FineTuning {
    /// @notice Marker of the new implementation.
    function version() external pure returns (uint256) {
        return 2;
    }
}
