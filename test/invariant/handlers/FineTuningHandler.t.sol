// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {Vm} from "forge-std/Vm.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {INodeStaking} from "../../../contracts/interfaces/INodeStaking.sol";
import {IFineTuning} from "../../../contracts/interfaces/IFineTuning.sol";
import {MerkleHelper} from "../../utils/MerkleHelper.sol";

/// @notice Drives FineTuning bounties (PROTOCOL.md §7.7): creation, rounds with fuzzed outcomes (accepted, low
///         gain, lying refiner, no majority, poster silent, refiner silent, no candidate), finalisations by
///         outsiders and by parties, trainer claims (including duplicates) and sweeps. Bounded, never reverts.
contract FineTuningHandler is Test {
    uint256 internal constant Q = 3;
    uint256 internal constant MIN_STAKE = 1_000 ether;
    bytes32 internal constant MODEL_SHA = keccak256("model.onnx");

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
    /// @notice Slashes whose challenger share went to a party of the bounty (must stay zero).
    uint256 public ghostPartyChallenger;
    uint256 public ghostSlashes;

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
        b.splitRoot = MerkleHelper.rootOfLeaves(_splitLeaves(b.rounds));
        b.baselineMetric = 0.9e18;
        b.splitWindow = 1 days;
        vm.prank(poster);
        uint256 id = ft.createBounty(b);
        for (uint256 i = 0; i < trainers.length; ++i) {
            vm.prank(trainers[i]);
            ft.enrol(id);
        }
        bounties.push(id);
    }

    /// @notice Plays the current round of an active bounty with outcome `kind`, finalised by `finalizerSeed`'s
    ///         pick among an outsider, the poster and the refiner.
    function playRound(uint256 bountySeed, uint256 kind, uint256 paySeed, uint256 finalizerSeed) external {
        if (bounties.length == 0) return;
        uint256 id = bounties[bountySeed % bounties.length];
        IFineTuning.Bounty memory b = ft.getBounty(id);
        if (b.status != IFineTuning.BountyStatus.Active) return;
        uint256 round = b.currentRound;
        kind = kind % 7;
        if (kind == 0 || block.timestamp > uint256(b.roundOpenedAt) + b.roundDuration) {
            uint256 after_ = uint256(b.roundOpenedAt) + b.roundDuration + 1;
            if (block.timestamp < after_) vm.warp(after_);
            ft.closeRound(id);
            return;
        }
        _topUp(refiner, INodeStaking.Role.Refiner);
        for (uint256 i = 0; i < attestors.length; ++i) _topUp(attestors[i], INodeStaking.Role.Attestor);
        uint256 roundReward = b.rewardPool / b.rounds;
        uint256 budget = roundReward - (roundReward * ft.params().attestorShareBps) / 10_000;
        uint256 each = bound(paySeed, 1, budget / trainers.length);
        bytes32 root = MerkleHelper.rootOfLeaves(_leaves(each));
        uint256 metric = kind == 2 ? b.acceptedMetric : b.acceptedMetric + 0.01e18; // kind 2: no gain
        bytes32 salt = keccak256(abi.encode("refiner", id, round));
        vm.prank(refiner);
        ft.commitCandidate(id, keccak256(abi.encode(MODEL_SHA, root, salt)), "bafy-model", "bafy-list");

        if (kind == 5) {
            // the poster never reveals the split: the round stands on the refiner's revealed metric
            vm.warp(ft.getRound(id, round).splitDeadline + 1);
            vm.prank(refiner);
            ft.revealCandidate(id, MODEL_SHA, metric, root, salt);
        } else {
            vm.roll(block.number + 2); // the seed's block (the one after the commitment) is mined
            vm.prank(poster);
            ft.revealSplit(
                id,
                _splitCid(round),
                _splitSalt(round),
                MerkleHelper.proofOfLeaves(_splitLeaves(b.rounds), round)
            );
            uint64 revealDeadline = _attest(id, round, kind, keccak256(abi.encode(MODEL_SHA, metric, root)));
            if (kind != 6) {
                vm.prank(refiner);
                ft.revealCandidate(id, MODEL_SHA, metric, root, salt);
            } else {
                vm.warp(uint256(revealDeadline) + 1); // kind 6: the refiner stays silent
            }
        }
        address caller =
            finalizerSeed % 3 == 0
                ? address(this)
                : finalizerSeed % 3 == 1
                    ? poster
                    : refiner;
        _finalize(id, round, caller);
        if (ft.getRound(id, round).status == IFineTuning.RoundStatus.Accepted) perTrainer[id][round] = each;
    }

    function claim(uint256 bountySeed, uint256 roundSeed, uint256 trainerSeed) external {
        if (bounties.length == 0) return;
        uint256 id = bounties[bountySeed % bounties.length];
        uint256 round = roundSeed % 3;
        uint256 each = perTrainer[id][round];
        if (each == 0) return;
        uint256 t = trainerSeed % trainers.length;
        bytes32[] memory proof = MerkleHelper.proofOfLeaves(_leaves(each), t);
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

    /// @notice After all deadlines every bounty can be driven to Finalized by permissionless calls only, from
    ///         whatever phase its current round is in.
    function drainAll() external {
        for (uint256 k = 0; k < bounties.length; ++k) {
            uint256 id = bounties[k];
            for (uint256 guard = 0; guard < 8; ++guard) {
                IFineTuning.Bounty memory b = ft.getBounty(id);
                if (b.status != IFineTuning.BountyStatus.Active) break;
                IFineTuning.RoundInfo memory r = ft.getRound(id, b.currentRound);
                if (r.status == IFineTuning.RoundStatus.Open) {
                    vm.warp(block.timestamp + b.roundDuration + 1);
                    ft.closeRound(id);
                } else if (r.status == IFineTuning.RoundStatus.Committed) {
                    vm.warp(uint256(r.splitDeadline) + ft.params().revealWindow + 1);
                    _finalize(id, b.currentRound, address(this));
                } else {
                    if (block.timestamp <= r.revealDeadline) vm.warp(uint256(r.revealDeadline) + 1);
                    _finalize(id, b.currentRound, address(this));
                }
            }
            if (ft.getBounty(id).status != IFineTuning.BountyStatus.Finalized) ++ghostNotTerminal;
        }
    }

    /// @dev Finalises as `caller` and checks every Slashed event: no challenger share to a party of the bounty.
    function _finalize(uint256 id, uint256 round, address caller) internal {
        address[] memory members = ft.getRound(id, round).attestors;
        vm.recordLogs();
        vm.prank(caller);
        ft.finalizeRound(id);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i = 0; i < logs.length; ++i) {
            if (logs[i].emitter != address(staking) || logs[i].topics[0] != INodeStaking.Slashed.selector)
                continue;
            ++ghostSlashes;
            (, address challenger, uint256 reward, , ) = abi.decode(
                logs[i].data,
                (uint256, address, uint256, uint256, bool)
            );
            bool party = challenger == poster || challenger == refiner;
            for (uint256 m = 0; m < members.length; ++m) if (challenger == members[m]) party = true;
            if (party || (reward != 0 && challenger != caller)) ++ghostPartyChallenger;
        }
    }

    /// @dev Every drawn attestor commits and reveals its vote for outcome `kind`.
    function _attest(uint256 id, uint256 round, uint256 kind, bytes32 truth) internal returns (uint64) {
        IFineTuning.RoundInfo memory info = ft.getRound(id, round);
        for (uint256 i = 0; i < Q; ++i) {
            bytes32 salt = keccak256(abi.encode(id, round, i));
            vm.prank(info.attestors[i]);
            ft.commitAttestation(id, keccak256(abi.encode(_vote(kind, i, truth), salt, info.attestors[i])));
        }
        for (uint256 i = 0; i < Q; ++i) {
            vm.prank(info.attestors[i]);
            ft.revealAttestation(id, _vote(kind, i, truth), keccak256(abi.encode(id, round, i)));
        }
        return info.revealDeadline;
    }

    /// @dev kind 3: attestors measured something else (the refiner lied); kind 4: split votes (no majority).
    function _vote(uint256 kind, uint256 i, bytes32 truth) internal pure returns (bytes32) {
        if (kind == 3) return keccak256("truth");
        if (kind == 4) return keccak256(abi.encode(i));
        return truth;
    }

    function _splitCid(uint256 round) internal pure returns (string memory) {
        return string.concat("bafy-split-", vm.toString(round));
    }

    function _splitSalt(uint256 round) internal pure returns (bytes32) {
        return keccak256(abi.encode("split", round));
    }

    function _splitLeaves(uint256 rounds) internal pure returns (bytes32[] memory l) {
        l = new bytes32[](rounds);
        for (uint256 r = 0; r < rounds; ++r)
            l[r] = keccak256(bytes.concat(keccak256(abi.encode(r, _splitCid(r), _splitSalt(r)))));
    }

    function _leaves(uint256 each) internal view returns (bytes32[] memory l) {
        l = new bytes32[](trainers.length);
        for (uint256 i = 0; i < trainers.length; ++i) l[i] = MerkleHelper.leaf(trainers[i], each);
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
