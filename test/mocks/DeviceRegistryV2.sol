// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {DeviceRegistry} from "../../contracts/DeviceRegistry.sol";

/// @notice Test-only V2 of DeviceRegistry: keeps the V1 ERC-7201 namespace untouched, puts a heartbeat counter in
///         a new namespace and adds functions.
/// @custom:oz-upgrades-unsafe-allow missing-initializer
/// @custom:oz-upgrades-from contracts/DeviceRegistry.sol:DeviceRegistry
contract DeviceRegistryV2 is DeviceRegistry {
    /// @custom:storage-location erc7201:dml.storage.DeviceRegistryV2
    struct DeviceRegistryV2Storage {
        uint256 heartbeats;
    }

    // keccak256(abi.encode(uint256(keccak256("dml.storage.DeviceRegistryV2")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant DEVICE_REGISTRY_V2_STORAGE =
        0x7383f83655d291307ba3101c6642cc12059640693f29446577200e2561a71a00;

    /// @notice V2-only: a registered device records a heartbeat.
    function heartbeat() external {
        if (!this.isRegistered(msg.sender)) revert DeviceNotRegistered(msg.sender);
        ++_v2().heartbeats;
    }

    /// @notice V2-only view.
    function heartbeats() external view returns (uint256) {
        return _v2().heartbeats;
    }

    /// @notice The implementation version.
    function version() external pure returns (uint256) {
        return 2;
    }

    function _v2() private pure returns (DeviceRegistryV2Storage storage $) {
        assembly {
            $.slot := DEVICE_REGISTRY_V2_STORAGE
        }
    }
}
