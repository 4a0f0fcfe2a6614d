// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ProtocolFixture} from "../utils/ProtocolFixture.sol";
import {IAlgorithmMarketplace} from "../../contracts/interfaces/IAlgorithmMarketplace.sol";
import {MarketplaceHandler} from "./handlers/MarketplaceHandler.t.sol";

/// @dev Run with its handler so Hardhat compiles the handler's artifact:
///      npx hardhat test solidity test/invariant/MarketplaceInvariant.t.sol \
///        test/invariant/handlers/MarketplaceHandler.t.sol
contract MarketplaceInvariantTest is ProtocolFixture {
    MarketplaceHandler internal handler;
    address internal treasury = makeAddr("treasury");

    function _deployConfig() internal view override returns (Config memory c) {
        c = super._deployConfig();
        _faucetOnlyGenesis(c);
        c.marketTreasury = treasury;
        c.marketFeeBps = 500;
        c.parentShareBps = 2_000;
    }

    function setUp() public override {
        super.setUp();
        address[] memory actors = new address[](4);
        actors[0] = alice;
        actors[1] = bob;
        actors[2] = carol;
        actors[3] = dave;
        for (uint256 i; i < actors.length; ++i) _fundAndApprove(actors[i], 10_000_000 ether, address(market));
        handler = new MarketplaceHandler(token, market, governance, actors);
        targetContract(address(handler));
    }

    /// @notice Escrow conservation: the marketplace holds exactly the bounties of open requests.
    function invariant_escrowEqualsOpenBounties() public view {
        assertEq(token.balanceOf(address(market)), handler.ghostOpenBounties());
        assertEq(market.totalEscrowed(), handler.ghostOpenBounties());
        assertEq(handler.ghostBountiesPosted() - handler.ghostBountiesPaidOut(), handler.ghostOpenBounties());
    }

    /// @notice Every request's on-chain status and bounty match the ghost copy; terminal states never reopen.
    function invariant_requestsMatchGhosts() public view {
        uint256 n = market.requestCount();
        uint256 open;
        for (uint256 req = 1; req <= n; ++req) {
            IAlgorithmMarketplace.Request memory r = market.getRequest(req);
            assertEq(uint8(r.status), uint8(handler.ghostStatus(req)));
            assertEq(r.bounty, handler.ghostBounty(req));
            assertEq(r.submissionCount, handler.submissionCount(req));
            if (r.status == IAlgorithmMarketplace.RequestStatus.Open) open += r.bounty;
        }
        assertEq(open, token.balanceOf(address(market)));
    }

    /// @notice Every expired open request could be refunded permissionlessly (no refund ever failed).
    function invariant_expiredRequestsReachTerminalState() public view {
        assertEq(handler.ghostTerminalFailures(), 0);
    }

    /// @notice Licences bought are never lost, including across the upgrade the handler may perform.
    function invariant_licencesPersist() public view {
        uint256 n = handler.licenceCount();
        for (uint256 i; i < n; ++i) {
            (address holder, uint256 id) = handler.licenceAt(i);
            assertTrue(market.hasLicence(holder, id));
        }
    }

    /// @notice Governance bounds always hold.
    function invariant_parametersBounded() public view {
        assertLe(market.protocolFeeBps(), 2_000);
        assertLe(market.parentShareBps(), 5_000);
        assertEq(market.governance(), address(timelock));
    }

    /// @notice At the end of each run every request still open is refunded after its deadline and ends terminal.
    function afterInvariant() public {
        vm.warp(block.timestamp + 31 days);
        handler.refundExpired(0);
        uint256 n = market.requestCount();
        for (uint256 req = 1; req <= n; ++req) {
            assertTrue(market.getRequest(req).status != IAlgorithmMarketplace.RequestStatus.Open);
        }
        assertEq(token.balanceOf(address(market)), 0);
        assertEq(handler.ghostTerminalFailures(), 0);
    }
}
