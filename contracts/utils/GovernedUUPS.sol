// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {IGovernedUUPS} from "../interfaces/IGovernedUUPS.sol";

/// @title GovernedUUPS
/// @notice Base of every upgradeable DML contract: UUPS, ERC-7201 storage, initializers disabled on the
///         implementation, upgrades and parameters authorised by the governance timelock only.
abstract contract GovernedUUPS is Initializable, UUPSUpgradeable, IGovernedUUPS {
    /// @custom:storage-location erc7201:dml.storage.GovernedUUPS
    struct GovernedStorage {
        address governance;
    }

    // keccak256(abi.encode(uint256(keccak256("dml.storage.GovernedUUPS")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant GOVERNED_STORAGE_LOCATION =
        0x1cddf95251bd5afaedc2e8290c07aee1d01ca0dc3deb4a531dea9d6b609e8b00;

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    modifier onlyGovernance() {
        if (msg.sender != _governedStorage().governance) revert GovernedUnauthorized(msg.sender);
        _;
    }

    // solhint-disable-next-line func-name-mixedcase
    function __GovernedUUPS_init(address governance_) internal onlyInitializing {
        if (governance_ == address(0)) revert GovernedZeroAddress();
        _governedStorage().governance = governance_;
        emit GovernanceTransferred(address(0), governance_);
    }

    /// @inheritdoc IGovernedUUPS
    function governance() public view returns (address) {
        return _governedStorage().governance;
    }

    /// @inheritdoc IGovernedUUPS
    function transferGovernance(address newGovernance) external onlyGovernance {
        if (newGovernance == address(0)) revert GovernedZeroAddress();
        GovernedStorage storage $ = _governedStorage();
        emit GovernanceTransferred($.governance, newGovernance);
        $.governance = newGovernance;
    }

    function _authorizeUpgrade(address) internal view override onlyGovernance {}

    function _governedStorage() private pure returns (GovernedStorage storage $) {
        assembly {
            $.slot := GOVERNED_STORAGE_LOCATION
        }
    }
}
