// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IAlgorithmMarketplace} from "../../../contracts/interfaces/IAlgorithmMarketplace.sol";

/// @notice Test-only stand-in for AlgorithmMarketplace (branch `market`) implementing the cross-contract
///         surface JobMarket uses. `payUse` pulls the use price from the caller and pays the developer.
contract MockAlgorithmMarketplace is IAlgorithmMarketplace {
    using SafeERC20 for IERC20;

    error MockUnknownAlgorithm(uint256 algorithmId);

    IERC20 public immutable token;
    uint256 public count;
    mapping(uint256 => Algorithm) private _algorithms;
    mapping(address => mapping(uint256 => bool)) private _licences;
    mapping(uint256 => uint256) public usesPaid;
    /// @dev When non-zero, `payUse` pulls this amount instead of the price (to test JobMarket's balance check).
    uint256 public pullOverride;

    constructor(IERC20 token_) {
        token = token_;
    }

    function list(
        address developer,
        bytes32 schema,
        uint256 usePrice,
        uint256 licencePrice
    ) external returns (uint256 id) {
        id = ++count;
        Algorithm storage a = _algorithms[id];
        a.developer = developer;
        a.schema = schema;
        a.usePrice = usePrice;
        a.licencePrice = licencePrice;
        a.packageCid = "bafy-package";
    }

    function deprecate(uint256 id) external {
        _algorithms[id].deprecated = true;
    }

    function grantLicence(address customer, uint256 id) external {
        _licences[customer][id] = true;
    }

    function setPullOverride(uint256 amount) external {
        pullOverride = amount;
    }

    function getAlgorithm(uint256 algorithmId) external view returns (Algorithm memory) {
        if (algorithmId == 0 || algorithmId > count) revert MockUnknownAlgorithm(algorithmId);
        return _algorithms[algorithmId];
    }

    function isListed(uint256 algorithmId) external view returns (bool) {
        return algorithmId != 0 && algorithmId <= count && !_algorithms[algorithmId].deprecated;
    }

    function hasLicence(address customer, uint256 algorithmId) external view returns (bool) {
        return _licences[customer][algorithmId];
    }

    function payUse(uint256 algorithmId, address) external {
        Algorithm storage a = _algorithms[algorithmId];
        uint256 amount = pullOverride != 0 ? pullOverride : a.usePrice;
        usesPaid[algorithmId] += 1;
        token.safeTransferFrom(msg.sender, a.developer, amount);
    }

    function publishChildVersion(uint256, address, string calldata, bytes32) external pure returns (uint256) {
        return 0;
    }
}
