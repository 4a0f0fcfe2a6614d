/**
 * Model updates for crowd fine-tuning (PROTOCOL.md §5): a trainer's update is the flattened weight
 * difference `after − before`, clipped in L2 norm before secure aggregation; the refiner applies a
 * (weighted mean) update to the current weights.
 */
import { flatten, LogRegShapeError, unflatten, type LogRegWeights } from "./logreg.ts";

/** `flatten(after) − flatten(before)`; both models must have the same shape. */
export function weightDelta(before: LogRegWeights, after: LogRegWeights): Float64Array {
  if (before.classes !== after.classes || before.dim !== after.dim) {
    throw new LogRegShapeError(
      `cannot diff a ${before.classes}×${before.dim} model with a ${after.classes}×${after.dim} one`,
    );
  }
  const a = flatten(after);
  const b = flatten(before);
  return a.map((v, i) => v - (b[i] ?? 0));
}

/** Euclidean norm. */
export function l2Norm(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += (v[i] ?? 0) ** 2;
  return Math.sqrt(s);
}

/** A copy of `delta` scaled down so its L2 norm is at most `maxNorm` (unchanged if already within). */
export function clipL2(delta: ArrayLike<number>, maxNorm: number): Float64Array {
  if (!(maxNorm > 0) || !Number.isFinite(maxNorm)) {
    throw new RangeError(`clipL2: maxNorm must be a positive finite number, got ${maxNorm}`);
  }
  const norm = l2Norm(delta);
  const scale = norm > maxNorm ? maxNorm / norm : 1;
  return Float64Array.from(delta, (v) => v * scale);
}

/** `weights + scale · delta`, as new weights (float32-rounded). */
export function applyDelta(
  weights: LogRegWeights,
  delta: ArrayLike<number>,
  scale = 1,
): LogRegWeights {
  const flat = flatten(weights);
  if (delta.length !== flat.length) {
    throw new LogRegShapeError(
      `update has ${delta.length} values, model has ${flat.length} parameters`,
    );
  }
  return unflatten(
    flat.map((v, i) => v + scale * (delta[i] ?? 0)),
    weights.classes,
    weights.dim,
  );
}
