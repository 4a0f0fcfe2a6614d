// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AlgorithmMarketplace} from "../../contracts/AlgorithmMarketplace.sol";

/// @notice Upgrade target used to prove AlgorithmMarketplace storage survives a UUPS upgrade.
contract AlgorithmMarketplaceV2 is AlgorithmMarketplace {
    /// @notice Implementation version marker.
    function version() external pure returns (uint256) {
        return 2;
    }
}
