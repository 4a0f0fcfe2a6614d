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
 * `--dp`: there is no differential-privacy code yet (PROTOCOL.md §7.10 is built later), so the flag is accepted and
 * recorded but adds no noise; the runs are identical with and without it.
 *
 *   npm run bench:estimate -- --runs 200 [--cohorts 5,10,20,40] [--population-factor 10] [--seed s] [--dp]
 */
import { Command, InvalidArgumentError } from "commander";
import { sessionSignerOf, type SessionSigner } from "#sdk/crypto/session-key.ts";
import { keccak256, toHex, zeroAddress } from "viem";
import {
  buildReferencePackage,
  cliProgress,
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
import { crowdEstimate, reduceToResultVector } from "../device-runner/result-vector.ts";
import { jobSessionConfig } from "../device-runner/session.ts";

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
  .option("--dp", "distributed DP on (no DP code exists yet: adds no noise)", false)
  .parse()
  .opts<{ runs: number; cohorts: number[]; populationFactor: number; seed: string; dp: boolean }>();

const corpus = await loadCorpus({ onProgress: cliProgress("parsing SpamAssassin corpus") });
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
const results = { cc: tally(), adjusted: tally(), meanProb: tally() };
const byCohort = new Map<number, { cc: Tally; adjusted: Tally }>();
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
const progress = cliProgress(`${opts.runs} simulated jobs`);
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
  const report = await simulateSession({
    config,
    accounts: new Map(roster.map((r) => [r.id, account(r.id)])),
    inputs,
    drops,
  });
  const { decoded, survivors } = report.result;
  // opts.dp: no DP noise exists yet; nothing is added (see the module comment)
  const est = crowdEstimate(decoded, classes, survivors.length, confusion);

  const share = (emails: readonly Email[]) =>
    emails.filter((e) => e.label === 1).length / emails.length;
  const truth = share(split.inboxes.flatMap((i) => i.emails));
  const cohortTruth = share(survivors.flatMap((id) => split.inboxes[cohort[id - 1]!]!.emails));
  const cc: Estimate = est.classifyAndCount[spam]!;
  const adj = est.adjusted![spam]!;
  tprSum += adj.rates.tpr;
  fprSum += adj.rates.fpr;
  const per = byCohort.get(m) ?? { cc: tally(), adjusted: tally() };
  byCohort.set(m, per);
  for (const t of [results.cc, per.cc]) record(t, cc, truth, cohortTruth);
  for (const t of [results.adjusted, per.adjusted]) record(t, adj, truth, cohortTruth);
  const se = est.stdError[spam]!;
  record(
    results.meanProb,
    { estimate: est.meanProbability[spam]!, stdError: se, halfWidth: Z95 * se },
    truth,
    cohortTruth,
  );
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
    `one dropout every other run, DP ${opts.dp ? "on (no DP code yet: no noise added)" : "off"}; ` +
    `mean control-group TPR ${(tprSum / opts.runs).toFixed(3)}, FPR ${(fprSum / opts.runs).toFixed(3)}; ` +
    `${((performance.now() - started) / 1000).toFixed(0)} s`,
);
console.log(line("adjusted classify-and-count (delta method)", results.adjusted));
console.log(line("classify-and-count (cluster-robust)", results.cc));
console.log(line("mean probability (records as independent)", results.meanProb));
for (const [m, t] of [...byCohort.entries()].sort((a, b) => a[0] - b[0])) {
  console.log(line(`  cohort ${m}: adjusted`, t.adjusted));
  console.log(line(`  cohort ${m}: classify-and-count`, t.cc));
}
