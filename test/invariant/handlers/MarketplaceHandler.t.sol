// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {DMLToken} from "../../../contracts/DMLToken.sol";
import {AlgorithmMarketplace} from "../../../contracts/AlgorithmMarketplace.sol";
import {IAlgorithmMarketplace} from "../../../contracts/interfaces/IAlgorithmMarketplace.sol";
import {AlgorithmMarketplaceV2} from "../../mocks/AlgorithmMarketplaceV2.sol";

/// @notice Drives AlgorithmMarketplace with bounded inputs from several actors; never reverts. Keeps ghost
///         copies of licences and requests so the invariants can check the contract (also across an upgrade).
/// @dev A `.t.sol` file so Hardhat treats it as a root and emits the artifact the invariant fuzzer needs.
contract MarketplaceHandler is Test {
    bytes32 internal constant SCHEMA = keccak256("email/rfc822-v1");
    bytes32 internal constant MODEL = 0xd7c4b743081e6ccdf263598ab3a94f5df38c9f2aec014973c0806819d7762f26;
    string internal constant CID = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";
    uint256 internal constant MAX_PRICE = 1_000 ether;

    DMLToken public immutable token;
    AlgorithmMarketplace public immutable market;
    address public immutable timelock;
    address[] public actors;

    // ghosts
    uint256 public ghostOpenBounties;
    uint256 public ghostBountiesPosted;
    uint256 public ghostBountiesPaidOut; // accepted (developer + fee) or refunded / cancelled
    uint256 public ghostSalesVolume; // licence + use payments, all passed straight through
    uint256 public ghostTerminalFailures; // a permissionless refund of an expired open request failed
    bool public upgraded;
    mapping(uint256 requestId => IAlgorithmMarketplace.RequestStatus) public ghostStatus;
    mapping(uint256 requestId => uint256) public ghostBounty;
    mapping(uint256 requestId => uint256[]) internal _submissions;
    address[] internal _licenceHolders;
    uint256[] internal _licenceAlgos;
    mapping(bytes4 selector => uint256) public calls;

    constructor(DMLToken token_, AlgorithmMarketplace market_, address timelock_, address[] memory actors_) {
        token = token_;
        market = market_;
        timelock = timelock_;
        actors = actors_;
    }

    // ------------------------------------------------------------------ actions

    function list(uint256 actorSeed, uint256 usePrice, uint256 licencePrice, uint256 parentSeed) external {
        address dev = _actor(actorSeed);
        usePrice = bound(usePrice, 0, MAX_PRICE);
        licencePrice = bound(licencePrice, 0, MAX_PRICE);
        uint256 count = market.algorithmCount();
        uint256 parentId = count == 0 ? 0 : bound(parentSeed, 0, count);
        vm.prank(dev);
        market.list(CID, MODEL, SCHEMA, usePrice, licencePrice, parentId, "");
        calls[this.list.selector]++;
    }

    function buyLicence(uint256 actorSeed, uint256 algoSeed) external {
        uint256 id = _algo(algoSeed);
        if (id == 0) return;
        address customer = _actor(actorSeed);
        IAlgorithmMarketplace.Algorithm memory a = market.getAlgorithm(id);
        if (a.deprecated || a.licencePrice == 0 || market.hasLicence(customer, id)) return;
        uint256 before = token.balanceOf(address(market));
        vm.prank(customer);
        market.buyLicence(id, a.licencePrice);
        assertEq(token.balanceOf(address(market)), before, "sale left tokens in the marketplace");
        _licenceHolders.push(customer);
        _licenceAlgos.push(id);
        ghostSalesVolume += a.licencePrice;
        calls[this.buyLicence.selector]++;
    }

    function payUse(uint256 actorSeed, uint256 algoSeed, address payer) external {
        uint256 id = _algo(algoSeed);
        if (id == 0) return;
        IAlgorithmMarketplace.Algorithm memory a = market.getAlgorithm(id);
        if (a.deprecated) return;
        address caller = _actor(actorSeed);
        uint256 callerBefore = token.balanceOf(caller);
        vm.prank(caller);
        market.payUse(id, payer);
        // The caller pays exactly the price unless it is also a recipient of the split.
        if (caller != a.developer && caller != market.treasury()) {
            uint256 parentDev = a.parentId == 0 ? 0 : uint160(market.getAlgorithm(a.parentId).developer);
            if (uint160(caller) != parentDev) assertEq(callerBefore - token.balanceOf(caller), a.usePrice);
        }
        ghostSalesVolume += a.usePrice;
        calls[this.payUse.selector]++;
    }

    function updatePrices(uint256 algoSeed, uint256 usePrice, uint256 licencePrice) external {
        uint256 id = _algo(algoSeed);
        if (id == 0) return;
        IAlgorithmMarketplace.Algorithm memory a = market.getAlgorithm(id);
        if (a.deprecated) return;
        vm.prank(a.developer);
        market.updatePrices(id, bound(usePrice, 0, MAX_PRICE), bound(licencePrice, 0, MAX_PRICE));
        calls[this.updatePrices.selector]++;
    }

    function deprecate(uint256 algoSeed) external {
        uint256 id = _algo(algoSeed);
        if (id == 0) return;
        IAlgorithmMarketplace.Algorithm memory a = market.getAlgorithm(id);
        if (a.deprecated) return;
        vm.prank(a.developer);
        market.deprecate(id);
        calls[this.deprecate.selector]++;
    }

    function postRequest(uint256 actorSeed, uint256 bounty, uint256 duration) external {
        address customer = _actor(actorSeed);
        bounty = bound(bounty, 1, MAX_PRICE);
        duration = bound(duration, 1, 30 days);
        vm.prank(customer);
        uint256 id = market.postRequest(CID, SCHEMA, bounty, uint64(block.timestamp + duration));
        ghostStatus[id] = IAlgorithmMarketplace.RequestStatus.Open;
        ghostBounty[id] = bounty;
        ghostOpenBounties += bounty;
        ghostBountiesPosted += bounty;
        calls[this.postRequest.selector]++;
    }

    function submit(uint256 requestSeed, uint256 algoSeed) external {
        uint256 req = _request(requestSeed);
        uint256 id = _algo(algoSeed);
        if (req == 0 || id == 0) return;
        IAlgorithmMarketplace.Request memory r = market.getRequest(req);
        IAlgorithmMarketplace.Algorithm memory a = market.getAlgorithm(id);
        if (r.status != IAlgorithmMarketplace.RequestStatus.Open || block.timestamp > r.deadline) return;
        if (a.deprecated || market.isSubmitted(req, id)) return;
        vm.prank(a.developer);
        market.submitToRequest(req, id);
        _submissions[req].push(id);
        calls[this.submit.selector]++;
    }

    function accept(uint256 requestSeed, uint256 submissionSeed) external {
        uint256 req = _request(requestSeed);
        if (req == 0 || _submissions[req].length == 0) return;
        IAlgorithmMarketplace.Request memory r = market.getRequest(req);
        if (r.status != IAlgorithmMarketplace.RequestStatus.Open || block.timestamp > r.deadline) return;
        uint256 id = _submissions[req][submissionSeed % _submissions[req].length];
        vm.prank(r.customer);
        market.acceptSubmission(req, id);
        _close(req, IAlgorithmMarketplace.RequestStatus.Accepted);
        calls[this.accept.selector]++;
    }

    function cancel(uint256 requestSeed) external {
        uint256 req = _request(requestSeed);
        if (req == 0) return;
        IAlgorithmMarketplace.Request memory r = market.getRequest(req);
        if (r.status != IAlgorithmMarketplace.RequestStatus.Open || r.submissionCount != 0) return;
        vm.prank(r.customer);
        market.cancelRequest(req);
        _close(req, IAlgorithmMarketplace.RequestStatus.Cancelled);
        calls[this.cancel.selector]++;
    }

    /// @dev Anyone refunds every expired open request; a failure is recorded, never thrown.
    function refundExpired(uint256 actorSeed) external {
        address caller = _actor(actorSeed);
        uint256 n = market.requestCount();
        for (uint256 req = 1; req <= n; ++req) {
            if (ghostStatus[req] != IAlgorithmMarketplace.RequestStatus.Open) continue;
            if (block.timestamp <= market.getRequest(req).deadline) continue;
            vm.prank(caller);
            try market.refundRequest(req) {
                _close(req, IAlgorithmMarketplace.RequestStatus.Refunded);
            } catch {
                ++ghostTerminalFailures;
            }
        }
        calls[this.refundExpired.selector]++;
    }

    function warp(uint256 secondsAhead) external {
        vm.warp(block.timestamp + bound(secondsAhead, 1, 10 days));
        calls[this.warp.selector]++;
    }

    function setFees(uint16 feeBps, uint16 shareBps) external {
        vm.startPrank(timelock);
        market.setProtocolFeeBps(uint16(bound(feeBps, 0, 2_000)));
        market.setParentShareBps(uint16(bound(shareBps, 0, 5_000)));
        vm.stopPrank();
        calls[this.setFees.selector]++;
    }

    function upgrade() external {
        if (upgraded) return;
        AlgorithmMarketplaceV2 v2 = new AlgorithmMarketplaceV2();
        vm.prank(timelock);
        market.upgradeToAndCall(address(v2), abi.encodeCall(AlgorithmMarketplaceV2.initializeV2, ()));
        upgraded = true;
        calls[this.upgrade.selector]++;
    }

    // ------------------------------------------------------------------ views for invariants

    function licenceCount() external view returns (uint256) {
        return _licenceHolders.length;
    }

    function licenceAt(uint256 i) external view returns (address, uint256) {
        return (_licenceHolders[i], _licenceAlgos[i]);
    }

    function submissionCount(uint256 req) external view returns (uint256) {
        return _submissions[req].length;
    }

    // ------------------------------------------------------------------ helpers

    function _close(uint256 req, IAlgorithmMarketplace.RequestStatus status) internal {
        ghostStatus[req] = status;
        ghostOpenBounties -= ghostBounty[req];
        ghostBountiesPaidOut += ghostBounty[req];
    }

    function _actor(uint256 seed) internal view returns (address) {
        return actors[seed % actors.length];
    }

    function _algo(uint256 seed) internal view returns (uint256) {
        uint256 n = market.algorithmCount();
        return n == 0 ? 0 : (seed % n) + 1;
    }

    function _request(uint256 seed) internal view returns (uint256) {
        uint256 n = market.requestCount();
        return n == 0 ? 0 : (seed % n) + 1;
    }
}
