// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {GovernedUUPS} from "./utils/GovernedUUPS.sol";
import {FutureSeed} from "./utils/FutureSeed.sol";
import {IJobLifecycleHook} from "./interfaces/IJobLifecycleHook.sol";
import {IJobMarket} from "./interfaces/IJobMarket.sol";
import {IAlgorithmMarketplace} from "./interfaces/IAlgorithmMarketplace.sol";
import {INodeStaking} from "./interfaces/INodeStaking.sol";
import {IDeviceRegistry} from "./interfaces/IDeviceRegistry.sol";
import {JobAuctionLib} from "./jobs/JobAuctionLib.sol";
import {JobSpecLib} from "./jobs/JobSpecLib.sol";
import {JobRecord, JobRecordLib} from "./jobs/JobRecord.sol";

/// @title JobMarket
/// @notice Prediction jobs with escrowed budgets, a sealed-bid uniform second-price priority auction per epoch,
///         a seed per scheduling epoch that nobody can choose, and module hooks for cohort assignment, attestation
///         and settlement (the attestation module checks the nodes; this contract holds the escrow and the state).
/// @dev See docs/job-market.md for the state machine, escrow formula and auction rules. Links the external
///      libraries JobSpecLib and JobAuctionLib (deploy them first and link them into JobMarket).
/// @custom:oz-upgrades-unsafe-allow external-library-linking
contract JobMarket is GovernedUUPS, ReentrancyGuardTransient, IJobMarket {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;

    /// @inheritdoc IJobMarket
    bytes32 public constant ATTESTATION_MODULE = keccak256("dml.JobMarket.module.attestation");
    /// @inheritdoc IJobMarket
    bytes32 public constant SETTLEMENT_MODULE = keccak256("dml.JobMarket.module.settlement");
    /// @inheritdoc IJobMarket
    uint256 public constant MAX_BIDS_PER_EPOCH = 256;

    uint256 private constant BPS = 10_000;
    bytes32 private constant JOB_SEED_TAG = "dml.job";
    uint32 private constant MIN_EPOCH_LENGTH = 60;
    uint32 private constant MAX_EPOCH_LENGTH = 30 days;
    uint32 private constant MAX_PHASE_DURATION = 365 days;

    /// @dev Auction timing in force from `firstEpoch`, whose start is `start`.
    struct Timing {
        uint64 start;
        uint32 firstEpoch;
        uint32 length;
        uint32 commitWindow;
        uint32 revealWindow;
    }

    /// @custom:storage-location erc7201:dml.storage.JobMarket
    struct JobMarketStorage {
        IERC20 token;
        IAlgorithmMarketplace market;
        INodeStaking staking;
        IDeviceRegistry registry;
        address treasury;
        Params params;
        Timing timing;
        Timing nextTiming; // start == 0: none pending
        uint256 jobCount;
        mapping(uint256 jobId => JobRecord) jobs;
        mapping(uint256 epoch => JobAuctionLib.EpochResult) epochResults;
        mapping(bytes32 role => address) modules;
        mapping(uint256 epoch => bytes32) epochSeeds; // fixed values; the armed block is `EpochResult.seedBlock`
    }

    // keccak256(abi.encode(uint256(keccak256("dml.storage.JobMarket")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant JOB_MARKET_STORAGE_LOCATION =
        0xf64e8c5cd27c5671053a76e34a495a072eefd3f65efd85693e47ba366b63b300;

    /// @notice Initialises the proxy.
    /// @param governance_ The governance timelock.
    /// @param token_ The DML token.
    /// @param market_ The algorithm marketplace.
    /// @param staking_ Node staking.
    /// @param registry_ Device registry.
    /// @param treasury_ Receives clearing prices and penalties.
    /// @param params_ Initial parameters; epoch 0 starts now.
    function initialize(
        address governance_,
        IERC20 token_,
        IAlgorithmMarketplace market_,
        INodeStaking staking_,
        IDeviceRegistry registry_,
        address treasury_,
        Params calldata params_
    ) external initializer {
        __GovernedUUPS_init(governance_);
        if (
            address(token_) == address(0) ||
            address(market_) == address(0) ||
            address(staking_) == address(0) ||
            address(registry_) == address(0) ||
            treasury_ == address(0)
        ) revert JobMarketZeroAddress();
        JobMarketStorage storage $ = _getJobMarketStorage();
        $.token = token_;
        $.market = market_;
        $.staking = staking_;
        $.registry = registry_;
        $.treasury = treasury_;
        emit TreasuryUpdated(address(0), treasury_);
        $.timing = Timing({
            start: uint64(block.timestamp),
            firstEpoch: 0,
            length: params_.epochLength,
            commitWindow: params_.commitWindow,
            revealWindow: params_.revealWindow
        });
        emit AuctionTimingScheduled(
            0,
            block.timestamp,
            params_.epochLength,
            params_.commitWindow,
            params_.revealWindow
        );
        _applyParams($, params_);
    }

    // ------------------------------------------------------------------------------------------------------
    // Governance
    // ------------------------------------------------------------------------------------------------------

    /// @inheritdoc IJobMarket
    function setParams(Params calldata params_) external onlyGovernance {
        _applyParams(_getJobMarketStorage(), params_);
    }

    /// @dev Validates and stores parameters; a timing change is scheduled for the next epoch boundary.
    function _applyParams(JobMarketStorage storage $, Params calldata params_) private {
        _validateParams(params_);
        _materialiseTiming($);
        Timing memory t = $.timing;
        if (
            params_.epochLength != t.length ||
            params_.commitWindow != t.commitWindow ||
            params_.revealWindow != t.revealWindow
        ) {
            uint256 e = _epochAt(t, block.timestamp) + 1;
            uint256 start = _epochStart(t, e);
            $.nextTiming = Timing({
                start: start.toUint64(),
                firstEpoch: e.toUint32(),
                length: params_.epochLength,
                commitWindow: params_.commitWindow,
                revealWindow: params_.revealWindow
            });
            emit AuctionTimingScheduled(
                e,
                start,
                params_.epochLength,
                params_.commitWindow,
                params_.revealWindow
            );
        } else if ($.nextTiming.start != 0) {
            delete $.nextTiming; // a pending change was reverted to the timing in force
            uint256 e = _epochAt(t, block.timestamp) + 1;
            emit AuctionTimingScheduled(e, _epochStart(t, e), t.length, t.commitWindow, t.revealWindow);
        }
        $.params = params_;
        emit ParamsUpdated(params_);
    }

    /// @inheritdoc IJobMarket
    function setTreasury(address treasury_) external onlyGovernance {
        if (treasury_ == address(0)) revert JobMarketZeroAddress();
        JobMarketStorage storage $ = _getJobMarketStorage();
        emit TreasuryUpdated($.treasury, treasury_);
        $.treasury = treasury_;
    }

    /// @inheritdoc IJobMarket
    function setModule(bytes32 role, address module) external onlyGovernance {
        if (role != ATTESTATION_MODULE && role != SETTLEMENT_MODULE) revert JobMarketUnknownModuleRole(role);
        _getJobMarketStorage().modules[role] = module;
        emit ModuleSet(role, module);
    }

    // ------------------------------------------------------------------------------------------------------
    // Customer
    // ------------------------------------------------------------------------------------------------------

    /// @inheritdoc IJobMarket
    function createJob(JobSpec calldata spec) external nonReentrant returns (uint256 jobId) {
        JobMarketStorage storage $ = _getJobMarketStorage();
        jobId = ++$.jobCount;
        IAlgorithmMarketplace market_ = $.market;
        (uint256 budget, uint256 usePrice) = JobSpecLib.createJob($.jobs, jobId, spec, market_, $.params);
        IERC20 token_ = $.token;
        // One pull for the escrow and the per-use price; the marketplace then takes the price from here.
        token_.safeTransferFrom(msg.sender, address(this), budget + usePrice);
        if (usePrice != 0) _payUse(token_, market_, spec.algorithmId, usePrice);
    }

    /// @inheritdoc IJobMarket
    function commitBid(uint256 jobId, bytes32 commitment, uint256 deposit) external nonReentrant {
        _commitBid(jobId, commitment, deposit, 0, 0);
    }

    /// @inheritdoc IJobMarket
    function commitBidEvicting(
        uint256 jobId,
        bytes32 commitment,
        uint256 deposit,
        uint256 evictJobId,
        uint256 prevJobId
    ) external nonReentrant {
        _commitBid(jobId, commitment, deposit, evictJobId, prevJobId);
    }

    function _commitBid(
        uint256 jobId,
        bytes32 commitment,
        uint256 deposit,
        uint256 evictJobId,
        uint256 prevJobId
    ) private {
        JobMarketStorage storage $ = _getJobMarketStorage();
        JobRecord storage job = $.jobs[jobId];
        if (job.customer != msg.sender) {
            if (job.customer == address(0)) revert JobMarketUnknownJob(jobId);
            revert JobMarketNotCustomer(jobId, msg.sender);
        }
        if (job.status != JobStatus.Created) revert JobMarketInvalidStatus(jobId, job.status);
        if (block.timestamp > job.deadline) revert JobMarketDeadlinePassed(jobId, job.deadline);
        if (commitment == bytes32(0)) revert JobMarketZeroCommitment();
        Timing memory t = _timingNow($);
        uint256 epoch = _epochAt(t, block.timestamp);
        if (block.timestamp >= _epochStart(t, epoch) + t.commitWindow)
            revert JobMarketNotInCommitWindow(epoch);
        if (deposit < $.params.reservePrice || deposit > type(uint96).max || deposit == 0) {
            revert JobMarketInvalidDeposit(deposit);
        }
        uint256 index = _link($, epoch, jobId.toUint32(), deposit, evictJobId, prevJobId);
        job.status = JobStatus.Bidding;
        job.revealed = false;
        job.bidEpoch = uint32(epoch);
        job.commitHash = bytes20(commitment);
        job.deposit = uint96(deposit);
        emit BidCommitted(jobId, epoch, commitment, deposit, index);
        emit JobStatusChanged(jobId, JobStatus.Created, JobStatus.Bidding, job.deadline);

        $.token.safeTransferFrom(msg.sender, address(this), deposit);
    }

    /// @dev Appends job `id32` to the epoch's commitment list, or puts it in the place of `evictJobId` in a full
    ///      epoch (refunding the evicted deposit). Returns the commitment's index (list position when appended,
    ///      the list length when it replaced another).
    function _link(
        JobMarketStorage storage $,
        uint256 epoch,
        uint32 id32,
        uint256 deposit,
        uint256 evictJobId,
        uint256 prevJobId
    ) private returns (uint256 index) {
        JobAuctionLib.EpochResult storage er = $.epochResults[epoch];
        index = er.bidCount;
        bool full = index >= $.params.maxBidsPerEpoch;
        if (evictJobId == 0) {
            if (full) revert JobMarketEpochFull(epoch);
            if (index == 0)
                er.head = id32; // list links are 32-bit job ids
            else $.jobs[er.tail].nextInEpoch = id32;
            er.tail = id32;
            er.bidCount = uint16(index + 1);
        } else {
            if (!full) revert JobMarketInvalidEviction(evictJobId, prevJobId);
            (address victim, uint256 refund) = JobAuctionLib.evict(
                $.jobs,
                er,
                epoch,
                id32,
                deposit,
                evictJobId,
                prevJobId
            );
            $.token.safeTransfer(victim, refund);
        }
    }

    /// @inheritdoc IJobMarket
    function revealBid(uint256 jobId, uint256 bid, bytes32 salt) external {
        JobMarketStorage storage $ = _getJobMarketStorage();
        Timing memory t = _timingNow($);
        uint256 epochNow = _epochAt(t, block.timestamp);
        uint256 commitEnd = _epochStart(t, epochNow) + t.commitWindow;
        JobAuctionLib.reveal(
            $.jobs,
            JobAuctionLib.Reveal({
                jobId: jobId,
                bid: bid,
                salt: salt,
                reservePrice: $.params.reservePrice,
                epochNow: epochNow,
                commitEnd: commitEnd,
                revealEnd: commitEnd + t.revealWindow
            })
        );
    }

    /// @inheritdoc IJobMarket
    function finalizeEpoch(uint256 epoch) external nonReentrant {
        JobMarketStorage storage $ = _getJobMarketStorage();
        {
            Timing memory t = _timingNow($);
            uint256 current = _epochAt(t, block.timestamp);
            if (
                epoch > current ||
                (epoch == current &&
                    block.timestamp < _epochStart(t, epoch) + t.commitWindow + t.revealWindow)
            ) revert JobMarketEpochNotOver(epoch);
        }
        JobAuctionLib.EpochResult storage result = $.epochResults[epoch];
        if (result.finalized) revert JobMarketEpochAlreadyFinalized(epoch);

        Params storage p = $.params;
        JobAuctionLib.Ctx memory ctx = JobAuctionLib.settleEpoch(
            $.jobs,
            _epochList($, result),
            JobAuctionLib.Ctx({
                epoch: epoch,
                capacity: p.capacity,
                reservePrice: p.reservePrice,
                penaltyBps: p.unrevealedPenaltyBps,
                token: $.token,
                treasury: $.treasury,
                price: 0,
                winners: 0,
                revealedCount: 0,
                toTreasury: 0
            })
        );
        result.finalized = true;
        result.clearingPrice = uint96(ctx.price);
        result.scheduledCount = uint16(ctx.winners);
        result.revealedCount = uint16(ctx.revealedCount);
        emit EpochFinalized(epoch, ctx.price, result.bidCount, ctx.revealedCount, ctx.winners);
        if (ctx.winners != 0) {
            // The scheduled jobs' cohorts and attestors are drawn from the hash of a block nobody knows yet
            // (FutureSeed's rule; an epoch is finalised once, so its seed value is still zero).
            result.seedBlock = uint40(block.number + 1);
            emit EpochSeedArmed(epoch, block.number + 1);
        }
    }

    /// @inheritdoc IJobMarket
    function withdrawJob(uint256 jobId) external nonReentrant {
        JobMarketStorage storage $ = _getJobMarketStorage();
        JobRecord storage job = $.jobs[jobId];
        if (job.customer != msg.sender) {
            if (job.customer == address(0)) revert JobMarketUnknownJob(jobId);
            revert JobMarketNotCustomer(jobId, msg.sender);
        }
        if (job.status != JobStatus.Created) revert JobMarketInvalidStatus(jobId, job.status);
        uint256 amount = job.escrow;
        job.escrow = 0;
        emit JobWithdrawn(jobId, amount);
        _setStatus(jobId, job, JobStatus.Cancelled);
        if (amount != 0) $.token.safeTransfer(msg.sender, amount);
    }

    // ------------------------------------------------------------------------------------------------------
    // Nodes
    // ------------------------------------------------------------------------------------------------------

    /// @inheritdoc IJobMarket
    function fixSeed(uint256 epoch) public returns (bytes32 seed) {
        JobMarketStorage storage $ = _getJobMarketStorage();
        JobAuctionLib.EpochResult storage er = $.epochResults[epoch];
        uint256 b = er.seedBlock;
        if (b == 0) revert JobMarketNoSeed(epoch);
        seed = $.epochSeeds[epoch];
        if (seed != bytes32(0)) return seed;
        // FutureSeed.fix on the packed block number: the armed block's hash, or a re-arm once it expired.
        bool expired;
        (seed, expired) = FutureSeed.hashOf(b);
        if (expired) {
            er.seedBlock = uint40(block.number + 1);
            emit EpochSeedArmed(epoch, block.number + 1);
        } else {
            $.epochSeeds[epoch] = seed;
            emit EpochSeedFixed(epoch, seed);
        }
    }

    /// @inheritdoc IJobMarket
    function timeout(uint256 jobId) external nonReentrant {
        JobMarketStorage storage $ = _getJobMarketStorage();
        JobRecord storage job = $.jobs[jobId];
        JobStatus s = job.status;
        if (s == JobStatus.None) revert JobMarketUnknownJob(jobId);
        if (s == JobStatus.Bidding || s >= JobStatus.Settled) revert JobMarketInvalidStatus(jobId, s);
        if (block.timestamp <= job.deadline) revert JobMarketDeadlineNotPassed(jobId, job.deadline);
        uint256 amount = job.escrow;
        job.escrow = 0;
        emit JobExpired(jobId, s, amount);
        _setStatus(jobId, job, JobStatus.Expired);
        if (s >= JobStatus.Assigned) _closed($, jobId);
        if (amount != 0) $.token.safeTransfer(job.customer, amount);
    }

    // ------------------------------------------------------------------------------------------------------
    // Module hooks
    // ------------------------------------------------------------------------------------------------------

    /// @inheritdoc IJobMarket
    function markAssigned(
        uint256 jobId,
        bytes32 cohortRoot,
        uint32 deviceCount,
        string calldata cohortCid,
        address distributor,
        address aggregator
    ) external returns (bytes32 seed) {
        JobMarketStorage storage $ = _onlyModule(ATTESTATION_MODULE);
        JobRecord storage job = _liveJob($, jobId, JobStatus.Scheduled);
        if (deviceCount < job.minDevices || deviceCount > job.maxDevices) {
            revert JobMarketDeviceCountOutOfRange(deviceCount, job.minDevices, job.maxDevices);
        }
        if (cohortRoot == bytes32(0) || bytes(cohortCid).length == 0) revert JobMarketInvalidCohort();
        uint256 epoch = job.scheduledEpoch;
        bytes32 epochSeed_ = $.epochSeeds[epoch];
        if (epochSeed_ == bytes32(0)) {
            epochSeed_ = fixSeed(epoch);
            if (epochSeed_ == bytes32(0)) revert JobMarketSeedUnavailable(epoch);
        }
        seed = FutureSeed.derive(epochSeed_, JOB_SEED_TAG, jobId);
        JobRecordLib.setAssignment(job, cohortRoot, aggregator); // in place of the spent bid fields
        job.deviceCount = deviceCount;
        job.distributor = distributor;
        emit CohortAssigned(jobId, distributor, aggregator, cohortRoot, deviceCount, cohortCid);
        _advance(jobId, job, JobStatus.Assigned, job.commitDuration);
    }

    /// @inheritdoc IJobMarket
    function markCommitted(uint256 jobId) external returns (uint256 attestationDuration) {
        JobMarketStorage storage $ = _onlyModule(ATTESTATION_MODULE);
        JobRecord storage job = _liveJob($, jobId, JobStatus.Assigned);
        uint32 duration = job.attestationDuration;
        attestationDuration = duration;
        _advance(jobId, job, JobStatus.Committed, duration);
    }

    /// @inheritdoc IJobMarket
    function markAttested(uint256 jobId) external {
        JobMarketStorage storage $ = _onlyModule(ATTESTATION_MODULE);
        JobRecord storage job = _liveJob($, jobId, JobStatus.Committed);
        _advance(jobId, job, JobStatus.Attested, job.reportDuration);
    }

    /// @inheritdoc IJobMarket
    function markFailed(uint256 jobId, bytes32 reason) external nonReentrant {
        JobMarketStorage storage $ = _getJobMarketStorage();
        if (msg.sender != $.modules[ATTESTATION_MODULE] && msg.sender != $.modules[SETTLEMENT_MODULE]) {
            revert JobMarketUnauthorizedModule(msg.sender);
        }
        JobRecord storage job = $.jobs[jobId];
        JobStatus s = job.status;
        if (s == JobStatus.None) revert JobMarketUnknownJob(jobId);
        if (s < JobStatus.Assigned || s > JobStatus.Attested) revert JobMarketInvalidStatus(jobId, s);
        emit JobFailed(jobId, reason, job.escrow);
        _setStatus(jobId, job, JobStatus.Failed);
        _closed($, jobId);
        _refundRemaining($, jobId, job);
    }

    /// @inheritdoc IJobMarket
    function settle(uint256 jobId, uint256 amount, bool success, bytes32 reason) external nonReentrant {
        JobMarketStorage storage $ = _onlyModule(SETTLEMENT_MODULE);
        JobRecord storage job = _liveJob($, jobId, JobStatus.Attested);
        uint256 escrow = job.escrow;
        if (amount > escrow) revert JobMarketInsufficientEscrow(jobId, escrow, amount);
        uint256 refundAmount = escrow - amount;
        address customer = job.customer;
        uint40 deadline = job.deadline;
        job.escrow = 0;
        job.status = success ? JobStatus.Settled : JobStatus.Failed;
        emit JobStatusChanged(jobId, JobStatus.Attested, JobStatus.Reported, deadline);
        if (amount != 0) emit EscrowPaid(jobId, msg.sender, amount);
        if (!success) emit JobFailed(jobId, reason, refundAmount);
        emit JobStatusChanged(
            jobId,
            JobStatus.Reported,
            success ? JobStatus.Settled : JobStatus.Failed,
            deadline
        );
        if (refundAmount != 0) emit EscrowRefunded(jobId, customer, refundAmount);
        _closed($, jobId);
        IERC20 token_ = $.token;
        if (amount != 0) token_.safeTransfer(msg.sender, amount);
        if (refundAmount != 0) token_.safeTransfer(customer, refundAmount);
    }

    // ------------------------------------------------------------------------------------------------------
    // Views
    // ------------------------------------------------------------------------------------------------------

    /// @inheritdoc IJobMarket
    function getJob(uint256 jobId) external view returns (Job memory) {
        bytes memory encoded = JobSpecLib.encodedJob(_getJobMarketStorage().jobs, jobId);
        assembly {
            return(add(encoded, 0x20), mload(encoded))
        }
    }

    /// @inheritdoc IJobMarket
    function status(uint256 jobId) external view returns (JobStatus) {
        return _getJobMarketStorage().jobs[jobId].status;
    }

    /// @inheritdoc IJobMarket
    function escrowOf(uint256 jobId) external view returns (uint256) {
        return _getJobMarketStorage().jobs[jobId].escrow;
    }

    /// @inheritdoc IJobMarket
    function attestationTerms(
        uint256 jobId
    ) external view returns (JobStatus status_, address aggregator, uint32 attestationDuration) {
        JobRecord storage job = _getJobMarketStorage().jobs[jobId];
        return (job.status, JobRecordLib.aggregator(job), job.attestationDuration);
    }

    /// @inheritdoc IJobMarket
    function epochSeed(uint256 epoch) external view returns (bytes32) {
        return _getJobMarketStorage().epochSeeds[epoch];
    }

    /// @inheritdoc IJobMarket
    function settlementTerms(uint256 jobId) external view returns (SettlementTerms memory t) {
        JobRecord storage job = _getJobMarketStorage().jobs[jobId];
        t.status = job.status;
        if (t.status == JobStatus.None) revert JobMarketUnknownJob(jobId);
        t.deadline = job.deadline;
        t.maxDevices = job.maxDevices;
        t.deviceCount = job.deviceCount;
        t.minParticipants = job.minParticipants;
        t.rewardPerDevice = job.rewardPerDevice;
        t.algorithmId = job.algorithmId;
        t.escrow = job.escrow;
        t.fees = FeeBps({
            distributor: job.distributorFeeBps,
            aggregator: job.aggregatorFeeBps,
            attestors: job.attestorsFeeBps,
            reporter: job.reporterFeeBps,
            protocol: job.protocolFeeBps,
            royalty: job.royaltyBps
        });
        t.distributor = job.distributor;
        t.aggregator = JobRecordLib.aggregator(job);
    }

    /// @inheritdoc IJobMarket
    function budgetOf(uint32 maxDevices, uint96 rewardPerDevice) external view returns (uint256) {
        return JobSpecLib.budget_(maxDevices, rewardPerDevice, _getJobMarketStorage().params.fees);
    }

    /// @inheritdoc IJobMarket
    function epochOf(uint256 timestamp) external view returns (uint256) {
        JobMarketStorage storage $ = _getJobMarketStorage();
        Timing memory next = $.nextTiming;
        Timing memory t = (next.start != 0 && timestamp >= next.start) ? next : $.timing;
        return _epochAt(t, timestamp);
    }

    /// @inheritdoc IJobMarket
    function currentEpoch() external view returns (uint256) {
        return _epochAt(_timingNow(_getJobMarketStorage()), block.timestamp);
    }

    /// @inheritdoc IJobMarket
    function epochWindows(
        uint256 epoch
    ) external view returns (uint256 start, uint256 commitEnd, uint256 revealEnd, uint256 end) {
        JobMarketStorage storage $ = _getJobMarketStorage();
        Timing memory t = $.nextTiming;
        if (t.start == 0 || epoch < t.firstEpoch) t = $.timing;
        if (epoch < t.firstEpoch) return (0, 0, 0, 0); // before the timing in force: not reconstructible
        start = _epochStart(t, epoch);
        commitEnd = start + t.commitWindow;
        revealEnd = commitEnd + t.revealWindow;
        end = start + t.length;
    }

    /// @inheritdoc IJobMarket
    function epochInfo(uint256 epoch) external view returns (EpochInfo memory) {
        JobMarketStorage storage $ = _getJobMarketStorage();
        JobAuctionLib.EpochResult memory r = $.epochResults[epoch];
        return
            EpochInfo({
                bidCount: r.bidCount,
                finalized: r.finalized,
                clearingPrice: r.clearingPrice,
                scheduledCount: r.scheduledCount,
                revealedCount: r.revealedCount
            });
    }

    /// @inheritdoc IJobMarket
    function epochBids(uint256 epoch) external view returns (uint64[] memory) {
        JobMarketStorage storage $ = _getJobMarketStorage();
        return _epochList($, $.epochResults[epoch]);
    }

    /// @inheritdoc IJobMarket
    function params() external view returns (Params memory) {
        return _getJobMarketStorage().params;
    }

    /// @inheritdoc IJobMarket
    function moduleOf(bytes32 role) external view returns (address) {
        return _getJobMarketStorage().modules[role];
    }

    /// @inheritdoc IJobMarket
    function token() external view returns (IERC20) {
        return _getJobMarketStorage().token;
    }

    /// @inheritdoc IJobMarket
    function market() external view returns (IAlgorithmMarketplace) {
        return _getJobMarketStorage().market;
    }

    /// @inheritdoc IJobMarket
    function staking() external view returns (INodeStaking) {
        return _getJobMarketStorage().staking;
    }

    /// @inheritdoc IJobMarket
    function registry() external view returns (IDeviceRegistry) {
        return _getJobMarketStorage().registry;
    }

    /// @inheritdoc IJobMarket
    function treasury() external view returns (address) {
        return _getJobMarketStorage().treasury;
    }

    /// @inheritdoc IJobMarket
    function jobCount() external view returns (uint256) {
        return _getJobMarketStorage().jobCount;
    }

    // ------------------------------------------------------------------------------------------------------
    // Internals
    // ------------------------------------------------------------------------------------------------------

    function _payUse(
        IERC20 token_,
        IAlgorithmMarketplace market_,
        uint256 algorithmId,
        uint256 usePrice
    ) private {
        uint256 before = token_.balanceOf(address(this));
        token_.forceApprove(address(market_), usePrice);
        market_.payUse(algorithmId, msg.sender);
        token_.forceApprove(address(market_), 0);
        uint256 spent = before - token_.balanceOf(address(this));
        if (spent != usePrice) revert JobMarketUsePaymentMismatch(usePrice, spent);
    }

    /// @dev Tells the attestation module that a job with a cohort is terminal (it releases the nodes' locks).
    function _closed(JobMarketStorage storage $, uint256 jobId) private {
        address module = $.modules[ATTESTATION_MODULE];
        if (module != address(0)) IJobLifecycleHook(module).onJobClosed(jobId, $.jobs[jobId].distributor);
    }

    function _refundRemaining(JobMarketStorage storage $, uint256 jobId, JobRecord storage job) private {
        uint256 amount = job.escrow;
        if (amount == 0) return;
        job.escrow = 0;
        address customer = job.customer;
        emit EscrowRefunded(jobId, customer, amount);
        $.token.safeTransfer(customer, amount);
    }

    /// @dev The job, which must be in `expected` status with its phase deadline not passed.
    function _liveJob(
        JobMarketStorage storage $,
        uint256 jobId,
        JobStatus expected
    ) private view returns (JobRecord storage job) {
        job = $.jobs[jobId];
        JobStatus s = job.status;
        if (s != expected) {
            if (s == JobStatus.None) revert JobMarketUnknownJob(jobId);
            revert JobMarketInvalidStatus(jobId, s);
        }
        if (block.timestamp > job.deadline) revert JobMarketDeadlinePassed(jobId, job.deadline);
    }

    function _setStatus(uint256 jobId, JobRecord storage job, JobStatus to) private {
        JobStatus from = job.status;
        job.status = to;
        emit JobStatusChanged(jobId, from, to, job.deadline);
    }

    function _advance(uint256 jobId, JobRecord storage job, JobStatus to, uint32 duration) private {
        job.deadline = uint40(block.timestamp) + duration;
        _setStatus(jobId, job, to);
    }

    function _onlyModule(bytes32 role) private view returns (JobMarketStorage storage $) {
        $ = _getJobMarketStorage();
        if (msg.sender != $.modules[role] || msg.sender == address(0))
            revert JobMarketUnauthorizedModule(msg.sender);
    }

    function _validateParams(Params calldata p) private pure {
        FeeBps calldata f = p.fees;
        uint256 feeSum =
            uint256(f.distributor) + f.aggregator + f.attestors + f.reporter + f.protocol + f.royalty;
        if (
            p.epochLength < MIN_EPOCH_LENGTH ||
            p.epochLength > MAX_EPOCH_LENGTH ||
            p.commitWindow == 0 ||
            p.revealWindow == 0 ||
            uint256(p.commitWindow) + p.revealWindow > p.epochLength ||
            p.capacity == 0 ||
            p.maxBidsPerEpoch > MAX_BIDS_PER_EPOCH ||
            p.capacity > p.maxBidsPerEpoch ||
            p.unrevealedPenaltyBps > BPS ||
            feeSum > BPS ||
            p.minPhaseDuration == 0 ||
            p.minPhaseDuration > p.maxPhaseDuration ||
            p.maxPhaseDuration > MAX_PHASE_DURATION
        ) revert JobMarketInvalidParams();
    }

    /// @dev The epoch's committed job ids in commit order.
    function _epochList(
        JobMarketStorage storage $,
        JobAuctionLib.EpochResult storage er
    ) private view returns (uint64[] memory list) {
        uint256 n = er.bidCount;
        list = new uint64[](n);
        uint256 id = er.head;
        for (uint256 i = 0; i < n; ++i) {
            list[i] = uint64(id);
            if (i + 1 < n) id = $.jobs[id].nextInEpoch;
        }
    }

    /// @dev Promotes a pending timing whose start has passed.
    function _materialiseTiming(JobMarketStorage storage $) private {
        Timing memory next = $.nextTiming;
        if (next.start != 0 && block.timestamp >= next.start) {
            $.timing = next;
            delete $.nextTiming;
        }
    }

    function _timingNow(JobMarketStorage storage $) private view returns (Timing memory t) {
        t = $.nextTiming;
        if (t.start == 0 || block.timestamp < t.start) t = $.timing;
    }

    function _epochAt(Timing memory t, uint256 timestamp) private pure returns (uint256) {
        if (timestamp < t.start) return t.firstEpoch;
        return t.firstEpoch + (timestamp - t.start) / t.length;
    }

    function _epochStart(Timing memory t, uint256 epoch) private pure returns (uint256) {
        return uint256(t.start) + (epoch - t.firstEpoch) * t.length;
    }

    function _getJobMarketStorage() private pure returns (JobMarketStorage storage $) {
        assembly {
            $.slot := JOB_MARKET_STORAGE_LOCATION
        }
    }
}
