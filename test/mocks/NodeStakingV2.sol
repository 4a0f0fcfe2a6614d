// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {NodeStaking} from "../../contracts/NodeStaking.sol";

/// @notice Test-only V2 of NodeStaking: appends one field to the ERC-7201 struct (same slot, same prefix)
///         and adds a reinitializer, a setter and a view, to prove upgrades keep state.
contract NodeStakingV2 is NodeStaking {
    /// @notice Emitted when the V2-only parameter changes.
    event MaxOperatorsPerRoleSet(uint256 maxOperators);

    /// @custom:storage-location erc7201:dml.storage.NodeStaking
    struct NodeStakingStorageV2 {
        IERC20 token;
        address treasury;
        uint64 unbondingDelay;
        uint16 challengerShareBps;
        bool burnSlashed;
        uint96[5] minStake;
        mapping(address operator => Operator) operators;
        mapping(address operator => mapping(Role role => RoleStake)) stakes;
        mapping(Role role => address[]) active;
        mapping(address slasher => bool) slashers;
        uint256 maxOperatorsPerRole; // appended in V2
    }

    bytes32 private constant SLOT = 0x2fde9373b30f4083c9bece63e10f8dda47377456fa6d80f52ffd407e77d2d200;

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

    /// @notice Reads V1 fields through the V2 struct (proves the prefix layout is unchanged).
    function bondedViaV2(address operator, Role role) external view returns (uint256) {
        return _v2().stakes[operator][role].bonded;
    }

    /// @notice The implementation version.
    function version() external pure returns (uint256) {
        return 2;
    }

    function _v2() private pure returns (NodeStakingStorageV2 storage $) {
        assembly {
            $.slot := SLOT
        }
    }
}
