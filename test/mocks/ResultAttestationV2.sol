// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ResultAttestation} from "../../contracts/ResultAttestation.sol";

/// @notice Upgrade target used to prove that ResultAttestation storage survives a UUPS upgrade.
contract ResultAttestationV2 is ResultAttestation {
    /// @notice Marker of the new implementation.
    function version() external pure returns (uint256) {
        return 2;
    }
}
