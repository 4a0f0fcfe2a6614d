/**
 * Distributed DP on the `classification-stats/v2` result vector (docs/privacy.md, PROTOCOL.md §7.10).
 *
 * **Neighbouring datasets.** One record (email) added to or removed from the records a device reads for the job (its
 * first `maxRecords`). With n ≤ maxRecords = N records before the change, one record moves
 *
 *   - n by 1; c_k (the predicted-class histogram) by 1 in one class;
 *   - Σp_k and Σp_k² by a probability vector (L2 norm ≤ 1 each);
 *   - n² by 2n + 1 ≤ 2N; (n·c_k)_k by a vector of L2 norm ≤ 2n + 1 ≤ 2N (the record's class gains n + c + 1, the
 *     others c_k, and (n + c + 1)² + (n − c)² ≤ (2n + 1)²); c_k² by 2c + 1 ≤ 2N in one class.
 *
 * These are the seven noise groups (sensitivities 1, 1, 1, 1, 2N, 2N, 2N). N ≤ 316 keeps every square below
 * PAIR_SCALE, so each pair's high digit is always 0 (independent of the data: no noise) and its low digit is the
 * value itself. A vector outside these bounds (more records, a non-zero high digit) has no defined sensitivity and is
 * refused (SENSITIVITY_UNDEFINED).
 */
import {
  checkHeadroom,
  cryptoRandom,
  ddpMechanism,
  decodeNoisySum,
  encodeWithNoise,
  epsilonOf,
  PrivacyError,
  privacyCost,
  sampleDeviceNoise,
  sumNoiseVariances,
  type DdpMechanism,
  type PrivacySpec,
  type RandomSource,
} from "#sdk/privacy/index.ts";
import { resolveSession, type SecAggSessionConfig } from "#sdk/secagg/index.ts";
import type { FixedPointEncoding } from "#sdk/secagg/encoding.ts";
import { PAIR_SCALE, resultVectorLength } from "./result-vector.ts";

const range = (from: number, count: number, step = 1) =>
  Array.from({ length: count }, (_, i) => from + i * step);

/** Index of the low digit of pair j (x_0 = n², x_{1+k} = n·c_k, x_{1+C+k} = c_k²). */
const lowDigit = (classes: number, j: number) => 2 + 3 * classes + 2 * j;

/** The mechanism of a DP prediction job over a cohort whose sum is released with ≥ `minSurvivors` devices. */
export function resultVectorMechanism(
  spec: PrivacySpec,
  classes: number,
  minSurvivors: number,
  cohortSize: number,
): DdpMechanism {
  const C = classes;
  const s2 = 2 * spec.maxRecords;
  const first = (coordinates: number[], integer: boolean) => ({
    coordinates,
    sensitivity: 1,
    sigma: spec.sigma,
    integer,
  });
  const second = (coordinates: number[]) => ({
    coordinates,
    sensitivity: s2,
    sigma: spec.secondOrderSigma,
    integer: true,
  });
  return ddpMechanism({
    vectorLength: resultVectorLength(C),
    groups: [
      first([0], true),
      first(range(1, C), false),
      first(range(1 + C, C), false),
      first(range(1 + 2 * C, C), true),
      second([lowDigit(C, 0)]),
      second(range(lowDigit(C, 1), C, 2)),
      second(range(lowDigit(C, 1 + C), C, 2)),
    ],
    minSurvivors,
    cohortSize,
  });
}

/** The least survivors whose sum can be unmasked: the chain's kMin and the SecAgg threshold (honest clients refuse to reveal shares below it). */
export function minSurvivorsOf(config: SecAggSessionConfig, kMin: number): number {
  return Math.min(config.roster.length, Math.max(kMin, resolveSession(config).threshold));
}

export interface JobPrivacy {
  spec: PrivacySpec;
  mechanism: DdpMechanism;
  encoding: FixedPointEncoding;
  /** zCDP ρ each record of each device pays for the job. */
  rho: number;
  epsilon: number;
  delta: number;
  /** Upper bound on the probability that the noisy sum does not decode exactly. */
  overflowProbability: number;
}

/** The job's mechanism, its cost and its decoding headroom. @throws PrivacyError */
export function jobPrivacy(
  spec: PrivacySpec,
  classes: number,
  config: SecAggSessionConfig,
  kMin: number,
): JobPrivacy {
  const mechanism = resultVectorMechanism(
    spec,
    classes,
    minSurvivorsOf(config, kMin),
    config.roster.length,
  );
  const { rho } = privacyCost(mechanism, config.encoding);
  return {
    spec,
    mechanism,
    encoding: config.encoding,
    rho,
    epsilon: epsilonOf(rho, spec.delta),
    delta: spec.delta,
    overflowProbability: checkHeadroom(mechanism, config.encoding),
  };
}

/** Refuses a vector whose per-record sensitivity the mechanism does not bound. @throws PrivacyError SENSITIVITY_UNDEFINED */
export function checkWithinPrivacyBounds(
  v: ArrayLike<number>,
  classes: number,
  spec: PrivacySpec,
): void {
  if (v.length !== resultVectorLength(classes))
    throw new PrivacyError(
      "SENSITIVITY_UNDEFINED",
      `vector length ${v.length} ≠ ${resultVectorLength(classes)}`,
    );
  const n = v[0]!;
  if (!(n >= 0 && n <= spec.maxRecords && Number.isInteger(n)))
    throw new PrivacyError(
      "SENSITIVITY_UNDEFINED",
      `${n} records, the DP bound is ${spec.maxRecords}`,
    );
  for (let j = 0; j <= 2 * classes; j++) {
    const hi = v[lowDigit(classes, j) - 1]!;
    const lo = v[lowDigit(classes, j)]!;
    if (hi !== 0 || !(lo >= 0 && lo < PAIR_SCALE))
      throw new PrivacyError(
        "SENSITIVITY_UNDEFINED",
        `pair ${j} = (${hi}, ${lo}) is out of bounds`,
      );
  }
  for (let j = 0; j < v.length; j++)
    if (!Number.isFinite(v[j]!) || v[j]! < 0)
      throw new PrivacyError("SENSITIVITY_UNDEFINED", `coordinate ${j} = ${v[j]}`);
}

/** The device's SecAgg input: its encoded vector plus its share of the noise (CSPRNG unless `rng` is given). */
export function noisyResultVector(
  v: ArrayLike<number>,
  classes: number,
  p: JobPrivacy,
  rng: RandomSource = cryptoRandom(),
): Uint32Array {
  checkWithinPrivacyBounds(v, classes, p.spec);
  return encodeWithNoise(v, p.encoding, sampleDeviceNoise(p.mechanism, p.encoding, rng));
}

/** The aggregate of a DP job: the noisy sum decoded exactly, and the noise variance of each coordinate. */
export function decodeNoisyResult(
  sum: Uint32Array,
  survivors: number,
  p: Pick<JobPrivacy, "mechanism" | "encoding">,
): { decoded: Float64Array; noiseVariance: Float64Array } {
  return {
    decoded: decodeNoisySum(sum, survivors, p.encoding),
    noiseVariance: sumNoiseVariances(p.mechanism, survivors),
  };
}
