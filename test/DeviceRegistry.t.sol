// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {ProtocolFixture} from "./utils/ProtocolFixture.sol";
import {DeviceRegistry} from "../contracts/DeviceRegistry.sol";
import {IDeviceRegistry} from "../contracts/interfaces/IDeviceRegistry.sol";
import {IGovernedUUPS} from "../contracts/interfaces/IGovernedUUPS.sol";

contract DeviceRegistryTest is ProtocolFixture {
    bytes32 internal constant SPAM = keccak256("schema:email-text/v1");
    bytes32 internal constant IMG = keccak256("schema:image/v1");
    address internal device = makeAddr("device");

    function setUp() public override {
        super.setUp();
        // the device holds enough DML for a few bonds and lets the registry pull them
        _fund(device, 10 * DEVICE_BOND);
        vm.prank(device);
        token.approve(address(registry), type(uint256).max);
    }

    function _one(bytes32 s) internal pure returns (bytes32[] memory a) {
        a = new bytes32[](1);
        a[0] = s;
    }

    function _two(bytes32 s1, bytes32 s2) internal pure returns (bytes32[] memory a) {
        a = new bytes32[](2);
        a[0] = s1;
        a[1] = s2;
    }

    function _explicit(uint256 id, uint256 floor) internal pure returns (IDeviceRegistry.Consent memory c) {
        uint256[] memory ids = new uint256[](1);
        ids[0] = id;
        c = IDeviceRegistry.Consent(false, ids, floor);
    }

    function _any(uint256 floor) internal pure returns (IDeviceRegistry.Consent memory) {
        return IDeviceRegistry.Consent(true, new uint256[](0), floor);
    }

    function _setKey(address who) internal {
        vm.prank(who);
        registry.setSessionKey(_sessionKeyOf(who));
    }

    // ---------------------------------------------------------------- initialize

    function test_initialize_proxyTwice_reverts() public {
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        registry.initialize(alice, IERC20(address(token)), DEVICE_BOND);
    }

    function test_initialize_implementation_reverts() public {
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        registryImpl.initialize(alice, IERC20(address(token)), DEVICE_BOND);
    }

    function test_initialize_zeroGovernance_reverts() public {
        address impl = address(new DeviceRegistry());
        vm.expectRevert(IGovernedUUPS.GovernedZeroAddress.selector);
        deployProxy(impl, abi.encodeCall(DeviceRegistry.initialize, (address(0), IERC20(address(token)), 1)));
    }

    function test_initialize_setsBondAndRejectsBadArgs() public {
        assertEq(registry.deviceBond(), DEVICE_BOND);
        assertEq(registry.token(), address(token));
        address impl = address(new DeviceRegistry());
        vm.expectRevert(IDeviceRegistry.DeviceZeroAddress.selector);
        deployProxy(impl, abi.encodeCall(DeviceRegistry.initialize, (alice, IERC20(address(0)), 1)));
        vm.expectRevert(abi.encodeWithSelector(IDeviceRegistry.DeviceInvalidBond.selector, 0));
        deployProxy(impl, abi.encodeCall(DeviceRegistry.initialize, (alice, IERC20(address(token)), 0)));
        uint256 tooHigh = registry.MAX_DEVICE_BOND() + 1;
        vm.expectRevert(abi.encodeWithSelector(IDeviceRegistry.DeviceInvalidBond.selector, tooHigh));
        deployProxy(
            impl,
            abi.encodeCall(DeviceRegistry.initialize, (alice, IERC20(address(token)), tooHigh))
        );
    }

    // ---------------------------------------------------------------- bond

    function test_register_pullsTheBond() public {
        uint256 before = token.balanceOf(device);
        vm.expectEmit(address(registry));
        emit IDeviceRegistry.DeviceBondPosted(device, DEVICE_BOND);
        vm.prank(device);
        registry.register(_one(SPAM), _any(0));
        assertEq(before - token.balanceOf(device), DEVICE_BOND);
        assertEq(token.balanceOf(address(registry)), DEVICE_BOND);
        (uint256 posted, uint256 returning, uint256 readyAt) = registry.bondInfo(device);
        assertEq(posted, DEVICE_BOND);
        assertEq(returning, 0);
        assertEq(readyAt, 0);
    }

    function test_register_withoutAllowance_reverts() public {
        address poor = makeAddr("poor-device");
        _fund(poor, DEVICE_BOND);
        vm.expectRevert(
            abi.encodeWithSelector(
                IERC20Errors.ERC20InsufficientAllowance.selector,
                address(registry),
                0,
                DEVICE_BOND
            )
        );
        vm.prank(poor);
        registry.register(_one(SPAM), _any(0));
        assertFalse(registry.isRegistered(poor));
    }

    function test_deregister_returnsTheBondAfterTheDelay() public {
        vm.prank(device);
        registry.register(_one(SPAM), _any(0));
        uint256 readyAt = block.timestamp + registry.BOND_RETURN_DELAY();
        vm.expectEmit(address(registry));
        emit IDeviceRegistry.DeviceBondReturnStarted(device, DEVICE_BOND, readyAt);
        vm.prank(device);
        registry.deregister();
        (uint256 posted, uint256 returning, uint256 at) = registry.bondInfo(device);
        assertEq(posted, 0);
        assertEq(returning, DEVICE_BOND);
        assertEq(at, readyAt);
        vm.warp(readyAt - 1);
        vm.expectRevert(abi.encodeWithSelector(IDeviceRegistry.DeviceBondNotReady.selector, device, readyAt));
        vm.prank(device);
        registry.withdrawBond();
        vm.warp(readyAt);
        uint256 before = token.balanceOf(device);
        vm.expectEmit(address(registry));
        emit IDeviceRegistry.DeviceBondWithdrawn(device, DEVICE_BOND);
        vm.prank(device);
        assertEq(registry.withdrawBond(), DEVICE_BOND);
        assertEq(token.balanceOf(device) - before, DEVICE_BOND);
        assertEq(token.balanceOf(address(registry)), 0);
        vm.expectRevert(abi.encodeWithSelector(IDeviceRegistry.DeviceNoBondToWithdraw.selector, device));
        vm.prank(device);
        registry.withdrawBond();
    }

    function test_setDeviceBond_onlyGovernanceAndBounded() public {
        vm.expectRevert(abi.encodeWithSelector(IGovernedUUPS.GovernedUnauthorized.selector, alice));
        vm.prank(alice);
        registry.setDeviceBond(1 ether);
        vm.startPrank(address(timelock));
        vm.expectRevert(abi.encodeWithSelector(IDeviceRegistry.DeviceInvalidBond.selector, 0));
        registry.setDeviceBond(0);
        vm.expectEmit(address(registry));
        emit IDeviceRegistry.DeviceBondUpdated(DEVICE_BOND, 25 ether);
        registry.setDeviceBond(25 ether);
        vm.stopPrank();
        // a registration made before keeps (and gets back) the bond it posted
        _registerDevice(alice, SPAM);
        vm.prank(device);
        registry.register(_one(SPAM), _any(0));
        (uint256 posted, , ) = registry.bondInfo(device);
        assertEq(posted, 25 ether);
    }

    // ---------------------------------------------------------------- last change and heartbeats

    function test_lastChange_recordsEveryMutation() public {
        assertEq(registry.lastChange(device), 0);
        vm.prank(device);
        registry.register(_one(SPAM), _any(0));
        assertEq(registry.lastChange(device), block.timestamp);
        vm.warp(block.timestamp + 10);
        vm.prank(device);
        registry.updateSchemas(_one(IMG));
        assertEq(registry.lastChange(device), block.timestamp);
        vm.warp(block.timestamp + 10);
        vm.prank(device);
        registry.updateConsent(_any(1));
        assertEq(registry.lastChange(device), block.timestamp);
        vm.warp(block.timestamp + 10);
        vm.prank(device);
        registry.deregister();
        assertEq(registry.lastChange(device), block.timestamp);
    }

    function test_heartbeatDigest_isEip712AndVerifies() public {
        bytes32 domain = keccak256(
            abi.encode(
                keccak256(
                    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
                ),
                keccak256("DML Device"),
                keccak256("1"),
                block.chainid,
                address(registry)
            )
        );
        bytes32 structHash = keccak256(
            abi.encode(keccak256("Heartbeat(address device,uint64 epoch)"), device, 7)
        );
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", domain, structHash));
        assertEq(registry.heartbeatDigest(device, 7), digest);
        assertTrue(registry.heartbeatDigest(device, 8) != digest);
        (address signer, uint256 key) = makeAddrAndKey("hb-device");
        (uint8 v, bytes32 r, bytes32 s_) = vm.sign(key, registry.heartbeatDigest(signer, 7));
        assertEq(ecrecover(registry.heartbeatDigest(signer, 7), v, r, s_), signer);
    }

    // ---------------------------------------------------------------- register

    function test_register_anyAlgorithm_storesAndEmits() public {
        vm.expectEmit(address(registry));
        emit IDeviceRegistry.DeviceRegistered(device, _one(SPAM), _any(0));
        vm.prank(device);
        registry.register(_one(SPAM), _any(0));
        assertTrue(registry.isRegistered(device));
        assertTrue(registry.servesSchema(device, SPAM));
        assertFalse(registry.servesSchema(device, IMG));
        assertFalse(registry.isEligible(device, SPAM, 42, 0), "no session key yet");
        _setKey(device);
        assertTrue(registry.isEligible(device, SPAM, 42, 0));
        assertFalse(registry.isEligible(device, IMG, 42, 0));
        IDeviceRegistry.DeviceInfo memory info = registry.deviceInfo(device);
        assertTrue(info.registered);
        assertTrue(info.anyAlgorithmInSchema);
        assertEq(info.schemaCount, 1);
        assertEq(info.algorithmCount, 0);
    }

    function test_register_gas() public {
        bytes32[] memory schemas = _one(SPAM);
        IDeviceRegistry.Consent memory consent = _any(1 ether);
        vm.prank(device);
        uint256 g = gasleft();
        registry.register(schemas, consent);
        g -= gasleft();
        emit log_named_uint("registerDevice gas (excl. 21k intrinsic, bond transfer included)", g);
        assertGasBelow(g + 21_000, 200_000); // with intrinsic gas
    }

    function test_register_explicitConsentAndFloor() public {
        vm.prank(device);
        registry.register(_two(SPAM, IMG), _explicit(7, 5 ether));
        _setKey(device);
        assertTrue(registry.consentsTo(device, 7));
        assertFalse(registry.consentsTo(device, 8));
        assertTrue(registry.isEligible(device, IMG, 7, 5 ether));
        assertFalse(registry.isEligible(device, IMG, 7, 5 ether - 1), "below floor");
        assertFalse(registry.isEligible(device, IMG, 8, 5 ether), "algorithm not consented");
        assertEq(registry.deviceInfo(device).priceFloor, 5 ether);
    }

    function test_register_twice_reverts() public {
        _registerDevice(device, SPAM);
        vm.expectRevert(abi.encodeWithSelector(IDeviceRegistry.DeviceAlreadyRegistered.selector, device));
        vm.prank(device);
        registry.register(_one(IMG), _any(0));
    }

    function test_register_emptySchemaList_reverts() public {
        vm.expectRevert(IDeviceRegistry.DeviceEmptySchemaList.selector);
        vm.prank(device);
        registry.register(new bytes32[](0), _any(0));
    }

    function test_register_zeroSchema_reverts() public {
        vm.expectRevert(IDeviceRegistry.DeviceZeroSchema.selector);
        vm.prank(device);
        registry.register(_two(SPAM, bytes32(0)), _any(0));
        assertFalse(registry.isRegistered(device));
    }

    function test_register_duplicateSchema_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IDeviceRegistry.DeviceDuplicateSchema.selector, SPAM));
        vm.prank(device);
        registry.register(_two(SPAM, SPAM), _any(0));
    }

    function test_register_tooManySchemas_reverts() public {
        bytes32[] memory many = new bytes32[](65);
        for (uint256 i = 0; i < many.length; ++i) many[i] = bytes32(i + 1);
        vm.expectRevert(abi.encodeWithSelector(IDeviceRegistry.DeviceTooManyEntries.selector, 65, 64));
        vm.prank(device);
        registry.register(many, _any(0));
    }

    function test_register_emptyConsent_reverts() public {
        vm.expectRevert(IDeviceRegistry.DeviceEmptyConsent.selector);
        vm.prank(device);
        registry.register(_one(SPAM), IDeviceRegistry.Consent(false, new uint256[](0), 0));
    }

    function test_register_duplicateAlgorithm_reverts() public {
        uint256[] memory ids = new uint256[](2);
        ids[0] = 3;
        ids[1] = 3;
        vm.expectRevert(abi.encodeWithSelector(IDeviceRegistry.DeviceDuplicateAlgorithm.selector, 3));
        vm.prank(device);
        registry.register(_one(SPAM), IDeviceRegistry.Consent(false, ids, 0));
    }

    function test_register_tooManyAlgorithms_reverts() public {
        uint256[] memory ids = new uint256[](257);
        vm.expectRevert(abi.encodeWithSelector(IDeviceRegistry.DeviceTooManyEntries.selector, 257, 256));
        vm.prank(device);
        registry.register(_one(SPAM), IDeviceRegistry.Consent(false, ids, 0));
    }

    function test_register_priceFloorTooHigh_reverts() public {
        uint256 floor = uint256(type(uint128).max) + 1;
        vm.expectRevert(abi.encodeWithSelector(IDeviceRegistry.DevicePriceFloorTooHigh.selector, floor));
        vm.prank(device);
        registry.register(_one(SPAM), _any(floor));
    }

    // ---------------------------------------------------------------- updates

    function test_updateSchemas_replacesList() public {
        _registerDevice(device, SPAM);
        vm.expectEmit(address(registry));
        emit IDeviceRegistry.DeviceSchemasUpdated(device, _one(IMG));
        vm.prank(device);
        registry.updateSchemas(_one(IMG));
        assertFalse(registry.servesSchema(device, SPAM), "old schema dropped");
        assertTrue(registry.servesSchema(device, IMG));
        assertTrue(registry.isEligible(device, IMG, 1, 0));
    }

    function test_updateSchemas_unregistered_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IDeviceRegistry.DeviceNotRegistered.selector, device));
        vm.prank(device);
        registry.updateSchemas(_one(IMG));
    }

    function test_updateSchemas_empty_reverts() public {
        _registerDevice(device, SPAM);
        vm.expectRevert(IDeviceRegistry.DeviceEmptySchemaList.selector);
        vm.prank(device);
        registry.updateSchemas(new bytes32[](0));
        assertTrue(registry.servesSchema(device, SPAM), "unchanged");
    }

    function test_updateConsent_replacesConsent() public {
        _registerDevice(device, SPAM);
        vm.expectEmit(address(registry));
        emit IDeviceRegistry.DeviceConsentUpdated(device, _explicit(9, 2 ether));
        vm.prank(device);
        registry.updateConsent(_explicit(9, 2 ether));
        assertFalse(registry.isEligible(device, SPAM, 1, 2 ether), "any-algorithm revoked");
        assertTrue(registry.isEligible(device, SPAM, 9, 2 ether));
        vm.prank(device);
        registry.updateConsent(_explicit(10, 0));
        assertFalse(registry.consentsTo(device, 9), "old explicit consent dropped");
        assertTrue(registry.consentsTo(device, 10));
    }

    function test_updateConsent_unregistered_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IDeviceRegistry.DeviceNotRegistered.selector, device));
        vm.prank(device);
        registry.updateConsent(_any(0));
    }

    function test_deregister_clearsAndAllowsReRegistration() public {
        vm.prank(device);
        registry.register(_two(SPAM, IMG), _explicit(4, 1 ether));
        _setKey(device);
        vm.expectEmit(address(registry));
        emit IDeviceRegistry.DeviceDeregistered(device);
        vm.prank(device);
        registry.deregister();
        assertFalse(registry.isRegistered(device));
        assertEq(registry.sessionKeyOf(device), bytes32(0), "session key cleared");
        assertFalse(registry.isEligible(device, SPAM, 4, 1 ether));
        assertFalse(registry.servesSchema(device, SPAM));
        assertFalse(registry.consentsTo(device, 4));
        _registerDevice(device, SPAM);
        assertFalse(registry.servesSchema(device, IMG), "no stale schema after re-registration");
        assertFalse(registry.consentsTo(device, 4), "no stale consent after re-registration");
        assertTrue(registry.isEligible(device, SPAM, 4, 0));
    }

    function test_deregister_unregistered_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IDeviceRegistry.DeviceNotRegistered.selector, device));
        vm.prank(device);
        registry.deregister();
    }

    // ---------------------------------------------------------------- session keys

    function test_setSessionKey_storesEmitsAndCountsAsChange() public {
        vm.prank(device);
        registry.register(_one(SPAM), _any(0));
        vm.warp(block.timestamp + 1 hours);
        bytes32 key = keccak256("ed25519 public key");
        vm.expectEmit(address(registry));
        emit IDeviceRegistry.DeviceSessionKeySet(device, key);
        vm.prank(device);
        registry.setSessionKey(key);
        assertEq(registry.sessionKeyOf(device), key);
        assertEq(registry.lastChange(device), block.timestamp, "a key makes the device eligible: a change");
        assertTrue(registry.isEligible(device, SPAM, 1, 0));
    }

    function test_setSessionKey_unregistered_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IDeviceRegistry.DeviceNotRegistered.selector, device));
        vm.prank(device);
        registry.setSessionKey(bytes32(uint256(1)));
        assertEq(registry.sessionKeyOf(device), bytes32(0));
    }

    function test_setSessionKey_zero_reverts() public {
        vm.prank(device);
        registry.register(_one(SPAM), _any(0));
        vm.expectRevert(IDeviceRegistry.DeviceZeroSessionKey.selector);
        vm.prank(device);
        registry.setSessionKey(bytes32(0));
        assertFalse(registry.isEligible(device, SPAM, 1, 0));
    }

    function test_setSessionKey_second_reverts() public {
        _registerDevice(device, SPAM);
        bytes32 first = _sessionKeyOf(device);
        vm.expectRevert(
            abi.encodeWithSelector(IDeviceRegistry.DeviceSessionKeyAlreadySet.selector, device, first)
        );
        vm.prank(device);
        registry.setSessionKey(bytes32(uint256(7)));
        assertEq(registry.sessionKeyOf(device), first, "immutable while registered");
    }

    function test_setSessionKey_afterReRegistration_takesANewKey() public {
        _registerDevice(device, SPAM);
        vm.prank(device);
        registry.deregister();
        assertFalse(registry.isEligible(device, SPAM, 1, 0));
        vm.startPrank(device);
        token.approve(address(registry), type(uint256).max);
        registry.register(_one(SPAM), _any(0));
        vm.stopPrank();
        assertEq(registry.sessionKeyOf(device), bytes32(0), "a new registration starts without a key");
        vm.prank(device);
        registry.setSessionKey(bytes32(uint256(7)));
        assertEq(registry.sessionKeyOf(device), bytes32(uint256(7)));
    }

    function test_sessionKeysOf_batch() public {
        address other = makeAddr("other");
        address keyless = makeAddr("keyless");
        _registerDevice(device, SPAM);
        _registerDevice(other, SPAM);
        address[] memory devices = new address[](4);
        devices[0] = other;
        devices[1] = keyless;
        devices[2] = device;
        devices[3] = other;
        bytes32[] memory keys = registry.sessionKeysOf(devices);
        assertEq(keys.length, 4);
        assertEq(keys[0], _sessionKeyOf(other));
        assertEq(keys[1], bytes32(0));
        assertEq(keys[2], _sessionKeyOf(device));
        assertEq(keys[3], _sessionKeyOf(other));
        assertEq(registry.sessionKeysOf(new address[](0)).length, 0);
    }

    function test_setSessionKey_gas() public {
        vm.prank(device);
        registry.register(_one(SPAM), _any(0));
        vm.prank(device);
        uint256 g = gasleft();
        registry.setSessionKey(bytes32(uint256(7)));
        g -= gasleft();
        emit log_named_uint("setSessionKey gas (excl. 21k intrinsic)", g);
        assertGasBelow(g + 21_000, 60_000);
    }

    function test_upgradeToAndCall_nonGovernance_reverts() public {
        address impl = address(new DeviceRegistry());
        vm.expectRevert(abi.encodeWithSelector(IGovernedUUPS.GovernedUnauthorized.selector, alice));
        vm.prank(alice);
        registry.upgradeToAndCall(impl, "");
    }

    // ---------------------------------------------------------------- fuzz

    function test_fuzz_isEligible_matchesConsent(
        bytes32 schema,
        bytes32 other,
        uint256 algorithm,
        uint256 otherAlgorithm,
        uint128 floor,
        uint256 reward,
        bool any
    ) public {
        vm.assume(schema != bytes32(0) && other != schema && otherAlgorithm != algorithm);
        IDeviceRegistry.Consent memory consent = any ? _any(floor) : _explicit(algorithm, floor);
        vm.prank(device);
        registry.register(_one(schema), consent);
        _setKey(device);
        assertEq(registry.isEligible(device, schema, algorithm, reward), reward >= floor);
        assertEq(registry.isEligible(device, schema, otherAlgorithm, reward), any && reward >= floor);
        assertFalse(registry.isEligible(device, other, algorithm, reward));
    }
}
