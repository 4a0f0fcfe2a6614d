// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {FineTuningFixture} from "../utils/FineTuningFixture.sol";
import {IFineTuning} from "../../contracts/interfaces/IFineTuning.sol";
import {FineTuningHandler} from "./handlers/FineTuningHandler.t.sol";

/// @notice FineTuning invariants (PROTOCOL.md §7.7): the contract holds exactly the unpaid reward of all bounties
///         (pool less refund, attestor pay, claims and sweeps), reservations and attestor pay never exceed a pool,
///         claims never exceed a round's total, no double claim, no challenger share to a party of the bounty, and
///         every bounty reaches Finalized through permissionless calls from any phase once its deadlines passed.
contract FineTuningInvariantTest is FineTuningFixture {
    FineTuningHandler internal handler;

    function setUp() public override {
        super.setUp();
        handler = new FineTuningHandler(
            token,
            ft,
            staking,
            [customer, refiner, faucet],
            algorithmId,
            trainers,
            attestorSet
        );
        bytes4[] memory selectors = new bytes4[](5);
        selectors[0] = FineTuningHandler.createBounty.selector;
        selectors[1] = FineTuningHandler.playRound.selector;
        selectors[2] = FineTuningHandler.claim.selector;
        selectors[3] = FineTuningHandler.sweep.selector;
        selectors[4] = FineTuningHandler.drainAll.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
        targetContract(address(handler));
    }

    function invariant_escrowConservation() public view {
        uint256 held = 0;
        uint256 n = handler.bountyCount();
        for (uint256 k = 0; k < n; ++k) {
            uint256 id = handler.bounties(k);
            IFineTuning.Bounty memory b = ft.getBounty(id);
            assertLe(
                uint256(b.reserved) + b.attestorsPaid,
                b.rewardPool,
                "reserved and attestor pay within pool"
            );
            uint256 paid = uint256(b.refunded) + b.attestorsPaid;
            for (uint256 r = 0; r < b.rounds; ++r) {
                IFineTuning.RoundInfo memory info = ft.getRound(id, r);
                if (info.status != IFineTuning.RoundStatus.Accepted) continue;
                assertLe(info.claimed, info.payoutTotal, "claims within round total");
                paid += info.swept ? info.payoutTotal : info.claimed;
            }
            held += b.rewardPool - paid;
        }
        assertEq(ft.totalHeld(), held);
        assertEq(token.balanceOf(address(ft)), held);
    }

    function invariant_noDoubleClaim() public view {
        assertEq(handler.ghostDoubleClaims(), 0);
        assertEq(handler.ghostValidClaimFailed(), 0);
    }

    function invariant_bountiesTerminate() public view {
        assertEq(handler.ghostNotTerminal(), 0);
    }

    function invariant_noChallengerRewardToAParty() public view {
        assertEq(handler.ghostPartyChallenger(), 0);
    }
}
