// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IGovernor} from "@openzeppelin/contracts/governance/IGovernor.sol";
import {ProtocolFixture} from "../utils/ProtocolFixture.sol";

/// @notice PROTOCOL.md §7.8 and the review's governance Low: with the DEFAULT deployment parameters
///         (script/lib/config.ts: quorum 5%, voting delay 1 day, period 7 days, threshold 100,000 DML, growth pool
///         9% with H = 365) and the genesis allocations a real network must configure, genesis holders vote from
///         day one without any delegation transaction, and everything an attacker could win from the growth pool
///         in its first halving period (cap / 2 = 4.5% of supply) can neither reach quorum alone nor outvote them.
///         The shared ProtocolFixture deploys the protocol with those parameters (`_deployConfig`).
contract GenesisVotersTest is ProtocolFixture {
    // script/lib/config.ts defaults
    uint256 internal constant SCRIPT_QUORUM_PERCENT = 5;
    uint48 internal constant SCRIPT_VOTING_DELAY = 1 days;
    uint32 internal constant SCRIPT_VOTING_PERIOD = 7 days;
    uint256 internal constant SCRIPT_PROPOSAL_THRESHOLD = 100_000 ether;
    uint256 internal constant SCRIPT_HALVING_EPOCHS = 365;

    address internal growthPool;
    address internal attacker = makeAddr("attacker");
    address[3] internal holders = [makeAddr("holder0"), makeAddr("holder1"), makeAddr("holder2")];
    uint256 internal constant ALLOCATION = 20_000_000 ether; // 3 x 2% = 60M >= the 50M quorum

    /// @dev The script's governor defaults and three genesis holders as the only allocations.
    function _deployConfig() internal view override returns (Config memory c) {
        c = super._deployConfig();
        c.quorumPercent = SCRIPT_QUORUM_PERCENT;
        c.votingDelay = SCRIPT_VOTING_DELAY;
        c.votingPeriod = SCRIPT_VOTING_PERIOD;
        c.proposalThreshold = SCRIPT_PROPOSAL_THRESHOLD;
        c.halvingEpochs = uint32(SCRIPT_HALVING_EPOCHS);
        c.genesisTo = new address[](3);
        c.genesisAmounts = new uint256[](3);
        for (uint256 i = 0; i < 3; ++i) (c.genesisTo[i], c.genesisAmounts[i]) = (holders[i], ALLOCATION);
    }

    function setUp() public override {
        super.setUp();
        growthPool = growthPoolAddress;
        vm.warp(block.timestamp + 1);
    }

    /// The attacker's best case: every draw of the first halving period (epochs 0..H-1), E0 = cap / (2H) each.
    function _firstHalvingWinnings() internal view returns (uint256) {
        uint256 cap = token.balanceOf(growthPool);
        return (cap / (2 * SCRIPT_HALVING_EPOCHS)) * SCRIPT_HALVING_EPOCHS;
    }

    function _propose(address proposer) internal returns (uint256 id) {
        address[] memory targets = new address[](1);
        targets[0] = address(token);
        uint256[] memory values = new uint256[](1);
        bytes[] memory calldatas = new bytes[](1);
        calldatas[0] = abi.encodeCall(IERC20.transfer, (proposer, 800_000_000 ether)); // drain the treasury
        vm.prank(proposer);
        id = governor.propose(targets, values, calldatas, "drain");
        vm.warp(block.timestamp + SCRIPT_VOTING_DELAY + 1);
    }

    function test_growthWinningsAloneCannotReachQuorum() public {
        uint256 won = _firstHalvingWinnings();
        assertLt(won, governor.quorum(block.timestamp - 1), "first-halving emission is below quorum");
        vm.prank(growthPool);
        token.transfer(attacker, won); // claims come from the pool, not the treasury: the attacker must delegate
        vm.prank(attacker);
        token.delegate(attacker);
        vm.warp(block.timestamp + 1);
        uint256 id = _propose(attacker);
        vm.prank(attacker);
        governor.castVote(id, 1);
        vm.warp(block.timestamp + SCRIPT_VOTING_PERIOD + 1);
        assertEq(uint8(governor.state(id)), uint8(IGovernor.ProposalState.Defeated));
    }

    function test_genesisHoldersVoteFromDayOneAndOutvoteTheAttacker() public {
        for (uint256 i = 0; i < 3; ++i)
            assertEq(token.getVotes(holders[i]), ALLOCATION, "no delegation call needed");
        uint256 won = _firstHalvingWinnings();
        vm.prank(growthPool);
        token.transfer(attacker, won);
        vm.prank(attacker);
        token.delegate(attacker);
        vm.warp(block.timestamp + 1);
        uint256 id = _propose(attacker);
        vm.prank(attacker);
        governor.castVote(id, 1);
        for (uint256 i = 0; i < 3; ++i) {
            vm.prank(holders[i]);
            governor.castVote(id, 0);
        }
        vm.warp(block.timestamp + SCRIPT_VOTING_PERIOD + 1);
        assertEq(uint8(governor.state(id)), uint8(IGovernor.ProposalState.Defeated));
        (uint256 against, uint256 forVotes, ) = governor.proposalVotes(id);
        assertGt(against, forVotes);
    }

    function test_genesisHoldersAlonePassAProposal() public {
        uint256 id = _propose(holders[0]);
        for (uint256 i = 0; i < 3; ++i) {
            vm.prank(holders[i]);
            governor.castVote(id, 1);
        }
        vm.warp(block.timestamp + SCRIPT_VOTING_PERIOD + 1);
        assertEq(uint8(governor.state(id)), uint8(IGovernor.ProposalState.Succeeded));
    }
}
