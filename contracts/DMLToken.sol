// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC20Votes} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Votes.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {Time} from "@openzeppelin/contracts/utils/types/Time.sol";
import {IDMLToken} from "./interfaces/IDMLToken.sol";

/// @title DMLToken
/// @notice ERC20 + ERC20Permit + ERC20Votes (timestamp clock). Not upgradeable; no mint after deployment.
///         The treasury pays genesis allocations (and grants) with `allocate`, which delegates a recipient without a
///         delegate to itself, so allocated holders vote from day one (PROTOCOL.md §7.8); anyone may re-delegate.
contract DMLToken is ERC20, ERC20Permit, ERC20Votes, IDMLToken {
    /// @inheritdoc IDMLToken
    uint256 public constant INITIAL_SUPPLY = 1_000_000_000 ether;
    /// @inheritdoc IDMLToken
    uint256 public constant GROWTH_POOL_BPS = 900;

    /// @inheritdoc IDMLToken
    uint256 public totalBurned;

    /// @inheritdoc IDMLToken
    address public immutable treasury;

    /// @param treasury_ Receives 91% of the supply (the governance timelock).
    /// @param growthPool Receives 9% of the supply (the GrowthPool proxy).
    constructor(address treasury_, address growthPool) ERC20("DML Token", "DML") ERC20Permit("DML Token") {
        if (treasury_ == address(0) || growthPool == address(0)) revert DMLTokenZeroAddress();
        treasury = treasury_;
        uint256 pool = (INITIAL_SUPPLY * GROWTH_POOL_BPS) / 10_000;
        _mint(growthPool, pool);
        _mint(treasury_, INITIAL_SUPPLY - pool);
    }

    /// @inheritdoc IDMLToken
    function allocate(address to, uint256 amount) external {
        if (msg.sender != treasury) revert DMLTokenOnlyTreasury(msg.sender);
        _transfer(msg.sender, to, amount);
        if (delegates(to) == address(0)) _delegate(to, to);
    }

    /// @inheritdoc IDMLToken
    function burn(uint256 amount) external {
        _burn(msg.sender, amount);
    }

    /// @notice Votes are checkpointed by timestamp so governance periods are in seconds.
    function clock() public view override returns (uint48) {
        return Time.timestamp();
    }

    /// @notice ERC-6372 clock description.
    // solhint-disable-next-line func-name-mixedcase
    function CLOCK_MODE() public pure override returns (string memory) {
        return "mode=timestamp";
    }

    /// @inheritdoc ERC20Permit
    function nonces(address owner) public view override(ERC20Permit, Nonces) returns (uint256) {
        return super.nonces(owner);
    }

    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Votes) {
        super._update(from, to, value);
        if (to == address(0)) totalBurned += value;
    }
}
