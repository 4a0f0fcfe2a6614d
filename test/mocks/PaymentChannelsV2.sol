// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {PaymentChannels} from "../../contracts/PaymentChannels.sol";

/// @notice Upgrade target used to prove PaymentChannels storage survives a UUPS upgrade.
contract PaymentChannelsV2 is PaymentChannels {
    /// @notice Implementation version marker.
    function version() external pure returns (uint256) {
        return 2;
    }
}
