import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  bernoulliExp,
  cryptoRandom,
  DiscreteGaussian,
  PrivacyError,
  rationalOf,
  seededRandom,
} from "#sdk/privacy/index.ts";

/** Exact PMF of N_Z(0, σ²) on [−R, R] (normalised over a support wide enough that the rest is < 1e-15). */
function pmf(sigma2: number, R: number): Map<number, number> {
  const W = Math.ceil(40 * Math.sqrt(sigma2)) + R;
  let z = 0;
  for (let x = -W; x <= W; x++) z += Math.exp(-(x * x) / (2 * sigma2));
  const m = new Map<number, number>();
  for (let x = -R; x <= R; x++) m.set(x, Math.exp(-(x * x) / (2 * sigma2)) / z);
  return m;
}

/** Pearson χ² of draws against a PMF on [−R, R], the two tails pooled into one bin. */
function chiSquare(draws: number[], p: Map<number, number>, R: number): number {
  const counts = new Map<number, number>();
  let tail = 0;
  for (const x of draws) {
    if (Math.abs(x) > R) tail++;
    else counts.set(x, (counts.get(x) ?? 0) + 1);
  }
  const N = draws.length;
  let chi = 0;
  let inside = 0;
  for (const [x, px] of p) {
    const e = N * px;
    inside += px;
    chi += ((counts.get(x) ?? 0) - e) ** 2 / e;
  }
  const et = N * (1 - inside);
  if (et > 1e-9) chi += (tail - et) ** 2 / et;
  return chi;
}

describe("exact discrete Gaussian sampler", () => {
  it("converts floats to exact dyadic rationals and refuses σ² ≤ 0 or non-finite", () => {
    assert.deepEqual(rationalOf(1.5), { num: 3n, den: 2n });
    assert.deepEqual(rationalOf(100), { num: 100n, den: 1n });
    const r = rationalOf(0.1);
    assert.equal(Number(r.num) / Number(r.den), 0.1);
    for (const bad of [0, -1, NaN, Infinity])
      assert.throws(
        () => new DiscreteGaussian(bad, seededRandom("x")),
        (e: unknown) => e instanceof PrivacyError && e.code === "INVALID_NOISE_PARAMS",
      );
  });

  it("Bernoulli(exp(−γ)) has the right frequency for γ = 1/2 and γ = 5/2", () => {
    const rng = seededRandom("bernoulli-exp");
    for (const [num, den] of [
      [1n, 2n],
      [5n, 2n],
    ] as const) {
      const N = 20_000;
      let k = 0;
      for (let i = 0; i < N; i++) if (bernoulliExp(rng, num, den)) k++;
      const p = Math.exp(-Number(num) / Number(den));
      // 5 standard errors
      assert.ok(Math.abs(k / N - p) < 5 * Math.sqrt((p * (1 - p)) / N), `${k / N} vs ${p}`);
    }
  });

  it("matches the discrete Gaussian PMF on small support (χ², and a 20% wrong σ² is rejected)", () => {
    const sigma2 = 1.5;
    const R = 5;
    const dg = new DiscreteGaussian(sigma2, seededRandom("pmf"));
    const draws = Array.from({ length: 20_000 }, () => dg.sampleNumber());
    // 12 bins → 11 degrees of freedom; the 99.99% quantile of χ²(11) is 35.7
    const chi = chiSquare(draws, pmf(sigma2, R), R);
    assert.ok(chi < 35.7, `χ² = ${chi.toFixed(1)} against the true PMF`);
    const chiWrong = chiSquare(draws, pmf(sigma2 * 1.2, R), R);
    assert.ok(chiWrong > 35.7, `χ² = ${chiWrong.toFixed(1)} against a 20% larger σ² should reject`);
  });

  it("has mean 0 and variance σ² within 5 standard errors (σ = 10, 20,000 draws)", () => {
    const sigma2 = 100;
    const N = 20_000;
    const dg = new DiscreteGaussian(sigma2, seededRandom("moments"));
    let s = 0;
    let ss = 0;
    for (let i = 0; i < N; i++) {
      const x = dg.sampleNumber();
      s += x;
      ss += x * x;
    }
    const mean = s / N;
    const variance = ss / N - mean * mean;
    assert.ok(Math.abs(mean) < 5 * Math.sqrt(sigma2 / N), `mean ${mean}`);
    // the sample variance's standard error is σ²·√(2/N) = 1.0: a σ off by 3% (variance by 6%) fails
    assert.ok(Math.abs(variance - sigma2) < 5 * sigma2 * Math.sqrt(2 / N), `variance ${variance}`);
  });

  it("samples large σ (encoded units) from the CSPRNG", () => {
    const dg = new DiscreteGaussian(4096 ** 2 * 17.3, cryptoRandom());
    const xs = Array.from({ length: 2000 }, () => dg.sampleNumber());
    const v = xs.reduce((a, x) => a + x * x, 0) / xs.length;
    assert.ok(
      Math.abs(v / (4096 ** 2 * 17.3) - 1) < 0.2,
      `variance ratio ${v / (4096 ** 2 * 17.3)}`,
    );
    assert.ok(new Set(xs).size > 1900, "draws repeat too often");
  });
});
