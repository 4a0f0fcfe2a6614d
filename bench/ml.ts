/**
 * ML core benchmark: featurize throughput, training time, ONNX Runtime inference throughput,
 * package size and Helia publish/load time. Run with `npx tsx bench/ml.ts`.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { progressCallback } from "#sdk/cli/progress.ts";
import { HeliaStore } from "#sdk/ipfs/index.ts";
import {
  accuracy,
  allDeviceEmails,
  buildClassifierPackage,
  concatVectors,
  emailText,
  encodeManifest,
  forward,
  getFeaturizer,
  hashedBowSpec,
  loadCorpus,
  loadPackage,
  OnnxClassifier,
  publishPackage,
  splitCorpus,
  trainBaseline,
  trainFrom,
  trainReference,
  vectorize,
  type Workload,
} from "#sdk/ml/index.ts";

const ms = (t0: number): number => performance.now() - t0;
const fmt = (x: number, d = 0): string => x.toLocaleString("en-US", { maximumFractionDigits: d });

let t = performance.now();
const corpus = await loadCorpus({ onProgress: progressCallback("parsing SpamAssassin corpus") });
console.log(`corpus load (JSONL cache or parse): ${fmt(ms(t))} ms for ${corpus.length} emails`);

const featurizer = getFeaturizer(hashedBowSpec());
const texts = corpus.map(emailText);
const chars = texts.reduce((a, s) => a + s.length, 0);
featurizer.featurize(texts[0] ?? ""); // warm-up
t = performance.now();
for (const s of texts) featurizer.featurize(s);
const featMs = ms(t);
console.log(
  `featurize text/hashed-bow@1 (d=4096): ${fmt((texts.length / featMs) * 1000)} emails/s ` +
    `(${fmt(chars / 1e6 / (featMs / 1000), 1)} MB/s of text, mean ${fmt(chars / texts.length)} chars/email)`,
);

const split = splitCorpus(corpus);
const workload: Workload = {
  split,
  featurizer,
  test: vectorize(featurizer, split.test),
  control: vectorize(featurizer, split.control),
  developer: vectorize(featurizer, split.developer),
  devices: split.inboxes.map((i) => vectorize(featurizer, i.emails)),
};
const deviceRows = allDeviceEmails(split).length;

t = performance.now();
const baseline = trainBaseline(workload);
const baseMs = ms(t);
console.log(
  `train baseline: ${fmt(baseMs)} ms (${deviceRows} emails × 10 epochs, ${fmt((deviceRows * 10) / (baseMs / 1000))} rows/s); ` +
    `test accuracy ${(100 * accuracy(baseline, workload.test)).toFixed(2)}%`,
);
t = performance.now();
const reference = trainReference(workload);
console.log(
  `train reference: ${fmt(ms(t))} ms (${split.developer.length} emails × 20 epochs); ` +
    `test accuracy ${(100 * accuracy(reference, workload.test)).toFixed(2)}%`,
);
const inbox = workload.devices[0];
if (inbox) {
  t = performance.now();
  trainFrom(reference, inbox, 5);
  console.log(
    `local fine-tune (trainFrom, one inbox of ${inbox.x.length} emails × 5 epochs): ${fmt(ms(t), 1)} ms`,
  );
}
const all = concatVectors([workload.test]);
t = performance.now();
for (const x of all.x) forward(baseline, x);
console.log(`TS forward: ${fmt((all.x.length / ms(t)) * 1000)} emails/s`);

const pkg = buildClassifierPackage(reference);
const ort = await OnnxClassifier.load(pkg.model, featurizer.dim, 2);
await ort.run(all.x.slice(0, 8)); // warm-up
for (const batch of [1, 64, all.x.length]) {
  t = performance.now();
  let done = 0;
  for (let i = 0; i < all.x.length; i += batch) {
    await ort.run(all.x.slice(i, i + batch));
    done += Math.min(batch, all.x.length - i);
  }
  console.log(`ORT inference (batch ${batch}): ${fmt((done / ms(t)) * 1000)} emails/s`);
}
await ort.release();

const manifestBytes = encodeManifest(pkg.manifest);
console.log(
  `package: model.onnx ${fmt(pkg.model.length)} B + manifest.json ${fmt(manifestBytes.length)} B = ` +
    `${fmt(pkg.model.length + manifestBytes.length)} B`,
);
const dir = await mkdtemp(join(tmpdir(), "dml-bench-"));
try {
  t = performance.now();
  const store = await HeliaStore.open({ dir });
  const openMs = ms(t);
  t = performance.now();
  const cid = await publishPackage(store, pkg.manifest, pkg.model);
  const pubMs = ms(t);
  t = performance.now();
  await loadPackage(store, cid, pkg.manifest.modelSha256);
  console.log(
    `Helia: open ${fmt(openMs)} ms, publish ${fmt(pubMs, 1)} ms, verified load ${fmt(ms(t), 1)} ms (CID ${cid})`,
  );
  await store.close();
} finally {
  await rm(dir, { recursive: true, force: true });
}
