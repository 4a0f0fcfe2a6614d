/**
 * The trainer side of `dml-device run` against the real protocol (script/deploy.ts on EDR, Helia): a bounty with 4
 * devices enrolled through `enrolTrainer` and 1 registered device that did not enrol, two staked refiners whose
 * NodeStaking endpoints are loopback recorders. Each device's `TrainingWatcher` builds exactly the job
 * `trainingRoundOf` implies — derived here independently from the RoundOpened block hash: group and client id by
 * draw score, the drawn host's endpoint, the listed package — for enrolled devices only; round 0 (opened before
 * anyone could enrol) trains nobody. A restart neither loses nor repeats a round, a reorg re-derives it from the new
 * block; rounds that cannot take updates any more (expired, superseded, committed) are skipped. Inside `runDaemon`
 * the round waits until its host serves the group's session, then runs once, also across a restart; and with a
 * real SecAgg server at the drawn host's endpoint, four devices' run loops train a round unattended.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import pino from "pino";
import { encodeAbiParameters, getAddress, keccak256, type Address, type Hex } from "viem";
import { fineTuningAbi } from "#sdk/chain/abi/FineTuning.ts";
import { cohortScore } from "#sdk/chain/cohort.ts";
import { buildSplitTree, candidateCommitment } from "#sdk/chain/finetuning.ts";
import type { DeviceAccount } from "#sdk/crypto/session-key.ts";
import { HeliaStore } from "#sdk/ipfs/index.ts";
import {
  buildClassifierPackage,
  decodeLogRegOnnx,
  flatten,
  getFeaturizer,
  hashedBowSpec,
  publishPackage,
  train,
} from "#sdk/ml/index.ts";
import { cohortRoot, fetchCohort } from "#sdk/protocol/cohort.ts";
import { SAMPLE_SCALE, trainingSessionConfig } from "#sdk/protocol/session.ts";
import { SecAggHttpServer } from "#sdk/secagg/index.ts";
import {
  TRAINING_DEFAULTS,
  trainingGroupList,
  trainingHostSeed,
  trainingRoundSeed,
} from "#sdk/protocol/training-round.ts";
import type { DeviceClients, DevicePublicClient } from "../../device-runner/chain.ts";
import { deviceConfigSchema } from "../../device-runner/config.ts";
import { runDaemon } from "../../device-runner/daemon.ts";
import { enrolTrainer } from "../../device-runner/enrol.ts";
import { DeviceError } from "../../device-runner/errors.ts";
import { JobStateStore } from "../../device-runner/job-state.ts";
import { jobKey } from "../../device-runner/runner.ts";
import type { TrainingJob } from "../../device-runner/trainer.ts";
import {
  TrainingWatcher,
  type RoundOpened,
  type RoundSkip,
} from "../../device-runner/training-watcher.ts";
import { ETHER, label, localAccount, ProtocolEnv, Role } from "../../bench/fixture/protocol.ts";
import { deviceWithInbox } from "./helpers.ts";

const SCHEMA = label("email/rfc822-v1");
const ROUND_DURATION = 3_600n;
const silent = pino({ level: "silent" });

interface Recorder {
  url: string;
  /** `METHOD path` of every request. */
  paths: string[];
  server: Server;
  /** down: 404 for everything (no session yet); serving: the session's status says round 0, the rest 503. */
  mode: "down" | "serving";
}

/** A loopback HTTP server standing in for a refiner's host: records requests, serves only a session status. */
async function recorder(): Promise<Recorder> {
  const rec: Recorder = { url: "", paths: [], server: createServer(), mode: "down" };
  rec.server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    rec.paths.push(`${req.method} ${req.url ?? ""}`);
    req.resume();
    const json = (status: number, body: unknown) =>
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    if (rec.mode === "down")
      return json(404, { error: { code: "NOT_FOUND", message: "no session" } });
    if (req.method === "GET" && /^\/sessions\/0x[0-9a-f]{64}$/.test(req.url ?? ""))
      return json(200, { round: 0, pending: 4 });
    json(503, { error: { code: "UNAVAILABLE", message: "not today" } });
  });
  await new Promise<void>((r) => rec.server.listen(0, "127.0.0.1", r));
  rec.url = `http://127.0.0.1:${(rec.server.address() as AddressInfo).port}`;
  return rec;
}

describe("device runner: training rounds from the chain (FineTuning on EDR)", () => {
  let env: ProtocolEnv;
  let store: HeliaStore;
  let tmp: string;
  let devices: DeviceAccount[];
  let enrolled: Address[];
  let bountyId: bigint;
  let algorithmId: bigint;
  let pkg: { cid: string; sha: Hex; parameters: number };
  let b2: bigint;
  let hosts: Map<Address, Recorder>;
  let ft: Address;
  let cursorN = 0;
  const pub = () => env.pub as unknown as DevicePublicClient;
  const clientsOf = async (d: DeviceAccount): Promise<DeviceClients> =>
    ({ publicClient: env.pub, walletClient: await env.localWallet(d) }) as unknown as DeviceClients;

  /** A watcher for device `i` on a cursor file of its own (`cursor` names it: the same name = a restart). */
  const watcher = (i: number, cursor = `fresh-${cursorN++}`) =>
    new TrainingWatcher({
      publicClient: pub(),
      chainId: 31337,
      contracts: {
        FineTuning: ft,
        AlgorithmMarketplace: env.addr("AlgorithmMarketplace"),
        NodeStaking: env.addr("NodeStaking"),
      },
      device: devices[i]!.address,
      store,
      cursorFile: path.join(tmp, `cursor-${i}-${cursor}.json`),
      startBlock: 0n,
    });
  /** One poll: the jobs handed over and the skipped rounds (`round → why`). */
  const poll = async (w: TrainingWatcher) => {
    const jobs: TrainingJob[] = [];
    const skipped = new Map<bigint, RoundSkip>();
    await w.poll(
      async (j) => void jobs.push(j),
      (ev: RoundOpened, why) => void skipped.set(ev.round, why),
    );
    return { jobs, skipped };
  };
  const openedLog = async (round: bigint, bounty = bountyId) => {
    const [log] = await env.pub.getContractEvents({
      address: ft,
      abi: fineTuningAbi,
      eventName: "RoundOpened",
      args: { bountyId: bounty, round },
      fromBlock: 0n,
    });
    assert.ok(log, `RoundOpened(${bounty}, ${round})`);
    return log;
  };
  /** Posts a 3-round bounty on the listed package (the poster holds the funds) and returns its id. */
  const postBounty = async (): Promise<bigint> => {
    await env.send(env.wallet(3), "FineTuning", "createBounty", [
      {
        algorithmId,
        controlCid: "bafkreicontrolcontrolcontrolcontrolcontrolcontrolcontrolcon",
        metricId: label("accuracy"),
        minGainBps: 100,
        rewardPool: 300n * ETHER,
        rounds: 3,
        groupSize: 0,
        roundDuration: Number(ROUND_DURATION),
        splitRoot: buildSplitTree(
          [0, 1, 2].map((round) => ({
            round,
            cid: `bafkreisplit${round}`,
            salt: label(`s${round}`),
          })),
        ).root,
        baselineMetric: 8n * 10n ** 17n,
        splitWindow: 86_400,
      },
    ]);
    return env.read<bigint>("FineTuning", "bountyCount");
  };
  /** The group root every member of `bounty`'s round derives from the RoundOpened block hash (one group of 4). */
  const expectedRoot = (blockHash: Hex, bounty: bigint) => {
    const seed = trainingRoundSeed(blockHash, bounty);
    const order = [...enrolled].sort((a, b) => {
      const x = cohortScore(seed, a);
      const y = cohortScore(seed, b);
      return x < y ? -1 : x > y ? 1 : 0;
    });
    return cohortRoot({
      version: 1,
      jobId: bounty.toString(),
      members: order.map((address, i) => ({ id: i + 1, address })),
    });
  };

  before(async () => {
    env = await ProtocolEnv.create();
    ft = env.addr("FineTuning");
    tmp = mkdtempSync(path.join(tmpdir(), "dml-training-watch-"));
    store = await HeliaStore.open({ dir: path.join(tmp, "helia") });
    // two staked refiners whose endpoints are recorders: the round's host is drawn between them
    hosts = new Map();
    for (const i of [4, 5]) {
      const w = env.wallet(i);
      await env.stakeNode(w, Role.Refiner, 10_000n * ETHER);
      const rec = await recorder();
      const info = await env.read<{ encryptionKey: Hex }>("NodeStaking", "operatorInfo", [
        w.account.address,
      ]);
      await env.send(w, "NodeStaking", "updateOperator", [rec.url, info.encryptionKey, "{}"]);
      hosts.set(getAddress(w.account.address), rec);
    }
    // a real (tiny) package, listed
    const f = getFeaturizer(hashedBowSpec());
    const texts = ["win money now", "free prize click here", "meeting at noon", "see the notes"];
    const built = buildClassifierPackage(
      train({ x: texts.map((t) => f.featurize(t)), y: [1, 1, 0, 0] }, 2, 20),
    );
    pkg = {
      cid: await publishPackage(store, built.manifest, built.model),
      sha: `0x${built.manifest.modelSha256}`,
      parameters: flatten(decodeLogRegOnnx(built.model)).length,
    };
    await env.send(env.wallet(2), "AlgorithmMarketplace", "list", [
      pkg.cid,
      pkg.sha,
      SCHEMA,
      ETHER,
      0n,
      0n,
      "",
    ]);
    algorithmId = await env.read<bigint>("AlgorithmMarketplace", "algorithmCount");
    const poster = env.wallet(3);
    await env.fund([getAddress(poster.account.address)], 1_000n * ETHER);
    await env.approve(poster, "FineTuning");
    bountyId = await postBounty();
    devices = Array.from({ length: 5 }, (_, i) => localAccount(`training-watcher device ${i}`));
    await env.registerDevices(devices, SCHEMA);
  });
  after(async () => {
    for (const h of hosts?.values() ?? []) h.server.close();
    await store?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it("enrolTrainer enrols 4 devices once (a second call sends nothing) and refuses a missing bounty and an unregistered key", async () => {
    for (const d of devices.slice(0, 4)) {
      const r = await enrolTrainer(
        await clientsOf(d),
        { FineTuning: ft, DeviceRegistry: env.addr("DeviceRegistry") },
        bountyId,
      );
      assert.equal(r.status, "enrolled");
      assert.equal(await env.read("FineTuning", "isEnrolled", [bountyId, d.address]), true);
    }
    enrolled = devices.slice(0, 4).map((d) => getAddress(d.address));
    const again = await enrolTrainer(
      await clientsOf(devices[0]!),
      { FineTuning: ft, DeviceRegistry: env.addr("DeviceRegistry") },
      bountyId,
    );
    assert.deepEqual(again, { status: "already" });
    const b = await env.read<{ trainerCount: number }>("FineTuning", "getBounty", [bountyId]);
    assert.equal(b.trainerCount, 4, "4 enrolments on chain, the repeat sent nothing");
    const code = async (p: Promise<unknown>) =>
      p.then(
        () => "resolved",
        (e: unknown) => (e instanceof DeviceError ? e.code : String(e)),
      );
    assert.equal(
      await code(
        enrolTrainer(
          await clientsOf(devices[4]!),
          { FineTuning: ft, DeviceRegistry: env.addr("DeviceRegistry") },
          bountyId + 1n,
        ),
      ),
      "BOUNTY_NOT_ACTIVE",
    );
    assert.equal(
      await code(
        enrolTrainer(
          await clientsOf(localAccount("never registered")),
          { FineTuning: ft, DeviceRegistry: env.addr("DeviceRegistry") },
          bountyId,
        ),
      ),
      "NOT_REGISTERED",
    );
  });

  it("round 0 trains nobody; round 1 gives each enrolled device exactly the job trainingRoundOf implies, the outsider none", async () => {
    for (let i = 0; i < 5; i++) {
      const r = await poll(watcher(i, "main"));
      assert.equal(r.jobs.length, 0);
      assert.equal(r.skipped.get(0n), "not-enrolled", "round 0 opened with createBounty");
    }
    const opened0 = await openedLog(0n);
    await env.warpTo(BigInt(opened0.args.openedAt!) + ROUND_DURATION + 1n);
    await env.send(env.wallet(6), "FineTuning", "closeRound", [bountyId]);

    // independent derivation from the RoundOpened block hash
    const log1 = await openedLog(1n);
    const seed = trainingRoundSeed(log1.blockHash, bountyId);
    const order = [...enrolled].sort((a, b) => {
      const x = cohortScore(seed, a);
      const y = cohortScore(seed, b);
      return x < y ? -1 : x > y ? 1 : 0;
    });
    const host = getAddress(
      await env.read<Address>("NodeStaking", "drawActive", [
        Role.Refiner,
        trainingHostSeed(seed, 1n),
      ]),
    );
    assert.ok(hosts.has(host), "the host is one of the staked refiners");

    const seen = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const r = await poll(watcher(i, "main"));
      assert.equal(r.skipped.has(0n), false, "round 0 is behind the cursor");
      if (i === 4) {
        assert.deepEqual(r.jobs, []);
        assert.equal(r.skipped.get(1n), "not-enrolled");
        continue;
      }
      assert.equal(r.jobs.length, 1, `device ${i}: one job`);
      const job = r.jobs[0]!;
      const { list, clientId } = await fetchCohort(store, job.groupCid, {
        root: job.groupRoot as Hex,
        jobId: bountyId,
        device: devices[i]!.address,
      });
      assert.deepEqual(
        list.members.map((m) => getAddress(m.address)),
        order,
        "the group: the 4 enrolled devices in draw-score order",
      );
      assert.equal(clientId, order.indexOf(enrolled[i]!) + 1);
      assert.deepEqual(
        { ...job, groupRoot: undefined, groupCid: undefined },
        {
          kind: "train",
          chainId: 31337,
          fineTuning: ft,
          bountyId,
          round: 1n,
          group: 0,
          groupRoot: undefined,
          groupCid: undefined,
          packageCid: pkg.cid,
          modelSha256: pkg.sha,
          schema: SCHEMA,
          aggregatorUrl: hosts.get(host)!.url,
          epochs: TRAINING_DEFAULTS.epochs,
          learningRate: TRAINING_DEFAULTS.learningRate,
          clipNorm: TRAINING_DEFAULTS.clipNorm,
        },
      );
      seen.add(job.groupRoot);
    }
    assert.equal(seen.size, 1, "every member derived the same group root");
    // a restart (same cursor file, new process) hands over nothing again
    for (let i = 0; i < 5; i++) assert.equal((await poll(watcher(i, "main"))).jobs.length, 0);
  });

  it("a crash before the cursor moved redelivers the same job (same runner key) once, then never again", async () => {
    const w = watcher(1, "crash");
    await assert.rejects(
      w.poll(async () => {
        throw new Error("killed while handling");
      }),
      /killed/,
    );
    const first = (await poll(watcher(1, "crash"))).jobs;
    assert.equal(first.length, 1);
    assert.equal(jobKey(first[0]!), `train:31337:${ft.toLowerCase()}:${bountyId}:1:0`);
    assert.equal((await poll(watcher(1, "crash"))).jobs.length, 0);
  });

  it("inside runDaemon the round waits for its host to serve the session, then runs once, also across a restart", async () => {
    const paths = await deviceWithInbox(
      Array.from({ length: 6 }, (_, k) => ({
        id: `m${k}`,
        group: k % 2 ? "spam" : "easy_ham",
        label: (k % 2) as 0 | 1,
        subject: k % 2 ? "free prize" : "meeting",
        body: k % 2 ? "win money now click" : "see the attached notes",
      })),
    );
    const config = deviceConfigSchema.parse({
      chainId: 31337,
      confirmations: 0,
      idle: { maxLoadPerCore: 64, windows: [] },
      contracts: Object.fromEntries(
        Object.entries(env.manifest.contracts).map(([k, v]) => [k, v.address]),
      ),
    });
    const log1 = await openedLog(1n);
    const host = hosts.get(
      getAddress(
        await env.read<Address>("NodeStaking", "drawActive", [
          Role.Refiner,
          trainingHostSeed(trainingRoundSeed(log1.blockHash, bountyId), 1n),
        ]),
      ),
    )!;
    const sessionId = keccak256(
      encodeAbiParameters(
        [
          { type: "uint256" },
          { type: "address" },
          { type: "uint256" },
          { type: "uint256" },
          { type: "uint32" },
        ],
        [31337n, ft, bountyId, 1n, 0],
      ),
    );
    const run = () =>
      runDaemon({
        config,
        paths,
        account: devices[2]!,
        publicClient: pub(),
        store,
        log: silent,
        once: true,
        // the host's 503 is an outage the client would retry for 120 s by default
        poll: { outageMs: 500 },
      });
    const key = `train:31337:${ft.toLowerCase()}:${bountyId}:1:0`;
    const entryOf = async () => (await JobStateStore.open(paths.jobState)).get(key);
    const cursorBlock = async () =>
      BigInt(
        (
          JSON.parse(await readFile(paths.trainingCursor, "utf8")) as {
            checkpoints: { block: string }[];
          }
        ).checkpoints.at(-1)!.block,
      );

    // the host does not serve the session yet: the device asks, sends nothing, and holds the round back
    await run();
    assert.deepEqual(host.paths, [`GET /sessions/${sessionId}`]);
    assert.equal(await entryOf(), undefined, "the round was not run");
    assert.ok((await cursorBlock()) < log1.blockNumber, "the cursor stays before RoundOpened(1)");

    // served: the device trains and joins the session (the host then fails it: 503)
    host.mode = "serving";
    await run();
    const entry = await entryOf();
    assert.ok(entry, "the round's job was run by the runner");
    assert.equal(entry.status, "failed", "the host answered 503 to the advertisement");
    assert.equal(entry.attempts, 1);
    assert.ok(
      host.paths.includes(`POST /sessions/${sessionId}/advertise`),
      `the device advertised at the round's session: ${host.paths.join(", ")}`,
    );
    assert.ok(
      host.paths.every((p) => p.includes(`/sessions/${sessionId}`)),
      "nothing but the round's session",
    );
    for (const h of hosts.values())
      if (h !== host) assert.deepEqual(h.paths, [], "not the other refiner");
    assert.ok((await cursorBlock()) >= log1.blockNumber);

    // a restarted daemon neither asks nor runs again
    const seen = host.paths.length;
    await run();
    assert.deepEqual(await entryOf(), entry);
    assert.equal(host.paths.length, seen);
  });

  it("skips rounds that cannot take updates: expired, superseded by the next round, committed", async () => {
    const opened1 = await openedLog(1n);
    await env.warpTo(BigInt(opened1.args.openedAt!) + ROUND_DURATION + 1n);
    let r = await poll(watcher(0));
    assert.deepEqual(
      [...r.skipped],
      [
        [0n, "not-enrolled"],
        [1n, "round-expired"],
      ],
    );
    assert.equal(r.jobs.length, 0);
    await env.send(env.wallet(6), "FineTuning", "closeRound", [bountyId]);
    r = await poll(watcher(0));
    assert.equal(r.skipped.get(1n), "round-not-current");
    assert.deepEqual(
      r.jobs.map((j) => j.round),
      [2n],
    );
    const refiner = env.wallet(4);
    await env.send(refiner, "FineTuning", "commitCandidate", [
      bountyId,
      candidateCommitment(pkg.sha, label("payout root"), label("salt")),
      pkg.cid,
      "bafkreiroundlist",
    ]);
    r = await poll(watcher(0));
    assert.equal(r.skipped.get(2n), "round-not-open");
    assert.equal(r.jobs.length, 0);
  });

  it("a reorg that moves RoundOpened re-derives the round from the new block; the runner key stays the round's", async () => {
    b2 = await postBounty();
    for (const d of devices.slice(0, 4))
      await enrolTrainer(
        await clientsOf(d),
        { FineTuning: ft, DeviceRegistry: env.addr("DeviceRegistry") },
        b2,
      );
    const w = watcher(0, "reorg");
    assert.equal((await poll(w)).jobs.length, 0, "nothing open to train in yet");
    await env.warpTo(BigInt((await openedLog(0n, b2)).args.openedAt!) + ROUND_DURATION + 1n);
    const snapshot = (await env.conn.provider.request({ method: "evm_snapshot" })) as string;
    await env.send(env.wallet(6), "FineTuning", "closeRound", [b2]);
    const abandoned = await openedLog(1n, b2);
    const [a] = (await poll(w)).jobs;
    assert.ok(a);
    assert.equal(a.groupRoot, expectedRoot(abandoned.blockHash, b2));

    await env.conn.provider.request({ method: "evm_revert", params: [snapshot] });
    // another keeper's transaction: RoundOpened lands at the abandoned height, in another block (a cursor that kept
    // only the block number would count that height as handled and never deliver the round)
    await env.send(env.wallet(7), "FineTuning", "closeRound", [b2]);
    const opened = await openedLog(1n, b2);
    assert.equal(opened.blockNumber, abandoned.blockNumber);
    assert.notEqual(opened.blockHash, abandoned.blockHash);
    const again = (await poll(w)).jobs;
    assert.equal(again.length, 1, "the new chain's round, once");
    assert.equal(again[0]!.groupRoot, expectedRoot(opened.blockHash, b2));
    assert.equal(jobKey(again[0]!), jobKey(a), "one run per round whatever the block");
    assert.equal((await poll(w)).jobs.length, 0);
  });

  it("four devices' run loops train the round unattended through the host's SecAgg session: Σ n exact, all done", async () => {
    // b2's round 1 (open, from the reorg test): its drawn host now serves a real SecAgg server at its endpoint
    const opened = await openedLog(1n, b2);
    const seed = trainingRoundSeed(opened.blockHash, b2);
    const hostAddr = getAddress(
      await env.read<Address>("NodeStaking", "drawActive", [
        Role.Refiner,
        trainingHostSeed(seed, 1n),
      ]),
    );
    const wallet = [4, 5]
      .map((i) => env.wallet(i))
      .find((w) => getAddress(w.account.address) === hostAddr)!;
    const http = new SecAggHttpServer();
    const url = await http.listen();
    try {
      const info = await env.read<{ encryptionKey: Hex }>("NodeStaking", "operatorInfo", [
        hostAddr,
      ]);
      await env.send(wallet, "NodeStaking", "updateOperator", [url, info.encryptionKey, "{}"]);
      const order = [...enrolled].sort((a, b) => {
        const x = cohortScore(seed, a);
        const y = cohortScore(seed, b);
        return x < y ? -1 : x > y ? 1 : 0;
      });
      const { list } = trainingGroupList(b2, order);
      const config = trainingSessionConfig({
        chainId: 31337,
        fineTuning: ft,
        bountyId: b2,
        round: 1n,
        group: 0,
        members: list.members,
        sessionKeys: await env.read<Hex[]>("DeviceRegistry", "sessionKeysOf", [order]),
        parameters: pkg.parameters,
        clipNorm: TRAINING_DEFAULTS.clipNorm,
      });
      http.addSession(config, { roundTimeoutMs: 60_000 });
      const sizes = [5, 6, 7, 8];
      const dirs = await Promise.all(
        sizes.map((n, i) =>
          deviceWithInbox(
            Array.from({ length: n }, (_, k) => ({
              id: `d${i}-m${k}`,
              group: k % 2 ? "spam" : "easy_ham",
              label: (k % 2) as 0 | 1,
              subject: k % 2 ? "free prize" : "meeting",
              body: k % 2 ? "win money now click here" : "see the attached notes at noon",
            })),
          ),
        ),
      );
      const config0 = deviceConfigSchema.parse({
        chainId: 31337,
        confirmations: 0,
        idle: { maxLoadPerCore: 64, windows: [] },
        contracts: Object.fromEntries(
          Object.entries(env.manifest.contracts).map(([k, v]) => [k, v.address]),
        ),
      });
      await Promise.all(
        dirs.map((paths, i) =>
          runDaemon({
            config: config0,
            paths,
            account: devices[i]!,
            publicClient: pub(),
            store,
            log: silent,
            once: true,
          }),
        ),
      );
      const result = await http.result(config.sessionId);
      assert.equal(result.survivors.length, 4);
      assert.equal(
        Math.round(result.decoded[pkg.parameters]! * SAMPLE_SCALE),
        sizes.reduce((a, b) => a + b, 0),
        "the group's sample count",
      );
      for (const paths of dirs)
        assert.equal(
          (await JobStateStore.open(paths.jobState)).get(
            `train:31337:${ft.toLowerCase()}:${b2}:1:0`,
          )?.status,
          "done",
        );
    } finally {
      await http.close();
    }
  });
});
