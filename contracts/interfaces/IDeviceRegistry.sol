// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IDeviceRegistry
/// @notice Data owners register a device key with the dataset schemas it serves and its consent.
/// @dev Cross-contract surface (used by JobMarket, GrowthPool and the distributor): `isRegistered`, `isEligible`,
///      `lastChange`, `heartbeatDigest`. Keep these signatures stable. Registering posts a bond in DML (the price of a
///      Sybil, PROTOCOL.md §7.2); deregistering starts its return after `BOND_RETURN_DELAY`. The device address is the key that signs off-chain messages and the
///      account that receives payouts.
interface IDeviceRegistry {
    /// @notice What a device accepts to run.
    /// @param anyAlgorithmInSchema Accept any algorithm whose input schema the device serves.
    /// @param algorithms Algorithm ids accepted explicitly (ignored for eligibility when `anyAlgorithmInSchema`).
    /// @param priceFloor Minimum reward per job, in token wei.
    struct Consent {
        bool anyAlgorithmInSchema;
        uint256[] algorithms;
        uint256 priceFloor;
    }

    /// @notice A device's stored registration summary.
    struct DeviceInfo {
        bool registered;
        bool anyAlgorithmInSchema;
        uint32 schemaCount;
        uint32 algorithmCount;
        uint256 priceFloor;
    }

    // ---------------------------------------------------------------- errors

    /// @notice The device is already registered.
    error DeviceAlreadyRegistered(address device);
    /// @notice The device is not registered.
    error DeviceNotRegistered(address device);
    /// @notice The schema list is empty.
    error DeviceEmptySchemaList();
    /// @notice A schema id is zero.
    error DeviceZeroSchema();
    /// @notice A schema appears twice in the list.
    error DeviceDuplicateSchema(bytes32 schema);
    /// @notice The schema or algorithm list is longer than allowed.
    error DeviceTooManyEntries(uint256 length, uint256 max);
    /// @notice The consent accepts no algorithm at all (neither any-in-schema nor an explicit list).
    error DeviceEmptyConsent();
    /// @notice An algorithm id appears twice in the consent.
    error DeviceDuplicateAlgorithm(uint256 algorithmId);
    /// @notice The price floor does not fit in 128 bits.
    error DevicePriceFloorTooHigh(uint256 priceFloor);
    /// @notice A required address is the zero address.
    error DeviceZeroAddress();
    /// @notice The device bond is zero or above `MAX_DEVICE_BOND`.
    error DeviceInvalidBond(uint256 bond);
    /// @notice The device has no bond waiting to be returned.
    error DeviceNoBondToWithdraw(address device);
    /// @notice The returned bond can be withdrawn from `readyAt`.
    error DeviceBondNotReady(address device, uint256 readyAt);
    /// @notice A session key is zero (zero means "unset").
    error DeviceZeroSessionKey();
    /// @notice The device already set its session key for this registration (it is immutable until deregistration).
    error DeviceSessionKeyAlreadySet(address device, bytes32 sessionKey);

    // ---------------------------------------------------------------- events

    /// @notice A device registered with its schemas and consent.
    event DeviceRegistered(address indexed device, bytes32[] schemas, Consent consent);
    /// @notice A device replaced its schema list.
    event DeviceSchemasUpdated(address indexed device, bytes32[] schemas);
    /// @notice A device replaced its consent.
    event DeviceConsentUpdated(address indexed device, Consent consent);
    /// @notice A device deregistered (it may register again later).
    event DeviceDeregistered(address indexed device);
    /// @notice A device posted `amount` as its registration bond.
    event DeviceBondPosted(address indexed device, uint256 amount);
    /// @notice A deregistered device's bond (`amount` in total waiting) can be withdrawn from `readyAt`.
    event DeviceBondReturnStarted(address indexed device, uint256 amount, uint256 readyAt);
    /// @notice A device withdrew its returned bond.
    event DeviceBondWithdrawn(address indexed device, uint256 amount);
    /// @notice Governance changed the bond new registrations post.
    event DeviceBondUpdated(uint256 oldBond, uint256 newBond);
    /// @notice A device registered its Ed25519 session signing key (the key its SecAgg messages are verified against).
    event DeviceSessionKeySet(address indexed device, bytes32 sessionKey);

    // ---------------------------------------------------------------- mutations (called by the device key)

    /// @notice Registers the caller as a device serving `schemas` under `consent`. Pulls `deviceBond()` DML from the
    ///         caller (approve the registry first).
    function register(bytes32[] calldata schemas, Consent calldata consent) external;

    /// @notice Replaces the caller's schema list.
    function updateSchemas(bytes32[] calldata schemas) external;

    /// @notice Replaces the caller's consent.
    function updateConsent(Consent calldata consent) external;

    /// @notice Removes the caller's registration; it stops being eligible immediately. Its bond can be withdrawn
    ///         `BOND_RETURN_DELAY` later.
    function deregister() external;

    /// @notice Pays the caller's returned bond once its delay has passed.
    function withdrawBond() external returns (uint256 amount);

    /// @notice Registers the caller's Ed25519 session signing key (raw 32-byte public key; the device derives it from
    ///         its device key, docs/secagg.md). Once per registration: it cannot be rotated while registered, so a
    ///         device cannot disown messages it signed in a session (attestors verify transcripts against it); it is
    ///         cleared on deregistration. Counts as a registration change (`lastChange`), since it makes the device
    ///         eligible.
    function setSessionKey(bytes32 sessionKey) external;

    // ---------------------------------------------------------------- governance

    /// @notice Sets the bond that new registrations post (registered devices keep the bond they posted).
    function setDeviceBond(uint256 bond) external;

    // ---------------------------------------------------------------- views

    /// @notice True when `device` is registered (and not deregistered).
    function isRegistered(address device) external view returns (bool);

    /// @notice True when `device` is registered, has set its session key, serves `schema`, consents to
    ///         `algorithmId` (explicitly or because it accepts any algorithm within the schema) and `reward` meets its
    ///         price floor. A device without a session key cannot sign SecAgg messages, so distributors never draw it.
    function isEligible(
        address device,
        bytes32 schema,
        uint256 algorithmId,
        uint256 reward
    ) external view returns (bool);

    /// @notice True when `device` is registered and serves `schema`.
    function servesSchema(address device, bytes32 schema) external view returns (bool);

    /// @notice True when `device` is registered and listed `algorithmId` explicitly in its consent.
    function consentsTo(address device, uint256 algorithmId) external view returns (bool);

    /// @notice The stored registration summary of `device`.
    function deviceInfo(address device) external view returns (DeviceInfo memory);

    /// @notice Time of the device's last registration change (register, updateSchemas, updateConsent,
    ///         setSessionKey, deregister); 0 when it never registered. Fraud proofs use it: a device that changed after a post
    ///         cannot frame the operator that posted it.
    function lastChange(address device) external view returns (uint256);

    /// @notice EIP-712 digest of `Heartbeat(address device,uint64 epoch)` under the domain
    ///         `{name: "DML Device", version: "1", chainId, verifyingContract: this proxy}`.
    function heartbeatDigest(address device, uint64 epoch) external view returns (bytes32);

    /// @notice Bond posted by the current registration, bond waiting to be returned and when it can be withdrawn.
    function bondInfo(
        address device
    ) external view returns (uint256 posted, uint256 returning, uint256 readyAt);

    /// @notice The session key of `device` (zero when unset or not registered).
    function sessionKeyOf(address device) external view returns (bytes32);

    /// @notice The session keys of `devices`, in order (zero for unset): one call reads a whole cohort's keys.
    function sessionKeysOf(address[] calldata devices) external view returns (bytes32[] memory keys);

    /// @notice Bond new registrations post, in token wei.
    function deviceBond() external view returns (uint256);

    /// @notice The bond token (DML).
    function token() external view returns (address);

    /// @notice Delay between deregistration and the bond's withdrawal.
    function BOND_RETURN_DELAY() external view returns (uint256);

    /// @notice Maximum number of schemas per device.
    function MAX_SCHEMAS() external view returns (uint256);

    /// @notice Maximum number of explicitly consented algorithms per device.
    function MAX_ALGORITHMS() external view returns (uint256);
}
