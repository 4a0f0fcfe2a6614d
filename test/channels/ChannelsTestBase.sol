// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {BaseTest} from "../utils/BaseTest.sol";
import {DMLToken} from "../../contracts/DMLToken.sol";
import {PaymentChannels} from "../../contracts/PaymentChannels.sol";

/// @notice Local setup for payment-channel tests: DMLToken with this contract as treasury, PaymentChannels behind
///         an ERC1967 proxy governed by a test timelock address, and a funded sender whose key signs vouchers.
abstract contract ChannelsTestBase is BaseTest {
    uint256 internal constant FUNDS = 1_000_000 ether;
    bytes32 internal constant VOUCHER_TYPEHASH = keccak256(
        "Voucher(uint256 channelId,uint256 cumulativeAmount)"
    );

    DMLToken internal token;
    PaymentChannels internal channels;
    address internal timelock = makeAddr("timelock");
    address internal growthPool = makeAddr("growthPool");
    address internal sender;
    uint256 internal senderKey;
    address internal recipient = makeAddr("recipient");

    function setUp() public virtual {
        (sender, senderKey) = makeAddrAndKey("sender");
        token = new DMLToken(address(this), growthPool);
        channels = _deployChannels();
        _fund(sender);
        _fund(alice);
        _fund(bob);
    }

    function _deployChannels() internal returns (PaymentChannels) {
        PaymentChannels impl = new PaymentChannels();
        return
            PaymentChannels(
                deployProxy(
                    address(impl),
                    abi.encodeCall(PaymentChannels.initialize, (timelock, IERC20(address(token))))
                )
            );
    }

    function _fund(address who) internal {
        token.transfer(who, FUNDS);
        vm.prank(who);
        token.approve(address(channels), type(uint256).max);
    }

    function _open(uint256 amount, uint64 expiry) internal returns (uint256) {
        vm.prank(sender);
        return channels.open(recipient, amount, expiry);
    }

    function _sign(uint256 key, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    function _voucher(uint256 channelId, uint256 cumulative) internal view returns (bytes memory) {
        return _sign(senderKey, channels.voucherDigest(channelId, cumulative));
    }

    /// @dev The EIP-712 digest rebuilt independently of the contract, for any chain id and verifying contract.
    function _digestFor(
        uint256 chainId,
        address verifyingContract,
        uint256 channelId,
        uint256 cumulative
    ) internal pure returns (bytes32) {
        bytes32 domain = keccak256(
            abi.encode(
                keccak256(
                    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
                ),
                keccak256("DML PaymentChannels"),
                keccak256("1"),
                chainId,
                verifyingContract
            )
        );
        bytes32 structHash = keccak256(abi.encode(VOUCHER_TYPEHASH, channelId, cumulative));
        return keccak256(abi.encodePacked("\x19\x01", domain, structHash));
    }
}
