// DMLGovernor (OpenZeppelin Governor, not upgradeable): proposals, votes, queue/execute/cancel, settings.
import { Address, BigInt, Bytes, ethereum } from "@graphprotocol/graph-ts";
import {
  ProposalCanceled,
  ProposalCreated,
  ProposalExecuted,
  ProposalQueued,
  ProposalThresholdSet,
  QuorumNumeratorUpdated,
  TimelockChange,
  VoteCast,
  VoteCastWithParams,
  VotingDelaySet,
  VotingPeriodSet,
} from "../../generated/DMLGovernor/DMLGovernor";
import { Proposal, Vote } from "../../generated/schema";
import { createOrLoadAccount } from "../helpers/accounts";
import { recordParameterChange } from "../helpers/contracts";
import { addressesToBytes } from "../helpers/convert";
import { makeEventId, makeNumberId } from "../helpers/ids";
import { createOrLoadProtocol, ONE, saveProtocol, ZERO } from "../helpers/protocol";

const NAME = "DMLGovernor";

export function handleProposalCreated(event: ProposalCreated): void {
  let proposer = createOrLoadAccount(event.params.proposer);
  let p = new Proposal(makeNumberId(event.params.proposalId));
  p.proposalId = event.params.proposalId;
  p.proposer = proposer.id;
  p.targets = addressesToBytes(event.params.targets);
  p.values = event.params.values;
  p.signatures = event.params.signatures;
  p.calldatas = event.params.calldatas;
  p.voteStart = event.params.voteStart;
  p.voteEnd = event.params.voteEnd;
  p.description = event.params.description;
  p.state = "Pending";
  p.forVotes = ZERO;
  p.againstVotes = ZERO;
  p.abstainVotes = ZERO;
  p.voteCount = 0;
  p.createdAt = event.block.timestamp;
  p.createdAtBlock = event.block.number;
  p.save();
  let stats = createOrLoadProtocol();
  stats.proposals = stats.proposals.plus(ONE);
  saveProtocol(stats, event);
}

function recordVote(
  event: ethereum.Event,
  voterAddress: Address,
  proposalId: BigInt,
  support: i32,
  weight: BigInt,
  reason: string,
  params: Bytes | null,
): void {
  let p = Proposal.load(makeNumberId(proposalId));
  if (p == null) return; // created before the subgraph's start block
  if (support == 0) p.againstVotes = p.againstVotes.plus(weight);
  else if (support == 1) p.forVotes = p.forVotes.plus(weight);
  else p.abstainVotes = p.abstainVotes.plus(weight);
  p.voteCount = p.voteCount + 1;
  p.save();
  let voter = createOrLoadAccount(voterAddress);
  let v = new Vote(makeEventId(event));
  v.proposal = p.id;
  v.voter = voter.id;
  v.support = support;
  v.weight = weight;
  v.reason = reason;
  if (params) v.params = params;
  v.blockNumber = event.block.number;
  v.timestamp = event.block.timestamp;
  v.transactionHash = event.transaction.hash;
  v.save();
  let stats = createOrLoadProtocol();
  stats.votes = stats.votes.plus(ONE);
  saveProtocol(stats, event);
}

export function handleVoteCast(event: VoteCast): void {
  recordVote(
    event,
    event.params.voter,
    event.params.proposalId,
    event.params.support,
    event.params.weight,
    event.params.reason,
    null,
  );
}

export function handleVoteCastWithParams(event: VoteCastWithParams): void {
  recordVote(
    event,
    event.params.voter,
    event.params.proposalId,
    event.params.support,
    event.params.weight,
    event.params.reason,
    event.params.params,
  );
}

export function handleProposalQueued(event: ProposalQueued): void {
  let p = Proposal.load(makeNumberId(event.params.proposalId));
  if (p == null) return;
  p.state = "Queued";
  p.eta = event.params.etaSeconds;
  p.queuedAt = event.block.timestamp;
  p.save();
}

export function handleProposalExecuted(event: ProposalExecuted): void {
  let p = Proposal.load(makeNumberId(event.params.proposalId));
  if (p == null) return;
  p.state = "Executed";
  p.executedAt = event.block.timestamp;
  p.save();
}

export function handleProposalCanceled(event: ProposalCanceled): void {
  let p = Proposal.load(makeNumberId(event.params.proposalId));
  if (p == null) return;
  p.state = "Canceled";
  p.canceledAt = event.block.timestamp;
  p.save();
}

export function handleProposalThresholdSet(event: ProposalThresholdSet): void {
  recordParameterChange(event, NAME, "ProposalThresholdSet");
}

export function handleQuorumNumeratorUpdated(event: QuorumNumeratorUpdated): void {
  recordParameterChange(event, NAME, "QuorumNumeratorUpdated");
}

export function handleTimelockChange(event: TimelockChange): void {
  recordParameterChange(event, NAME, "TimelockChange");
}

export function handleVotingDelaySet(event: VotingDelaySet): void {
  recordParameterChange(event, NAME, "VotingDelaySet");
}

export function handleVotingPeriodSet(event: VotingPeriodSet): void {
  recordParameterChange(event, NAME, "VotingPeriodSet");
}
