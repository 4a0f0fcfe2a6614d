// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ProtocolFixture} from "../utils/ProtocolFixture.sol";
import {IPaymentChannels} from "../../contracts/interfaces/IPaymentChannels.sol";
import {PaymentChannelsHandler} from "./handlers/PaymentChannelsHandler.t.sol";

/// @dev Run with its handler so Hardhat compiles the handler's artifact:
///      npx hardhat test solidity test/invariant/PaymentChannelsInvariant.t.sol \
///        test/invariant/handlers/PaymentChannelsHandler.t.sol
contract PaymentChannelsInvariantTest is ProtocolFixture {
    PaymentChannelsHandler internal handler;

    function _deployConfig() internal view override returns (Config memory c) {
        c = super._deployConfig();
        _faucetOnlyGenesis(c);
    }

    function setUp() public override {
        super.setUp();
        uint256[] memory keys = new uint256[](4);
        for (uint256 i; i < keys.length; ++i) {
            keys[i] = (uint256(keccak256(abi.encode("channel-actor", i))) % (SECP256K1_ORDER - 1)) + 1;
            _fundAndApprove(vm.addr(keys[i]), 100_000_000 ether, address(channels));
        }
        handler = new PaymentChannelsHandler(token, channels, governance, keys);
        targetContract(address(handler));
    }

    /// @notice Escrow conservation: the contract holds exactly sum(deposit - paid) over open channels.
    function invariant_escrowEqualsOpenRemainders() public view {
        uint256 n = channels.channelCount();
        uint256 held;
        for (uint256 id = 1; id <= n; ++id) {
            IPaymentChannels.Channel memory c = channels.getChannel(id);
            assertLe(c.paid, c.deposit);
            if (c.status == IPaymentChannels.ChannelStatus.Open) held += c.deposit - c.paid;
        }
        assertEq(token.balanceOf(address(channels)), held);
        assertEq(handler.ghostDeposited(), held + handler.ghostPaid() + handler.ghostRefunded());
    }

    /// @notice A voucher pays at most its cumulative amount, once: paid equals the highest redeemed voucher and
    ///         no replayed, lower, forged or foreign voucher ever paid.
    function invariant_voucherPaysAtMostOnce() public view {
        assertEq(handler.ghostBadVoucherAccepted(), 0);
        uint256 n = channels.channelCount();
        for (uint256 id = 1; id <= n; ++id) {
            assertEq(channels.getChannel(id).paid, handler.ghostChannelPaid(id));
        }
    }

    /// @notice Every expired open channel could be reclaimed permissionlessly, refunding exactly the remainder.
    function invariant_expiredChannelsReachTerminalState() public view {
        assertEq(handler.ghostTerminalFailures(), 0);
    }

    /// @notice Governance and token survive the upgrade the handler may perform.
    function invariant_upgradeKeepsConfiguration() public view {
        assertEq(channels.governance(), address(timelock));
        assertEq(channels.token(), address(token));
    }

    /// @notice At the end of each run every channel still open is reclaimed after its expiry and ends terminal.
    function afterInvariant() public {
        uint256 n = channels.channelCount();
        uint256 latest = block.timestamp;
        for (uint256 id = 1; id <= n; ++id) {
            uint256 expiry = channels.getChannel(id).expiry;
            if (expiry > latest) latest = expiry;
        }
        vm.warp(latest + 1);
        handler.reclaimExpired(0);
        for (uint256 id = 1; id <= n; ++id) {
            assertTrue(channels.getChannel(id).status != IPaymentChannels.ChannelStatus.Open);
        }
        assertEq(token.balanceOf(address(channels)), 0);
        assertEq(handler.ghostTerminalFailures(), 0);
        assertEq(handler.ghostDeposited(), handler.ghostPaid() + handler.ghostRefunded());
    }
}
