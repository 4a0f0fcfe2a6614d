// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {DMLToken} from "../../../contracts/DMLToken.sol";
import {PaymentChannels} from "../../../contracts/PaymentChannels.sol";
import {IPaymentChannels} from "../../../contracts/interfaces/IPaymentChannels.sol";
import {PaymentChannelsV2} from "../../mocks/PaymentChannelsV2.sol";

/// @notice Drives PaymentChannels with bounded inputs from several senders (each with a signing key) and
///         recipients; never reverts. Tries replays and forgeries and records any that succeed.
/// @dev A `.t.sol` file so Hardhat treats it as a root and emits the artifact the invariant fuzzer needs.
contract PaymentChannelsHandler is Test {
    uint256 internal constant MAX_DEPOSIT = 1_000_000 ether;

    DMLToken public immutable token;
    PaymentChannels public immutable channels;
    address public immutable timelock;
    address[] public actors;
    uint256[] internal _keys;

    // ghosts
    uint256 public ghostDeposited;
    uint256 public ghostPaid;
    uint256 public ghostRefunded;
    uint256 public ghostBadVoucherAccepted; // a replayed, forged or over-deposit voucher paid out
    uint256 public ghostTerminalFailures; // a permissionless reclaim of an expired open channel failed
    bool public upgraded;
    mapping(uint256 channelId => uint256) public ghostChannelPaid;
    mapping(address account => uint256) public ghostReceived;
    mapping(bytes4 selector => uint256) public calls;

    constructor(DMLToken token_, PaymentChannels channels_, address timelock_, uint256[] memory keys) {
        token = token_;
        channels = channels_;
        timelock = timelock_;
        _keys = keys;
        for (uint256 i; i < keys.length; ++i) actors.push(vm.addr(keys[i]));
    }

    // ------------------------------------------------------------------ actions

    function open(uint256 senderSeed, uint256 recipientSeed, uint256 amount, uint256 duration) external {
        uint256 s = senderSeed % actors.length;
        uint256 r = recipientSeed % actors.length;
        if (r == s) r = (r + 1) % actors.length;
        amount = bound(amount, 1, MAX_DEPOSIT);
        duration = bound(duration, 1, 30 days);
        vm.prank(actors[s]);
        channels.open(actors[r], amount, uint64(block.timestamp + duration));
        ghostDeposited += amount;
        calls[this.open.selector]++;
    }

    function topUp(uint256 channelSeed, uint256 amount, uint256 extension) external {
        uint256 id = _channel(channelSeed);
        if (id == 0) return;
        IPaymentChannels.Channel memory c = channels.getChannel(id);
        if (c.status != IPaymentChannels.ChannelStatus.Open) return;
        amount = bound(amount, 0, MAX_DEPOSIT);
        uint256 base = c.expiry > block.timestamp ? c.expiry : block.timestamp;
        uint64 newExpiry = uint64(base + bound(extension, amount == 0 ? 1 : 0, 30 days));
        if (newExpiry <= block.timestamp) newExpiry = uint64(block.timestamp + 1);
        vm.prank(c.sender);
        channels.topUp(id, amount, newExpiry);
        ghostDeposited += amount;
        calls[this.topUp.selector]++;
    }

    function claim(uint256 channelSeed, uint256 amountSeed, bool finalClose) external {
        uint256 id = _channel(channelSeed);
        if (id == 0) return;
        IPaymentChannels.Channel memory c = channels.getChannel(id);
        if (c.status != IPaymentChannels.ChannelStatus.Open || block.timestamp > c.expiry) return;
        if (c.paid == c.deposit) return;
        uint256 cumulative = bound(amountSeed, uint256(c.paid) + 1, c.deposit);
        bytes memory sig = _sign(c.sender, id, cumulative);
        uint256 senderBefore = token.balanceOf(c.sender);
        vm.prank(c.recipient);
        if (finalClose) {
            channels.close(id, cumulative, sig);
            uint256 refund = token.balanceOf(c.sender) - senderBefore;
            assertEq(refund, c.deposit - cumulative, "close refund");
            ghostRefunded += refund;
            calls[this.claim.selector ^ bytes4(uint32(1))]++;
        } else {
            channels.claim(id, cumulative, sig);
            calls[this.claim.selector]++;
        }
        uint256 payout = cumulative - c.paid;
        ghostPaid += payout;
        ghostChannelPaid[id] = cumulative;
        ghostReceived[c.recipient] += payout;
    }

    /// @dev Replays the last redeemed voucher (or a lower one); it must never pay.
    function replay(uint256 channelSeed, uint256 amountSeed) external {
        uint256 id = _channel(channelSeed);
        if (id == 0) return;
        IPaymentChannels.Channel memory c = channels.getChannel(id);
        if (c.paid == 0) return;
        uint256 cumulative = bound(amountSeed, 1, c.paid);
        bytes memory sig = _sign(c.sender, id, cumulative);
        vm.prank(c.recipient);
        try channels.claim(id, cumulative, sig) {
            ++ghostBadVoucherAccepted;
        } catch {}
        calls[this.replay.selector]++;
    }

    /// @dev Presents a voucher signed by someone other than the sender, or one for another channel.
    function forge(uint256 channelSeed, uint256 signerSeed, uint256 amountSeed, bool otherChannel) external {
        uint256 id = _channel(channelSeed);
        if (id == 0) return;
        IPaymentChannels.Channel memory c = channels.getChannel(id);
        if (c.paid == c.deposit) return;
        uint256 cumulative = bound(amountSeed, uint256(c.paid) + 1, c.deposit);
        bytes memory sig;
        if (otherChannel) {
            sig = _sign(c.sender, id + 1 + (signerSeed % 5), cumulative);
        } else {
            uint256 key = _keys[signerSeed % _keys.length];
            if (vm.addr(key) == c.sender) key = _keys[((signerSeed % _keys.length) + 1) % _keys.length];
            (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, channels.voucherDigest(id, cumulative));
            sig = abi.encodePacked(r, s, v);
        }
        vm.prank(c.recipient);
        try channels.claim(id, cumulative, sig) {
            ++ghostBadVoucherAccepted;
        } catch {}
        calls[this.forge.selector]++;
    }

    /// @dev Anyone reclaims every expired open channel; a failure is recorded, never thrown.
    function reclaimExpired(uint256 callerSeed) external {
        address caller = actors[callerSeed % actors.length];
        uint256 n = channels.channelCount();
        for (uint256 id = 1; id <= n; ++id) {
            IPaymentChannels.Channel memory c = channels.getChannel(id);
            if (c.status != IPaymentChannels.ChannelStatus.Open || block.timestamp <= c.expiry) continue;
            uint256 before = token.balanceOf(c.sender);
            vm.prank(caller);
            try channels.reclaim(id) {
                uint256 refund = token.balanceOf(c.sender) - before;
                if (refund != c.deposit - c.paid) ++ghostTerminalFailures;
                ghostRefunded += c.deposit - c.paid;
            } catch {
                ++ghostTerminalFailures;
            }
        }
        calls[this.reclaimExpired.selector]++;
    }

    function warp(uint256 secondsAhead) external {
        vm.warp(block.timestamp + bound(secondsAhead, 1, 10 days));
        calls[this.warp.selector]++;
    }

    function upgrade() external {
        if (upgraded) return;
        PaymentChannelsV2 v2 = new PaymentChannelsV2();
        vm.prank(timelock);
        channels.upgradeToAndCall(address(v2), abi.encodeCall(PaymentChannelsV2.initializeV2, ()));
        upgraded = true;
        calls[this.upgrade.selector]++;
    }

    // ------------------------------------------------------------------ helpers

    function actorCount() external view returns (uint256) {
        return actors.length;
    }

    function _sign(address signer, uint256 id, uint256 cumulative) internal view returns (bytes memory) {
        uint256 key;
        for (uint256 i; i < _keys.length; ++i) if (actors[i] == signer) key = _keys[i];
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, channels.voucherDigest(id, cumulative));
        return abi.encodePacked(r, s, v);
    }

    function _channel(uint256 seed) internal view returns (uint256) {
        uint256 n = channels.channelCount();
        return n == 0 ? 0 : (seed % n) + 1;
    }
}
