// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IJobLifecycleHook
/// @notice What the JobMarket tells its attestation module when a job that had a cohort reaches a terminal state
///         (settled, failed or expired), so the module releases the stake it locked for the job's nodes.
interface IJobLifecycleHook {
    /// @notice The job is terminal; `distributor` is the one that assigned its cohort. Only the JobMarket, once
    ///         per job. Never reverts for a job the module never bound.
    function onJobClosed(uint256 jobId, address distributor) external;
}
