// GrowthPool: per-epoch connected sets (the devices' heartbeats), their challenges, the halving emission, VRF draws,
// winners' claims and sweeps.
import { BigInt, Bytes } from "@graphprotocol/graph-ts";
import {
  ChallengeWindowUpdated,
  ClaimWindowUpdated,
  Claimed,
  DrawRequested,
  EpochAllocated,
  EpochDrawn,
  EpochPosted,
  EpochRolledOver,
  GovernanceTransferred,
  GrowthPoolInitialized,
  HalvingEpochsUpdated,
  Initialized,
  PostChallenged,
  SlashAmountUpdated,
  Swept,
  Upgraded,
  VrfConfigUpdated,
  WinnersPerEpochUpdated,
} from "../../generated/GrowthPool/GrowthPool";
import {
  ConnectedSetChallenge,
  ConnectedSetPost,
  GrowthPoolEpoch,
  GrowthPoolWinner,
} from "../../generated/schema";
import { createOrLoadAccount } from "../helpers/accounts";
import {
  recordGovernanceTransfer,
  recordInitialized,
  recordParameterChange,
  recordUpgrade,
} from "../helpers/contracts";
import { postFaultName } from "../helpers/enums";
import { makeEventId, makeNumberId, makePairId } from "../helpers/ids";
import {
  createOrLoadDailySnapshot,
  createOrLoadProtocol,
  saveProtocol,
  ZERO,
} from "../helpers/protocol";

const NAME = "GrowthPool";
const ZERO_ROOT = Bytes.fromHexString(
  "0x0000000000000000000000000000000000000000000000000000000000000000",
);

function createOrLoadEpoch(epoch: BigInt): GrowthPoolEpoch {
  let id = makeNumberId(epoch);
  let e = GrowthPoolEpoch.load(id);
  if (e != null) return e;
  e = new GrowthPoolEpoch(id);
  e.epoch = epoch;
  e.status = "None";
  e.heartbeats = ZERO;
  e.postCount = 0;
  e.claimed = ZERO;
  e.claimCount = 0;
  return e;
}

export function handleEpochPosted(event: EpochPosted): void {
  let e = createOrLoadEpoch(event.params.epoch);
  // An empty set settles at once (the emission rolls over); otherwise it is open to challenges.
  e.status = event.params.n.isZero() ? "Settled" : "Posted";
  e.distributor = event.params.distributor;
  e.root = event.params.root;
  e.heartbeats = event.params.n;
  e.cid = event.params.cid;
  e.challengeDeadline = event.params.challengeDeadline;
  e.postCount = e.postCount + 1;
  e.save();
  let post = new ConnectedSetPost(makeEventId(event));
  post.epoch = e.id;
  post.distributor = event.params.distributor;
  post.root = event.params.root;
  post.heartbeats = event.params.n;
  post.challengeDeadline = event.params.challengeDeadline;
  post.cid = event.params.cid;
  post.blockNumber = event.block.number;
  post.timestamp = event.block.timestamp;
  post.transactionHash = event.transaction.hash;
  post.save();
}

export function handlePostChallenged(event: PostChallenged): void {
  let e = createOrLoadEpoch(event.params.epoch);
  // The contract voids the post: no current connected set until a repost (epochInfo reads a zero root and n).
  e.status = "Voided";
  e.root = ZERO_ROOT;
  e.heartbeats = ZERO;
  e.challengeDeadline = ZERO;
  e.save();
  let c = new ConnectedSetChallenge(makeEventId(event));
  c.epoch = e.id;
  c.distributor = event.params.distributor;
  c.challenger = event.params.challenger;
  c.fault = postFaultName(event.params.fault);
  c.slashed = event.params.slashed;
  c.repostDeadline = event.params.repostDeadline;
  c.blockNumber = event.block.number;
  c.timestamp = event.block.timestamp;
  c.transactionHash = event.transaction.hash;
  c.save();
}

export function handleEpochRolledOver(event: EpochRolledOver): void {
  let e = createOrLoadEpoch(event.params.epoch);
  e.status = "Settled";
  e.owedRolledOver = event.params.owed;
  e.carry = event.params.carry;
  e.save();
}

export function handleEpochAllocated(event: EpochAllocated): void {
  let e = createOrLoadEpoch(event.params.epoch);
  e.status = "Settled";
  e.winnersDrawn = event.params.k;
  e.budget = event.params.budget;
  e.perWinner = event.params.perWinner;
  e.carry = event.params.carry;
  e.save();
  // What the pool commits to the epoch's winners (GrowthPool.totalEmitted grows by k × perWinner).
  let allocated = event.params.perWinner.times(event.params.k);
  if (allocated.isZero()) return;
  let p = createOrLoadProtocol();
  p.emission = p.emission.plus(allocated);
  let day = createOrLoadDailySnapshot(event);
  day.dailyEmission = day.dailyEmission.plus(allocated);
  saveProtocol(p, event, day);
}

export function handleDrawRequested(event: DrawRequested): void {
  let e = createOrLoadEpoch(event.params.epoch);
  e.requestId = event.params.requestId;
  e.save();
}

export function handleEpochDrawn(event: EpochDrawn): void {
  let e = createOrLoadEpoch(event.params.epoch);
  e.requestId = event.params.requestId;
  e.randomWord = event.params.randomWord;
  e.claimDeadline = event.params.claimDeadline;
  e.save();
}

export function handleClaimed(event: Claimed): void {
  let account = createOrLoadAccount(event.params.account);
  let e = createOrLoadEpoch(event.params.epoch);
  e.claimed = e.claimed.plus(event.params.amount);
  e.claimCount = e.claimCount + 1;
  e.save();
  let w = new GrowthPoolWinner(makePairId(event.params.epoch, event.params.j));
  w.epoch = e.id;
  w.j = event.params.j;
  w.account = account.id;
  w.index = event.params.index;
  w.amount = event.params.amount;
  w.blockNumber = event.block.number;
  w.timestamp = event.block.timestamp;
  w.transactionHash = event.transaction.hash;
  w.save();
  let p = createOrLoadProtocol();
  p.emissionClaimed = p.emissionClaimed.plus(event.params.amount);
  saveProtocol(p, event);
}

export function handleSwept(event: Swept): void {
  let e = createOrLoadEpoch(event.params.epoch);
  e.swept = event.params.amount;
  e.carry = event.params.carry;
  e.save();
  // Unclaimed winnings return to the pool (GrowthPool.totalEmitted shrinks by the same amount).
  let p = createOrLoadProtocol();
  p.emission = p.emission.minus(event.params.amount);
  saveProtocol(p, event);
}

export function handleGrowthPoolInitialized(event: GrowthPoolInitialized): void {
  recordParameterChange(event, NAME, "GrowthPoolInitialized");
}
export function handleChallengeWindowUpdated(event: ChallengeWindowUpdated): void {
  recordParameterChange(event, NAME, "ChallengeWindowUpdated");
}
export function handleSlashAmountUpdated(event: SlashAmountUpdated): void {
  recordParameterChange(event, NAME, "SlashAmountUpdated");
}
export function handleHalvingEpochsUpdated(event: HalvingEpochsUpdated): void {
  recordParameterChange(event, NAME, "HalvingEpochsUpdated");
}
export function handleWinnersPerEpochUpdated(event: WinnersPerEpochUpdated): void {
  recordParameterChange(event, NAME, "WinnersPerEpochUpdated");
}
export function handleClaimWindowUpdated(event: ClaimWindowUpdated): void {
  recordParameterChange(event, NAME, "ClaimWindowUpdated");
}
export function handleVrfConfigUpdated(event: VrfConfigUpdated): void {
  recordParameterChange(event, NAME, "VrfConfigUpdated");
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
