/**
 * Fast synthetic check of the DP estimator's intervals (docs/privacy.md): no ONNX, no SecAgg — per job, m inboxes of
 * ≈ 4000/(10m) records with Beta(0.9, 2) spam ratios, a classifier simulated at TPR 0.65 / FPR 0.01 (the reference
 * model's rates), a control group of 180 spam / 420 ham; each device's real result vector, real discrete Gaussian
 * noise (seeded) added to its encoding, the Z_2^32 sum decoded exactly, and the adjusted estimate with and without
 * noise against the population share 0.9/2.9. Prints coverage of the 95% interval, mean half-width, RMSE and bias.
 * `bench/estimate.ts` is the real benchmark; this one runs 1,000 jobs per cohort size in about 30 s.
 *
 *   npx tsx bench/estimate-dp-sim.ts [runs per cohort size = 1000]
 */
import { zeroAddress, zeroHash } from "viem";
import { DEFAULT_PRIVACY_SPEC, seededRandom } from "#sdk/privacy/index.ts";
import { Prng, type Prediction } from "#sdk/ml/index.ts";
import { decodeNoisyResult, jobPrivacy, noisyResultVector } from "#sdk/protocol/result-privacy.ts";
import { crowdEstimate, reduceToResultVector } from "#sdk/protocol/result-vector.ts";
import { jobSessionConfig } from "#sdk/protocol/session.ts";
const rng = new Prng("sim");
const noise = seededRandom("simnoise");
const gamma = (a: number): number => {
  // Marsaglia-Tsang
  if (a < 1) return gamma(a + 1) * Math.pow(rng.next(), 1 / a);
  const d = a - 1 / 3,
    c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x, v;
    do {
      const u1 = rng.next(),
        u2 = rng.next();
      x = Math.sqrt(-2 * Math.log(u1 + 1e-300)) * Math.cos(2 * Math.PI * u2);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rng.next();
    if (Math.log(u) < 0.5 * x * x + d - d * v + Math.log(v)) return d * v;
  }
};
const beta = (a: number, b: number) => {
  const x = gamma(a);
  return x / (x + gamma(b));
};
const TPR = 0.65,
  FPR = 0.01,
  npos = 180,
  nneg = 420;
const R = Number(process.argv[2] ?? 1000);
for (const m of [5, 10, 20, 40]) {
  const size = Math.round(4000 / (10 * m));
  const config = jobSessionConfig({
    chainId: 1,
    jobMarket: zeroAddress,
    jobId: 1n,
    cohort: {
      members: Array.from({ length: m }, (_, i) => ({ id: i + 1, address: zeroAddress })),
    } as never,
    // the simulation signs nothing: no session keys registered
    sessionKeys: Array.from({ length: m }, () => zeroHash),
    classes: 2,
  });
  const privacy = jobPrivacy(DEFAULT_PRIVACY_SPEC, 2, config, 1);
  const cov = { off: 0, on: 0 };
  const hw = { off: 0, on: 0 };
  const err2 = { off: 0, on: 0 };
  const bias = { off: 0, on: 0 };
  for (let r = 0; r < R; r++) {
    const binomial = (n: number, p: number) => {
      let k = 0;
      for (let t = 0; t < n; t++) if (rng.next() < p) k++;
      return k;
    };
    const tp = binomial(npos, TPR);
    const fp = binomial(nneg, FPR);
    const confusion = [
      [nneg - fp, fp],
      [npos - tp, tp],
    ];
    // population truth 0.31 (Beta(0.9,2) mean)
    const truth = 0.9 / 2.9;
    const vecs = Array.from({ length: m }, () => {
      const p = beta(0.9, 2);
      const n = Math.max(1, Math.round(size * (0.5 + rng.next())));
      const preds: Prediction[] = Array.from({ length: n }, () => {
        const spam = rng.next() < p;
        const lab = spam ? (rng.next() < TPR ? 1 : 0) : rng.next() < FPR ? 1 : 0;
        return { probabilities: Float32Array.of(1 - lab, lab), label: lab };
      });
      return reduceToResultVector(preds, 2);
    });
    const sum = new Float64Array(17);
    for (const v of vecs) v.forEach((x, j) => (sum[j]! += x));
    const off = crowdEstimate(sum, 2, m, confusion).adjusted![1]!;
    const s32 = new Uint32Array(17);
    for (const v of vecs) {
      const x = noisyResultVector(v, 2, privacy, noise);
      for (let j = 0; j < 17; j++) s32[j] = (s32[j]! + x[j]!) >>> 0;
    }
    const { decoded, noiseVariance } = decodeNoisyResult(s32, m, privacy);
    const on = crowdEstimate(decoded, 2, m, confusion, noiseVariance).adjusted![1]!;
    for (const [k, e] of [
      ["off", off],
      ["on", on],
    ] as const) {
      if (Math.abs(e.estimate - truth) <= e.halfWidth) cov[k]++;
      hw[k] += e.halfWidth / R;
      err2[k] += (e.estimate - truth) ** 2 / R;
      bias[k] += (e.estimate - truth) / R;
    }
  }
  console.log(
    `m=${m} size=${size}: DP off: coverage ${((100 * cov.off) / R).toFixed(1)}% half-width ${hw.off.toFixed(4)} RMSE ${Math.sqrt(err2.off).toFixed(4)} bias ${bias.off.toFixed(4)} | DP on: coverage ${((100 * cov.on) / R).toFixed(1)}% half-width ${hw.on.toFixed(4)} RMSE ${Math.sqrt(err2.on).toFixed(4)} bias ${bias.on.toFixed(4)}`,
  );
}
