// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {GovernedUUPS} from "./utils/GovernedUUPS.sol";
import {CidLimits} from "./utils/CidLimits.sol";
import {IResultAttestation} from "./interfaces/IResultAttestation.sol";
import {IJobMarket} from "./interfaces/IJobMarket.sol";
import {INodeStaking} from "./interfaces/INodeStaking.sol";
import {AttestationQuorum} from "./attestation/AttestationQuorum.sol";
import {FutureSeed} from "./utils/FutureSeed.sol";
import {IJobLifecycleHook} from "./interfaces/IJobLifecycleHook.sol";
import {IGrowthPool} from "./interfaces/IGrowthPool.sol";
import {IDeviceRegistry} from "./interfaces/IDeviceRegistry.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @title ResultAttestation
/// @notice Cohort assignment with the attestor draw, the aggregator's result commitment, the attestor
///         commit-reveal quorum and slashing for prediction jobs (PROTOCOL.md §4 steps 3 and 6, §7.1, §7.3, §7.4,
///         §7.6), and the fraud proofs against a cohort that is not the one the job's seed draws.
///         Authorised in the JobMarket as `ATTESTATION_MODULE` and in NodeStaking as a slasher.
/// @custom:oz-upgrades-unsafe-allow external-library-linking
contract ResultAttestation is GovernedUUPS, ReentrancyGuardTransient, IResultAttestation {
    using AttestationQuorum for AttestationQuorum.Round;

    uint256 private constant BPS = 10_000;
    uint256 private constant MAX_CID_LENGTH = CidLimits.MAX_LENGTH;
    bytes32 private constant REASON_NO_MAJORITY = "ATTESTATION_NO_MAJORITY";
    bytes32 private constant REASON_AGGREGATOR_WRONG = "AGGREGATOR_MISMATCH";
    bytes32 private constant REASON_AGGREGATOR_SILENT = "AGGREGATOR_SILENT";
    bytes32 private constant REASON_LATE = "ATTESTATION_LATE";
    bytes32 private constant REASON_INVALID = "TRANSCRIPT_INVALID";
    bytes32 private constant REASON_COHORT = "COHORT_FAULT";
    bytes32 private constant ATTESTOR_SEED_TAG = "dml.attestors";
    bytes32 private constant JOB_SEED_TAG = "dml.job"; // JobMarket's tag: job seed = derive(epoch seed, tag, jobId)

    struct Record {
        Status status;
        bool aggregatorRevealed;
        address aggregator;
        uint40 jobDeadline; // the JobMarket deadline of the job's Committed phase
        uint24 connectedEpoch; // the growth-pool epoch whose connected set the cohort is drawn from
        uint16 roundId; // the job's quorum round in the pool (`rounds`); released when the job closes
        bytes32 aggregate; // the aggregator's commitment; replaced by its revealed result hash
    }

    /// @custom:storage-location erc7201:dml.storage.ResultAttestation
    struct ResultAttestationStorage {
        IJobMarket jobMarket;
        INodeStaking staking;
        Params params;
        mapping(uint256 jobId => Record) records;
        IGrowthPool growthPool; // connected sets the cohorts are drawn from
        // Quorum rounds are pooled: a closed job's round is reused by a later job, so its slots are rewritten, not
        // created (a fresh slot costs 20,000 gas, a rewrite 2,900). `roundJob` tells whose a round is now.
        uint16 freeCount; // number of released rounds on the `freeRounds` stack
        uint16 roundCount; // rounds ever created (ids 1..roundCount)
        mapping(uint256 roundId => AttestationQuorum.Round) rounds;
        mapping(uint256 roundId => uint256 jobId) roundJob;
        mapping(uint256 position => uint16 roundId) freeRounds;
    }

    // keccak256(abi.encode(uint256(keccak256("dml.storage.ResultAttestation")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant RESULT_ATTESTATION_STORAGE_LOCATION =
        0xdb5c41029499a81e8255a015aa9682e0313776f788d3fef30aedee360c869300;

    /// @notice Initialises the proxy.
    /// @param governance_ The governance timelock.
    /// @param jobMarket_ The JobMarket whose jobs are attested.
    /// @param staking_ NodeStaking (selection of attestors, slashing).
    /// @param growthPool_ GrowthPool (the connected sets cohorts are drawn from).
    /// @param params_ Initial parameters.
    function initialize(
        address governance_,
        IJobMarket jobMarket_,
        INodeStaking staking_,
        IGrowthPool growthPool_,
        Params calldata params_
    ) external initializer {
        __GovernedUUPS_init(governance_);
        if (
            address(jobMarket_) == address(0) ||
            address(staking_) == address(0) ||
            address(growthPool_) == address(0)
        ) revert AttestationZeroAddress();
        ResultAttestationStorage storage $ = _getStorage();
        $.jobMarket = jobMarket_;
        $.staking = staking_;
        $.growthPool = growthPool_;
        _setParams($, params_);
    }

    /// @inheritdoc IResultAttestation
    function setParams(Params calldata params_) external onlyGovernance {
        _setParams(_getStorage(), params_);
    }

    // ------------------------------------------------------------------------------------------------------
    // Commit / reveal
    // ------------------------------------------------------------------------------------------------------

    /// @inheritdoc IResultAttestation
    function assignCohort(
        uint256 jobId,
        bytes32 cohortRoot,
        uint32 deviceCount,
        string calldata cohortCid,
        address aggregator,
        uint256 connectedEpoch
    ) external nonReentrant {
        ResultAttestationStorage storage $ = _getStorage();
        INodeStaking staking_ = $.staking;
        if (!staking_.isActive(msg.sender, INodeStaking.Role.Distributor))
            revert AttestationNotDistributor(msg.sender);
        if (!staking_.isActive(aggregator, INodeStaking.Role.Aggregator))
            revert AttestationInactiveAggregator(aggregator);
        uint256 kMin = $.params.kMin;
        if (deviceCount < kMin) revert AttestationCohortTooSmall(deviceCount, kMin);
        // The JobMarket checks the job (Scheduled, in time, count in range) and hands back its seed, which was
        // fixed from a block hash after the job was scheduled and before this distributor acted (§7.1).
        bytes32 seed = $.jobMarket.markAssigned(
            jobId,
            cohortRoot,
            deviceCount,
            cohortCid,
            msg.sender,
            aggregator
        );
        _checkConnectedSet($, jobId, connectedEpoch, deviceCount);
        _draw($, staking_, jobId, seed, aggregator, connectedEpoch);
    }

    /// @dev The cohort is drawn from the latest connected set that stood when the job's seed could first be drawn
    ///      (the end of the scheduling epoch's reveal window; the seed is armed at `finalizeEpoch`, not before): a
    ///      set that was still open to challenges then could have been chosen knowing the seed.
    function _checkConnectedSet(
        ResultAttestationStorage storage $,
        uint256 jobId,
        uint256 connectedEpoch,
        uint256 deviceCount
    ) private view {
        IJobMarket market = $.jobMarket;
        (, , uint256 seedTime, ) = market.epochWindows(market.getJob(jobId).scheduledEpoch);
        IGrowthPool pool = $.growthPool;
        (, uint256 n, uint256 finalAt) = pool.connectedSet(connectedEpoch);
        if (finalAt == 0 || finalAt > seedTime || connectedEpoch >= type(uint24).max) {
            revert AttestationNotLatestConnectedSet(connectedEpoch);
        }
        (, , uint256 nextFinalAt) = pool.connectedSet(connectedEpoch + 1);
        if (nextFinalAt != 0 && nextFinalAt <= seedTime)
            revert AttestationNotLatestConnectedSet(connectedEpoch);
        if (n < deviceCount) revert AttestationConnectedSetTooSmall(n, deviceCount);
    }

    /// @dev Draws the job's attestors (never the aggregator), binds the distributor and them, and locks stake.
    function _draw(
        ResultAttestationStorage storage $,
        INodeStaking staking_,
        uint256 jobId,
        bytes32 seed,
        address aggregator,
        uint256 connectedEpoch
    ) private {
        // A job is Scheduled → Assigned exactly once, so its record is fresh here; its round comes from the pool.
        Record storage rec = $.records[jobId];
        rec.roundId = _acquireRound($, jobId);
        address[] memory chosen = _roundOf(rec).select(
            staking_,
            FutureSeed.derive(seed, ATTESTOR_SEED_TAG, jobId),
            $.params.quorum,
            aggregator,
            0,
            0
        );
        rec.status = Status.Drawn;
        rec.aggregator = aggregator;
        rec.connectedEpoch = uint24(connectedEpoch); // < 2^24 − 1 (checked in _checkConnectedSet)
        uint256 lockAmount = $.params.slashAmount;
        _roundOf(rec).lockAmount = uint80(lockAmount); // ≤ 2^80 − 1 (checked in _setParams)
        emit AttestorsDrawn(jobId, msg.sender, seed, connectedEpoch, chosen);
        _lockNodes(staking_, chosen, lockAmount);
    }

    /// @inheritdoc IResultAttestation
    function commitAggregate(
        uint256 jobId,
        bytes32 commitment,
        string calldata transcriptCid
    ) external nonReentrant {
        ResultAttestationStorage storage $ = _getStorage();
        uint256 cidLength = bytes(transcriptCid).length;
        if (commitment == bytes32(0) || cidLength == 0 || cidLength > MAX_CID_LENGTH) {
            revert AttestationInvalidCommitment();
        }
        Record storage rec = $.records[jobId];
        if (rec.status != Status.Drawn) revert AttestationInvalidStatus(jobId, rec.status);
        if (msg.sender != rec.aggregator) revert AttestationNotAggregator(jobId, msg.sender);
        // The JobMarket checks that the job is still Assigned and in time, moves it to Committed and returns the
        // length of its attestation phase (it calls nothing back).
        uint256 duration = $.jobMarket.markCommitted(jobId);
        Params memory p = $.params;
        AttestationQuorum.Round storage r = _roundOf(rec);
        uint40 commitDeadline = uint40(block.timestamp + (duration * p.commitWindowBps) / BPS);
        r.commitDeadline = commitDeadline;
        r.revealDeadline = uint40(commitDeadline + (duration * p.revealWindowBps) / BPS);
        rec.status = Status.Committed;
        rec.jobDeadline = uint40(block.timestamp + duration);
        rec.aggregate = commitment;
        emit AggregateCommitted(
            jobId,
            msg.sender,
            commitment,
            transcriptCid,
            commitDeadline,
            r.revealDeadline
        );
        _lockAggregator(rec);
    }

    /// @inheritdoc IResultAttestation
    function commitAttestation(uint256 jobId, bytes32 commitment) external {
        Record storage rec = _committed(jobId);
        _roundOf(rec).commit(msg.sender, commitment);
        emit AttestationCommitted(jobId, msg.sender, commitment);
    }

    /// @inheritdoc IResultAttestation
    function revealAttestation(uint256 jobId, bytes32 aggregateHash, bytes32 salt) external nonReentrant {
        Record storage rec = _committed(jobId);
        _roundOf(rec).reveal(msg.sender, aggregateHash, salt);
        emit AttestationRevealed(jobId, msg.sender, aggregateHash);
        _finalizeIfUnanimous(rec, jobId);
    }

    /// @inheritdoc IResultAttestation
    function revealAggregate(uint256 jobId, bytes32 aggregateHash, bytes32 salt) external nonReentrant {
        Record storage rec = _committed(jobId);
        if (msg.sender != rec.aggregator) revert AttestationNotAggregator(jobId, msg.sender);
        AttestationQuorum.Round storage r = _roundOf(rec);
        if (!r.revealOpen() || block.timestamp > r.revealDeadline) {
            revert QuorumNotInRevealPhase(r.commitDeadline, r.revealDeadline);
        }
        if (rec.aggregatorRevealed) revert AttestationAggregatorAlreadyRevealed(jobId);
        if (aggregateHash == bytes32(0)) revert QuorumZeroValue();
        if (aggregateHash == AttestationQuorum.INVALID) revert AttestationInvalidValue();
        if (keccak256(abi.encode(aggregateHash, salt)) != rec.aggregate)
            revert AttestationAggregatorMismatch(jobId);
        rec.aggregatorRevealed = true;
        rec.aggregate = aggregateHash;
        emit AggregateRevealed(jobId, msg.sender, aggregateHash);
        _finalizeIfUnanimous(rec, jobId);
    }

    // ------------------------------------------------------------------------------------------------------
    // Cohort fraud proofs (PROTOCOL.md §7.3)
    // ------------------------------------------------------------------------------------------------------

    /// @inheritdoc IResultAttestation
    function challengeCohortMember(
        uint256 jobId,
        CohortProof calldata memberProof,
        IGrowthPool.Leaf calldata connected,
        bytes32[] calldata connectedProof
    ) external nonReentrant {
        ResultAttestationStorage storage $ = _getStorage();
        (Record storage rec, IJobMarket.Job memory job) = _challengeable($, jobId);
        CohortMember calldata member = _checkMember(jobId, job.cohortRoot, memberProof);
        CohortFault fault = CohortFault.PositionOutOfRange;
        if (member.position < job.deviceCount) {
            fault = CohortFault.NotConnected;
            uint256 epoch = rec.connectedEpoch;
            (bytes32 root, uint256 n, ) = $.growthPool.connectedSet(epoch);
            if (member.connectedIndex < n) {
                _checkConnected(epoch, root, connected, connectedProof);
                if (connected.index != member.connectedIndex || connected.device == member.device) {
                    revert AttestationNoCohortFault(jobId, fault);
                }
            }
        }
        _cohortFault($, rec, jobId, job, fault);
    }

    /// @inheritdoc IResultAttestation
    function challengeCohortIneligible(uint256 jobId, CohortProof calldata member) external nonReentrant {
        ResultAttestationStorage storage $ = _getStorage();
        (Record storage rec, IJobMarket.Job memory job) = _challengeable($, jobId);
        address device = _checkMember(jobId, job.cohortRoot, member).device;
        if (_eligibleSinceAssignment($, rec, job, device) != Eligibility.Ineligible) {
            revert AttestationNoCohortFault(jobId, CohortFault.Ineligible);
        }
        _cohortFault($, rec, jobId, job, CohortFault.Ineligible);
    }

    /// @inheritdoc IResultAttestation
    function challengeCohortOrder(
        uint256 jobId,
        CohortProof calldata aProof,
        CohortProof calldata bProof
    ) external nonReentrant {
        ResultAttestationStorage storage $ = _getStorage();
        (Record storage rec, IJobMarket.Job memory job) = _challengeable($, jobId);
        CohortMember calldata a = _checkMember(jobId, job.cohortRoot, aProof);
        CohortMember calldata b = _checkMember(jobId, job.cohortRoot, bProof);
        bytes32 seed = _jobSeed($, job, jobId);
        if (b.position != a.position + 1 || _score(seed, b.device) > _score(seed, a.device)) {
            revert AttestationNoCohortFault(jobId, CohortFault.OutOfOrder);
        }
        _cohortFault($, rec, jobId, job, CohortFault.OutOfOrder);
    }

    /// @inheritdoc IResultAttestation
    function challengeCohortOmission(
        uint256 jobId,
        IGrowthPool.Leaf calldata omitted,
        bytes32[] calldata omittedProof,
        CohortProof calldata belowProof,
        CohortProof calldata aboveProof
    ) external nonReentrant {
        ResultAttestationStorage storage $ = _getStorage();
        (Record storage rec, IJobMarket.Job memory job) = _challengeable($, jobId);
        bytes32 seed = _jobSeed($, job, jobId);
        uint256 score = _omittedScore($, rec, seed, omitted, omittedProof);
        if (
            !_ranksBetween(jobId, job.cohortRoot, seed, score, belowProof, aboveProof) ||
            _eligibleSinceAssignment($, rec, job, omitted.device) != Eligibility.Eligible
        ) {
            revert AttestationNoCohortFault(jobId, CohortFault.Omitted);
        }
        _cohortFault($, rec, jobId, job, CohortFault.Omitted);
    }

    // ------------------------------------------------------------------------------------------------------
    // Finalisation and slashing
    // ------------------------------------------------------------------------------------------------------

    /// @inheritdoc IResultAttestation
    function finalize(uint256 jobId) external nonReentrant {
        ResultAttestationStorage storage $ = _getStorage();
        Record storage rec = _committed(jobId);
        AttestationQuorum.Round storage r = _roundOf(rec);
        r.requireOver();
        if (!rec.aggregatorRevealed && block.timestamp <= r.revealDeadline) {
            revert AttestationAggregatorRevealPending(jobId, r.revealDeadline);
        }
        (bytes32 value, bool majority) = r.tally();
        // Silence and dissent are faults only when a majority revealed (§7.4); the aggregator bound itself when
        // it committed, so its own silence is always a fault, and so is a majority for INVALID or another value.
        (uint256 faultMask, uint256 agreeMask) = r.faults(value, majority);
        bool aggregatorFault = !rec.aggregatorRevealed || (majority && rec.aggregate != value);
        bool attested = majority && !aggregatorFault;
        bytes32 reason;
        if (!rec.aggregatorRevealed) reason = REASON_AGGREGATOR_SILENT;
        else if (!majority) reason = REASON_NO_MAJORITY;
        else if (value == AttestationQuorum.INVALID) reason = REASON_INVALID;
        else if (aggregatorFault) reason = REASON_AGGREGATOR_WRONG;

        // Effects.
        rec.status = attested ? Status.Attested : Status.Failed;
        _roundOf(rec).agreeMask = uint16(agreeMask);
        emit AttestationFinalized(
            jobId,
            attested,
            majority,
            value,
            uint16(agreeMask),
            uint16(faultMask),
            aggregatorFault
        );

        // Interactions: slashing, then the JobMarket transition.
        if (faultMask != 0 || aggregatorFault) _slashFaults($, rec, jobId, faultMask, aggregatorFault);

        IJobMarket market = $.jobMarket;
        IJobMarket.JobStatus js = market.status(jobId);
        if (js != IJobMarket.JobStatus.Committed) {
            // already expired through JobMarket.timeout, which kept the round open for this call: release it
            _releaseRound($, rec);
            return;
        }
        if (attested) {
            if (block.timestamp <= rec.jobDeadline) market.markAttested(jobId);
            else market.markFailed(jobId, REASON_LATE);
        } else {
            market.markFailed(jobId, reason);
        }
    }

    /// @inheritdoc IJobLifecycleHook
    function onJobClosed(uint256 jobId, address distributor) external {
        ResultAttestationStorage storage $ = _getStorage();
        if (msg.sender != address($.jobMarket)) revert AttestationNotJobMarket(msg.sender);
        Record storage rec = $.records[jobId];
        // The JobMarket closes a job once.
        Status s = rec.status;
        if (s == Status.None) return;
        if (_roundOf(rec).lockAmount != 0) _unlockNodes($.staking, rec, distributor);
        // A round whose outcome is final (or that was never committed to) is done: a later job reuses its slots.
        // A quorum still open (the job expired while Committed) keeps its round so `finalize` can still settle
        // its faults.
        if (s != Status.Committed) _releaseRound($, rec);
    }

    // ------------------------------------------------------------------------------------------------------
    // Views
    // ------------------------------------------------------------------------------------------------------

    /// @inheritdoc IResultAttestation
    function attestationOf(uint256 jobId) external view returns (Attestation memory a) {
        ResultAttestationStorage storage $ = _getStorage();
        Record storage rec = $.records[jobId];
        a.status = rec.status;
        a.aggregatorRevealed = rec.aggregatorRevealed;
        a.aggregator = rec.aggregator;
        if (rec.aggregatorRevealed) a.aggregateHash = rec.aggregate;
        else a.aggregatorCommitment = rec.aggregate;
        a.connectedEpoch = rec.connectedEpoch;
        if (rec.status != Status.None) a.distributor = $.jobMarket.getJob(jobId).distributor;
        if (rec.status == Status.Attested) a.finalHash = rec.aggregate;
        // The round's details (attestors, windows, masks, lock) until a later job reuses the round; the events
        // (`AttestorsDrawn`, `AttestationFinalized`) keep them for good.
        if (!_ownsRound($, rec, jobId)) return a;
        AttestationQuorum.Round storage r = _roundOf(rec);
        a.commitDeadline = r.commitDeadline;
        a.revealDeadline = r.revealDeadline;
        a.committedMask = r.committedMask;
        a.revealedMask = r.revealedMask;
        uint256 agree = r.agreeMask;
        a.agreeMask = uint16(agree);
        if (agree != 0) {
            uint256 i = 0;
            while (agree & (1 << i) == 0) ++i;
            a.finalHash = r.slots[i];
        }
        a.attestors = r.membersOf();
        a.lockAmount = r.lockAmount;
        a.assignedAt = r.openedAt;
    }

    /// @inheritdoc IResultAttestation
    function resultOf(uint256 jobId) external view returns (bytes32) {
        Record storage rec = _getStorage().records[jobId];
        return rec.status == Status.Attested ? rec.aggregate : bytes32(0);
    }

    /// @inheritdoc IResultAttestation
    function INVALID() external pure returns (bytes32) {
        return AttestationQuorum.INVALID;
    }

    /// @inheritdoc IResultAttestation
    function statusOf(uint256 jobId) external view returns (Status) {
        return _getStorage().records[jobId].status;
    }

    /// @inheritdoc IResultAttestation
    function agreeingAttestors(uint256 jobId) external view returns (address[] memory list) {
        ResultAttestationStorage storage $ = _getStorage();
        Record storage rec = $.records[jobId];
        if (!_ownsRound($, rec, jobId)) return list; // the round went to a later job (see `attestationOf`)
        AttestationQuorum.Round storage r = _roundOf(rec);
        uint256 mask = r.agreeMask;
        uint256 size = r.size;
        uint256 n = 0;
        for (uint256 i = 0; i < size; ++i) if (mask & (1 << i) != 0) ++n;
        list = new address[](n);
        n = 0;
        for (uint256 i = 0; i < size; ++i) if (mask & (1 << i) != 0) list[n++] = r.members[i];
    }

    /// @inheritdoc IResultAttestation
    function params() external view returns (Params memory) {
        return _getStorage().params;
    }

    /// @inheritdoc IResultAttestation
    function jobMarket() external view returns (IJobMarket) {
        return _getStorage().jobMarket;
    }

    /// @inheritdoc IResultAttestation
    function staking() external view returns (INodeStaking) {
        return _getStorage().staking;
    }

    /// @inheritdoc IResultAttestation
    function growthPool() external view returns (IGrowthPool) {
        return _getStorage().growthPool;
    }

    /// @inheritdoc IResultAttestation
    function cohortScore(bytes32 jobSeed, address device) external pure returns (uint256) {
        return _score(jobSeed, device);
    }

    // ------------------------------------------------------------------------------------------------------
    // Internal
    // ------------------------------------------------------------------------------------------------------

    /// @dev Once the aggregator and every attestor revealed the same value, the outcome cannot change and nobody
    ///      is at fault: finalise as Attested now instead of waiting for a separate `finalize`.
    function _finalizeIfUnanimous(Record storage rec, uint256 jobId) private {
        AttestationQuorum.Round storage r = _roundOf(rec);
        if (!rec.aggregatorRevealed || !r.allRevealed()) return;
        bytes32 value = rec.aggregate;
        uint256 size = r.size;
        for (uint256 i = 0; i < size; ++i) if (r.slots[i] != value) return;
        if (block.timestamp > rec.jobDeadline) return;
        uint16 all = uint16((1 << size) - 1);
        rec.status = Status.Attested;
        _roundOf(rec).agreeMask = all;
        emit AttestationFinalized(jobId, true, true, value, all, 0, false);
        _getStorage().jobMarket.markAttested(jobId);
    }

    /// @dev Where a device stands for a job, as far as the distributor could know at the assignment.
    enum Eligibility {
        Eligible,
        Ineligible,
        ChangedSinceAssignment
    }

    /// @dev A cohort can be disproved while its attestation is open and the job is live (it is then still locked).
    function _challengeable(
        ResultAttestationStorage storage $,
        uint256 jobId
    ) private view returns (Record storage rec, IJobMarket.Job memory job) {
        rec = $.records[jobId];
        Status s = rec.status;
        if (s != Status.Drawn && s != Status.Committed) revert AttestationCohortNotChallengeable(jobId);
        job = $.jobMarket.getJob(jobId);
        if (job.status != IJobMarket.JobStatus.Assigned && job.status != IJobMarket.JobStatus.Committed) {
            revert AttestationCohortNotChallengeable(jobId);
        }
    }

    /// @dev The proven member; reverts unless its proof holds against the cohort root.
    function _checkMember(
        uint256 jobId,
        bytes32 cohortRoot,
        CohortProof calldata p
    ) private pure returns (CohortMember calldata m) {
        m = p.member;
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(m.position, m.connectedIndex, m.device))));
        if (!MerkleProof.verifyCalldata(p.proof, cohortRoot, leaf)) {
            revert AttestationNotCohortMember(jobId, m.device, m.position);
        }
    }

    function _checkConnected(
        uint256 epoch,
        bytes32 root,
        IGrowthPool.Leaf calldata leaf,
        bytes32[] calldata proof
    ) private pure {
        bytes32 hash = keccak256(
            bytes.concat(keccak256(abi.encode(leaf.index, leaf.device, leaf.signature)))
        );
        if (!MerkleProof.verifyCalldata(proof, root, hash)) {
            revert AttestationNotConnected(epoch, leaf.device, leaf.index);
        }
    }

    /// @dev A device whose registration changed at or after the assignment is neither a provable member fault nor
    ///      a provable omission: the distributor could not have known (and the device cannot frame it).
    function _eligibleSinceAssignment(
        ResultAttestationStorage storage $,
        Record storage rec,
        IJobMarket.Job memory job,
        address device
    ) private view returns (Eligibility) {
        IJobMarket market = $.jobMarket;
        IDeviceRegistry registry = market.registry();
        if (registry.lastChange(device) >= _roundOf(rec).openedAt) return Eligibility.ChangedSinceAssignment;
        bytes32 schema = market.market().getAlgorithm(job.algorithmId).schema;
        return
            registry.isEligible(device, schema, job.algorithmId, job.rewardPerDevice)
                ? Eligibility.Eligible
                : Eligibility.Ineligible;
    }

    /// @dev The draw score of a device proven in the cohort's connected set (type(uint256).max when its index is
    ///      out of the set's range: no device of the set).
    function _omittedScore(
        ResultAttestationStorage storage $,
        Record storage rec,
        bytes32 seed,
        IGrowthPool.Leaf calldata omitted,
        bytes32[] calldata proof
    ) private view returns (uint256) {
        uint256 epoch = rec.connectedEpoch;
        (bytes32 root, uint256 n, ) = $.growthPool.connectedSet(epoch);
        _checkConnected(epoch, root, omitted, proof);
        return omitted.index < n ? _score(seed, omitted.device) : type(uint256).max;
    }

    /// @dev True when `score` ranks below the member `above` and either `above` is at position 0 or `below` is the
    ///      member just before it with a lower score: a device with that score belongs in the cohort.
    function _ranksBetween(
        uint256 jobId,
        bytes32 cohortRoot,
        bytes32 seed,
        uint256 score,
        CohortProof calldata belowProof,
        CohortProof calldata aboveProof
    ) private pure returns (bool) {
        CohortMember calldata above = _checkMember(jobId, cohortRoot, aboveProof);
        if (score >= _score(seed, above.device)) return false;
        if (above.position == 0) return true;
        CohortMember calldata below = _checkMember(jobId, cohortRoot, belowProof);
        return below.position + 1 == above.position && score > _score(seed, below.device);
    }

    function _jobSeed(
        ResultAttestationStorage storage $,
        IJobMarket.Job memory job,
        uint256 jobId
    ) private view returns (bytes32) {
        return FutureSeed.derive($.jobMarket.epochSeed(job.scheduledEpoch), JOB_SEED_TAG, jobId);
    }

    function _score(bytes32 jobSeed, address device) private pure returns (uint256) {
        return uint256(keccak256(abi.encode(jobSeed, device)));
    }

    /// @dev A proven cohort fault: the job fails (refunding the customer, unlocking every node through
    ///      `onJobClosed`) and the distributor loses the stake it locked for the job.
    function _cohortFault(
        ResultAttestationStorage storage $,
        Record storage rec,
        uint256 jobId,
        IJobMarket.Job memory job,
        CohortFault fault
    ) private {
        rec.status = Status.Failed;
        address distributor = job.distributor;
        address challenger = _challengerOf(rec, job);
        uint256 slashed = $.staking.slash(
            distributor,
            INodeStaking.Role.Distributor,
            _roundOf(rec).lockAmount,
            challenger
        );
        emit CohortChallenged(jobId, distributor, msg.sender, fault, slashed);
        emit NodeSlashed(jobId, distributor, INodeStaking.Role.Distributor, slashed, challenger);
        $.jobMarket.markFailed(jobId, REASON_COHORT);
    }

    /// @dev The job's round (valid for a job that has one and whose round was not reused since it closed).
    function _roundOf(Record storage rec) private view returns (AttestationQuorum.Round storage) {
        return _getStorage().rounds[rec.roundId];
    }

    function _ownsRound(
        ResultAttestationStorage storage $,
        Record storage rec,
        uint256 jobId
    ) private view returns (bool) {
        uint256 id = rec.roundId;
        return id != 0 && $.roundJob[id] == jobId;
    }

    /// @dev A round for `jobId`: the last one released, else a new one. A reused round keeps stale members and
    ///      commitments beyond what `select` and the masks cover; every read goes through `size` and the masks.
    function _acquireRound(ResultAttestationStorage storage $, uint256 jobId) private returns (uint16 id) {
        uint256 free = $.freeCount;
        if (free != 0) {
            id = $.freeRounds[free - 1];
            $.freeCount = uint16(free - 1);
            AttestationQuorum.Round storage r = $.rounds[id];
            r.committedMask = 0;
            r.revealedMask = 0;
            r.agreeMask = 0;
        } else {
            uint256 next = uint256($.roundCount) + 1;
            if (next > type(uint16).max) revert AttestationNoRound();
            id = uint16(next);
            $.roundCount = id;
        }
        $.roundJob[id] = jobId;
    }

    /// @dev Puts the job's round on the free stack (a later assignment rewrites it).
    function _releaseRound(ResultAttestationStorage storage $, Record storage rec) private {
        uint256 free = $.freeCount;
        $.freeRounds[free] = rec.roundId;
        $.freeCount = uint16(free + 1); // ≤ roundCount < 2^16
    }

    function _committed(uint256 jobId) private view returns (Record storage rec) {
        rec = _getStorage().records[jobId];
        if (rec.status != Status.Committed) revert AttestationInvalidStatus(jobId, rec.status);
    }

    function _slashFaults(
        ResultAttestationStorage storage $,
        Record storage rec,
        uint256 jobId,
        uint256 faultMask,
        bool aggregatorFault
    ) private {
        INodeStaking staking_ = $.staking;
        uint256 amount = $.params.slashAmount;
        address challenger = _challenger($, rec, jobId);
        uint256 size = _roundOf(rec).size;
        for (uint256 i = 0; i < size; ++i) {
            if (faultMask & (1 << i) != 0) {
                _slash(
                    staking_,
                    jobId,
                    _roundOf(rec).members[i],
                    INodeStaking.Role.Attestor,
                    amount,
                    challenger
                );
            }
        }
        if (aggregatorFault) {
            _slash(staking_, jobId, rec.aggregator, INodeStaking.Role.Aggregator, amount, challenger);
        }
    }

    /// @dev The caller earns the challenger share only when it is no party of the job (§7.6): not the customer,
    ///      the distributor, the aggregator or a drawn attestor (a slashed node included).
    function _challenger(
        ResultAttestationStorage storage $,
        Record storage rec,
        uint256 jobId
    ) private view returns (address) {
        return _challengerOf(rec, $.jobMarket.getJob(jobId));
    }

    function _challengerOf(Record storage rec, IJobMarket.Job memory job) private view returns (address) {
        if (msg.sender == rec.aggregator || _roundOf(rec).isMember(msg.sender)) return address(0);
        return msg.sender == job.customer || msg.sender == job.distributor ? address(0) : msg.sender;
    }

    function _slash(
        INodeStaking staking_,
        uint256 jobId,
        address node,
        INodeStaking.Role role,
        uint256 amount,
        address challenger
    ) private {
        uint256 slashed = staking_.slash(node, role, amount, challenger);
        emit NodeSlashed(jobId, node, role, slashed, challenger);
    }

    /// @dev Locks `amount` of the distributor's (the caller's) and every drawn attestor's stake: they are bound
    ///      (§7.6). One NodeStaking call for all of them.
    function _lockNodes(INodeStaking staking_, address[] memory attestors, uint256 amount) private {
        if (amount == 0) return;
        uint256 q = attestors.length;
        address[] memory nodes = new address[](q + 1);
        INodeStaking.Role[] memory roles = new INodeStaking.Role[](q + 1);
        nodes[0] = msg.sender;
        roles[0] = INodeStaking.Role.Distributor;
        for (uint256 i = 0; i < q; ++i) {
            nodes[i + 1] = attestors[i];
            roles[i + 1] = INodeStaking.Role.Attestor;
        }
        staking_.lockMany(nodes, roles, amount);
    }

    /// @dev Locks the aggregator's stake once it has bound itself by committing.
    function _lockAggregator(Record storage rec) private {
        uint256 amount = _roundOf(rec).lockAmount;
        if (amount != 0) _getStorage().staking.lock(rec.aggregator, INodeStaking.Role.Aggregator, amount);
    }

    /// @dev Releases exactly what `_lockNodes` / `_lockAggregator` locked (the aggregator once it committed).
    function _unlockNodes(INodeStaking staking_, Record storage rec, address distributor) private {
        AttestationQuorum.Round storage r = _roundOf(rec);
        uint256 q = r.size;
        bool aggregatorBound = r.commitDeadline != 0; // set by commitAggregate, when the aggregator bound itself
        uint256 n = q + (aggregatorBound ? 2 : 1);
        address[] memory nodes = new address[](n);
        INodeStaking.Role[] memory roles = new INodeStaking.Role[](n);
        nodes[0] = distributor;
        roles[0] = INodeStaking.Role.Distributor;
        for (uint256 i = 0; i < q; ++i) {
            nodes[i + 1] = r.members[i];
            roles[i + 1] = INodeStaking.Role.Attestor;
        }
        if (aggregatorBound) {
            nodes[q + 1] = rec.aggregator;
            roles[q + 1] = INodeStaking.Role.Aggregator;
        }
        staking_.unlockMany(nodes, roles, r.lockAmount);
    }

    function _setParams(ResultAttestationStorage storage $, Params calldata p) private {
        if (
            p.quorum == 0 ||
            p.kMin == 0 ||
            p.slashAmount > type(uint80).max ||
            p.quorum > AttestationQuorum.MAX_SIZE ||
            p.commitWindowBps == 0 ||
            p.revealWindowBps == 0 ||
            uint256(p.commitWindowBps) + p.revealWindowBps >= BPS
        ) revert AttestationInvalidParams();
        $.params = p;
        emit ParamsUpdated(p);
    }

    function _getStorage() private pure returns (ResultAttestationStorage storage $) {
        assembly {
            $.slot := RESULT_ATTESTATION_STORAGE_LOCATION
        }
    }
}
