// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IDeviceRegistry} from "../../../contracts/interfaces/IDeviceRegistry.sol";

/// @notice Test-only stand-in for DeviceRegistry (branch `core`); JobMarket only stores its address.
contract MockDeviceRegistry is IDeviceRegistry {
    function isRegistered(address) external pure returns (bool) {
        return false;
    }

    function isEligible(address, bytes32, uint256, uint256) external pure returns (bool) {
        return false;
    }
}
