// Settlement: reports, the split of each job's escrow, device payout claims, sweeps and fee withdrawals.
import { ethereum } from "@graphprotocol/graph-ts";
import {
  ClaimWindowUpdated,
  FeesWithdrawn,
  GovernanceTransferred,
  Initialized,
  JobSplit as JobSplitEvent,
  PayoutClaimed,
  PayoutSwept,
  ProtocolFeesWithdrawn,
  ReportPosted,
  Upgraded,
} from "../../generated/Settlement/Settlement";
import {
  Device,
  FeeWithdrawal,
  JobSplit,
  PayoutClaim,
  PayoutSweep,
  Report,
} from "../../generated/schema";
import { createOrLoadAccount } from "../helpers/accounts";
import {
  recordGovernanceTransfer,
  recordInitialized,
  recordParameterChange,
  recordUpgrade,
} from "../helpers/contracts";
import { addressesToBytes } from "../helpers/convert";
import { makeEventId, makeNumberId, makePairId } from "../helpers/ids";
import { loadJob } from "../helpers/jobs";
import { createOrLoadDailySnapshot, createOrLoadProtocol, saveProtocol } from "../helpers/protocol";

const NAME = "Settlement";

export function handleReportPosted(event: ReportPosted): void {
  let r = new Report(makeNumberId(event.params.jobId));
  r.job = r.id;
  r.reporter = event.params.reporter;
  r.reportCid = event.params.reportCid;
  r.reportCommitment = event.params.reportCommitment;
  r.aggregateHash = event.params.aggregateHash;
  r.participants = event.params.participants;
  r.payoutRoot = event.params.payoutRoot;
  r.payoutTotal = event.params.payoutTotal;
  r.payoutsCid = event.params.payoutsCid;
  r.qualityMet = event.params.qualityMet;
  r.success = event.params.success;
  r.blockNumber = event.block.number;
  r.timestamp = event.block.timestamp;
  r.transactionHash = event.transaction.hash;
  r.save();
  let job = loadJob(event.params.jobId);
  if (job == null) return;
  job.report = r.id;
  job.save();
}

export function handleJobSplit(event: JobSplitEvent): void {
  let split = event.params.split;
  let s = new JobSplit(makeNumberId(event.params.jobId));
  s.job = s.id;
  s.success = event.params.success;
  s.distributor = split.distributor;
  s.aggregator = split.aggregator;
  s.reporter = split.reporter;
  s.developer = split.developer;
  s.parentDeveloper = split.parentDeveloper;
  s.distributorFee = split.distributorFee;
  s.aggregatorFee = split.aggregatorFee;
  s.reporterFee = split.reporterFee;
  s.attestorShare = split.attestorShare;
  s.attestorCount = split.attestorCount;
  s.royalty = split.royalty;
  s.parentRoyalty = split.parentRoyalty;
  s.protocolFee = split.protocolFee;
  s.devicePool = split.devicePool;
  s.attestors = addressesToBytes(event.params.attestors);
  s.blockNumber = event.block.number;
  s.timestamp = event.block.timestamp;
  s.transactionHash = event.transaction.hash;
  s.save();
  let job = loadJob(event.params.jobId);
  if (job != null) {
    job.split = s.id;
    job.save();
  }
  // attestorShare is credited to each agreeing attestor.
  let fees = split.distributorFee
    .plus(split.aggregatorFee)
    .plus(split.reporterFee)
    .plus(split.attestorShare.times(split.attestorCount))
    .plus(split.royalty)
    .plus(split.parentRoyalty)
    .plus(split.protocolFee);
  let p = createOrLoadProtocol();
  p.fees = p.fees.plus(fees);
  p.protocolFees = p.protocolFees.plus(split.protocolFee);
  p.devicePayouts = p.devicePayouts.plus(split.devicePool);
  let day = createOrLoadDailySnapshot(event);
  day.dailyFees = day.dailyFees.plus(fees);
  saveProtocol(p, event, day);
}

export function handlePayoutClaimed(event: PayoutClaimed): void {
  let account = createOrLoadAccount(event.params.account);
  let c = new PayoutClaim(makePairId(event.params.jobId, event.params.index));
  c.job = makeNumberId(event.params.jobId);
  c.index = event.params.index;
  c.account = account.id;
  if (Device.load(event.params.account) != null) c.device = event.params.account;
  c.amount = event.params.amount;
  c.blockNumber = event.block.number;
  c.timestamp = event.block.timestamp;
  c.transactionHash = event.transaction.hash;
  c.save();
  let job = loadJob(event.params.jobId);
  if (job != null) {
    job.payoutsClaimed = job.payoutsClaimed.plus(event.params.amount);
    job.payoutClaimCount = job.payoutClaimCount + 1;
    job.save();
  }
  let p = createOrLoadProtocol();
  p.devicePayoutsClaimed = p.devicePayoutsClaimed.plus(event.params.amount);
  saveProtocol(p, event);
}

export function handlePayoutSwept(event: PayoutSwept): void {
  let s = new PayoutSweep(makeEventId(event));
  s.job = makeNumberId(event.params.jobId);
  s.treasury = event.params.treasury;
  s.amount = event.params.amount;
  s.blockNumber = event.block.number;
  s.timestamp = event.block.timestamp;
  s.transactionHash = event.transaction.hash;
  s.save();
}

function recordWithdrawal(event: ethereum.Event, protocol: boolean): void {
  let w = new FeeWithdrawal(makeEventId(event));
  w.account = event.parameters[0].value.toAddress();
  w.amount = event.parameters[1].value.toBigInt();
  w.protocol = protocol;
  w.blockNumber = event.block.number;
  w.timestamp = event.block.timestamp;
  w.transactionHash = event.transaction.hash;
  w.save();
}

export function handleFeesWithdrawn(event: FeesWithdrawn): void {
  recordWithdrawal(event, false);
}

export function handleProtocolFeesWithdrawn(event: ProtocolFeesWithdrawn): void {
  recordWithdrawal(event, true);
}

export function handleClaimWindowUpdated(event: ClaimWindowUpdated): void {
  recordParameterChange(event, NAME, "ClaimWindowUpdated");
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
