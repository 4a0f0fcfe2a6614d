// ResultAttestation: attestor quorums drawn per job, the aggregator's commitment, attestors' commit-reveal,
// finalisation, cohort challenges and the slashes they cause.
import { Address, BigInt } from "@graphprotocol/graph-ts";
import {
  AggregateCommitted,
  AggregateRevealed,
  AttestationCommitted,
  AttestationFinalized,
  AttestationRevealed,
  AttestorsDrawn,
  CohortChallenged,
  GovernanceTransferred,
  Initialized,
  NodeSlashed,
  ParamsUpdated,
  Upgraded,
} from "../../generated/ResultAttestation/ResultAttestation";
import { Attestation, AttestorVote, CohortChallenge, JobSlash } from "../../generated/schema";
import {
  recordGovernanceTransfer,
  recordInitialized,
  recordParameterChange,
  recordUpgrade,
} from "../helpers/contracts";
import { addressesToBytes } from "../helpers/convert";
import { cohortFaultName, roleName } from "../helpers/enums";
import { makeAttestorVoteId, makeEventId, makeNumberId } from "../helpers/ids";
import { loadJob } from "../helpers/jobs";

const NAME = "ResultAttestation";

export function handleAttestorsDrawn(event: AttestorsDrawn): void {
  let a = new Attestation(makeNumberId(event.params.jobId));
  a.job = a.id;
  a.status = "Drawn";
  a.distributor = event.params.distributor;
  a.seed = event.params.seed;
  a.connectedEpoch = event.params.connectedEpoch;
  a.attestors = addressesToBytes(event.params.attestors);
  a.drawnAt = event.block.timestamp;
  a.save();
  let job = loadJob(event.params.jobId);
  if (job == null) return;
  job.attestation = a.id;
  job.save();
}

export function handleCohortChallenged(event: CohortChallenged): void {
  let c = new CohortChallenge(makeEventId(event));
  c.cohort = makeNumberId(event.params.jobId);
  c.job = c.cohort;
  c.distributor = event.params.distributor;
  c.challenger = event.params.challenger;
  c.fault = cohortFaultName(event.params.fault);
  c.slashed = event.params.slashed;
  c.blockNumber = event.block.number;
  c.timestamp = event.block.timestamp;
  c.transactionHash = event.transaction.hash;
  c.save();
  // a proven cohort fault fails the attestation (the contract's status; no AttestationFinalized follows)
  let a = Attestation.load(c.cohort);
  if (a == null) return;
  a.status = "Failed";
  a.attested = false;
  a.save();
}

export function handleAggregateCommitted(event: AggregateCommitted): void {
  let a = Attestation.load(makeNumberId(event.params.jobId));
  if (a == null) return;
  a.status = "Committed";
  a.aggregator = event.params.aggregator;
  a.commitment = event.params.commitment;
  a.transcriptCid = event.params.transcriptCid;
  a.commitDeadline = event.params.commitDeadline;
  a.revealDeadline = event.params.revealDeadline;
  a.save();
}

function createOrLoadVote(jobId: BigInt, attestor: Address): AttestorVote {
  let id = makeAttestorVoteId(jobId, attestor);
  let v = AttestorVote.load(id);
  if (v != null) return v;
  v = new AttestorVote(id);
  v.attestation = makeNumberId(jobId);
  v.attestor = attestor;
  return v;
}

export function handleAttestationCommitted(event: AttestationCommitted): void {
  let v = createOrLoadVote(event.params.jobId, event.params.attestor);
  v.commitment = event.params.commitment;
  v.committedAt = event.block.timestamp;
  v.save();
}

export function handleAttestationRevealed(event: AttestationRevealed): void {
  let v = createOrLoadVote(event.params.jobId, event.params.attestor);
  v.aggregateHash = event.params.aggregateHash;
  v.revealedAt = event.block.timestamp;
  v.save();
}

export function handleAggregateRevealed(event: AggregateRevealed): void {
  let a = Attestation.load(makeNumberId(event.params.jobId));
  if (a == null) return;
  a.aggregateHash = event.params.aggregateHash;
  a.save();
}

export function handleAttestationFinalized(event: AttestationFinalized): void {
  let a = Attestation.load(makeNumberId(event.params.jobId));
  if (a == null) return;
  a.status = event.params.attested ? "Attested" : "Failed";
  a.attested = event.params.attested;
  a.majority = event.params.majority;
  a.finalHash = event.params.finalHash;
  a.agreeMask = event.params.agreeMask;
  a.faultMask = event.params.faultMask;
  a.aggregatorFault = event.params.aggregatorFault;
  a.finalizedAt = event.block.timestamp;
  a.save();
}

export function handleNodeSlashed(event: NodeSlashed): void {
  let s = new JobSlash(makeEventId(event));
  s.job = makeNumberId(event.params.jobId);
  s.node = event.params.node;
  s.role = roleName(event.params.role);
  s.amount = event.params.amount;
  s.challenger = event.params.challenger;
  s.blockNumber = event.block.number;
  s.timestamp = event.block.timestamp;
  s.transactionHash = event.transaction.hash;
  s.save();
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
