/**
 * A DP prediction job on real parts (Helia, ONNX Runtime, the SecAgg HTTP server behind a recording proxy): devices
 * add distributed discrete Gaussian noise and charge their owners' zCDP ledgers once; a job over an owner's budget
 * and a corrupt ledger are refused with nothing sent, the device's data and keys untouched, and the runner keeps
 * serving jobs that need no budget.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { HeliaStore } from "#sdk/ipfs/index.ts";
import {
  buildReferencePackage,
  classifyRecords,
  prepareWorkload,
  publishPackage,
  referenceManifestFields,
  trainReference,
  type Email,
  type LoadedPackage,
  loadPackage,
} from "#sdk/ml/index.ts";
import { DEFAULT_PRIVACY_SPEC } from "#sdk/privacy/index.ts";
import { SecAggHttpServer } from "#sdk/secagg/index.ts";
import { generatePrivateKey } from "viem/accounts";
import { deviceAccount, type DeviceAccount } from "#sdk/crypto/session-key.ts";
import type { Address, Hex } from "viem";
import { cohortRoot, drawnCohortList, encodeCohortList } from "#sdk/protocol/cohort.ts";
import { schemaHash } from "../../device-runner/dataset.ts";
import { ALWAYS_IDLE } from "../../device-runner/idle.ts";
import type { DevicePaths } from "../../device-runner/paths.ts";
import type { PredictionJob } from "../../device-runner/prediction-job.ts";
import { PrivacyLedger } from "../../device-runner/privacy-ledger.ts";
import { decodeNoisyResult, jobPrivacy } from "#sdk/protocol/result-privacy.ts";
import { crowdEstimate, reduceToResultVector } from "#sdk/protocol/result-vector.ts";
import { DeviceRunner, jobKey } from "../../device-runner/runner.ts";
import { jobSessionConfig } from "#sdk/protocol/session.ts";
import {
  deviceWithInbox,
  FakeChain,
  fakeJobSeed,
  giveConsent,
  OPEN_CONSENT,
  RecordingProxy,
  snapshot,
} from "./helpers.ts";

const N = 5;
const CHAIN_ID = 31337;
const JOB_MARKET = "0x00000000000000000000000000000000000a11ce" as Address;
const SCHEMA = schemaHash("email/rfc822-v1");
const POLL = { initialDelayMs: 10, maxDelayMs: 200, roundTimeoutMs: 60_000, outageMs: 2_000 };
const KMIN = 3;
const chain = new FakeChain(JOB_MARKET, KMIN);

interface Device {
  paths: DevicePaths;
  account: DeviceAccount;
  emails: Email[];
  runner: DeviceRunner;
}

let tmp: string;
let store: HeliaStore;
let dp: { cid: string; sha: string; pkg: LoadedPackage };
let plain: { cid: string; sha: string };
let tiny: { cid: string; sha: string };
let devices: Device[];
let http: SecAggHttpServer;
let proxy: RecordingProxy;
let proxyUrl: string;
let nextJobId = 1n;

async function job(
  members: readonly Device[],
  pkg: { cid: string; sha: string },
): Promise<{ job: PredictionJob; config: ReturnType<typeof jobSessionConfig> }> {
  const jobId = nextJobId++;
  const list = drawnCohortList(
    jobId,
    1n,
    members.map((d, position) => ({
      position,
      connectedIndex: BigInt(position),
      device: d.account.address,
    })),
  );
  const cohortCid = await store.addBytes(encodeCohortList(list));
  const j: PredictionJob = {
    kind: "predict",
    jobId,
    chainId: CHAIN_ID,
    jobMarket: JOB_MARKET,
    cohortRoot: cohortRoot(list),
    cohortCid,
    packageCid: pkg.cid,
    modelSha256: pkg.sha,
    schema: SCHEMA,
    aggregatorUrl: proxyUrl,
    attempt: 0,
  };
  chain.terms.set(jobId, {
    algorithmId: 1n,
    rewardPerDevice: 1n,
    cohortRoot: j.cohortRoot as Hex,
    deviceCount: list.members.length,
    schema: SCHEMA,
    packageCid: pkg.cid,
    modelSha256: `0x${pkg.sha}`,
  });
  const config = jobSessionConfig({
    chainId: CHAIN_ID,
    jobMarket: JOB_MARKET,
    jobId,
    cohort: list,
    sessionKeys: chain.keysOf(list.members),
    classes: 2,
    graph: { cohortRoot: j.cohortRoot as Hex, jobSeed: fakeJobSeed(jobId) },
  });
  return { job: j, config };
}

before(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), "dml-dp-job-"));
  store = await HeliaStore.open({ dir: path.join(tmp, "helia") });
  const workload = await prepareWorkload();
  const weights = trainReference(workload);
  const builtDp = await buildReferencePackage(workload, weights, {
    ...referenceManifestFields(),
    privacy: DEFAULT_PRIVACY_SPEC,
  });
  const dpCid = await publishPackage(store, builtDp.manifest, builtDp.model);
  dp = {
    cid: dpCid,
    sha: builtDp.manifest.modelSha256,
    pkg: await loadPackage(store, dpCid, builtDp.manifest.modelSha256),
  };
  // σ so small that a device's share of the noise is below a quarter of one encoded unit: no mechanism
  const builtTiny = await buildReferencePackage(workload, weights, {
    ...referenceManifestFields(),
    privacy: { ...DEFAULT_PRIVACY_SPEC, sigma: 1e-6 },
  });
  tiny = {
    cid: await publishPackage(store, builtTiny.manifest, builtTiny.model),
    sha: builtTiny.manifest.modelSha256,
  };
  const builtPlain = await buildReferencePackage(workload, weights);
  plain = {
    cid: await publishPackage(store, builtPlain.manifest, builtPlain.model),
    sha: builtPlain.manifest.modelSha256,
  };
  devices = [];
  for (let i = 0; i < N; i++) {
    const emails = workload.split.inboxes[i]!.emails;
    const paths = await deviceWithInbox(emails);
    const account = deviceAccount(generatePrivateKey());
    const runner = await DeviceRunner.open({
      paths,
      account,
      store,
      idle: ALWAYS_IDLE,
      chain,
      poll: POLL,
    });
    await giveConsent(paths, { ...OPEN_CONSENT, privacyBudget: 2.5 });
    chain.register(account.address, {
      schemas: [SCHEMA],
      anyAlgorithmInSchema: true,
      algorithms: [],
      priceFloor: 0n,
      sessionKey: account.session.sessionKey,
    });
    devices.push({ paths, account, emails, runner });
  }
  http = new SecAggHttpServer();
  proxy = new RecordingProxy(await http.listen());
  proxyUrl = await proxy.listen();
});

after(async () => {
  await proxy.close();
  await http.close();
  await store.close();
  await rm(tmp, { recursive: true, force: true });
  for (const d of devices) await rm(d.paths.root, { recursive: true, force: true });
});

describe("DP prediction job (distributed discrete Gaussian, per-owner zCDP ledger)", () => {
  it("devices add noise; the sum decodes to the plaintext sum plus noise; each owner is charged ρ once", async () => {
    const { job: j, config } = await job(devices, dp);
    http.addSession(config, { roundTimeoutMs: 60_000 });
    const entries = await Promise.all(devices.map((d) => d.runner.handle(j)));
    for (const e of entries) assert.equal(e.status, "done", e.error);
    const result = await http.result(config.sessionId);
    assert.deepEqual(result.survivors, [1, 2, 3, 4, 5]);

    const privacy = jobPrivacy(DEFAULT_PRIVACY_SPEC, 2, config, KMIN);
    assert.equal(privacy.mechanism.minSurvivors, 4); // full mode, n = 5: t = 4 > kMin
    const { decoded, noiseVariance } = decodeNoisyResult(result.sum, N, privacy);
    const plainSum = new Float64Array(decoded.length);
    let records = 0;
    for (const d of devices) {
      const mine = d.emails.slice(0, DEFAULT_PRIVACY_SPEC.maxRecords);
      records += mine.length;
      const preds = await classifyRecords(
        dp.pkg,
        mine.map((e) => ({ subject: e.subject, body: e.body })),
      );
      reduceToResultVector(preds, 2).forEach((x, i) => (plainSum[i]! += x));
    }
    // the noise is there (the sum differs from the plaintext), zero-mean and of the stated size: every coordinate
    // within 6 standard deviations, and the data-free high digits exact
    let noisy = 0;
    for (let i = 0; i < decoded.length; i++) {
      const diff = decoded[i]! - plainSum[i]!;
      if (noiseVariance[i] === 0) assert.ok(Math.abs(diff) < 1e-6, `coordinate ${i} has no noise`);
      else {
        if (Math.abs(diff) > 1e-6) noisy++;
        assert.ok(
          Math.abs(diff) < 6 * Math.sqrt(noiseVariance[i]!) + 1,
          `coordinate ${i}: ${diff}`,
        );
      }
    }
    assert.ok(noisy >= 8, `${noisy} coordinates carry noise`);
    assert.ok(Math.abs(decoded[0]! - records) < 6 * Math.sqrt(noiseVariance[0]!));
    const est = crowdEstimate(
      decoded,
      2,
      N,
      dp.pkg.manifest.controlGroup?.confusion,
      noiseVariance,
    );
    const adj = est.adjusted![1]!;
    assert.ok(adj.dpVariance === undefined && adj.classifyAndCount.dpVariance! > 0);

    // every owner's ledger holds the job's ρ once, committed; running the job again charges nothing
    for (const d of devices) {
      const ledger = new PrivacyLedger(d.paths.privacyLedger, 2.5);
      const entry = (await ledger.read()).entries[jobKey(j)];
      assert.equal(entry?.status, "committed");
      assert.equal(entry?.rho, privacy.rho);
      assert.equal(entry?.epsilon, privacy.epsilon);
      assert.equal((await d.runner.handle(j)).status, "done");
      assert.equal(await ledger.spent(), privacy.rho);
    }
  });

  it("a job over the owner's budget is refused before any data is read; nothing is sent", async () => {
    // each DP job costs ρ ≈ 1.04 of the 2.5 budget: after the first job, a second fits, a third does not
    const spent = await new PrivacyLedger(devices[0]!.paths.privacyLedger, 2.5).spent();
    await writeFile(
      devices[0]!.paths.privacyLedger,
      JSON.stringify({
        version: 1,
        entries: {
          ...(await new PrivacyLedger(devices[0]!.paths.privacyLedger, 2.5).read()).entries,
          "predict:earlier-job": {
            rho: 2.5 - spent - 0.5,
            status: "committed",
            reservedAt: new Date().toISOString(),
          },
        },
      }),
    );
    const ledgerBefore = await readFile(devices[0]!.paths.privacyLedger);
    const dataBefore = await snapshot(devices[0]!.paths.datasets);
    const { job: j } = await job(devices, dp);
    const sent = proxy.records.length;
    const entry = await devices[0]!.runner.handle(j);
    assert.equal(entry.status, "refused");
    assert.equal(entry.code, "PRIVACY_BUDGET_EXCEEDED");
    assert.equal(proxy.records.length, sent, "nothing was sent");
    assert.deepEqual(await readFile(devices[0]!.paths.privacyLedger), ledgerBefore);
    assert.deepEqual(await snapshot(devices[0]!.paths.datasets), dataBefore);
  });

  it("noise parameters out of range: refused with NOISE_PARAMS_INVALID, nothing sent, the ledger untouched", async () => {
    const d = devices[2]!;
    const ledgerBefore = await readFile(d.paths.privacyLedger);
    const { job: j } = await job(devices, tiny);
    const sent = proxy.records.length;
    const entry = await d.runner.handle(j);
    assert.equal(entry.status, "refused");
    assert.equal(entry.code, "NOISE_PARAMS_INVALID");
    assert.match(entry.error ?? "", /INVALID_NOISE_PARAMS/);
    assert.equal(proxy.records.length, sent, "nothing was sent");
    assert.deepEqual(await readFile(d.paths.privacyLedger), ledgerBefore);
  });

  it("a corrupt ledger refuses DP jobs (file untouched, nothing sent); a job without DP is still served", async () => {
    const d = devices[1]!;
    const corrupt = '{"version":1,"entries":{"predict:x":{"rho":"lots"';
    await writeFile(d.paths.privacyLedger, corrupt);
    const dataBefore = await snapshot(d.paths.root);
    const { job: j } = await job(devices, dp);
    const sent = proxy.records.length;
    const entry = await d.runner.handle(j);
    assert.equal(entry.status, "refused");
    assert.equal(entry.code, "PRIVACY_LEDGER_CORRUPT");
    assert.equal(proxy.records.length, sent, "nothing was sent");
    assert.equal(await readFile(d.paths.privacyLedger, "utf8"), corrupt);
    const after = await snapshot(d.paths.root);
    // only the runner's own job record changed; data, keys, consent and the ledger did not
    for (const [file, hash] of Object.entries(dataBefore))
      if (!file.startsWith("jobs.json")) assert.equal(after[file], hash, file);

    // the same runner serves a job whose package adds no noise (it needs no budget)
    const { job: p, config } = await job(devices, plain);
    http.addSession(config, { roundTimeoutMs: 60_000 });
    const entries = await Promise.all(devices.map((x) => x.runner.handle(p)));
    for (const e of entries) assert.equal(e.status, "done", e.error);
    assert.deepEqual((await http.result(config.sessionId)).survivors, [1, 2, 3, 4, 5]);
    assert.equal(await readFile(d.paths.privacyLedger, "utf8"), corrupt);
  });
});
