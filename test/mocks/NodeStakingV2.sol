// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {NodeStaking} from "../../contracts/NodeStaking.sol";

/// @notice Test-only V2 of NodeStaking: keeps the V1 ERC-7201 namespace untouched, puts its new field in a new
///         namespace, and adds a reinitializer, a setter and a view, to prove upgrades keep state.
/// @custom:oz-upgrades-unsafe-allow missing-initializer
/// @custom:oz-upgrades-from contracts/NodeStaking.sol:NodeStaking
contract NodeStakingV2 is NodeStaking {
    /// @notice Emitted when the V2-only parameter changes.
    event MaxOperatorsPerRoleSet(uint256 maxOperators);

    /// @custom:storage-location erc7201:dml.storage.NodeStakingV2
    struct NodeStakingV2Storage {
        uint256 maxOperatorsPerRole;
    }

    // keccak256(abi.encode(uint256(keccak256("dml.storage.NodeStakingV2")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant NODE_STAKING_V2_STORAGE =
        0x8cab4ad4fae573fa677c00f024933aa706cc4f51eb828fae5039ccab102ba800;

    /// @notice Runs once after the upgrade.
    function initializeV2(uint256 maxOperators) external reinitializer(2) {
        _v2().maxOperatorsPerRole = maxOperators;
        emit MaxOperatorsPerRoleSet(maxOperators);
    }

    /// @notice V2-only governance setter.
    function setMaxOperatorsPerRole(uint256 maxOperators) external onlyGovernance {
        _v2().maxOperatorsPerRole = maxOperators;
        emit MaxOperatorsPerRoleSet(maxOperators);
    }

    /// @notice V2-only view.
    function maxOperatorsPerRole() external view returns (uint256) {
        return _v2().maxOperatorsPerRole;
    }

    /// @notice Reads a V1 field through the V2 implementation (proves the V1 state survived the upgrade).
    function bondedViaV2(address operator, Role role) external view returns (uint256) {
        return this.stakeInfo(operator, role).bonded;
    }

    /// @notice The implementation version.
    function version() external pure returns (uint256) {
        return 2;
    }

    function _v2() private pure returns (NodeStakingV2Storage storage $) {
        assembly {
            $.slot := NODE_STAKING_V2_STORAGE
        }
    }
}
