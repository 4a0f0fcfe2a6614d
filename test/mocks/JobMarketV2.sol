// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {JobMarket} from "../../contracts/JobMarket.sol";

/// @notice Upgrade target used to prove JobMarket's storage survives a UUPS upgrade.
/// @custom:oz-upgrades-unsafe-allow external-library-linking
contract JobMarketV2 is JobMarket {
    function version() external pure returns (uint256) {
        return 2;
    }
}
