// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IPaymentChannels
/// @notice Unidirectional DML payment channels. A sender deposits tokens for a recipient and signs EIP-712
///         vouchers for a growing cumulative amount off-chain; the recipient redeems the latest voucher
///         (partially with `claim`, finally with `close`) until the expiry; after the expiry the remainder
///         returns to the sender with `reclaim`.
/// @dev Voucher typed data: `Voucher(uint256 channelId,uint256 cumulativeAmount)` under the domain
///      `{name: "DML PaymentChannels", version: "1", chainId, verifyingContract}`. Signatures are checked with
///      OpenZeppelin's SignatureChecker, so a contract sender may sign through ERC-1271.
interface IPaymentChannels {
    /// @notice Lifecycle of a channel. `Closed` and `Reclaimed` are terminal.
    enum ChannelStatus {
        None,
        Open,
        Closed,
        Reclaimed
    }

    /// @notice A channel. Packed in three storage slots.
    struct Channel {
        address sender; // funds the channel, signs vouchers, receives the remainder
        uint64 expiry; // vouchers redeemable while block.timestamp <= expiry; reclaim after
        ChannelStatus status;
        address recipient; // redeems vouchers
        uint128 deposit; // total deposited
        uint128 paid; // total paid to the recipient (the highest cumulative amount redeemed)
    }

    /// @notice A zero amount where a positive one is required.
    error ChannelZeroAmount();
    /// @notice The recipient is the zero address or the sender.
    error ChannelInvalidRecipient(address recipient);
    /// @notice An expiry not in the future, or one that would shorten the channel.
    error ChannelInvalidExpiry(uint256 expiry);
    /// @notice The deposit would exceed 2^128 - 1 token wei.
    error ChannelDepositOverflow();
    /// @notice The channel id does not exist.
    error ChannelUnknown(uint256 channelId);
    /// @notice The channel is closed or reclaimed.
    error ChannelNotOpen(uint256 channelId, ChannelStatus status);
    /// @notice The caller is not the channel's sender.
    error ChannelNotSender(uint256 channelId, address caller);
    /// @notice The caller is not the channel's recipient.
    error ChannelNotRecipient(uint256 channelId, address caller);
    /// @notice The channel has expired: vouchers can no longer be redeemed.
    error ChannelExpired(uint256 channelId, uint256 expiry);
    /// @notice The channel has not expired: the sender cannot reclaim yet.
    error ChannelNotExpired(uint256 channelId, uint256 expiry);
    /// @notice The voucher's cumulative amount is not above what was already paid (a replayed or stale voucher).
    error ChannelVoucherReplayed(uint256 channelId, uint256 cumulativeAmount, uint256 alreadyPaid);
    /// @notice The voucher's cumulative amount exceeds the deposit.
    error ChannelAmountExceedsDeposit(uint256 channelId, uint256 cumulativeAmount, uint256 deposit);
    /// @notice The signature is not the sender's over this voucher for this channel, chain and contract
    ///         (forged, wrong signer, or a voucher of another channel / chain / contract).
    error ChannelInvalidSignature(uint256 channelId);

    /// @notice A channel was opened.
    event ChannelOpened(
        uint256 indexed channelId,
        address indexed sender,
        address indexed recipient,
        uint256 deposit,
        uint64 expiry
    );
    /// @notice The sender added funds and/or extended the expiry.
    event ChannelToppedUp(uint256 indexed channelId, uint256 amount, uint256 newDeposit, uint64 newExpiry);
    /// @notice The recipient redeemed a voucher.
    event ChannelClaimed(uint256 indexed channelId, uint256 cumulativeAmount, uint256 payout);
    /// @notice The recipient closed the channel; `refund` went back to the sender.
    event ChannelClosed(uint256 indexed channelId, uint256 totalPaid, uint256 refund);
    /// @notice The remainder went back to the sender after the expiry.
    event ChannelReclaimed(uint256 indexed channelId, uint256 refund);

    /// @notice Opens a channel from the caller to `recipient`, pulling `amount` from the caller.
    /// @param expiry Unix time after which the sender may reclaim; must be in the future.
    /// @return channelId The new id (ids start at 1).
    function open(address recipient, uint256 amount, uint64 expiry) external returns (uint256 channelId);

    /// @notice The sender adds `amount` (may be 0 when extending) and sets the expiry to `newExpiry`
    ///         (never earlier than the current expiry, and in the future).
    function topUp(uint256 channelId, uint256 amount, uint64 newExpiry) external;

    /// @notice The recipient redeems a voucher and keeps the channel open: pays `cumulativeAmount - paid`.
    function claim(uint256 channelId, uint256 cumulativeAmount, bytes calldata signature) external;

    /// @notice The recipient redeems its final voucher and closes the channel: pays `cumulativeAmount - paid`
    ///         to the recipient and the rest of the deposit back to the sender.
    function close(uint256 channelId, uint256 cumulativeAmount, bytes calldata signature) external;

    /// @notice After the expiry, returns `deposit - paid` to the sender and ends the channel. Callable by anyone.
    function reclaim(uint256 channelId) external;

    /// @notice The channel with id `channelId`. Reverts for an unknown id.
    function getChannel(uint256 channelId) external view returns (Channel memory);

    /// @notice The EIP-712 digest the sender signs for a voucher.
    function voucherDigest(uint256 channelId, uint256 cumulativeAmount) external view returns (bytes32);

    /// @notice Number of channels opened so far (the highest id).
    function channelCount() external view returns (uint256);

    /// @notice The token (DML).
    function token() external view returns (address);
}
