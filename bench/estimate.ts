/**
 * Estimator benchmark (PROTOCOL.md §7.11): N seeded simulated prediction jobs, each with
 *
 *   - a fresh split of the SpamAssassin corpus (seed per run): a device population of D inboxes with Beta(0.9, 2)
 *     spam propensities, a public control group and a developer slice;
 *   - the reference model trained on that developer slice, exported to ONNX, its confusion matrix measured with
 *     ONNX Runtime on the control group (what `buildReferencePackage` publishes in the manifest);
 *   - a cohort of m devices drawn from the D (m cycles through --cohorts; D = --population-factor · m), each running
 *     the ONNX model on its inbox and reducing it to its `classification-stats/v2` result vector;
 *   - in-process SecAgg over the cohort (real clients and server, signatures, masks), one device dropping out on
 *     every other run;
 *   - the crowd estimates from the decoded sum alone: classify-and-count (cluster-robust interval) and adjusted
 *     classify-and-count (control-group TPR/FPR, delta-method interval), 95% intervals with Student's t quantile
 *     (`Estimate.halfWidth`).
 *
 * The truth is the spam share over all D inboxes (the device population the cohort is drawn from). It prints bias,
 * RMSE and the coverage of the 95% interval of each estimator (and, for reference, of the mean predicted probability
 * with the records-as-independent standard error, the estimate `npm start` used to report).
 *
 * `--dp off|on|both` (default both): every run also (or only) aggregates with distributed DP (docs/privacy.md): each
 * device reads at most the reference privacy spec's `maxRecords` records and adds its share of discrete Gaussian
 * noise (seeded per run here, for reproducibility; devices use the CSPRNG) to its encoded vector before masking; the
 * sum is decoded exactly (`decodeNoisyResult`) and the estimators include the noise variance. Both grids use the
 * same runs (same splits, models, cohorts and dropouts), so they differ by the noise alone.
 *
 *   npm run bench:estimate -- --runs 200 [--cohorts 5,10,20,40] [--population-factor 10] [--seed s] [--dp both]
 */
import { Command, InvalidArgumentError } from "commander";
import { progressCallback } from "#sdk/cli/progress.ts";
import { sessionSignerOf, type SessionSigner } from "#sdk/crypto/session-key.ts";
import { keccak256, toHex, zeroAddress } from "viem";
import {
  buildReferencePackage,
  emailText,
  getFeaturizer,
  hashedBowSpec,
  loadCorpus,
  OnnxClassifier,
  Prng,
  splitCorpus,
  trainReference,
  Z95,
  type Email,
  type Estimate,
  type LabelledVectors,
  type Prediction,
  type Workload,
} from "#sdk/ml/index.ts";
import { simulateSession } from "#sdk/secagg/index.ts";
import { DEFAULT_PRIVACY_SPEC, seededRandom } from "#sdk/privacy/index.ts";
import { decodeNoisyResult, jobPrivacy, noisyResultVector } from "#sdk/protocol/result-privacy.ts";
import { crowdEstimate, reduceToResultVector } from "#sdk/protocol/result-vector.ts";
import { jobSessionConfig } from "#sdk/protocol/session.ts";

const positiveInt = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("expected a positive integer");
  return n;
};
const opts = new Command()
  .name("bench-estimate")
  .option("--runs <n>", "simulated jobs", positiveInt, 200)
  .option(
    "--cohorts <list>",
    "cohort sizes, cycled over the runs",
    (v) => v.split(",").map(positiveInt),
    [5, 10, 20, 40],
  )
  .option("--population-factor <k>", "device population D = k · cohort size", positiveInt, 10)
  .option("--seed <seed>", "bench seed", "dml/bench-estimate/v1")
  .option(
    "--dp <mode>",
    "distributed DP: off, on or both",
    (v) => {
      if (v !== "off" && v !== "on" && v !== "both")
        throw new InvalidArgumentError("expected off, on or both");
      return v;
    },
    "both",
  )
  .parse()
  .opts<{
    runs: number;
    cohorts: number[];
    populationFactor: number;
    seed: string;
    dp: "off" | "on" | "both";
  }>();
const modes = opts.dp === "both" ? (["off", "on"] as const) : ([opts.dp] as const);
const spec = DEFAULT_PRIVACY_SPEC;

const corpus = await loadCorpus({ onProgress: progressCallback("parsing SpamAssassin corpus") });
const featurizer = getFeaturizer(hashedBowSpec());
const features = new Map(corpus.map((e) => [e.id, featurizer.featurize(emailText(e))]));
const vectors = (emails: readonly Email[]): LabelledVectors => ({
  x: emails.map((e) => features.get(e.id)!),
  y: emails.map((e) => e.label),
});

const accounts = new Map<number, SessionSigner>();
const account = (id: number) => {
  let a = accounts.get(id);
  if (!a) accounts.set(id, (a = sessionSignerOf(keccak256(toHex(`bench device ${id}`)))));
  return a;
};

interface Tally {
  err: number[];
  se: number[];
  covered: number;
  coveredCohort: number;
}
const tally = (): Tally => ({ err: [], se: [], covered: 0, coveredCohort: 0 });
const grid = () => ({ cc: tally(), adjusted: tally(), meanProb: tally() });
const results = { off: grid(), on: grid() };
const byCohort = new Map<string, { cc: Tally; adjusted: Tally }>();
let rhoSum = 0;
let epsSum = 0;
let truncated = 0;
const record = (
  t: Tally,
  e: Pick<Estimate, "estimate" | "stdError" | "halfWidth">,
  truth: number,
  cohortTruth: number,
) => {
  t.err.push(e.estimate - truth);
  t.se.push(e.stdError);
  if (Math.abs(e.estimate - truth) <= e.halfWidth) t.covered++;
  if (Math.abs(e.estimate - cohortTruth) <= e.halfWidth) t.coveredCohort++;
};

const started = performance.now();
const progress = progressCallback(`${opts.runs} simulated jobs`);
let tprSum = 0;
let fprSum = 0;
for (let run = 0; run < opts.runs; run++) {
  const m = opts.cohorts[run % opts.cohorts.length]!;
  const D = opts.populationFactor * m;
  const rng = new Prng(`${opts.seed}/${run}`);
  const split = splitCorpus(corpus, { seed: `${opts.seed}/${run}`, devices: D });
  const workload: Workload = {
    split,
    featurizer,
    test: { x: [], y: [] },
    control: vectors(split.control),
    developer: vectors(split.developer),
    devices: [],
  };
  const built = await buildReferencePackage(workload, trainReference(workload));
  const confusion = built.manifest.controlGroup!.confusion;
  const classes = built.manifest.outputLabels.length;
  const spam = built.manifest.outputLabels.indexOf("spam");

  // the cohort: m of the D devices, drawn by the run's seed
  const cohort = rng
    .fork("cohort")
    .shuffle(split.inboxes.map((_, i) => i))
    .slice(0, m);
  const session = await OnnxClassifier.load(built.model, featurizer.dim, classes);
  const inputs = new Map<number, Float64Array>();
  // DP jobs read each device's first spec.maxRecords records
  const dpInputs = new Map<number, Float64Array>();
  try {
    for (const [j, d] of cohort.entries()) {
      const probs = await session.run(vectors(split.inboxes[d]!.emails).x);
      const preds: Prediction[] = probs.map((p) => {
        let label = 0;
        p.forEach((v, k) => {
          if (v > (p[label] ?? 0)) label = k;
        });
        return { probabilities: p, label };
      });
      inputs.set(j + 1, reduceToResultVector(preds, classes));
      if (preds.length > spec.maxRecords) truncated++;
      dpInputs.set(j + 1, reduceToResultVector(preds.slice(0, spec.maxRecords), classes));
    }
  } finally {
    await session.release();
  }

  // in-process SecAgg over the cohort; on odd runs the last member drops out before sending its masked input
  const roster = cohort.map((_, j) => ({ id: j + 1, address: account(j + 1).address }));
  const config = jobSessionConfig({
    chainId: 31337,
    jobMarket: zeroAddress,
    jobId: BigInt(run + 1),
    cohort: { members: roster } as never,
    sessionKeys: roster.map((r) => account(r.id).sessionKey),
    classes,
  });
  const drops = new Map<number, 0 | 1 | 2 | 3>(run % 2 === 1 ? [[m, 2]] : []);
  const privacy = jobPrivacy(spec, classes, config, 1);
  const noise = seededRandom(`${opts.seed}/${run}/noise`);
  const share = (emails: readonly Email[]) =>
    emails.filter((e) => e.label === 1).length / emails.length;
  const truth = share(split.inboxes.flatMap((i) => i.emails));

  for (const mode of modes) {
    const report = await simulateSession({
      config,
      accounts: new Map(roster.map((r) => [r.id, account(r.id)])),
      inputs:
        mode === "off"
          ? inputs
          : new Map(
              [...dpInputs].map(([id, v]) => [id, noisyResultVector(v, classes, privacy, noise)]),
            ),
      drops,
    });
    const { survivors } = report.result;
    const est =
      mode === "off"
        ? crowdEstimate(report.result.decoded, classes, survivors.length, confusion)
        : (() => {
            const { decoded, noiseVariance } = decodeNoisyResult(
              report.result.sum,
              survivors.length,
              privacy,
            );
            return crowdEstimate(decoded, classes, survivors.length, confusion, noiseVariance);
          })();
    const cohortTruth = share(survivors.flatMap((id) => split.inboxes[cohort[id - 1]!]!.emails));
    const cc: Estimate = est.classifyAndCount[spam]!;
    const adj = est.adjusted![spam]!;
    const res = results[mode];
    if (mode === modes[0]) {
      tprSum += adj.rates.tpr;
      fprSum += adj.rates.fpr;
    }
    const per = byCohort.get(`${mode}/${m}`) ?? { cc: tally(), adjusted: tally() };
    byCohort.set(`${mode}/${m}`, per);
    for (const t of [res.cc, per.cc]) record(t, cc, truth, cohortTruth);
    for (const t of [res.adjusted, per.adjusted]) record(t, adj, truth, cohortTruth);
    const se = est.stdError[spam]!;
    record(
      res.meanProb,
      { estimate: est.meanProbability[spam]!, stdError: se, halfWidth: Z95 * se },
      truth,
      cohortTruth,
    );
  }
  rhoSum += privacy.rho;
  epsSum += privacy.epsilon;
  progress(run + 1, opts.runs);
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const line = (name: string, t: Tally) => {
  const bias = mean(t.err);
  const rmse = Math.sqrt(mean(t.err.map((e) => e * e)));
  const se = mean(t.se);
  const n = t.err.length;
  return (
    `${name.padEnd(44)} bias ${bias >= 0 ? "+" : ""}${bias.toFixed(4)} (${(bias / se).toFixed(2)} SE)  ` +
    `RMSE ${rmse.toFixed(4)}  mean SE ${se.toFixed(4)}  coverage ${((100 * t.covered) / n).toFixed(1)}%` +
    `  (of the cohort's own share ${((100 * t.coveredCohort) / n).toFixed(1)}%)`
  );
};
console.log(
  `\n${opts.runs} jobs, cohorts ${opts.cohorts.join("/")} of populations ${opts.populationFactor}×, ` +
    `one dropout every other run; ` +
    `mean control-group TPR ${(tprSum / opts.runs).toFixed(3)}, FPR ${(fprSum / opts.runs).toFixed(3)}; ` +
    `${((performance.now() - started) / 1000).toFixed(0)} s`,
);
if (modes.includes("on" as never))
  console.log(
    `DP on: distributed discrete Gaussian, σ = ${spec.sigma} records (counts), σ₂ = ${spec.secondOrderSigma} ` +
      `(squares, cross-products), ≤ ${spec.maxRecords} records per device (${truncated} device inboxes truncated); ` +
      `mean ρ = ${(rhoSum / opts.runs).toFixed(3)} per job, (ε, δ) = (${(epsSum / opts.runs).toFixed(2)}, ${spec.delta})`,
  );
for (const mode of modes) {
  const r = results[mode];
  console.log(`DP ${mode}:`);
  console.log(line("adjusted classify-and-count (delta method)", r.adjusted));
  console.log(line("classify-and-count (cluster-robust)", r.cc));
  console.log(line("mean probability (records as independent)", r.meanProb));
  for (const m of [...new Set(opts.cohorts)].sort((a, b) => a - b)) {
    const t = byCohort.get(`${mode}/${m}`);
    if (!t) continue;
    console.log(line(`  cohort ${m}: adjusted`, t.adjusted));
    console.log(line(`  cohort ${m}: classify-and-count`, t.cc));
  }
}
console.log(
  `\ntargets at N = 200 (adjusted, DP off and on): coverage ≥ 93%, |bias| ≤ 0.5 SE — ` +
    `npm run bench:estimate -- --runs 200 --dp both`,
);
