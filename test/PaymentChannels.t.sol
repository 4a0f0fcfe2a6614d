// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {ChannelsTestBase} from "./utils/ChannelsTestBase.sol";
import {PaymentChannels} from "../contracts/PaymentChannels.sol";
import {IPaymentChannels} from "../contracts/interfaces/IPaymentChannels.sol";
import {IGovernedUUPS} from "../contracts/interfaces/IGovernedUUPS.sol";
import {PaymentChannelsV2} from "./mocks/PaymentChannelsV2.sol";

/// @notice A minimal ERC-1271 smart-account sender whose owner key signs vouchers.
contract SmartAccountSender is IERC1271 {
    address public immutable owner;

    constructor(address owner_) {
        owner = owner_;
    }

    function openChannel(
        PaymentChannels channels,
        IERC20 token,
        address recipient,
        uint256 amount,
        uint64 expiry
    ) external returns (uint256) {
        token.approve(address(channels), amount);
        return channels.open(recipient, amount, expiry);
    }

    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        (address signer, ECDSA.RecoverError err, ) = ECDSA.tryRecover(hash, signature);
        return
            err == ECDSA.RecoverError.NoError && signer == owner ? this.isValidSignature.selector : bytes4(0);
    }
}

contract PaymentChannelsTest is ChannelsTestBase {
    uint64 internal expiry;

    function setUp() public override {
        super.setUp();
        expiry = uint64(block.timestamp + 30 days);
    }

    // ------------------------------------------------------------------ initialize

    function test_initialize_setsState() public view {
        assertEq(channels.governance(), governance);
        assertEq(channels.token(), address(token));
        assertEq(channels.channelCount(), 0);
        (, string memory name, string memory version, uint256 chainId, address verifying, , ) = channels
            .eip712Domain();
        assertEq(name, "DML PaymentChannels");
        assertEq(version, "1");
        assertEq(chainId, block.chainid);
        assertEq(verifying, address(channels));
    }

    function test_initialize_reverts() public {
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        channels.initialize(governance, IERC20(address(token)));
        PaymentChannels impl = new PaymentChannels();
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        impl.initialize(governance, IERC20(address(token)));
        vm.expectRevert(IGovernedUUPS.GovernedZeroAddress.selector);
        deployProxy(
            address(impl),
            abi.encodeCall(PaymentChannels.initialize, (governance, IERC20(address(0))))
        );
        vm.expectRevert(IGovernedUUPS.GovernedZeroAddress.selector);
        deployProxy(
            address(impl),
            abi.encodeCall(PaymentChannels.initialize, (address(0), IERC20(address(token))))
        );
    }

    // ------------------------------------------------------------------ open

    function test_open_escrowsAndEmits() public {
        vm.expectEmit(true, true, true, true, address(channels));
        emit IPaymentChannels.ChannelOpened(1, sender, recipient, 100 ether, expiry);
        uint256 id = _open(100 ether, expiry);
        assertEq(id, 1);
        assertEq(channels.channelCount(), 1);
        IPaymentChannels.Channel memory c = channels.getChannel(id);
        assertEq(c.sender, sender);
        assertEq(c.recipient, recipient);
        assertEq(c.deposit, 100 ether);
        assertEq(c.paid, 0);
        assertEq(c.expiry, expiry);
        assertEq(uint8(c.status), uint8(IPaymentChannels.ChannelStatus.Open));
        assertEq(token.balanceOf(address(channels)), 100 ether);
        assertEq(token.balanceOf(sender), FUNDS - 100 ether);
        assertEq(_open(1, expiry), 2);
    }

    function test_open_reverts() public {
        vm.startPrank(sender);
        vm.expectRevert(
            abi.encodeWithSelector(IPaymentChannels.ChannelInvalidRecipient.selector, address(0))
        );
        channels.open(address(0), 1, expiry);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.ChannelInvalidRecipient.selector, sender));
        channels.open(sender, 1, expiry);
        vm.expectRevert(IPaymentChannels.ChannelZeroAmount.selector);
        channels.open(recipient, 0, expiry);
        vm.expectRevert(IPaymentChannels.ChannelDepositOverflow.selector);
        channels.open(recipient, uint256(type(uint128).max) + 1, expiry);
        uint64 now_ = uint64(block.timestamp);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.ChannelInvalidExpiry.selector, now_));
        channels.open(recipient, 1, now_);
        vm.stopPrank();
        assertEq(channels.channelCount(), 0);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.ChannelUnknown.selector, 1));
        channels.getChannel(1);
    }

    // ------------------------------------------------------------------ topUp

    function test_topUp_addsFundsAndExtends() public {
        uint256 id = _open(100 ether, expiry);
        uint64 later = expiry + 10 days;
        vm.expectEmit(true, true, true, true, address(channels));
        emit IPaymentChannels.ChannelToppedUp(id, 50 ether, 150 ether, later);
        vm.prank(sender);
        channels.topUp(id, 50 ether, later);
        IPaymentChannels.Channel memory c = channels.getChannel(id);
        assertEq(c.deposit, 150 ether);
        assertEq(c.expiry, later);
        assertEq(token.balanceOf(address(channels)), 150 ether);
    }

    function test_topUp_extendOnlyOrFundOnly() public {
        uint256 id = _open(100 ether, expiry);
        vm.prank(sender);
        channels.topUp(id, 0, expiry + 1);
        assertEq(channels.getChannel(id).expiry, expiry + 1);
        assertEq(token.balanceOf(address(channels)), 100 ether);
        vm.prank(sender);
        channels.topUp(id, 5 ether, expiry + 1);
        assertEq(channels.getChannel(id).deposit, 105 ether);
    }

    function test_topUp_reverts() public {
        uint256 id = _open(100 ether, expiry);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.ChannelNotSender.selector, id, alice));
        channels.topUp(id, 1, expiry);
        vm.startPrank(sender);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.ChannelUnknown.selector, 2));
        channels.topUp(2, 1, expiry);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.ChannelInvalidExpiry.selector, expiry - 1));
        channels.topUp(id, 1, expiry - 1);
        vm.expectRevert(IPaymentChannels.ChannelZeroAmount.selector);
        channels.topUp(id, 0, expiry);
        vm.expectRevert(IPaymentChannels.ChannelDepositOverflow.selector);
        channels.topUp(id, type(uint128).max, expiry);
        vm.stopPrank();
        vm.warp(uint256(expiry) + 1);
        vm.prank(sender);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.ChannelInvalidExpiry.selector, expiry));
        channels.topUp(id, 1, expiry);
        channels.reclaim(id);
        vm.prank(sender);
        vm.expectRevert(
            abi.encodeWithSelector(
                IPaymentChannels.ChannelNotOpen.selector,
                id,
                IPaymentChannels.ChannelStatus.Reclaimed
            )
        );
        channels.topUp(id, 1, expiry + 100 days);
    }

    // ------------------------------------------------------------------ claim

    function test_claim_paysIncrementsAndKeepsOpen() public {
        uint256 id = _open(100 ether, expiry);
        bytes memory v1 = _voucher(id, 10 ether);
        vm.expectEmit(true, true, true, true, address(channels));
        emit IPaymentChannels.ChannelClaimed(id, 10 ether, 10 ether);
        vm.prank(recipient);
        channels.claim(id, 10 ether, v1);
        assertEq(token.balanceOf(recipient), 10 ether);
        bytes memory v2 = _voucher(id, 35 ether);
        vm.expectEmit(true, true, true, true, address(channels));
        emit IPaymentChannels.ChannelClaimed(id, 35 ether, 25 ether);
        vm.prank(recipient);
        channels.claim(id, 35 ether, v2);
        assertEq(token.balanceOf(recipient), 35 ether);
        IPaymentChannels.Channel memory c = channels.getChannel(id);
        assertEq(c.paid, 35 ether);
        assertEq(uint8(c.status), uint8(IPaymentChannels.ChannelStatus.Open));
        assertEq(token.balanceOf(address(channels)), 65 ether);
    }

    function test_claim_atExpirySucceeds() public {
        uint256 id = _open(100 ether, expiry);
        bytes memory v = _voucher(id, 1 ether);
        vm.warp(expiry);
        vm.prank(recipient);
        channels.claim(id, 1 ether, v);
        assertEq(token.balanceOf(recipient), 1 ether);
    }

    function test_claim_revertsOnReplayOrLowerVoucher() public {
        uint256 id = _open(100 ether, expiry);
        bytes memory v10 = _voucher(id, 10 ether);
        bytes memory v5 = _voucher(id, 5 ether);
        vm.startPrank(recipient);
        channels.claim(id, 10 ether, v10);
        vm.expectRevert(
            abi.encodeWithSelector(IPaymentChannels.ChannelVoucherReplayed.selector, id, 10 ether, 10 ether)
        );
        channels.claim(id, 10 ether, v10);
        vm.expectRevert(
            abi.encodeWithSelector(IPaymentChannels.ChannelVoucherReplayed.selector, id, 5 ether, 10 ether)
        );
        channels.claim(id, 5 ether, v5);
        vm.expectRevert(
            abi.encodeWithSelector(IPaymentChannels.ChannelVoucherReplayed.selector, id, 0, 10 ether)
        );
        channels.claim(id, 0, v5);
        vm.stopPrank();
        assertEq(token.balanceOf(recipient), 10 ether);
    }

    function test_claim_revertsAboveDeposit() public {
        uint256 id = _open(100 ether, expiry);
        bytes memory v = _voucher(id, 101 ether);
        vm.prank(recipient);
        vm.expectRevert(
            abi.encodeWithSelector(
                IPaymentChannels.ChannelAmountExceedsDeposit.selector,
                id,
                101 ether,
                100 ether
            )
        );
        channels.claim(id, 101 ether, v);
        // The same voucher becomes redeemable once the sender tops up.
        vm.prank(sender);
        channels.topUp(id, 1 ether, expiry);
        vm.prank(recipient);
        channels.claim(id, 101 ether, v);
        assertEq(token.balanceOf(recipient), 101 ether);
    }

    function test_claim_revertsOnWrongSignerOrTamperedAmount() public {
        uint256 id = _open(100 ether, expiry);
        (, uint256 otherKey) = makeAddrAndKey("mallory");
        bytes memory forged = _sign(otherKey, channels.voucherDigest(id, 10 ether));
        vm.startPrank(recipient);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.ChannelInvalidSignature.selector, id));
        channels.claim(id, 10 ether, forged);
        bytes memory v = _voucher(id, 10 ether);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.ChannelInvalidSignature.selector, id));
        channels.claim(id, 11 ether, v);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.ChannelInvalidSignature.selector, id));
        channels.claim(id, 10 ether, hex"deadbeef");
        vm.stopPrank();
        assertEq(channels.getChannel(id).paid, 0);
    }

    function test_claim_revertsOnVoucherOfAnotherChannel() public {
        uint256 first = _open(100 ether, expiry);
        uint256 second = _open(100 ether, expiry);
        bytes memory forFirst = _voucher(first, 10 ether);
        vm.prank(recipient);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.ChannelInvalidSignature.selector, second));
        channels.claim(second, 10 ether, forFirst);
    }

    function test_claim_revertsOnVoucherOfAnotherChain() public {
        uint256 id = _open(100 ether, expiry);
        bytes memory otherChain = _sign(
            senderKey,
            _digestFor(block.chainid + 1, address(channels), id, 10 ether)
        );
        vm.prank(recipient);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.ChannelInvalidSignature.selector, id));
        channels.claim(id, 10 ether, otherChain);
        // The same construction on the right chain is accepted: the digest matches the contract's.
        assertEq(
            _digestFor(block.chainid, address(channels), id, 10 ether),
            channels.voucherDigest(id, 10 ether)
        );
    }

    function test_claim_revertsAfterChainIdChange() public {
        uint256 id = _open(100 ether, expiry);
        bytes memory v = _voucher(id, 10 ether);
        uint256 original = block.chainid;
        vm.chainId(original + 7);
        vm.prank(recipient);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.ChannelInvalidSignature.selector, id));
        channels.claim(id, 10 ether, v);
        vm.chainId(original);
        vm.prank(recipient);
        channels.claim(id, 10 ether, v);
        assertEq(token.balanceOf(recipient), 10 ether);
    }

    function test_claim_revertsOnVoucherOfAnotherContract() public {
        PaymentChannels other = _deployChannels();
        uint256 id = _open(100 ether, expiry);
        bytes memory v = _sign(senderKey, other.voucherDigest(id, 10 ether));
        vm.prank(recipient);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.ChannelInvalidSignature.selector, id));
        channels.claim(id, 10 ether, v);
    }

    function test_claim_revertsForNonRecipientExpiredOrUnknown() public {
        uint256 id = _open(100 ether, expiry);
        bytes memory v = _voucher(id, 10 ether);
        vm.prank(sender);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.ChannelNotRecipient.selector, id, sender));
        channels.claim(id, 10 ether, v);
        vm.prank(recipient);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.ChannelUnknown.selector, 9));
        channels.claim(9, 10 ether, v);
        vm.warp(uint256(expiry) + 1);
        vm.prank(recipient);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.ChannelExpired.selector, id, expiry));
        channels.claim(id, 10 ether, v);
    }

    function test_claim_smartAccountSenderViaErc1271() public {
        (address owner, uint256 ownerKey) = makeAddrAndKey("owner");
        SmartAccountSender account = new SmartAccountSender(owner);
        token.transfer(address(account), 100 ether);
        uint256 id = account.openChannel(channels, IERC20(address(token)), recipient, 100 ether, expiry);
        bytes memory good = _sign(ownerKey, channels.voucherDigest(id, 40 ether));
        bytes memory bad = _sign(senderKey, channels.voucherDigest(id, 40 ether));
        vm.startPrank(recipient);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.ChannelInvalidSignature.selector, id));
        channels.claim(id, 40 ether, bad);
        channels.close(id, 40 ether, good);
        vm.stopPrank();
        assertEq(token.balanceOf(recipient), 40 ether);
        assertEq(token.balanceOf(address(account)), 60 ether);
    }

    // ------------------------------------------------------------------ close

    function test_close_paysRecipientRefundsSenderAndEnds() public {
        uint256 id = _open(100 ether, expiry);
        bytes memory sig_10_ether = _voucher(id, 10 ether);
        vm.prank(recipient);
        channels.claim(id, 10 ether, sig_10_ether);
        bytes memory v = _voucher(id, 60 ether);
        vm.expectEmit(true, true, true, true, address(channels));
        emit IPaymentChannels.ChannelClaimed(id, 60 ether, 50 ether);
        vm.expectEmit(true, true, true, true, address(channels));
        emit IPaymentChannels.ChannelClosed(id, 60 ether, 40 ether);
        vm.prank(recipient);
        channels.close(id, 60 ether, v);
        assertEq(token.balanceOf(recipient), 60 ether);
        assertEq(token.balanceOf(sender), FUNDS - 60 ether);
        assertEq(token.balanceOf(address(channels)), 0);
        IPaymentChannels.Channel memory c = channels.getChannel(id);
        assertEq(uint8(c.status), uint8(IPaymentChannels.ChannelStatus.Closed));
        assertEq(c.paid, 60 ether);
    }

    function test_close_fullDepositNoRefund() public {
        uint256 id = _open(100 ether, expiry);
        bytes memory v = _voucher(id, 100 ether);
        vm.prank(recipient);
        channels.close(id, 100 ether, v);
        assertEq(token.balanceOf(recipient), 100 ether);
        assertEq(token.balanceOf(sender), FUNDS - 100 ether);
    }

    function test_close_revertsAfterCloseAndBlocksReclaim() public {
        uint256 id = _open(100 ether, expiry);
        bytes memory v = _voucher(id, 60 ether);
        bytes memory v2 = _voucher(id, 70 ether);
        vm.prank(recipient);
        channels.close(id, 60 ether, v);
        bytes memory notOpen = abi.encodeWithSelector(
            IPaymentChannels.ChannelNotOpen.selector,
            id,
            IPaymentChannels.ChannelStatus.Closed
        );
        vm.startPrank(recipient);
        vm.expectRevert(notOpen);
        channels.close(id, 70 ether, v2);
        vm.expectRevert(notOpen);
        channels.claim(id, 70 ether, v2);
        vm.stopPrank();
        vm.warp(uint256(expiry) + 1);
        vm.expectRevert(notOpen);
        channels.reclaim(id);
    }

    function test_close_revertsOnSameChecksAsClaim() public {
        uint256 id = _open(100 ether, expiry);
        bytes memory v = _voucher(id, 10 ether);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.ChannelNotRecipient.selector, id, alice));
        channels.close(id, 10 ether, v);
        vm.prank(recipient);
        channels.claim(id, 10 ether, v);
        vm.prank(recipient);
        vm.expectRevert(
            abi.encodeWithSelector(IPaymentChannels.ChannelVoucherReplayed.selector, id, 10 ether, 10 ether)
        );
        channels.close(id, 10 ether, v);
        vm.prank(recipient);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.ChannelInvalidSignature.selector, id));
        channels.close(id, 20 ether, v);
        vm.warp(uint256(expiry) + 1);
        bytes memory late = _voucher(id, 20 ether);
        vm.prank(recipient);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.ChannelExpired.selector, id, expiry));
        channels.close(id, 20 ether, late);
    }

    // ------------------------------------------------------------------ reclaim

    function test_reclaim_afterExpiryRefundsRemainder() public {
        uint256 id = _open(100 ether, expiry);
        bytes memory sig_30_ether = _voucher(id, 30 ether);
        vm.prank(recipient);
        channels.claim(id, 30 ether, sig_30_ether);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.ChannelNotExpired.selector, id, expiry));
        channels.reclaim(id);
        vm.warp(expiry);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.ChannelNotExpired.selector, id, expiry));
        channels.reclaim(id);
        vm.warp(uint256(expiry) + 1);
        vm.expectEmit(true, true, true, true, address(channels));
        emit IPaymentChannels.ChannelReclaimed(id, 70 ether);
        vm.prank(bob); // permissionless: funds always go to the sender
        channels.reclaim(id);
        assertEq(token.balanceOf(sender), FUNDS - 30 ether);
        assertEq(token.balanceOf(bob), FUNDS);
        assertEq(token.balanceOf(address(channels)), 0);
        assertEq(uint8(channels.getChannel(id).status), uint8(IPaymentChannels.ChannelStatus.Reclaimed));
        vm.expectRevert(
            abi.encodeWithSelector(
                IPaymentChannels.ChannelNotOpen.selector,
                id,
                IPaymentChannels.ChannelStatus.Reclaimed
            )
        );
        channels.reclaim(id);
    }

    function test_reclaim_fullyPaidChannelEndsWithZeroRefund() public {
        uint256 id = _open(100 ether, expiry);
        bytes memory sig_100_ether = _voucher(id, 100 ether);
        vm.prank(recipient);
        channels.claim(id, 100 ether, sig_100_ether);
        vm.warp(uint256(expiry) + 1);
        vm.expectEmit(true, true, true, true, address(channels));
        emit IPaymentChannels.ChannelReclaimed(id, 0);
        channels.reclaim(id);
        assertEq(token.balanceOf(sender), FUNDS - 100 ether);
    }

    function test_reclaim_revertsOnUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.ChannelUnknown.selector, 1));
        channels.reclaim(1);
    }

    // ------------------------------------------------------------------ upgrade

    function test_upgrade_onlyGovernanceAndKeepsState() public {
        uint256 id = _open(100 ether, expiry);
        bytes memory sig_25_ether = _voucher(id, 25 ether);
        vm.prank(recipient);
        channels.claim(id, 25 ether, sig_25_ether);
        bytes memory v = _voucher(id, 50 ether);
        bytes32 digestBefore = channels.voucherDigest(id, 50 ether);
        PaymentChannelsV2 v2 = new PaymentChannelsV2();
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IGovernedUUPS.GovernedUnauthorized.selector, alice));
        channels.upgradeToAndCall(address(v2), "");
        vm.expectEmit(true, true, true, true, address(channels));
        emit PaymentChannelsV2.UpgradedToV2();
        vm.prank(governance);
        channels.upgradeToAndCall(address(v2), abi.encodeCall(PaymentChannelsV2.initializeV2, ()));
        assertEq(PaymentChannelsV2(address(channels)).version(), 2);
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        PaymentChannelsV2(address(channels)).initializeV2();
        assertEq(channels.voucherDigest(id, 50 ether), digestBefore);
        IPaymentChannels.Channel memory c = channels.getChannel(id);
        assertEq(c.paid, 25 ether);
        assertEq(c.deposit, 100 ether);
        assertEq(channels.channelCount(), 1);
        assertEq(channels.token(), address(token));
        // A voucher signed before the upgrade still redeems after it.
        vm.prank(recipient);
        channels.close(id, 50 ether, v);
        assertEq(token.balanceOf(recipient), 50 ether);
    }

    // ------------------------------------------------------------------ fuzz

    function test_fuzz_claim_anyKeySignsForItsOwnChannel(
        uint256 key,
        uint256 deposit,
        uint256 c1,
        uint256 c2
    ) public {
        key = bound(key, 1, SECP256K1_ORDER - 1);
        address signer = vm.addr(key);
        vm.assume(signer != recipient && signer.code.length == 0);
        deposit = bound(deposit, 2, FUNDS);
        c1 = bound(c1, 1, deposit - 1);
        c2 = bound(c2, c1 + 1, deposit);
        token.transfer(signer, deposit);
        vm.startPrank(signer);
        token.approve(address(channels), deposit);
        uint256 id = channels.open(recipient, deposit, expiry);
        vm.stopPrank();
        vm.startPrank(recipient);
        channels.claim(id, c1, _sign(key, channels.voucherDigest(id, c1)));
        assertEq(token.balanceOf(recipient), c1);
        channels.close(id, c2, _sign(key, channels.voucherDigest(id, c2)));
        vm.stopPrank();
        assertEq(token.balanceOf(recipient), c2);
        assertEq(token.balanceOf(signer), deposit - c2);
        assertEq(token.balanceOf(address(channels)), 0);
    }

    function test_fuzz_claim_wrongSignerAlwaysRejected(uint256 key, uint256 amount) public {
        key = bound(key, 1, SECP256K1_ORDER - 1);
        vm.assume(key != senderKey);
        amount = bound(amount, 1, 100 ether);
        uint256 id = _open(100 ether, expiry);
        bytes memory forged = _sign(key, channels.voucherDigest(id, amount));
        vm.prank(recipient);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.ChannelInvalidSignature.selector, id));
        channels.claim(id, amount, forged);
    }

    function test_fuzz_claim_voucherPaysAtMostOnce(uint256 amount, uint256 replay) public {
        amount = bound(amount, 1, 100 ether);
        replay = bound(replay, 0, amount);
        uint256 id = _open(100 ether, expiry);
        vm.startPrank(recipient);
        channels.claim(id, amount, _voucher(id, amount));
        bytes memory again = _voucher(id, replay);
        vm.expectRevert(
            abi.encodeWithSelector(IPaymentChannels.ChannelVoucherReplayed.selector, id, replay, amount)
        );
        channels.claim(id, replay, again);
        vm.stopPrank();
        assertEq(token.balanceOf(recipient), amount);
    }

    function test_fuzz_reclaim_conservesDeposit(
        uint256 deposit,
        uint256 paid,
        uint256 topUp,
        uint256 wait
    ) public {
        deposit = bound(deposit, 1, FUNDS / 2);
        topUp = bound(topUp, 0, FUNDS / 2);
        paid = bound(paid, 0, deposit + topUp);
        wait = bound(wait, 1, 3650 days);
        uint256 id = _open(deposit, expiry);
        if (topUp != 0) {
            vm.prank(sender);
            channels.topUp(id, topUp, expiry);
        }
        if (paid != 0) {
            bytes memory sig_paid = _voucher(id, paid);
            vm.prank(recipient);
            channels.claim(id, paid, sig_paid);
        }
        vm.warp(uint256(expiry) + wait);
        channels.reclaim(id);
        assertEq(token.balanceOf(recipient), paid);
        assertEq(token.balanceOf(sender), FUNDS - paid);
        assertEq(token.balanceOf(address(channels)), 0);
    }
}
