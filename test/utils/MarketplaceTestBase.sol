// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ProtocolFixture} from "./ProtocolFixture.sol";

/// @notice Marketplace domain layer over the shared ProtocolFixture (the whole protocol deployed as script/deploy.ts
///         does). Parameters (`_deployConfig`): a 5% protocol fee and a 20% parent share paid to `treasury`; the
///         faucet holds the treasury. Funded, approving actors and a publisher authorised by governance.
abstract contract MarketplaceTestBase is ProtocolFixture {
    uint16 internal constant FEE_BPS = 500; // 5%
    uint16 internal constant SHARE_BPS = 2_000; // 20%
    bytes32 internal constant OTHER_SCHEMA = keccak256("tabular/iris-v1");
    string internal constant CID = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";
    string internal constant META = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
    uint256 internal constant FUNDS = 1_000_000 ether;

    address internal treasury = makeAddr("treasury");
    address internal publisher = makeAddr("publisher");

    function setUp() public virtual override {
        super.setUp();
        address[5] memory actors = [alice, bob, carol, dave, publisher];
        for (uint256 i; i < actors.length; ++i) _fundAndApprove(actors[i], FUNDS, address(market));
        // the suites also pay from the test contract itself
        _fund(address(this), 10_000_000 ether);
        vm.prank(governance);
        market.setPublisher(publisher, true);
    }

    function _deployConfig() internal view virtual override returns (Config memory c) {
        c = super._deployConfig();
        _faucetOnlyGenesis(c);
        c.marketTreasury = treasury;
        c.marketFeeBps = FEE_BPS;
        c.parentShareBps = SHARE_BPS;
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
