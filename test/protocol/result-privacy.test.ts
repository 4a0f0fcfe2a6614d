/**
 * The crowd estimate of a DP job: devices' real result vectors, real noise (seeded), the Z_2^32 sum SecAgg returns
 * (masks cancel), exact noisy decoding, and the estimator with the noise variance.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { zeroAddress, zeroHash } from "viem";
import { DEFAULT_PRIVACY_SPEC, epsilonOf, seededRandom } from "#sdk/privacy/index.ts";
import { Prng, type Confusion, type Prediction } from "#sdk/ml/index.ts";
import {
  decodeNoisyResult,
  jobPrivacy,
  noisyResultVector,
  checkWithinPrivacyBounds,
} from "#sdk/protocol/result-privacy.ts";
import { crowdEstimate, reduceToResultVector } from "#sdk/protocol/result-vector.ts";
import { ratioEstimate, tQuantile975 } from "#sdk/ml/estimate.ts";
import { jobSessionConfig } from "#sdk/protocol/session.ts";
import { PrivacyError } from "#sdk/privacy/index.ts";

const CLASSES = 2;
const SPAM = 1;
const confusion: Confusion = [
  [900, 100],
  [150, 850],
];

function inboxes(m: number, seed: string): Float64Array[] {
  const rng = new Prng(seed);
  return Array.from({ length: m }, () => {
    const n = 40 + Math.floor(rng.next() * 200);
    const ratio = rng.next() * 0.7;
    const preds: Prediction[] = Array.from({ length: n }, () => {
      const spam = rng.next() < ratio;
      const p = spam ? 0.6 + 0.4 * rng.next() : 0.4 * rng.next();
      return { probabilities: Float32Array.of(1 - p, p), label: p > 0.5 ? 1 : 0 };
    });
    return reduceToResultVector(preds, CLASSES);
  });
}

describe("crowd estimate with distributed DP noise", () => {
  const m = 10;
  const config = jobSessionConfig({
    chainId: 31337,
    jobMarket: zeroAddress,
    jobId: 1n,
    cohort: {
      members: Array.from({ length: m }, (_, i) => ({ id: i + 1, address: zeroAddress })),
    } as never,
    // the simulation signs nothing: no session keys registered
    sessionKeys: Array.from({ length: m }, () => zeroHash),
    classes: CLASSES,
  });
  const privacy = jobPrivacy(DEFAULT_PRIVACY_SPEC, CLASSES, config, 3);

  it("the default job costs ρ ≈ 1.04 (ε ≈ 7.9 at δ = 10⁻⁶) with n_min = the SecAgg threshold", () => {
    assert.equal(privacy.mechanism.minSurvivors, 7); // full mode, n = 10: t = ⌊2n/3⌋ + 1
    assert.ok(Math.abs(privacy.rho - 1.04) < 0.01, `ρ = ${privacy.rho}`);
    assert.equal(privacy.epsilon, epsilonOf(privacy.rho, 1e-6));
    assert.ok(privacy.epsilon > 6 && privacy.epsilon < 8.5, `ε = ${privacy.epsilon}`);
    assert.ok(privacy.overflowProbability < 2 ** -40);
  });

  it("stays unbiased with noise on, and its variance includes the DP noise (300 seeded draws)", () => {
    const vectors = inboxes(m, "estimate-dp/data");
    const exact = new Float64Array(vectors[0]!.length);
    for (const v of vectors) for (let j = 0; j < v.length; j++) exact[j]! += v[j]!;
    const clean = crowdEstimate(exact, CLASSES, m, confusion).adjusted![SPAM]!;
    const rng = seededRandom("estimate-dp/noise");
    const T = 300;
    const errs: number[] = [];
    let dpVar = 0;
    let meanVariance = 0;
    for (let t = 0; t < T; t++) {
      const sum = new Uint32Array(exact.length);
      for (const v of vectors) {
        const x = noisyResultVector(v, CLASSES, privacy, rng);
        for (let j = 0; j < x.length; j++) sum[j] = (sum[j]! + x[j]!) >>> 0;
      }
      const { decoded, noiseVariance } = decodeNoisyResult(sum, m, privacy);
      const est = crowdEstimate(decoded, CLASSES, m, confusion, noiseVariance).adjusted![SPAM]!;
      errs.push(est.estimate - clean.estimate);
      dpVar += est.classifyAndCount.dpVariance! / (est.rates.tpr - est.rates.fpr) ** 2;
      meanVariance += est.variance / T;
    }
    const mean = errs.reduce((a, b) => a + b, 0) / T;
    const v = errs.reduce((a, e) => a + (e - mean) ** 2, 0) / (T - 1);
    const predicted = dpVar / T;
    // unbiased: the mean error over T draws within 4 of its standard errors
    assert.ok(
      Math.abs(mean) < 4 * Math.sqrt(predicted / T),
      `bias ${mean} vs SE ${Math.sqrt(predicted / T)}`,
    );
    // the noise's share of the estimate's variance is what the estimator adds (±30% over 300 draws: a ratio's
    // relative standard error is √(2/299) = 8%)
    assert.ok(
      Math.abs(v / predicted - 1) < 0.3,
      `empirical DP variance ${v} vs predicted ${predicted}`,
    );
    // on average the interval is wider than without noise by at least the noise's own variance
    assert.ok(
      meanVariance > clean.variance + 0.9 * predicted,
      `mean variance ${meanVariance} vs ${clean.variance} + ${predicted}`,
    );
  });

  it("adds the noise's variance and the cluster-robust numerator's noise margin (known answer)", () => {
    const sums = { devices: 6, n: 1200, c: 300, nn: 250_000, nc: 64_000, cc: 17_500 };
    const noise = { n: 30, c: 40, nn: 9e5, nc: 8e5, cc: 7e5 };
    const q = 0.25;
    const raw = 17_500 - 2 * q * 64_000 + q * q * 250_000;
    const vS = 7e5 + 4 * q * q * 8e5 + q ** 4 * 9e5;
    const crowd = ((6 / 5) * (raw + Math.sqrt(vS))) / 1200 ** 2;
    const dp = (40 + q * q * 30) / 1200 ** 2;
    const e = ratioEstimate(sums, noise);
    assert.equal(e.estimate, q);
    assert.ok(Math.abs(e.variance - (crowd + dp)) < 1e-15);
    assert.equal(e.dpVariance, dp);
    const df = (crowd + dp) ** 2 / (crowd ** 2 / 5);
    assert.ok(Math.abs(e.df - df) < 1e-9);
    assert.ok(Math.abs(e.halfWidth - tQuantile975(df) * Math.sqrt(crowd + dp)) < 1e-12);
    // without noise: the plain cluster-robust variance
    assert.ok(Math.abs(ratioEstimate(sums).variance - ((6 / 5) * raw) / 1200 ** 2) < 1e-15);
  });

  it("refuses a vector outside the DP bounds (SENSITIVITY_UNDEFINED)", () => {
    const v = inboxes(1, "estimate-dp/bounds")[0]!;
    const tooMany = Float64Array.from(v);
    tooMany[0] = DEFAULT_PRIVACY_SPEC.maxRecords + 1;
    const highDigit = Float64Array.from(v);
    highDigit[1 + 3 * CLASSES] = 1;
    for (const bad of [tooMany, highDigit, v.subarray(1)])
      assert.throws(
        () => checkWithinPrivacyBounds(bad, CLASSES, DEFAULT_PRIVACY_SPEC),
        (e: unknown) => e instanceof PrivacyError && e.code === "SENSITIVITY_UNDEFINED",
      );
  });
});
