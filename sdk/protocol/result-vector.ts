/**
 * The fixed-length result vector a device contributes to a prediction job ("classification-stats/v2").
 *
 * For a model with C output classes (manifest `outputLabels` order), the device's n records and c_k records whose
 * argmax is k, with K = PAIR_SCALE:
 *
 *   v[0]               = n
 *   v[1 + k]           = Σ_records p_k            (k = 0..C−1)
 *   v[1 + C + k]       = Σ_records p_k²
 *   v[1 + 2C + k]      = c_k
 *   v[1 + 3C + 2j]     = ⌊x_j / K⌋,  v[2 + 3C + 2j] = x_j mod K      (j = 0..2C)
 *
 * where the per-device pairs are x_0 = n², x_{1+k} = n·c_k, x_{1+C+k} = c_k². Each pair is an integer below K² (n ≤
 * MAX_RECORDS_PER_JOB = K), split into two integers ≤ K so that it stays within the fixed-point clip and sums exactly
 * (integers decode without rounding whenever the encoding's scale is ≥ 1): Σx_j = K·Σhigh + Σlow.
 *
 * Length 3 + 7C (17 for the binary spam model). Summed over a cohort this gives the crowd's record count, mean
 * predicted probability per class (and its spread, from the sums of squares), the predicted class histogram and, from
 * the per-device squares and cross-products, the between-device variance of each class's predicted share (the ratio
 * estimator's cluster-robust variance, PROTOCOL.md §7.11) — never anything about one record or one device.
 */
import {
  shareEstimate,
  ratioEstimate,
  type AdjustedEstimate,
  type ClusterNoise,
  type ClusterSums,
  type Confusion,
  type Estimate,
} from "#sdk/ml/estimate.ts";
import type { Prediction } from "#sdk/ml/index.ts";
import { z } from "zod";
import { ProtocolError } from "./errors.ts";

export const RESULT_KIND = "classification-stats/v2";

/** Base of the per-device squares' and cross-products' two-digit split (= MAX_RECORDS_PER_JOB, the encoding's clip). */
export const PAIR_SCALE = 100_000;

export function resultVectorLength(classes: number): number {
  return 3 + 7 * classes;
}

/** Output classes of a result vector: a positive integer. */
export const classesSchema = z.number().int().min(1).max(0xffff);

/** A result vector of a `classes`-class model, or a cohort's sum of them: exactly 3 + 7C finite coordinates. */
export function resultVectorSchema(classes: number) {
  return z.array(z.number()).length(resultVectorLength(classesSchema.parse(classes)));
}

/**
 * Checks a result vector (or sum) that crossed a boundary — decoded from an aggregate, read from a transcript or a
 * file — against `classes`. @throws ProtocolError RESULT_VECTOR_INVALID
 */
export function parseResultVector(
  v: ArrayLike<number>,
  classes: number,
  what = "result vector",
): Float64Array {
  const c = classesSchema.safeParse(classes);
  if (!c.success)
    throw new ProtocolError(
      "RESULT_VECTOR_INVALID",
      `${what}: ${classes} is not a number of classes`,
    );
  const r = resultVectorSchema(c.data).safeParse(Array.from(v));
  if (!r.success)
    throw new ProtocolError(
      "RESULT_VECTOR_INVALID",
      `${what} of ${v.length} coordinates for ${classes} classes: ${r.error.issues[0]?.message ?? ""}`,
    );
  return Float64Array.from(r.data);
}

export function reduceToResultVector(
  predictions: readonly Prediction[],
  classes: number,
): Float64Array {
  const v = new Float64Array(resultVectorLength(classes));
  const n = predictions.length;
  if (n > PAIR_SCALE) throw new RangeError(`${n} records, more than ${PAIR_SCALE}`);
  v[0] = n;
  for (const p of predictions) {
    for (let k = 0; k < classes; k++) {
      const pk = p.probabilities[k] ?? 0;
      v[1 + k]! += pk;
      v[1 + classes + k]! += pk * pk;
    }
    v[1 + 2 * classes + p.label]! += 1;
  }
  const put = (j: number, x: number) => {
    v[1 + 3 * classes + 2 * j] = Math.floor(x / PAIR_SCALE);
    v[2 + 3 * classes + 2 * j] = x % PAIR_SCALE;
  };
  put(0, n * n);
  for (let k = 0; k < classes; k++) {
    const c = v[1 + 2 * classes + k]!;
    put(1 + k, n * c);
    put(1 + classes + k, c * c);
  }
  return v;
}

export interface CrowdEstimate {
  records: number;
  /** Surviving devices whose vectors the sum holds. */
  devices: number;
  /** Mean predicted probability of each class. */
  meanProbability: number[];
  /** Standard error of each mean as if records were independent (population variance of p over records / n). */
  stdError: number[];
  /** Share of records predicted as each class. */
  predictedShare: number[];
  /** Classify-and-count per class: the predicted share with the ratio estimator's cluster-robust interval. */
  classifyAndCount: Estimate[];
  /**
   * Adjusted classify-and-count per class (corrected with the control group's TPR/FPR, delta-method variance);
   * present when the package publishes its control-group confusion matrix.
   */
  adjusted?: AdjustedEstimate[];
}

/** Class k's cluster sums out of an aggregated result vector of `devices` devices. */
export function clusterSumsOf(
  sum: ArrayLike<number>,
  classes: number,
  devices: number,
  k: number,
): ClusterSums {
  const pair = (j: number) =>
    (sum[1 + 3 * classes + 2 * j] ?? 0) * PAIR_SCALE + (sum[2 + 3 * classes + 2 * j] ?? 0);
  return {
    devices,
    n: sum[0] ?? 0,
    c: sum[1 + 2 * classes + k] ?? 0,
    nn: pair(0),
    nc: pair(1 + k),
    cc: pair(1 + classes + k),
  };
}

/** Variances of class k's cluster sums' DP noise, from the per-coordinate noise variances of the sum. */
export function clusterNoiseOf(
  noiseVariance: ArrayLike<number>,
  classes: number,
  k: number,
): ClusterNoise {
  const pair = (j: number) =>
    (noiseVariance[1 + 3 * classes + 2 * j] ?? 0) * PAIR_SCALE ** 2 +
    (noiseVariance[2 + 3 * classes + 2 * j] ?? 0);
  return {
    n: noiseVariance[0] ?? 0,
    c: noiseVariance[1 + 2 * classes + k] ?? 0,
    nn: pair(0),
    nc: pair(1 + k),
    cc: pair(1 + classes + k),
  };
}

/**
 * Turns an aggregated result vector of `devices` surviving devices into the crowd's estimates; with the package's
 * control-group confusion matrix, also the adjusted (corrected) estimates. With distributed DP, `noiseVariance` is
 * the variance of the noise each coordinate of the sum carries (`decodeNoisyResult`), and the intervals include it.
 * @throws ProtocolError RESULT_VECTOR_INVALID for a sum (or noise variance) that is not a `classes`-class vector
 */
export function crowdEstimate(
  sum: ArrayLike<number>,
  classes: number,
  devices: number,
  confusion?: Confusion,
  noiseVariance?: ArrayLike<number>,
): CrowdEstimate {
  parseResultVector(sum, classes, "aggregated result vector");
  if (noiseVariance !== undefined) parseResultVector(noiseVariance, classes, "noise variance");
  const n = sum[0] ?? 0;
  const mean: number[] = [];
  const se: number[] = [];
  const share: number[] = [];
  const cc: Estimate[] = [];
  const adjusted: AdjustedEstimate[] = [];
  for (let k = 0; k < classes; k++) {
    const m = n > 0 ? (sum[1 + k] ?? 0) / n : 0;
    const m2 = n > 0 ? (sum[1 + classes + k] ?? 0) / n : 0;
    mean.push(m);
    se.push(n > 1 ? Math.sqrt(Math.max(0, m2 - m * m) / (n - 1)) : 0);
    share.push(n > 0 ? (sum[1 + 2 * classes + k] ?? 0) / n : 0);
    if (n > 0) {
      const s = clusterSumsOf(sum, classes, devices, k);
      const noise = noiseVariance && clusterNoiseOf(noiseVariance, classes, k);
      cc.push(ratioEstimate(s, noise));
      if (confusion) adjusted.push(shareEstimate(s, confusion, k, noise));
    }
  }
  return {
    records: n,
    devices,
    meanProbability: mean,
    stdError: se,
    predictedShare: share,
    classifyAndCount: cc,
    ...(confusion && n > 0 ? { adjusted } : {}),
  };
}
