// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IVotes} from "@openzeppelin/contracts/governance/utils/IVotes.sol";
import {ProtocolFixture} from "./utils/ProtocolFixture.sol";
import {DMLToken} from "../contracts/DMLToken.sol";
import {IDMLToken} from "../contracts/interfaces/IDMLToken.sol";

contract DMLTokenTest is ProtocolFixture {
    bytes32 internal constant PERMIT_TYPEHASH = keccak256(
        "Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"
    );
    address internal nobody = makeAddr("nobody");

    function test_constructor_mintsSplit() public {
        DMLToken t = new DMLToken(alice, bob);
        assertEq(t.totalSupply(), t.INITIAL_SUPPLY());
        assertEq(t.balanceOf(bob), (t.INITIAL_SUPPLY() * t.GROWTH_POOL_BPS()) / BPS);
        assertEq(t.balanceOf(alice), t.INITIAL_SUPPLY() - t.balanceOf(bob));
        assertEq(t.totalBurned(), 0);
        assertEq(t.name(), "DML Token");
        assertEq(t.symbol(), "DML");
        assertEq(t.decimals(), 18);
    }

    function test_constructor_zeroTreasury_reverts() public {
        vm.expectRevert(IDMLToken.DMLTokenZeroAddress.selector);
        new DMLToken(address(0), bob);
    }

    function test_constructor_zeroGrowthPool_reverts() public {
        vm.expectRevert(IDMLToken.DMLTokenZeroAddress.selector);
        new DMLToken(alice, address(0));
    }

    function test_burn_reducesSupplyAndRecords() public {
        vm.expectEmit(address(token));
        emit IERC20.Transfer(alice, address(0), 5 ether);
        vm.prank(alice);
        token.burn(5 ether);
        assertEq(token.totalBurned(), 5 ether);
        assertEq(token.totalSupply(), SUPPLY - 5 ether);
        assertEq(token.balanceOf(alice), GENESIS_VOTER - 5 ether);
    }

    function test_burn_moreThanBalance_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InsufficientBalance.selector, nobody, 0, 1));
        vm.prank(nobody);
        token.burn(1);
    }

    function test_transfer_emitsAndMoves() public {
        vm.expectEmit(address(token));
        emit IERC20.Transfer(alice, bob, 1 ether);
        vm.prank(alice);
        assertTrue(token.transfer(bob, 1 ether));
        assertEq(token.balanceOf(bob), GENESIS_VOTER + 1 ether);
    }

    function test_transfer_toZero_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InvalidReceiver.selector, address(0)));
        vm.prank(alice);
        token.transfer(address(0), 1);
    }

    function test_approveAndTransferFrom() public {
        vm.expectEmit(address(token));
        emit IERC20.Approval(alice, bob, 3 ether);
        vm.prank(alice);
        token.approve(bob, 3 ether);
        vm.prank(bob);
        token.transferFrom(alice, carol, 2 ether);
        assertEq(token.allowance(alice, bob), 1 ether);
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, bob, 1 ether, 2 ether)
        );
        vm.prank(bob);
        token.transferFrom(alice, carol, 2 ether);
    }

    function test_permit_setsAllowanceAndRejectsReplay() public {
        (address owner, uint256 pk) = makeAddrAndKey("permit-owner");
        uint256 deadline = block.timestamp + 1 hours;
        bytes32 digest = keccak256(
            abi.encodePacked(
                "\x19\x01",
                token.DOMAIN_SEPARATOR(),
                keccak256(abi.encode(PERMIT_TYPEHASH, owner, bob, 7 ether, token.nonces(owner), deadline))
            )
        );
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, digest);
        token.permit(owner, bob, 7 ether, deadline, v, r, s);
        assertEq(token.allowance(owner, bob), 7 ether);
        assertEq(token.nonces(owner), 1);
        vm.expectRevert(); // ERC2612InvalidSigner: the nonce moved on
        token.permit(owner, bob, 7 ether, deadline, v, r, s);
    }

    function test_permit_expired_reverts() public {
        (address owner, uint256 pk) = makeAddrAndKey("permit-owner");
        uint256 deadline = block.timestamp - 1;
        bytes32 digest = keccak256(
            abi.encodePacked(
                "\x19\x01",
                token.DOMAIN_SEPARATOR(),
                keccak256(abi.encode(PERMIT_TYPEHASH, owner, bob, 1, 0, deadline))
            )
        );
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, digest);
        vm.expectRevert(abi.encodeWithSelector(ERC20Permit.ERC2612ExpiredSignature.selector, deadline));
        token.permit(owner, bob, 1, deadline, v, r, s);
    }

    function test_delegate_checkpointsByTimestamp() public {
        // alice received her genesis allocation from the treasury: she is already delegated to herself
        assertEq(token.delegates(alice), alice);
        vm.expectEmit(address(token));
        emit IVotes.DelegateChanged(alice, alice, alice);
        vm.prank(alice);
        token.delegate(alice);
        uint256 t0 = block.timestamp;
        assertEq(token.getVotes(alice), GENESIS_VOTER);
        vm.warp(t0 + 10);
        vm.prank(alice);
        token.transfer(bob, 1_000 ether);
        assertEq(token.getVotes(alice), GENESIS_VOTER - 1_000 ether);
        assertEq(token.getPastVotes(alice, t0), GENESIS_VOTER);
        assertEq(token.getPastTotalSupply(t0), SUPPLY);
        assertEq(token.clock(), block.timestamp);
        assertEq(token.CLOCK_MODE(), "mode=timestamp");
    }

    /// PROTOCOL.md §7.8: genesis allocations (`allocate` from the treasury) vote from day one; plain transfers do
    /// not delegate, an explicit delegate choice is kept, and only the treasury may allocate.
    function test_allocate_selfDelegatesTreasuryRecipients() public {
        assertEq(token.treasury(), address(timelock));
        assertEq(token.getVotes(alice), GENESIS_VOTER);
        assertEq(token.getVotes(carol), GENESIS_MINOR);
        address grantee = makeAddr("grantee");
        address other = makeAddr("other");
        vm.prank(alice);
        token.transfer(other, 1 ether); // a plain transfer: no delegation
        assertEq(token.delegates(other), address(0));
        assertEq(token.getVotes(other), 0);
        vm.prank(other);
        token.delegate(bob);
        vm.startPrank(address(timelock));
        token.transfer(grantee, 5 ether);
        assertEq(token.delegates(grantee), address(0), "a plain treasury transfer does not delegate");
        vm.expectEmit(address(token));
        emit IVotes.DelegateChanged(grantee, address(0), grantee);
        token.allocate(grantee, 5 ether);
        token.allocate(other, 5 ether);
        vm.stopPrank();
        assertEq(token.getVotes(grantee), 10 ether);
        assertEq(token.delegates(other), bob, "an explicit delegate is kept");
        assertEq(token.getVotes(address(timelock)), 0, "the treasury itself does not vote");
        vm.expectRevert(abi.encodeWithSelector(IDMLToken.DMLTokenOnlyTreasury.selector, alice));
        vm.prank(alice);
        token.allocate(bob, 1);
    }

    function test_burn_reducesPastTotalSupply() public {
        uint256 t0 = block.timestamp;
        vm.warp(t0 + 5);
        vm.prank(bob);
        token.burn(100 ether);
        vm.warp(t0 + 6);
        assertEq(token.getPastTotalSupply(t0), SUPPLY);
        assertEq(token.getPastTotalSupply(t0 + 5), SUPPLY - 100 ether);
    }

    function test_fuzz_burn_conservesSupply(uint256 a, uint256 b) public {
        a = bound(a, 0, GENESIS_VOTER);
        b = bound(b, 0, GENESIS_VOTER);
        vm.prank(alice);
        token.burn(a);
        vm.prank(bob);
        token.burn(b);
        assertEq(token.totalBurned(), a + b);
        assertEq(token.totalSupply() + token.totalBurned(), token.INITIAL_SUPPLY());
    }

    function test_fuzz_transfer_conservesBalances(uint256 amount, address to) public {
        vm.assume(to != address(0) && to != alice);
        amount = bound(amount, 0, GENESIS_VOTER);
        uint256 before = token.balanceOf(to);
        vm.prank(alice);
        token.transfer(to, amount);
        assertEq(token.balanceOf(alice), GENESIS_VOTER - amount);
        assertEq(token.balanceOf(to), before + amount);
        assertEq(token.totalSupply(), SUPPLY);
    }
}
