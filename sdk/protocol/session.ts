/**
 * How a job's SecAgg session is derived from chain data, identically on devices and on the aggregator:
 * session id = keccak256(abi.encode(chainId, jobMarket, jobId, attempt)), roster = the cohort list with each member's
 * registered session key (`DeviceRegistry.sessionKeysOf`, in member order), vector length and fixed-point encoding
 * from the result kind (`jobSessionConfig`) or the trainer update (`trainingSessionConfig`).
 */
import { makeEncoding, type SecAggSessionConfig } from "#sdk/secagg/index.ts";
import {
  encodeAbiParameters,
  getAddress,
  isAddress,
  keccak256,
  type Address,
  type Hex,
} from "viem";
import { z } from "zod";
import type { CohortList } from "./cohort.ts";
import { ProtocolError } from "./errors.ts";
import { classesSchema, PAIR_SCALE, resultVectorLength } from "./result-vector.ts";

/** Records a device contributes at most (its first MAX_RECORDS_PER_JOB records); also the encoding's clip. */
export const MAX_RECORDS_PER_JOB = PAIR_SCALE;

/** The scalars a job's session derives from (chain data), checked before anything is hashed. */
export const jobSessionParamsSchema = z.object({
  chainId: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  jobMarket: z.string().refine((a) => isAddress(a, { strict: false }), "not an address"),
  jobId: z
    .bigint()
    .min(0n)
    .max(2n ** 256n - 1n),
  attempt: z.number().int().min(0).max(0xffffffff),
});

/** @throws ProtocolError SESSION_INVALID */
function checkSessionParams(p: z.input<typeof jobSessionParamsSchema>): void {
  const r = jobSessionParamsSchema.safeParse(p);
  if (!r.success)
    throw new ProtocolError(
      "SESSION_INVALID",
      `session of job ${String(p.jobId)}: ${r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    );
}

/** @throws ProtocolError SESSION_INVALID */
export function jobSessionId(chainId: number, jobMarket: Address, jobId: bigint, attempt = 0): Hex {
  checkSessionParams({ chainId, jobMarket, jobId, attempt });
  return keccak256(
    encodeAbiParameters(
      [{ type: "uint256" }, { type: "address" }, { type: "uint256" }, { type: "uint32" }],
      [BigInt(chainId), getAddress(jobMarket), jobId, attempt],
    ),
  );
}

/** The roster of a member list with its on-chain session keys (same order). */
export function rosterOf(
  members: CohortList["members"],
  sessionKeys: readonly Hex[],
): SecAggSessionConfig["roster"] {
  if (sessionKeys.length !== members.length)
    throw new ProtocolError(
      "COHORT_INVALID",
      `${sessionKeys.length} session keys for ${members.length} members`,
    );
  return members.map((m, i) => ({
    id: m.id,
    address: getAddress(m.address),
    sessionKey: sessionKeys[i]!,
  }));
}

/** @throws ProtocolError SESSION_INVALID | COHORT_INVALID */
export function jobSessionConfig(opts: {
  chainId: number;
  jobMarket: Address;
  jobId: bigint;
  cohort: CohortList;
  /** The members' registered session keys, in member order (`DeviceRegistry.sessionKeysOf`). */
  sessionKeys: readonly Hex[];
  classes: number;
  attempt?: number;
  /**
   * The on-chain cohort root and job seed: when given, the SecAgg+ neighbour graph derives from them
   * (`graphSeed`, docs/secagg.md). Aggregator and devices must both pass them or both omit them.
   */
  graph?: { cohortRoot: Hex; jobSeed: Hex };
}): SecAggSessionConfig {
  if (!classesSchema.safeParse(opts.classes).success)
    throw new ProtocolError(
      "SESSION_INVALID",
      `session of job ${opts.jobId}: ${opts.classes} is not a number of classes`,
    );
  return {
    ...(opts.graph === undefined
      ? {}
      : { cohort: { root: opts.graph.cohortRoot, jobSeed: opts.graph.jobSeed } }),
    sessionId: jobSessionId(opts.chainId, opts.jobMarket, opts.jobId, opts.attempt ?? 0),
    chainId: opts.chainId,
    verifyingContract: getAddress(opts.jobMarket),
    roster: rosterOf(opts.cohort.members, opts.sessionKeys),
    vectorLength: resultVectorLength(opts.classes),
    encoding: makeEncoding({ clip: MAX_RECORDS_PER_JOB, maxClients: opts.cohort.members.length }),
  };
}

/** Sample counts travel as n / SAMPLE_SCALE (≤ 1) in the last coordinate of a trainer update. */
export const SAMPLE_SCALE = 2 ** 16;

/** A fine-tuning group's session id: keccak256(abi.encode(chainId, fineTuning, bountyId, round, uint32 group)). */
export function trainingSessionId(
  chainId: number,
  fineTuning: Address,
  bountyId: bigint,
  round: bigint,
  group: number,
): Hex {
  return keccak256(
    encodeAbiParameters(
      [
        { type: "uint256" },
        { type: "address" },
        { type: "uint256" },
        { type: "uint256" },
        { type: "uint32" },
      ],
      [BigInt(chainId), fineTuning, bountyId, round, group],
    ),
  );
}

export function trainingSessionConfig(opts: {
  chainId: number;
  fineTuning: Address;
  bountyId: bigint;
  round: bigint;
  group: number;
  members: CohortList["members"];
  /** The members' registered session keys, in member order. */
  sessionKeys: readonly Hex[];
  parameters: number;
  clipNorm: number;
}): SecAggSessionConfig {
  return {
    sessionId: trainingSessionId(
      opts.chainId,
      opts.fineTuning,
      opts.bountyId,
      opts.round,
      opts.group,
    ),
    chainId: opts.chainId,
    verifyingContract: getAddress(opts.fineTuning),
    roster: rosterOf(opts.members, opts.sessionKeys),
    vectorLength: opts.parameters + 1,
    encoding: makeEncoding({ clip: Math.max(1, opts.clipNorm), maxClients: opts.members.length }),
  };
}
