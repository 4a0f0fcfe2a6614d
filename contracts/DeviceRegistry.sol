// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {EIP712Upgradeable} from "@openzeppelin/contracts-upgradeable/utils/cryptography/EIP712Upgradeable.sol";
import {GovernedUUPS} from "./utils/GovernedUUPS.sol";
import {IDeviceRegistry} from "./interfaces/IDeviceRegistry.sol";

/// @title DeviceRegistry
/// @notice Devices (the key itself) register the dataset schemas they serve and their consent. Schemas and
///         explicitly consented algorithms live in mappings keyed by a per-device generation number, so
///         replacing or deleting a list is O(new list) and never iterates old entries. Registering posts a DML
///         bond (PROTOCOL.md §7.2: the price of a Sybil), returned `BOND_RETURN_DELAY` after deregistration. The
///         registry is the EIP-712 verifying contract of device heartbeats and records each device's last change.
///         Each registration also sets, once, the device's Ed25519 session signing key (SecAgg message signatures);
///         a device without one is not eligible.
contract DeviceRegistry is GovernedUUPS, EIP712Upgradeable, ReentrancyGuardTransient, IDeviceRegistry {
    using SafeERC20 for IERC20;

    /// @inheritdoc IDeviceRegistry
    uint256 public constant BOND_RETURN_DELAY = 14 days;
    /// @notice Largest bond governance may require.
    uint256 public constant MAX_DEVICE_BOND = 1_000_000 ether;
    /// @notice EIP-712 type hash of a heartbeat.
    bytes32 public constant HEARTBEAT_TYPEHASH = keccak256("Heartbeat(address device,uint64 epoch)");
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
        // second slot (appended): last registration change and the bond of the current registration
        uint40 lastChange;
        uint96 bond;
    }

    /// @dev A deregistered device's bond on its way back.
    struct BondReturn {
        uint96 amount;
        uint40 readyAt;
    }

    /// @custom:storage-location erc7201:dml.storage.DeviceRegistry
    struct DeviceRegistryStorage {
        mapping(address device => Device) devices;
        mapping(address device => mapping(uint32 generation => mapping(bytes32 schema => bool))) schemas;
        mapping(address device => mapping(uint32 generation => mapping(uint256 algorithmId => bool))) algorithms;
        IERC20 token;
        uint96 deviceBond;
        mapping(address device => BondReturn) bondReturns;
        // appended: Ed25519 session signing keys (zero = unset), set once per registration
        mapping(address device => bytes32) sessionKeys;
    }

    // keccak256(abi.encode(uint256(keccak256("dml.storage.DeviceRegistry")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant DEVICE_REGISTRY_STORAGE_LOCATION =
        0x1f2ba3bdbb5f6070c16cc0425222cc0366c3945b9c9168da44dbe2a9c72fa400;

    /// @notice Initialises the proxy.
    /// @param governance_ The governance timelock (upgrades, the bond).
    /// @param token_ The bond token (DML).
    /// @param deviceBond_ Bond each registration posts, in token wei (0 < bond ≤ MAX_DEVICE_BOND).
    function initialize(address governance_, IERC20 token_, uint256 deviceBond_) external initializer {
        __GovernedUUPS_init(governance_);
        __EIP712_init("DML Device", "1");
        if (address(token_) == address(0)) revert DeviceZeroAddress();
        _getDeviceRegistryStorage().token = token_;
        _setDeviceBond(deviceBond_);
    }

    /// @inheritdoc IDeviceRegistry
    function register(bytes32[] calldata schemas, Consent calldata consent) external nonReentrant {
        DeviceRegistryStorage storage $ = _getDeviceRegistryStorage();
        Device memory d = $.devices[msg.sender];
        if (d.registered) revert DeviceAlreadyRegistered(msg.sender);
        d.registered = true;
        _writeSchemas($, d, schemas);
        _writeConsent($, d, consent);
        uint96 bond = $.deviceBond;
        d.bond = bond;
        d.lastChange = uint40(block.timestamp);
        $.devices[msg.sender] = d;
        emit DeviceRegistered(msg.sender, schemas, consent);
        emit DeviceBondPosted(msg.sender, bond);
        $.token.safeTransferFrom(msg.sender, address(this), bond);
    }

    /// @inheritdoc IDeviceRegistry
    function updateSchemas(bytes32[] calldata schemas) external {
        DeviceRegistryStorage storage $ = _getDeviceRegistryStorage();
        Device memory d = $.devices[msg.sender];
        if (!d.registered) revert DeviceNotRegistered(msg.sender);
        ++d.schemaGeneration;
        _writeSchemas($, d, schemas);
        d.lastChange = uint40(block.timestamp);
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
        d.lastChange = uint40(block.timestamp);
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
            priceFloor: 0,
            lastChange: uint40(block.timestamp),
            bond: 0
        });
        delete $.sessionKeys[msg.sender];
        BondReturn storage r = $.bondReturns[msg.sender];
        uint256 amount = uint256(r.amount) + d.bond;
        uint256 readyAt = block.timestamp + BOND_RETURN_DELAY;
        r.amount = uint96(amount);
        r.readyAt = uint40(readyAt);
        emit DeviceDeregistered(msg.sender);
        emit DeviceBondReturnStarted(msg.sender, amount, readyAt);
    }

    /// @inheritdoc IDeviceRegistry
    function setSessionKey(bytes32 sessionKey) external {
        DeviceRegistryStorage storage $ = _getDeviceRegistryStorage();
        Device storage d = $.devices[msg.sender];
        if (!d.registered) revert DeviceNotRegistered(msg.sender);
        if (sessionKey == bytes32(0)) revert DeviceZeroSessionKey();
        bytes32 current = $.sessionKeys[msg.sender];
        if (current != bytes32(0)) revert DeviceSessionKeyAlreadySet(msg.sender, current);
        $.sessionKeys[msg.sender] = sessionKey;
        d.lastChange = uint40(block.timestamp);
        emit DeviceSessionKeySet(msg.sender, sessionKey);
    }

    /// @inheritdoc IDeviceRegistry
    function withdrawBond() external nonReentrant returns (uint256 amount) {
        DeviceRegistryStorage storage $ = _getDeviceRegistryStorage();
        BondReturn memory r = $.bondReturns[msg.sender];
        amount = r.amount;
        if (amount == 0) revert DeviceNoBondToWithdraw(msg.sender);
        if (block.timestamp < r.readyAt) revert DeviceBondNotReady(msg.sender, r.readyAt);
        delete $.bondReturns[msg.sender];
        emit DeviceBondWithdrawn(msg.sender, amount);
        $.token.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IDeviceRegistry
    function setDeviceBond(uint256 bond) external onlyGovernance {
        _setDeviceBond(bond);
    }

    /// @inheritdoc IDeviceRegistry
    function isRegistered(address device) external view returns (bool) {
        return _getDeviceRegistryStorage().devices[device].registered;
    }

    /// @inheritdoc IDeviceRegistry
    function lastChange(address device) external view returns (uint256) {
        return _getDeviceRegistryStorage().devices[device].lastChange;
    }

    /// @inheritdoc IDeviceRegistry
    function heartbeatDigest(address device, uint64 epoch) external view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(HEARTBEAT_TYPEHASH, device, epoch)));
    }

    /// @inheritdoc IDeviceRegistry
    function bondInfo(
        address device
    ) external view returns (uint256 posted, uint256 returning, uint256 readyAt) {
        DeviceRegistryStorage storage $ = _getDeviceRegistryStorage();
        BondReturn memory r = $.bondReturns[device];
        return ($.devices[device].bond, r.amount, r.readyAt);
    }

    /// @inheritdoc IDeviceRegistry
    function sessionKeyOf(address device) external view returns (bytes32) {
        return _getDeviceRegistryStorage().sessionKeys[device];
    }

    /// @inheritdoc IDeviceRegistry
    function sessionKeysOf(address[] calldata devices) external view returns (bytes32[] memory keys) {
        DeviceRegistryStorage storage $ = _getDeviceRegistryStorage();
        keys = new bytes32[](devices.length);
        for (uint256 i = 0; i < devices.length; ++i) keys[i] = $.sessionKeys[devices[i]];
    }

    /// @inheritdoc IDeviceRegistry
    function deviceBond() external view returns (uint256) {
        return _getDeviceRegistryStorage().deviceBond;
    }

    /// @inheritdoc IDeviceRegistry
    function token() external view returns (address) {
        return address(_getDeviceRegistryStorage().token);
    }

    /// @inheritdoc IDeviceRegistry
    function isEligible(
        address device,
        bytes32 schema,
        uint256 algorithmId,
        uint256 reward
    ) external view returns (bool) {
        DeviceRegistryStorage storage $ = _getDeviceRegistryStorage();
        Device storage d = $.devices[device];
        if (!d.registered || reward < d.priceFloor) return false;
        if ($.sessionKeys[device] == bytes32(0)) return false;
        if (!$.schemas[device][d.schemaGeneration][schema]) return false;
        return d.anyAlgorithmInSchema || $.algorithms[device][d.consentGeneration][algorithmId];
    }

    /// @inheritdoc IDeviceRegistry
    function servesSchema(address device, bytes32 schema) external view returns (bool) {
        DeviceRegistryStorage storage $ = _getDeviceRegistryStorage();
        Device storage d = $.devices[device];
        return d.registered && $.schemas[device][d.schemaGeneration][schema];
    }

    /// @inheritdoc IDeviceRegistry
    function consentsTo(address device, uint256 algorithmId) external view returns (bool) {
        DeviceRegistryStorage storage $ = _getDeviceRegistryStorage();
        Device storage d = $.devices[device];
        return d.registered && $.algorithms[device][d.consentGeneration][algorithmId];
    }

    /// @inheritdoc IDeviceRegistry
    function deviceInfo(address device) external view returns (DeviceInfo memory) {
        Device storage d = _getDeviceRegistryStorage().devices[device];
        return
            DeviceInfo({
                registered: d.registered,
                anyAlgorithmInSchema: d.anyAlgorithmInSchema,
                schemaCount: d.schemaCount,
                algorithmCount: d.algorithmCount,
                priceFloor: d.priceFloor
            });
    }

    function _writeSchemas(
        DeviceRegistryStorage storage $,
        Device memory d,
        bytes32[] calldata schemas
    ) private {
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

    function _writeConsent(
        DeviceRegistryStorage storage $,
        Device memory d,
        Consent calldata consent
    ) private {
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

    function _setDeviceBond(uint256 bond) private {
        if (bond == 0 || bond > MAX_DEVICE_BOND) revert DeviceInvalidBond(bond);
        DeviceRegistryStorage storage $ = _getDeviceRegistryStorage();
        emit DeviceBondUpdated($.deviceBond, bond);
        $.deviceBond = uint96(bond);
    }

    function _getDeviceRegistryStorage() private pure returns (DeviceRegistryStorage storage $) {
        assembly {
            $.slot := DEVICE_REGISTRY_STORAGE_LOCATION
        }
    }
}
