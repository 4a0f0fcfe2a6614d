/**
 * `dml-device run` loop on real parts: CohortAssigned logs on the EDR chain (from a raw-EVM log emitter standing in
 * for JobMarket), cohort lists on Helia, ONNX Runtime, the SecAgg HTTP server and a heartbeat endpoint on loopback.
 * A busy device leaves the job pending without moving its cursor past it; when idle, it serves the job; a cohort that
 * excludes the device is skipped; heartbeats verify with the shared verifier.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { network } from "hardhat";
import {
  concat,
  encodeAbiParameters,
  pad,
  toEventSelector,
  toHex,
  type Address,
  type Hex,
} from "viem";
import { generatePrivateKey } from "viem/accounts";
import { deviceAccount, type DeviceAccount } from "#sdk/crypto/session-key.ts";
import pino from "pino";
import { HeliaStore } from "#sdk/ipfs/index.ts";
import {
  buildClassifierPackage,
  getFeaturizer,
  hashedBowSpec,
  publishPackage,
  train,
} from "#sdk/ml/index.ts";
import { SecAggHttpServer } from "#sdk/secagg/index.ts";
import type { DevicePublicClient } from "../../device-runner/chain.ts";
import {
  cohortRoot,
  drawnCohortList,
  encodeCohortList,
  type CohortList,
} from "#sdk/protocol/cohort.ts";
import { deviceConfigSchema } from "../../device-runner/config.ts";
import { runDaemon } from "../../device-runner/daemon.ts";
import { schemaHash } from "../../device-runner/dataset.ts";
import { verifyHeartbeat } from "#sdk/protocol/heartbeat.ts";
import { JobStateStore } from "../../device-runner/job-state.ts";
import type { PredictionJob } from "../../device-runner/prediction-job.ts";
import { jobSessionConfig } from "#sdk/protocol/session.ts";
import type { CohortEvent } from "../../device-runner/watcher.ts";
import type { DevicePaths } from "../../device-runner/paths.ts";
import { deviceWithInbox, fakeJobSeed, FakeChain, giveConsent } from "./helpers.ts";

const EMITTER_INIT = ("0x601f600c600039601f6000f3" +
  "36608090038060806000376060359060403590602035906000359060" +
  "00a400") as Hex;
const SIG = "CohortAssigned(uint256,address,address,bytes32,uint32,string)";
const REGISTRY = "0x0000000000000000000000000000000000000dee" as Address;
const log = pino({ level: "silent" });

let conn: Awaited<ReturnType<typeof network.create>>;
let pub: DevicePublicClient;
let emitter: Address;
let tmp: string;
let store: HeliaStore;
let http: SecAggHttpServer;
let aggUrl: string;
let hb: Server;
const heartbeats: string[] = [];
let pkg: { cid: string; sha: string };
let devices: { paths: DevicePaths; account: DeviceAccount }[];

async function emit(jobId: bigint, list: CohortList, cid: string): Promise<bigint> {
  const [w] = await conn.viem.getWalletClients();
  const data = concat([
    toEventSelector(SIG),
    pad(toHex(jobId), { size: 32 }),
    pad("0x00000000000000000000000000000000000000d1", { size: 32 }),
    pad("0x00000000000000000000000000000000000000a9", { size: 32 }),
    encodeAbiParameters(
      [{ type: "bytes32" }, { type: "uint32" }, { type: "string" }],
      [cohortRoot(list), list.members.length, cid],
    ),
  ]);
  const r = await pub.waitForTransactionReceipt({
    hash: await w!.sendTransaction({ to: emitter, data }),
  });
  return r.blockNumber;
}

before(async () => {
  conn = await network.create();
  pub = (await conn.viem.getPublicClient()) as unknown as DevicePublicClient;
  const [w] = await conn.viem.getWalletClients();
  emitter = (
    await pub.waitForTransactionReceipt({
      hash: await w!.sendTransaction({ data: EMITTER_INIT, to: null }),
    })
  ).contractAddress!;
  tmp = mkdtempSync(path.join(tmpdir(), "dml-device-daemon-"));
  store = await HeliaStore.open({ dir: path.join(tmp, "helia") });
  const f = getFeaturizer(hashedBowSpec());
  const texts = [
    "win money now",
    "free prize click here",
    "meeting at noon",
    "see the attached notes",
  ];
  const built = buildClassifierPackage(
    train({ x: texts.map((t) => f.featurize(t)), y: [1, 1, 0, 0] }, 2, 20),
  );
  pkg = {
    cid: await publishPackage(store, built.manifest, built.model),
    sha: built.manifest.modelSha256,
  };
  devices = [];
  for (let i = 0; i < 3; i++) {
    const emails = Array.from({ length: 5 + i }, (_, k) => ({
      id: `m${k}`,
      group: "local",
      label: (k % 2) as 0 | 1,
      subject: k % 2 ? "free prize" : "meeting",
      body: k % 2 ? "click here to win money" : "notes attached for noon",
    }));
    devices.push({
      paths: await deviceWithInbox(emails),
      account: deviceAccount(generatePrivateKey()),
    });
  }
  http = new SecAggHttpServer();
  aggUrl = await http.listen();
  hb = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      verifyHeartbeat(
        JSON.parse(Buffer.concat(chunks).toString("utf8")),
        { chainId: 31337, verifyingContract: REGISTRY },
        { nowSeconds: Math.floor(Date.now() / 1000), maxSkewSeconds: 3600 },
      )
        .then((a) => {
          heartbeats.push(a);
          res.writeHead(200, { "content-type": "application/json" }).end("{}");
        })
        .catch(() => res.writeHead(400).end());
    });
  });
  await new Promise<void>((r) => hb.listen(0, "127.0.0.1", r));
});

after(async () => {
  await http.close();
  await new Promise<void>((r) => hb.close(() => r()));
  await store.close();
  await rm(tmp, { recursive: true, force: true });
  for (const d of devices) await rm(d.paths.root, { recursive: true, force: true });
});

describe("device daemon (run loop)", () => {
  it("busy → pending with the cursor held back; idle → job served; foreign cohorts skipped; heartbeats sent", async () => {
    const chainId = await pub.getChainId();
    const start = (await pub.getBlockNumber()) + 1n;
    const port = (hb.address() as { port: number }).port;
    const config = deviceConfigSchema.parse({
      chainId,
      contracts: { JobMarket: emitter, DeviceRegistry: REGISTRY },
      startBlock: start,
      confirmations: 0,
      distributorUrl: `http://127.0.0.1:${port}`,
    });
    // the chain's view for admission: job 101's terms, kMin = 3, the devices registered for any email algorithm
    const chain = new FakeChain(emitter, 3);
    for (const d of devices) {
      await giveConsent(d.paths);
      chain.register(d.account.address, {
        schemas: [schemaHash("email/rfc822-v1")],
        anyAlgorithmInSchema: true,
        algorithms: [],
        priceFloor: 0n,
        sessionKey: d.account.session.sessionKey,
      });
    }
    const resolveJob = async (ev: CohortEvent): Promise<PredictionJob> => ({
      kind: "predict",
      jobId: ev.jobId,
      chainId,
      jobMarket: emitter,
      cohortRoot: ev.cohortRoot as Hex,
      cohortCid: ev.cohortCid,
      packageCid: pkg.cid,
      modelSha256: pkg.sha,
      schema: schemaHash("email/rfc822-v1"),
      aggregatorUrl: aggUrl,
      attempt: 0,
    });
    // job 100: a foreign cohort (no device of ours); job 101: our three devices
    const drawn = (jobId: bigint, addresses: Address[]): CohortList =>
      drawnCohortList(
        jobId,
        1n,
        addresses.map((device, position) => ({
          position,
          connectedIndex: BigInt(position),
          device,
        })),
      );
    const foreign = drawn(
      100n,
      [1, 2, 3].map(() => deviceAccount(generatePrivateKey()).address),
    );
    await emit(100n, foreign, await store.addBytes(encodeCohortList(foreign)));
    const ours = drawn(
      101n,
      devices.map((d) => d.account.address),
    );
    const oursBlock = await emit(101n, ours, await store.addBytes(encodeCohortList(ours)));
    chain.terms.set(101n, {
      algorithmId: 1n,
      rewardPerDevice: 10n ** 18n,
      cohortRoot: cohortRoot(ours),
      deviceCount: 3,
      schema: schemaHash("email/rfc822-v1"),
      packageCid: pkg.cid,
      modelSha256: `0x${pkg.sha}`,
    });
    const session = jobSessionConfig({
      chainId,
      jobMarket: emitter,
      jobId: 101n,
      cohort: ours,
      sessionKeys: chain.keysOf(ours.members),
      graph: { cohortRoot: cohortRoot(ours), jobSeed: fakeJobSeed(101n) },
      classes: 2,
    });
    http.addSession(session, { roundTimeoutMs: 30_000 });
    const base = { config, publicClient: pub, store, log, once: true, resolveJob, chain };

    // device 0 is busy: job 101 stays pending and the cursor stops just before its block
    await runDaemon({
      ...base,
      paths: devices[0]!.paths,
      account: devices[0]!.account,
      idleCheck: () => "busy",
    });
    const st0 = await JobStateStore.open(devices[0]!.paths.jobState);
    assert.deepEqual(
      Object.entries(st0.all()).map(([k, e]) => [k.split(":").at(-2), e.status]),
      [["101", "pending"]],
      "the foreign cohort was skipped, ours is pending",
    );
    // the event cursor's position (its last checkpoint) stays below the pending job's block
    const state = JSON.parse(await readFile(devices[0]!.paths.chainCursor, "utf8")) as {
      checkpoints: { block: string }[];
    };
    assert.ok(BigInt(state.checkpoints.at(-1)!.block) < oursBlock);

    // all three idle: the job is served end to end
    await Promise.all(
      devices.map((d) =>
        runDaemon({ ...base, paths: d.paths, account: d.account, idleCheck: () => undefined }),
      ),
    );
    const result = await http.result(session.sessionId);
    assert.deepEqual(result.survivors, [1, 2, 3]);
    assert.equal(result.decoded[0], 5 + 6 + 7);
    for (const d of devices) {
      const st = await JobStateStore.open(d.paths.jobState);
      assert.deepEqual(
        Object.values(st.all()).map((e) => e.status),
        ["done"],
      );
    }
    // device 0 sent a heartbeat in each of its two runs, the others one each — all verified by the distributor
    assert.equal(heartbeats.length, 4);
    assert.equal(heartbeats.filter((a) => a === devices[0]!.account.address).length, 2);
  });
});
