// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Vm} from "forge-std/Vm.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IGovernor} from "@openzeppelin/contracts/governance/IGovernor.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {ERC1967Utils} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Utils.sol";
import {ProtocolFixture} from "../utils/ProtocolFixture.sol";
import {INodeStaking} from "../../contracts/interfaces/INodeStaking.sol";
import {IGovernedUUPS} from "../../contracts/interfaces/IGovernedUUPS.sol";
import {NodeStakingV2} from "../mocks/NodeStakingV2.sol";
import {DeviceRegistryV2} from "../mocks/DeviceRegistryV2.sol";

contract GovernanceTest is ProtocolFixture {
    INodeStaking.Role internal constant AGG = INodeStaking.Role.Aggregator;
    bytes32 internal constant DEVICE_SCHEMA = keccak256("schema:email-text/v1");
    address internal operator = makeAddr("operator");
    address internal device = makeAddr("device");
    address internal grantee = makeAddr("grantee");

    function _implementation(address proxy) internal view returns (address) {
        return address(uint160(uint256(vm.load(proxy, ERC1967Utils.IMPLEMENTATION_SLOT))));
    }

    function test_upgrade_viaProposal_keepsStorage() public {
        _stakeAs(operator, AGG, MIN_STAKE_AGGREGATOR * 3);
        _registerDevice(device, DEVICE_SCHEMA);
        NodeStakingV2 stakingV2 = new NodeStakingV2();
        DeviceRegistryV2 registryV2 = new DeviceRegistryV2();

        address[] memory targets = new address[](2);
        targets[0] = address(staking);
        targets[1] = address(registry);
        uint256[] memory values = new uint256[](2);
        bytes[] memory calldatas = new bytes[](2);
        calldatas[0] = abi.encodeCall(
            UUPSUpgradeable.upgradeToAndCall,
            (address(stakingV2), abi.encodeCall(NodeStakingV2.initializeV2, (64)))
        );
        calldatas[1] = abi.encodeCall(UUPSUpgradeable.upgradeToAndCall, (address(registryV2), ""));
        _executeProposal(targets, values, calldatas, "DIP-1: upgrade NodeStaking and DeviceRegistry to V2");

        assertEq(_implementation(address(staking)), address(stakingV2));
        assertEq(_implementation(address(registry)), address(registryV2));
        NodeStakingV2 s2 = NodeStakingV2(address(staking));
        assertEq(s2.version(), 2);
        assertEq(s2.maxOperatorsPerRole(), 64);
        // V1 state survived and is readable through both layouts.
        assertEq(s2.stakeOf(operator, AGG), MIN_STAKE_AGGREGATOR * 3);
        assertEq(s2.bondedViaV2(operator, AGG), MIN_STAKE_AGGREGATOR * 3);
        assertTrue(s2.isActive(operator, AGG));
        assertEq(s2.activeAt(AGG, 0), operator);
        assertEq(s2.governance(), address(timelock));
        assertEq(s2.minStake(AGG), MIN_STAKE_AGGREGATOR);
        DeviceRegistryV2 r2 = DeviceRegistryV2(address(registry));
        assertTrue(r2.isEligible(device, DEVICE_SCHEMA, 1, 0));
        assertEq(r2.sessionKeyOf(device), _sessionKeyOf(device), "appended session-key storage survives");
        vm.prank(device);
        r2.heartbeat();
        assertEq(r2.heartbeats(), 1);
        // V1 logic still works after the upgrade.
        vm.prank(operator);
        s2.requestUnbond(AGG, 1 ether);
        assertEq(s2.stakeInfo(operator, AGG).unbonding, 1 ether);
        // The reinitializer cannot run twice, and V2 setters are governance-only.
        vm.expectRevert(abi.encodeWithSignature("InvalidInitialization()"));
        s2.initializeV2(1);
        vm.expectRevert(abi.encodeWithSelector(IGovernedUUPS.GovernedUnauthorized.selector, alice));
        vm.prank(alice);
        s2.setMaxOperatorsPerRole(1);
    }

    function test_upgrade_byAnyoneButTimelock_reverts() public {
        NodeStakingV2 stakingV2 = new NodeStakingV2();
        DeviceRegistryV2 registryV2 = new DeviceRegistryV2();
        address[3] memory callers = [alice, address(governor), deployer];
        for (uint256 i = 0; i < callers.length; ++i) {
            vm.expectRevert(abi.encodeWithSelector(IGovernedUUPS.GovernedUnauthorized.selector, callers[i]));
            vm.prank(callers[i]);
            staking.upgradeToAndCall(address(stakingV2), "");
            vm.expectRevert(abi.encodeWithSelector(IGovernedUUPS.GovernedUnauthorized.selector, callers[i]));
            vm.prank(callers[i]);
            registry.upgradeToAndCall(address(registryV2), "");
        }
        assertEq(_implementation(address(staking)), address(stakingImpl));
    }

    function test_treasuryGrant_transfersFromTimelock() public {
        uint256 amount = 2_500_000 ether;
        uint256 treasuryBefore = token.balanceOf(address(timelock));
        _executeSingle(
            address(token),
            abi.encodeCall(IERC20.transfer, (grantee, amount)),
            "PIP-7: grant 2.5M DML to grantee for the subgraph"
        );
        assertEq(token.balanceOf(grantee), amount);
        assertEq(token.balanceOf(address(timelock)), treasuryBefore - amount);
    }

    function test_parameterChange_viaProposal() public {
        vm.recordLogs();
        _executeSingle(
            address(staking),
            abi.encodeCall(INodeStaking.setChallengerShareBps, (2_500)),
            "DIP-2: raise challenger share"
        );
        assertEq(staking.challengerShareBps(), 2_500);
        bool seen;
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i = 0; i < logs.length; ++i) {
            if (
                logs[i].emitter == address(staking) &&
                logs[i].topics[0] == INodeStaking.ChallengerShareSet.selector
            ) {
                assertEq(abi.decode(logs[i].data, (uint16)), 2_500);
                seen = true;
            }
        }
        assertTrue(seen, "ChallengerShareSet emitted by the timelock's call");
    }

    function test_governorSettings_onlyViaProposal() public {
        vm.expectRevert(abi.encodeWithSelector(IGovernor.GovernorOnlyExecutor.selector, alice));
        vm.prank(alice);
        governor.setVotingPeriod(1 days);
        _executeSingle(
            address(governor),
            abi.encodeCall(governor.setVotingPeriod, (3 days)),
            "DIP-3: period"
        );
        assertEq(governor.votingPeriod(), 3 days);
    }

    function test_propose_belowThreshold_reverts() public {
        _delegateVoters();
        address[] memory targets = new address[](1);
        targets[0] = address(token);
        uint256[] memory values = new uint256[](1);
        bytes[] memory calldatas = new bytes[](1);
        calldatas[0] = abi.encodeCall(IERC20.transfer, (grantee, 1));
        vm.expectRevert(
            abi.encodeWithSelector(
                IGovernor.GovernorInsufficientProposerVotes.selector,
                grantee,
                0,
                PROPOSAL_THRESHOLD
            )
        );
        vm.prank(grantee);
        governor.propose(targets, values, calldatas, "x");
    }

    function test_vote_belowQuorum_defeated() public {
        vm.prank(carol);
        token.delegate(carol);
        vm.warp(block.timestamp + 1);
        address[] memory targets = new address[](1);
        targets[0] = address(token);
        uint256[] memory values = new uint256[](1);
        bytes[] memory calldatas = new bytes[](1);
        calldatas[0] = abi.encodeCall(IERC20.transfer, (grantee, 1 ether));
        vm.prank(carol);
        uint256 id = governor.propose(targets, values, calldatas, "small");
        vm.warp(block.timestamp + VOTING_DELAY + 1);
        vm.prank(carol);
        governor.castVote(id, 1); // 1% < 4% quorum
        vm.warp(block.timestamp + VOTING_PERIOD + 1);
        assertEq(uint8(governor.state(id)), uint8(IGovernor.ProposalState.Defeated));
        assertEq(governor.quorum(block.timestamp - 1), (SUPPLY * QUORUM_PERCENT) / 100);
    }

    function test_execute_beforeTimelockDelay_reverts() public {
        address[] memory targets = new address[](1);
        targets[0] = address(token);
        uint256[] memory values = new uint256[](1);
        bytes[] memory calldatas = new bytes[](1);
        calldatas[0] = abi.encodeCall(IERC20.transfer, (grantee, 1 ether));
        string memory description = "early";
        _proposeAndPass(targets, values, calldatas, description);
        bytes32 descriptionHash = keccak256(bytes(description));
        governor.queue(targets, values, calldatas, descriptionHash);
        bytes32 opId = timelock.hashOperationBatch(
            targets,
            values,
            calldatas,
            0,
            bytes32(bytes20(address(governor))) ^ descriptionHash
        );
        vm.expectRevert(
            abi.encodeWithSelector(
                TimelockController.TimelockUnexpectedOperationState.selector,
                opId,
                bytes32(1 << uint8(TimelockController.OperationState.Ready))
            )
        );
        governor.execute(targets, values, calldatas, descriptionHash);
        assertEq(token.balanceOf(grantee), 0);
    }

    function test_timelock_adminRenounced() public {
        bytes32 proposer = timelock.PROPOSER_ROLE();
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector,
                deployer,
                bytes32(0)
            )
        );
        vm.prank(deployer);
        timelock.grantRole(proposer, deployer);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, alice, proposer)
        );
        vm.prank(alice);
        timelock.schedule(address(token), 0, "", 0, 0, TIMELOCK_MIN_DELAY);
    }
}
