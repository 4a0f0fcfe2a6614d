// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {BaseTest} from "../utils/BaseTest.sol";
import {DMLToken} from "../../contracts/DMLToken.sol";
import {AlgorithmMarketplace} from "../../contracts/AlgorithmMarketplace.sol";

/// @notice Local setup for marketplace tests: DMLToken with this contract as treasury, the marketplace behind
///         an ERC1967 proxy governed by a test timelock address, funded and approving actors.
abstract contract MarketplaceTestBase is BaseTest {
    uint16 internal constant FEE_BPS = 500; // 5%
    uint16 internal constant SHARE_BPS = 2_000; // 20%
    bytes32 internal constant SCHEMA = keccak256("email/rfc822-v1");
    bytes32 internal constant OTHER_SCHEMA = keccak256("tabular/iris-v1");
    bytes32 internal constant MODEL = 0xd7c4b743081e6ccdf263598ab3a94f5df38c9f2aec014973c0806819d7762f26; // sha256("model.onnx"); a literal so no precompile call eats a prank
    string internal constant CID = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";
    string internal constant META = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
    uint256 internal constant FUNDS = 1_000_000 ether;

    DMLToken internal token;
    AlgorithmMarketplace internal market;
    address internal timelock = makeAddr("timelock");
    address internal treasury = makeAddr("treasury");
    address internal growthPool = makeAddr("growthPool");
    address internal publisher = makeAddr("publisher");

    function setUp() public virtual {
        token = new DMLToken(address(this), growthPool);
        AlgorithmMarketplace impl = new AlgorithmMarketplace();
        market = AlgorithmMarketplace(
            deployProxy(
                address(impl),
                abi.encodeCall(
                    AlgorithmMarketplace.initialize,
                    (timelock, IERC20(address(token)), treasury, FEE_BPS, SHARE_BPS)
                )
            )
        );
        address[5] memory actors = [alice, bob, carol, dave, publisher];
        for (uint256 i; i < actors.length; ++i) {
            token.transfer(actors[i], FUNDS);
            vm.prank(actors[i]);
            token.approve(address(market), type(uint256).max);
        }
        vm.prank(timelock);
        market.setPublisher(publisher, true);
    }

    function _list(
        address dev,
        uint256 parentId,
        uint256 usePrice,
        uint256 licencePrice
    ) internal returns (uint256) {
        vm.prank(dev);
        return market.list(CID, MODEL, SCHEMA, usePrice, licencePrice, parentId, META);
    }

    function _post(address customer, uint256 bounty, uint64 deadline) internal returns (uint256) {
        vm.prank(customer);
        return market.postRequest(CID, SCHEMA, bounty, deadline);
    }
}
