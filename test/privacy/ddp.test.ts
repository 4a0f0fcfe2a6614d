import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { makeEncoding } from "#sdk/secagg/encoding.ts";
import {
  checkHeadroom,
  DEFAULT_PRIVACY_SPEC,
  ddpMechanism,
  decodeNoisySum,
  encodeWithNoise,
  epsilonOf,
  epsilonSimple,
  overflowProbability,
  PrivacyError,
  privacyCost,
  privacySpecSchema,
  sampleDeviceNoise,
  seededRandom,
  sumNoiseVariances,
  type DdpMechanism,
} from "#sdk/privacy/index.ts";

const invalid = (e: unknown) => e instanceof PrivacyError && e.code === "INVALID_NOISE_PARAMS";

describe("distributed discrete Gaussian mechanism", () => {
  const enc = makeEncoding({ clip: 1000, maxClients: 16, scale: 4 });
  const mech = (over: Partial<DdpMechanism> = {}) =>
    ddpMechanism({
      vectorLength: 4,
      groups: [
        { coordinates: [0, 1], sensitivity: 1, sigma: 3, integer: true },
        { coordinates: [2], sensitivity: 10, sigma: 50, integer: true },
      ],
      minSurvivors: 5,
      cohortSize: 8,
      ...over,
    });

  it("the sum over n ≥ n_min devices carries variance (n/n_min)·σ² per coordinate (±5–6%, 6,000 sums)", () => {
    const m = mech();
    const rng = seededRandom("sum-variance");
    for (const n of [5, 8]) {
      const T = 6000;
      const ss = new Float64Array(4);
      const s = new Float64Array(4);
      for (let t = 0; t < T; t++) {
        const sum = new Float64Array(4);
        for (let d = 0; d < n; d++) {
          const z = sampleDeviceNoise(m, enc, rng);
          for (let j = 0; j < 4; j++) sum[j]! += z[j]! / enc.scale;
        }
        for (let j = 0; j < 4; j++) {
          s[j]! += sum[j]!;
          ss[j]! += sum[j]! ** 2;
        }
      }
      const target = sumNoiseVariances(m, n);
      assert.equal(target[0], (9 * n) / 5);
      assert.equal(target[3], 0);
      const v = (j: number) => ss[j]! / T - (s[j]! / T) ** 2;
      // coordinates 0 and 1 pooled (12,000 sums): the sample variance's relative standard error is 1.3%, so ±5% is
      // 3.8 of them; coordinate 2 alone (6,000): 1.8%, ±6% is 3.3. A σ² off by 10% fails either.
      const pooled = (v(0) + v(1)) / 2 / target[0]!;
      assert.ok(Math.abs(pooled - 1) < 0.05, `n=${n} group 0: ratio ${pooled}`);
      assert.ok(Math.abs(v(2) / target[2]! - 1) < 0.06, `n=${n} group 1: ${v(2)} vs ${target[2]}`);
      assert.equal(ss[3], 0, "a coordinate in no group gets no noise");
    }
  });

  it("charges ρ = ½ Σ_g (s_g/σ_g)² (τ negligible at these σ) and converts it to (ε, δ)", () => {
    const cost = privacyCost(mech(), enc);
    assert.ok(Math.abs(cost.rho - 0.5 * ((1 / 3) ** 2 + (10 / 50) ** 2)) < 1e-9);
    assert.equal(cost.dims, 3);
    assert.ok(cost.tauMax < 1e-12);
    // real-valued groups pay for the encoding's rounding
    const real = privacyCost(
      mech({ groups: [{ coordinates: [0], sensitivity: 1, sigma: 3, integer: false }] }),
      enc,
    );
    assert.ok(Math.abs(real.rho - 0.5 * ((1 * 4 + 1) / (3 * 4)) ** 2) < 1e-12);
    // the tight conversion is below the classic one, and both grow with ρ
    for (const rho of [0.01, 0.1, 0.5, 2]) {
      const tight = epsilonOf(rho, 1e-6);
      const simple = epsilonSimple(rho, 1e-6);
      assert.ok(tight < simple && tight > rho, `ρ=${rho}: ${tight} vs ${simple}`);
      assert.ok(epsilonOf(rho * 1.1, 1e-6) > tight);
    }
    assert.ok(
      Math.abs(epsilonSimple(0.5, 1e-6) - (0.5 + 2 * Math.sqrt(0.5 * Math.log(1e6)))) < 1e-12,
    );
    // the tight ε is the conversion's infimum: CKS20 Corollary 13's δ(ε) = inf_α exp((α−1)(αρ−ε))/(α−1)·(1−1/α)^α,
    // minimised here by brute force over a fine α grid, is ≤ δ at ε and > δ just below it
    const deltaAt = (rho: number, eps: number) => {
      let best = Infinity;
      for (let a = 1.001; a < 200; a *= 1.0005)
        best = Math.min(
          best,
          Math.exp((a - 1) * (a * rho - eps) + a * Math.log1p(-1 / a) - Math.log(a - 1)),
        );
      return best;
    };
    for (const rho of [0.1, 1.04, 5]) {
      const eps = epsilonOf(rho, 1e-6);
      assert.ok(deltaAt(rho, eps) <= 1e-6 * 1.001, `ρ=${rho}: δ(ε) = ${deltaAt(rho, eps)}`);
      assert.ok(deltaAt(rho, eps - 0.01) > 1e-6, `ρ=${rho}: ε is not the infimum`);
    }
    assert.throws(() => epsilonOf(0.5, 0), invalid);
    assert.throws(() => epsilonOf(-1, 1e-6), invalid);
  });

  it("refuses out-of-range noise parameters with INVALID_NOISE_PARAMS", () => {
    const g = { coordinates: [0], sensitivity: 1, sigma: 3, integer: true };
    for (const bad of [
      { groups: [{ ...g, sigma: 0 }] },
      { groups: [{ ...g, sigma: -1 }] },
      { groups: [{ ...g, sigma: NaN }] },
      { groups: [{ ...g, sigma: Infinity }] },
      { groups: [{ ...g, sensitivity: Infinity }] },
      { groups: [{ ...g, coordinates: [4] }] },
      { groups: [g, g] },
      { groups: [] },
      { minSurvivors: 0 },
      { minSurvivors: 9 },
      { minSurvivors: 2.5 },
    ])
      assert.throws(() => mech(bad as Partial<DdpMechanism>), invalid, JSON.stringify(bad));
    // a σ so small that the per-device variance drops below 1/4 encoded unit is refused when sampling
    const tiny = mech({ groups: [{ ...g, sigma: 0.01 }] });
    assert.throws(() => sampleDeviceNoise(tiny, enc, seededRandom("t")), invalid);
  });

  it("decodes the noisy sum exactly, including a negative total near 0 (wrap) and a total near the top", () => {
    const m = ddpMechanism({
      vectorLength: 3,
      groups: [{ coordinates: [0, 1, 2], sensitivity: 1, sigma: 2, integer: true }],
      minSurvivors: 4,
      cohortSize: 4,
    });
    const e = makeEncoding({ clip: 100_000, maxClients: 4 });
    const rng = seededRandom("decode");
    const xs = [
      [0, 5, 100_000],
      [0, 7, 100_000],
      [0, 0, 99_999],
      [0, 1, 100_000],
    ];
    for (let trial = 0; trial < 50; trial++) {
      const sum = new Uint32Array(3);
      const noise = new Float64Array(3);
      for (const x of xs) {
        const z = sampleDeviceNoise(m, e, rng);
        const v = encodeWithNoise(x, e, z);
        for (let j = 0; j < 3; j++) {
          sum[j] = (sum[j]! + v[j]!) >>> 0;
          noise[j]! += z[j]!;
        }
      }
      const d = decodeNoisySum(sum, 4, e);
      assert.equal(d[0], noise[0]! / e.scale);
      assert.equal(d[1], 13 + noise[1]! / e.scale);
      assert.equal(d[2], 399_999 + noise[2]! / e.scale);
    }
    assert.ok(overflowProbability(m, e) < 1e-300);
  });

  it("refuses noise that could wrap the decoding window (DECODE_HEADROOM)", () => {
    const e = makeEncoding({ clip: 100_000, maxClients: 4 });
    const huge = ddpMechanism({
      vectorLength: 1,
      groups: [{ coordinates: [0], sensitivity: 1, sigma: 1e5, integer: true }],
      minSurvivors: 4,
      cohortSize: 4,
    });
    assert.throws(
      () => checkHeadroom(huge, e),
      (x: unknown) => x instanceof PrivacyError && x.code === "DECODE_HEADROOM",
    );
  });
});

describe("the manifest's privacy block", () => {
  it("accepts the default and refuses out-of-range noise parameters", () => {
    assert.ok(privacySpecSchema.safeParse(DEFAULT_PRIVACY_SPEC).success);
    for (const bad of [
      { sigma: 0 },
      { sigma: -5 },
      { sigma: Infinity },
      { secondOrderSigma: NaN },
      { maxRecords: 0 },
      { maxRecords: 317 },
      { maxRecords: 2.5 },
      { delta: 0 },
      { delta: 0.5 },
      { mechanism: "gaussian" },
      { extra: 1 },
    ])
      assert.equal(
        privacySpecSchema.safeParse({ ...DEFAULT_PRIVACY_SPEC, ...bad }).success,
        false,
        JSON.stringify(bad),
      );
  });
});
