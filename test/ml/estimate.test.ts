import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  adjustedEstimate,
  classRates,
  clusterSums,
  Prng,
  ratioEstimate,
  shareEstimate,
  tQuantile975,
  Z95,
  type ClusterSums,
} from "#sdk/ml/index.ts";

const close = (a: number, b: number, tol = 1e-12) =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} ≠ ${b}`);

// four devices (n_i, c_i): q̂ = 30/100 = 0.3; residuals c_i − 0.3·n_i = 0, 2, −3, 1; Σ² = 14
const DEVICES: [number, number][] = [
  [10, 3],
  [20, 8],
  [30, 6],
  [40, 13],
];
// control group: 100 ham (10 predicted spam), 100 spam (80 predicted spam) → TPR 0.8, FPR 0.1
const CONFUSION = [
  [90, 10],
  [20, 80],
];

describe("classRates", () => {
  it("reads one-vs-rest rates off the confusion matrix", () => {
    assert.deepEqual(classRates(CONFUSION, 1), {
      tpr: 0.8,
      fpr: 0.1,
      positives: 100,
      negatives: 100,
    });
    assert.deepEqual(classRates(CONFUSION, 0), {
      tpr: 0.9,
      fpr: 0.2,
      positives: 100,
      negatives: 100,
    });
    const three = [
      [8, 1, 1],
      [2, 6, 2],
      [0, 3, 27],
    ];
    assert.deepEqual(classRates(three, 2), { tpr: 0.9, fpr: 0.15, positives: 30, negatives: 20 });
    assert.throws(() => classRates(CONFUSION, 2), RangeError);
    assert.throws(
      () =>
        classRates(
          [
            [5, 0],
            [0, 0],
          ],
          1,
        ),
      RangeError,
    );
  });
});

describe("ratio estimator (classify-and-count)", () => {
  it("sums per-device totals, squares and cross-products", () => {
    assert.deepEqual(clusterSums(DEVICES), {
      devices: 4,
      n: 100,
      c: 30,
      nn: 3000,
      nc: 890,
      cc: 278,
    });
  });

  it("has the cluster-robust variance m/(m−1)·Σ(c_i − q̂ n_i)²/(Σn)² (known answer)", () => {
    const e = ratioEstimate(clusterSums(DEVICES));
    close(e.estimate, 0.3);
    close(e.variance, ((4 / 3) * 14) / 100 ** 2);
    close(e.stdError, Math.sqrt(((4 / 3) * 14) / 100 ** 2));
    // 4 devices: t with 3 degrees of freedom
    assert.equal(e.df, 3);
    close(e.halfWidth, 3.18244631 * e.stdError);
    close(e.interval[0], 0.3 - 3.18244631 * e.stdError);
    close(e.interval[1], 0.3 + 3.18244631 * e.stdError);
  });

  it("matches a direct computation from per-device values on random cohorts", () => {
    const rng = new Prng("estimate/direct");
    for (let trial = 0; trial < 50; trial++) {
      const m = 2 + rng.nextInt(40);
      const per: [number, number][] = Array.from({ length: m }, () => {
        const n = 1 + rng.nextInt(500);
        return [n, rng.nextInt(n + 1)];
      });
      const N = per.reduce((a, [n]) => a + n, 0);
      const q = per.reduce((a, [, c]) => a + c, 0) / N;
      const direct = ((m / (m - 1)) * per.reduce((a, [n, c]) => a + (c - q * n) ** 2, 0)) / N ** 2;
      const e = ratioEstimate(clusterSums(per));
      close(e.estimate, q);
      close(e.variance, direct, 1e-9);
    }
  });

  it("leaves the variance unidentified for one device and refuses an empty crowd", () => {
    assert.equal(ratioEstimate(clusterSums([[10, 3]])).variance, Infinity);
    assert.throws(() => ratioEstimate(clusterSums([])), RangeError);
  });
});

describe("adjusted classify-and-count", () => {
  it("corrects with TPR/FPR and has the delta-method variance (known answer)", () => {
    const a = shareEstimate(clusterSums(DEVICES), CONFUSION, 1);
    const p = (0.3 - 0.1) / (0.8 - 0.1); // 2/7
    close(a.estimate, p);
    close(a.classifyAndCount.estimate, 0.3);
    // hand-computed parts: crowd (4/3)·14/10⁴ = 1.8666…e-3; p²·0.8·0.2/100 = 1.30612…e-4;
    // (1−p)²·0.1·0.9/100 = 4.59183…e-4; total / 0.7² = 5.013188949e-3
    close(a.varianceParts.crowd, 0.0018666666666666666);
    close(a.varianceParts.tpr, 0.00013061224489795917);
    close(a.varianceParts.fpr, 0.0004591836734693878);
    close(a.variance, 0.005013188949049007, 1e-12);
    close(a.stdError, 0.07080387665268764, 1e-12);
    // Welch–Satterthwaite: (Σv)² / (v_crowd²/3 + v_tpr²/99 + v_fpr²/99)
    const [vc, vt, vf] = [0.0018666666666666666, 0.00013061224489795917, 0.0004591836734693878];
    close(a.df, (vc + vt + vf) ** 2 / (vc ** 2 / 3 + vt ** 2 / 99 + vf ** 2 / 99), 1e-12);
    close(a.halfWidth, tQuantile975(a.df) * a.stdError);
  });

  it("uses Student's t quantiles for few devices", () => {
    close(tQuantile975(1), 12.70620474);
    close(tQuantile975(4), 2.77644511);
    close(tQuantile975(30), 2.04227246);
    // scipy: t.ppf(0.975, 50) = 2.0085591121, t.ppf(0.975, 100) = 1.9839715185
    close(tQuantile975(50), 2.0085591121, 1e-6);
    close(tQuantile975(100), 1.9839715185, 1e-6);
    assert.equal(tQuantile975(Infinity), Z95);
    // between integers it errs on the wide side: t.ppf(0.975, 2.5) = 3.5747
    const t25 = tQuantile975(2.5);
    assert.ok(t25 > 3.5747 && t25 < 3.7);
  });

  it("does not clip the estimate, only the interval", () => {
    const cc = ratioEstimate(
      clusterSums([
        [100, 5],
        [100, 7],
      ]),
    );
    const a = adjustedEstimate(cc, { tpr: 0.8, fpr: 0.1, positives: 100, negatives: 100 });
    close(a.estimate, (0.06 - 0.1) / 0.7);
    assert.ok(a.estimate < 0);
    assert.equal(a.interval[0], 0);
    // weights use p clipped to 0: the TPR term vanishes
    assert.equal(a.varianceParts.tpr, 0);
  });

  it("refuses a classifier with TPR ≤ FPR", () => {
    const cc = ratioEstimate(clusterSums(DEVICES));
    assert.throws(
      () => adjustedEstimate(cc, { tpr: 0.3, fpr: 0.3, positives: 10, negatives: 10 }),
      RangeError,
    );
  });

  it("is unbiased on synthetic crowds where classify-and-count is not, and its interval covers", () => {
    // inboxes with Beta(0.9, 2) spam ratios; a classifier with TPR 0.75, FPR 0.08; the control group is redrawn
    // every replication (200 spam, 400 ham). Truth: the population share E[spam ratio] = 0.9/2.9.
    const rng = new Prng("estimate/unbiased");
    const T = 0.75;
    const F = 0.08;
    const truth = 0.9 / 2.9;
    const reps = 800;
    let ccErr = 0;
    let ccErr2 = 0;
    let adjErr = 0;
    let adjErr2 = 0;
    let covered = 0;
    const binom = (n: number, p: number) => {
      let k = 0;
      for (let i = 0; i < n; i++) if (rng.next() < p) k++;
      return k;
    };
    for (let r = 0; r < reps; r++) {
      const m = 10 + rng.nextInt(30);
      const per: [number, number][] = [];
      for (let i = 0; i < m; i++) {
        const n = 20 + rng.nextInt(40);
        const spam = binom(n, rng.beta(0.9, 2));
        per.push([n, binom(spam, T) + binom(n - spam, F)]);
      }
      const tp = binom(200, T);
      const fp = binom(400, F);
      const confusion = [
        [400 - fp, fp],
        [200 - tp, tp],
      ];
      const s: ClusterSums = clusterSums(per);
      const a = shareEstimate(s, confusion, 1);
      const e1 = a.classifyAndCount.estimate - truth;
      const e2 = a.estimate - truth;
      ccErr += e1;
      ccErr2 += e1 * e1;
      adjErr += e2;
      adjErr2 += e2 * e2;
      if (Math.abs(e2) <= a.halfWidth) covered++;
    }
    const mcSe = (sum: number, sum2: number) => Math.sqrt((sum2 / reps - (sum / reps) ** 2) / reps);
    const ccBias = ccErr / reps;
    const adjBias = adjErr / reps;
    // classify-and-count: E[q̂] = F + (T − F)·truth ≈ 0.288 vs truth 0.310
    assert.ok(Math.abs(ccBias) > 8 * mcSe(ccErr, ccErr2), `cc bias ${ccBias}`);
    assert.ok(Math.abs(adjBias) < 3 * mcSe(adjErr, adjErr2), `adjusted bias ${adjBias}`);
    const coverage = covered / reps;
    assert.ok(coverage > 0.92 && coverage < 0.98, `coverage ${coverage}`);
  });
});
