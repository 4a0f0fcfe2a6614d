/**
 * Crowd fine-tuning accuracy without the chain: the rounds of `npm start`'s bounty (script/finetune-demo.ts) in one
 * process, through the code the processes run — a trainer's `localUpdate` (device-runner/trainer.ts, prior-shift
 * correction included), the groups of `trainingGroups` (sdk/protocol/training-round.ts), the refiner's
 * `meanUpdateOf` / `controlGain` / `selectGroups` / `candidateWeights` (relayers/refiner/) and `FineTuning`'s
 * acceptance rule (the round's split metric beats the last accepted one by `minGainBps`). Stand-ins: the plain sum
 * for SecAgg (whose fixed-point encoding rounds to 2^-25 at clip 10), the TS forward pass for ONNX Runtime, a hashed
 * string for each round's seed (the chain uses the `RoundOpened` block hash), and the package's control-group
 * confusion counted by the TS forward pass.
 *
 *   npm run bench:finetune -- [--devices 50] [--trainers 20] [--rounds 5] [--group-size 5] [--all-rounds-trained]
 *                             [--epochs E] [--learning-rate L] [--clip-norm C] [--no-prior-shift] [--seed s]
 *
 * `--rounds` is the bounty's round count and, as in the demo, round 0 trains nobody unless `--all-rounds-trained`
 * (it opens in `createBounty`, before anyone enrolled). The test emails are cut into `rounds` acceptance splits and a
 * held-out rest the demo's way, so the held-out set is the demo's. Prints per round the kept groups, clipped updates,
 * the candidate's control-group, split and held-out accuracy and the verdict, then the final version beside the
 * centralized baseline (the demo's: all device inboxes) and the same recipe trained on the trainers' inboxes only.
 */
import { Command } from "commander";
import { keccak256, toHex, type Address } from "viem";
import { deviceAccount } from "#sdk/crypto/session-key.ts";
import {
  accuracy,
  buildClassifierPackage,
  flatten,
  l2Norm,
  predict,
  prepareWorkload,
  referenceManifestFields,
  trainBaseline,
  trainReference,
  vectorize,
  weightDelta,
  type Email,
  type LabelledVectors,
  type LoadedPackage,
  type LogRegWeights,
} from "#sdk/ml/index.ts";
import { trainingGroups, TRAINING_DEFAULTS } from "#sdk/protocol/training-round.ts";
import { localUpdate } from "../device-runner/trainer.ts";
import { selectGroups, type GroupUpdate } from "../relayers/refiner/Refiner.ts";
import {
  candidateWeights,
  controlGain,
  meanUpdateOf,
  type GroupSum,
} from "../relayers/refiner/updates.ts";

const o = new Command()
  .option("--devices <n>", "simulated devices (inboxes), as npm start's --devices", "50")
  .option("--trainers <n>", "devices that enrol (the first ones, as in the demo)", "20")
  .option("--rounds <n>", "the bounty's rounds", "5")
  .option("--all-rounds-trained", "round 0 trains too (trainers enrolled before it opened)", false)
  .option("--group-size <n>", "trainers per SecAgg group (the demo's bounty: 5)", "5")
  .option("--epochs <n>", "local epochs", String(TRAINING_DEFAULTS.epochs))
  .option("--learning-rate <x>", "local learning rate", String(TRAINING_DEFAULTS.learningRate))
  .option("--clip-norm <x>", "L2 clip of a trainer's update", String(TRAINING_DEFAULTS.clipNorm))
  .option(
    "--no-prior-shift",
    "train without the prior-shift correction (packages without a control group)",
  )
  .option("--min-gain-bps <n>", "the bounty's minGainBps (the demo's: 10)", "10")
  .option("--seed <s>", "salt of the rounds' group draws", "")
  .parse()
  .opts<{
    devices: string;
    trainers: string;
    rounds: string;
    allRoundsTrained: boolean;
    groupSize: string;
    epochs: string;
    learningRate: string;
    clipNorm: string;
    priorShift: boolean;
    minGainBps: string;
    seed: string;
  }>();
const ROUNDS = Number(o.rounds);
const TRAINERS = Number(o.trainers);
const train = {
  epochs: Number(o.epochs),
  learningRate: Number(o.learningRate),
  clipNorm: Number(o.clipNorm),
};
const minGain = Number(o.minGainBps) / 10_000;

const started = performance.now();
const workload = await prepareWorkload({ split: { devices: Number(o.devices) } });
const { featurizer, control } = workload;
const test = workload.split.test;
const slice = Math.floor(test.length / (ROUNDS + 1));
const vec = (emails: readonly Email[]): LabelledVectors => vectorize(featurizer, emails);
const splits = Array.from({ length: ROUNDS }, (_, r) =>
  vec(test.slice(r * slice, (r + 1) * slice)),
);
const heldOut = vec(test.slice(ROUNDS * slice));

const trainers = workload.split.inboxes.slice(0, TRAINERS).map((inbox, i) => ({
  // the demo's device keys, so the group draw orders the same addresses
  address: deviceAccount(keccak256(toHex(`dml demo device ${i}`))).address,
  rows: inbox.emails.map((e) => ({ record: { subject: e.subject, body: e.body }, label: e.label })),
}));
const rowsOf = new Map<string, (typeof trainers)[number]["rows"]>(
  trainers.map((t) => [t.address, t.rows]),
);

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
/** A package of `w` whose manifest carries its control-group confusion, as the refiner's candidates do. */
const packageOf = (w: LogRegWeights): LoadedPackage => {
  const confusion = [
    [0, 0],
    [0, 0],
  ];
  control.x.forEach((x, i) => (confusion[control.y[i]!]![predict(w, x)]! += 1));
  const fields = referenceManifestFields();
  const { manifest, model } = buildClassifierPackage(
    w,
    o.priorShift
      ? {
          ...fields,
          controlGroup: { source: "bench", recordsSha256: "0".repeat(64), confusion },
        }
      : fields,
  );
  return { cid: "bench", manifest, model, featurizer };
};

const reference = trainReference(workload);
const central = trainBaseline(workload);
const centralTrainers = trainBaseline({
  ...workload,
  devices: workload.devices.slice(0, TRAINERS),
});
console.log(
  `${o.devices} inboxes; ${TRAINERS} trainers holding ${trainers.reduce((s, t) => s + t.rows.length, 0)} emails; groups of ${o.groupSize}; ` +
    `local training ${train.epochs} epochs at rate ${train.learningRate}, clip ${train.clipNorm}, prior-shift correction ${o.priorShift ? "on" : "off"}; ` +
    `${ROUNDS} rounds${o.allRoundsTrained ? "" : " (round 0 untrained)"}; control ${control.x.length} emails, splits of ${slice}, held-out ${heldOut.x.length}`,
);
console.log(
  `reference: control ${pct(accuracy(reference, control))}, held-out ${pct(accuracy(reference, heldOut))}; ` +
    `centralized baseline (all inboxes): held-out ${pct(accuracy(central, heldOut))}; ` +
    `the same recipe on the trainers' inboxes only: held-out ${pct(accuracy(centralTrainers, heldOut))}`,
);

let current = reference;
let acceptedMetric = accuracy(reference, splits[Math.min(1, ROUNDS - 1)]!); // the demo's baselineMetric
const parameters = flatten(reference).length;
for (let round = 0; round < ROUNDS; round++) {
  if (round === 0 && !o.allRoundsTrained) {
    console.log("round 0: opened before anyone enrolled, closed at its deadline");
    continue;
  }
  const t0 = performance.now();
  const pkg = packageOf(current);
  const groups = trainingGroups(
    keccak256(toHex(`bench round ${round} ${o.seed}`)),
    trainers.map((t) => t.address),
    Number(o.groupSize),
  );
  let clipped = 0;
  const sums: (GroupSum & { members: Address[] })[] = groups.map((members, group) => {
    const sum = new Float64Array(parameters + 1);
    for (const a of members) {
      const { vector, before, after } = localUpdate(pkg, rowsOf.get(a)!, train);
      if (l2Norm(weightDelta(before, after)) > train.clipNorm) clipped += 1;
      vector.forEach((v, i) => (sum[i]! += v));
    }
    return { group, survivors: members.length, sum, members };
  });
  const updates: GroupUpdate[] = sums.map((g) => {
    const { delta, samples } = meanUpdateOf(g, parameters);
    return {
      group: g.group,
      members: g.members,
      samples,
      gain: controlGain(current, delta, control),
    };
  });
  const kept = new Set(selectGroups(updates).map((g) => g.group));
  const gains = updates.map((u) => (Number(u.gain) / 1e16).toFixed(2)).join(" ");
  if (kept.size === 0) {
    console.log(`round ${round}: no group improves the control group (gains ${gains} points)`);
    continue;
  }
  const candidate = candidateWeights(
    current,
    sums.filter((g) => kept.has(g.group)),
    parameters,
  );
  const metric = accuracy(candidate, splits[round]!);
  const accepted = metric - acceptedMetric >= minGain - 1e-12;
  console.log(
    `round ${round}: ${kept.size}/${groups.length} groups kept (control gains ${gains} points), ${clipped}/${TRAINERS} updates clipped; ` +
      `candidate control ${pct(accuracy(candidate, control))}, split ${pct(metric)} (last accepted ${pct(acceptedMetric)}) → ${accepted ? "accepted" : "rejected"}; ` +
      `held-out ${pct(accuracy(candidate, heldOut))}; ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  if (accepted) {
    current = candidate;
    acceptedMetric = metric;
  }
}
const final = accuracy(current, heldOut);
const baseline = accuracy(central, heldOut);
console.log(
  `final version: held-out ${pct(accuracy(reference, heldOut))} (reference) → ${pct(final)}; centralized baseline ${pct(baseline)} ` +
    `(${((baseline - final) * 100).toFixed(2)} points short); ${((performance.now() - started) / 1000).toFixed(1)} s in all`,
);
