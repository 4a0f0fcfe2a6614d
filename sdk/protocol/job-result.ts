/**
 * A prediction job's result, derived from its recomputed SecAgg aggregate and its on-chain facts exactly as the
 * aggregator, every attestor and the reporter derive it, each on its own (PROTOCOL.md §7.4–7.5):
 *
 * - the survivors' sum (Z_2^32, fixed point) decodes to the crowd estimate of the "classification-stats/v2" result
 *   vector (`result-vector.ts`) and the standard error of the quality class's estimated share — the
 *   adjusted classify-and-count's (control-group TPR/FPR, delta method) when the package publishes its confusion
 *   matrix, else the cluster-robust classify-and-count's; never the records-as-independent error, which ignores that
 *   inboxes differ (docs/ml.md);
 * - quality holds when at least `minParticipants` devices survived and that standard error is within `maxStdError`
 *   (1e18 fixed point, as `IJobMarket.Job` stores it);
 * - on success every survivor is paid `rewardPerDevice`, in canonical order (survivors' client ids increasing, client
 *   id i = cohort position i − 1); on failure nobody is paid;
 * - `JobResult` = (aggregate hash, payout root, payout total, participants, quality), whose `resultHash` is attested.
 *
 * Pure: no I/O. A survivor outside the cohort is a typed `JobResultError`, never a partial result.
 */
import { getAddress, type Address, type Hex } from "viem";
import { buildPayoutTree, type PayoutTree } from "#sdk/chain/payouts.ts";
import { ZERO_HASH, type JobResult } from "#sdk/chain/result.ts";
import type { Confusion } from "#sdk/ml/estimate.ts";
import { aggregateHashOf, decodeSum, type FixedPointEncoding } from "#sdk/secagg/index.ts";
import { decodeNoisyResult, type JobPrivacy } from "./result-privacy.ts";
import { crowdEstimate, type CrowdEstimate } from "./result-vector.ts";

export type JobResultErrorCode =
  "SURVIVOR_NOT_IN_COHORT" | "SURVIVORS_NOT_CANONICAL" | "EMPTY_AGGREGATE" | "BAD_MODEL";

export class JobResultError extends Error {
  readonly code: JobResultErrorCode;
  constructor(code: JobResultErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = "JobResultError";
    this.code = code;
  }
}

/** The recomputed aggregate of a job's session: survivors' client ids (increasing) and their Z_2^32 sum. */
export interface JobAggregate {
  sessionId: Hex;
  survivors: readonly number[];
  sum: ArrayLike<number>;
}

/** The job's payout rule and quality requirement, as `JobMarket.getJob` holds them. */
export interface JobRule {
  rewardPerDevice: bigint;
  minParticipants: number;
  /** Largest standard error of the quality class's estimated share, 1e18 fixed point. */
  maxStdError: bigint;
}

/** What the job's algorithm (its package manifest) says about the result vector. */
export interface JobModel {
  /** Output classes (`manifest.outputLabels.length`). */
  classes: number;
  /** The class whose standard error the quality requirement bounds (the spam class of the reference model). */
  qualityClass: number;
  /** Control-group confusion matrix the package publishes (adjusted classify-and-count), when it does. */
  confusion?: Confusion;
  /** The package's distributed DP (docs/privacy.md): the sum is decoded with its noise and its variance. */
  privacy?: JobPrivacy;
}

export interface JobFacts {
  /** Cohort members' addresses in position order: client id i is `members[i − 1]`. */
  members: readonly Address[];
  encoding: FixedPointEncoding;
  model: JobModel;
  rule: JobRule;
}

export interface DerivedJobResult {
  estimate: CrowdEstimate;
  /** Standard error of the quality class's estimated share (adjusted, else cluster-robust classify-and-count). */
  stdError: number;
  /** The payout tree (absent when quality failed: nobody is paid). */
  tree?: PayoutTree;
  result: JobResult;
}

/** Aggregate hash of a recomputed aggregate: keccak256(abi.encode(sessionId, survivors, sum)) (`aggregateHashOf`). */
export function aggregateHashOfAggregate(a: JobAggregate): Hex {
  return aggregateHashOf(a);
}

/** Derives the job's result. @throws JobResultError when a survivor is not a cohort member or nothing survived */
export function deriveJobResult(aggregate: JobAggregate, facts: JobFacts): DerivedJobResult {
  const { model, rule } = facts;
  if (
    !Number.isInteger(model.classes) ||
    model.classes < 1 ||
    !Number.isInteger(model.qualityClass) ||
    model.qualityClass < 0 ||
    model.qualityClass >= model.classes
  )
    throw new JobResultError(
      "BAD_MODEL",
      `quality class ${model.qualityClass} of ${model.classes} classes`,
    );
  const participants = aggregate.survivors.length;
  if (participants === 0) throw new JobResultError("EMPTY_AGGREGATE", "no survivor");
  if (aggregate.survivors.some((id, i) => i > 0 && id <= aggregate.survivors[i - 1]!))
    throw new JobResultError("SURVIVORS_NOT_CANONICAL", "survivors' client ids must increase");
  const members = aggregate.survivors.map((id) => {
    const m = Number.isInteger(id) && id >= 1 ? facts.members[id - 1] : undefined;
    if (m === undefined)
      throw new JobResultError(
        "SURVIVOR_NOT_IN_COHORT",
        `survivor ${id} is outside the cohort of ${facts.members.length}`,
      );
    return getAddress(m);
  });
  const sum = Uint32Array.from(aggregate.sum);
  const noisy = model.privacy && decodeNoisyResult(sum, participants, model.privacy);
  const decoded = noisy?.decoded ?? decodeSum(sum, participants, facts.encoding);
  const estimate = crowdEstimate(
    decoded,
    model.classes,
    participants,
    model.confusion,
    noisy?.noiseVariance,
  );
  // the honest error of the quality class's share (adjusted with the control group when the package publishes it,
  // else the cluster-robust classify-and-count): devices' inboxes differ, so records are not independent
  const honest =
    estimate.adjusted?.[model.qualityClass] ?? estimate.classifyAndCount[model.qualityClass];
  const stdError =
    honest !== undefined && Number.isFinite(honest.stdError)
      ? honest.stdError
      : Number.POSITIVE_INFINITY;
  const qualityMet =
    participants >= rule.minParticipants && stdError * 1e18 <= Number(rule.maxStdError);
  const aggregateHash = aggregateHashOfAggregate(aggregate);
  if (!qualityMet)
    return {
      estimate,
      stdError,
      result: { aggregateHash, payoutRoot: ZERO_HASH, payoutTotal: 0n, participants, qualityMet },
    };
  const tree = buildPayoutTree(
    members.map((account) => ({ account, value: rule.rewardPerDevice })),
  );
  return {
    estimate,
    stdError,
    tree,
    result: {
      aggregateHash,
      payoutRoot: tree.root,
      payoutTotal: tree.total,
      participants,
      qualityMet,
    },
  };
}
