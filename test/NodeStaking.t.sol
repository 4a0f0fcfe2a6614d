// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Vm} from "forge-std/Vm.sol";
import {ProtocolFixture} from "./utils/ProtocolFixture.sol";
import {NodeStaking} from "../contracts/NodeStaking.sol";
import {INodeStaking} from "../contracts/interfaces/INodeStaking.sol";
import {IGovernedUUPS} from "../contracts/interfaces/IGovernedUUPS.sol";

contract NodeStakingTest is ProtocolFixture {
    INodeStaking.Role internal constant DIST = INodeStaking.Role.Distributor;
    INodeStaking.Role internal constant ATT = INodeStaking.Role.Attestor;
    bytes32 internal constant KEY = keccak256("alice-x25519");
    address internal slasher = makeAddr("slasher");

    function setUp() public override {
        super.setUp();
        vm.prank(address(timelock));
        staking.setSlasher(slasher, true);
    }

    function _register(address op) internal {
        vm.prank(op);
        staking.register("https://a.example", keccak256(abi.encode(op)), "meta");
    }

    function _fundApprove(address op, uint256 amount) internal {
        _fund(op, amount);
        vm.prank(op);
        token.approve(address(staking), amount);
    }

    // ---------------------------------------------------------------- initialize

    function test_initialize_setsParameters() public view {
        assertEq(staking.token(), address(token));
        assertEq(staking.treasury(), address(timelock));
        assertEq(staking.minStake(DIST), MIN_STAKE_DISTRIBUTOR);
        assertEq(staking.minStake(ATT), MIN_STAKE_ATTESTOR);
        assertEq(staking.unbondingDelay(), UNBONDING_DELAY);
        assertEq(staking.challengerShareBps(), CHALLENGER_SHARE_BPS);
        assertTrue(staking.burnSlashed());
    }

    function test_initialize_proxyTwice_reverts() public {
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        staking.initialize(alice, IERC20(address(token)), alice, _minStakes(), UNBONDING_DELAY, 0, true);
    }

    function test_initialize_implementation_reverts() public {
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        stakingImpl.initialize(alice, IERC20(address(token)), alice, _minStakes(), UNBONDING_DELAY, 0, true);
    }

    function test_initialize_badParameters_revert() public {
        NodeStaking impl = new NodeStaking();
        uint256[5] memory mins = _minStakes();
        bytes memory data = abi.encodeCall(
            NodeStaking.initialize,
            (alice, IERC20(address(0)), alice, mins, UNBONDING_DELAY, 0, true)
        );
        vm.expectRevert(IGovernedUUPS.GovernedZeroAddress.selector);
        deployProxy(address(impl), data);

        data = abi.encodeCall(
            NodeStaking.initialize,
            (alice, IERC20(address(token)), alice, mins, 0, 0, true)
        );
        vm.expectRevert(
            abi.encodeWithSelector(INodeStaking.StakingInvalidUnbondingDelay.selector, uint64(0))
        );
        deployProxy(address(impl), data);

        mins[2] = 0;
        data = abi.encodeCall(
            NodeStaking.initialize,
            (alice, IERC20(address(token)), alice, mins, 1 days, 0, true)
        );
        vm.expectRevert(abi.encodeWithSelector(INodeStaking.StakingInvalidMinStake.selector, 0));
        deployProxy(address(impl), data);
    }

    // ---------------------------------------------------------------- register / update

    function test_register_storesAndEmits() public {
        vm.expectEmit(address(staking));
        emit INodeStaking.OperatorRegistered(alice, "https://a.example", KEY, "ipfs://x");
        vm.prank(alice);
        staking.register("https://a.example", KEY, "ipfs://x");
        assertTrue(staking.isRegistered(alice));
        assertEq(staking.encryptionKey(alice), KEY);
        INodeStaking.Operator memory op = staking.operatorInfo(alice);
        assertEq(op.endpoint, "https://a.example");
        assertEq(op.metadata, "ipfs://x");
    }

    function test_register_twice_reverts() public {
        _register(alice);
        vm.expectRevert(abi.encodeWithSelector(INodeStaking.StakingAlreadyRegistered.selector, alice));
        vm.prank(alice);
        staking.register("https://b.example", KEY, "");
    }

    function test_register_emptyEndpoint_reverts() public {
        vm.expectRevert(INodeStaking.StakingEmptyEndpoint.selector);
        vm.prank(alice);
        staking.register("", KEY, "");
    }

    function test_register_zeroKey_reverts() public {
        vm.expectRevert(INodeStaking.StakingZeroKey.selector);
        vm.prank(alice);
        staking.register("https://a.example", bytes32(0), "");
    }

    function test_updateOperator_replacesAndEmits() public {
        _register(alice);
        vm.expectEmit(address(staking));
        emit INodeStaking.OperatorUpdated(alice, "https://new.example", KEY, "m2");
        vm.prank(alice);
        staking.updateOperator("https://new.example", KEY, "m2");
        assertEq(staking.encryptionKey(alice), KEY);
        assertEq(staking.operatorInfo(alice).endpoint, "https://new.example");
    }

    function test_updateOperator_unregistered_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(INodeStaking.StakingNotRegistered.selector, alice));
        vm.prank(alice);
        staking.updateOperator("https://a.example", KEY, "");
    }

    function test_updateOperator_zeroKey_reverts() public {
        _register(alice);
        vm.expectRevert(INodeStaking.StakingZeroKey.selector);
        vm.prank(alice);
        staking.updateOperator("https://a.example", bytes32(0), "");
    }

    // ---------------------------------------------------------------- stake

    function test_stake_pullsTokensActivatesAndEmits() public {
        _register(alice);
        _fundApprove(alice, MIN_STAKE_DISTRIBUTOR);
        uint256 before = token.balanceOf(alice);
        vm.expectEmit(address(staking));
        emit INodeStaking.ActiveStatusChanged(alice, DIST, true);
        vm.expectEmit(address(staking));
        emit INodeStaking.Staked(alice, DIST, MIN_STAKE_DISTRIBUTOR, MIN_STAKE_DISTRIBUTOR);
        vm.prank(alice);
        staking.stake(DIST, MIN_STAKE_DISTRIBUTOR);
        assertEq(token.balanceOf(alice), before - MIN_STAKE_DISTRIBUTOR);
        assertEq(token.balanceOf(address(staking)), MIN_STAKE_DISTRIBUTOR);
        assertEq(staking.stakeOf(alice, DIST), MIN_STAKE_DISTRIBUTOR);
        assertTrue(staking.isActive(alice, DIST));
        assertFalse(staking.isActive(alice, ATT));
        assertEq(staking.activeCount(DIST), 1);
        assertEq(staking.activeAt(DIST, 0), alice);
    }

    function test_stake_belowMinimum_inactive() public {
        _stakeAs(alice, DIST, MIN_STAKE_DISTRIBUTOR - 1);
        assertFalse(staking.isActive(alice, DIST));
        assertEq(staking.activeCount(DIST), 0);
        _stakeAs(alice, DIST, 1);
        assertTrue(staking.isActive(alice, DIST));
        assertEq(staking.activeCount(DIST), 1);
    }

    function test_stake_zero_reverts() public {
        _register(alice);
        vm.expectRevert(INodeStaking.StakingZeroAmount.selector);
        vm.prank(alice);
        staking.stake(DIST, 0);
    }

    function test_stake_unregistered_reverts() public {
        _fundApprove(alice, 1 ether);
        vm.expectRevert(abi.encodeWithSelector(INodeStaking.StakingNotRegistered.selector, alice));
        vm.prank(alice);
        staking.stake(DIST, 1 ether);
    }

    function test_stake_withoutAllowance_reverts() public {
        _register(carol);
        vm.expectRevert(); // ERC20InsufficientAllowance from the token
        vm.prank(carol);
        staking.stake(DIST, 1 ether);
        assertEq(staking.stakeOf(carol, DIST), 0);
    }

    function test_stake_firstStakeGas() public {
        _stakeAs(bob, DIST, MIN_STAKE_DISTRIBUTOR); // the role's array and the contract balance already exist
        _register(alice);
        _fundApprove(alice, MIN_STAKE_DISTRIBUTOR);
        vm.prank(alice);
        uint256 g = gasleft();
        staking.stake(DIST, MIN_STAKE_DISTRIBUTOR);
        g -= gasleft();
        emit log_named_uint("first stake gas (excl. 21k intrinsic)", g);
        // Execution gas (what --gas-stats reports); cold accesses are only counted under --gas-stats/isolation.
        assertGasBelow(g, 120_000);
    }

    // ---------------------------------------------------------------- gas profile (logged; cold storage)

    /// @dev Stakes `n` attestors (distinct stakes), then measures, each call on cooled storage like a fresh
    ///      transaction: a newcomer's first stake, a top-up, a partial unbond that stays active, a full unbond
    ///      that swap-removes from the active list, and a partial slash with a challenger.
    function _gasProfile(uint256 n) internal {
        for (uint256 i = 0; i < n; ++i) _stakeAs(_attestor(i), ATT, MIN_STAKE_ATTESTOR + i * 1 ether);
        address op = makeAddr("newcomer");
        _register(op);
        _fundApprove(op, 3 * MIN_STAKE_ATTESTOR);
        string memory tag = string.concat(" (n=", vm.toString(n), ")");

        _cool();
        vm.prank(op);
        uint256 g = gasleft();
        staking.stake(ATT, 2 * MIN_STAKE_ATTESTOR);
        emit log_named_uint(string.concat("gas stake first attestor", tag), g - gasleft());

        _cool();
        vm.prank(op);
        g = gasleft();
        staking.stake(ATT, MIN_STAKE_ATTESTOR);
        emit log_named_uint(string.concat("gas stake top-up", tag), g - gasleft());

        _cool();
        vm.prank(op);
        g = gasleft();
        staking.requestUnbond(ATT, MIN_STAKE_ATTESTOR);
        emit log_named_uint(string.concat("gas requestUnbond partial, stays active", tag), g - gasleft());

        _cool();
        vm.prank(_attestor(0));
        g = gasleft();
        staking.requestUnbond(ATT, MIN_STAKE_ATTESTOR);
        emit log_named_uint(string.concat("gas requestUnbond all, swap-remove", tag), g - gasleft());

        _cool();
        vm.prank(slasher);
        g = gasleft();
        staking.slash(op, ATT, 1 ether, challenger);
        emit log_named_uint(string.concat("gas slash partial + challenger", tag), g - gasleft());
        assertEq(staking.activeCount(ATT), n);
    }

    function _attestor(uint256 i) internal pure returns (address) {
        return address(uint160(0xA77E5700 + i));
    }

    function _cool() internal {
        vm.cool(address(staking));
        vm.cool(address(token));
    }

    function test_gas_profile_1() public {
        _gasProfile(1);
    }

    function test_gas_profile_10() public {
        _gasProfile(10);
    }

    function test_gas_profile_100() public {
        _gasProfile(100);
    }

    // ---------------------------------------------------------------- unbond / withdraw

    function test_requestUnbond_movesStakeDeactivatesAndEmits() public {
        _stakeAs(alice, DIST, MIN_STAKE_DISTRIBUTOR);
        uint64 readyAt = uint64(block.timestamp) + UNBONDING_DELAY;
        vm.expectEmit(address(staking));
        emit INodeStaking.ActiveStatusChanged(alice, DIST, false);
        vm.expectEmit(address(staking));
        emit INodeStaking.UnbondRequested(alice, DIST, 1, 1, readyAt);
        vm.prank(alice);
        staking.requestUnbond(DIST, 1);
        INodeStaking.StakeInfo memory s = staking.stakeInfo(alice, DIST);
        assertEq(s.bonded, MIN_STAKE_DISTRIBUTOR - 1);
        assertEq(s.unbonding, 1);
        assertEq(s.unbondReadyAt, readyAt);
        assertFalse(staking.isActive(alice, DIST));
        assertEq(staking.activeCount(DIST), 0);
    }

    function test_requestUnbond_restartsTimer() public {
        _stakeAs(alice, DIST, 100 ether);
        vm.prank(alice);
        staking.requestUnbond(DIST, 10 ether);
        vm.warp(block.timestamp + 1 days);
        vm.prank(alice);
        staking.requestUnbond(DIST, 10 ether);
        INodeStaking.StakeInfo memory s = staking.stakeInfo(alice, DIST);
        assertEq(s.unbonding, 20 ether);
        assertEq(s.unbondReadyAt, block.timestamp + UNBONDING_DELAY);
    }

    function test_requestUnbond_zero_reverts() public {
        vm.expectRevert(INodeStaking.StakingZeroAmount.selector);
        vm.prank(alice);
        staking.requestUnbond(DIST, 0);
    }

    function test_requestUnbond_moreThanBonded_reverts() public {
        _stakeAs(alice, DIST, 5 ether);
        vm.expectRevert(
            abi.encodeWithSelector(INodeStaking.StakingInsufficientStake.selector, 5 ether, 6 ether)
        );
        vm.prank(alice);
        staking.requestUnbond(DIST, 6 ether);
    }

    function test_withdraw_afterDelay_paysAndEmits() public {
        _stakeAs(alice, DIST, 50 ether);
        vm.prank(alice);
        staking.requestUnbond(DIST, 20 ether);
        vm.warp(block.timestamp + UNBONDING_DELAY);
        uint256 before = token.balanceOf(alice);
        vm.expectEmit(address(staking));
        emit INodeStaking.Withdrawn(alice, DIST, 20 ether);
        vm.prank(alice);
        staking.withdraw(DIST);
        assertEq(token.balanceOf(alice), before + 20 ether);
        assertEq(staking.stakeInfo(alice, DIST).unbonding, 0);
        assertEq(staking.stakeOf(alice, DIST), 30 ether);
    }

    function test_withdraw_beforeDelay_reverts() public {
        _stakeAs(alice, DIST, 50 ether);
        vm.prank(alice);
        staking.requestUnbond(DIST, 20 ether);
        uint64 readyAt = uint64(block.timestamp) + UNBONDING_DELAY;
        vm.warp(readyAt - 1);
        vm.expectRevert(abi.encodeWithSelector(INodeStaking.StakingUnbondingNotReady.selector, readyAt));
        vm.prank(alice);
        staking.withdraw(DIST);
    }

    function test_withdraw_nothing_reverts() public {
        vm.expectRevert(INodeStaking.StakingNothingToWithdraw.selector);
        vm.prank(alice);
        staking.withdraw(DIST);
    }

    // ---------------------------------------------------------------- enumeration

    function test_activeSet_swapAndPop() public {
        _stakeAs(alice, ATT, MIN_STAKE_ATTESTOR);
        _stakeAs(bob, ATT, MIN_STAKE_ATTESTOR);
        _stakeAs(carol, ATT, MIN_STAKE_ATTESTOR);
        vm.prank(alice);
        staking.requestUnbond(ATT, MIN_STAKE_ATTESTOR);
        assertEq(staking.activeCount(ATT), 2);
        assertEq(staking.activeAt(ATT, 0), carol);
        assertEq(staking.activeAt(ATT, 1), bob);
        vm.prank(carol);
        staking.requestUnbond(ATT, 1);
        assertEq(staking.activeCount(ATT), 1);
        assertEq(staking.activeAt(ATT, 0), bob);
        _stakeAs(alice, ATT, MIN_STAKE_ATTESTOR);
        assertEq(staking.activeCount(ATT), 2);
        assertEq(staking.activeAt(ATT, 1), alice);
    }

    function test_refreshActive_afterMinStakeChange() public {
        _stakeAs(alice, ATT, MIN_STAKE_ATTESTOR);
        _stakeAs(bob, ATT, MIN_STAKE_ATTESTOR * 2);
        vm.prank(address(timelock));
        staking.setMinStake(ATT, MIN_STAKE_ATTESTOR * 2);
        assertFalse(staking.isActive(alice, ATT), "isActive is live");
        assertEq(staking.activeCount(ATT), 2, "set is stale until refreshed");
        address[] memory ops = new address[](2);
        ops[0] = alice;
        ops[1] = bob;
        vm.expectEmit(address(staking));
        emit INodeStaking.ActiveStatusChanged(alice, ATT, false);
        staking.refreshActive(ATT, ops);
        assertEq(staking.activeCount(ATT), 1);
        assertEq(staking.activeAt(ATT, 0), bob);
        vm.prank(address(timelock));
        staking.setMinStake(ATT, MIN_STAKE_ATTESTOR);
        staking.refreshActive(ATT, ops);
        assertEq(staking.activeCount(ATT), 2);
        assertTrue(staking.isActive(alice, ATT));
    }

    // ---------------------------------------------------------------- slash

    function test_slash_bondedThenUnbonding_burnsAndRewards() public {
        _stakeAs(alice, DIST, 100 ether);
        vm.prank(alice);
        staking.requestUnbond(DIST, 40 ether);
        uint256 supply = token.totalSupply();
        vm.expectEmit(address(staking));
        emit INodeStaking.Slashed(alice, DIST, slasher, 80 ether, challenger, 8 ether, 72 ether, true);
        vm.prank(slasher);
        uint256 slashed = staking.slash(alice, DIST, 80 ether, challenger);
        assertEq(slashed, 80 ether);
        INodeStaking.StakeInfo memory s = staking.stakeInfo(alice, DIST);
        assertEq(s.bonded, 0);
        assertEq(s.unbonding, 20 ether);
        assertEq(token.balanceOf(challenger), 8 ether);
        assertEq(token.totalSupply(), supply - 72 ether);
        assertEq(token.balanceOf(address(staking)), 20 ether);
    }

    function test_slash_moreThanStake_capsAndDeactivates() public {
        _stakeAs(alice, DIST, MIN_STAKE_DISTRIBUTOR);
        vm.prank(slasher);
        uint256 slashed = staking.slash(alice, DIST, type(uint256).max, challenger);
        assertEq(slashed, MIN_STAKE_DISTRIBUTOR);
        assertFalse(staking.isActive(alice, DIST));
        assertEq(staking.activeCount(DIST), 0);
        assertEq(token.balanceOf(address(staking)), 0);
    }

    function test_slash_toTreasuryWithoutChallenger() public {
        vm.prank(address(timelock));
        staking.setBurnSlashed(false);
        _stakeAs(alice, DIST, 10 ether);
        uint256 treasuryBefore = token.balanceOf(address(timelock));
        vm.prank(slasher);
        staking.slash(alice, DIST, 10 ether, address(0));
        assertEq(token.balanceOf(address(timelock)), treasuryBefore + 10 ether);
        assertEq(token.totalBurned(), 0);
    }

    function test_slash_nothingStaked_returnsZero() public {
        vm.recordLogs();
        vm.prank(slasher);
        assertEq(staking.slash(alice, DIST, 1 ether, challenger), 0);
        assertEq(vm.getRecordedLogs().length, 0);
    }

    function test_slash_unauthorized_reverts() public {
        _stakeAs(alice, DIST, 10 ether);
        vm.expectRevert(abi.encodeWithSelector(INodeStaking.StakingUnauthorizedSlasher.selector, bob));
        vm.prank(bob);
        staking.slash(alice, DIST, 1 ether, bob);
    }

    function test_slash_challengerIsOperator_getsNothing() public {
        _stakeAs(alice, DIST, 100 ether);
        uint256 aliceBefore = token.balanceOf(alice);
        uint256 supply = token.totalSupply();
        // The challenger share is treated as if there were no challenger: all of it is burned.
        vm.expectEmit(address(staking));
        emit INodeStaking.Slashed(alice, DIST, slasher, 50 ether, address(0), 0, 50 ether, true);
        vm.prank(slasher);
        assertEq(staking.slash(alice, DIST, 50 ether, alice), 50 ether);
        assertEq(token.balanceOf(alice), aliceBefore);
        assertEq(token.totalSupply(), supply - 50 ether);
        assertEq(staking.stakeOf(alice, DIST), 50 ether);
    }

    function test_slash_challengerIsOperator_toTreasury() public {
        vm.prank(address(timelock));
        staking.setBurnSlashed(false);
        _stakeAs(alice, DIST, 10 ether);
        uint256 aliceBefore = token.balanceOf(alice);
        uint256 treasuryBefore = token.balanceOf(address(timelock));
        vm.prank(slasher);
        staking.slash(alice, DIST, 10 ether, alice);
        assertEq(token.balanceOf(alice), aliceBefore);
        assertEq(token.balanceOf(address(timelock)), treasuryBefore + 10 ether);
    }

    // ---------------------------------------------------------------- locks

    function test_lock_locksAndEmits() public {
        _stakeAs(alice, ATT, 10_000 ether);
        vm.expectEmit(address(staking));
        emit INodeStaking.StakeLocked(alice, ATT, slasher, 3_000 ether, 3_000 ether);
        vm.prank(slasher);
        assertEq(staking.lock(alice, ATT, 3_000 ether), 3_000 ether);
        assertEq(staking.lockedOf(alice, ATT), 3_000 ether);
        assertEq(staking.lockedOf(alice, DIST), 0, "locks are per role");
        // Locked stake stays bonded, active and counts in the draw weight.
        assertEq(staking.stakeOf(alice, ATT), 10_000 ether);
        assertTrue(staking.isActive(alice, ATT));
        assertEq(staking.totalActiveStake(ATT), 10_000 ether);
    }

    function test_lockMany_unlockMany_batchAndEmitOnce() public {
        _stakeAs(alice, ATT, 10_000 ether);
        _stakeAs(bob, DIST, 10_000 ether);
        address[] memory ops = new address[](2);
        INodeStaking.Role[] memory roles = new INodeStaking.Role[](2);
        (ops[0], roles[0], ops[1], roles[1]) = (alice, ATT, bob, DIST);
        vm.prank(slasher);
        staking.lock(alice, ATT, 50 ether); // another job's liability
        vm.expectEmit(address(staking));
        emit INodeStaking.StakesLocked(slasher, ops, roles, 100 ether);
        vm.recordLogs();
        vm.prank(slasher);
        staking.lockMany(ops, roles, 100 ether);
        assertEq(vm.getRecordedLogs().length, 1, "one event for the batch");
        assertEq(staking.lockedOf(alice, ATT), 150 ether);
        assertEq(staking.lockedOf(bob, DIST), 100 ether);
        vm.expectEmit(address(staking));
        emit INodeStaking.StakesUnlocked(slasher, ops, roles, 120 ether);
        vm.prank(slasher);
        staking.unlockMany(ops, roles, 120 ether);
        assertEq(staking.lockedOf(alice, ATT), 30 ether, "released 120 of 150");
        assertEq(staking.lockedOf(bob, DIST), 0, "released at most what was locked");
        // lengths must match; only slashers
        INodeStaking.Role[] memory one = new INodeStaking.Role[](1);
        vm.expectRevert(INodeStaking.StakingLengthMismatch.selector);
        vm.prank(slasher);
        staking.lockMany(ops, one, 1 ether);
        vm.expectRevert();
        vm.prank(alice);
        staking.lockMany(ops, roles, 1 ether);
        assertEq(staking.lockedOf(alice, ATT), 30 ether, "nothing changed");
    }

    function test_lock_liabilityMayExceedBonded() public {
        _stakeAs(alice, ATT, 100 ether);
        vm.startPrank(slasher);
        assertEq(staking.lock(alice, ATT, 80 ether), 80 ether);
        vm.expectEmit(address(staking));
        emit INodeStaking.StakeLocked(alice, ATT, slasher, 50 ether, 130 ether);
        assertEq(staking.lock(alice, ATT, 50 ether), 50 ether);
        assertEq(staking.lockedOf(alice, ATT), 130 ether);
        vm.recordLogs();
        assertEq(staking.lock(alice, ATT, 0), 0, "nothing to lock");
        assertEq(vm.getRecordedLogs().length, 0, "no event without a change");
        // Unlocking one job's liability leaves the other's whole: nothing of it is freed.
        staking.unlock(alice, ATT, 50 ether);
        vm.stopPrank();
        assertEq(staking.lockedOf(alice, ATT), 80 ether);
        vm.expectRevert(
            abi.encodeWithSelector(INodeStaking.StakingStakeLocked.selector, 100 ether, 80 ether, 21 ether)
        );
        vm.prank(alice);
        staking.requestUnbond(ATT, 21 ether);
    }

    function test_lock_unauthorized_reverts() public {
        _stakeAs(alice, ATT, 100 ether);
        vm.expectRevert(abi.encodeWithSelector(INodeStaking.StakingUnauthorizedSlasher.selector, bob));
        vm.prank(bob);
        staking.lock(alice, ATT, 1 ether);
        vm.prank(slasher);
        staking.lock(alice, ATT, 10 ether);
        vm.expectRevert(abi.encodeWithSelector(INodeStaking.StakingUnauthorizedSlasher.selector, alice));
        vm.prank(alice);
        staking.unlock(alice, ATT, 10 ether);
        assertEq(staking.lockedOf(alice, ATT), 10 ether);
        // A revoked module can no longer lock or unlock.
        vm.prank(address(timelock));
        staking.setSlasher(slasher, false);
        vm.expectRevert(abi.encodeWithSelector(INodeStaking.StakingUnauthorizedSlasher.selector, slasher));
        vm.prank(slasher);
        staking.unlock(alice, ATT, 10 ether);
    }

    function test_unlock_releasesAndClamps() public {
        _stakeAs(alice, ATT, 100 ether);
        vm.startPrank(slasher);
        staking.lock(alice, ATT, 30 ether);
        vm.expectEmit(address(staking));
        emit INodeStaking.StakeUnlocked(alice, ATT, slasher, 10 ether, 20 ether);
        staking.unlock(alice, ATT, 10 ether);
        assertEq(staking.lockedOf(alice, ATT), 20 ether);
        vm.expectEmit(address(staking));
        emit INodeStaking.StakeUnlocked(alice, ATT, slasher, 20 ether, 0);
        staking.unlock(alice, ATT, type(uint256).max);
        assertEq(staking.lockedOf(alice, ATT), 0);
        vm.recordLogs();
        staking.unlock(alice, ATT, 1 ether); // nothing locked: no revert, no event
        assertEq(vm.getRecordedLogs().length, 0);
        // The word stays initialised: locking again works from zero.
        assertEq(staking.lock(alice, ATT, 5 ether), 5 ether);
        assertEq(staking.lockedOf(alice, ATT), 5 ether);
        vm.stopPrank();
    }

    function test_requestUnbond_lockedStake_revertsAndChangesNothing() public {
        _stakeAs(alice, ATT, 100 ether);
        vm.prank(slasher);
        staking.lock(alice, ATT, 60 ether);
        INodeStaking.StakeInfo memory before = staking.stakeInfo(alice, ATT);
        vm.expectRevert(
            abi.encodeWithSelector(INodeStaking.StakingStakeLocked.selector, 100 ether, 60 ether, 41 ether)
        );
        vm.prank(alice);
        staking.requestUnbond(ATT, 41 ether);
        INodeStaking.StakeInfo memory afterRevert = staking.stakeInfo(alice, ATT);
        assertEq(afterRevert.bonded, before.bonded);
        assertEq(afterRevert.unbonding, 0);
        assertEq(afterRevert.unbondReadyAt, 0);
        assertEq(staking.lockedOf(alice, ATT), 60 ether);
        // The unlocked part can go.
        vm.prank(alice);
        staking.requestUnbond(ATT, 40 ether);
        assertEq(staking.stakeOf(alice, ATT), 60 ether);
        vm.expectRevert(
            abi.encodeWithSelector(INodeStaking.StakingStakeLocked.selector, 60 ether, 60 ether, 1)
        );
        vm.prank(alice);
        staking.requestUnbond(ATT, 1);
        // After the job unlocks, the rest can go too.
        vm.prank(slasher);
        staking.unlock(alice, ATT, 60 ether);
        vm.prank(alice);
        staking.requestUnbond(ATT, 60 ether);
        assertEq(staking.stakeOf(alice, ATT), 0);
        assertEq(staking.stakeInfo(alice, ATT).unbonding, 100 ether);
    }

    function test_slash_lockedNode_takesStakeAndKeepsLiability() public {
        _stakeAs(alice, ATT, 100 ether);
        vm.prank(slasher);
        staking.lock(alice, ATT, 80 ether);
        vm.prank(alice);
        staking.requestUnbond(ATT, 20 ether);
        // 70 from bonded (80 bonded): bonded 10, the 80 liability stays, so nothing more can be unbonded.
        vm.prank(slasher);
        assertEq(staking.slash(alice, ATT, 70 ether, challenger), 70 ether);
        assertEq(staking.stakeOf(alice, ATT), 10 ether);
        assertEq(staking.lockedOf(alice, ATT), 80 ether);
        assertEq(staking.stakeInfo(alice, ATT).unbonding, 20 ether);
        vm.expectRevert(
            abi.encodeWithSelector(INodeStaking.StakingStakeLocked.selector, 10 ether, 80 ether, 1)
        );
        vm.prank(alice);
        staking.requestUnbond(ATT, 1);
        // The module releases exactly what it locked once the job is over.
        vm.prank(slasher);
        staking.unlock(alice, ATT, 80 ether);
        assertEq(staking.lockedOf(alice, ATT), 0);
        vm.prank(alice);
        staking.requestUnbond(ATT, 10 ether);
    }

    function test_slash_withinUnlockedPart_keepsLock() public {
        _stakeAs(alice, ATT, 100 ether);
        vm.prank(slasher);
        staking.lock(alice, ATT, 30 ether);
        vm.recordLogs();
        vm.prank(slasher);
        staking.slash(alice, ATT, 50 ether, address(0));
        assertEq(staking.lockedOf(alice, ATT), 30 ether);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i = 0; i < logs.length; ++i) {
            assertTrue(logs[i].topics[0] != INodeStaking.StakeUnlocked.selector, "lock untouched");
        }
    }

    function test_gas_lockUnlock() public {
        _stakeAs(alice, ATT, 100 ether);
        _cool();
        vm.prank(slasher);
        uint256 g = gasleft();
        staking.lock(alice, ATT, 10 ether);
        emit log_named_uint("gas lock, first time (new word)", g - gasleft());
        _cool();
        vm.prank(slasher);
        g = gasleft();
        staking.unlock(alice, ATT, 10 ether);
        emit log_named_uint("gas unlock to zero", g - gasleft());
        _cool();
        vm.prank(slasher);
        g = gasleft();
        staking.lock(alice, ATT, 10 ether);
        uint256 lockSteady = g - gasleft();
        emit log_named_uint("gas lock, steady state", lockSteady);
        _cool();
        vm.prank(slasher);
        g = gasleft();
        staking.unlock(alice, ATT, 10 ether);
        uint256 unlockSteady = g - gasleft();
        emit log_named_uint("gas unlock, steady state", unlockSteady);
        // Cold figures include the proxy's first delegatecall in the transaction (~4.7k).
        assertGasBelow(lockSteady, 18_000);
        assertGasBelow(unlockSteady, 15_000);
    }

    /// @dev A job binds about five nodes in one transaction: the proxy and the module's slasher flag are warm
    ///      after the first call, each node's stake and lock words are cold.
    function test_gas_lockUnlockFiveNodes() public {
        address[5] memory nodes = [alice, bob, carol, dave, challenger];
        for (uint256 i = 0; i < 5; ++i) _stakeAs(nodes[i], ATT, 10_000 ether);
        vm.startPrank(slasher);
        for (uint256 i = 0; i < 5; ++i) staking.lock(nodes[i], ATT, 1 ether); // initialise the words
        for (uint256 i = 0; i < 5; ++i) staking.unlock(nodes[i], ATT, 1 ether);
        _cool();
        uint256 g = gasleft();
        for (uint256 i = 0; i < 5; ++i) staking.lock(nodes[i], ATT, 1_000 ether);
        uint256 locks = g - gasleft();
        _cool();
        g = gasleft();
        for (uint256 i = 0; i < 5; ++i) staking.unlock(nodes[i], ATT, 1_000 ether);
        uint256 unlocks = g - gasleft();
        vm.stopPrank();
        emit log_named_uint("gas lock x5 in one tx, steady state", locks);
        emit log_named_uint("gas unlock x5 in one tx, steady state", unlocks);
        for (uint256 i = 0; i < 5; ++i) assertEq(staking.lockedOf(nodes[i], ATT), 0);
        assertGasBelow(locks + unlocks, 125_000); // ~12k per lock + ~11k per unlock, proxy call included
    }

    // ---------------------------------------------------------------- stake-weighted draw

    function test_drawActive_noOperators_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(INodeStaking.StakingNoActiveOperators.selector, ATT));
        staking.drawActive(ATT, 0);
    }

    function test_drawActive_intervalsFollowListOrder() public {
        _stakeAs(alice, ATT, 5_000 ether);
        _stakeAs(bob, ATT, 10_000 ether);
        _stakeAs(carol, ATT, 35_000 ether);
        assertEq(staking.totalActiveStake(ATT), 50_000 ether);
        assertEq(staking.drawActive(ATT, 0), alice);
        assertEq(staking.drawActive(ATT, 5_000 ether - 1), alice);
        assertEq(staking.drawActive(ATT, 5_000 ether), bob);
        assertEq(staking.drawActive(ATT, 15_000 ether - 1), bob);
        assertEq(staking.drawActive(ATT, 15_000 ether), carol);
        assertEq(staking.drawActive(ATT, 50_000 ether - 1), carol);
        assertEq(staking.drawActive(ATT, 50_000 ether), alice, "random is taken modulo the total");
        assertEq(staking.totalActiveStake(DIST), 0);
    }

    function test_drawActive_frequenciesFollowStake() public {
        // Stakes 1 : 2 : 7 over 3,000 seeds. Expected 300 / 600 / 2,100; binomial sd 16 / 22 / 25.
        // Tolerance: 3 percentage points (90 draws, >= 3.5 sd) each.
        _stakeAs(alice, ATT, 5_000 ether);
        _stakeAs(bob, ATT, 10_000 ether);
        _stakeAs(carol, ATT, 35_000 ether);
        uint256 runs = 3_000;
        uint256[3] memory hits;
        for (uint256 i = 0; i < runs; ++i) {
            address a = staking.drawActive(ATT, uint256(keccak256(abi.encode("draw", i))));
            if (a == alice) ++hits[0];
            else if (a == bob) ++hits[1];
            else if (a == carol) ++hits[2];
        }
        assertEq(hits[0] + hits[1] + hits[2], runs);
        assertApproxEqAbs(hits[0], 300, 90, "1/10");
        assertApproxEqAbs(hits[1], 600, 90, "2/10");
        assertApproxEqAbs(hits[2], 2_100, 90, "7/10");
        emit log_named_uint("hits 1/10", hits[0]);
        emit log_named_uint("hits 2/10", hits[1]);
        emit log_named_uint("hits 7/10", hits[2]);
    }

    /// @dev Checks every prefix sum of the tree through `drawActive`'s interval boundaries.
    function _assertTreeMatches(INodeStaking.Role role) internal view {
        uint256 n = staking.activeCount(role);
        uint256 cum;
        for (uint256 i = 0; i < n; ++i) {
            address op = staking.activeAt(role, i);
            uint256 w = staking.stakeOf(op, role);
            assertEq(staking.drawActive(role, cum), op, "interval start");
            assertEq(staking.drawActive(role, cum + w - 1), op, "interval end");
            cum += w;
        }
        assertEq(staking.totalActiveStake(role), cum, "total = sum of active stakes");
    }

    function test_fuzz_sumTree_matchesActiveStakes(uint256[32] memory actions) public {
        address[6] memory ops = [alice, bob, carol, dave, challenger, makeAddr("erin")];
        for (uint256 k = 0; k < actions.length; ++k) {
            uint256 a = actions[k];
            address op = ops[(a >> 8) % ops.length];
            uint256 amount = bound(a >> 16, 1, 30_000 ether);
            uint256 kind = a % 5;
            if (kind <= 1) {
                _stakeAs(op, ATT, amount);
            } else if (kind == 2) {
                uint256 bonded = staking.stakeOf(op, ATT);
                if (bonded == 0) continue;
                vm.prank(op);
                staking.requestUnbond(ATT, bound(amount, 1, bonded));
            } else if (kind == 3) {
                vm.prank(slasher);
                staking.slash(op, ATT, amount, challenger);
            } else {
                vm.prank(address(timelock));
                staking.setMinStake(ATT, bound(amount, 1, 20_000 ether));
                address[] memory list = new address[](ops.length);
                for (uint256 i = 0; i < ops.length; ++i) list[i] = ops[i];
                staking.refreshActive(ATT, list);
            }
            _assertTreeMatches(ATT);
        }
        uint256 sum;
        for (uint256 i = 0; i < ops.length; ++i)
            if (staking.isActive(ops[i], ATT)) sum += staking.stakeOf(ops[i], ATT);
        assertEq(staking.totalActiveStake(ATT), sum);
    }

    // ---------------------------------------------------------------- governance setters

    function test_setSlasher_governanceOnly() public {
        vm.expectEmit(address(staking));
        emit INodeStaking.SlasherSet(bob, true);
        vm.prank(address(timelock));
        staking.setSlasher(bob, true);
        assertTrue(staking.isSlasher(bob));
        vm.prank(address(timelock));
        staking.setSlasher(bob, false);
        assertFalse(staking.isSlasher(bob));

        vm.expectRevert(IGovernedUUPS.GovernedZeroAddress.selector);
        vm.prank(address(timelock));
        staking.setSlasher(address(0), true);

        vm.expectRevert(abi.encodeWithSelector(IGovernedUUPS.GovernedUnauthorized.selector, alice));
        vm.prank(alice);
        staking.setSlasher(alice, true);
    }

    function test_setMinStake_boundsAndEmits() public {
        vm.expectEmit(address(staking));
        emit INodeStaking.MinStakeSet(ATT, 7 ether);
        vm.prank(address(timelock));
        staking.setMinStake(ATT, 7 ether);
        assertEq(staking.minStake(ATT), 7 ether);

        vm.startPrank(address(timelock));
        vm.expectRevert(abi.encodeWithSelector(INodeStaking.StakingInvalidMinStake.selector, 0));
        staking.setMinStake(ATT, 0);
        uint256 tooBig = uint256(type(uint96).max) + 1;
        vm.expectRevert(abi.encodeWithSelector(INodeStaking.StakingInvalidMinStake.selector, tooBig));
        staking.setMinStake(ATT, tooBig);
        vm.stopPrank();

        vm.expectRevert(abi.encodeWithSelector(IGovernedUUPS.GovernedUnauthorized.selector, alice));
        vm.prank(alice);
        staking.setMinStake(ATT, 1);
    }

    function test_setUnbondingDelay_boundsAndEmits() public {
        vm.expectEmit(address(staking));
        emit INodeStaking.UnbondingDelaySet(3 days);
        vm.prank(address(timelock));
        staking.setUnbondingDelay(3 days);
        assertEq(staking.unbondingDelay(), 3 days);

        uint64 tooLong = staking.MAX_UNBONDING_DELAY() + 1;
        vm.expectRevert(abi.encodeWithSelector(INodeStaking.StakingInvalidUnbondingDelay.selector, tooLong));
        vm.prank(address(timelock));
        staking.setUnbondingDelay(tooLong);

        vm.expectRevert(abi.encodeWithSelector(IGovernedUUPS.GovernedUnauthorized.selector, alice));
        vm.prank(alice);
        staking.setUnbondingDelay(3 days);
    }

    function test_setChallengerShareBps_boundsAndEmits() public {
        vm.expectEmit(address(staking));
        emit INodeStaking.ChallengerShareSet(5_000);
        vm.prank(address(timelock));
        staking.setChallengerShareBps(5_000);
        assertEq(staking.challengerShareBps(), 5_000);

        vm.expectRevert(
            abi.encodeWithSelector(INodeStaking.StakingInvalidChallengerShare.selector, uint16(5_001))
        );
        vm.prank(address(timelock));
        staking.setChallengerShareBps(5_001);

        vm.expectRevert(abi.encodeWithSelector(IGovernedUUPS.GovernedUnauthorized.selector, alice));
        vm.prank(alice);
        staking.setChallengerShareBps(1);
    }

    function test_setBurnSlashed_emits() public {
        vm.expectEmit(address(staking));
        emit INodeStaking.BurnSlashedSet(false);
        vm.prank(address(timelock));
        staking.setBurnSlashed(false);
        assertFalse(staking.burnSlashed());
        vm.expectRevert(abi.encodeWithSelector(IGovernedUUPS.GovernedUnauthorized.selector, alice));
        vm.prank(alice);
        staking.setBurnSlashed(true);
    }

    function test_setTreasury_emitsAndRejectsZero() public {
        vm.expectEmit(address(staking));
        emit INodeStaking.TreasurySet(carol);
        vm.prank(address(timelock));
        staking.setTreasury(carol);
        assertEq(staking.treasury(), carol);
        vm.expectRevert(IGovernedUUPS.GovernedZeroAddress.selector);
        vm.prank(address(timelock));
        staking.setTreasury(address(0));
        vm.expectRevert(abi.encodeWithSelector(IGovernedUUPS.GovernedUnauthorized.selector, alice));
        vm.prank(alice);
        staking.setTreasury(alice);
    }

    function test_transferGovernance_onlyGovernance() public {
        vm.expectEmit(address(staking));
        emit IGovernedUUPS.GovernanceTransferred(address(timelock), carol);
        vm.prank(address(timelock));
        staking.transferGovernance(carol);
        assertEq(staking.governance(), carol);
        vm.expectRevert(
            abi.encodeWithSelector(IGovernedUUPS.GovernedUnauthorized.selector, address(timelock))
        );
        vm.prank(address(timelock));
        staking.transferGovernance(alice);
    }

    function test_upgradeToAndCall_nonGovernance_reverts() public {
        address impl = address(new NodeStaking());
        vm.expectRevert(abi.encodeWithSelector(IGovernedUUPS.GovernedUnauthorized.selector, alice));
        vm.prank(alice);
        staking.upgradeToAndCall(impl, "");
    }

    // ---------------------------------------------------------------- fuzz

    function test_fuzz_stake_unbond_withdraw_roundTrip(
        uint8 roleSeed,
        uint256 amount,
        uint256 unbond
    ) public {
        INodeStaking.Role role = INodeStaking.Role(roleSeed % 5);
        amount = bound(amount, 1, GENESIS_FAUCET);
        unbond = bound(unbond, 1, amount);
        _stakeAs(alice, role, amount);
        assertEq(staking.isActive(alice, role), amount >= staking.minStake(role));
        vm.prank(alice);
        staking.requestUnbond(role, unbond);
        assertEq(staking.isActive(alice, role), amount - unbond >= staking.minStake(role));
        assertEq(staking.activeCount(role), staking.isActive(alice, role) ? 1 : 0);
        vm.warp(block.timestamp + UNBONDING_DELAY);
        vm.prank(alice);
        staking.withdraw(role);
        assertEq(token.balanceOf(address(staking)), amount - unbond);
        assertEq(staking.stakeOf(alice, role), amount - unbond);
    }

    function test_fuzz_slash_splitsExactly(
        uint256 bonded,
        uint256 unbonding,
        uint256 amount,
        uint16 share
    ) public {
        bonded = bound(bonded, 1, 1_000_000 ether);
        unbonding = bound(unbonding, 0, bonded);
        amount = bound(amount, 1, 3_000_000 ether);
        share = uint16(bound(share, 0, staking.MAX_CHALLENGER_SHARE_BPS()));
        vm.prank(address(timelock));
        staking.setChallengerShareBps(share);
        _stakeAs(alice, ATT, bonded);
        if (unbonding > 0) {
            vm.prank(alice);
            staking.requestUnbond(ATT, unbonding);
        }
        uint256 supply = token.totalSupply();
        vm.prank(slasher);
        uint256 slashed = staking.slash(alice, ATT, amount, challenger);
        uint256 expected = amount < bonded ? amount : bonded;
        assertEq(slashed, expected);
        uint256 reward = (slashed * share) / BPS;
        assertEq(token.balanceOf(challenger), reward);
        assertEq(supply - token.totalSupply(), slashed - reward);
        INodeStaking.StakeInfo memory s = staking.stakeInfo(alice, ATT);
        // bonded is taken first
        uint256 bondedLeft = bonded - unbonding;
        uint256 fromBonded = expected < bondedLeft ? expected : bondedLeft;
        assertEq(s.bonded, bondedLeft - fromBonded);
        assertEq(s.unbonding, unbonding - (expected - fromBonded));
        assertEq(token.balanceOf(address(staking)), s.bonded + s.unbonding);
    }

    function test_fuzz_setUnbondingDelay_bounded(uint64 delay) public {
        bool valid = delay >= staking.MIN_UNBONDING_DELAY() && delay <= staking.MAX_UNBONDING_DELAY();
        vm.prank(address(timelock));
        if (!valid) {
            vm.expectRevert(
                abi.encodeWithSelector(INodeStaking.StakingInvalidUnbondingDelay.selector, delay)
            );
            staking.setUnbondingDelay(delay);
        } else {
            staking.setUnbondingDelay(delay);
            assertEq(staking.unbondingDelay(), delay);
        }
    }

    function test_fuzz_setChallengerShareBps_bounded(uint16 share) public {
        bool valid = share <= staking.MAX_CHALLENGER_SHARE_BPS();
        vm.prank(address(timelock));
        if (!valid) {
            vm.expectRevert(
                abi.encodeWithSelector(INodeStaking.StakingInvalidChallengerShare.selector, share)
            );
            staking.setChallengerShareBps(share);
        } else {
            staking.setChallengerShareBps(share);
            assertEq(staking.challengerShareBps(), share);
        }
    }

    function test_stake_overflow96_reverts() public {
        // Not reachable with DMLToken's supply; SafeCast guards the packed slot anyway.
        _register(alice);
        vm.expectRevert(
            abi.encodeWithSelector(SafeCast.SafeCastOverflowedUintDowncast.selector, 96, 2 ** 96)
        );
        vm.prank(alice);
        staking.stake(DIST, 2 ** 96);
    }
}
