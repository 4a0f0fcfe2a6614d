// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IJobMarket} from "../interfaces/IJobMarket.sol";
import {IAlgorithmMarketplace} from "../interfaces/IAlgorithmMarketplace.sol";
import {JobRecord, JobRecordLib} from "./JobRecord.sol";

/// @title JobSpecLib
/// @notice Validation and storage of a new JobMarket job. Linked (delegatecalled) by JobMarket: storage and
///         events are the JobMarket's; `msg.sender` is the customer.
library JobSpecLib {
    using SafeCast for uint256;

    uint256 private constant BPS = 10_000;

    /// @notice Validates `spec` against the marketplace and `params`, stores job `jobId` in `jobs` (status
    ///         Created, escrow = budget) and emits `JobCreated`. Moves no tokens.
    /// @return budget The escrow to pull from the customer.
    /// @return usePrice The per-use price due (0 when the customer holds a licence).
    function createJob(
        mapping(uint256 => JobRecord) storage jobs,
        uint256 jobId,
        IJobMarket.JobSpec calldata spec,
        IAlgorithmMarketplace market,
        IJobMarket.Params storage params
    ) external returns (uint256 budget, uint256 usePrice) {
        usePrice = _check(spec, market, params);
        IJobMarket.FeeBps memory fees = params.fees;
        budget = budget_(spec.maxDevices, spec.rewardPerDevice, fees);
        if (budget > type(uint96).max) revert IJobMarket.JobMarketBudgetTooLarge(budget);
        uint40 deadline = uint40(block.timestamp) + spec.durations.bidding;
        _store(jobs[jobId], spec, fees, budget, deadline);
        emit IJobMarket.JobCreated(
            jobId,
            msg.sender,
            spec.algorithmId,
            budget,
            usePrice,
            spec.maxDevices,
            spec.rewardPerDevice,
            spec.encryptionKey
        );
        emit IJobMarket.JobStatusChanged(
            jobId,
            IJobMarket.JobStatus.None,
            IJobMarket.JobStatus.Created,
            deadline
        );
    }

    function _store(
        JobRecord storage job,
        IJobMarket.JobSpec calldata spec,
        IJobMarket.FeeBps memory fees,
        uint256 budget,
        uint40 deadline
    ) private {
        job.customer = msg.sender;
        job.status = IJobMarket.JobStatus.Created;
        job.deadline = deadline;
        job.commitHash = JobRecordLib.NO_COMMITMENT; // pre-warms the commitment slot (later the cohort root)
        job.minDevices = spec.minDevices;
        job.maxDevices = spec.maxDevices;
        job.algorithmId = spec.algorithmId.toUint48();
        job.escrow = uint96(budget);
        job.rewardPerDevice = spec.rewardPerDevice;
        job.minParticipants = spec.minParticipants;
        IJobMarket.PhaseDurations calldata d = spec.durations;
        job.assignmentDuration = d.assignment;
        job.commitDuration = d.commit;
        job.attestationDuration = d.attestation;
        job.reportDuration = d.report;
        job.maxStdError = spec.maxStdError;
        job.distributorFeeBps = fees.distributor;
        job.aggregatorFeeBps = fees.aggregator;
        job.attestorsFeeBps = fees.attestors;
        job.reporterFeeBps = fees.reporter;
        job.protocolFeeBps = fees.protocol;
        job.royaltyBps = fees.royalty;
    }

    /// @notice Job `jobId` ABI-encoded as `IJobMarket.Job` (a static struct: exactly `getJob`'s return data, which
    ///         the JobMarket returns as is); reverts for an unknown job.
    function encodedJob(
        mapping(uint256 => JobRecord) storage jobs,
        uint256 jobId
    ) external view returns (bytes memory) {
        JobRecord storage job = jobs[jobId];
        if (job.status == IJobMarket.JobStatus.None) revert IJobMarket.JobMarketUnknownJob(jobId);
        return abi.encode(JobRecordLib.toJob(job));
    }

    /// @notice Escrowed budget: `d + Σ floor(d × bps / 10_000)` over the six fee rates, `d = maxDevices × reward`.
    function budget_(
        uint256 maxDevices,
        uint256 reward,
        IJobMarket.FeeBps memory f
    ) internal pure returns (uint256) {
        uint256 d = maxDevices * reward;
        uint256 fees = (d * f.distributor) / BPS;
        fees += (d * f.aggregator) / BPS;
        fees += (d * f.attestors) / BPS;
        fees += (d * f.reporter) / BPS;
        fees += (d * f.protocol) / BPS;
        fees += (d * f.royalty) / BPS;
        return d + fees;
    }

    function _check(
        IJobMarket.JobSpec calldata spec,
        IAlgorithmMarketplace market,
        IJobMarket.Params storage params
    ) private view returns (uint256) {
        (bool listed, bytes32 schema, uint256 usePrice) = market.useTerms(spec.algorithmId, msg.sender);
        if (!listed) revert IJobMarket.JobMarketAlgorithmNotListed(spec.algorithmId);
        if (usePrice > spec.maxUsePrice)
            revert IJobMarket.JobMarketUsePriceTooHigh(usePrice, spec.maxUsePrice);
        if (schema != spec.schema) revert IJobMarket.JobMarketSchemaMismatch(schema, spec.schema);
        if (
            spec.minParticipants == 0 ||
            spec.minParticipants > spec.minDevices ||
            spec.minDevices > spec.maxDevices
        ) revert IJobMarket.JobMarketInvalidDevices();
        if (spec.rewardPerDevice == 0) revert IJobMarket.JobMarketZeroReward();
        bytes calldata key = spec.encryptionKey;
        if (key.length != 33 || (key[0] != 0x02 && key[0] != 0x03))
            revert IJobMarket.JobMarketInvalidEncryptionKey();
        IJobMarket.PhaseDurations calldata d = spec.durations;
        uint32 lo = params.minPhaseDuration;
        uint32 hi = params.maxPhaseDuration;
        if (
            d.bidding < lo ||
            d.bidding > hi ||
            d.assignment < lo ||
            d.assignment > hi ||
            d.commit < lo ||
            d.commit > hi ||
            d.attestation < lo ||
            d.attestation > hi ||
            d.report < lo ||
            d.report > hi ||
            d.settlement < lo ||
            d.settlement > hi
        ) revert IJobMarket.JobMarketInvalidDuration();
        return usePrice;
    }
}
