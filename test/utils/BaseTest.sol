// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";

/// @title BaseTest
/// @notice Shared constants, actors and bound helpers for every DML Solidity test.
///         Fixtures that deploy contracts extend this (see test/utils/ProtocolFixture.sol).
abstract contract BaseTest is Test {
    uint256 internal constant BPS = 10_000;
    uint256 internal constant ONE = 1 ether;
    uint256 internal constant SUPPLY = 1_000_000_000 ether;
    uint256 internal constant MAX_AMOUNT = 1e9 ether;

    address internal deployer = makeAddr("deployer");
    address internal alice = makeAddr("alice");
    address internal bob = makeAddr("bob");
    address internal carol = makeAddr("carol");
    address internal dave = makeAddr("dave");
    address internal challenger = makeAddr("challenger");

    /// @dev Deploys `implementation` behind an ERC1967 proxy and calls `initData` on it.
    function deployProxy(address implementation, bytes memory initData) internal returns (address) {
        return address(new ERC1967Proxy(implementation, initData));
    }

    /// @dev Asserts the gas budget `used < budget` of a protocol call. Budgets are figures of the optimized build
    ///      (what deploys). `npm test` compiles the suites without the optimizer (hardhat.config.ts), where the
    ///      contracts created here and the test's own calling code cost more, so a budget is asserted only when
    ///      DML_GAS_BUDGETS is set: `npm run bench:gas` and `npm run test:full` build the production profile (all
    ///      optimized) and set it. The figure is logged either way.
    function assertGasBelow(uint256 used, uint256 budget) internal view {
        if (vm.envOr("DML_GAS_BUDGETS", false)) assertLt(used, budget);
    }

    /// @dev Bounds an amount to [min, max] (inclusive).
    function boundAmount(uint256 amount, uint256 min, uint256 max) internal pure returns (uint256) {
        return bound(amount, min, max);
    }

    /// @dev Bounds an address to a non-zero, non-precompile EOA-like address.
    function boundAddr(address a) internal pure returns (address) {
        uint160 v = uint160(a);
        if (v <= 0x100) v += 0x1000;
        return address(v);
    }

    /// @dev Picks one of `actors` by a fuzzed seed.
    function pick(address[] memory actors, uint256 seed) internal pure returns (address) {
        return actors[seed % actors.length];
    }
}
