// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {DeviceRegistry} from "../../contracts/DeviceRegistry.sol";

/// @notice Test-only V2 of DeviceRegistry: appends a counter to the ERC-7201 struct and adds functions.
contract DeviceRegistryV2 is DeviceRegistry {
    /// @custom:storage-location erc7201:dml.storage.DeviceRegistry
    struct DeviceRegistryStorageV2 {
        mapping(address device => Device) devices;
        mapping(address device => mapping(uint32 generation => mapping(bytes32 schema => bool))) schemas;
        mapping(address device => mapping(uint32 generation => mapping(uint256 algorithmId => bool))) algorithms;
        uint256 heartbeats; // appended in V2
    }

    bytes32 private constant SLOT = 0x1f2ba3bdbb5f6070c16cc0425222cc0366c3945b9c9168da44dbe2a9c72fa400;

    /// @notice V2-only: a registered device records a heartbeat.
    function heartbeat() external {
        DeviceRegistryStorageV2 storage $ = _v2();
        if (!$.devices[msg.sender].registered) revert DeviceNotRegistered(msg.sender);
        ++$.heartbeats;
    }

    /// @notice V2-only view.
    function heartbeats() external view returns (uint256) {
        return _v2().heartbeats;
    }

    /// @notice The implementation version.
    function version() external pure returns (uint256) {
        return 2;
    }

    function _v2() private pure returns (DeviceRegistryStorageV2 storage $) {
        assembly {
            $.slot := SLOT
        }
    }
}
