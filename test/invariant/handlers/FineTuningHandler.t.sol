// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {INodeStaking} from "../../../contracts/interfaces/INodeStaking.sol";
import {IFineTuning} from "../../../contracts/interfaces/IFineTuning.sol";
import {TestMerkle} from "../../settlement/LifecycleFixture.sol";

/// @notice Drives FineTuning bounties: creation, rounds with fuzzed outcomes (accepted, low gain, lying refiner,
///         no majority, no submission), trainer claims (including duplicates) and sweeps. Bounded, never reverts.
contract FineTuningHandler is Test {
    uint256 internal constant Q = 3;
    uint256 internal constant MIN_STAKE = 1_000 ether;

    IERC20 public immutable token;
    IFineTuning public immutable ft;
    INodeStaking public immutable staking;
    address public immutable poster;
    address public immutable refiner;
    address public immutable funder;
    uint256 public immutable algorithmId;
    address[] internal trainers;
    address[] internal attestors;

    uint256[] public bounties;
    mapping(uint256 bountyId => mapping(uint256 round => uint256)) public perTrainer;
    mapping(uint256 bountyId => mapping(uint256 round => mapping(address => uint256))) public claimCount;
    uint256 public ghostDoubleClaims;
    uint256 public ghostValidClaimFailed;
    uint256 public ghostNotTerminal;
    uint256 public ghostClaims;

    constructor(
        IERC20 token_,
        IFineTuning ft_,
        INodeStaking staking_,
        address[3] memory actors, // poster, refiner, funder
        uint256 algorithmId_,
        address[] memory trainers_,
        address[] memory attestors_
    ) {
        token = token_;
        ft = ft_;
        staking = staking_;
        poster = actors[0];
        refiner = actors[1];
        funder = actors[2];
        algorithmId = algorithmId_;
        trainers = trainers_;
        attestors = attestors_;
    }

    function bountyCount() external view returns (uint256) {
        return bounties.length;
    }

    function createBounty(uint256 poolSeed, uint256 roundsSeed) external {
        IFineTuning.BountyInput memory b;
        b.algorithmId = algorithmId;
        b.controlCid = "bafy-control";
        b.metricId = keccak256("accuracy");
        b.minGainBps = 50;
        b.rewardPool = uint128(bound(poolSeed, 4 ether, 1_000 ether));
        b.rounds = uint8(bound(roundsSeed, 1, 3));
        b.roundDuration = 1 days;
        vm.prank(poster);
        uint256 id = ft.createBounty(b);
        for (uint256 i = 0; i < trainers.length; ++i) {
            vm.prank(trainers[i]);
            ft.enrol(id);
        }
        bounties.push(id);
    }

    /// @notice Plays the current round of an active bounty with outcome `kind`.
    function playRound(uint256 bountySeed, uint256 kind, uint256 paySeed) external {
        if (bounties.length == 0) return;
        uint256 id = bounties[bountySeed % bounties.length];
        IFineTuning.Bounty memory b = ft.getBounty(id);
        if (b.status != IFineTuning.BountyStatus.Active) return;
        kind = kind % 5;
        if (kind == 0) {
            uint256 after_ = uint256(b.roundOpenedAt) + b.roundDuration + 1;
            if (block.timestamp < after_) vm.warp(after_);
            ft.closeRound(id);
            return;
        }
        _topUp(refiner, INodeStaking.Role.Refiner);
        for (uint256 i = 0; i < attestors.length; ++i) _topUp(attestors[i], INodeStaking.Role.Attestor);
        uint256 perRound = b.rewardPool / b.rounds;
        uint256 each = bound(paySeed, 1, perRound / trainers.length);
        IFineTuning.RoundClaim memory c;
        c.modelCid = "bafy-model";
        c.modelSha256 = keccak256(abi.encode("model", id, b.currentRound));
        c.metricBefore = 0.9e18;
        c.metricAfter = kind == 2 ? 0.9e18 : 0.95e18; // kind 2: gain too small
        c.acceptedGroupsRoot = keccak256("groups");
        c.payoutRoot = TestMerkle.root(_leaves(each));
        c.payoutTotal = uint128(each * trainers.length);
        if (block.timestamp > uint256(b.roundOpenedAt) + b.roundDuration) {
            ft.closeRound(id);
            return;
        }
        vm.prank(refiner);
        ft.submitRound(id, c);
        bytes32 truth = ft.claimHashOf(c);
        IFineTuning.RoundInfo memory info = ft.getRound(id, b.currentRound);
        for (uint256 i = 0; i < Q; ++i) {
            // kind 3: attestors measured something else (refiner lied); kind 4: split votes (no majority)
            bytes32 v =
                kind == 3
                    ? keccak256("truth")
                    : kind == 4
                        ? keccak256(abi.encode(i))
                        : truth;
            bytes32 salt = keccak256(abi.encode(id, b.currentRound, i));
            vm.prank(info.attestors[i]);
            ft.commitAttestation(id, keccak256(abi.encode(v, salt, info.attestors[i])));
        }
        for (uint256 i = 0; i < Q; ++i) {
            bytes32 v =
                kind == 3
                    ? keccak256("truth")
                    : kind == 4
                        ? keccak256(abi.encode(i))
                        : truth;
            vm.prank(info.attestors[i]);
            ft.revealAttestation(id, v, keccak256(abi.encode(id, b.currentRound, i)));
        }
        ft.finalizeRound(id);
        if (kind == 1 && ft.getRound(id, b.currentRound).status == IFineTuning.RoundStatus.Accepted) {
            perTrainer[id][b.currentRound] = each;
        }
    }

    function claim(uint256 bountySeed, uint256 roundSeed, uint256 trainerSeed) external {
        if (bounties.length == 0) return;
        uint256 id = bounties[bountySeed % bounties.length];
        uint256 round = roundSeed % 3;
        uint256 each = perTrainer[id][round];
        if (each == 0) return;
        uint256 t = trainerSeed % trainers.length;
        bytes32[] memory proof = TestMerkle.proof(_leaves(each), t);
        bool expectOk = claimCount[id][round][trainers[t]] == 0 && !ft.getRound(id, round).swept;
        try ft.claim(id, round, trainers[t], each, proof) {
            if (!expectOk) ++ghostDoubleClaims;
            ++claimCount[id][round][trainers[t]];
            ++ghostClaims;
        } catch {
            if (expectOk) ++ghostValidClaimFailed;
        }
    }

    function sweep(uint256 bountySeed, uint256 roundSeed, uint256 warpBy) external {
        if (bounties.length == 0) return;
        vm.warp(block.timestamp + bound(warpBy, 0, 40 days));
        uint256 id = bounties[bountySeed % bounties.length];
        uint256 round = roundSeed % 3;
        IFineTuning.RoundInfo memory r = ft.getRound(id, round);
        if (r.status != IFineTuning.RoundStatus.Accepted || r.swept || block.timestamp <= r.claimDeadline)
            return;
        ft.sweep(id, round);
    }

    /// @notice After all deadlines every bounty can be driven to Finalized by permissionless calls only.
    function drainAll() external {
        for (uint256 k = 0; k < bounties.length; ++k) {
            uint256 id = bounties[k];
            for (uint256 guard = 0; guard < 4; ++guard) {
                IFineTuning.Bounty memory b = ft.getBounty(id);
                if (b.status != IFineTuning.BountyStatus.Active) break;
                vm.warp(block.timestamp + b.roundDuration + 1);
                ft.closeRound(id);
            }
            if (ft.getBounty(id).status != IFineTuning.BountyStatus.Finalized) ++ghostNotTerminal;
        }
    }

    function _leaves(uint256 each) internal view returns (bytes32[] memory l) {
        l = new bytes32[](trainers.length);
        for (uint256 i = 0; i < trainers.length; ++i) l[i] = TestMerkle.leaf(trainers[i], each);
    }

    function _topUp(address op, INodeStaking.Role role) internal {
        uint256 bonded = staking.stakeOf(op, role);
        if (bonded >= MIN_STAKE) return;
        uint256 missing = MIN_STAKE - bonded;
        vm.prank(funder);
        token.transfer(op, missing);
        vm.prank(op);
        staking.stake(role, missing);
    }
}
