// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Settlement} from "../../contracts/Settlement.sol";

/// @notice Upgrade target used to prove that Settlement storage survives a UUPS upgrade.
/// @custom:oz-upgrades-unsafe-allow missing-initializer
/// @custom:oz-upgrades-from contracts/Settlement.sol:Settlement
contract SettlementV2 is Settlement {
    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor(IERC20 token_) Settlement(token_) {}

    /// @notice Emitted by the V2 reinitializer.
    event UpgradedToV2();

    /// @notice Runs once after the upgrade (V2 adds no storage, so nothing to migrate).
    function initializeV2() external reinitializer(2) {
        emit UpgradedToV2();
    }

    /// @notice Marker of the new implementation.
    function version() external pure returns (uint256) {
        return 2;
    }
}
