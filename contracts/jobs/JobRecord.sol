// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IJobMarket} from "../interfaces/IJobMarket.sol";

/// @notice A job as the JobMarket stores it: seven slots, six written at creation. `IJobMarket.Job` (what `getJob`
///         returns) has the same fields and the cohort root, which is stored in slot 1 in place of the bid
///         commitment and deposit: a job is scheduled at most once and its finalisation leaves them spent
///         (`NO_COMMITMENT`, 0) for good, so from assignment on (`deviceCount != 0`) the slot holds the root and its
///         write rewrites a non-zero slot instead of creating one.
/// @dev Field order and slots are those of `IJobMarket.Job` up to `aggregator` (slot 6).
struct JobRecord {
    // slot 0
    address customer;
    IJobMarket.JobStatus status;
    bool revealed;
    uint32 bidEpoch;
    uint40 deadline;
    // slot 1: the bid commitment and deposit while the job bids; from assignment on, the cohort root
    bytes20 commitHash;
    uint96 deposit;
    // slot 2
    uint96 bid;
    uint32 minDevices;
    uint32 maxDevices;
    uint32 deviceCount;
    uint64 algorithmId;
    // slot 3
    uint96 escrow;
    uint96 rewardPerDevice;
    uint32 minParticipants;
    uint32 nextInEpoch;
    // slot 4
    uint32 assignmentDuration;
    uint32 commitDuration;
    uint32 attestationDuration;
    uint32 reportDuration;
    uint32 scheduledEpoch;
    uint96 maxStdError;
    // slot 5
    uint16 distributorFeeBps;
    uint16 aggregatorFeeBps;
    uint16 attestorsFeeBps;
    uint16 reporterFeeBps;
    uint16 protocolFeeBps;
    uint16 royaltyBps;
    address distributor;
    // slot 6
    address aggregator;
}

/// @title JobRecordLib
/// @notice The cohort root's place in a `JobRecord` and the `IJobMarket.Job` view of a record.
library JobRecordLib {
    /// @dev Placeholder commit hash of a job that is not bidding (JobAuctionLib.NO_COMMITMENT).
    bytes20 internal constant NO_COMMITMENT = bytes20(uint160(1));

    /// @notice The cohort root of an assigned job (slot 1 of its record).
    function cohortRoot(JobRecord storage job) internal view returns (bytes32 root) {
        assembly {
            root := sload(add(job.slot, 1))
        }
    }

    /// @notice Stores the cohort root of a job being assigned (its bid fields are spent).
    function setCohortRoot(JobRecord storage job, bytes32 root) internal {
        assembly {
            sstore(add(job.slot, 1), root)
        }
    }

    /// @notice The record as `IJobMarket.Job`: the bid fields read as finalisation left them once the cohort root
    ///         took their slot, the cohort root as zero before.
    function toJob(JobRecord storage r) internal view returns (IJobMarket.Job memory j) {
        j.customer = r.customer;
        j.status = r.status;
        j.revealed = r.revealed;
        j.bidEpoch = r.bidEpoch;
        j.deadline = r.deadline;
        j.bid = r.bid;
        j.minDevices = r.minDevices;
        j.maxDevices = r.maxDevices;
        j.deviceCount = r.deviceCount;
        j.algorithmId = r.algorithmId;
        j.escrow = r.escrow;
        j.rewardPerDevice = r.rewardPerDevice;
        j.minParticipants = r.minParticipants;
        j.nextInEpoch = r.nextInEpoch;
        j.assignmentDuration = r.assignmentDuration;
        j.commitDuration = r.commitDuration;
        j.attestationDuration = r.attestationDuration;
        j.reportDuration = r.reportDuration;
        j.scheduledEpoch = r.scheduledEpoch;
        j.maxStdError = r.maxStdError;
        j.distributorFeeBps = r.distributorFeeBps;
        j.aggregatorFeeBps = r.aggregatorFeeBps;
        j.attestorsFeeBps = r.attestorsFeeBps;
        j.reporterFeeBps = r.reporterFeeBps;
        j.protocolFeeBps = r.protocolFeeBps;
        j.royaltyBps = r.royaltyBps;
        j.distributor = r.distributor;
        j.aggregator = r.aggregator;
        if (r.deviceCount != 0) {
            j.commitHash = NO_COMMITMENT;
            j.cohortRoot = cohortRoot(r);
        } else {
            j.commitHash = r.commitHash;
            j.deposit = r.deposit;
        }
    }
}
