/**
 * The distributed discrete Gaussian mechanism on a SecAgg fixed-point vector (docs/privacy.md).
 *
 * **Mechanism.** A vector's coordinates are partitioned into noise groups. Group g has a per-record sensitivity
 * bound s_g (real units): adding or removing one record changes the group's coordinates by δ with ‖δ‖₂ ≤ s_g, and
 * every group may change at once. The job's target noise on the *sum* is N_Z(0, σ_g²) per coordinate (σ_g in real
 * units, σ_g · scale in encoded integers). Coordinates in no group must not depend on the records at all (the
 * caller checks; they get no noise).
 *
 * **Calibration.** Each device adds N_Z(0, σ_g² · scale² / n_min) to each coordinate of group g, after the fixed-point
 * encoding and before masking, so the sum over n ≥ n_min survivors carries variance (n/n_min) · σ_g² ≥ σ_g² (in real
 * units). n_min is the least number of survivors for which a sum can be released (the caller takes the larger of
 * the chain's kMin and the SecAgg reconstruction threshold t, below which honest clients never reveal shares, so a
 * sum with fewer survivors is never unmasked).
 *
 * **Accounting.** In encoded units the change of group g is at most s_g·scale (+ √|g| for real-valued coordinates,
 * whose rounding may move each coordinate by one more unit), so A² ≤ (n_min/n) · Σ_g (s_g·scale + r_g)²/(σ_g·scale)²
 * and ρ = ½ (A + √d · τ_max)² (zcdp.ts). The charge is the worst case over n ∈ [n_min, cohort]: A² at n_min, τ at
 * the cohort size.
 */
import { z } from "zod";
import { encodeVector, type FixedPointEncoding } from "#sdk/secagg/encoding.ts";
import { DiscreteGaussian } from "./discrete-gaussian.ts";
import { PrivacyError } from "./errors.ts";
import type { RandomSource } from "./random.ts";
import { ddgRho, ddgTau } from "./zcdp.ts";

const positiveFinite = z.number().positive().finite();

export const noiseGroupSchema = z.strictObject({
  /** Coordinates of the group (indices into the vector). */
  coordinates: z.array(z.number().int().min(0)).min(1),
  /** Per-record L2 sensitivity of the group, real units. */
  sensitivity: positiveFinite,
  /** Target standard deviation of the summed noise per coordinate, real units. */
  sigma: positiveFinite,
  /** Whether the group's values are integers (encode exactly) or reals (rounded by the encoding). */
  integer: z.boolean(),
});
export type NoiseGroup = z.infer<typeof noiseGroupSchema>;

export const ddpMechanismSchema = z
  .strictObject({
    vectorLength: z.number().int().min(1),
    groups: z.array(noiseGroupSchema).min(1),
    /** Least survivors whose sum can be released. */
    minSurvivors: z.number().int().min(1),
    /** Devices in the cohort (the most survivors). */
    cohortSize: z.number().int().min(1),
  })
  .superRefine((m, ctx) => {
    const seen = new Set<number>();
    for (const g of m.groups)
      for (const j of g.coordinates) {
        if (j >= m.vectorLength)
          ctx.addIssue({ code: "custom", message: `coordinate ${j} ≥ length ${m.vectorLength}` });
        if (seen.has(j)) ctx.addIssue({ code: "custom", message: `coordinate ${j} in two groups` });
        seen.add(j);
      }
    if (m.minSurvivors > m.cohortSize)
      ctx.addIssue({ code: "custom", message: "minSurvivors exceeds the cohort size" });
  });
export type DdpMechanism = z.infer<typeof ddpMechanismSchema>;

/** Validates a mechanism; out-of-range noise parameters → PrivacyError INVALID_NOISE_PARAMS. */
export function ddpMechanism(input: unknown): DdpMechanism {
  const r = ddpMechanismSchema.safeParse(input);
  if (!r.success)
    throw new PrivacyError(
      "INVALID_NOISE_PARAMS",
      r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "),
    );
  return r.data;
}

/** Per-device noise variance of each coordinate, in encoded integer units (0 for coordinates in no group). */
export function deviceNoiseVariances(m: DdpMechanism, enc: FixedPointEncoding): Float64Array {
  const v = new Float64Array(m.vectorLength);
  for (const g of m.groups) {
    const s2 = (g.sigma * enc.scale) ** 2 / m.minSurvivors;
    if (!(s2 >= 0.25) || !Number.isFinite(s2))
      throw new PrivacyError(
        "INVALID_NOISE_PARAMS",
        `per-device noise variance ${s2} (encoded units) is outside [1/4, ∞): σ or the scale is too small`,
      );
    for (const j of g.coordinates) v[j] = s2;
  }
  return v;
}

/** Variance of the summed noise per coordinate for `survivors` devices, in real units. */
export function sumNoiseVariances(m: DdpMechanism, survivors: number): Float64Array {
  const v = new Float64Array(m.vectorLength);
  for (const g of m.groups)
    for (const j of g.coordinates) v[j] = (g.sigma ** 2 * survivors) / m.minSurvivors;
  return v;
}

export interface PrivacyCost {
  /** zCDP ρ charged for one release (worst case over the allowed survivor counts). */
  rho: number;
  /** A² at n_min. */
  sensitivity2: number;
  tauMax: number;
  dims: number;
}

/** The ρ one release of this mechanism costs each record (module comment). */
export function privacyCost(m: DdpMechanism, enc: FixedPointEncoding): PrivacyCost {
  const variances = deviceNoiseVariances(m, enc);
  let a2 = 0;
  let tauMax = 0;
  let dims = 0;
  for (const g of m.groups) {
    const r = g.integer ? 0 : Math.sqrt(g.coordinates.length);
    a2 += ((g.sensitivity * enc.scale + r) / (g.sigma * enc.scale)) ** 2;
    const sigmaDev = Math.sqrt(variances[g.coordinates[0]!]!);
    tauMax = Math.max(tauMax, ddgTau(m.cohortSize, sigmaDev));
    dims += g.coordinates.length;
  }
  return { rho: ddgRho(a2, dims, tauMax), sensitivity2: a2, tauMax, dims };
}

/** One device's integer noise vector (two's complement in a Uint32Array, added mod 2^32). */
export function sampleDeviceNoise(
  m: DdpMechanism,
  enc: FixedPointEncoding,
  rng: RandomSource,
): Int32Array {
  const variances = deviceNoiseVariances(m, enc);
  const out = new Int32Array(m.vectorLength);
  const samplers = new Map<number, DiscreteGaussian>();
  for (let j = 0; j < m.vectorLength; j++) {
    const s2 = variances[j]!;
    if (s2 === 0) continue;
    let dg = samplers.get(s2);
    if (!dg) samplers.set(s2, (dg = new DiscreteGaussian(s2, rng)));
    const x = dg.sample();
    if (x >= 1n << 31n || x < -(1n << 31n))
      throw new PrivacyError("DECODE_HEADROOM", `noise ${x} does not fit 32 bits`);
    out[j] = Number(x);
  }
  return out;
}

/**
 * Encodes `x` with the session's fixed-point encoding and adds the device's noise mod 2^32: the input a device hands
 * to the SecAgg client (which masks it). `noise` comes from `sampleDeviceNoise`.
 */
export function encodeWithNoise(
  x: ArrayLike<number>,
  enc: FixedPointEncoding,
  noise: Int32Array,
): Uint32Array {
  const e = encodeVector(x, enc);
  if (noise.length !== e.length)
    throw new PrivacyError("INVALID_NOISE_PARAMS", `noise length ${noise.length} ≠ ${e.length}`);
  for (let i = 0; i < e.length; i++) e[i] = (e[i]! + noise[i]!) >>> 0;
  return e;
}

/** Lower edge of the decoding window below the data, in encoded units: noise down to −2^30 decodes exactly. */
export const DEFAULT_WINDOW_LOW = 2 ** 30;

/**
 * Decodes a noisy Z_2^32 sum of `count` encodings of non-negative data. The exact noisy sum y = Σq + Z (q the
 * quantised values) is recovered from (sum − count·offset) mod 2^32 in the window [−low, 2^32 − low): exact whenever
 * −low ≤ y < 2^32 − low. Σq of non-negative data lies in [0, count·offset] ⊆ [0, 2^31], so with low = 2^30 any
 * |Z| < 2^30 decodes exactly (`overflowProbability` bounds the rest).
 */
export function decodeNoisySum(
  sum: Uint32Array,
  count: number,
  enc: FixedPointEncoding,
  low = DEFAULT_WINDOW_LOW,
): Float64Array {
  const out = new Float64Array(sum.length);
  const base = (count * enc.offset) % 2 ** 32;
  for (let i = 0; i < sum.length; i++) {
    let y = (sum[i]! - base + 2 ** 32) % 2 ** 32;
    if (y >= 2 ** 32 - low) y -= 2 ** 32;
    out[i] = y / enc.scale;
  }
  return out;
}

/**
 * Upper bound on the probability that any coordinate's summed noise leaves the decoding window (sub-Gaussian tail
 * of the discrete Gaussian, P[|Z| ≥ h] ≤ 2·exp(−h²/(2·Var)), union over coordinates), for non-negative data.
 */
export function overflowProbability(
  m: DdpMechanism,
  enc: FixedPointEncoding,
  low = DEFAULT_WINDOW_LOW,
): number {
  const top = m.cohortSize * enc.offset;
  const h = Math.min(low, 2 ** 32 - low - top);
  if (!(h > 0)) return 1;
  const variances = sumNoiseVariances(m, m.cohortSize);
  let p = 0;
  for (const v of variances) if (v > 0) p += 2 * Math.exp(-(h * h) / (2 * v * enc.scale ** 2));
  return Math.min(1, p);
}

/** Refuses a mechanism whose noise could wrap the decoding window with probability above `max` (default 2^−40). */
export function checkHeadroom(
  m: DdpMechanism,
  enc: FixedPointEncoding,
  max = 2 ** -40,
  low = DEFAULT_WINDOW_LOW,
): number {
  const p = overflowProbability(m, enc, low);
  if (p > max)
    throw new PrivacyError(
      "DECODE_HEADROOM",
      `the noisy sum leaves the decoding window with probability up to ${p.toExponential(2)} > ${max}`,
    );
  return p;
}
