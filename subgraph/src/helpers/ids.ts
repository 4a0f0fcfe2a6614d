// Entity ids (schema.graphql's conventions): decimal on-chain ids, `<a>-<b>` composite keys, and
// `<txHash><logIndex>` bytes for one-event entities.
import { Address, BigInt, Bytes, ethereum } from "@graphprotocol/graph-ts";

/** The id of an entity that records one event: the transaction hash followed by the log index. */
export function makeEventId(event: ethereum.Event): Bytes {
  return event.transaction.hash.concatI32(event.logIndex.toI32());
}

/** The id of an entity that records the n-th item of one event (a batch event's per-operator rows). */
export function makeEventItemId(event: ethereum.Event, n: i32): Bytes {
  return makeEventId(event).concatI32(n);
}

/** A numbered on-chain object (job, algorithm, bounty, epoch, ...): its id in decimal. */
export function makeNumberId(n: BigInt): string {
  return n.toString();
}

/** `<operator>-<role index>`. */
export function makeStakeId(operator: Address, role: i32): string {
  return operator.toHexString() + "-" + role.toString();
}

/** `<algorithmId>-<customer>`. */
export function makeLicenceId(algorithmId: BigInt, customer: Address): string {
  return algorithmId.toString() + "-" + customer.toHexString();
}

/** `<jobId>-<epoch>-<n>`: the n-th bid of a job (a job may bid again after losing or being evicted). */
export function makeBidId(jobId: BigInt, epoch: BigInt, n: i32): string {
  return jobId.toString() + "-" + epoch.toString() + "-" + n.toString();
}

/** `<jobId>-<attestor>`. */
export function makeAttestorVoteId(jobId: BigInt, attestor: Address): string {
  return jobId.toString() + "-" + attestor.toHexString();
}

/** `<a>-<b>` for two numbers (payout claim, growth-pool winner, bounty round). */
export function makePairId(a: BigInt, b: BigInt): string {
  return a.toString() + "-" + b.toString();
}

/** `<bountyId>-<round>-<attestor>`. */
export function makeRoundVoteId(bountyId: BigInt, round: BigInt, attestor: Address): string {
  return makePairId(bountyId, round) + "-" + attestor.toHexString();
}

/** `<bountyId>-<trainer>`. */
export function makeTrainerId(bountyId: BigInt, trainer: Address): string {
  return bountyId.toString() + "-" + trainer.toHexString();
}

export const SECONDS_PER_DAY: i64 = 86400;

/** The UTC day number of a block timestamp. */
export function makeDayId(timestamp: BigInt): string {
  return (timestamp.toI64() / SECONDS_PER_DAY).toString();
}
