// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {CommonBase} from "forge-std/Base.sol";
import {StdCheats} from "forge-std/StdCheats.sol";
import {StdUtils} from "forge-std/StdUtils.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {DMLToken} from "../../contracts/DMLToken.sol";
import {NodeStaking} from "../../contracts/NodeStaking.sol";
import {INodeStaking} from "../../contracts/interfaces/INodeStaking.sol";
import {NodeStakingV2} from "../mocks/NodeStakingV2.sol";
import {ERC1967Utils} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Utils.sol";
import {ProtocolFixture} from "../utils/ProtocolFixture.sol";

/// @notice Drives DMLToken and NodeStaking with bounded inputs from several operators; never reverts.
///         It is itself an authorised slasher (and locking module). Ghost variables record every burn and every
///         slash split.
contract CoreHandler is CommonBase, StdCheats, StdUtils {
    DMLToken public token;
    NodeStaking public staking;
    address public timelock;

    address[] internal _operators;
    address[] internal _challengers;

    uint256 public ghostBurned;
    uint256 public ghostSlashed;
    uint256 public ghostToChallengers;
    uint256 public ghostBurnedBySlash;
    uint256 public ghostToTreasury;
    mapping(address operator => mapping(uint8 role => uint256)) public ghostLocked;
    bool public upgraded;
    mapping(bytes32 => uint256) public calls;

    constructor(DMLToken token_, NodeStaking staking_, address timelock_, address[] memory operators_) {
        token = token_;
        staking = staking_;
        timelock = timelock_;
        _operators = operators_;
        _challengers.push(makeAddr("challenger-1"));
        _challengers.push(makeAddr("challenger-2"));
        _challengers.push(address(0));
    }

    function operators() external view returns (address[] memory) {
        return _operators;
    }

    function challengers() external view returns (address[] memory) {
        return _challengers;
    }

    function stake(uint256 opSeed, uint8 roleSeed, uint256 amount) external {
        address op = _operators[opSeed % _operators.length];
        INodeStaking.Role role = INodeStaking.Role(roleSeed % 5);
        uint256 balance = token.balanceOf(op);
        if (balance == 0) return;
        amount = bound(amount, 1, balance);
        vm.startPrank(op);
        token.approve(address(staking), amount);
        staking.stake(role, amount);
        vm.stopPrank();
        ++calls["stake"];
    }

    function requestUnbond(uint256 opSeed, uint8 roleSeed, uint256 amount) external {
        address op = _operators[opSeed % _operators.length];
        INodeStaking.Role role = INodeStaking.Role(roleSeed % 5);
        uint256 bonded = staking.stakeOf(op, role);
        uint256 lockedNow = staking.lockedOf(op, role);
        if (bonded <= lockedNow) return;
        uint256 free = bonded - lockedNow;
        amount = bound(amount, 1, free);
        vm.prank(op);
        staking.requestUnbond(role, amount);
        ++calls["requestUnbond"];
    }

    function withdraw(uint256 opSeed, uint8 roleSeed, uint256 extraTime) external {
        address op = _operators[opSeed % _operators.length];
        INodeStaking.Role role = INodeStaking.Role(roleSeed % 5);
        INodeStaking.StakeInfo memory s = staking.stakeInfo(op, role);
        if (s.unbonding == 0) return;
        if (block.timestamp < s.unbondReadyAt) vm.warp(s.unbondReadyAt + bound(extraTime, 0, 1 days));
        vm.prank(op);
        staking.withdraw(role);
        ++calls["withdraw"];
    }

    function slash(uint256 opSeed, uint8 roleSeed, uint256 amount, uint256 challengerSeed) external {
        address op = _operators[opSeed % _operators.length];
        INodeStaking.Role role = INodeStaking.Role(roleSeed % 5);
        INodeStaking.StakeInfo memory s = staking.stakeInfo(op, role);
        amount = bound(amount, 0, (s.bonded + s.unbonding) * 2 + 1);
        // One time in four the operator names itself as challenger: it must receive nothing.
        bool self = challengerSeed % 4 == 3;
        address who = self ? op : _challengers[challengerSeed % _challengers.length];
        uint256 opBefore = token.balanceOf(op);
        uint256 supplyBefore = token.totalSupply();
        uint256 treasuryBefore = token.balanceOf(staking.treasury());
        uint256 challengerBefore = who == address(0) || self ? 0 : token.balanceOf(who);
        uint256 slashed = staking.slash(op, role, amount, who);
        ghostSlashed += slashed;
        uint256 burned = supplyBefore - token.totalSupply();
        ghostBurned += burned;
        ghostBurnedBySlash += burned;
        ghostToTreasury += token.balanceOf(staking.treasury()) - treasuryBefore;
        if (self) require(token.balanceOf(op) == opBefore, "self-challenger paid");
        else if (who != address(0)) ghostToChallengers += token.balanceOf(who) - challengerBefore;
        ++calls["slash"];
    }

    function lock(uint256 opSeed, uint8 roleSeed, uint256 amount) external {
        address op = _operators[opSeed % _operators.length];
        INodeStaking.Role role = INodeStaking.Role(roleSeed % 5);
        amount = bound(amount, 0, 300_000 ether);
        uint256 before = staking.lockedOf(op, role);
        uint256 locked = staking.lock(op, role, amount);
        require(locked == amount, "lock amount");
        require(staking.lockedOf(op, role) == before + locked, "lock total");
        ghostLocked[op][uint8(role)] += locked;
        ++calls["lock"];
    }

    function unlock(uint256 opSeed, uint8 roleSeed, uint256 amount) external {
        address op = _operators[opSeed % _operators.length];
        INodeStaking.Role role = INodeStaking.Role(roleSeed % 5);
        amount = bound(amount, 0, 300_000 ether);
        uint256 before = staking.lockedOf(op, role);
        staking.unlock(op, role, amount);
        require(staking.lockedOf(op, role) == (amount < before ? before - amount : 0), "unlock clamps");
        ghostLocked[op][uint8(role)] -= amount < before ? amount : before;
        ++calls["unlock"];
    }

    function transfer(uint256 fromSeed, uint256 toSeed, uint256 amount) external {
        address from = _operators[fromSeed % _operators.length];
        address to = _operators[toSeed % _operators.length];
        amount = bound(amount, 0, token.balanceOf(from));
        vm.prank(from);
        token.transfer(to, amount);
        ++calls["transfer"];
    }

    function burn(uint256 opSeed, uint256 amount) external {
        address op = _operators[opSeed % _operators.length];
        amount = bound(amount, 0, token.balanceOf(op));
        vm.prank(op);
        token.burn(amount);
        ghostBurned += amount;
        ++calls["burn"];
    }

    function setBurnSlashed(bool burn_) external {
        vm.prank(timelock);
        staking.setBurnSlashed(burn_);
        ++calls["setBurnSlashed"];
    }

    function setMinStakeAndRefresh(uint8 roleSeed, uint256 minStake) external {
        INodeStaking.Role role = INodeStaking.Role(roleSeed % 5);
        minStake = bound(minStake, 1, 100_000 ether);
        vm.prank(timelock);
        staking.setMinStake(role, minStake);
        staking.refreshActive(role, _operators);
        ++calls["setMinStake"];
    }

    /// @dev Upgrades NodeStaking to V2 once, mid-run, as governance would.
    function upgrade(uint256 maxOperators) external {
        if (upgraded) return;
        NodeStakingV2 v2 = new NodeStakingV2();
        vm.prank(timelock);
        UUPSUpgradeable(address(staking)).upgradeToAndCall(
            address(v2),
            abi.encodeCall(NodeStakingV2.initializeV2, (maxOperators))
        );
        upgraded = true;
        ++calls["upgrade"];
    }
}

/// @notice Token conservation, staking accounting and slash accounting hold under random sequences of
///         stakes, unbonds, withdrawals, slashes, transfers, burns, parameter changes and an upgrade to V2.
contract CoreInvariantsTest is ProtocolFixture {
    CoreHandler internal handler;
    address[] internal ops;
    uint256 internal treasuryAtStart;

    function setUp() public override {
        super.setUp();
        for (uint256 i = 0; i < 4; ++i) {
            address op = makeAddr(string.concat("operator-", vm.toString(i)));
            ops.push(op);
            _fund(op, 200_000 ether);
            vm.prank(op);
            staking.register("https://node.example", keccak256(abi.encode(op)), "");
        }
        handler = new CoreHandler(token, staking, address(timelock), ops);
        vm.prank(address(timelock));
        staking.setSlasher(address(handler), true);
        treasuryAtStart = token.balanceOf(address(timelock));
        targetContract(address(handler));
    }

    function _holders() internal view returns (address[] memory h) {
        address[] memory cs = handler.challengers();
        h = new address[](ops.length + cs.length + 9);
        uint256 n;
        for (uint256 i = 0; i < ops.length; ++i) h[n++] = ops[i];
        for (uint256 i = 0; i < cs.length; ++i) h[n++] = cs[i];
        h[n++] = address(staking);
        h[n++] = address(timelock);
        h[n++] = growthPoolAddress;
        h[n++] = faucet;
        h[n++] = alice;
        h[n++] = bob;
        h[n++] = carol;
        h[n++] = dave;
        h[n++] = address(handler);
    }

    function invariant_tokenConservation() public view {
        address[] memory h = _holders();
        uint256 sum;
        for (uint256 i = 0; i < h.length; ++i) sum += token.balanceOf(h[i]); // address(0) holds nothing
        assertEq(sum, token.totalSupply());
    }

    function invariant_supplyChangesOnlyByRecordedBurns() public view {
        assertEq(token.totalBurned(), handler.ghostBurned());
        assertEq(token.totalSupply(), token.INITIAL_SUPPLY() - token.totalBurned());
    }

    function invariant_stakingBalanceEqualsStakes() public view {
        uint256 sum;
        for (uint256 i = 0; i < ops.length; ++i) {
            for (uint8 r = 0; r < 5; ++r) {
                INodeStaking.StakeInfo memory s = staking.stakeInfo(ops[i], INodeStaking.Role(r));
                sum += s.bonded + s.unbonding;
            }
        }
        assertEq(sum, token.balanceOf(address(staking)));
    }

    function invariant_slashSplitAccounted() public view {
        assertEq(
            handler.ghostSlashed(),
            handler.ghostToChallengers() + handler.ghostBurnedBySlash() + handler.ghostToTreasury()
        );
        assertEq(token.balanceOf(address(timelock)), treasuryAtStart + handler.ghostToTreasury());
        address[] memory cs = handler.challengers();
        uint256 rewards;
        for (uint256 i = 0; i < cs.length; ++i) if (cs[i] != address(0)) rewards += token.balanceOf(cs[i]);
        assertEq(rewards, handler.ghostToChallengers());
    }

    function invariant_activeSetMatchesStakes() public view {
        for (uint8 r = 0; r < 5; ++r) {
            INodeStaking.Role role = INodeStaking.Role(r);
            uint256 expected;
            for (uint256 i = 0; i < ops.length; ++i) if (staking.isActive(ops[i], role)) ++expected;
            uint256 count = staking.activeCount(role);
            assertEq(count, expected);
            for (uint256 i = 0; i < count; ++i) assertTrue(staking.isActive(staking.activeAt(role, i), role));
        }
    }

    /// @dev Locks are liabilities: only lock and unlock change them (a slash never does), so the contract's
    ///      figure is exactly what the modules locked and did not release.
    function invariant_locksAreExactLiabilities() public view {
        for (uint256 i = 0; i < ops.length; ++i) {
            for (uint8 r = 0; r < 5; ++r) {
                INodeStaking.Role role = INodeStaking.Role(r);
                assertEq(staking.lockedOf(ops[i], role), handler.ghostLocked(ops[i], r));
            }
        }
    }

    function invariant_sumTreeEqualsActiveStakes() public view {
        for (uint8 r = 0; r < 5; ++r) {
            INodeStaking.Role role = INodeStaking.Role(r);
            uint256 count = staking.activeCount(role);
            uint256 cum;
            for (uint256 i = 0; i < count; ++i) {
                address op = staking.activeAt(role, i);
                uint256 w = staking.stakeOf(op, role);
                // Every prefix sum of the tree, through the draw's interval boundaries.
                assertEq(staking.drawActive(role, cum), op);
                assertEq(staking.drawActive(role, cum + w - 1), op);
                cum += w;
            }
            assertEq(staking.totalActiveStake(role), cum);
        }
    }

    function invariant_upgradeKeepsGovernance() public view {
        assertEq(staking.governance(), address(timelock));
        address impl = address(uint160(uint256(vm.load(address(staking), ERC1967Utils.IMPLEMENTATION_SLOT))));
        if (handler.upgraded()) {
            assertEq(NodeStakingV2(address(staking)).version(), 2);
            assertTrue(impl != address(stakingImpl));
        } else {
            assertEq(impl, address(stakingImpl));
        }
    }
}
