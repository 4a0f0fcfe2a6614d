// The global statistics entity and its daily snapshots.
import { BigInt, ethereum } from "@graphprotocol/graph-ts";
import { DailySnapshot, Protocol } from "../../generated/schema";
import { makeDayId, SECONDS_PER_DAY } from "./ids";
import { JOB_NONE } from "./enums";

export const PROTOCOL_ID = "1";
export const ZERO = BigInt.zero();
export const ONE = BigInt.fromI32(1);

export function createOrLoadProtocol(): Protocol {
  let p = Protocol.load(PROTOCOL_ID);
  if (p != null) return p;
  p = new Protocol(PROTOCOL_ID);
  p.jobCount = ZERO;
  p.jobsCreated = ZERO;
  p.jobsBidding = ZERO;
  p.jobsScheduled = ZERO;
  p.jobsAssigned = ZERO;
  p.jobsCommitted = ZERO;
  p.jobsAttested = ZERO;
  p.jobsReported = ZERO;
  p.jobsSettled = ZERO;
  p.jobsFailed = ZERO;
  p.jobsExpired = ZERO;
  p.jobsCancelled = ZERO;
  p.jobVolume = ZERO;
  p.usePaid = ZERO;
  p.auctionRevenue = ZERO;
  p.fees = ZERO;
  p.protocolFees = ZERO;
  p.devicePayouts = ZERO;
  p.devicePayoutsClaimed = ZERO;
  p.devices = ZERO;
  p.devicesEverRegistered = ZERO;
  p.emission = ZERO;
  p.emissionClaimed = ZERO;
  p.staked = ZERO;
  p.locked = ZERO;
  p.slashed = ZERO;
  p.nodes = ZERO;
  p.algorithms = ZERO;
  p.licencesSold = ZERO;
  p.requests = ZERO;
  p.bounties = ZERO;
  p.channels = ZERO;
  p.proposals = ZERO;
  p.votes = ZERO;
  p.burned = ZERO;
  p.lastUpdatedBlock = ZERO;
  p.lastUpdatedTimestamp = ZERO;
  return p;
}

/** The snapshot of the event's UTC day (created with zero daily counters). */
export function createOrLoadDailySnapshot(event: ethereum.Event): DailySnapshot {
  let id = makeDayId(event.block.timestamp);
  let d = DailySnapshot.load(id);
  if (d != null) return d;
  d = new DailySnapshot(id);
  let day = event.block.timestamp.toI64() / SECONDS_PER_DAY;
  // Timestamp values are microseconds since the epoch.
  d.dayStart = day * SECONDS_PER_DAY * 1000000;
  d.jobCount = ZERO;
  d.jobsCreated = ZERO;
  d.jobsBidding = ZERO;
  d.jobsScheduled = ZERO;
  d.jobsAssigned = ZERO;
  d.jobsCommitted = ZERO;
  d.jobsAttested = ZERO;
  d.jobsReported = ZERO;
  d.jobsSettled = ZERO;
  d.jobsFailed = ZERO;
  d.jobsExpired = ZERO;
  d.jobsCancelled = ZERO;
  d.jobVolume = ZERO;
  d.fees = ZERO;
  d.devices = ZERO;
  d.emission = ZERO;
  d.staked = ZERO;
  d.slashed = ZERO;
  d.dailyJobsCreated = ZERO;
  d.dailyJobsSettled = ZERO;
  d.dailyJobsFailed = ZERO;
  d.dailyJobVolume = ZERO;
  d.dailyFees = ZERO;
  d.dailyDevicesRegistered = ZERO;
  d.dailyEmission = ZERO;
  d.dailyStakeAdded = ZERO;
  d.dailySlashed = ZERO;
  d.lastUpdatedBlock = ZERO;
  return d;
}

/** Saves the totals and copies them into the day's snapshot (`day`: the snapshot the handler already changed). */
export function saveProtocol(
  p: Protocol,
  event: ethereum.Event,
  day: DailySnapshot | null = null,
): void {
  p.lastUpdatedBlock = event.block.number;
  p.lastUpdatedTimestamp = event.block.timestamp;
  p.save();
  let d = day != null ? day : createOrLoadDailySnapshot(event);
  d.jobCount = p.jobCount;
  d.jobsCreated = p.jobsCreated;
  d.jobsBidding = p.jobsBidding;
  d.jobsScheduled = p.jobsScheduled;
  d.jobsAssigned = p.jobsAssigned;
  d.jobsCommitted = p.jobsCommitted;
  d.jobsAttested = p.jobsAttested;
  d.jobsReported = p.jobsReported;
  d.jobsSettled = p.jobsSettled;
  d.jobsFailed = p.jobsFailed;
  d.jobsExpired = p.jobsExpired;
  d.jobsCancelled = p.jobsCancelled;
  d.jobVolume = p.jobVolume;
  d.fees = p.fees;
  d.devices = p.devices;
  d.emission = p.emission;
  d.staked = p.staked;
  d.slashed = p.slashed;
  d.lastUpdatedBlock = event.block.number;
  d.save();
}

/** Adds `delta` (±1) to the count of jobs in `status` (JobStatus index). */
export function countJobStatus(p: Protocol, status: i32, delta: BigInt): void {
  if (status == JOB_NONE) return;
  if (status == 1) p.jobsCreated = p.jobsCreated.plus(delta);
  else if (status == 2) p.jobsBidding = p.jobsBidding.plus(delta);
  else if (status == 3) p.jobsScheduled = p.jobsScheduled.plus(delta);
  else if (status == 4) p.jobsAssigned = p.jobsAssigned.plus(delta);
  else if (status == 5) p.jobsCommitted = p.jobsCommitted.plus(delta);
  else if (status == 6) p.jobsAttested = p.jobsAttested.plus(delta);
  else if (status == 7) p.jobsReported = p.jobsReported.plus(delta);
  else if (status == 8) p.jobsSettled = p.jobsSettled.plus(delta);
  else if (status == 9) p.jobsFailed = p.jobsFailed.plus(delta);
  else if (status == 10) p.jobsExpired = p.jobsExpired.plus(delta);
  else if (status == 11) p.jobsCancelled = p.jobsCancelled.plus(delta);
}
