/**
 * End to end on real parts: a reference package published to Helia, a cohort list on IPFS, 5 device runners running
 * ONNX Runtime on their SpamAssassin inboxes, secure aggregation through the real SecAgg HTTP server on loopback
 * behind a recording proxy (privacy), a training round, and bad-input jobs that must fail cleanly.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { HeliaStore } from "#sdk/ipfs/index.ts";
import {
  buildClassifierPackage,
  buildReferencePackage,
  clusterSums,
  classifyRecords,
  exportLogRegOnnx,
  hashedBowSpec,
  prepareWorkload,
  publishPackage,
  ratioEstimate,
  referenceManifestFields,
  sha256Hex,
  tokenize,
  trainReference,
  type Email,
  type LoadedPackage,
  loadPackage,
} from "#sdk/ml/index.ts";
import { SecAggHttpServer, decodeMaskedBinary, encodeVector, fromJson } from "#sdk/secagg/index.ts";
import pino from "pino";
import { generatePrivateKey } from "viem/accounts";
import { deviceAccount, type DeviceAccount } from "#sdk/crypto/session-key.ts";
import { zeroAddress, type Address, type Hex } from "viem";
import {
  cohortRoot,
  drawnCohortList,
  encodeCohortList,
  type CohortList,
} from "#sdk/protocol/cohort.ts";
import { schemaHash } from "../../device-runner/dataset.ts";
import { createKeystore, LIGHT_SCRYPT } from "#sdk/crypto/keystore.ts";
import { ALWAYS_IDLE } from "../../device-runner/idle.ts";
import type { PredictionJob } from "../../device-runner/prediction-job.ts";
import {
  MAX_OUTPUT_CLASSES,
  MAX_RESULT_VECTOR_LENGTH,
  maxOutputClasses,
  type JobTerms,
} from "../../device-runner/admission.ts";
import {
  clusterSumsOf,
  crowdEstimate,
  reduceToResultVector,
  resultVectorLength,
} from "#sdk/protocol/result-vector.ts";
import { DeviceRunner, jobKey } from "../../device-runner/runner.ts";
import { jobSessionConfig, SAMPLE_SCALE, trainingSessionConfig } from "#sdk/protocol/session.ts";
import { runTrainingJob, type TrainingJob } from "../../device-runner/trainer.ts";
import { sendHeartbeat, signHeartbeat, verifyHeartbeat } from "#sdk/protocol/heartbeat.ts";
import type { DevicePaths } from "../../device-runner/paths.ts";
import {
  deviceWithInbox,
  FakeChain,
  fakeJobSeed,
  giveConsent,
  importInbox,
  RecordingProxy,
  snapshot,
} from "./helpers.ts";

const N = 5;
const CHAIN_ID = 31337;
const JOB_MARKET = "0x00000000000000000000000000000000000a11ce" as Address;
const FINE_TUNING = "0x00000000000000000000000000000000000b0b00" as Address;
const REGISTRY = "0x0000000000000000000000000000000000000dee" as Address;
const SCHEMA = schemaHash("email/rfc822-v1");
const POLL = { initialDelayMs: 10, maxDelayMs: 200, roundTimeoutMs: 60_000, outageMs: 2_000 };
const ALGORITHM = 7n;
const REWARD = 2n * 10n ** 18n;
// the chain's view of every job: terms as JobMarket/the marketplace state them, kMin = 5 (the deployment default)
const chain = new FakeChain(JOB_MARKET, 5);

interface Device {
  paths: DevicePaths;
  account: DeviceAccount;
  emails: Email[];
  runner: DeviceRunner;
}

let tmp: string;
let store: HeliaStore;
let pkgCid: string;
let modelSha: string;
let pkg: LoadedPackage;
let devices: Device[];
let http: SecAggHttpServer;
let aggUrl: string;
let proxy: RecordingProxy;
let proxyUrl: string;
let hbServer: Server;
let nextJobId = 1n;
const cohortSizes = new Map<string, number>();

/** A prediction job's cohort: a drawn (version-2) list, client id = position + 1. */
async function publishCohort(addresses: readonly Address[], jobId: bigint) {
  const list = drawnCohortList(
    jobId,
    1n,
    addresses.map((device, position) => ({
      position,
      connectedIndex: BigInt(position),
      device,
    })),
  );
  const cid = await store.addBytes(encodeCohortList(list));
  cohortSizes.set(cid, list.members.length);
  return { list, cid, root: cohortRoot(list) };
}

/** A fine-tuning group list (version 1). */
async function publishGroup(members: CohortList["members"], bountyId: bigint) {
  const list: CohortList = { version: 1, jobId: bountyId.toString(), members };
  return { list, cid: await store.addBytes(encodeCohortList(list)), root: cohortRoot(list) };
}

/**
 * A job descriptor, and the chain's terms for it: by default the chain states exactly what the descriptor says
 * (cohort root and size, schema, package, ALGORITHM at REWARD); `terms` overrides what the chain says.
 */
function predictionJob(
  over: Partial<PredictionJob> & Pick<PredictionJob, "jobId" | "cohortCid" | "cohortRoot">,
  terms: Partial<JobTerms> = {},
): PredictionJob {
  const job: PredictionJob = {
    kind: "predict",
    chainId: CHAIN_ID,
    jobMarket: JOB_MARKET,
    packageCid: pkgCid,
    modelSha256: modelSha,
    schema: SCHEMA,
    aggregatorUrl: proxyUrl,
    attempt: 0,
    ...over,
  };
  chain.terms.set(job.jobId, {
    algorithmId: ALGORITHM,
    rewardPerDevice: REWARD,
    cohortRoot: job.cohortRoot as Hex,
    deviceCount: cohortSizes.get(job.cohortCid) ?? 0,
    schema: job.schema as Hex,
    packageCid: job.packageCid,
    modelSha256: `0x${job.modelSha256.replace(/^0x/, "")}`,
    ...terms,
  });
  return job;
}

/** Every device consents to any algorithm of the email schema at any price, locally and on the chain. */
async function openConsent(d: { paths: DevicePaths; account: DeviceAccount }) {
  await giveConsent(d.paths);
  chain.register(d.account.address, {
    schemas: [SCHEMA],
    anyAlgorithmInSchema: true,
    algorithms: [],
    priceFloor: 0n,
    sessionKey: d.account.session.sessionKey,
  });
}

before(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), "dml-device-job-"));
  store = await HeliaStore.open({ dir: path.join(tmp, "helia") });
  const workload = await prepareWorkload();
  const built = await buildReferencePackage(workload, trainReference(workload));
  pkgCid = await publishPackage(store, built.manifest, built.model);
  modelSha = built.manifest.modelSha256;
  pkg = await loadPackage(store, pkgCid, modelSha);
  devices = [];
  for (let i = 0; i < N; i++) {
    const emails = workload.split.inboxes[i]!.emails;
    const paths = await deviceWithInbox(emails);
    const account =
      i === 0
        ? await createKeystore(paths.keystore, "device-0-password", { scrypt: LIGHT_SCRYPT })
        : deviceAccount(generatePrivateKey());
    const runner = await DeviceRunner.open({
      paths,
      account,
      store,
      idle: ALWAYS_IDLE,
      chain,
      poll: POLL,
    });
    await openConsent({ paths, account });
    devices.push({ paths, account, emails, runner });
  }
  http = new SecAggHttpServer();
  aggUrl = await http.listen();
  proxy = new RecordingProxy(aggUrl);
  proxyUrl = await proxy.listen();
  // a minimal distributor heartbeat endpoint that verifies with the shared verifier
  hbServer = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      verifyHeartbeat(
        JSON.parse(Buffer.concat(chunks).toString("utf8")),
        { chainId: CHAIN_ID, verifyingContract: REGISTRY },
        { nowSeconds: Math.floor(Date.now() / 1000) },
      )
        .then(() => res.writeHead(200, { "content-type": "application/json" }).end("{}"))
        .catch(() => res.writeHead(400, { "content-type": "application/json" }).end("{}"));
    });
  });
  await new Promise<void>((r) => hbServer.listen(0, "127.0.0.1", r));
});

after(async () => {
  await proxy.close();
  await http.close();
  await new Promise<void>((r) => hbServer.close(() => r()));
  await store.close();
  await rm(tmp, { recursive: true, force: true });
  for (const d of devices) await rm(d.paths.root, { recursive: true, force: true });
});

/** Plaintext result vectors, computed by the test from the same data (never sent anywhere). */
async function plaintextVectors(): Promise<Float64Array[]> {
  const out: Float64Array[] = [];
  for (const d of devices) {
    const preds = await classifyRecords(
      pkg,
      d.emails.map((e) => ({ subject: e.subject, body: e.body })),
    );
    out.push(reduceToResultVector(preds, 2));
  }
  return out;
}

/** Every token of 8+ characters in the devices' emails. */
function privateTokens(): Set<string> {
  const tokens = new Set<string>();
  for (const d of devices)
    for (const e of d.emails)
      for (const t of tokenize(`${e.subject}\n${e.body}`, 1000, 1e9))
        if (t.length >= 8) tokens.add(t);
  return tokens;
}

describe("prediction job end to end (5 devices, Helia, ONNX Runtime, SecAgg HTTP)", () => {
  it("the aggregate equals the sum of the plaintext result vectors; the crowd spam ratio is close to the truth", async () => {
    const jobId = nextJobId++;
    const cohort = await publishCohort(
      devices.map((d) => d.account.address),
      jobId,
    );
    const config = jobSessionConfig({
      chainId: CHAIN_ID,
      jobMarket: JOB_MARKET,
      jobId,
      cohort: cohort.list,
      sessionKeys: chain.keysOf(cohort.list.members),
      graph: { cohortRoot: cohort.root, jobSeed: fakeJobSeed(jobId) },
      classes: 2,
    });
    http.addSession(config, { roundTimeoutMs: 60_000 });
    const job = predictionJob({ jobId, cohortCid: cohort.cid, cohortRoot: cohort.root });
    const before = proxy.records.length;
    const entries = await Promise.all(devices.map((d) => d.runner.handle(job)));
    for (const e of entries) assert.equal(e.status, "done", e.error);
    const result = await http.result(config.sessionId);
    assert.deepEqual(result.survivors, [1, 2, 3, 4, 5]);

    const vectors = await plaintextVectors();
    const L = resultVectorLength(2);
    assert.equal(L, 17);
    const expectedSum = new Uint32Array(L);
    for (const v of vectors) {
      const enc = encodeVector(v, config.encoding);
      for (let i = 0; i < L; i++) expectedSum[i] = (expectedSum[i]! + enc[i]!) >>> 0;
    }
    assert.deepEqual(
      [...result.sum],
      [...expectedSum],
      "masked sum equals the sum of the encoded plaintext vectors",
    );
    const plainSum = vectors.reduce(
      (acc, v) => acc.map((x, i) => x + v[i]!),
      new Array<number>(L).fill(0),
    );
    for (let i = 0; i < L; i++)
      assert.ok(
        Math.abs(result.decoded[i]! - plainSum[i]!) <= (N * 0.5) / config.encoding.scale + 1e-9,
      );
    // counts are exact
    assert.equal(
      result.decoded[0],
      devices.reduce((s, d) => s + d.emails.length, 0),
    );
    assert.equal(result.decoded[5]! + result.decoded[6]!, result.decoded[0]);

    const est = crowdEstimate(result.decoded, 2, N, pkg.manifest.controlGroup?.confusion);
    // the cluster-robust sums from SecAgg equal the direct computation from the per-device values, exactly
    const direct = clusterSums(vectors.map((v) => [v[0]!, v[6]!] as const));
    assert.deepEqual(clusterSumsOf(result.decoded, 2, N, 1), direct);
    assert.equal(est.classifyAndCount[1]!.variance, ratioEstimate(direct).variance);
    assert.equal(est.classifyAndCount[1]!.estimate, ratioEstimate(direct).estimate);
    const truth =
      devices.reduce((s, d) => s + d.emails.filter((e) => e.label === 1).length, 0) / est.records;
    console.log(
      `crowd spam ratio: predicted share ${est.predictedShare[1]!.toFixed(4)}, mean p ${est.meanProbability[1]!.toFixed(4)} ± ${est.stdError[1]!.toFixed(4)}, truth ${truth.toFixed(4)} over ${est.records} emails`,
    );
    // The reference model (trained on the 3 % developer slice) under-calls spam, so the argmax share is biased low;
    // the mean predicted probability is the calibrated crowd estimate and must be within 5 points of the truth.
    assert.ok(
      Math.abs(est.meanProbability[1]! - truth) < 0.05,
      "mean spam probability within 5 points of ground truth",
    );
    assert.ok(est.stdError[1]! > 0 && est.stdError[1]! < 0.02);
    // the adjusted classify-and-count, corrected with the package's control-group rates
    const adj = est.adjusted![1]!;
    console.log(
      `adjusted classify-and-count ${adj.estimate.toFixed(4)} ± ${adj.stdError.toFixed(4)} (classify-and-count ${adj.classifyAndCount.estimate.toFixed(4)} ± ${adj.classifyAndCount.stdError.toFixed(4)})`,
    );
    assert.ok(Math.abs(adj.estimate - truth) < 3 * adj.stdError);
    assert.ok(proxy.records.length > before);
    // the job is persisted as done and not repeated
    const again = await devices[0]!.runner.handle(job);
    assert.equal(again.status, "done");
    assert.equal(again.attempts, 1);
    assert.equal(devices[0]!.runner.state.get(jobKey(job))?.status, "done");
  });

  it("a training round: the group's aggregate equals the sum of the clipped updates", async () => {
    const members = devices.slice(0, 3).map((d, i) => ({ id: i + 1, address: d.account.address }));
    const bountyId = 7n;
    const group = await publishGroup(members, bountyId);
    const job: TrainingJob = {
      kind: "train",
      chainId: CHAIN_ID,
      fineTuning: FINE_TUNING,
      bountyId,
      round: 1n,
      group: 0,
      groupRoot: group.root,
      groupCid: group.cid,
      packageCid: pkgCid,
      modelSha256: modelSha,
      schema: SCHEMA,
      aggregatorUrl: proxyUrl,
      epochs: 2,
      learningRate: 1,
      clipNorm: 1.2,
    };
    const params = 2 * 4096 + 2;
    const config = trainingSessionConfig({
      chainId: CHAIN_ID,
      fineTuning: FINE_TUNING,
      bountyId,
      round: 1n,
      group: 0,
      members,
      sessionKeys: chain.keysOf(members),
      parameters: params,
      clipNorm: 1.2,
    });
    http.addSession(config, { roundTimeoutMs: 60_000 });
    const vectors: Float64Array[] = [];
    const runs = await Promise.all(
      devices.slice(0, 3).map((d, i) =>
        runTrainingJob({
          job,
          store,
          account: d.account,
          chain,
          paths: d.paths,
          poll: POLL,
          onVector: (v) => (vectors[i] = v),
        }),
      ),
    );
    for (const r of runs) assert.ok(r.updateNorm <= 1.2 + 1e-9 && r.updateNorm > 0);
    const result = await http.result(config.sessionId);
    const expected = new Uint32Array(params + 1);
    for (const v of vectors) {
      const enc = encodeVector(v, config.encoding);
      for (let i = 0; i < enc.length; i++) expected[i] = (expected[i]! + enc[i]!) >>> 0;
    }
    assert.deepEqual(result.sum, expected);
    const samples = Math.round(result.decoded[params]! * SAMPLE_SCALE);
    assert.equal(
      samples,
      devices.slice(0, 3).reduce((s, d) => s + d.emails.length, 0),
    );
  });

  it("privacy: every byte a device sent is a protocol message; no text, tokens, features or per-email outputs", async () => {
    // heartbeats go through the same recording proxy to the distributor endpoint
    const addr = hbServer.address();
    assert.ok(addr !== null && typeof addr !== "string");
    const hbProxy = new RecordingProxy(`http://127.0.0.1:${addr.port}`);
    const hbUrl = await hbProxy.listen();
    for (const d of devices) {
      const hb = await signHeartbeat(
        d.account,
        { chainId: CHAIN_ID, verifyingContract: REGISTRY },
        { epoch: 3, timestamp: Math.floor(Date.now() / 1000), schemas: [SCHEMA] },
      );
      await sendHeartbeat(hbUrl, hb);
    }
    await hbProxy.close();
    const records = [...proxy.records, ...hbProxy.records];
    assert.ok(records.length > 40, `recorded ${records.length} requests`);

    // 1. only protocol messages: each POST body parses as a signed SecAgg message or a heartbeat
    const heartbeats = hbProxy.records.filter((r) => r.method === "POST");
    assert.equal(heartbeats.length, N);
    for (const r of records) {
      if (r.method === "GET") {
        assert.equal(r.body.length, 0);
        assert.match(
          r.url,
          /^\/sessions\/0x[0-9a-f]{64}\/(keys|shares|consistency-request|unmask-request)(\/\d+)?$/,
        );
        continue;
      }
      if (r.url.endsWith("/masked")) {
        // the masked input travels in its binary form (secagg binary.ts)
        const msg = decodeMaskedBinary(new Uint8Array(r.body));
        assert.equal(msg.body.round, 2);
        continue;
      }
      const json = JSON.parse(r.body.toString("utf8")) as unknown;
      if (r.url === "/heartbeats")
        await verifyHeartbeat(
          json,
          { chainId: CHAIN_ID, verifyingContract: REGISTRY },
          { nowSeconds: Math.floor(Date.now() / 1000) },
        );
      else fromJson(json);
    }
    // 2. no 8+-character token of any device's emails appears anywhere (case-insensitive) in what the device
    //    chose to send: URLs and every JSON value (keys are the fixed protocol vocabulary, e.g. selfMaskCommitment)
    const values: string[] = [];
    const structural = new Set<string>();
    for (const r of records) {
      values.push(r.url);
      for (const seg of r.url.split(/[/-]/)) structural.add(seg.toLowerCase());
      if (r.url.endsWith("/masked")) {
        // binary: the masked vector (uniformly random words) and the header; scanned as text too
        values.push(r.body.toString("latin1"));
        continue;
      }
      if (r.body.length > 0)
        JSON.stringify(JSON.parse(r.body.toString("utf8")), (_k, v: unknown) => {
          if (typeof v === "string" || typeof v === "number") values.push(String(v));
          return v;
        });
    }
    const traffic = values.join("\n").toLowerCase();
    let checked = 0;
    for (const t of privateTokens()) {
      if (structural.has(t)) continue;
      checked++;
      assert.ok(!traffic.includes(t), `token "${t}" leaked`);
    }
    assert.ok(checked > 1000, `checked ${checked} tokens`);
    // 3. no plaintext result vector and no per-email output: masked vectors differ from the encoded plaintext, and
    //    no float of a device's probabilities appears
    const vectors = await plaintextVectors();
    for (const v of vectors) {
      const enc = Buffer.from(
        encodeVector(
          v,
          jobSessionConfig({
            chainId: CHAIN_ID,
            jobMarket: JOB_MARKET,
            jobId: 1n,
            cohort: drawnCohortList(
              1n,
              1n,
              devices.map((d, position) => ({
                position,
                connectedIndex: BigInt(position),
                device: d.account.address,
              })),
            ),
            sessionKeys: devices.map((d) => d.account.session.sessionKey),
            classes: 2,
          }).encoding,
        ).buffer,
      );
      assert.ok(
        !traffic.includes(enc.toString("base64").toLowerCase().slice(0, 24)),
        "plaintext encoding sent",
      );
      assert.ok(
        !records.some((r) => r.body.includes(enc.subarray(0, 24))),
        "plaintext encoding sent in a binary body",
      );
    }
    const preds = await classifyRecords(
      pkg,
      devices[0]!.emails.slice(0, 20).map((e) => ({ subject: e.subject, body: e.body })),
    );
    for (const p of preds)
      assert.ok(
        !traffic.includes(String(p.probabilities[1]).slice(0, 12)),
        "a per-email probability leaked",
      );
    console.log(
      `privacy: ${records.length} requests, ${records.reduce((s, r) => s + r.body.length, 0)} bytes, ${checked} private tokens checked`,
    );
  });
});

describe("bad input: clear error, data and keys untouched, the runner continues", () => {
  it("corrupt package, unknown featurizer, malformed dataset, cohort excluding the device, unreachable aggregator", async () => {
    const d = devices[0]!;
    const others = devices.slice(1);
    // cohorts of kMin = 5 devices: the smallest a device serves
    const membersAll = [d, ...others].map((x) => x.account.address);
    const beforeSnap = await snapshot(d.paths.datasets);
    const keyBefore = await snapshot(path.dirname(d.paths.keystore)).then(
      (s) => s["keystore.json"],
    );

    // unknown featurizer: a package whose manifest names a featurizer this runner does not have
    const model = exportLogRegOnnx({
      classes: 2,
      dim: 8,
      W: new Float32Array(16),
      b: new Float32Array(2),
    });
    const fields = {
      ...referenceManifestFields("9.9.9"),
      featurizer: { id: "text/unknown", version: 1, params: {} },
    };
    const unknownManifest = { ...fields, modelSha256: sha256Hex(model) };
    const unknownCid = await store.addDirectory([
      {
        path: "manifest.json",
        content: new TextEncoder().encode(JSON.stringify(unknownManifest, null, 2) + "\n"),
      },
      { path: "model.onnx", content: model },
    ]);

    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));

    const cases: {
      name: string;
      job: () => Promise<PredictionJob>;
      code: string;
      detail?: RegExp;
    }[] = [
      {
        name: "sha mismatch",
        code: "PACKAGE_INVALID",
        detail: /MODEL_HASH_MISMATCH/,
        job: async () => {
          const id = nextJobId++;
          const c = await publishCohort(membersAll, id);
          return predictionJob({
            jobId: id,
            cohortCid: c.cid,
            cohortRoot: c.root,
            modelSha256: "ab".repeat(32),
          });
        },
      },
      {
        name: "unknown featurizer",
        code: "PACKAGE_INVALID",
        detail: /UNKNOWN_FEATURIZER/,
        job: async () => {
          const id = nextJobId++;
          const c = await publishCohort(membersAll, id);
          return predictionJob({
            jobId: id,
            cohortCid: c.cid,
            cohortRoot: c.root,
            packageCid: unknownCid,
            modelSha256: unknownManifest.modelSha256,
          });
        },
      },
      {
        name: "cohort excluding the device",
        code: "NOT_IN_COHORT",
        job: async () => {
          const id = nextJobId++;
          const c = await publishCohort(
            [...others.map((x) => x.account.address), deviceAccount(generatePrivateKey()).address],
            id,
          );
          return predictionJob({ jobId: id, cohortCid: c.cid, cohortRoot: c.root });
        },
      },
      {
        name: "cohort list not matching the on-chain root",
        code: "COHORT_ROOT_MISMATCH",
        job: async () => {
          const id = nextJobId++;
          const c = await publishCohort(membersAll, id);
          return predictionJob({
            jobId: id,
            cohortCid: c.cid,
            cohortRoot: `0x${"11".repeat(32)}` as Hex,
          });
        },
      },
      {
        name: "unreachable aggregator",
        code: "AGGREGATOR_UNREACHABLE",
        job: async () => {
          const id = nextJobId++;
          const c = await publishCohort(membersAll, id);
          return predictionJob({
            jobId: id,
            cohortCid: c.cid,
            cohortRoot: c.root,
            aggregatorUrl: `http://127.0.0.1:${port}`,
          });
        },
      },
      {
        name: "unknown schema",
        code: "UNKNOWN_SCHEMA",
        job: async () => {
          const id = nextJobId++;
          const c = await publishCohort(membersAll, id);
          return predictionJob({
            jobId: id,
            cohortCid: c.cid,
            cohortRoot: c.root,
            schema: schemaHash("image/png-v1"),
          });
        },
      },
    ];
    for (const c of cases) {
      const entry = await d.runner.handle(await c.job());
      assert.equal(entry.status, "failed", c.name);
      assert.equal(entry.code, c.code, `${c.name}: ${entry.error}`);
      assert.ok((entry.error ?? "").length > 10, c.name);
      if (c.detail) assert.match(entry.error ?? "", c.detail, c.name);
    }
    assert.deepEqual(await snapshot(d.paths.datasets), beforeSnap, "dataset untouched");
    assert.equal(
      (await snapshot(path.dirname(d.paths.keystore)))["keystore.json"],
      keyBefore,
      "keystore untouched",
    );

    // the runner keeps serving: the next good job completes
    const id = nextJobId++;
    const c = await publishCohort(membersAll, id);
    const config = jobSessionConfig({
      chainId: CHAIN_ID,
      jobMarket: JOB_MARKET,
      jobId: id,
      cohort: c.list,
      sessionKeys: chain.keysOf(c.list.members),
      graph: { cohortRoot: c.root, jobSeed: fakeJobSeed(id) },
      classes: 2,
    });
    http.addSession(config, { roundTimeoutMs: 60_000 });
    const good = predictionJob({ jobId: id, cohortCid: c.cid, cohortRoot: c.root });
    const done = await Promise.all([d, ...others].map((x) => x.runner.handle(good)));
    for (const e of done) assert.equal(e.status, "done", e.error);

    // a malformed (corrupted) local dataset: clear error, the file is not rewritten, runner continues
    const file = path.join(d.paths.datasets, "email_rfc822-v1.jsonl");
    await writeFile(file, "{not json\n");
    const snapBad = await snapshot(d.paths.datasets);
    const id2 = nextJobId++;
    const c2 = await publishCohort(membersAll, id2);
    const bad = await d.runner.handle(
      predictionJob({ jobId: id2, cohortCid: c2.cid, cohortRoot: c2.root }),
    );
    assert.equal(bad.status, "failed");
    assert.equal(bad.code, "DATASET_INVALID");
    assert.deepEqual(await snapshot(d.paths.datasets), snapBad);
    // all failures are persisted in jobs.json across a restart
    const reopened = await DeviceRunner.open({
      paths: d.paths,
      account: d.account,
      store,
      idle: ALWAYS_IDLE,
      chain,
    });
    const failed = Object.values(reopened.state.all()).filter((e) => e.status === "failed");
    assert.equal(failed.length, cases.length + 1);
    void zeroAddress;
  });

  it("a busy device leaves the job pending and runs nothing", async () => {
    const d = devices[1]!;
    const busy = await DeviceRunner.open({
      paths: d.paths,
      account: d.account,
      store,
      idle: ALWAYS_IDLE,
      chain,
      idleCheck: () => "load 3.00/core > 0.5",
    });
    const id = nextJobId++;
    const c = await publishCohort([d.account.address], id);
    const e = await busy.handle(
      predictionJob({
        jobId: id,
        cohortCid: c.cid,
        cohortRoot: c.root,
        aggregatorUrl: "http://127.0.0.1:1",
      }),
    );
    assert.equal(e.status, "pending");
    assert.equal(e.attempts, 0);
  });
});

describe("the device decides what it serves (PROTOCOL.md §7.3, §7.9)", () => {
  it("model-output bounds: named constants; the classes allowed grow with |cohort| / kMin", () => {
    assert.equal(MAX_OUTPUT_CLASSES, 16);
    assert.equal(MAX_RESULT_VECTOR_LENGTH, 3 + 7 * MAX_OUTPUT_CLASSES);
    assert.equal(maxOutputClasses(5, 5), 2, "a binary model is always allowed");
    assert.equal(maxOutputClasses(14, 5), 2);
    assert.equal(maxOutputClasses(15, 5), 3);
    assert.equal(maxOutputClasses(40, 5), 8);
    assert.equal(maxOutputClasses(10_000, 5), MAX_OUTPUT_CLASSES);
  });

  it("Sybil cohort, 1,000-class model, below the price floor, algorithm outside consent, not eligible, no consent: refused, logged, nothing sent", async () => {
    const victim = devices[0]!;
    // the bad-input test left this device's dataset corrupt: the owner re-imports the inbox
    await importInbox(victim.paths, victim.emails);
    const FLOOR = REWARD / 2n;
    // the owner consents to one algorithm at a floor; the chain's registration has a higher floor (set elsewhere)
    await giveConsent(victim.paths, {
      schemas: ["email/rfc822-v1"],
      anyAlgorithmInSchema: false,
      algorithms: [ALGORITHM],
      priceFloor: FLOOR,
    });
    chain.register(victim.account.address, {
      schemas: [SCHEMA],
      anyAlgorithmInSchema: false,
      algorithms: [ALGORITHM],
      priceFloor: REWARD,
      sessionKey: victim.account.session.sessionKey,
    });
    const logLines: { msg: string; code?: string; job?: string }[] = [];
    const runner = await DeviceRunner.open({
      paths: victim.paths,
      account: victim.account,
      store,
      idle: ALWAYS_IDLE,
      chain,
      poll: POLL,
      log: pino(
        { level: "info" },
        { write: (line: string) => void logLines.push(JSON.parse(line) as never) },
      ),
    });
    const cohort5 = [victim, ...devices.slice(1)].map((d) => d.account.address);
    const sybils = [0, 1].map(() => deviceAccount(generatePrivateKey()).address);

    // a real 1,000-class model (hashed bag of words, 16 buckets) in a package with a known featurizer
    const CLASSES = 1000;
    const wide = buildClassifierPackage(
      {
        classes: CLASSES,
        dim: 16,
        W: new Float32Array(CLASSES * 16).map((_, i) => ((i * 7919) % 13) / 13 - 0.5),
        b: new Float32Array(CLASSES),
      },
      {
        ...referenceManifestFields("6.6.6"),
        name: "inbox-fingerprint",
        featurizer: hashedBowSpec({ buckets: 16 }),
        outputLabels: Array.from({ length: CLASSES }, (_, k) => `c${k}`),
      },
    );
    const wideCid = await publishPackage(store, wide.manifest, wide.model);
    // a 3-class model: within MAX_OUTPUT_CLASSES, but 3 · kMin > 5 devices
    const three = buildClassifierPackage(
      { classes: 3, dim: 16, W: new Float32Array(48), b: new Float32Array(3) },
      {
        ...referenceManifestFields("3.3.3"),
        featurizer: hashedBowSpec({ buckets: 16 }),
        outputLabels: ["ham", "spam", "phish"],
      },
    );
    const threeCid = await publishPackage(store, three.manifest, three.model);

    const cases: {
      name: string;
      code: string;
      detail: RegExp;
      job: () => Promise<PredictionJob>;
    }[] = [
      {
        name: "cohort {victim, 2 Sybils} as the chain's cohort",
        code: "COHORT_TOO_SMALL",
        detail: /3 devices, fewer than kMin = 5/,
        job: async () => {
          const id = nextJobId++;
          const c = await publishCohort([victim.account.address, ...sybils], id);
          return predictionJob({ jobId: id, cohortCid: c.cid, cohortRoot: c.root });
        },
      },
      {
        name: "cohort {victim, 2 Sybils} relayed for a job the chain assigned to 5 devices",
        code: "COHORT_TOO_SMALL",
        detail: /fewer than kMin/,
        job: async () => {
          const id = nextJobId++;
          const real = await publishCohort(cohort5, id);
          const fake = await publishCohort([victim.account.address, ...sybils], id);
          return predictionJob(
            { jobId: id, cohortCid: fake.cid, cohortRoot: fake.root },
            { cohortRoot: real.root, deviceCount: 5 },
          );
        },
      },
      {
        name: "a roster of 5 where the chain assigned 6",
        code: "COHORT_SIZE_MISMATCH",
        detail: /5 devices, the chain assigned 6/,
        job: async () => {
          const id = nextJobId++;
          const c = await publishCohort(cohort5, id);
          return predictionJob(
            { jobId: id, cohortCid: c.cid, cohortRoot: c.root },
            { deviceCount: 6 },
          );
        },
      },
      {
        name: "a 1,000-class model",
        code: "MODEL_OUT_OF_BOUNDS",
        detail: /1000 output classes/,
        job: async () => {
          const id = nextJobId++;
          const c = await publishCohort(cohort5, id);
          return predictionJob({
            jobId: id,
            cohortCid: c.cid,
            cohortRoot: c.root,
            packageCid: wideCid,
            modelSha256: wide.manifest.modelSha256,
          });
        },
      },
      {
        name: "a 3-class model for 5 devices",
        code: "MODEL_OUT_OF_BOUNDS",
        detail: /3 output classes; a cohort of 5 with kMin = 5 allows at most 2/,
        job: async () => {
          const id = nextJobId++;
          const c = await publishCohort(cohort5, id);
          return predictionJob({
            jobId: id,
            cohortCid: c.cid,
            cohortRoot: c.root,
            packageCid: threeCid,
            modelSha256: three.manifest.modelSha256,
          });
        },
      },
      {
        name: "a job below the price floor",
        code: "BELOW_PRICE_FLOOR",
        detail: /below the owner's price floor/,
        job: async () => {
          const id = nextJobId++;
          const c = await publishCohort(cohort5, id);
          return predictionJob(
            { jobId: id, cohortCid: c.cid, cohortRoot: c.root },
            { rewardPerDevice: FLOOR - 1n },
          );
        },
      },
      {
        name: "an algorithm outside consent",
        code: "CONSENT_DENIED",
        detail: /algorithm 8 is outside the owner's consent/,
        job: async () => {
          const id = nextJobId++;
          const c = await publishCohort(cohort5, id);
          return predictionJob(
            { jobId: id, cohortCid: c.cid, cohortRoot: c.root },
            { algorithmId: ALGORITHM + 1n },
          );
        },
      },
      {
        name: "within the owner's consent, but not eligible on chain",
        code: "NOT_ELIGIBLE",
        detail: /isEligible\(.*\) is false/,
        job: async () => {
          const id = nextJobId++;
          const c = await publishCohort(cohort5, id);
          return predictionJob(
            { jobId: id, cohortCid: c.cid, cohortRoot: c.root },
            { rewardPerDevice: FLOOR },
          );
        },
      },
    ];
    const dataBefore = await snapshot(victim.paths.datasets);
    const sentBefore = proxy.records.length;
    for (const c of cases) {
      const job = await c.job();
      const lines = logLines.length;
      const entry = await runner.handle(job);
      assert.equal(entry.status, "refused", `${c.name}: ${entry.code} ${entry.error}`);
      assert.equal(entry.code, c.code, `${c.name}: ${entry.error}`);
      assert.match(entry.error ?? "", c.detail, c.name);
      assert.equal(proxy.records.length, sentBefore, `${c.name}: nothing sent`);
      const logged = logLines.slice(lines).find((l) => l.msg === "job refused");
      assert.ok(logged, `${c.name}: refusal logged`);
      assert.equal(logged.code, c.code);
      assert.equal(logged.job, jobKey(job));
      // refused once and for all: handling the job again neither runs nor counts an attempt
      const again = await runner.handle(job);
      assert.deepEqual(again, entry, `${c.name}: not retried`);
    }

    // no consent at all (no consent.json): every job is refused
    await rm(victim.paths.consent);
    const id = nextJobId++;
    const c = await publishCohort(cohort5, id);
    const none = await runner.handle(
      predictionJob({ jobId: id, cohortCid: c.cid, cohortRoot: c.root }),
    );
    assert.equal(none.status, "refused");
    assert.equal(none.code, "CONSENT_DENIED");
    assert.match(none.error ?? "", /no consent/);
    assert.equal(proxy.records.length, sentBefore, "no consent: nothing sent");

    // the refusals are persisted as such across a restart; data untouched
    const reopened = await DeviceRunner.open({
      paths: victim.paths,
      account: victim.account,
      store,
      idle: ALWAYS_IDLE,
      chain,
    });
    assert.equal(
      Object.values(reopened.state.all()).filter((e) => e.status === "refused").length,
      cases.length + 1,
    );
    assert.deepEqual(await snapshot(victim.paths.datasets), dataBefore);

    // the runner keeps serving: with the owner's consent back, a job within it completes for the whole cohort
    await giveConsent(victim.paths, {
      schemas: ["email/rfc822-v1"],
      anyAlgorithmInSchema: false,
      algorithms: [ALGORITHM],
      priceFloor: FLOOR,
    });
    chain.register(victim.account.address, {
      schemas: [SCHEMA],
      anyAlgorithmInSchema: false,
      algorithms: [ALGORITHM],
      priceFloor: FLOOR,
      sessionKey: victim.account.session.sessionKey,
    });
    const okId = nextJobId++;
    const ok = await publishCohort(cohort5, okId);
    const config = jobSessionConfig({
      chainId: CHAIN_ID,
      jobMarket: JOB_MARKET,
      jobId: okId,
      cohort: ok.list,
      sessionKeys: chain.keysOf(ok.list.members),
      graph: { cohortRoot: ok.root, jobSeed: fakeJobSeed(okId) },
      classes: 2,
    });
    http.addSession(config, { roundTimeoutMs: 60_000 });
    const good = predictionJob({ jobId: okId, cohortCid: ok.cid, cohortRoot: ok.root });
    const done = await Promise.all([
      runner.handle(good),
      ...devices.slice(1).map((x) => x.runner.handle(good)),
    ]);
    for (const e of done) assert.equal(e.status, "done", e.error);
    assert.ok(proxy.records.length > sentBefore, "the accepted job's SecAgg messages were sent");
    assert.deepEqual((await http.result(config.sessionId)).survivors, [1, 2, 3, 4, 5]);
  });
});
