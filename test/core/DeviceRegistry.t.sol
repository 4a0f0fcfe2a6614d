// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {ProtocolFixture} from "../utils/ProtocolFixture.sol";
import {DeviceRegistry} from "../../contracts/DeviceRegistry.sol";
import {IDeviceRegistry} from "../../contracts/interfaces/IDeviceRegistry.sol";
import {IGovernedUUPS} from "../../contracts/interfaces/IGovernedUUPS.sol";

contract DeviceRegistryTest is ProtocolFixture {
    bytes32 internal constant SPAM = keccak256("schema:email-text/v1");
    bytes32 internal constant IMG = keccak256("schema:image/v1");
    address internal device = makeAddr("device");

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

    // ---------------------------------------------------------------- initialize

    function test_initialize_proxyTwice_reverts() public {
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        registry.initialize(alice);
    }

    function test_initialize_implementation_reverts() public {
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        registryImpl.initialize(alice);
    }

    function test_initialize_zeroGovernance_reverts() public {
        address impl = address(new DeviceRegistry());
        vm.expectRevert(IGovernedUUPS.GovernedZeroAddress.selector);
        deployProxy(impl, abi.encodeCall(DeviceRegistry.initialize, (address(0))));
    }

    // ---------------------------------------------------------------- register

    function test_register_anyAlgorithm_storesAndEmits() public {
        vm.expectEmit(address(registry));
        emit IDeviceRegistry.DeviceRegistered(device, _one(SPAM), _any(0));
        _registerDevice(device, SPAM);
        assertTrue(registry.isRegistered(device));
        assertTrue(registry.servesSchema(device, SPAM));
        assertFalse(registry.servesSchema(device, IMG));
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
        emit log_named_uint("registerDevice gas (excl. 21k intrinsic)", g);
        assertLt(g + 21_000, 120_000);
    }

    function test_register_explicitConsentAndFloor() public {
        vm.prank(device);
        registry.register(_two(SPAM, IMG), _explicit(7, 5 ether));
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
        vm.expectEmit(address(registry));
        emit IDeviceRegistry.DeviceDeregistered(device);
        vm.prank(device);
        registry.deregister();
        assertFalse(registry.isRegistered(device));
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
        assertEq(registry.isEligible(device, schema, algorithm, reward), reward >= floor);
        assertEq(registry.isEligible(device, schema, otherAlgorithm, reward), any && reward >= floor);
        assertFalse(registry.isEligible(device, other, algorithm, reward));
    }
}
