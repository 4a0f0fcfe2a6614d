// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {LifecycleFixture} from "./LifecycleFixture.sol";
import {MerkleHelper} from "./MerkleHelper.sol";
import {INodeStaking} from "../../contracts/interfaces/INodeStaking.sol";
import {IDeviceRegistry} from "../../contracts/interfaces/IDeviceRegistry.sol";
import {IAlgorithmMarketplace} from "../../contracts/interfaces/IAlgorithmMarketplace.sol";
import {IFineTuning} from "../../contracts/interfaces/IFineTuning.sol";

/// @notice Fine-tuning domain layer: the LifecycleFixture (whose deployment includes the FineTuning proxy, authorised
///         as marketplace publisher and slasher as script/deploy.ts wires it) plus enrolled trainer devices and
///         bounty helpers.
abstract contract FineTuningFixture is LifecycleFixture {
    bytes32 internal constant ACCURACY = keccak256("accuracy");
    string internal constant CONTROL = "bafybeicontrolgroupcontrolgroupcontrolgroupcontrolgroup";
    string internal constant NEW_MODEL = "bafybeinewmodelnewmodelnewmodelnewmodelnewmodelnewmodel";
    bytes32 internal constant NEW_SHA = keccak256("new model.onnx");
    uint128 internal constant POOL = 300 ether;
    uint8 internal constant ROUNDS = 3;
    string internal constant LIST = "bafybeiroundlistroundlistroundlistroundlistroundlistround";
    uint16 internal constant ATTESTOR_SHARE_BPS = 1_000; // 10% of each round's 100 DML: 90 DML trainer budget
    uint256 internal constant BASELINE = 0.90e18;

    address[] internal trainers;
    /// @dev Liquid DML every attestor holds after staking (attestor pay is measured above it).
    uint256 internal attestorFloat;

    function setUp() public virtual override {
        super.setUp();
        vm.prank(customer);
        token.approve(address(ft), type(uint256).max);
        attestorFloat = token.balanceOf(attestorSet[0]);
        for (uint256 i = 0; i < 4; ++i) {
            address t = makeAddr(string.concat("trainer", vm.toString(i)));
            trainers.push(t);
            registerDevice(t);
        }
    }

    function ftParams() internal view returns (IFineTuning.Params memory) {
        return cfg.fineTuning;
    }

    // ------------------------------------------------------------------------------------ hidden splits

    function splitCid(uint256 round) internal pure returns (string memory) {
        return string.concat("bafybeihiddensplit", vm.toString(round));
    }

    function splitSalt(uint256 round) internal pure returns (bytes32) {
        return keccak256(abi.encode("split-salt", round));
    }

    /// @dev The poster's split tree: leaf r = (r, splitCid(r), splitSalt(r)), StandardMerkleTree style.
    function splitLeaves(uint256 rounds) internal pure returns (bytes32[] memory l) {
        l = new bytes32[](rounds);
        for (uint256 r = 0; r < rounds; ++r)
            l[r] = keccak256(bytes.concat(keccak256(abi.encode(r, splitCid(r), splitSalt(r)))));
    }

    function splitProof(uint256 round) internal pure returns (bytes32[] memory) {
        return MerkleHelper.proofOfLeaves(splitLeaves(ROUNDS), round);
    }

    function bountyInput() internal view returns (IFineTuning.BountyInput memory b) {
        b.algorithmId = algorithmId;
        b.controlCid = CONTROL;
        b.metricId = ACCURACY;
        b.minGainBps = 50; // +0.5 accuracy points
        b.rewardPool = POOL;
        b.rounds = ROUNDS;
        b.groupSize = 0;
        b.roundDuration = 1 days;
        b.splitRoot = MerkleHelper.rootOfLeaves(splitLeaves(ROUNDS));
        b.baselineMetric = BASELINE;
        b.splitWindow = 1 days;
    }

    function createBounty() internal returns (uint256 id) {
        IFineTuning.BountyInput memory b = bountyInput();
        vm.prank(customer);
        id = ft.createBounty(b);
    }

    function enrolAll(uint256 id) internal {
        for (uint256 i = 0; i < trainers.length; ++i) {
            vm.prank(trainers[i]);
            ft.enrol(id);
        }
    }

    /// @dev Trainer payout leaves: trainer i paid (i + 1) × 5 DML (total 50 DML for 4 trainers).
    function trainerLeaves() internal view returns (bytes32[] memory l) {
        l = new bytes32[](trainers.length);
        for (uint256 i = 0; i < trainers.length; ++i)
            l[i] = MerkleHelper.leaf(trainers[i], (i + 1) * 5 ether);
    }

    function payoutRoot() internal view returns (bytes32) {
        return MerkleHelper.rootOfLeaves(trainerLeaves());
    }

    function refinerSalt(uint256 id, uint256 round) internal pure returns (bytes32) {
        return keccak256(abi.encode("refiner-salt", id, round));
    }

    function ftSalt(uint256 id, address a) internal view returns (bytes32) {
        return keccak256(abi.encode("ft-salt", id, ft.getBounty(id).currentRound, a));
    }

    function valueOf(bytes32 sha, uint256 metric, bytes32 root) internal pure returns (bytes32) {
        return keccak256(abi.encode(sha, metric, root));
    }

    /// @dev The refiner commits (NEW_SHA, root) for the current round.
    function commitCandidate(uint256 id, bytes32 root) internal {
        uint256 round = ft.getBounty(id).currentRound;
        vm.prank(refiner);
        ft.commitCandidate(id, keccak256(abi.encode(NEW_SHA, root, refinerSalt(id, round))), NEW_MODEL, LIST);
    }

    /// @dev Once the seed's block (the one after the commitment) is mined, the poster reveals the current round's
    ///      split, which draws the attestors.
    function revealSplit(uint256 id) internal {
        uint256 round = ft.getBounty(id).currentRound;
        vm.roll(block.number + 2);
        vm.prank(customer);
        ft.revealSplit(id, splitCid(round), splitSalt(round), splitProof(round));
    }

    function commitVotes(uint256 id, bytes32[] memory votes) internal {
        IFineTuning.RoundInfo memory info = ft.getRound(id, ft.getBounty(id).currentRound);
        for (uint256 i = 0; i < Q; ++i) {
            if (votes[i] == bytes32(0)) continue;
            address a = info.attestors[i];
            bytes32 commitment = keccak256(abi.encode(votes[i], ftSalt(id, a), a));
            vm.prank(a);
            ft.commitAttestation(id, commitment);
        }
    }

    function revealVotes(uint256 id, bytes32[] memory votes) internal {
        IFineTuning.RoundInfo memory info = ft.getRound(id, ft.getBounty(id).currentRound);
        for (uint256 i = 0; i < Q; ++i) {
            if (votes[i] == bytes32(0)) continue;
            address a = info.attestors[i];
            bytes32 salt = ftSalt(id, a);
            vm.prank(a);
            ft.revealAttestation(id, votes[i], salt);
        }
    }

    function revealCandidate(uint256 id, uint256 metric, bytes32 root) internal {
        uint256 round = ft.getBounty(id).currentRound;
        vm.prank(refiner);
        ft.revealCandidate(id, NEW_SHA, metric, root, refinerSalt(id, round));
    }

    /// @dev A full round: the refiner commits (NEW_SHA, payoutRoot()), the split is revealed, attestor i votes
    ///      `votes[i]` (zero = silent), the refiner reveals `metric`, and the keeper finalises.
    function runRound(uint256 id, uint256 metric, bytes32[] memory votes) internal {
        bytes32 root = payoutRoot();
        commitCandidate(id, root);
        revealSplit(id);
        commitVotes(id, votes);
        IFineTuning.RoundInfo memory info = ft.getRound(id, ft.getBounty(id).currentRound);
        vm.warp(info.commitDeadline + 1);
        revealVotes(id, votes);
        revealCandidate(id, metric, root);
        vm.warp(info.revealDeadline + 1);
        vm.prank(keeper);
        ft.finalizeRound(id);
    }

    /// @dev What attestor `a` earned (above its float).
    function earned(address a) internal view returns (uint256) {
        return token.balanceOf(a) - attestorFloat;
    }

    function votesFor(bytes32 v) internal pure returns (bytes32[] memory votes) {
        votes = new bytes32[](Q);
        for (uint256 i = 0; i < Q; ++i) votes[i] = v;
    }
}
