// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IJobMarket} from "../../../contracts/interfaces/IJobMarket.sol";
import {INodeStaking} from "../../../contracts/interfaces/INodeStaking.sol";
import {IResultAttestation} from "../../../contracts/interfaces/IResultAttestation.sol";
import {ISettlement} from "../../../contracts/interfaces/ISettlement.sol";
import {TestMerkle} from "../../settlement/LifecycleFixture.sol";

/// @notice Drives whole prediction jobs through ResultAttestation and Settlement with fuzzed behaviour
///         (attestor votes, aggregator honesty, quality, payouts), device claims (including duplicates and
///         cross-job proofs) and sweeps. Every input is bounded; no action reverts. Ghost variables record
///         violations of the properties checked by the invariant test.
contract JobLifecycleHandler is Test {
    uint256 internal constant Q = 3;
    uint256 internal constant DEVICES = 8;
    bytes32 internal constant AGG = keccak256("aggregate");

    IERC20 public immutable token;
    IJobMarket public immutable jm;
    INodeStaking public immutable staking;
    IResultAttestation public immutable ra;
    ISettlement public immutable settlement;
    address public immutable customer;
    address public immutable distributor;
    address public immutable aggregator;
    address public immutable reporter;
    address public immutable funder;
    IJobMarket.JobSpec internal spec;
    address[] internal attestorSet;

    uint256[] public jobs;
    mapping(uint256 jobId => uint256) public payoutAmount; // per device, when the job paid out
    mapping(uint256 jobId => mapping(address => uint256)) public claimCount;

    uint256 public ghostDoubleClaims;
    uint256 public ghostHonestMajorityNotFinal;
    uint256 public ghostUnslashedFaults;
    uint256 public ghostNonTerminalJobs;
    uint256 public ghostCrossJobClaims;
    uint256 public ghostClaims;
    uint256 public ghostSweeps;

    constructor(
        IERC20 token_,
        IJobMarket jm_,
        INodeStaking staking_,
        IResultAttestation ra_,
        ISettlement settlement_,
        address[5] memory actors, // customer, distributor, aggregator, reporter, funder
        address[] memory attestors_,
        IJobMarket.JobSpec memory spec_
    ) {
        attestorSet = attestors_;
        token = token_;
        jm = jm_;
        staking = staking_;
        ra = ra_;
        settlement = settlement_;
        customer = actors[0];
        distributor = actors[1];
        aggregator = actors[2];
        reporter = actors[3];
        funder = actors[4];
        spec = spec_;
    }

    function jobCount() external view returns (uint256) {
        return jobs.length;
    }

    function device(uint256 i) public pure returns (address) {
        return address(uint160(uint256(keccak256(abi.encode("invariant-device", i)))));
    }

    // ------------------------------------------------------------------------------------------- actions

    /// @notice Runs one job from creation to a terminal state with fuzzed node behaviour.
    function runJob(
        uint256 votesSeed,
        bool aggregatorHonest,
        bool quality,
        uint256 participants,
        uint256 pay
    ) external {
        _topUpStakes();
        uint256 jobId = _assigned();
        bytes32 aggValue = aggregatorHonest ? AGG : keccak256("wrong aggregate");
        bytes32[] memory votes = new bytes32[](Q);
        uint256 honest = 0;
        for (uint256 i = 0; i < Q; ++i) {
            uint256 kind = (votesSeed >> (2 * i)) & 3; // 0 silent, 1 honest, 2/3 lies
            votes[i] =
                kind == 0
                    ? bytes32(0)
                    : kind == 1
                        ? AGG
                        : keccak256(abi.encode(kind, i, votesSeed));
            if (kind == 1) ++honest;
        }
        address[] memory atts = _attest(jobId, aggValue, votes);
        bool majority = honest * 2 > Q;
        // Honest majority finalises to the honest value; faults are slashed.
        IResultAttestation.Attestation memory a = ra.attestationOf(jobId);
        if (majority && a.finalHash != AGG) ++ghostHonestMajorityNotFinal;
        for (uint256 i = 0; i < Q; ++i) {
            bool fault = votes[i] == bytes32(0) || (majority && votes[i] != AGG);
            if (fault && staking.stakeInfo(atts[i], INodeStaking.Role.Attestor).bonded >= 1_000 ether) {
                ++ghostUnslashedFaults;
            }
        }
        if (
            majority &&
            !aggregatorHonest &&
            staking.stakeOf(aggregator, INodeStaking.Role.Aggregator) >= 1_000 ether
        ) {
            ++ghostUnslashedFaults;
        }
        if (jm.status(jobId) == IJobMarket.JobStatus.Attested) _report(jobId, quality, participants, pay);
        IJobMarket.JobStatus s = jm.status(jobId);
        if (s != IJobMarket.JobStatus.Settled && s != IJobMarket.JobStatus.Failed) ++ghostNonTerminalJobs;
        jobs.push(jobId);
    }

    /// @notice A device claims (possibly again, possibly with another job's proof).
    function claim(uint256 jobSeed, uint256 deviceSeed, uint256 proofJobSeed) external {
        if (jobs.length == 0) return;
        uint256 jobId = jobs[jobSeed % jobs.length];
        uint256 proofJob = jobs[proofJobSeed % jobs.length];
        uint256 amount = payoutAmount[proofJob];
        if (amount == 0) return;
        uint256 i = deviceSeed % DEVICES;
        bytes32[] memory leaves = _leaves(amount);
        bytes32[] memory proof = TestMerkle.proof(leaves, i);
        ISettlement.Report memory r = settlement.reportOf(jobId);
        bool valid =
            proofJob == jobId ||
                (payoutAmount[jobId] == amount && r.payoutRoot == settlement.reportOf(proofJob).payoutRoot);
        bool expectOk = valid && !r.swept && claimCount[jobId][device(i)] == 0 && r.payoutRoot != bytes32(0);
        try settlement.claim(jobId, device(i), amount, proof) {
            if (!expectOk) {
                if (claimCount[jobId][device(i)] != 0) ++ghostDoubleClaims;
                else ++ghostCrossJobClaims;
            }
            ++claimCount[jobId][device(i)];
            ++ghostClaims;
        } catch {
            if (expectOk) ++ghostCrossJobClaims; // a valid claim must succeed
        }
    }

    /// @notice Anyone sweeps after the window (time is advanced first).
    function sweep(uint256 jobSeed, uint256 warpBy) external {
        if (jobs.length == 0) return;
        vm.warp(block.timestamp + bound(warpBy, 0, 40 days));
        uint256 jobId = jobs[jobSeed % jobs.length];
        ISettlement.Report memory r = settlement.reportOf(jobId);
        if (r.payoutRoot == bytes32(0) || r.swept || block.timestamp <= r.claimDeadline) return;
        settlement.sweep(jobId);
        ++ghostSweeps;
    }

    // ------------------------------------------------------------------------------------------- internals

    /// @dev Slashed nodes drop below the minimum stake; top them up so the next job can run.
    function _topUpStakes() internal {
        _topUp(aggregator, INodeStaking.Role.Aggregator);
        for (uint256 i = 0; i < attestorSet.length; ++i) _topUp(attestorSet[i], INodeStaking.Role.Attestor);
    }

    function _topUp(address op, INodeStaking.Role role) internal {
        uint256 bonded = staking.stakeOf(op, role);
        if (bonded >= 1_000 ether) return;
        uint256 missing = 1_000 ether - bonded;
        vm.prank(funder);
        token.transfer(op, missing);
        vm.prank(op);
        staking.stake(role, missing);
    }

    function _assigned() internal returns (uint256 jobId) {
        (, uint256 cEnd, , uint256 eEnd) = jm.epochWindows(jm.currentEpoch());
        if (block.timestamp >= cEnd) vm.warp(eEnd);
        vm.prank(customer);
        jobId = jm.createJob(spec);
        uint256 epoch = jm.currentEpoch();
        bytes32 salt = keccak256(abi.encode("bid", jobId));
        vm.prank(customer);
        jm.commitBid(jobId, keccak256(abi.encode(jobId, uint256(2 ether), salt, customer)), 2 ether);
        (, uint256 commitEnd, uint256 revealEnd, ) = jm.epochWindows(epoch);
        vm.warp(commitEnd);
        jm.revealBid(jobId, 2 ether, salt);
        vm.warp(revealEnd);
        jm.finalizeEpoch(epoch);
        vm.prank(distributor);
        jm.assignCohort(jobId, keccak256("cohort"), 20, "bafy-cohort", aggregator);
    }

    function _attest(
        uint256 jobId,
        bytes32 aggValue,
        bytes32[] memory votes
    ) internal returns (address[] memory atts) {
        bytes32 aggSalt = keccak256(abi.encode("agg", jobId));
        vm.prank(aggregator);
        ra.commitAggregate(jobId, keccak256(abi.encode(aggValue, aggSalt)), "bafy-transcript");
        IResultAttestation.Attestation memory a = ra.attestationOf(jobId);
        atts = a.attestors;
        for (uint256 i = 0; i < Q; ++i) {
            if (votes[i] == bytes32(0)) continue;
            bytes32 s = keccak256(abi.encode("att", jobId, i));
            vm.prank(atts[i]);
            ra.commitAttestation(jobId, keccak256(abi.encode(votes[i], s, atts[i])));
        }
        vm.warp(a.commitDeadline + 1);
        for (uint256 i = 0; i < Q; ++i) {
            if (votes[i] == bytes32(0)) continue;
            vm.prank(atts[i]);
            ra.revealAttestation(jobId, votes[i], keccak256(abi.encode("att", jobId, i)));
        }
        vm.prank(aggregator);
        ra.revealAggregate(jobId, aggValue, aggSalt);
        vm.warp(a.revealDeadline + 1);
        ra.finalize(jobId);
    }

    function _leaves(uint256 amount) internal pure returns (bytes32[] memory leaves) {
        leaves = new bytes32[](DEVICES);
        for (uint256 i = 0; i < DEVICES; ++i) leaves[i] = TestMerkle.leaf(device(i), amount);
    }

    function _report(uint256 jobId, bool quality, uint256 participants, uint256 pay) internal {
        participants = bound(participants, 0, 20);
        bool success = quality && participants >= spec.minParticipants;
        ISettlement.ReportInput memory r;
        r.reportCid = "bafy-report";
        r.reportCommitment = keccak256(abi.encode("report", jobId));
        r.participants = uint32(participants);
        r.qualityMet = quality;
        if (success) {
            // 8 devices each paid `amount`: total ≤ participants × reward.
            uint256 amount = bound(pay, 1, (participants * spec.rewardPerDevice) / DEVICES);
            r.payoutRoot = TestMerkle.root(_leaves(amount));
            r.payoutTotal = uint128(amount * DEVICES);
            payoutAmount[jobId] = amount;
        }
        vm.prank(reporter);
        settlement.report(jobId, r);
    }
}
