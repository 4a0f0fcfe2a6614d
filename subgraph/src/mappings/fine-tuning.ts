// FineTuning: bounties, trainers, rounds (candidate commitment, hidden-split reveal, attestor draw, commit-reveal,
// finalisation into a child algorithm version), trainer and attestor payments, slashes and sweeps.
import { Address, BigInt } from "@graphprotocol/graph-ts";
import {
  AttestationCommitted,
  AttestationRevealed,
  AttestorPaid,
  AttestorsDrawn,
  BountyCreated,
  BountyFinalized,
  CandidateCommitted,
  CandidateRevealed,
  GovernanceTransferred,
  Initialized,
  NodeSlashed,
  ParamsUpdated,
  RoundFinalized,
  RoundOpened,
  RoundSwept,
  SeedRearmed,
  SplitRevealed,
  TrainerEnrolled,
  TrainerPaid,
  Upgraded,
} from "../../generated/FineTuning/FineTuning";
import {
  AttestorPayment,
  Bounty,
  BountyRound,
  BountyTrainer,
  RoundAttestorVote,
  RoundSlash,
  TrainerPayment,
} from "../../generated/schema";
import { createOrLoadAccount } from "../helpers/accounts";
import {
  recordGovernanceTransfer,
  recordInitialized,
  recordParameterChange,
  recordUpgrade,
} from "../helpers/contracts";
import { addressesToBytes } from "../helpers/convert";
import { roleName } from "../helpers/enums";
import {
  makeEventId,
  makeNumberId,
  makePairId,
  makeRoundVoteId,
  makeTrainerId,
} from "../helpers/ids";
import { createOrLoadProtocol, ONE, saveProtocol, ZERO } from "../helpers/protocol";

const NAME = "FineTuning";
/** FineTuning.DEFAULT_GROUP_SIZE: what the contract stores for a bounty that asks for group size 0. */
const DEFAULT_GROUP_SIZE = 8;

function loadBounty(bountyId: BigInt): Bounty | null {
  return Bounty.load(makeNumberId(bountyId));
}

function loadRound(bountyId: BigInt, round: BigInt): BountyRound | null {
  return BountyRound.load(makePairId(bountyId, round));
}

export function handleBountyCreated(event: BountyCreated): void {
  let poster = createOrLoadAccount(event.params.poster);
  let input = event.params.input;
  let b = new Bounty(makeNumberId(event.params.bountyId));
  b.bountyId = event.params.bountyId;
  b.poster = poster.id;
  b.algorithm = makeNumberId(event.params.algorithmId);
  b.currentAlgorithm = b.algorithm;
  b.controlCid = input.controlCid;
  b.metricId = input.metricId;
  b.minGainBps = input.minGainBps;
  b.rewardPool = input.rewardPool;
  b.rounds = input.rounds;
  b.groupSize = input.groupSize == 0 ? DEFAULT_GROUP_SIZE : input.groupSize;
  b.roundDuration = input.roundDuration;
  b.splitRoot = input.splitRoot;
  b.baselineMetric = input.baselineMetric;
  b.splitWindow = input.splitWindow;
  b.status = "Active";
  b.trainerCount = 0;
  b.paidToTrainers = ZERO;
  b.paidToAttestors = ZERO;
  b.createdAt = event.block.timestamp;
  b.createdAtBlock = event.block.number;
  b.save();
  let p = createOrLoadProtocol();
  p.bounties = p.bounties.plus(ONE);
  saveProtocol(p, event);
}

export function handleTrainerEnrolled(event: TrainerEnrolled): void {
  let b = loadBounty(event.params.bountyId);
  if (b == null) return;
  b.trainerCount = b.trainerCount + 1;
  b.save();
  let trainer = createOrLoadAccount(event.params.trainer);
  let t = new BountyTrainer(makeTrainerId(event.params.bountyId, event.params.trainer));
  t.bounty = b.id;
  t.trainer = trainer.id;
  t.blockNumber = event.block.number;
  t.timestamp = event.block.timestamp;
  t.transactionHash = event.transaction.hash;
  t.save();
}

export function handleRoundOpened(event: RoundOpened): void {
  let r = new BountyRound(makePairId(event.params.bountyId, event.params.round));
  r.bounty = makeNumberId(event.params.bountyId);
  r.round = event.params.round.toI32();
  r.algorithm = makeNumberId(event.params.algorithmId);
  r.status = "Open";
  r.openedAt = event.params.openedAt;
  r.save();
}

export function handleCandidateCommitted(event: CandidateCommitted): void {
  let r = loadRound(event.params.bountyId, event.params.round);
  if (r == null) return;
  r.status = "Committed";
  r.refiner = event.params.refiner;
  r.commitment = event.params.commitment;
  r.modelCid = event.params.modelCid;
  r.listCid = event.params.listCid;
  r.splitDeadline = event.params.splitDeadline;
  r.seedBlock = event.params.seedBlock;
  r.save();
}

export function handleSplitRevealed(event: SplitRevealed): void {
  let r = loadRound(event.params.bountyId, event.params.round);
  if (r == null) return;
  // the contract's round is attesting from the split's reveal on, drawn or not (a re-armed seed, too few attestors)
  r.status = "Attesting";
  r.splitCid = event.params.splitCid;
  r.salt = event.params.salt;
  r.save();
}

export function handleSeedRearmed(event: SeedRearmed): void {
  let r = loadRound(event.params.bountyId, event.params.round);
  if (r == null) return;
  r.seedBlock = event.params.seedBlock;
  r.save();
}

export function handleAttestorsDrawn(event: AttestorsDrawn): void {
  let r = loadRound(event.params.bountyId, event.params.round);
  if (r == null) return;
  r.status = "Attesting";
  r.seed = event.params.seed;
  r.attestors = addressesToBytes(event.params.attestors);
  r.commitDeadline = event.params.commitDeadline;
  r.revealDeadline = event.params.revealDeadline;
  r.save();
}

function createOrLoadVote(bountyId: BigInt, round: BigInt, attestor: Address): RoundAttestorVote {
  let id = makeRoundVoteId(bountyId, round, attestor);
  let v = RoundAttestorVote.load(id);
  if (v != null) return v;
  v = new RoundAttestorVote(id);
  v.round = makePairId(bountyId, round);
  v.attestor = attestor;
  return v;
}

export function handleAttestationCommitted(event: AttestationCommitted): void {
  let v = createOrLoadVote(event.params.bountyId, event.params.round, event.params.attestor);
  v.commitment = event.params.commitment;
  v.committedAt = event.block.timestamp;
  v.save();
}

export function handleAttestationRevealed(event: AttestationRevealed): void {
  let v = createOrLoadVote(event.params.bountyId, event.params.round, event.params.attestor);
  v.value = event.params.value;
  v.revealedAt = event.block.timestamp;
  v.save();
}

export function handleCandidateRevealed(event: CandidateRevealed): void {
  let r = loadRound(event.params.bountyId, event.params.round);
  if (r == null) return;
  r.modelSha256 = event.params.modelSha256;
  r.metric = event.params.metric;
  r.payoutRoot = event.params.payoutRoot;
  r.value = event.params.value;
  r.save();
}

export function handleRoundFinalized(event: RoundFinalized): void {
  let r = loadRound(event.params.bountyId, event.params.round);
  if (r == null) return;
  r.status = event.params.accepted ? "Accepted" : "Rejected";
  r.accepted = event.params.accepted;
  r.reason = event.params.reason;
  r.finalHash = event.params.finalHash;
  r.finalizedAt = event.block.timestamp;
  if (!event.params.childAlgorithmId.isZero()) {
    r.childAlgorithm = makeNumberId(event.params.childAlgorithmId);
    let b = loadBounty(event.params.bountyId);
    if (b != null) {
      b.currentAlgorithm = makeNumberId(event.params.childAlgorithmId);
      b.save();
    }
  }
  r.save();
}

export function handleNodeSlashed(event: NodeSlashed): void {
  let s = new RoundSlash(makeEventId(event));
  s.round = makePairId(event.params.bountyId, event.params.round);
  s.node = event.params.node;
  s.role = roleName(event.params.role);
  s.amount = event.params.amount;
  s.blockNumber = event.block.number;
  s.timestamp = event.block.timestamp;
  s.transactionHash = event.transaction.hash;
  s.save();
}

export function handleAttestorPaid(event: AttestorPaid): void {
  let pay = new AttestorPayment(makeEventId(event));
  pay.round = makePairId(event.params.bountyId, event.params.round);
  pay.attestor = event.params.attestor;
  pay.amount = event.params.amount;
  pay.blockNumber = event.block.number;
  pay.timestamp = event.block.timestamp;
  pay.transactionHash = event.transaction.hash;
  pay.save();
  let b = loadBounty(event.params.bountyId);
  if (b == null) return;
  b.paidToAttestors = b.paidToAttestors.plus(event.params.amount);
  b.save();
}

export function handleTrainerPaid(event: TrainerPaid): void {
  let account = createOrLoadAccount(event.params.account);
  let pay = new TrainerPayment(makeEventId(event));
  pay.round = makePairId(event.params.bountyId, event.params.round);
  pay.account = account.id;
  pay.amount = event.params.amount;
  pay.blockNumber = event.block.number;
  pay.timestamp = event.block.timestamp;
  pay.transactionHash = event.transaction.hash;
  pay.save();
  let b = loadBounty(event.params.bountyId);
  if (b == null) return;
  b.paidToTrainers = b.paidToTrainers.plus(event.params.amount);
  b.save();
}

export function handleRoundSwept(event: RoundSwept): void {
  let r = loadRound(event.params.bountyId, event.params.round);
  if (r == null) return;
  r.swept = event.params.amount;
  r.save();
}

export function handleBountyFinalized(event: BountyFinalized): void {
  let b = loadBounty(event.params.bountyId);
  if (b == null) return;
  b.status = "Finalized";
  b.refund = event.params.refund;
  b.finalizedAt = event.block.timestamp;
  b.save();
}

export function handleParamsUpdated(event: ParamsUpdated): void {
  recordParameterChange(event, NAME, "ParamsUpdated");
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
