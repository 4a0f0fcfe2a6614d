import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { utf8ToBytes } from "@noble/hashes/utils.js";
import { HeliaStore, InvalidCidError } from "#sdk/ipfs/index.ts";
import {
  buildClassifierPackage,
  buildManifest,
  classifyRecords,
  encodeManifest,
  exportLogRegOnnx,
  forward,
  getFeaturizer,
  hashedBowSpec,
  loadPackage,
  MANIFEST_FILE,
  MODEL_FILE,
  openClassifier,
  PackageError,
  publishPackage,
  recordText,
  referenceManifestFields,
  sha256Hex,
  train,
  type Manifest,
} from "#sdk/ml/index.ts";

let dir: string;
let store: HeliaStore;
let manifest: Manifest;
let model: Uint8Array;

/** A tiny but real classifier: trained on a few hashed-bow texts. */
function tinyPackage() {
  const f = getFeaturizer(hashedBowSpec());
  const texts = ["win money now", "free prize click", "meeting at noon", "see the attached notes"];
  const weights = train({ x: texts.map((t) => f.featurize(t)), y: [1, 1, 0, 0] }, 2, 20);
  return { weights, ...buildClassifierPackage(weights) };
}

const rejectsWith = (p: Promise<unknown>, code: string) =>
  assert.rejects(p, (e: unknown) => e instanceof PackageError && e.code === code);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "dml-pkg-"));
  store = await HeliaStore.open({ dir });
  ({ manifest, model } = tinyPackage());
});
after(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe("algorithm package", () => {
  it("round-trips through Helia and runs in ONNX Runtime", async () => {
    const { weights } = tinyPackage();
    const cid = await publishPackage(store, manifest, model);
    assert.match(cid, /^bafy/);
    const pkg = await loadPackage(store, cid, `0x${manifest.modelSha256}`);
    assert.deepEqual(pkg.manifest, manifest);
    assert.deepEqual(pkg.model, model);
    assert.equal(pkg.featurizer.dim, 4096);
    const text = recordText(pkg.manifest.inputSchema, { subject: "win", body: "free money" });
    assert.equal(text, "win\nfree money");
    const ort = await openClassifier(pkg);
    try {
      const [p] = await ort.run([pkg.featurizer.featurize(text)]);
      const ts = forward(weights, pkg.featurizer.featurize(text));
      assert.ok(Math.abs((p?.[1] ?? 0) - (ts[1] ?? 0)) < 1e-5);
      assert.ok((p?.[1] ?? 0) > 0.5, "spammy text classified as spam");
    } finally {
      await ort.release();
    }
  });

  it("classifyRecords runs a loaded package on records like a device", async () => {
    const cid = await publishPackage(store, manifest, model);
    const pkg = await loadPackage(store, cid, manifest.modelSha256);
    const records = [
      { subject: "free prize", body: "win money now, click" },
      { subject: "meeting", body: "see the attached notes at noon" },
      { subject: "hi" },
    ];
    const preds = await classifyRecords(pkg, records, 2);
    assert.equal(preds.length, 3);
    assert.deepEqual(
      preds.slice(0, 2).map((p) => pkg.manifest.outputLabels[p.label]),
      ["spam", "ham"],
    );
    for (const p of preds) {
      assert.equal(p.probabilities.length, 2);
      assert.ok(Math.abs((p.probabilities[0] ?? 0) + (p.probabilities[1] ?? 0) - 1) < 1e-6);
    }
    await assert.rejects(classifyRecords(pkg, records, 0), RangeError);
  });

  it("publishing the same package twice gives the same CID", async () => {
    assert.equal(
      await publishPackage(store, manifest, model),
      await publishPackage(store, manifest, model),
    );
  });

  it("rejects corrupted model bytes with MODEL_HASH_MISMATCH", async () => {
    const bad = Uint8Array.from(model);
    bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 0xff;
    const cid = await store.addDirectory([
      { path: MANIFEST_FILE, content: encodeManifest(manifest) },
      { path: MODEL_FILE, content: bad },
    ]);
    await rejectsWith(loadPackage(store, cid, manifest.modelSha256), "MODEL_HASH_MISMATCH");
    await assert.rejects(publishPackage(store, manifest, bad), PackageError);
  });

  it("rejects a package whose hash differs from the expected (on-chain) one", async () => {
    const cid = await publishPackage(store, manifest, model);
    await rejectsWith(loadPackage(store, cid, "00".repeat(32)), "MODEL_HASH_MISMATCH");
    await assert.rejects(loadPackage(store, cid, "0x1234"), RangeError);
  });

  it("rejects a malformed CID with InvalidCidError", async () => {
    await assert.rejects(loadPackage(store, "not-a-cid", manifest.modelSha256), InvalidCidError);
    await assert.rejects(loadPackage(store, " bafy", manifest.modelSha256), InvalidCidError);
  });

  it("rejects an unknown featurizer with UNKNOWN_FEATURIZER", async () => {
    const odd = { ...manifest, featurizer: { id: "text/word2vec", version: 3, params: {} } };
    const cid = await store.addDirectory([
      { path: MANIFEST_FILE, content: utf8ToBytes(JSON.stringify(odd)) },
      { path: MODEL_FILE, content: model },
    ]);
    await rejectsWith(loadPackage(store, cid, manifest.modelSha256), "UNKNOWN_FEATURIZER");
    assert.throws(
      () => buildManifest({ ...referenceManifestFields(), featurizer: odd.featurizer }, model),
      (e: unknown) => e instanceof PackageError && e.code === "UNKNOWN_FEATURIZER",
    );
  });

  it("rejects missing or invalid manifests and missing models", async () => {
    const onlyModel = await store.addDirectory([{ path: MODEL_FILE, content: model }]);
    await rejectsWith(loadPackage(store, onlyModel, manifest.modelSha256), "MANIFEST_MISSING");
    const notJson = await store.addDirectory([
      { path: MANIFEST_FILE, content: utf8ToBytes("{not json") },
      { path: MODEL_FILE, content: model },
    ]);
    await rejectsWith(loadPackage(store, notJson, manifest.modelSha256), "MANIFEST_INVALID");
    const noLabels = await store.addDirectory([
      {
        path: MANIFEST_FILE,
        content: utf8ToBytes(JSON.stringify({ ...manifest, outputLabels: ["only"] })),
      },
      { path: MODEL_FILE, content: model },
    ]);
    await rejectsWith(loadPackage(store, noLabels, manifest.modelSha256), "MANIFEST_INVALID");
    const badParent = await store.addDirectory([
      {
        path: MANIFEST_FILE,
        content: utf8ToBytes(JSON.stringify({ ...manifest, parent: "nope" })),
      },
      { path: MODEL_FILE, content: model },
    ]);
    await rejectsWith(loadPackage(store, badParent, manifest.modelSha256), "MANIFEST_INVALID");
    const onlyManifest = await store.addDirectory([
      { path: MANIFEST_FILE, content: encodeManifest(manifest) },
    ]);
    await rejectsWith(loadPackage(store, onlyManifest, manifest.modelSha256), "MODEL_MISSING");
  });

  it("manifest records the sha256 of the exact model bytes", () => {
    assert.equal(manifest.modelSha256, sha256Hex(model));
    const other = exportLogRegOnnx(tinyPackage().weights, { metadata: { note: "x" } });
    assert.notEqual(sha256Hex(other), manifest.modelSha256);
  });
});
