/**
 * Trains the centralized baseline and the developer's reference spam classifier on the SpamAssassin
 * reference workload, prints their accuracies, and optionally writes / publishes the reference package.
 *
 *   npx tsx script/train-reference.ts [--devices 20] [--seed s] [--out dir] [--helia-dir dir]
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { progressCallback } from "#sdk/cli/progress.ts";
import { HeliaStore } from "#sdk/ipfs/index.ts";
import {
  accuracy,
  buildClassifierPackage,
  DEFAULT_SPLIT_PARAMS,
  encodeManifest,
  MANIFEST_FILE,
  MODEL_FILE,
  prepareWorkload,
  publishPackage,
  spamRatio,
  trainBaseline,
  trainReference,
} from "#sdk/ml/index.ts";

const positiveInt = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("expected a positive integer");
  return n;
};

const program = new Command()
  .name("train-reference")
  .option(
    "--devices <n>",
    "number of simulated device inboxes",
    positiveInt,
    DEFAULT_SPLIT_PARAMS.devices,
  )
  .option("--seed <seed>", "split seed", DEFAULT_SPLIT_PARAMS.seed)
  .option("--out <dir>", "write manifest.json and model.onnx of the reference package here")
  .option("--helia-dir <dir>", "publish the reference package to an embedded Helia store here")
  .parse();
const opts = program.opts<{ devices: number; seed: string; out?: string; heliaDir?: string }>();

const workload = await prepareWorkload({
  split: { devices: opts.devices, seed: opts.seed },
  onProgress: progressCallback("parsing SpamAssassin corpus"),
});
const { split } = workload;
const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;
console.log(
  `split (seed ${JSON.stringify(split.params.seed)}): test ${split.test.length}, control ${split.control.length}, ` +
    `developer ${split.developer.length}, ${split.inboxes.length} inboxes with ` +
    `${split.inboxes.reduce((a, i) => a + i.emails.length, 0)} emails`,
);
console.log(
  `inbox spam ratios: ${split.inboxes.map((i) => spamRatio(i.emails).toFixed(2)).join(" ")}`,
);

let t = performance.now();
const baseline = trainBaseline(workload);
console.log(
  `baseline  (centralized, all device data): test accuracy ${pct(accuracy(baseline, workload.test))}, ` +
    `control ${pct(accuracy(baseline, workload.control))} [${((performance.now() - t) / 1000).toFixed(1)} s]`,
);
t = performance.now();
const reference = trainReference(workload);
console.log(
  `reference (developer slice only):         test accuracy ${pct(accuracy(reference, workload.test))}, ` +
    `control ${pct(accuracy(reference, workload.control))} [${((performance.now() - t) / 1000).toFixed(1)} s]`,
);

const pkg = buildClassifierPackage(reference);
console.log(
  `reference package: model.onnx ${pkg.model.length} bytes, sha256 ${pkg.manifest.modelSha256}`,
);
if (opts.out) {
  await mkdir(opts.out, { recursive: true });
  await writeFile(join(opts.out, MANIFEST_FILE), encodeManifest(pkg.manifest));
  await writeFile(join(opts.out, MODEL_FILE), pkg.model);
  console.log(`wrote ${opts.out}/${MANIFEST_FILE} and ${opts.out}/${MODEL_FILE}`);
}
if (opts.heliaDir) {
  const store = await HeliaStore.open({ dir: opts.heliaDir });
  try {
    console.log(`published package CID ${await publishPackage(store, pkg.manifest, pkg.model)}`);
  } finally {
    await store.close();
  }
}
