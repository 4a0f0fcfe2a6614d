/**
 * What a drawn attestor of a fine-tuning round attests (PROTOCOL.md §7.7), derived only from public content named on
 * chain — the candidate package (`CandidateCommitted.modelCid`), the round list (`listCid`), the revealed split
 * (`SplitRevealed.splitCid`) — and the round's trainer budget:
 *
 *   value          `attestedValue(sha256(model.onnx), accuracyMetric(candidate, split), payoutRoot)`;
 *   ATTESTATION_INVALID  the candidate package cannot be fetched, does not verify (manifest, featurizer, model hash)
 *                  or does not run, or the round list cannot be fetched, is malformed, names another round, or its
 *                  payout tree is not the canonical one — the refiner's fault (a majority slashes it);
 *   SPLIT_INVALID  the revealed split cannot be fetched or parsed, or its labels are not the bounty's (those of the
 *                  public control group) — the poster's fault (the round stands on the refiner's own metric).
 *
 * The refiner's inputs are checked first: a broken candidate is `ATTESTATION_INVALID` whatever the split, so a
 * withheld split never lets an unusable candidate through. A split whose labels match the control group but not the
 * candidate's output labels is the candidate's fault.
 */
import type { Hex } from "viem";
import {
  ATTESTATION_INVALID,
  attestedValue,
  checkRoundList,
  SPLIT_INVALID,
} from "#sdk/chain/finetuning.ts";
import type { ContentStore } from "#sdk/ipfs/index.ts";
import { loadPackage, MODEL_FILE, sha256Hex, type LoadedPackage } from "#sdk/ml/index.ts";
import {
  accuracyMetric,
  fetchLabelledSet,
  type LabelledSet,
} from "#sdk/protocol/training-round.ts";

export const DEFAULT_ROUND_FETCH_TIMEOUT_MS = 30_000;

/** A round's public inputs, as the chain names them. */
export interface RoundInputs {
  bountyId: bigint;
  round: number;
  /** The candidate package (`CandidateCommitted.modelCid`). */
  modelCid: string;
  /** The round list (`CandidateCommitted.listCid`). */
  listCid: string;
  /** The revealed hidden split (`SplitRevealed.splitCid`). */
  splitCid: string;
  /** The bounty's public control group (its labels are the bounty's). */
  controlCid: string;
  /** The round's trainer budget (`trainerBudget` of the bounty and the contract's params). */
  budget: bigint;
}

export type RoundVerdict =
  | { kind: "value"; value: Hex; modelSha256: Hex; metric: bigint; payoutRoot: Hex }
  | { kind: "invalid"; value: Hex; reason: string }
  | { kind: "split-invalid"; value: Hex; reason: string };

export interface RoundValueDeps {
  store: ContentStore;
  /** Longest wait for one fetch; past it the content counts as unfetchable. */
  fetchTimeoutMs?: number;
}

/** Derives the round's attested value (never throws for bad content: that is a reserved value). */
export async function deriveRoundValue(
  deps: RoundValueDeps,
  r: RoundInputs,
): Promise<RoundVerdict> {
  const ms = deps.fetchTimeoutMs ?? DEFAULT_ROUND_FETCH_TIMEOUT_MS;
  const invalid = (reason: string): RoundVerdict => ({
    kind: "invalid",
    value: ATTESTATION_INVALID,
    reason,
  });
  const splitInvalid = (reason: string): RoundVerdict => ({
    kind: "split-invalid",
    value: SPLIT_INVALID,
    reason,
  });

  // 1. the refiner's candidate: sha256 of the model bytes, then the package verified against it
  let pkg: LoadedPackage;
  let modelSha256: Hex;
  try {
    const model = await withTimeout(deps.store.getFile(r.modelCid, MODEL_FILE), ms);
    const sha = sha256Hex(model);
    pkg = await withTimeout(loadPackage(deps.store, r.modelCid, sha), ms);
    modelSha256 = `0x${sha}`;
  } catch (e) {
    return invalid(`candidate package ${r.modelCid}: ${message(e)}`);
  }

  // 2. the refiner's round list: the canonical payout root for this round and budget
  let payoutRoot: Hex;
  try {
    const bytes = await withTimeout(deps.store.getBytes(r.listCid), ms);
    const raw: unknown = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    payoutRoot = checkRoundList(raw, r.bountyId, r.round, r.budget);
  } catch (e) {
    return invalid(`round list ${r.listCid}: ${message(e)}`);
  }
  if (payoutRoot === ATTESTATION_INVALID)
    return invalid(
      `round list ${r.listCid}: malformed, another round's, or not the canonical payouts`,
    );

  // 3. the poster's split
  let split: LabelledSet;
  try {
    split = await withTimeout(fetchLabelledSet(deps.store, r.splitCid), ms);
  } catch (e) {
    return splitInvalid(`split ${r.splitCid}: ${message(e)}`);
  }
  const labels = pkg.manifest.outputLabels;
  if (labels.length !== split.labels.length || labels.some((l, i) => l !== split.labels[i])) {
    // whose fault: the split's labels are the bounty's when they are the control group's
    let control: LabelledSet;
    try {
      control = await withTimeout(fetchLabelledSet(deps.store, r.controlCid), ms);
    } catch (e) {
      return splitInvalid(
        `split labels differ from the candidate's; control ${r.controlCid}: ${message(e)}`,
      );
    }
    const same =
      control.labels.length === split.labels.length &&
      control.labels.every((l, i) => l === split.labels[i]);
    return same
      ? invalid(`the candidate's labels [${labels.join(", ")}] are not the bounty's`)
      : splitInvalid(`the split's labels [${split.labels.join(", ")}] are not the control group's`);
  }

  // 4. the metric, with ONNX Runtime as every attestor runs it
  let metric: bigint;
  try {
    metric = await accuracyMetric(pkg, split);
  } catch (e) {
    return invalid(`candidate ${r.modelCid} does not run: ${message(e)}`);
  }
  return {
    kind: "value",
    value: attestedValue(modelSha256, metric, payoutRoot),
    modelSha256,
    metric,
    payoutRoot,
  };
}

export class FetchTimeoutError extends Error {
  override readonly name = "FetchTimeoutError";
  readonly code = "FETCH_TIMEOUT";
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new FetchTimeoutError(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
