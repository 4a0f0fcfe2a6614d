// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IJobMarket} from "../interfaces/IJobMarket.sol";
import {AuctionLib} from "./AuctionLib.sol";
import {JobRecord, JobRecordLib} from "./JobRecord.sol";

/// @title JobAuctionLib
/// @notice Finalisation of one epoch of the JobMarket's sealed-bid uniform second-price auction. Linked
///         (delegatecalled) by JobMarket: storage, events and token transfers are the JobMarket's.
/// @dev Gas is bounded by `maxBidsPerEpoch` (≤ 256): one pass to load bids, an in-memory top-(K+1) insertion
///      selection, one pass to settle every commitment, one aggregated transfer to the treasury.
library JobAuctionLib {
    using SafeERC20 for IERC20;

    uint256 private constant BPS = 10_000;
    /// @dev Placeholder commit hash of a job that is not bidding (never the prefix of a real commitment in practice).
    bytes20 internal constant NO_COMMITMENT = JobRecordLib.NO_COMMITMENT;

    /// @notice An epoch's commitments (a list linked through `Job.nextInEpoch`, in commit order) and its result.
    ///      One slot of the JobMarket's storage: the first commitment of an epoch pays for it, finalisation rewrites
    ///      it, arming the epoch's seed included (the seed's block shares the slot; only the fixed value needs one).
    struct EpochResult {
        bool finalized;
        uint96 clearingPrice;
        uint16 scheduledCount;
        uint16 revealedCount;
        uint16 bidCount;
        uint32 head;
        uint32 tail;
        uint40 seedBlock; // the block whose hash fixes the epoch's seed (0: no job scheduled, no seed)
    }

    /// @notice Replaces commitment `evictJobId` (after `prevJobId`, or the head when 0) of a full epoch with job
    ///         `id32` in the same list position, provided its deposit is smaller than `deposit`, and returns the
    ///         evicted job to `Created`. The JobMarket refunds `refund` to `customer`.
    function evict(
        mapping(uint256 => JobRecord) storage jobs,
        EpochResult storage er,
        uint256 epoch,
        uint32 id32,
        uint256 deposit,
        uint256 evictJobId,
        uint256 prevJobId
    ) external returns (address customer, uint256 refund) {
        JobRecord storage victim = jobs[evictJobId];
        // `nextInEpoch` links outlive their epoch and the tail's link is never rewritten on append: only a live,
        // non-tail commitment of this epoch proves the victim's position (a stale link would cut the list).
        bool linked;
        if (prevJobId == 0) linked = er.head == evictJobId;
        else {
            JobRecord storage prev = jobs[prevJobId];
            linked =
                prevJobId != er.tail &&
                prev.status == IJobMarket.JobStatus.Bidding &&
                prev.bidEpoch == epoch &&
                prev.nextInEpoch == evictJobId;
        }
        if (
            !linked ||
            evictJobId == id32 ||
            victim.status != IJobMarket.JobStatus.Bidding ||
            victim.bidEpoch != epoch ||
            victim.deposit >= deposit
        ) revert IJobMarket.JobMarketInvalidEviction(evictJobId, prevJobId);
        if (prevJobId == 0) er.head = id32;
        else jobs[prevJobId].nextInEpoch = id32;
        if (er.tail == evictJobId) er.tail = id32;
        jobs[id32].nextInEpoch = victim.nextInEpoch;
        refund = victim.deposit;
        customer = victim.customer;
        victim.nextInEpoch = 0;
        victim.deposit = 0;
        victim.commitHash = NO_COMMITMENT;
        victim.status = IJobMarket.JobStatus.Created;
        emit IJobMarket.BidEvicted(evictJobId, epoch, id32, refund);
        emit IJobMarket.JobStatusChanged(
            evictJobId,
            IJobMarket.JobStatus.Bidding,
            IJobMarket.JobStatus.Created,
            victim.deadline
        );
    }

    /// @notice A reveal and the timing of the current epoch.
    struct Reveal {
        uint256 jobId;
        uint256 bid;
        bytes32 salt;
        uint256 reservePrice;
        uint256 epochNow;
        uint256 commitEnd; // end of the current epoch's commit window
        uint256 revealEnd; // end of its reveal window
    }

    /// @notice Opens a job's sealed bid in the reveal window of its commitment's epoch (see `IJobMarket.revealBid`).
    function reveal(mapping(uint256 => JobRecord) storage jobs, Reveal memory r) external {
        JobRecord storage job = jobs[r.jobId];
        if (job.status != IJobMarket.JobStatus.Bidding) {
            if (job.status == IJobMarket.JobStatus.None) revert IJobMarket.JobMarketUnknownJob(r.jobId);
            revert IJobMarket.JobMarketInvalidStatus(r.jobId, job.status);
        }
        uint256 epoch = job.bidEpoch;
        if (r.epochNow != epoch || block.timestamp < r.commitEnd || block.timestamp >= r.revealEnd) {
            revert IJobMarket.JobMarketNotInRevealWindow(epoch);
        }
        if (job.revealed) revert IJobMarket.JobMarketBidAlreadyRevealed(r.jobId);
        if (bytes20(keccak256(abi.encode(r.jobId, r.bid, r.salt, job.customer))) != job.commitHash) {
            revert IJobMarket.JobMarketBidMismatch(r.jobId);
        }
        if (r.bid < r.reservePrice) revert IJobMarket.JobMarketBidBelowReserve(r.bid, r.reservePrice);
        if (r.bid > job.deposit) revert IJobMarket.JobMarketBidExceedsDeposit(r.bid, job.deposit);
        job.revealed = true;
        job.bid = uint96(r.bid);
        emit IJobMarket.BidRevealed(r.jobId, epoch, r.bid);
    }

    /// @notice Finalisation inputs and outputs.
    struct Ctx {
        uint256 epoch;
        uint256 capacity;
        uint256 reservePrice;
        uint256 penaltyBps;
        IERC20 token;
        address treasury;
        // outputs
        uint256 price;
        uint256 winners;
        uint256 revealedCount;
        uint256 toTreasury;
    }

    /// @notice Schedules the top `capacity` revealed bids of `list` at the uniform clearing price, refunds lost
    ///         bids, penalises unrevealed commitments and pays prices and penalties to the treasury.
    /// @return out `ctx` with price, winners, revealedCount and toTreasury filled in.
    function settleEpoch(
        mapping(uint256 => JobRecord) storage jobs,
        uint64[] memory list,
        Ctx memory ctx
    ) external returns (Ctx memory out) {
        uint256 n = list.length;
        uint256[] memory bids = new uint256[](n);
        bool[] memory revealed = new bool[](n);
        for (uint256 i = 0; i < n; ++i) {
            JobRecord storage job = jobs[list[i]];
            revealed[i] = job.revealed;
            bids[i] = job.bid;
        }
        uint256[] memory rankOf = _rank(ctx, bids, revealed);
        for (uint256 i = 0; i < n; ++i) _settleBid(jobs, ctx, list[i], rankOf[i], revealed[i]);
        if (ctx.toTreasury != 0) ctx.token.safeTransfer(ctx.treasury, ctx.toTreasury);
        return ctx;
    }

    /// @dev Top-K selection; fills price, winners and revealedCount; returns rank + 1 of each winner by commit
    ///      index (0 = not scheduled).
    function _rank(
        Ctx memory ctx,
        uint256[] memory bids,
        bool[] memory revealed
    ) private pure returns (uint256[] memory rankOf) {
        uint256 k = ctx.capacity;
        (uint256[] memory top, uint256 topLen, uint256 revealedCount) = AuctionLib.selectTop(
            bids,
            revealed,
            k
        );
        ctx.price = AuctionLib.clearingPrice(bids, top, topLen, k, ctx.reservePrice);
        uint256 winners = topLen < k ? topLen : k;
        ctx.winners = winners;
        ctx.revealedCount = revealedCount;
        rankOf = new uint256[](bids.length);
        for (uint256 r = 0; r < winners; ++r) rankOf[top[r]] = r + 1;
    }

    /// @dev Settles one commitment: schedule (rank != 0), refund a lost bid, or penalise an unrevealed one.
    function _settleBid(
        mapping(uint256 => JobRecord) storage jobs,
        Ctx memory ctx,
        uint256 jobId,
        uint256 rank,
        bool revealed
    ) private {
        JobRecord storage job = jobs[jobId];
        uint256 deposit = job.deposit;
        uint256 refundAmount;
        job.deposit = 0;
        job.commitHash = NO_COMMITMENT; // keeps the slot non-zero: the next commitment is a cheap write
        // `revealed` is left as is: it counts only while Bidding, and a new commitment clears it.
        if (rank != 0) {
            uint256 price = ctx.price;
            refundAmount = deposit - price;
            ctx.toTreasury += price;
            uint40 deadline = uint40(block.timestamp) + job.assignmentDuration;
            job.status = IJobMarket.JobStatus.Scheduled;
            job.deadline = deadline;
            job.scheduledEpoch = uint32(ctx.epoch);
            emit IJobMarket.JobScheduled(jobId, ctx.epoch, rank - 1, price, refundAmount);
            emit IJobMarket.JobStatusChanged(
                jobId,
                IJobMarket.JobStatus.Bidding,
                IJobMarket.JobStatus.Scheduled,
                deadline
            );
        } else {
            if (revealed) {
                refundAmount = deposit;
                emit IJobMarket.BidLost(jobId, ctx.epoch, refundAmount);
            } else {
                uint256 penalty = (deposit * ctx.penaltyBps) / BPS;
                refundAmount = deposit - penalty;
                ctx.toTreasury += penalty;
                emit IJobMarket.BidForfeited(jobId, ctx.epoch, penalty, refundAmount);
            }
            job.status = IJobMarket.JobStatus.Created;
            emit IJobMarket.JobStatusChanged(
                jobId,
                IJobMarket.JobStatus.Bidding,
                IJobMarket.JobStatus.Created,
                job.deadline
            );
        }
        if (refundAmount != 0) ctx.token.safeTransfer(job.customer, refundAmount);
    }
}
