// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {EIP712Upgradeable} from "@openzeppelin/contracts-upgradeable/utils/cryptography/EIP712Upgradeable.sol";
import {GovernedUUPS} from "./utils/GovernedUUPS.sol";
import {IPaymentChannels} from "./interfaces/IPaymentChannels.sol";

/// @title PaymentChannels
/// @notice Unidirectional DML payment channels redeemed with EIP-712 cumulative vouchers.
contract PaymentChannels is GovernedUUPS, EIP712Upgradeable, ReentrancyGuardTransient, IPaymentChannels {
    using SafeERC20 for IERC20;

    /// @notice EIP-712 domain name.
    string public constant DOMAIN_NAME = "DML PaymentChannels";
    /// @notice EIP-712 domain version.
    string public constant DOMAIN_VERSION = "1";
    /// @notice EIP-712 type hash of a voucher.
    bytes32 public constant VOUCHER_TYPEHASH = keccak256(
        "Voucher(uint256 channelId,uint256 cumulativeAmount)"
    );

    /// @custom:storage-location erc7201:dml.storage.PaymentChannels
    struct PaymentChannelsStorage {
        IERC20 token;
        uint256 channelCount;
        mapping(uint256 channelId => Channel) channels;
    }

    // keccak256(abi.encode(uint256(keccak256("dml.storage.PaymentChannels")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant PAYMENT_CHANNELS_STORAGE_LOCATION =
        0xcb3bcd6390befff4d04ebdc210ecfc8da5c7c1a92c6ebc78b2df1e7199a89200;

    /// @notice Initialises the proxy.
    /// @param governance_ The governance timelock (authorises upgrades).
    /// @param token_ The DML token.
    function initialize(address governance_, IERC20 token_) external initializer {
        if (address(token_) == address(0)) revert GovernedZeroAddress();
        __GovernedUUPS_init(governance_);
        // Stored for completeness; `_EIP712Name`/`_EIP712Version` return the constants, so hashing a voucher
        // reads no storage.
        __EIP712_init(DOMAIN_NAME, DOMAIN_VERSION);
        _getPaymentChannelsStorage().token = token_;
    }

    /// @inheritdoc IPaymentChannels
    function open(
        address recipient,
        uint256 amount,
        uint64 expiry
    ) external nonReentrant returns (uint256 channelId) {
        if (recipient == address(0) || recipient == msg.sender) revert ChannelInvalidRecipient(recipient);
        if (amount == 0) revert ChannelZeroAmount();
        if (amount > type(uint128).max) revert ChannelDepositOverflow();
        if (expiry <= block.timestamp) revert ChannelInvalidExpiry(expiry);
        PaymentChannelsStorage storage $ = _getPaymentChannelsStorage();
        channelId = ++$.channelCount;
        $.channels[channelId] = Channel({
            sender: msg.sender,
            expiry: expiry,
            status: ChannelStatus.Open,
            recipient: recipient,
            deposit: uint128(amount),
            paid: 0
        });
        emit ChannelOpened(channelId, msg.sender, recipient, amount, expiry);
        $.token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc IPaymentChannels
    function topUp(uint256 channelId, uint256 amount, uint64 newExpiry) external nonReentrant {
        PaymentChannelsStorage storage $ = _getPaymentChannelsStorage();
        Channel storage c = _openChannel($, channelId);
        if (msg.sender != c.sender) revert ChannelNotSender(channelId, msg.sender);
        if (newExpiry < c.expiry || newExpiry <= block.timestamp) revert ChannelInvalidExpiry(newExpiry);
        if (amount == 0 && newExpiry == c.expiry) revert ChannelZeroAmount();
        uint256 newDeposit = uint256(c.deposit) + amount;
        if (newDeposit > type(uint128).max) revert ChannelDepositOverflow();
        c.deposit = uint128(newDeposit);
        c.expiry = newExpiry;
        emit ChannelToppedUp(channelId, amount, newDeposit, newExpiry);
        if (amount != 0) $.token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc IPaymentChannels
    function claim(
        uint256 channelId,
        uint256 cumulativeAmount,
        bytes calldata signature
    ) external nonReentrant {
        PaymentChannelsStorage storage $ = _getPaymentChannelsStorage();
        Channel storage c = _openChannel($, channelId);
        (address recipient, uint256 payout) = _redeem(c, channelId, cumulativeAmount, signature);
        emit ChannelClaimed(channelId, cumulativeAmount, payout);
        $.token.safeTransfer(recipient, payout);
    }

    /// @inheritdoc IPaymentChannels
    function close(
        uint256 channelId,
        uint256 cumulativeAmount,
        bytes calldata signature
    ) external nonReentrant {
        PaymentChannelsStorage storage $ = _getPaymentChannelsStorage();
        Channel storage c = _openChannel($, channelId);
        (address recipient, uint256 payout) = _redeem(c, channelId, cumulativeAmount, signature);
        uint256 refund = uint256(c.deposit) - cumulativeAmount;
        c.status = ChannelStatus.Closed;
        emit ChannelClaimed(channelId, cumulativeAmount, payout);
        emit ChannelClosed(channelId, cumulativeAmount, refund);
        IERC20 token_ = $.token;
        token_.safeTransfer(recipient, payout);
        if (refund != 0) token_.safeTransfer(c.sender, refund);
    }

    /// @inheritdoc IPaymentChannels
    function reclaim(uint256 channelId) external nonReentrant {
        PaymentChannelsStorage storage $ = _getPaymentChannelsStorage();
        Channel storage c = _openChannel($, channelId);
        uint64 expiry = c.expiry;
        if (block.timestamp <= expiry) revert ChannelNotExpired(channelId, expiry);
        uint256 refund = uint256(c.deposit) - c.paid;
        c.status = ChannelStatus.Reclaimed;
        emit ChannelReclaimed(channelId, refund);
        if (refund != 0) $.token.safeTransfer(c.sender, refund);
    }

    /// @inheritdoc IPaymentChannels
    function getChannel(uint256 channelId) external view returns (Channel memory) {
        PaymentChannelsStorage storage $ = _getPaymentChannelsStorage();
        if (channelId == 0 || channelId > $.channelCount) revert ChannelUnknown(channelId);
        return $.channels[channelId];
    }

    /// @inheritdoc IPaymentChannels
    function voucherDigest(uint256 channelId, uint256 cumulativeAmount) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(VOUCHER_TYPEHASH, channelId, cumulativeAmount)));
    }

    /// @inheritdoc IPaymentChannels
    function channelCount() external view returns (uint256) {
        return _getPaymentChannelsStorage().channelCount;
    }

    /// @inheritdoc IPaymentChannels
    function token() external view returns (address) {
        return address(_getPaymentChannelsStorage().token);
    }

    /// @dev Checks the caller, expiry, amount and signature of a voucher and records it as paid.
    function _redeem(
        Channel storage c,
        uint256 channelId,
        uint256 cumulativeAmount,
        bytes calldata signature
    ) private returns (address recipient, uint256 payout) {
        recipient = c.recipient;
        if (msg.sender != recipient) revert ChannelNotRecipient(channelId, msg.sender);
        uint64 expiry = c.expiry;
        if (block.timestamp > expiry) revert ChannelExpired(channelId, expiry);
        uint256 paid = c.paid;
        if (cumulativeAmount <= paid) revert ChannelVoucherReplayed(channelId, cumulativeAmount, paid);
        uint256 deposit = c.deposit;
        if (cumulativeAmount > deposit)
            revert ChannelAmountExceedsDeposit(channelId, cumulativeAmount, deposit);
        address sender = c.sender;
        bytes32 digest = voucherDigest(channelId, cumulativeAmount);
        // ECDSA first (an EOA sender, no EXTCODESIZE), then ERC-1271 for a contract sender.
        (address signer, ECDSA.RecoverError err, ) = ECDSA.tryRecover(digest, signature);
        if (
            (err != ECDSA.RecoverError.NoError || signer != sender) &&
            !SignatureChecker.isValidERC1271SignatureNow(sender, digest, signature)
        ) {
            revert ChannelInvalidSignature(channelId);
        }
        // cumulativeAmount <= deposit <= type(uint128).max
        c.paid = uint128(cumulativeAmount);
        payout = cumulativeAmount - paid;
    }

    /// @dev Constant domain name: no storage read when hashing vouchers.
    // solhint-disable-next-line func-name-mixedcase
    function _EIP712Name() internal pure override returns (string memory) {
        return DOMAIN_NAME;
    }

    /// @dev Constant domain version.
    // solhint-disable-next-line func-name-mixedcase
    function _EIP712Version() internal pure override returns (string memory) {
        return DOMAIN_VERSION;
    }

    function _openChannel(
        PaymentChannelsStorage storage $,
        uint256 channelId
    ) private view returns (Channel storage c) {
        c = $.channels[channelId];
        ChannelStatus status = c.status;
        if (status != ChannelStatus.Open) {
            if (status == ChannelStatus.None) revert ChannelUnknown(channelId);
            revert ChannelNotOpen(channelId, status);
        }
    }

    function _getPaymentChannelsStorage() private pure returns (PaymentChannelsStorage storage $) {
        assembly {
            $.slot := PAYMENT_CHANNELS_STORAGE_LOCATION
        }
    }
}
