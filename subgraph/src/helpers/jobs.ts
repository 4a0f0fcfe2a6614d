// Jobs: loading, and the time and block at which a job entered each status.
import { BigInt, ethereum } from "@graphprotocol/graph-ts";
import { AuctionEpoch, Job } from "../../generated/schema";
import { makeNumberId } from "./ids";
import { ZERO } from "./protocol";

export function loadJob(jobId: BigInt): Job | null {
  return Job.load(makeNumberId(jobId));
}

/** Records that the job entered `status` (JobStatus index) in this event's block. */
export function markJobPhase(job: Job, status: i32, event: ethereum.Event): void {
  let t = event.block.timestamp;
  let b = event.block.number;
  // Created is the creation (JobCreated); a lost bid's return to Created keeps it.
  if (status == 2) {
    job.biddingAt = t;
    job.biddingAtBlock = b;
  } else if (status == 3) {
    job.scheduledAt = t;
    job.scheduledAtBlock = b;
  } else if (status == 4) {
    job.assignedAt = t;
    job.assignedAtBlock = b;
  } else if (status == 5) {
    job.committedAt = t;
    job.committedAtBlock = b;
  } else if (status == 6) {
    job.attestedAt = t;
    job.attestedAtBlock = b;
  } else if (status == 7) {
    job.reportedAt = t;
    job.reportedAtBlock = b;
  } else if (status == 8) {
    job.settledAt = t;
    job.settledAtBlock = b;
  } else if (status == 9) {
    job.failedAt = t;
    job.failedAtBlock = b;
  } else if (status == 10) {
    job.expiredAt = t;
    job.expiredAtBlock = b;
  } else if (status == 11) {
    job.cancelledAt = t;
    job.cancelledAtBlock = b;
  }
}

/** The auction epoch `epoch`, empty on first sight (not saved). */
export function createOrLoadAuctionEpoch(epoch: BigInt): AuctionEpoch {
  let id = makeNumberId(epoch);
  let e = AuctionEpoch.load(id);
  if (e != null) return e;
  e = new AuctionEpoch(id);
  e.epoch = epoch;
  e.bidCount = ZERO;
  e.revealedCount = ZERO;
  e.scheduledCount = ZERO;
  e.finalized = false;
  return e;
}
