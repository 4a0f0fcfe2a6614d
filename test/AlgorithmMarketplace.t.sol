// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {MarketplaceTestBase} from "./utils/MarketplaceTestBase.sol";
import {AlgorithmMarketplace} from "../contracts/AlgorithmMarketplace.sol";
import {IAlgorithmMarketplace} from "../contracts/interfaces/IAlgorithmMarketplace.sol";
import {IGovernedUUPS} from "../contracts/interfaces/IGovernedUUPS.sol";
import {AlgorithmMarketplaceV2} from "./mocks/AlgorithmMarketplaceV2.sol";

contract AlgorithmMarketplaceTest is MarketplaceTestBase {
    // ------------------------------------------------------------------ initialize

    function test_initialize_setsParameters() public view {
        assertEq(market.governance(), governance);
        assertEq(market.token(), address(token));
        assertEq(market.treasury(), treasury);
        assertEq(market.protocolFeeBps(), FEE_BPS);
        assertEq(market.parentShareBps(), SHARE_BPS);
        assertEq(market.algorithmCount(), 0);
        assertEq(market.requestCount(), 0);
        assertTrue(market.isPublisher(publisher));
    }

    function test_initialize_emitsEvents() public {
        AlgorithmMarketplace impl = new AlgorithmMarketplace();
        vm.expectEmit(true, true, true, true);
        emit IGovernedUUPS.GovernanceTransferred(address(0), governance);
        vm.expectEmit(true, true, true, true);
        emit IAlgorithmMarketplace.TreasuryUpdated(address(0), treasury);
        vm.expectEmit(true, true, true, true);
        emit IAlgorithmMarketplace.ProtocolFeeUpdated(0, 100);
        vm.expectEmit(true, true, true, true);
        emit IAlgorithmMarketplace.ParentShareUpdated(0, 300);
        deployProxy(address(impl), _initData(governance, address(token), treasury, 100, 300));
    }

    function test_initialize_revertsOnZeroAddresses() public {
        AlgorithmMarketplace impl = new AlgorithmMarketplace();
        vm.expectRevert(IGovernedUUPS.GovernedZeroAddress.selector);
        deployProxy(address(impl), _initData(address(0), address(token), treasury, 0, 0));
        vm.expectRevert(IGovernedUUPS.GovernedZeroAddress.selector);
        deployProxy(address(impl), _initData(governance, address(0), treasury, 0, 0));
        vm.expectRevert(IGovernedUUPS.GovernedZeroAddress.selector);
        deployProxy(address(impl), _initData(governance, address(token), address(0), 0, 0));
    }

    function test_initialize_revertsOnBpsAboveBounds() public {
        AlgorithmMarketplace impl = new AlgorithmMarketplace();
        vm.expectRevert(
            abi.encodeWithSelector(IAlgorithmMarketplace.MarketplaceFeeTooHigh.selector, 2_001, 2_000)
        );
        deployProxy(address(impl), _initData(governance, address(token), treasury, 2_001, 0));
        vm.expectRevert(
            abi.encodeWithSelector(IAlgorithmMarketplace.MarketplaceParentShareTooHigh.selector, 5_001, 5_000)
        );
        deployProxy(address(impl), _initData(governance, address(token), treasury, 0, 5_001));
    }

    function test_initialize_revertsTwiceAndOnImplementation() public {
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        market.initialize(governance, IERC20(address(token)), treasury, 0, 0);
        AlgorithmMarketplace impl = new AlgorithmMarketplace();
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        impl.initialize(governance, IERC20(address(token)), treasury, 0, 0);
    }

    // ------------------------------------------------------------------ list

    function test_list_storesAlgorithmAndEmits() public {
        vm.expectEmit(true, true, true, true, address(market));
        emit IAlgorithmMarketplace.AlgorithmListed(1, alice, 0, SCHEMA, MODEL, CID, META, 2 ether, 50 ether);
        uint256 id = _list(alice, 0, 2 ether, 50 ether);
        assertEq(id, 1);
        assertEq(market.algorithmCount(), 1);
        IAlgorithmMarketplace.Algorithm memory a = market.getAlgorithm(id);
        assertEq(a.developer, alice);
        assertEq(a.parentId, 0);
        assertEq(a.schema, SCHEMA);
        assertEq(a.modelSha256, MODEL);
        assertEq(a.packageCid, CID);
        assertEq(a.metadataCid, META);
        assertEq(a.usePrice, 2 ether);
        assertEq(a.licencePrice, 50 ether);
        assertFalse(a.deprecated);
        assertTrue(market.isListed(id));
        assertEq(_list(bob, 0, 1, 1), 2);
    }

    function test_list_acceptsEmptyMetadataAndMaxLengthCid() public {
        string memory longCid = _repeat(128);
        vm.prank(alice);
        uint256 id = market.list(longCid, MODEL, SCHEMA, 0, 0, 0, "");
        assertEq(market.getAlgorithm(id).packageCid, longCid);
        assertEq(bytes(market.getAlgorithm(id).metadataCid).length, 0);
    }

    function test_list_childOfAnotherDeveloper() public {
        uint256 parent = _list(alice, 0, 1 ether, 10 ether);
        uint256 child = _list(bob, parent, 1 ether, 10 ether);
        assertEq(market.getAlgorithm(child).parentId, parent);
        assertEq(market.getAlgorithm(child).developer, bob);
    }

    function test_list_revertsOnInvalidCids() public {
        vm.startPrank(alice);
        vm.expectRevert(IAlgorithmMarketplace.MarketplaceInvalidCid.selector);
        market.list("", MODEL, SCHEMA, 0, 0, 0, "");
        vm.expectRevert(IAlgorithmMarketplace.MarketplaceInvalidCid.selector);
        market.list(_repeat(129), MODEL, SCHEMA, 0, 0, 0, "");
        vm.expectRevert(IAlgorithmMarketplace.MarketplaceInvalidCid.selector);
        market.list(CID, MODEL, SCHEMA, 0, 0, 0, _repeat(129));
        vm.stopPrank();
        assertEq(market.algorithmCount(), 0);
    }

    function test_list_revertsOnZeroModelHashOrSchema() public {
        vm.startPrank(alice);
        vm.expectRevert(IAlgorithmMarketplace.MarketplaceZeroModelHash.selector);
        market.list(CID, bytes32(0), SCHEMA, 0, 0, 0, "");
        vm.expectRevert(IAlgorithmMarketplace.MarketplaceZeroSchema.selector);
        market.list(CID, MODEL, bytes32(0), 0, 0, 0, "");
        vm.stopPrank();
    }

    function test_list_revertsOnUnknownParent() public {
        vm.expectRevert(
            abi.encodeWithSelector(IAlgorithmMarketplace.MarketplaceUnknownAlgorithm.selector, 1)
        );
        _list(alice, 1, 0, 0);
    }

    function test_list_revertsOnParentSchemaMismatch() public {
        uint256 parent = _list(alice, 0, 0, 0);
        vm.prank(bob);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAlgorithmMarketplace.MarketplaceSchemaMismatch.selector,
                SCHEMA,
                OTHER_SCHEMA
            )
        );
        market.list(CID, MODEL, OTHER_SCHEMA, 0, 0, parent, "");
    }

    function test_getAlgorithm_revertsOnUnknownId() public {
        vm.expectRevert(
            abi.encodeWithSelector(IAlgorithmMarketplace.MarketplaceUnknownAlgorithm.selector, 0)
        );
        market.getAlgorithm(0);
        vm.expectRevert(
            abi.encodeWithSelector(IAlgorithmMarketplace.MarketplaceUnknownAlgorithm.selector, 7)
        );
        market.getAlgorithm(7);
        assertFalse(market.isListed(0));
        assertFalse(market.isListed(7));
    }

    // ------------------------------------------------------------------ useTerms / developerOf

    function _assertTerms(
        uint256 id,
        address customer,
        bool listed,
        bytes32 schema,
        uint256 due
    ) internal view {
        (bool isListed_, bytes32 sch, uint256 d) = market.useTerms(id, customer);
        assertEq(isListed_, listed, "listed");
        assertEq(sch, schema, "schema");
        assertEq(d, due, "usePriceDue");
    }

    function test_useTerms_listedAlgorithm() public {
        uint256 id = _list(alice, 0, 3 ether, 30 ether);
        _assertTerms(id, bob, true, SCHEMA, 3 ether);
        // the developer itself holds no licence: it owes the use price like anyone else
        _assertTerms(id, alice, true, SCHEMA, 3 ether);
        assertTrue(market.isListed(id));
    }

    function test_useTerms_unknownIdNeverReverts() public {
        _assertTerms(0, bob, false, bytes32(0), 0);
        _assertTerms(1, bob, false, bytes32(0), 0);
        uint256 id = _list(alice, 0, 3 ether, 30 ether);
        _assertTerms(id + 1, bob, false, bytes32(0), 0);
        _assertTerms(type(uint256).max, bob, false, bytes32(0), 0);
    }

    function test_useTerms_deprecatedIsNotListed() public {
        uint256 id = _list(alice, 0, 3 ether, 30 ether);
        vm.prank(bob);
        market.buyLicence(id, 30 ether);
        vm.prank(alice);
        market.deprecate(id);
        assertFalse(market.isListed(id));
        // schema and price stay readable; a licence holder still owes nothing
        _assertTerms(id, carol, false, SCHEMA, 3 ether);
        _assertTerms(id, bob, false, SCHEMA, 0);
    }

    function test_useTerms_licenceHolderPaysNothing() public {
        uint256 id = _list(alice, 0, 3 ether, 30 ether);
        vm.prank(bob);
        market.buyLicence(id, 30 ether);
        _assertTerms(id, bob, true, SCHEMA, 0);
        _assertTerms(id, carol, true, SCHEMA, 3 ether);
        // the licence is per algorithm: a child version is owed in full
        bytes32 tuned = sha256("tuned"); // before the prank: the precompile call would consume it
        vm.prank(publisher);
        uint256 child = market.publishChildVersion(id, dave, CID, tuned);
        _assertTerms(child, bob, true, SCHEMA, 3 ether);
    }

    function test_useTerms_followsPriceUpdates() public {
        uint256 id = _list(alice, 0, 3 ether, 30 ether);
        vm.prank(alice);
        market.updatePrices(id, 0, 30 ether);
        _assertTerms(id, bob, true, SCHEMA, 0);
        vm.prank(alice);
        market.updatePrices(id, 7 ether, 30 ether);
        _assertTerms(id, bob, true, SCHEMA, 7 ether);
    }

    function test_fuzz_useTerms_matchesGetAlgorithm(uint256 usePrice, bool licensed, bool deprecated) public {
        usePrice = bound(usePrice, 0, 1_000 ether);
        uint256 id = _list(alice, 0, usePrice, 1 ether);
        if (licensed) {
            vm.prank(bob);
            market.buyLicence(id, 1 ether);
        }
        if (deprecated) {
            vm.prank(alice);
            market.deprecate(id);
        }
        IAlgorithmMarketplace.Algorithm memory a = market.getAlgorithm(id);
        (bool listed, bytes32 schema, uint256 due) = market.useTerms(id, bob);
        assertEq(listed, market.isListed(id));
        assertEq(listed, !deprecated);
        assertEq(schema, a.schema);
        assertEq(due, market.hasLicence(bob, id) ? 0 : a.usePrice);
        assertEq(due, licensed ? 0 : usePrice);
    }

    function test_developerOf_returnsDeveloper() public {
        uint256 id = _list(alice, 0, 1, 2);
        assertEq(market.developerOf(id), alice);
        bytes32 tuned = sha256("tuned"); // before the prank: the precompile call would consume it
        vm.prank(publisher);
        uint256 child = market.publishChildVersion(id, bob, CID, tuned);
        assertEq(market.developerOf(child), bob);
        // deprecation does not change who receives royalties
        vm.prank(alice);
        market.deprecate(id);
        assertEq(market.developerOf(id), alice);
        assertEq(market.developerOf(id), market.getAlgorithm(id).developer);
    }

    function test_developerOf_revertsOnUnknownId() public {
        vm.expectRevert(
            abi.encodeWithSelector(IAlgorithmMarketplace.MarketplaceUnknownAlgorithm.selector, 0)
        );
        market.developerOf(0);
        _list(alice, 0, 1, 2);
        vm.expectRevert(
            abi.encodeWithSelector(IAlgorithmMarketplace.MarketplaceUnknownAlgorithm.selector, 2)
        );
        market.developerOf(2);
    }

    // ------------------------------------------------------------------ updatePrices / deprecate

    function test_updatePrices_changesPricesAndEmits() public {
        uint256 id = _list(alice, 0, 1, 2);
        vm.expectEmit(true, true, true, true, address(market));
        emit IAlgorithmMarketplace.AlgorithmPricesUpdated(id, 3 ether, 4 ether);
        vm.prank(alice);
        market.updatePrices(id, 3 ether, 4 ether);
        assertEq(market.getAlgorithm(id).usePrice, 3 ether);
        assertEq(market.getAlgorithm(id).licencePrice, 4 ether);
    }

    function test_updatePrices_revertsForNonDeveloperUnknownOrDeprecated() public {
        uint256 id = _list(alice, 0, 1, 2);
        vm.prank(bob);
        vm.expectRevert(
            abi.encodeWithSelector(IAlgorithmMarketplace.MarketplaceNotDeveloper.selector, id, bob)
        );
        market.updatePrices(id, 0, 0);
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(IAlgorithmMarketplace.MarketplaceUnknownAlgorithm.selector, 9)
        );
        market.updatePrices(9, 0, 0);
        vm.prank(alice);
        market.deprecate(id);
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(IAlgorithmMarketplace.MarketplaceAlgorithmDeprecated.selector, id)
        );
        market.updatePrices(id, 0, 0);
        assertEq(market.getAlgorithm(id).usePrice, 1);
    }

    function test_deprecate_unlistsAndEmits() public {
        uint256 id = _list(alice, 0, 1, 2);
        vm.expectEmit(true, true, true, true, address(market));
        emit IAlgorithmMarketplace.AlgorithmDeprecated(id);
        vm.prank(alice);
        market.deprecate(id);
        assertFalse(market.isListed(id));
        assertTrue(market.getAlgorithm(id).deprecated);
    }

    function test_deprecate_revertsForNonDeveloperOrTwice() public {
        uint256 id = _list(alice, 0, 1, 2);
        vm.prank(bob);
        vm.expectRevert(
            abi.encodeWithSelector(IAlgorithmMarketplace.MarketplaceNotDeveloper.selector, id, bob)
        );
        market.deprecate(id);
        vm.prank(alice);
        market.deprecate(id);
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(IAlgorithmMarketplace.MarketplaceAlgorithmDeprecated.selector, id)
        );
        market.deprecate(id);
    }

    function test_deprecate_keepsExistingLicences() public {
        uint256 id = _list(alice, 0, 1, 2 ether);
        vm.prank(bob);
        market.buyLicence(id, 2 ether);
        vm.prank(alice);
        market.deprecate(id);
        assertTrue(market.hasLicence(bob, id));
    }

    // ------------------------------------------------------------------ buyLicence

    function test_buyLicence_originalPaysDeveloperAndFee() public {
        uint256 id = _list(alice, 0, 1 ether, 100 ether);
        uint256 aliceBefore = token.balanceOf(alice);
        vm.expectEmit(true, true, true, true, address(market));
        emit IAlgorithmMarketplace.LicencePurchased(id, bob, 100 ether);
        vm.expectEmit(true, true, true, true, address(market));
        emit IAlgorithmMarketplace.RevenueSplit(id, alice, 95 ether, address(0), 0, 5 ether);
        vm.prank(bob);
        market.buyLicence(id, 100 ether);
        assertTrue(market.hasLicence(bob, id));
        assertFalse(market.hasLicence(carol, id));
        assertEq(token.balanceOf(alice) - aliceBefore, 95 ether);
        assertEq(token.balanceOf(treasury), 5 ether);
        assertEq(token.balanceOf(bob), FUNDS - 100 ether);
        assertEq(token.balanceOf(address(market)), 0);
    }

    function test_buyLicence_childSharesWithParentDeveloper() public {
        uint256 parent = _list(alice, 0, 1 ether, 100 ether);
        uint256 child = _list(bob, parent, 1 ether, 100 ether);
        vm.expectEmit(true, true, true, true, address(market));
        emit IAlgorithmMarketplace.RevenueSplit(child, bob, 76 ether, alice, 19 ether, 5 ether);
        vm.prank(carol);
        market.buyLicence(child, 100 ether);
        assertEq(token.balanceOf(alice), FUNDS + 19 ether);
        assertEq(token.balanceOf(bob), FUNDS + 76 ether);
        assertEq(token.balanceOf(treasury), 5 ether);
        assertFalse(market.hasLicence(carol, parent));
        assertTrue(market.hasLicence(carol, child));
    }

    function test_buyLicence_ownVersionHasNoParentShare() public {
        uint256 v1 = _list(alice, 0, 1 ether, 100 ether);
        uint256 v2 = _list(alice, v1, 1 ether, 100 ether);
        vm.expectEmit(true, true, true, true, address(market));
        emit IAlgorithmMarketplace.RevenueSplit(v2, alice, 95 ether, address(0), 0, 5 ether);
        vm.prank(carol);
        market.buyLicence(v2, 100 ether);
        assertEq(token.balanceOf(alice), FUNDS + 95 ether);
    }

    function test_buyLicence_onlyImmediateParentShares() public {
        uint256 a = _list(alice, 0, 0, 100 ether);
        uint256 b = _list(bob, a, 0, 100 ether);
        uint256 c = _list(carol, b, 0, 100 ether);
        vm.prank(dave);
        market.buyLicence(c, 100 ether);
        assertEq(token.balanceOf(alice), FUNDS);
        assertEq(token.balanceOf(bob), FUNDS + 19 ether);
        assertEq(token.balanceOf(carol), FUNDS + 76 ether);
    }

    /// @dev `revenueSplit` (what Settlement pays job royalties with) shares exactly as a licence sale does:
    ///      fee first, the parent developer's share of the rest for another developer's child, none for an own
    ///      version or an original; the parts always sum to the amount.
    function test_revenueSplit_matchesLicenceSales() public {
        uint256 parent = _list(alice, 0, 1 ether, 100 ether);
        uint256 child = _list(bob, parent, 1 ether, 100 ether);
        uint256 own = _list(alice, parent, 1 ether, 100 ether);
        (address dev, uint256 devAmount, address parentDev, uint256 parentAmount, uint256 fee) = market
            .revenueSplit(child, 100 ether);
        assertEq(dev, bob);
        assertEq(devAmount, 76 ether);
        assertEq(parentDev, alice);
        assertEq(parentAmount, 19 ether);
        assertEq(fee, 5 ether);
        // exactly what a licence sale of the child pays
        vm.prank(carol);
        market.buyLicence(child, 100 ether);
        assertEq(token.balanceOf(bob), FUNDS + devAmount);
        assertEq(token.balanceOf(alice), FUNDS + parentAmount);
        assertEq(token.balanceOf(treasury), fee);
        (dev, devAmount, parentDev, parentAmount, fee) = market.revenueSplit(own, 100 ether);
        assertEq(dev, alice);
        assertEq(devAmount, 95 ether);
        assertEq(parentDev, address(0));
        assertEq(parentAmount, 0);
        assertEq(fee, 5 ether);
        (dev, devAmount, parentDev, parentAmount, fee) = market.revenueSplit(parent, 100 ether);
        assertEq(dev, alice);
        assertEq(devAmount, 95 ether);
        assertEq(parentDev, address(0));
        assertEq(parentAmount, 0);
        vm.expectRevert(
            abi.encodeWithSelector(IAlgorithmMarketplace.MarketplaceUnknownAlgorithm.selector, 99)
        );
        market.revenueSplit(99, 1 ether);
    }

    function test_fuzz_revenueSplit_sumsToTheAmount(uint256 amount, bool ownVersion) public {
        amount = bound(amount, 0, 1e30);
        uint256 parent = _list(alice, 0, 0, 0);
        uint256 child = _list(ownVersion ? alice : bob, parent, 0, 0);
        (, uint256 devAmount, address parentDev, uint256 parentAmount, uint256 fee) = market.revenueSplit(
            child,
            amount
        );
        assertEq(devAmount + parentAmount + fee, amount);
        assertEq(fee, (amount * FEE_BPS) / BPS);
        assertEq(parentAmount, ownVersion ? 0 : ((amount - fee) * SHARE_BPS) / BPS);
        assertEq(parentDev, ownVersion ? address(0) : alice);
    }

    function test_buyLicence_reverts() public {
        uint256 id = _list(alice, 0, 1 ether, 100 ether);
        uint256 free = _list(alice, 0, 1 ether, 0);
        vm.startPrank(bob);
        vm.expectRevert(
            abi.encodeWithSelector(IAlgorithmMarketplace.MarketplaceUnknownAlgorithm.selector, 99)
        );
        market.buyLicence(99, 1);
        vm.expectRevert(
            abi.encodeWithSelector(IAlgorithmMarketplace.MarketplaceLicenceNotForSale.selector, free)
        );
        market.buyLicence(free, 1 ether);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAlgorithmMarketplace.MarketplacePriceAboveMax.selector,
                100 ether,
                99 ether
            )
        );
        market.buyLicence(id, 99 ether);
        market.buyLicence(id, 100 ether);
        vm.expectRevert(
            abi.encodeWithSelector(IAlgorithmMarketplace.MarketplaceAlreadyLicensed.selector, bob, id)
        );
        market.buyLicence(id, 100 ether);
        vm.stopPrank();
        vm.prank(alice);
        market.deprecate(id);
        vm.prank(carol);
        vm.expectRevert(
            abi.encodeWithSelector(IAlgorithmMarketplace.MarketplaceAlgorithmDeprecated.selector, id)
        );
        market.buyLicence(id, 100 ether);
    }

    function test_buyLicence_revertsWithoutAllowance() public {
        uint256 id = _list(alice, 0, 1 ether, 100 ether);
        address poor = makeAddr("poor");
        token.transfer(poor, 200 ether);
        vm.prank(poor);
        vm.expectRevert(
            abi.encodeWithSelector(
                IERC20Errors.ERC20InsufficientAllowance.selector,
                address(market),
                0,
                95 ether
            )
        );
        market.buyLicence(id, 100 ether);
        assertFalse(market.hasLicence(poor, id));
    }

    // ------------------------------------------------------------------ payUse

    function test_payUse_pullsFromCallerAndSplits() public {
        uint256 parent = _list(alice, 0, 10 ether, 0);
        uint256 child = _list(bob, parent, 10 ether, 0);
        vm.expectEmit(true, true, true, true, address(market));
        emit IAlgorithmMarketplace.UsePaid(child, carol, dave, 10 ether);
        vm.expectEmit(true, true, true, true, address(market));
        emit IAlgorithmMarketplace.RevenueSplit(child, bob, 7.6 ether, alice, 1.9 ether, 0.5 ether);
        vm.prank(dave);
        market.payUse(child, carol);
        assertEq(token.balanceOf(dave), FUNDS - 10 ether);
        assertEq(token.balanceOf(carol), FUNDS);
        assertEq(token.balanceOf(bob), FUNDS + 7.6 ether);
        assertEq(token.balanceOf(alice), FUNDS + 1.9 ether);
        assertEq(token.balanceOf(treasury), 0.5 ether);
    }

    function test_payUse_zeroPriceMovesNothing() public {
        uint256 id = _list(alice, 0, 0, 0);
        vm.expectEmit(true, true, true, true, address(market));
        emit IAlgorithmMarketplace.UsePaid(id, bob, bob, 0);
        vm.prank(bob);
        market.payUse(id, bob);
        assertEq(token.balanceOf(bob), FUNDS);
        assertEq(token.balanceOf(alice), FUNDS);
    }

    function test_payUse_revertsOnUnknownOrDeprecated() public {
        vm.expectRevert(
            abi.encodeWithSelector(IAlgorithmMarketplace.MarketplaceUnknownAlgorithm.selector, 1)
        );
        vm.prank(bob);
        market.payUse(1, bob);
        uint256 id = _list(alice, 0, 1 ether, 0);
        vm.prank(alice);
        market.deprecate(id);
        vm.expectRevert(
            abi.encodeWithSelector(IAlgorithmMarketplace.MarketplaceAlgorithmDeprecated.selector, id)
        );
        vm.prank(bob);
        market.payUse(id, bob);
    }

    // ------------------------------------------------------------------ publishChildVersion

    function test_publishChildVersion_copiesParentAndEmits() public {
        uint256 parent = _list(alice, 0, 3 ether, 30 ether);
        bytes32 newModel = sha256("tuned");
        vm.expectEmit(true, true, true, true, address(market));
        emit IAlgorithmMarketplace.AlgorithmListed(
            2,
            bob,
            parent,
            SCHEMA,
            newModel,
            CID,
            "",
            3 ether,
            30 ether
        );
        vm.expectEmit(true, true, true, true, address(market));
        emit IAlgorithmMarketplace.ChildVersionPublished(parent, 2, publisher);
        vm.prank(publisher);
        uint256 child = market.publishChildVersion(parent, bob, CID, newModel);
        assertEq(child, 2);
        IAlgorithmMarketplace.Algorithm memory a = market.getAlgorithm(child);
        assertEq(a.developer, bob);
        assertEq(a.parentId, parent);
        assertEq(a.schema, SCHEMA);
        assertEq(a.modelSha256, newModel);
        assertEq(a.usePrice, 3 ether);
        assertEq(a.licencePrice, 30 ether);
    }

    function test_publishChildVersion_reverts() public {
        uint256 parent = _list(alice, 0, 3 ether, 30 ether);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(IAlgorithmMarketplace.MarketplaceNotPublisher.selector, bob));
        market.publishChildVersion(parent, bob, CID, MODEL);
        vm.startPrank(publisher);
        vm.expectRevert(IGovernedUUPS.GovernedZeroAddress.selector);
        market.publishChildVersion(parent, address(0), CID, MODEL);
        vm.expectRevert(
            abi.encodeWithSelector(IAlgorithmMarketplace.MarketplaceUnknownAlgorithm.selector, 5)
        );
        market.publishChildVersion(5, bob, CID, MODEL);
        vm.expectRevert(IAlgorithmMarketplace.MarketplaceInvalidCid.selector);
        market.publishChildVersion(parent, bob, "", MODEL);
        vm.expectRevert(IAlgorithmMarketplace.MarketplaceZeroModelHash.selector);
        market.publishChildVersion(parent, bob, CID, bytes32(0));
        vm.stopPrank();
        vm.prank(governance);
        market.setPublisher(publisher, false);
        vm.prank(publisher);
        vm.expectRevert(
            abi.encodeWithSelector(IAlgorithmMarketplace.MarketplaceNotPublisher.selector, publisher)
        );
        market.publishChildVersion(parent, bob, CID, MODEL);
        assertEq(market.algorithmCount(), 1);
    }

    // ------------------------------------------------------------------ requests

    function test_postRequest_escrowsAndEmits() public {
        uint64 deadline = uint64(block.timestamp + 7 days);
        vm.expectEmit(true, true, true, true, address(market));
        emit IAlgorithmMarketplace.RequestPosted(1, carol, SCHEMA, 500 ether, deadline, CID);
        uint256 id = _post(carol, 500 ether, deadline);
        assertEq(id, 1);
        IAlgorithmMarketplace.Request memory r = market.getRequest(id);
        assertEq(r.customer, carol);
        assertEq(r.deadline, deadline);
        assertEq(uint8(r.status), uint8(IAlgorithmMarketplace.RequestStatus.Open));
        assertEq(r.schema, SCHEMA);
        assertEq(r.bounty, 500 ether);
        assertEq(r.specCid, CID);
        assertEq(token.balanceOf(address(market)), 500 ether);
        assertEq(market.totalEscrowed(), 500 ether);
        assertEq(market.requestCount(), 1);
    }

    function test_postRequest_reverts() public {
        uint64 deadline = uint64(block.timestamp + 1 days);
        vm.startPrank(carol);
        vm.expectRevert(IAlgorithmMarketplace.MarketplaceInvalidCid.selector);
        market.postRequest("", SCHEMA, 1, deadline);
        vm.expectRevert(IAlgorithmMarketplace.MarketplaceInvalidCid.selector);
        market.postRequest(_repeat(129), SCHEMA, 1, deadline);
        vm.expectRevert(IAlgorithmMarketplace.MarketplaceZeroSchema.selector);
        market.postRequest(CID, bytes32(0), 1, deadline);
        vm.expectRevert(IAlgorithmMarketplace.MarketplaceZeroBounty.selector);
        market.postRequest(CID, SCHEMA, 0, deadline);
        uint64 now_ = uint64(block.timestamp);
        vm.expectRevert(
            abi.encodeWithSelector(IAlgorithmMarketplace.MarketplaceInvalidDeadline.selector, now_)
        );
        market.postRequest(CID, SCHEMA, 1, now_);
        uint64 far = uint64(block.timestamp + 365 days + 1);
        vm.expectRevert(
            abi.encodeWithSelector(IAlgorithmMarketplace.MarketplaceInvalidDeadline.selector, far)
        );
        market.postRequest(CID, SCHEMA, 1, far);
        vm.stopPrank();
        assertEq(market.requestCount(), 0);
        vm.expectRevert(abi.encodeWithSelector(IAlgorithmMarketplace.MarketplaceUnknownRequest.selector, 1));
        market.getRequest(1);
    }

    function test_submitToRequest_recordsAndEmits() public {
        uint256 req = _post(carol, 10 ether, uint64(block.timestamp + 1 days));
        uint256 algo = _list(alice, 0, 0, 0);
        vm.expectEmit(true, true, true, true, address(market));
        emit IAlgorithmMarketplace.RequestSubmission(req, algo, alice);
        vm.prank(alice);
        market.submitToRequest(req, algo);
        assertTrue(market.isSubmitted(req, algo));
        assertEq(market.getRequest(req).submissionCount, 1);
    }

    function test_submitToRequest_reverts() public {
        uint64 deadline = uint64(block.timestamp + 1 days);
        uint256 req = _post(carol, 10 ether, deadline);
        uint256 algo = _list(alice, 0, 0, 0);
        vm.prank(alice);
        uint256 other = market.list(CID, MODEL, OTHER_SCHEMA, 0, 0, 0, "");
        vm.startPrank(alice);
        vm.expectRevert(abi.encodeWithSelector(IAlgorithmMarketplace.MarketplaceUnknownRequest.selector, 2));
        market.submitToRequest(2, algo);
        vm.expectRevert(
            abi.encodeWithSelector(IAlgorithmMarketplace.MarketplaceUnknownAlgorithm.selector, 9)
        );
        market.submitToRequest(req, 9);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAlgorithmMarketplace.MarketplaceSchemaMismatch.selector,
                SCHEMA,
                OTHER_SCHEMA
            )
        );
        market.submitToRequest(req, other);
        market.submitToRequest(req, algo);
        vm.expectRevert(
            abi.encodeWithSelector(IAlgorithmMarketplace.MarketplaceAlreadySubmitted.selector, req, algo)
        );
        market.submitToRequest(req, algo);
        vm.stopPrank();
        vm.prank(bob);
        vm.expectRevert(
            abi.encodeWithSelector(IAlgorithmMarketplace.MarketplaceNotDeveloper.selector, algo, bob)
        );
        market.submitToRequest(req, algo);
        uint256 dep = _list(bob, 0, 0, 0);
        vm.prank(bob);
        market.deprecate(dep);
        vm.prank(bob);
        vm.expectRevert(
            abi.encodeWithSelector(IAlgorithmMarketplace.MarketplaceAlgorithmDeprecated.selector, dep)
        );
        market.submitToRequest(req, dep);
        uint256 late = _list(dave, 0, 0, 0);
        vm.warp(uint256(deadline) + 1);
        vm.prank(dave);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAlgorithmMarketplace.MarketplaceRequestDeadlinePassed.selector,
                req,
                deadline
            )
        );
        market.submitToRequest(req, late);
    }

    function test_acceptSubmission_paysDeveloperLessFee() public {
        uint256 req = _post(carol, 200 ether, uint64(block.timestamp + 1 days));
        uint256 algo = _list(alice, 0, 0, 0);
        vm.prank(alice);
        market.submitToRequest(req, algo);
        vm.expectEmit(true, true, true, true, address(market));
        emit IAlgorithmMarketplace.RequestAccepted(req, algo, alice, 190 ether, 10 ether);
        vm.prank(carol);
        market.acceptSubmission(req, algo);
        assertEq(token.balanceOf(alice), FUNDS + 190 ether);
        assertEq(token.balanceOf(treasury), 10 ether);
        assertEq(token.balanceOf(address(market)), 0);
        assertEq(market.totalEscrowed(), 0);
        IAlgorithmMarketplace.Request memory r = market.getRequest(req);
        assertEq(uint8(r.status), uint8(IAlgorithmMarketplace.RequestStatus.Accepted));
        assertEq(r.acceptedAlgorithmId, algo);
    }

    function test_acceptSubmission_atDeadlineSucceeds() public {
        uint64 deadline = uint64(block.timestamp + 1 days);
        uint256 req = _post(carol, 200 ether, deadline);
        uint256 algo = _list(alice, 0, 0, 0);
        vm.prank(alice);
        market.submitToRequest(req, algo);
        vm.warp(deadline);
        vm.prank(carol);
        market.acceptSubmission(req, algo);
        assertEq(uint8(market.getRequest(req).status), uint8(IAlgorithmMarketplace.RequestStatus.Accepted));
    }

    function test_acceptSubmission_deprecatedAfterSubmissionStillPays() public {
        uint256 req = _post(carol, 100 ether, uint64(block.timestamp + 1 days));
        uint256 algo = _list(alice, 0, 0, 0);
        vm.prank(alice);
        market.submitToRequest(req, algo);
        vm.prank(alice);
        market.deprecate(algo);
        vm.prank(carol);
        market.acceptSubmission(req, algo);
        assertEq(token.balanceOf(alice), FUNDS + 95 ether);
    }

    function test_list_childOfDeprecatedParentAllowed() public {
        uint256 parent = _list(alice, 0, 0, 0);
        vm.prank(alice);
        market.deprecate(parent);
        uint256 child = _list(bob, parent, 0, 0);
        assertTrue(market.isListed(child));
        assertEq(market.getAlgorithm(child).parentId, parent);
    }

    function test_acceptSubmission_reverts() public {
        uint64 deadline = uint64(block.timestamp + 1 days);
        uint256 req = _post(carol, 200 ether, deadline);
        uint256 algo = _list(alice, 0, 0, 0);
        uint256 notSubmitted = _list(bob, 0, 0, 0);
        vm.prank(alice);
        market.submitToRequest(req, algo);
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(IAlgorithmMarketplace.MarketplaceNotRequestCustomer.selector, req, alice)
        );
        market.acceptSubmission(req, algo);
        vm.prank(carol);
        vm.expectRevert(
            abi.encodeWithSelector(IAlgorithmMarketplace.MarketplaceNotSubmitted.selector, req, notSubmitted)
        );
        market.acceptSubmission(req, notSubmitted);
        vm.prank(carol);
        vm.expectRevert(abi.encodeWithSelector(IAlgorithmMarketplace.MarketplaceUnknownRequest.selector, 0));
        market.acceptSubmission(0, algo);
        vm.warp(uint256(deadline) + 1);
        vm.prank(carol);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAlgorithmMarketplace.MarketplaceRequestDeadlinePassed.selector,
                req,
                deadline
            )
        );
        market.acceptSubmission(req, algo);
        assertEq(market.totalEscrowed(), 200 ether);
    }

    function test_acceptSubmission_revertsWhenAlreadyAccepted() public {
        uint256 req = _post(carol, 200 ether, uint64(block.timestamp + 1 days));
        uint256 algo = _list(alice, 0, 0, 0);
        vm.prank(alice);
        market.submitToRequest(req, algo);
        vm.prank(carol);
        market.acceptSubmission(req, algo);
        vm.prank(carol);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAlgorithmMarketplace.MarketplaceRequestNotOpen.selector,
                req,
                IAlgorithmMarketplace.RequestStatus.Accepted
            )
        );
        market.acceptSubmission(req, algo);
        vm.warp(block.timestamp + 2 days);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAlgorithmMarketplace.MarketplaceRequestNotOpen.selector,
                req,
                IAlgorithmMarketplace.RequestStatus.Accepted
            )
        );
        market.refundRequest(req);
    }

    function test_refundRequest_afterDeadlineByAnyone() public {
        uint64 deadline = uint64(block.timestamp + 1 days);
        uint256 req = _post(carol, 200 ether, deadline);
        uint256 algo = _list(alice, 0, 0, 0);
        vm.prank(alice);
        market.submitToRequest(req, algo);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAlgorithmMarketplace.MarketplaceRequestDeadlineNotPassed.selector,
                req,
                deadline
            )
        );
        market.refundRequest(req);
        vm.warp(deadline);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAlgorithmMarketplace.MarketplaceRequestDeadlineNotPassed.selector,
                req,
                deadline
            )
        );
        market.refundRequest(req);
        vm.warp(uint256(deadline) + 1);
        vm.expectEmit(true, true, true, true, address(market));
        emit IAlgorithmMarketplace.RequestRefunded(req, carol, 200 ether);
        vm.prank(dave);
        market.refundRequest(req);
        assertEq(token.balanceOf(carol), FUNDS);
        assertEq(token.balanceOf(address(market)), 0);
        assertEq(uint8(market.getRequest(req).status), uint8(IAlgorithmMarketplace.RequestStatus.Refunded));
        vm.expectRevert(
            abi.encodeWithSelector(
                IAlgorithmMarketplace.MarketplaceRequestNotOpen.selector,
                req,
                IAlgorithmMarketplace.RequestStatus.Refunded
            )
        );
        market.refundRequest(req);
    }

    function test_cancelRequest_refundsWithoutSubmissions() public {
        uint256 req = _post(carol, 200 ether, uint64(block.timestamp + 1 days));
        vm.expectEmit(true, true, true, true, address(market));
        emit IAlgorithmMarketplace.RequestCancelled(req, carol, 200 ether);
        vm.prank(carol);
        market.cancelRequest(req);
        assertEq(token.balanceOf(carol), FUNDS);
        assertEq(uint8(market.getRequest(req).status), uint8(IAlgorithmMarketplace.RequestStatus.Cancelled));
        uint256 algo = _list(alice, 0, 0, 0);
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAlgorithmMarketplace.MarketplaceRequestNotOpen.selector,
                req,
                IAlgorithmMarketplace.RequestStatus.Cancelled
            )
        );
        market.submitToRequest(req, algo);
    }

    function test_cancelRequest_reverts() public {
        uint256 req = _post(carol, 200 ether, uint64(block.timestamp + 1 days));
        vm.prank(bob);
        vm.expectRevert(
            abi.encodeWithSelector(IAlgorithmMarketplace.MarketplaceNotRequestCustomer.selector, req, bob)
        );
        market.cancelRequest(req);
        uint256 algo = _list(alice, 0, 0, 0);
        vm.prank(alice);
        market.submitToRequest(req, algo);
        vm.prank(carol);
        vm.expectRevert(
            abi.encodeWithSelector(IAlgorithmMarketplace.MarketplaceRequestHasSubmissions.selector, req)
        );
        market.cancelRequest(req);
        assertEq(market.totalEscrowed(), 200 ether);
    }

    // ------------------------------------------------------------------ governance

    function test_setters_onlyGovernance() public {
        bytes memory err = abi.encodeWithSelector(IGovernedUUPS.GovernedUnauthorized.selector, alice);
        address v2 = address(new AlgorithmMarketplaceV2());
        vm.startPrank(alice);
        vm.expectRevert(err);
        market.setProtocolFeeBps(1);
        vm.expectRevert(err);
        market.setParentShareBps(1);
        vm.expectRevert(err);
        market.setTreasury(alice);
        vm.expectRevert(err);
        market.setPublisher(alice, true);
        vm.expectRevert(err);
        market.upgradeToAndCall(v2, "");
        vm.stopPrank();
    }

    function test_setters_updateAndEmit() public {
        vm.startPrank(governance);
        vm.expectEmit(true, true, true, true, address(market));
        emit IAlgorithmMarketplace.ProtocolFeeUpdated(FEE_BPS, 2_000);
        market.setProtocolFeeBps(2_000);
        vm.expectEmit(true, true, true, true, address(market));
        emit IAlgorithmMarketplace.ParentShareUpdated(SHARE_BPS, 5_000);
        market.setParentShareBps(5_000);
        vm.expectEmit(true, true, true, true, address(market));
        emit IAlgorithmMarketplace.TreasuryUpdated(treasury, dave);
        market.setTreasury(dave);
        vm.expectEmit(true, true, true, true, address(market));
        emit IAlgorithmMarketplace.PublisherSet(carol, true);
        market.setPublisher(carol, true);
        vm.stopPrank();
        assertEq(market.protocolFeeBps(), 2_000);
        assertEq(market.parentShareBps(), 5_000);
        assertEq(market.treasury(), dave);
        assertTrue(market.isPublisher(carol));
    }

    function test_setters_revertOnBoundsAndZeroAddress() public {
        vm.startPrank(governance);
        vm.expectRevert(
            abi.encodeWithSelector(IAlgorithmMarketplace.MarketplaceFeeTooHigh.selector, 2_001, 2_000)
        );
        market.setProtocolFeeBps(2_001);
        vm.expectRevert(
            abi.encodeWithSelector(IAlgorithmMarketplace.MarketplaceParentShareTooHigh.selector, 5_001, 5_000)
        );
        market.setParentShareBps(5_001);
        vm.expectRevert(IGovernedUUPS.GovernedZeroAddress.selector);
        market.setTreasury(address(0));
        vm.expectRevert(IGovernedUUPS.GovernedZeroAddress.selector);
        market.setPublisher(address(0), true);
        vm.stopPrank();
        assertEq(market.protocolFeeBps(), FEE_BPS);
    }

    // ------------------------------------------------------------------ upgrade

    function test_upgrade_keepsState() public {
        uint256 parent = _list(alice, 0, 1 ether, 10 ether);
        uint256 child = _list(bob, parent, 1 ether, 10 ether);
        vm.prank(carol);
        market.buyLicence(child, 10 ether);
        uint256 req = _post(dave, 7 ether, uint64(block.timestamp + 1 days));
        AlgorithmMarketplaceV2 v2 = new AlgorithmMarketplaceV2();
        vm.expectEmit(true, true, true, true, address(market));
        emit AlgorithmMarketplaceV2.UpgradedToV2();
        vm.prank(governance);
        market.upgradeToAndCall(address(v2), abi.encodeCall(AlgorithmMarketplaceV2.initializeV2, ()));
        assertEq(AlgorithmMarketplaceV2(address(market)).version(), 2);
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        AlgorithmMarketplaceV2(address(market)).initializeV2();
        assertEq(market.algorithmCount(), 2);
        assertEq(market.getAlgorithm(child).parentId, parent);
        assertEq(market.getAlgorithm(child).packageCid, CID);
        assertTrue(market.hasLicence(carol, child));
        assertEq(market.getRequest(req).bounty, 7 ether);
        assertEq(market.totalEscrowed(), 7 ether);
        assertEq(market.protocolFeeBps(), FEE_BPS);
        assertEq(market.governance(), governance);
        assertTrue(market.isPublisher(publisher));
        vm.prank(dave);
        market.buyLicence(child, 10 ether);
        assertTrue(market.hasLicence(dave, child));
    }

    // ------------------------------------------------------------------ fuzz

    function test_fuzz_buyLicence_splitConservesPrice(uint256 price, uint16 feeBps, uint16 shareBps) public {
        price = bound(price, 1, FUNDS);
        feeBps = uint16(bound(feeBps, 0, 2_000));
        shareBps = uint16(bound(shareBps, 0, 5_000));
        vm.startPrank(governance);
        market.setProtocolFeeBps(feeBps);
        market.setParentShareBps(shareBps);
        vm.stopPrank();
        uint256 parent = _list(alice, 0, 0, price);
        uint256 child = _list(bob, parent, 0, price);
        (uint256 devAmt, uint256 parentAmt, uint256 fee) = market.quoteSplit(child, price);
        assertEq(devAmt + parentAmt + fee, price);
        assertEq(fee, (price * feeBps) / BPS);
        assertEq(parentAmt, ((price - fee) * shareBps) / BPS);
        vm.prank(carol);
        market.buyLicence(child, price);
        assertEq(token.balanceOf(alice), FUNDS + parentAmt);
        assertEq(token.balanceOf(bob), FUNDS + devAmt);
        assertEq(token.balanceOf(treasury), fee);
        assertEq(token.balanceOf(carol), FUNDS - price);
        assertEq(token.balanceOf(address(market)), 0);
    }

    function test_fuzz_payUse_callerPaysExactPrice(uint256 price, uint16 feeBps, address payer) public {
        price = bound(price, 0, FUNDS);
        feeBps = uint16(bound(feeBps, 0, 2_000));
        vm.prank(governance);
        market.setProtocolFeeBps(feeBps);
        uint256 id = _list(alice, 0, price, 0);
        vm.prank(dave);
        market.payUse(id, payer);
        assertEq(token.balanceOf(dave), FUNDS - price);
        assertEq(token.balanceOf(treasury), (price * feeBps) / BPS);
        assertEq(token.balanceOf(alice), FUNDS + price - (price * feeBps) / BPS);
    }

    function test_fuzz_setProtocolFeeBps_bounded(uint16 feeBps) public {
        vm.prank(governance);
        if (feeBps > 2_000) {
            vm.expectRevert(
                abi.encodeWithSelector(IAlgorithmMarketplace.MarketplaceFeeTooHigh.selector, feeBps, 2_000)
            );
            market.setProtocolFeeBps(feeBps);
            assertEq(market.protocolFeeBps(), FEE_BPS);
        } else {
            market.setProtocolFeeBps(feeBps);
            assertEq(market.protocolFeeBps(), feeBps);
        }
    }

    function test_fuzz_request_bountyPathsConserve(uint256 bounty, uint256 duration, bool accept) public {
        bounty = bound(bounty, 1, FUNDS);
        duration = bound(duration, 1, 365 days);
        uint64 deadline = uint64(block.timestamp + duration);
        uint256 req = _post(carol, bounty, deadline);
        uint256 algo = _list(alice, 0, 0, 0);
        vm.prank(alice);
        market.submitToRequest(req, algo);
        assertEq(token.balanceOf(address(market)), bounty);
        if (accept) {
            vm.prank(carol);
            market.acceptSubmission(req, algo);
            uint256 fee = (bounty * FEE_BPS) / BPS;
            assertEq(token.balanceOf(alice), FUNDS + bounty - fee);
            assertEq(token.balanceOf(treasury), fee);
        } else {
            vm.warp(uint256(deadline) + 1);
            market.refundRequest(req);
            assertEq(token.balanceOf(carol), FUNDS);
        }
        assertEq(token.balanceOf(address(market)), 0);
        assertEq(market.totalEscrowed(), 0);
    }

    function test_fuzz_list_cidLengthBound(uint8 len) public {
        string memory cid = _repeat(len);
        vm.prank(alice);
        if (len == 0 || len > 128) {
            vm.expectRevert(IAlgorithmMarketplace.MarketplaceInvalidCid.selector);
            market.list(cid, MODEL, SCHEMA, 0, 0, 0, "");
        } else {
            uint256 id = market.list(cid, MODEL, SCHEMA, 0, 0, 0, "");
            assertEq(bytes(market.getAlgorithm(id).packageCid).length, len);
        }
    }

    // ------------------------------------------------------------------ helpers

    function _initData(
        address gov,
        address tok,
        address treas,
        uint16 fee,
        uint16 share
    ) internal pure returns (bytes memory) {
        return abi.encodeCall(AlgorithmMarketplace.initialize, (gov, IERC20(tok), treas, fee, share));
    }

    function _repeat(uint256 len) internal pure returns (string memory) {
        bytes memory b = new bytes(len);
        for (uint256 i; i < len; ++i) b[i] = "b";
        return string(b);
    }
}
