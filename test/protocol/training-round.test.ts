/**
 * sdk/protocol/training-round.ts: the groups nobody chooses (deterministic from the round seed, in draw-score
 * order, a short last group merged), the group lists' roots, labelled sets on Helia (checked at the boundary), and
 * the accuracy metric of a real ONNX package equal to an independent count with the JS forward pass.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { getAddress, keccak256, toHex, type Address } from "viem";
import { cohortScore } from "#sdk/chain/cohort.ts";
import { HeliaStore } from "#sdk/ipfs/index.ts";
import {
  buildReferencePackage,
  loadPackage,
  predict,
  prepareWorkload,
  publishPackage,
  trainReference,
  type LoadedPackage,
  type Workload,
} from "#sdk/ml/index.ts";
import { ProtocolError } from "#sdk/protocol/errors.ts";
import {
  accuracyMetric,
  DEFAULT_GROUP_SIZE,
  encodeLabelledSet,
  fetchLabelledSet,
  groupOf,
  MIN_GROUP,
  trainingGroupList,
  trainingGroups,
  trainingRoundSeed,
  type LabelledSet,
} from "#sdk/protocol/training-round.ts";

const addr = (i: number): Address => getAddress(`0x${(i + 1).toString(16).padStart(40, "0")}`);
const trainers = (n: number): Address[] => Array.from({ length: n }, (_, i) => addr(i));

describe("training groups", () => {
  const seed = trainingRoundSeed(keccak256(toHex("block")), 7n);

  it("cuts the trainers in draw-score order into groups of g; a last group under MIN_GROUP joins the one before", () => {
    assert.deepEqual(
      trainingGroups(seed, trainers(20), 8).map((g) => g.length),
      [8, 8, 4],
    );
    assert.deepEqual(
      trainingGroups(seed, trainers(18), 8).map((g) => g.length),
      [8, 10],
      "8 + 8 + 2: the 2 join the second group",
    );
    assert.deepEqual(trainingGroups(seed, trainers(2), 8), [], "fewer than MIN_GROUP: no group");
    assert.equal(trainingGroups(seed, trainers(9), 0)[0]!.length, DEFAULT_GROUP_SIZE + 1);
    const flat = trainingGroups(seed, trainers(20), 8).flat();
    const scores = flat.map((t) => cohortScore(seed, t));
    for (let i = 1; i < scores.length; i++)
      assert.ok(scores[i - 1]! < scores[i]!, "ascending score");
  });

  it("does not depend on the order trainers enrolled in, counts a repeated trainer once, and changes with the seed", () => {
    const list = trainers(12);
    const a = trainingGroups(seed, list, 4);
    const b = trainingGroups(seed, [...list].reverse().concat(list.slice(0, 3)), 4);
    assert.deepEqual(a, b);
    const other = trainingGroups(trainingRoundSeed(keccak256(toHex("other block")), 7n), list, 4);
    assert.notDeepEqual(a, other, "another RoundOpened block → other groups");
    assert.notDeepEqual(
      a,
      trainingGroups(trainingRoundSeed(keccak256(toHex("block")), 8n), list, 4),
      "another bounty → other groups",
    );
  });

  it("refuses a group size under MIN_GROUP", () => {
    assert.throws(
      () => trainingGroups(seed, trainers(6), MIN_GROUP - 1),
      (e) => e instanceof ProtocolError && e.code === "SESSION_INVALID",
    );
  });

  it("gives each trainer its group and client id, and a group list whose root is its members'", () => {
    const groups = trainingGroups(seed, trainers(10), 5);
    const t = groups[1]![3]!;
    assert.deepEqual(groupOf({ groups }, t), { group: 1, clientId: 4 });
    assert.equal(groupOf({ groups }, addr(99)), undefined);
    const a = trainingGroupList(7n, groups[1]!);
    assert.deepEqual(
      a.list.members.map((m) => m.address),
      groups[1],
    );
    assert.equal(a.list.jobId, "7");
    assert.notEqual(a.root, trainingGroupList(7n, groups[0]!).root);
  });
});

describe("labelled sets and the accuracy metric", () => {
  let store: HeliaStore;
  let dir: string;
  let workload: Workload;
  let pkg: LoadedPackage;
  let set: LabelledSet;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "dml-training-round-"));
    store = await HeliaStore.open({ dir });
    workload = await prepareWorkload();
    const weights = trainReference(workload);
    const built = await buildReferencePackage(workload, weights);
    const cid = await publishPackage(store, built.manifest, built.model);
    pkg = await loadPackage(store, cid, built.manifest.modelSha256);
    set = {
      version: 1,
      name: "control",
      labels: ["ham", "spam"],
      records: workload.split.control.map((e) => ({
        id: e.id,
        subject: e.subject,
        body: e.body,
        label: e.label,
      })),
    };
  });
  after(async () => {
    await store?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("round-trips a set through Helia and refuses malformed ones with LABELLED_SET_INVALID", async () => {
    const cid = await store.addBytes(encodeLabelledSet(set));
    const back = await fetchLabelledSet(store, cid);
    assert.equal(back.records.length, set.records.length);
    const bad = async (bytes: Uint8Array) =>
      assert.rejects(
        fetchLabelledSet(store, await store.addBytes(bytes)),
        (e) => e instanceof ProtocolError && e.code === "LABELLED_SET_INVALID",
      );
    await bad(new TextEncoder().encode("not json"));
    await bad(new TextEncoder().encode(JSON.stringify({ ...set, version: 2 })));
    await bad(
      new TextEncoder().encode(
        JSON.stringify({ ...set, records: [{ id: "x", subject: "", body: "", label: 5 }] }),
      ),
    );
    await bad(new TextEncoder().encode(JSON.stringify({ ...set, records: [] })));
  });

  it("counts the package's correct predictions (ONNX Runtime) exactly as the JS forward pass does", async () => {
    const metric = await accuracyMetric(pkg, set);
    const weights = trainReference(workload);
    let correct = 0;
    workload.control.x.forEach((x, i) => {
      if (predict(weights, x) === workload.control.y[i]) correct++;
    });
    const js = (BigInt(correct) * 10n ** 18n) / BigInt(set.records.length);
    const oneRecord = 10n ** 18n / BigInt(set.records.length) + 1n;
    const diff = metric > js ? metric - js : js - metric;
    assert.ok(diff <= oneRecord, `ONNX ${metric} vs JS ${js}`);
    assert.ok(metric > 8n * 10n ** 17n, `reference accuracy ${metric} > 0.8`);
    const flipped = { ...set, records: set.records.map((r) => ({ ...r, label: 1 - r.label })) };
    const sum = (await accuracyMetric(pkg, flipped)) + metric;
    assert.ok(sum <= 10n ** 18n && sum >= 10n ** 18n - 1n, "flipping every label: the complement");
    await assert.rejects(
      accuracyMetric(pkg, { ...set, labels: ["spam", "ham"] }),
      (e) => e instanceof ProtocolError && e.code === "LABELLED_SET_INVALID",
    );
  });
});
