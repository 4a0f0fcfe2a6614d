// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IJobMarket} from "../interfaces/IJobMarket.sol";

/// @notice A job as the JobMarket stores it: six slots, all written at creation, so that no later phase creates a
///         slot. `IJobMarket.Job` (what `getJob` returns) has the same fields and the cohort root. A job is scheduled
///         at most once and its bid fields are spent from then on, so assignment (`deviceCount != 0`) stores
///         - the cohort root in slot 1, in place of the commitment and deposit (which finalisation left as
///           `NO_COMMITMENT` and 0);
///         - the aggregator in the low 160 bits of slot 2, in place of `bid`, `revealed` and `bidEpoch` (the last
///           equals `scheduledEpoch` for a scheduled job; `revealed` is meaningful only while Bidding).
struct JobRecord {
    // slot 0
    address customer;
    IJobMarket.JobStatus status;
    uint40 deadline;
    uint48 algorithmId; // ids are a counter: 2^48 is out of reach (checked at creation)
    // slot 1: the bid commitment and deposit while the job bids; from assignment on, the cohort root
    bytes20 commitHash;
    uint96 deposit;
    // slot 2: bits 0..159 hold `bid | revealed | bidEpoch` until assignment, the aggregator from then on
    uint96 bid;
    bool revealed; // the current commitment was revealed (meaningful only while Bidding)
    uint32 bidEpoch;
    uint24 unused;
    uint32 minDevices;
    uint32 maxDevices;
    uint32 deviceCount;
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
}

/// @title JobRecordLib
/// @notice The cohort root's place in a `JobRecord` and the `IJobMarket.Job` view of a record.
library JobRecordLib {
    /// @dev Placeholder commit hash of a job that is not bidding (JobAuctionLib.NO_COMMITMENT).
    bytes20 internal constant NO_COMMITMENT = bytes20(uint160(1));

    uint256 private constant ADDRESS_BITS = (1 << 160) - 1;

    /// @notice The cohort root of an assigned job (slot 1 of its record).
    function cohortRoot(JobRecord storage job) internal view returns (bytes32 root) {
        assembly {
            root := sload(add(job.slot, 1))
        }
    }

    /// @notice The aggregator of an assigned job (low 160 bits of slot 2), zero before assignment.
    function aggregator(JobRecord storage job) internal view returns (address a) {
        if (job.deviceCount == 0) return address(0);
        assembly {
            a := and(sload(add(job.slot, 2)), ADDRESS_BITS)
        }
    }

    /// @notice Stores the cohort root and the aggregator of a job being assigned, in place of its spent bid fields
    ///         (the caller stores `deviceCount`, which marks the job as assigned).
    function setAssignment(JobRecord storage job, bytes32 root, address aggregator_) internal {
        assembly {
            sstore(add(job.slot, 1), root)
            let s := add(job.slot, 2)
            sstore(s, or(and(sload(s), not(ADDRESS_BITS)), and(aggregator_, ADDRESS_BITS)))
        }
    }

    /// @notice The record as `IJobMarket.Job`. Once assigned: the commitment and deposit read as finalisation left
    ///         them (`NO_COMMITMENT`, 0), `bidEpoch` as `scheduledEpoch`, `revealed` false and `bid` 0 (the winning bid
    ///         is in `BidRevealed`). Before: cohort root and aggregator zero, `revealed` only while Bidding.
    function toJob(JobRecord storage r) internal view returns (IJobMarket.Job memory j) {
        j.customer = r.customer;
        j.status = r.status;
        j.deadline = r.deadline;
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
        if (r.deviceCount != 0) {
            j.commitHash = NO_COMMITMENT;
            j.bidEpoch = r.scheduledEpoch;
            j.aggregator = aggregator(r);
            j.cohortRoot = cohortRoot(r);
        } else {
            j.revealed = r.revealed && r.status == IJobMarket.JobStatus.Bidding;
            j.bidEpoch = r.bidEpoch;
            j.commitHash = r.commitHash;
            j.deposit = r.deposit;
            j.bid = r.bid;
        }
    }
}
