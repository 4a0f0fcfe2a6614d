/**
 * Honest crowd estimates of a class share (PROTOCOL.md §7.11), computed from secure-aggregation sums only.
 *
 * **Classify-and-count as a ratio estimator.** Device i holds n_i records, c_i of which the model predicts as class k.
 * The crowd's predicted share is the ratio q̂ = Σc_i / Σn_i. Devices are the sampled units (a cohort drawn from the
 * device population), and records within a device are not independent (each inbox has its own spam ratio), so the
 * variance is the ratio estimator's cluster-robust (linearisation) variance
 *
 *   Var(q̂) = m/(m−1) · Σ_i (c_i − q̂ n_i)² / (Σn_i)²,
 *
 * whose numerator expands to Σc_i² − 2q̂ Σc_i n_i + q̂² Σn_i²: the devices contribute their totals' squares and
 * cross-products through SecAgg, and the aggregate reveals the between-device variance without revealing any device.
 *
 * **Adjusted classify-and-count.** A classifier with true-positive rate t = P(predict k | k) and false-positive rate
 * f = P(predict k | not k) predicts k with probability f + (t − f)·p on a population with share p, so
 *
 *   p̂ = (q̂ − f) / (t − f)
 *
 * corrects the bias of q̂. t and f are measured on the public labelled control group (published in the package
 * manifest), from n₊ records of class k and n₋ of other classes; by the delta method
 *
 *   Var(p̂) ≈ [Var(q̂) + p̂² · t(1−t)/n₊ + (1−p̂)² · f(1−f)/n₋] / (t − f)².
 *
 * For two classes this is exact one-vs-rest; for more classes f depends on the mix of the other classes, and the
 * one-vs-rest correction is an approximation.
 *
 * **Distributed DP noise** (docs/privacy.md). With DP, every sum carries independent zero-mean noise of known variance
 * (σ_n², σ_c², σ_nn², σ_nc², σ_cc²). q̂ = (Σc + Z_c)/(Σn + Z_n) stays unbiased to first order and its variance gains
 * the noise term (σ_c² + q̂² σ_n²)/(Σn)² (delta method; known exactly, no degrees of freedom lost). The numerator
 * S = Σc_i² − 2q̂ Σc_i n_i + q̂² Σn_i² of the cluster-robust variance stays unbiased, but is noisier, with noise
 * variance V_S = σ_cc² + 4q̂² σ_nc² + q̂⁴ σ_nn² (known): S is replaced by S + √V_S (an upper bound that the noise
 * undershoots with probability ≈ 84%), clamped at 0, and the crowd part keeps its m − 1 degrees of freedom for the
 * sampling of devices. Without the √V_S margin, a noisy S near or below 0 would give intervals that miss (81–86%
 * coverage in simulation); a Satterthwaite df for the noise makes them several times too wide (docs/privacy.md).
 *
 * **Small cohorts.** The cluster-robust variance rests on m devices, so intervals use Student's t quantile with the
 * Welch–Satterthwaite degrees of freedom of the variance's parts (m − 1 for the crowd's, n₊ − 1 and n₋ − 1 for the
 * control group's), not the normal's 1.96: with 5 devices the half-width is 2.78 standard errors, not 1.96.
 */

/** 97.5% quantile of the standard normal: the half-width of a 95% interval is Z95 standard errors. */
export const Z95 = 1.959963984540054;

// 97.5% quantiles of Student's t with 1..30 degrees of freedom
const T975 = [
  12.70620474, 4.30265273, 3.18244631, 2.77644511, 2.57058184, 2.44691185, 2.36462425, 2.30600414,
  2.26215716, 2.22813885, 2.20098516, 2.17881283, 2.16036866, 2.14478669, 2.13144955, 2.1199053,
  2.10981558, 2.10092204, 2.09302405, 2.08596345, 2.07961384, 2.07387307, 2.06865761, 2.06389856,
  2.05953855, 2.05552944, 2.05183052, 2.04840714, 2.04522964, 2.04227246,
];

/**
 * 97.5% quantile of Student's t with `df` degrees of freedom: the table for integer df ≤ 30 (linear in 1/df between
 * integers, which errs on the wide side), the Cornish–Fisher expansion above 30 (error < 1e-5), Z95 for df = ∞.
 * df < 1 is treated as 1.
 */
export function tQuantile975(df: number): number {
  if (df === Infinity) return Z95;
  const d = Math.max(1, df);
  if (d <= 30) {
    const lo = Math.floor(d);
    const hi = Math.ceil(d);
    if (lo === hi) return T975[lo - 1]!;
    const w = (1 / lo - 1 / d) / (1 / lo - 1 / hi);
    return T975[lo - 1]! + w * (T975[hi - 1]! - T975[lo - 1]!);
  }
  const z = Z95;
  const g1 = (z ** 3 + z) / 4;
  const g2 = (5 * z ** 5 + 16 * z ** 3 + 3 * z) / 96;
  const g3 = (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / 384;
  return z + g1 / d + g2 / d ** 2 + g3 / d ** 3;
}

/**
 * Confusion counts of a classifier on a labelled set: `confusion[t][p]` records of true class t predicted as class p.
 */
export type Confusion = readonly (readonly number[])[];

/** One-vs-rest rates of class k measured on a labelled set. */
export interface ClassRates {
  /** True-positive rate P(predict k | k). */
  tpr: number;
  /** False-positive rate P(predict k | not k). */
  fpr: number;
  /** Records of class k (the TPR's denominator). */
  positives: number;
  /** Records of other classes (the FPR's denominator). */
  negatives: number;
}

/** Class k's true- and false-positive rates from a confusion matrix. */
export function classRates(confusion: Confusion, k: number): ClassRates {
  const C = confusion.length;
  if (!(k >= 0 && k < C)) throw new RangeError(`class ${k} outside the ${C}×${C} confusion matrix`);
  let positives = 0;
  let tp = 0;
  let negatives = 0;
  let fp = 0;
  for (let t = 0; t < C; t++) {
    const row = confusion[t]!;
    if (row.length !== C) throw new RangeError("the confusion matrix is not square");
    const total = row.reduce((a, b) => a + b, 0);
    if (t === k) {
      positives = total;
      tp = row[k]!;
    } else {
      negatives += total;
      fp += row[k]!;
    }
  }
  if (positives === 0 || negatives === 0)
    throw new RangeError(`class ${k}: the control group needs records of the class and of others`);
  return { tpr: tp / positives, fpr: fp / negatives, positives, negatives };
}

/**
 * What the devices' SecAgg sum holds about one class: m devices and, over devices, Σn_i, Σc_i, Σn_i², Σn_i·c_i, Σc_i².
 */
export interface ClusterSums {
  devices: number;
  n: number;
  c: number;
  nn: number;
  nc: number;
  cc: number;
}

/** Per-device (n_i, c_i) pairs summed into {@link ClusterSums} (a direct computation; devices send these via SecAgg). */
export function clusterSums(perDevice: readonly (readonly [n: number, c: number])[]): ClusterSums {
  const s: ClusterSums = { devices: 0, n: 0, c: 0, nn: 0, nc: 0, cc: 0 };
  for (const [n, c] of perDevice) {
    s.devices += 1;
    s.n += n;
    s.c += c;
    s.nn += n * n;
    s.nc += n * c;
    s.cc += c * c;
  }
  return s;
}

/** Variances of the zero-mean DP noise each of the {@link ClusterSums} carries (0 or absent: no noise). */
export interface ClusterNoise {
  n: number;
  c: number;
  nn: number;
  nc: number;
  cc: number;
}

export interface Estimate {
  estimate: number;
  variance: number;
  stdError: number;
  /** Degrees of freedom of the variance (Welch–Satterthwaite; Infinity when exact). */
  df: number;
  /** Half-width of the 95% interval: tQuantile975(df) · stdError. */
  halfWidth: number;
  /** estimate ± halfWidth, clipped to [0, 1]. */
  interval: [number, number];
  /** The part of `variance` due to DP noise (0 without noise). */
  dpVariance?: number;
}

function withInterval(estimate: number, variance: number, df: number): Estimate {
  const stdError = Math.sqrt(variance);
  const halfWidth = tQuantile975(df) * stdError;
  return {
    estimate,
    variance,
    stdError,
    df,
    halfWidth,
    interval: [
      Math.min(1, Math.max(0, estimate - halfWidth)),
      Math.min(1, Math.max(0, estimate + halfWidth)),
    ],
  };
}

/**
 * Classify-and-count: the ratio q̂ = Σc/Σn with its cluster-robust variance m/(m−1)·Σ(c_i − q̂n_i)²/(Σn)².
 * With fewer than two devices the variance is not identified (Infinity).
 */
export function ratioEstimate(s: ClusterSums, noise?: ClusterNoise): Estimate {
  if (!(s.n > 0)) throw new RangeError("no records");
  const q = s.c / s.n;
  if (s.devices < 2) return withInterval(q, Infinity, 1);
  // Σ(c_i − q n_i)², clamped against the rounding of the fixed-point sums (with DP: plus its noise margin)
  const raw = s.cc - 2 * q * s.nc + q * q * s.nn;
  const m = s.devices;
  if (noise === undefined)
    return withInterval(q, ((m / (m - 1)) * Math.max(0, raw)) / (s.n * s.n), m - 1);
  const vS = noise.cc + 4 * q * q * noise.nc + q ** 4 * noise.nn;
  const ss = Math.max(0, raw + Math.sqrt(vS));
  const crowd = ((m / (m - 1)) * ss) / (s.n * s.n);
  const dp = (noise.c + q * q * noise.n) / (s.n * s.n);
  // Welch–Satterthwaite: the DP part is known exactly (infinite df)
  const df = crowd > 0 ? ((crowd + dp) * (crowd + dp)) / ((crowd * crowd) / (m - 1)) : Infinity;
  return { ...withInterval(q, crowd + dp, df), dpVariance: dp };
}

export interface AdjustedEstimate extends Estimate {
  /** The classify-and-count estimate it corrects. */
  classifyAndCount: Estimate;
  rates: ClassRates;
  /** The variance's parts: from the crowd's q̂, and from the control group's t and f (before ÷ (t − f)²). */
  varianceParts: { crowd: number; tpr: number; fpr: number };
}

/**
 * Adjusted classify-and-count: p̂ = (q̂ − f)/(t − f) with the delta-method variance of q̂, t and f (module comment).
 * The estimate is not clipped (clipping would bias it); the interval is. The delta-method weights use p̂ clipped to
 * [0, 1].
 * @throws RangeError when t ≤ f (the classifier carries no information about the class)
 */
export function adjustedEstimate(cc: Estimate, rates: ClassRates): AdjustedEstimate {
  const { tpr: t, fpr: f, positives, negatives } = rates;
  const d = t - f;
  if (!(d > 0))
    throw new RangeError(`TPR ${t} ≤ FPR ${f}: the classify-and-count cannot be corrected`);
  const p = (cc.estimate - f) / d;
  const w = Math.min(1, Math.max(0, p));
  const parts = {
    crowd: cc.variance,
    tpr: (w * w * t * (1 - t)) / positives,
    fpr: ((1 - w) * (1 - w) * f * (1 - f)) / negatives,
  };
  const sum = parts.crowd + parts.tpr + parts.fpr;
  // Welch–Satterthwaite: each part's df (a zero part contributes nothing)
  const share = (v: number, df: number) => (v > 0 ? (v * v) / df : 0);
  const denom =
    share(parts.crowd, cc.df) +
    share(parts.tpr, Math.max(1, positives - 1)) +
    share(parts.fpr, Math.max(1, negatives - 1));
  const df = denom > 0 ? (sum * sum) / denom : Infinity;
  return {
    ...withInterval(p, sum / (d * d), df),
    classifyAndCount: cc,
    rates,
    varianceParts: parts,
  };
}

/** Both estimates of class k's share from the crowd's sums and the control group's confusion matrix. */
export function shareEstimate(
  s: ClusterSums,
  confusion: Confusion,
  k: number,
  noise?: ClusterNoise,
): AdjustedEstimate {
  return adjustedEstimate(ratioEstimate(s, noise), classRates(confusion, k));
}
