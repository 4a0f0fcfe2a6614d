/**
 * Multinomial (softmax) logistic regression trained by mini-batch gradient descent with L2
 * regularisation on the weights (not the bias). Deterministic: the only randomness is the per-epoch
 * shuffle, drawn from a {@link Prng} seeded by `options.seed`.
 *
 * Weights are stored as float32 (exactly what the ONNX model carries), with `W` row-major
 * `classes × dim` (`W[k * dim + j]`), matching ONNX `Gemm(x, W, b, transB = 1)`. Training
 * accumulates in float64 and rounds to float32 once at the end.
 */
import { z } from "zod";
import { Prng } from "./prng.ts";

export interface LogRegWeights {
  readonly classes: number;
  readonly dim: number;
  /** `classes × dim`, row-major. */
  readonly W: Float32Array;
  /** `classes`. */
  readonly b: Float32Array;
}

export interface LabelledVectors {
  readonly x: readonly Float32Array[];
  /** Class index of each row of `x`. */
  readonly y: readonly number[];
}

export const trainOptionsSchema = z.object({
  learningRate: z.number().positive(),
  l2: z.number().min(0),
  batchSize: z.number().int().positive(),
  seed: z.string().min(1),
  /**
   * Added to the logits while training only (one value per class): a prior-shift correction. A device whose
   * class shares π_local differ from the population's π trains `softmax(W x + b + log(π_local / π))`, so that
   * `W x + b` fits the population's posterior (docs/fine-tuning-rounds.md, "Local training"). Absent or empty: none.
   */
  logitOffset: z.array(z.number().finite()).optional(),
});
export type TrainOptions = z.infer<typeof trainOptionsSchema>;

export const DEFAULT_TRAIN_OPTIONS: TrainOptions = {
  learningRate: 1,
  l2: 1e-5,
  batchSize: 16,
  seed: "dml/logreg/v1",
};

export class LogRegShapeError extends RangeError {
  override readonly name = "LogRegShapeError";
}

export function zeroWeights(classes: number, dim: number): LogRegWeights {
  if (!Number.isInteger(classes) || classes < 2)
    throw new LogRegShapeError(`classes must be >= 2, got ${classes}`);
  if (!Number.isInteger(dim) || dim < 1) throw new LogRegShapeError(`dim must be >= 1, got ${dim}`);
  return { classes, dim, W: new Float32Array(classes * dim), b: new Float32Array(classes) };
}

/** Logits `W x + b` in float64. */
export function logits(weights: LogRegWeights, x: Float32Array): Float64Array {
  const { classes, dim, W, b } = weights;
  if (x.length !== dim)
    throw new LogRegShapeError(`input has ${x.length} features, model expects ${dim}`);
  const z = new Float64Array(classes);
  for (let k = 0; k < classes; k++) {
    let s = b[k] ?? 0;
    const row = k * dim;
    for (let j = 0; j < dim; j++) {
      const v = x[j] ?? 0;
      if (v !== 0) s += (W[row + j] ?? 0) * v;
    }
    z[k] = s;
  }
  return z;
}

/** Class probabilities `softmax(W x + b)` — the TS reference of the exported ONNX graph. */
export function forward(weights: LogRegWeights, x: Float32Array): Float64Array {
  return softmaxInPlace(logits(weights, x));
}

/** Most probable class (lowest index on ties). */
export function predict(weights: LogRegWeights, x: Float32Array): number {
  return argmax(logits(weights, x));
}

/** Fraction of rows whose predicted class equals the label. */
export function accuracy(weights: LogRegWeights, data: LabelledVectors): number {
  checkData(weights, data);
  if (data.x.length === 0) return 0;
  let hits = 0;
  data.x.forEach((x, i) => {
    if (predict(weights, x) === data.y[i]) hits += 1;
  });
  return hits / data.x.length;
}

/** Mean cross-entropy plus `l2 / 2 · ||W||²`. */
export function loss(weights: LogRegWeights, data: LabelledVectors, l2 = 0): number {
  checkData(weights, data);
  let ce = 0;
  data.x.forEach((x, i) => {
    const p = forward(weights, x)[data.y[i] ?? 0] ?? 0;
    ce -= Math.log(Math.max(p, 1e-300));
  });
  let sq = 0;
  for (const w of weights.W) sq += w * w;
  return (data.x.length === 0 ? 0 : ce / data.x.length) + (l2 / 2) * sq;
}

/** Trains from zero weights for `epochs` passes. */
export function train(
  data: LabelledVectors,
  classes: number,
  epochs: number,
  options: Partial<TrainOptions> = {},
): LogRegWeights {
  const dim = data.x[0]?.length;
  if (dim === undefined) throw new LogRegShapeError("cannot train on an empty dataset");
  return trainFrom(zeroWeights(classes, dim), data, epochs, options);
}

/**
 * Continues training from `weights` for `epochs` passes over `data` and returns NEW weights
 * (the input is not modified). Used by local fine-tuning on devices.
 */
export function trainFrom(
  weights: LogRegWeights,
  data: LabelledVectors,
  epochs: number,
  options: Partial<TrainOptions> = {},
): LogRegWeights {
  const opt = trainOptionsSchema.parse({ ...DEFAULT_TRAIN_OPTIONS, ...options });
  checkData(weights, data);
  if (!Number.isInteger(epochs) || epochs < 0)
    throw new LogRegShapeError(`epochs must be a non-negative integer`);
  const { classes, dim } = weights;
  const given = opt.logitOffset ?? [];
  if (given.length !== 0 && given.length !== classes)
    throw new LogRegShapeError(
      `logitOffset has ${given.length} values, the model ${classes} classes`,
    );
  const offset = Float64Array.from({ length: classes }, (_, k) => given[k] ?? 0);
  const W = Float64Array.from(weights.W);
  const b = Float64Array.from(weights.b);
  const rows = data.x.map(sparsify);
  const n = rows.length;
  const rng = new Prng(opt.seed);
  const order = Array.from({ length: n }, (_, i) => i);
  const probs = new Float64Array(classes * opt.batchSize);

  for (let epoch = 0; epoch < epochs && n > 0; epoch++) {
    rng.shuffle(order);
    for (let start = 0; start < n; start += opt.batchSize) {
      const batch = order.slice(start, start + opt.batchSize);
      // 1. probabilities of the whole batch under the current weights
      batch.forEach((r, m) => {
        const { idx, val } = rows[r] as Sparse;
        for (let k = 0; k < classes; k++) {
          let s = (b[k] ?? 0) + (offset[k] ?? 0);
          const row = k * dim;
          for (let t = 0; t < idx.length; t++) s += (W[row + (idx[t] ?? 0)] ?? 0) * (val[t] ?? 0);
          probs[m * classes + k] = s;
        }
        softmaxInPlace(probs.subarray(m * classes, (m + 1) * classes));
      });
      // 2. weight decay, then the averaged cross-entropy gradient step
      const step = opt.learningRate / batch.length;
      if (opt.l2 > 0) {
        const decay = 1 - opt.learningRate * opt.l2;
        for (let i = 0; i < W.length; i++) W[i] = (W[i] ?? 0) * decay;
      }
      batch.forEach((r, m) => {
        const { idx, val } = rows[r] as Sparse;
        const label = data.y[r] ?? 0;
        for (let k = 0; k < classes; k++) {
          const g = (probs[m * classes + k] ?? 0) - (k === label ? 1 : 0);
          if (g === 0) continue;
          const row = k * dim;
          for (let t = 0; t < idx.length; t++) {
            const j = row + (idx[t] ?? 0);
            W[j] = (W[j] ?? 0) - step * g * (val[t] ?? 0);
          }
          b[k] = (b[k] ?? 0) - step * g;
        }
      });
    }
  }
  return { classes, dim, W: Float32Array.from(W), b: Float32Array.from(b) };
}

/** `[W (row-major)..., b...]` as one float64 vector, e.g. for securely aggregating updates. */
export function flatten(weights: LogRegWeights): Float64Array {
  const out = new Float64Array(weights.W.length + weights.b.length);
  out.set(weights.W, 0);
  out.set(weights.b, weights.W.length);
  return out;
}

/** Inverse of {@link flatten} (values rounded to float32). */
export function unflatten(flat: ArrayLike<number>, classes: number, dim: number): LogRegWeights {
  const w = zeroWeights(classes, dim);
  if (flat.length !== classes * dim + classes) {
    throw new LogRegShapeError(
      `flat vector has ${flat.length} values, expected ${classes * dim + classes}`,
    );
  }
  for (let i = 0; i < w.W.length; i++) w.W[i] = flat[i] ?? 0;
  for (let k = 0; k < classes; k++) w.b[k] = flat[w.W.length + k] ?? 0;
  return w;
}

/** Number of parameters of a `classes × dim` model (`classes·dim + classes`). */
export function parameterCount(classes: number, dim: number): number {
  return classes * dim + classes;
}

interface Sparse {
  idx: Uint32Array;
  val: Float64Array;
}

function sparsify(x: Float32Array): Sparse {
  let nnz = 0;
  for (const v of x) if (v !== 0) nnz += 1;
  const idx = new Uint32Array(nnz);
  const val = new Float64Array(nnz);
  let t = 0;
  x.forEach((v, j) => {
    if (v !== 0) {
      idx[t] = j;
      val[t] = v;
      t += 1;
    }
  });
  return { idx, val };
}

function softmaxInPlace<T extends Float64Array>(z: T): T {
  let max = -Infinity;
  for (const v of z) if (v > max) max = v;
  let sum = 0;
  for (let k = 0; k < z.length; k++) {
    const e = Math.exp((z[k] ?? 0) - max);
    z[k] = e;
    sum += e;
  }
  for (let k = 0; k < z.length; k++) z[k] = (z[k] ?? 0) / sum;
  return z;
}

function argmax(z: Float64Array): number {
  let best = 0;
  for (let k = 1; k < z.length; k++) if ((z[k] ?? 0) > (z[best] ?? 0)) best = k;
  return best;
}

function checkData(weights: LogRegWeights, data: LabelledVectors): void {
  if (data.x.length !== data.y.length) {
    throw new LogRegShapeError(`${data.x.length} inputs but ${data.y.length} labels`);
  }
  data.x.forEach((x, i) => {
    if (x.length !== weights.dim) {
      throw new LogRegShapeError(`row ${i} has ${x.length} features, model expects ${weights.dim}`);
    }
    const y = data.y[i];
    if (y === undefined || !Number.isInteger(y) || y < 0 || y >= weights.classes) {
      throw new LogRegShapeError(
        `row ${i} has label ${String(y)}, expected 0..${weights.classes - 1}`,
      );
    }
  });
}
