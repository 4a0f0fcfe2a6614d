// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {INodeStaking} from "../../../contracts/interfaces/INodeStaking.sol";

/// @notice Test-only stand-in for NodeStaking (branch `core`): `isActive` is set directly by the test.
contract MockNodeStaking is INodeStaking {
    mapping(address => mapping(Role => bool)) private _active;
    mapping(Role => uint256) public override activeCount;

    function setActive(address operator, Role role, bool active) external {
        if (_active[operator][role] != active) {
            if (active) activeCount[role] += 1;
            else activeCount[role] -= 1;
        }
        _active[operator][role] = active;
    }

    function isActive(address operator, Role role) external view returns (bool) {
        return _active[operator][role];
    }

    function activeAt(Role, uint256) external pure returns (address) {
        return address(0);
    }

    function encryptionKey(address) external pure returns (bytes32) {
        return bytes32(0);
    }

    function stakeOf(address operator, Role role) external view returns (uint256) {
        return _active[operator][role] ? 1 ether : 0;
    }

    function slash(address, Role, uint256, address) external pure returns (uint256) {
        return 0;
    }
}
