// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {GovernedUUPS} from "./utils/GovernedUUPS.sol";
import {IDeviceRegistry} from "./interfaces/IDeviceRegistry.sol";

/// @title DeviceRegistry
/// @notice Devices (the key itself) register the dataset schemas they serve and their consent. Schemas and
///         explicitly consented algorithms live in mappings keyed by a per-device generation number, so
///         replacing or deleting a list is O(new list) and never iterates old entries.
contract DeviceRegistry is GovernedUUPS, IDeviceRegistry {
    /// @inheritdoc IDeviceRegistry
    uint256 public constant MAX_SCHEMAS = 64;
    /// @inheritdoc IDeviceRegistry
    uint256 public constant MAX_ALGORITHMS = 256;

    /// @dev One slot: flags, counts, generations and the price floor.
    struct Device {
        bool registered;
        bool anyAlgorithmInSchema;
        uint8 schemaCount;
        uint16 algorithmCount;
        uint32 schemaGeneration;
        uint32 consentGeneration;
        uint128 priceFloor;
    }

    /// @custom:storage-location erc7201:dml.storage.DeviceRegistry
    struct DeviceRegistryStorage {
        mapping(address device => Device) devices;
        mapping(address device => mapping(uint32 generation => mapping(bytes32 schema => bool))) schemas;
        mapping(address device => mapping(uint32 generation => mapping(uint256 algorithmId => bool))) algorithms;
    }

    // keccak256(abi.encode(uint256(keccak256("dml.storage.DeviceRegistry")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant DEVICE_REGISTRY_STORAGE_LOCATION =
        0x1f2ba3bdbb5f6070c16cc0425222cc0366c3945b9c9168da44dbe2a9c72fa400;

    /// @notice Initialises the proxy.
    /// @param governance_ The governance timelock (upgrades).
    function initialize(address governance_) external initializer {
        __GovernedUUPS_init(governance_);
    }

    /// @inheritdoc IDeviceRegistry
    function register(bytes32[] calldata schemas, Consent calldata consent) external {
        DeviceRegistryStorage storage $ = _getDeviceRegistryStorage();
        Device memory d = $.devices[msg.sender];
        if (d.registered) revert DeviceAlreadyRegistered(msg.sender);
        d.registered = true;
        _writeSchemas($, d, schemas);
        _writeConsent($, d, consent);
        $.devices[msg.sender] = d;
        emit DeviceRegistered(msg.sender, schemas, consent);
    }

    /// @inheritdoc IDeviceRegistry
    function updateSchemas(bytes32[] calldata schemas) external {
        DeviceRegistryStorage storage $ = _getDeviceRegistryStorage();
        Device memory d = $.devices[msg.sender];
        if (!d.registered) revert DeviceNotRegistered(msg.sender);
        ++d.schemaGeneration;
        _writeSchemas($, d, schemas);
        $.devices[msg.sender] = d;
        emit DeviceSchemasUpdated(msg.sender, schemas);
    }

    /// @inheritdoc IDeviceRegistry
    function updateConsent(Consent calldata consent) external {
        DeviceRegistryStorage storage $ = _getDeviceRegistryStorage();
        Device memory d = $.devices[msg.sender];
        if (!d.registered) revert DeviceNotRegistered(msg.sender);
        ++d.consentGeneration;
        _writeConsent($, d, consent);
        $.devices[msg.sender] = d;
        emit DeviceConsentUpdated(msg.sender, consent);
    }

    /// @inheritdoc IDeviceRegistry
    function deregister() external {
        DeviceRegistryStorage storage $ = _getDeviceRegistryStorage();
        Device memory d = $.devices[msg.sender];
        if (!d.registered) revert DeviceNotRegistered(msg.sender);
        // Bump both generations so a later registration starts from empty lists.
        $.devices[msg.sender] = Device({
            registered: false,
            anyAlgorithmInSchema: false,
            schemaCount: 0,
            algorithmCount: 0,
            schemaGeneration: d.schemaGeneration + 1,
            consentGeneration: d.consentGeneration + 1,
            priceFloor: 0
        });
        emit DeviceDeregistered(msg.sender);
    }

    /// @inheritdoc IDeviceRegistry
    function isRegistered(address device) external view returns (bool) {
        return _getDeviceRegistryStorage().devices[device].registered;
    }

    /// @inheritdoc IDeviceRegistry
    function isEligible(
        address device,
        bytes32 schema,
        uint256 algorithmId,
        uint256 reward
    ) external view returns (bool) {
        DeviceRegistryStorage storage $ = _getDeviceRegistryStorage();
        Device memory d = $.devices[device];
        if (!d.registered || reward < d.priceFloor) return false;
        if (!$.schemas[device][d.schemaGeneration][schema]) return false;
        return d.anyAlgorithmInSchema || $.algorithms[device][d.consentGeneration][algorithmId];
    }

    /// @inheritdoc IDeviceRegistry
    function servesSchema(address device, bytes32 schema) external view returns (bool) {
        DeviceRegistryStorage storage $ = _getDeviceRegistryStorage();
        Device memory d = $.devices[device];
        return d.registered && $.schemas[device][d.schemaGeneration][schema];
    }

    /// @inheritdoc IDeviceRegistry
    function consentsTo(address device, uint256 algorithmId) external view returns (bool) {
        DeviceRegistryStorage storage $ = _getDeviceRegistryStorage();
        Device memory d = $.devices[device];
        return d.registered && $.algorithms[device][d.consentGeneration][algorithmId];
    }

    /// @inheritdoc IDeviceRegistry
    function deviceInfo(address device) external view returns (DeviceInfo memory) {
        Device memory d = _getDeviceRegistryStorage().devices[device];
        return
            DeviceInfo({
                registered: d.registered,
                anyAlgorithmInSchema: d.anyAlgorithmInSchema,
                schemaCount: d.schemaCount,
                algorithmCount: d.algorithmCount,
                priceFloor: d.priceFloor
            });
    }

    function _writeSchemas(DeviceRegistryStorage storage $, Device memory d, bytes32[] calldata schemas) private {
        uint256 n = schemas.length;
        if (n == 0) revert DeviceEmptySchemaList();
        if (n > MAX_SCHEMAS) revert DeviceTooManyEntries(n, MAX_SCHEMAS);
        mapping(bytes32 => bool) storage set = $.schemas[msg.sender][d.schemaGeneration];
        for (uint256 i = 0; i < n; ++i) {
            bytes32 schema = schemas[i];
            if (schema == bytes32(0)) revert DeviceZeroSchema();
            if (set[schema]) revert DeviceDuplicateSchema(schema);
            set[schema] = true;
        }
        d.schemaCount = uint8(n);
    }

    function _writeConsent(DeviceRegistryStorage storage $, Device memory d, Consent calldata consent) private {
        uint256 n = consent.algorithms.length;
        if (!consent.anyAlgorithmInSchema && n == 0) revert DeviceEmptyConsent();
        if (n > MAX_ALGORITHMS) revert DeviceTooManyEntries(n, MAX_ALGORITHMS);
        if (consent.priceFloor > type(uint128).max) revert DevicePriceFloorTooHigh(consent.priceFloor);
        mapping(uint256 => bool) storage set = $.algorithms[msg.sender][d.consentGeneration];
        for (uint256 i = 0; i < n; ++i) {
            uint256 id = consent.algorithms[i];
            if (set[id]) revert DeviceDuplicateAlgorithm(id);
            set[id] = true;
        }
        d.anyAlgorithmInSchema = consent.anyAlgorithmInSchema;
        d.algorithmCount = uint16(n);
        d.priceFloor = uint128(consent.priceFloor);
    }

    function _getDeviceRegistryStorage() private pure returns (DeviceRegistryStorage storage $) {
        assembly {
            $.slot := DEVICE_REGISTRY_STORAGE_LOCATION
        }
    }
}
