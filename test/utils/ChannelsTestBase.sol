// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ProtocolFixture} from "./ProtocolFixture.sol";
import {PaymentChannels} from "../../contracts/PaymentChannels.sol";

/// @notice Payment-channel domain layer over the shared ProtocolFixture (the whole protocol deployed as
///         script/deploy.ts does, PaymentChannels included): the faucet holds the treasury, a funded sender whose
///         key signs vouchers, funded alice and bob, and voucher helpers.
abstract contract ChannelsTestBase is ProtocolFixture {
    uint256 internal constant FUNDS = 1_000_000 ether;
    bytes32 internal constant VOUCHER_TYPEHASH = keccak256(
        "Voucher(uint256 channelId,uint256 cumulativeAmount)"
    );

    address internal sender;
    uint256 internal senderKey;
    address internal recipient = makeAddr("recipient");

    function setUp() public virtual override {
        super.setUp();
        (sender, senderKey) = makeAddrAndKey("sender");
        _fund(sender);
        _fund(alice);
        _fund(bob);
        // the suites also pay from the test contract itself
        _fund(address(this), 10_000_000 ether);
    }

    function _deployConfig() internal view virtual override returns (Config memory c) {
        c = super._deployConfig();
        _faucetOnlyGenesis(c);
    }

    /// @dev A second PaymentChannels proxy over the same token (cross-contract voucher tests).
    function _deployChannels() internal returns (PaymentChannels) {
        PaymentChannels impl = new PaymentChannels();
        return
            PaymentChannels(
                deployProxy(
                    address(impl),
                    abi.encodeCall(PaymentChannels.initialize, (governance, IERC20(address(token))))
                )
            );
    }

    function _fund(address who) internal {
        _fundAndApprove(who, FUNDS, address(channels));
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
