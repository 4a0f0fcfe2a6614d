// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Settlement} from "../../contracts/Settlement.sol";

/// @notice Upgrade target used to prove that Settlement storage survives a UUPS upgrade.
contract SettlementV2 is Settlement {
    /// @notice Marker of the new implementation.
    function version() external pure returns (uint256) {
        return 2;
    }
}
