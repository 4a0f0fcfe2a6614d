// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ProtocolFixture} from "./ProtocolFixture.sol";
import {IGovernedUUPS} from "../../contracts/interfaces/IGovernedUUPS.sol";

/// @notice The fixture leaves governance exactly as the deploy script does.
contract DeploymentTest is ProtocolFixture {
    function test_deploy_growthPoolAllocation() public view {
        assertEq(token.balanceOf(growthPoolAddress), (SUPPLY * 900) / BPS);
    }

    function test_deploy_genesisAllocations() public view {
        assertEq(token.totalSupply(), SUPPLY);
        assertEq(token.balanceOf(alice), GENESIS_VOTER);
        assertEq(token.balanceOf(bob), GENESIS_VOTER);
        assertEq(token.balanceOf(carol), GENESIS_MINOR);
        assertEq(token.balanceOf(dave), GENESIS_MINOR);
        assertEq(token.balanceOf(faucet), GENESIS_FAUCET);
        uint256 treasury =
            SUPPLY - (SUPPLY * 900) / BPS - 2 * GENESIS_VOTER - 2 * GENESIS_MINOR - GENESIS_FAUCET;
        assertEq(token.balanceOf(address(timelock)), treasury);
    }

    function test_deploy_timelockRoles() public view {
        assertEq(timelock.getMinDelay(), TIMELOCK_MIN_DELAY);
        assertTrue(timelock.hasRole(timelock.PROPOSER_ROLE(), address(governor)));
        assertTrue(timelock.hasRole(timelock.CANCELLER_ROLE(), address(governor)));
        assertTrue(timelock.hasRole(timelock.EXECUTOR_ROLE(), address(0)));
        assertFalse(timelock.hasRole(timelock.PROPOSER_ROLE(), deployer));
        assertFalse(timelock.hasRole(timelock.CANCELLER_ROLE(), deployer));
        assertFalse(timelock.hasRole(timelock.EXECUTOR_ROLE(), deployer));
        assertFalse(timelock.hasRole(timelock.DEFAULT_ADMIN_ROLE(), deployer));
        // The timelock administers itself only.
        assertTrue(timelock.hasRole(timelock.DEFAULT_ADMIN_ROLE(), address(timelock)));
    }

    function test_deploy_governanceIsTimelock() public view {
        assertEq(staking.governance(), address(timelock));
        assertEq(registry.governance(), address(timelock));
        assertEq(staking.treasury(), address(timelock));
        assertEq(address(governor.timelock()), address(timelock));
        assertEq(address(governor.token()), address(token));
    }

    function test_deploy_governorParameters() public view {
        assertEq(governor.votingDelay(), VOTING_DELAY);
        assertEq(governor.votingPeriod(), VOTING_PERIOD);
        assertEq(governor.proposalThreshold(), PROPOSAL_THRESHOLD);
        assertEq(governor.quorumNumerator(), QUORUM_PERCENT);
        assertEq(governor.CLOCK_MODE(), "mode=timestamp");
        assertEq(governor.clock(), block.timestamp);
        assertEq(governor.name(), "DMLGovernor");
    }

    function test_deploy_everyProxyGovernedByTimelock() public view {
        address[9] memory proxies = _proxies();
        for (uint256 i = 0; i < proxies.length; ++i) {
            assertEq(IGovernedUUPS(proxies[i]).governance(), address(timelock), "proxy governance");
        }
        assertEq(governance, address(timelock));
    }

    function test_deploy_wiringAsTheScript() public view {
        assertEq(address(pool), growthPoolAddress);
        assertTrue(staking.isSlasher(address(pool)));
        assertTrue(staking.isSlasher(address(ra)));
        assertTrue(staking.isSlasher(address(ft)));
        assertEq(jm.moduleOf(jm.ATTESTATION_MODULE()), address(ra));
        assertEq(jm.moduleOf(jm.SETTLEMENT_MODULE()), address(settlement));
        assertTrue(market.isPublisher(address(ft)));
        assertTrue(coordinator.consumerIsAdded(subId, address(pool)));
        assertEq(market.treasury(), address(timelock));
        assertEq(pool.vrfConfig().coordinator, address(coordinator));
    }
}
