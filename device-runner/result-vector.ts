/**
 * The fixed-length result vector a device contributes to a prediction job ("classification-stats/v1").
 *
 * For a model with C output classes (manifest `outputLabels` order) and the device's n records:
 *
 *   v[0]               = n
 *   v[1 + k]           = Σ_records p_k            (k = 0..C−1)
 *   v[1 + C + k]       = Σ_records p_k²
 *   v[1 + 2C + k]      = #records whose argmax is k
 *
 * Length 1 + 3C (7 for the binary spam model). Summed over a cohort this gives the crowd's record count, mean
 * predicted probability per class (and its spread, from the sums of squares) and the predicted class histogram —
 * never anything about one record or one device.
 */
import type { Prediction } from "#sdk/ml/index.ts";

export const RESULT_KIND = "classification-stats/v1";

export function resultVectorLength(classes: number): number {
  return 1 + 3 * classes;
}

export function reduceToResultVector(
  predictions: readonly Prediction[],
  classes: number,
): Float64Array {
  const v = new Float64Array(resultVectorLength(classes));
  v[0] = predictions.length;
  for (const p of predictions) {
    for (let k = 0; k < classes; k++) {
      const pk = p.probabilities[k] ?? 0;
      v[1 + k]! += pk;
      v[1 + classes + k]! += pk * pk;
    }
    v[1 + 2 * classes + p.label]! += 1;
  }
  return v;
}

export interface CrowdEstimate {
  records: number;
  /** Mean predicted probability of each class. */
  meanProbability: number[];
  /** Standard error of each mean (population variance of p over records / n). */
  stdError: number[];
  /** Share of records predicted as each class. */
  predictedShare: number[];
}

/** Turns an aggregated result vector into the crowd's estimates. */
export function crowdEstimate(sum: ArrayLike<number>, classes: number): CrowdEstimate {
  const n = sum[0] ?? 0;
  const mean: number[] = [];
  const se: number[] = [];
  const share: number[] = [];
  for (let k = 0; k < classes; k++) {
    const m = n > 0 ? (sum[1 + k] ?? 0) / n : 0;
    const m2 = n > 0 ? (sum[1 + classes + k] ?? 0) / n : 0;
    mean.push(m);
    se.push(n > 1 ? Math.sqrt(Math.max(0, m2 - m * m) / (n - 1)) : 0);
    share.push(n > 0 ? (sum[1 + 2 * classes + k] ?? 0) / n : 0);
  }
  return { records: n, meanProbability: mean, stdError: se, predictedShare: share };
}
