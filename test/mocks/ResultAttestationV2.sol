// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ResultAttestation} from "../../contracts/ResultAttestation.sol";

/// @notice Upgrade target used to prove that ResultAttestation storage survives a UUPS upgrade.
/// @custom:oz-upgrades-unsafe-allow missing-initializer external-library-linking
/// @custom:oz-upgrades-from contracts/ResultAttestation.sol:ResultAttestation
contract ResultAttestationV2 is ResultAttestation {
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
