// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title IDMLToken
/// @notice The DML token: fixed supply minted once at deployment (9% to the growth pool, the rest to the
///         treasury), with permit and votes. Burning is the only way supply changes, and it is recorded.
interface IDMLToken is IERC20 {
    /// @notice A constructor address argument is the zero address.
    error DMLTokenZeroAddress();

    /// @notice The total supply minted at deployment: 1,000,000,000 DML.
    function INITIAL_SUPPLY() external view returns (uint256);

    /// @notice Share of the initial supply minted to the growth pool, in basis points (900 = 9%).
    function GROWTH_POOL_BPS() external view returns (uint256);

    /// @notice Everything ever burned; `totalSupply() == INITIAL_SUPPLY() - totalBurned()` always.
    function totalBurned() external view returns (uint256);

    /// @notice Only the treasury may call `allocate`.
    error DMLTokenOnlyTreasury(address caller);

    /// @notice The treasury (governance timelock) that received 91% of the supply.
    function treasury() external view returns (address);

    /// @notice Treasury only: transfers `amount` to `to` and, when `to` has no delegate yet, delegates it to itself,
    ///         so genesis allocations and grants vote from day one (PROTOCOL.md §7.8). Plain transfers never delegate.
    function allocate(address to, uint256 amount) external;

    /// @notice Burns `amount` of the caller's tokens.
    function burn(uint256 amount) external;
}
