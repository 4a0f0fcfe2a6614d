// JobMarket: jobs and every phase they pass, the sealed-bid auction (bids, epochs, seeds), cohorts and escrow.
import { BigInt } from "@graphprotocol/graph-ts";
import {
  AuctionTimingScheduled,
  BidCommitted,
  BidEvicted,
  BidForfeited,
  BidLost,
  BidRevealed,
  CohortAssigned,
  EpochFinalized,
  EpochSeedArmed,
  EpochSeedFixed,
  EscrowPaid,
  EscrowRefunded,
  GovernanceTransferred,
  Initialized,
  JobCreated,
  JobExpired,
  JobFailed,
  JobMarket,
  JobScheduled,
  JobStatusChanged,
  JobWithdrawn,
  ModuleSet,
  ParamsUpdated,
  TreasuryUpdated,
  Upgraded,
} from "../../generated/JobMarket/JobMarket";
import { Algorithm, Bid, Cohort, Job, JobStatusChange } from "../../generated/schema";
import { createOrLoadAccount } from "../helpers/accounts";
import {
  recordGovernanceTransfer,
  recordInitialized,
  recordParameterChange,
  recordUpgrade,
} from "../helpers/contracts";
import { isTerminalJobStatus, JOB_FAILED, JOB_SETTLED, jobStatusName } from "../helpers/enums";
import { makeBidId, makeEventId, makeNumberId } from "../helpers/ids";
import { createOrLoadAuctionEpoch, loadJob, markJobPhase } from "../helpers/jobs";
import {
  countJobStatus,
  createOrLoadDailySnapshot,
  createOrLoadProtocol,
  ONE,
  saveProtocol,
  ZERO,
} from "../helpers/protocol";

const NAME = "JobMarket";

export function handleJobCreated(event: JobCreated): void {
  let customer = createOrLoadAccount(event.params.customer);
  let job = new Job(makeNumberId(event.params.jobId));
  job.jobId = event.params.jobId;
  job.customer = customer.id;
  job.algorithm = makeNumberId(event.params.algorithmId);
  let algorithm = Algorithm.load(job.algorithm);
  if (algorithm != null) job.schema = algorithm.schema;
  job.status = jobStatusName(0);
  job.deadline = ZERO;
  job.escrow = event.params.escrow;
  job.budget = event.params.escrow;
  job.usePaid = event.params.usePaid;
  job.maxDevices = event.params.maxDevices;
  job.rewardPerDevice = event.params.rewardPerDevice;
  job.encryptionKey = event.params.encryptionKey;
  // JobCreated carries neither the minimum cohort, the quality bound nor the minimum participants: one
  // eth_call of getJob at this block reads them (the subgraph's only call).
  let stored = JobMarket.bind(event.address).try_getJob(event.params.jobId);
  if (!stored.reverted) {
    job.minDevices = stored.value.minDevices;
    job.minParticipants = stored.value.minParticipants;
    job.maxStdError = stored.value.maxStdError;
  }
  job.bidCount = 0;
  job.refund = ZERO;
  job.paidToSettlement = ZERO;
  job.payoutsClaimed = ZERO;
  job.payoutClaimCount = 0;
  job.createdAt = event.block.timestamp;
  job.createdAtBlock = event.block.number;
  job.save();

  let p = createOrLoadProtocol();
  p.jobCount = p.jobCount.plus(ONE);
  p.jobVolume = p.jobVolume.plus(event.params.escrow);
  p.usePaid = p.usePaid.plus(event.params.usePaid);
  let day = createOrLoadDailySnapshot(event);
  day.dailyJobsCreated = day.dailyJobsCreated.plus(ONE);
  day.dailyJobVolume = day.dailyJobVolume.plus(event.params.escrow);
  saveProtocol(p, event, day);
}

export function handleJobStatusChanged(event: JobStatusChanged): void {
  let job = loadJob(event.params.jobId);
  if (job == null) return;
  let from = event.params.from;
  let to = event.params.to;
  job.status = jobStatusName(to);
  job.deadline = event.params.deadline;
  if (isTerminalJobStatus(to)) job.escrow = ZERO;
  markJobPhase(job, to, event);
  job.save();

  let change = new JobStatusChange(makeEventId(event));
  change.job = job.id;
  change.from = jobStatusName(from);
  change.to = jobStatusName(to);
  change.deadline = event.params.deadline;
  change.blockNumber = event.block.number;
  change.timestamp = event.block.timestamp;
  change.transactionHash = event.transaction.hash;
  change.save();

  let p = createOrLoadProtocol();
  countJobStatus(p, from, ONE.neg());
  countJobStatus(p, to, ONE);
  let day = createOrLoadDailySnapshot(event);
  if (to == JOB_SETTLED) day.dailyJobsSettled = day.dailyJobsSettled.plus(ONE);
  if (to == JOB_FAILED) day.dailyJobsFailed = day.dailyJobsFailed.plus(ONE);
  saveProtocol(p, event, day);
}

export function handleBidCommitted(event: BidCommitted): void {
  let job = loadJob(event.params.jobId);
  if (job == null) return;
  job.bidCount = job.bidCount + 1;
  let epoch = createOrLoadAuctionEpoch(event.params.epoch);
  epoch.bidCount = epoch.bidCount.plus(ONE);
  epoch.save();
  let bid = new Bid(makeBidId(event.params.jobId, event.params.epoch, job.bidCount));
  bid.job = job.id;
  bid.epoch = epoch.id;
  bid.commitment = event.params.commitment;
  bid.deposit = event.params.deposit;
  bid.index = event.params.index;
  bid.revealed = false;
  bid.outcome = "Committed";
  bid.committedAt = event.block.timestamp;
  bid.save();
  job.currentBid = bid.id;
  job.save();
}

/** The job's current bid, when it is the one for `epoch`. */
function currentBid(jobId: BigInt, epoch: BigInt): Bid | null {
  let job = loadJob(jobId);
  if (job == null) return null;
  let id = job.currentBid;
  if (id == null) return null;
  let bid = Bid.load(id!);
  if (bid == null || bid.epoch != makeNumberId(epoch)) return null;
  return bid;
}

export function handleBidRevealed(event: BidRevealed): void {
  let bid = currentBid(event.params.jobId, event.params.epoch);
  if (bid == null) return;
  bid.bid = event.params.bid;
  bid.revealed = true;
  bid.outcome = "Revealed";
  bid.revealedAt = event.block.timestamp;
  bid.save();
}

export function handleBidLost(event: BidLost): void {
  let bid = currentBid(event.params.jobId, event.params.epoch);
  if (bid == null) return;
  bid.outcome = "Lost";
  bid.refund = event.params.refund;
  bid.settledAt = event.block.timestamp;
  bid.save();
}

export function handleBidForfeited(event: BidForfeited): void {
  let bid = currentBid(event.params.jobId, event.params.epoch);
  if (bid == null) return;
  bid.outcome = "Forfeited";
  bid.penalty = event.params.penalty;
  bid.refund = event.params.refund;
  bid.settledAt = event.block.timestamp;
  bid.save();
}

export function handleBidEvicted(event: BidEvicted): void {
  // the evicting commitment took this one's place: the epoch holds as many commitments as before
  let epoch = createOrLoadAuctionEpoch(event.params.epoch);
  epoch.bidCount = epoch.bidCount.minus(ONE);
  epoch.save();
  let bid = currentBid(event.params.jobId, event.params.epoch);
  if (bid == null) return;
  bid.outcome = "Evicted";
  bid.evictedBy = makeNumberId(event.params.byJobId);
  bid.refund = event.params.refund;
  bid.settledAt = event.block.timestamp;
  bid.save();
}

export function handleJobScheduled(event: JobScheduled): void {
  let job = loadJob(event.params.jobId);
  if (job == null) return;
  let epoch = createOrLoadAuctionEpoch(event.params.epoch);
  epoch.save();
  job.scheduledEpoch = epoch.id;
  job.rank = event.params.rank;
  job.clearingPrice = event.params.price;
  job.save();
  let bid = currentBid(event.params.jobId, event.params.epoch);
  if (bid != null) {
    bid.outcome = "Won";
    bid.rank = event.params.rank;
    bid.price = event.params.price;
    bid.refund = event.params.refund;
    bid.settledAt = event.block.timestamp;
    bid.save();
  }
  let p = createOrLoadProtocol();
  p.auctionRevenue = p.auctionRevenue.plus(event.params.price);
  saveProtocol(p, event);
}

export function handleEpochFinalized(event: EpochFinalized): void {
  let epoch = createOrLoadAuctionEpoch(event.params.epoch);
  epoch.clearingPrice = event.params.clearingPrice;
  epoch.bidCount = event.params.bidCount;
  epoch.revealedCount = event.params.revealedCount;
  epoch.scheduledCount = event.params.scheduledCount;
  epoch.finalized = true;
  epoch.finalizedAt = event.block.timestamp;
  epoch.save();
}

export function handleEpochSeedArmed(event: EpochSeedArmed): void {
  let epoch = createOrLoadAuctionEpoch(event.params.epoch);
  epoch.seedBlock = event.params.blockNumber;
  epoch.save();
}

export function handleEpochSeedFixed(event: EpochSeedFixed): void {
  let epoch = createOrLoadAuctionEpoch(event.params.epoch);
  epoch.seed = event.params.seed;
  epoch.save();
}

export function handleJobWithdrawn(event: JobWithdrawn): void {
  let job = loadJob(event.params.jobId);
  if (job == null) return;
  job.refund = job.refund.plus(event.params.refund);
  job.save();
}

export function handleCohortAssigned(event: CohortAssigned): void {
  let job = loadJob(event.params.jobId);
  if (job == null) return;
  let cohort = new Cohort(job.id);
  cohort.job = job.id;
  cohort.distributor = event.params.distributor;
  cohort.aggregator = event.params.aggregator;
  cohort.root = event.params.cohortRoot;
  cohort.deviceCount = event.params.deviceCount;
  cohort.cid = event.params.cohortCid;
  cohort.assignedAt = event.block.timestamp;
  cohort.assignedAtBlock = event.block.number;
  cohort.save();
  job.cohort = cohort.id;
  job.distributor = event.params.distributor;
  job.aggregator = event.params.aggregator;
  job.deviceCount = event.params.deviceCount;
  job.save();
}

export function handleJobExpired(event: JobExpired): void {
  let job = loadJob(event.params.jobId);
  if (job == null) return;
  job.refund = job.refund.plus(event.params.refund);
  job.save();
}

export function handleJobFailed(event: JobFailed): void {
  let job = loadJob(event.params.jobId);
  if (job == null) return;
  job.failReason = event.params.reason;
  job.save();
}

export function handleEscrowPaid(event: EscrowPaid): void {
  let job = loadJob(event.params.jobId);
  if (job == null) return;
  job.paidToSettlement = job.paidToSettlement.plus(event.params.amount);
  job.save();
}

export function handleEscrowRefunded(event: EscrowRefunded): void {
  let job = loadJob(event.params.jobId);
  if (job == null) return;
  job.refund = job.refund.plus(event.params.amount);
  job.save();
}

export function handleParamsUpdated(event: ParamsUpdated): void {
  recordParameterChange(event, NAME, "ParamsUpdated");
}
export function handleAuctionTimingScheduled(event: AuctionTimingScheduled): void {
  recordParameterChange(event, NAME, "AuctionTimingScheduled");
}
export function handleTreasuryUpdated(event: TreasuryUpdated): void {
  recordParameterChange(event, NAME, "TreasuryUpdated");
}
export function handleModuleSet(event: ModuleSet): void {
  recordParameterChange(event, NAME, "ModuleSet");
}

export function handleUpgraded(event: Upgraded): void {
  recordUpgrade(event, NAME, event.params.implementation);
}
export function handleGovernanceTransferred(event: GovernanceTransferred): void {
  recordGovernanceTransfer(
    event,
    NAME,
    event.params.previousGovernance,
    event.params.newGovernance,
  );
}
export function handleInitialized(event: Initialized): void {
  recordInitialized(event, NAME, event.params.version);
}
