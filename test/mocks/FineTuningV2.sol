// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {FineTuning} from "../../contracts/FineTuning.sol";

/// @notice Upgrade target used to prove that FineTuning storage survives a UUPS upgrade, including the fields
///         appended for PROTOCOL.md §7.7 (a bounty's split root and accepted metric, a round's list CID, split
///         deadline and armed seed: `test_upgrade_preservesBounties` upgrades mid-round and finishes the round).
/// @custom:oz-upgrades-unsafe-allow missing-initializer external-library-linking
/// @custom:oz-upgrades-from contracts/FineTuning.sol:FineTuning
contract FineTuningV2 is FineTuning {
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
