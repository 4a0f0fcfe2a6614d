/**
 * The main job of `npm start`, after the deployment: one prediction job on the local chain, run the way a real
 * deployment runs it — every operator and every device is its own process, reaching the chain over HTTP JSON-RPC on
 * 127.0.0.1 and IPFS through one `dml-ipfs` daemon (script/network/):
 *
 *   distributor `dml-relayer distributor`: takes the devices' heartbeats, posts the growth epoch's connected set,
 *               draws and assigns the job's cohort (ResultAttestation draws the attestors in the same transaction);
 *   aggregator  `dml-relayer aggregator`: the SecAgg server at its NodeStaking endpoint; seals the transcript to the
 *               drawn attestors and the reporters, commits and reveals the job's resultHash;
 *   attestors   `dml-relayer attestor` ×3 (the drawn ones): replay the transcript, commit-reveal their votes;
 *   reporter    `dml-relayer reporter`: encrypts the report to the customer's key, settles the job;
 *   watcher     `dml-relayer watcher`: checks every posted connected set and cohort (and disputes none here);
 *   devices     `dml-device run` (one stays offline): heartbeat → ONNX → SecAgg; then `dml-device claim job`.
 *
 * This script keeps no role logic. It plays only the parties that are not operators or devices:
 *
 *   developer   trains the reference spam classifier, publishes its package and lists it;
 *   customer    creates a job with its report key, commits a sealed bid, decrypts the report;
 *   keeper      reveals the customer's bid and finalizes the auction epoch;
 *   faucet      funds and stakes the operators, funds the devices' bonds and gas;
 *   clock       moves the dev chain through the growth epoch and the auction windows (`evm_setNextBlockTimestamp`);
 *   oracle      delivers the growth epoch's VRF word through Chainlink's mock coordinator (the dev chain's only mock);
 *               the distributor requested the draw after the challenge window, the winners claim with
 *               `dml-device claim growth`.
 *
 * Accounts are Hardhat's dev mnemonic (#1 is the genesis faucet). Data under `.data/demo/` is recreated on every
 * run, like the chain; every process started here is stopped before the function returns.
 */
import { rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { randomBytes } from "node:crypto";
import {
  bytesToHex,
  createTestClient,
  formatEther,
  getAddress,
  http,
  keccak256,
  parseEther,
  parseUnits,
  toHex,
  type Address,
  type Hex,
} from "viem";
import { protocolAbi } from "#sdk/chain/contracts.ts";
import { loadArtifact } from "#sdk/chain/artifacts.ts";
import { createChainWalletClient, type ChainPublicClient } from "#sdk/chain/clients.ts";
import { bidCommitment } from "#sdk/chain/commitments.ts";
import { JobStatus, Role } from "#sdk/chain/enums.ts";
import { ChainError } from "#sdk/chain/errors.ts";
import type { Manifest } from "#sdk/chain/manifest.ts";
import { decryptReport, reportKeyPair } from "#sdk/crypto/report.ts";
import { KuboStore } from "#sdk/ipfs/index.ts";
import { deriveOperatorKey, walletSigner } from "#sdk/crypto/operator-key.ts";
import type { AdjustedEstimate, Estimate } from "#sdk/ml/estimate.ts";
import {
  buildReferencePackage,
  prepareWorkload,
  referenceManifestFields,
  publishPackage,
  trainReference,
} from "#sdk/ml/index.ts";
import { DEFAULT_PRIVACY_SPEC } from "#sdk/privacy/index.ts";
import { schemaHash } from "../device-runner/dataset.ts";
import { DEFAULT_TRAINED_ROUNDS, runFineTuningDemo } from "./finetune-demo.ts";
import { DEMO_STEPS, type DemoEvents } from "./start/events.ts";
import { networkAccount } from "./network/accounts.ts";
import { DemoChain, type Wallet } from "./network/chain.ts";
import {
  consentToEmailJobs,
  createDeviceDir,
  EMAIL_SCHEMA_ID,
  type DeviceDir,
} from "./network/devices.ts";
import {
  deviceCommand,
  freePort,
  eachLimited,
  hostCommand,
  startIpfs,
  startRelayer,
  stopAllGracefully,
  waitFor,
  type ChildProc,
  type NetworkEndpoints,
} from "./network/processes.ts";

/** Devices by default (`npm start -- --devices N`); the last one never comes online. */
export const DEFAULT_DEVICES = 50;
const OFFLINE = 1;
/** Devices hosted by one `dml-device host` process (each keeps its own key, data, clients and jobs). */
const DEVICES_PER_WORKER = 10;
/** Devices that enrol as trainers in the fine-tuning bounty (`npm start -- --trainers N`). */
export const DEFAULT_TRAINERS = 20;
/** Devices set up at once (directory, funding, consent). */
const SETUP_CONCURRENCY = 8;
/** `dml-device claim` processes at the end, each claiming for its share of the devices (one per core here). */
const CLAIM_PROCESSES = 2;
const REWARD = parseEther("2");
const BID = parseEther("3");
const USE_PRICE = parseEther("5");
// the customer accepts a standard error of 0.15 on the spam share (adjusted, with DP noise) from ≥ 5 devices
const MAX_STD_ERROR = 15n * 10n ** 16n; // 0.15, fixed point 1e18
/** How long the demo waits for a process-driven phase (a slow machine runs ~14 processes on few cores). */
const PHASE_TIMEOUT_MS = 300_000;

/** The customer's report key file under `<data-dir>/demo/` (`{ jobId, publicKey, secretKey }`, mode 0600). */
export const REPORT_KEY_FILE = "customer-report-key.json";

export interface DemoContext {
  rpcUrl: string;
  publicClient: ChainPublicClient;
  manifest: Manifest;
  /** The deployment manifest file the relayer and device processes read. */
  manifestFile: string;
  dataDir: string;
  /** An IPFS (Kubo RPC) API to use instead of starting a `dml-ipfs` daemon (`npm start -- --ipfs URL`). */
  kuboUrl?: string;
  /** Devices to simulate (default `DEFAULT_DEVICES`). */
  devices?: number;
  /** Run the fine-tuning bounty after the prediction job (default true). */
  fineTuning?: boolean;
  /** Devices hosted by one `dml-device host` worker process (default `DEVICES_PER_WORKER`). */
  devicesPerWorker?: number;
  /**
   * How many online devices run `dml-device claim` at the end (default: every one). A benchmark may claim with a
   * sample only: then the growth check is that the sample's wins were claimed, not all k draws.
   */
  claimants?: number;
  /**
   * The aggregator's SecAgg round deadline (default max(8 s, 0.4 s per device)). Rounds close as soon as every device
   * answered, so a longer one costs nothing unless a device is silent; a loaded machine needs it longer.
   */
  roundTimeoutMs?: number;
  /**
   * Start every staked attestor and the reporter with the other operators, before the job (default: the drawn
   * attestors and the reporter start once the cohort is assigned). A benchmark's job window then holds no start-up.
   */
  operatorsUpFront?: boolean;
  /**
   * The distributor's allowed heartbeat clock skew (`--max-skew-seconds`, default 300). A dev chain mining several
   * blocks a second runs its clock ≈ 3 s per device set up ahead of the devices' wall clocks.
   */
  maxSkewSeconds?: number;
  /** How long to wait for each process-driven phase (default `PHASE_TIMEOUT_MS`). */
  phaseTimeoutMs?: number;
  /** Called at each phase boundary with the wall-clock time (bench/e2e.ts); awaited. */
  onPhase?: (phase: DemoPhase, at: number) => void | Promise<void>;
  /** Devices that enrol as trainers (default `DEFAULT_TRAINERS`, at most the online devices). */
  trainers?: number;
  /** Trained rounds of the bounty (default `DEFAULT_TRAINED_ROUNDS`). */
  rounds?: number;
  /** Leave every process running when the job ends (`npm start -- --keep`; the caller stops them). */
  keep?: boolean;
  /** Steps, key figures, progress and endpoints, for `npm start`'s bars and final table. */
  events?: DemoEvents;
  print: (line: string) => void;
}

/** The boundaries `onPhase` reports, in order. */
export const DEMO_PHASES = [
  "started",
  "listed",
  "operators-running",
  "devices-registered",
  "devices-online",
  "connected-set-stands",
  "growth-drawn",
  "job-scheduled",
  "cohort-assigned",
  "committed",
  "settled",
  "report-decrypted",
  "claimed",
] as const;
export type DemoPhase = (typeof DEMO_PHASES)[number];

export interface DemoJobResult {
  jobId: bigint;
  paid: bigint;
  /** Blocks of `createJob` and of the report (`ReportPosted`): the job's lifecycle on chain. */
  createdBlock: bigint;
  reportBlock: bigint;
  growthEpoch: bigint;
  cohortSize: number;
  /** Devices that claimed (`claimants`, or every online device). */
  claimed: number;
}

/** Runs the demo job; returns the job id and the total the devices claimed. */
export async function runDemoJob(ctx: DemoContext): Promise<DemoJobResult> {
  const started = Date.now();
  const { print } = ctx;
  const emit: DemoEvents = ctx.events ?? (() => undefined);
  emit({ kind: "step", name: DEMO_STEPS.setup });
  const phase = async (p: DemoPhase) => {
    await ctx.onPhase?.(p, Date.now());
  };
  await phase("started");
  const DEVICES = ctx.devices ?? DEFAULT_DEVICES;
  if (!Number.isInteger(DEVICES) || DEVICES < 6 || DEVICES > 10_000)
    throw new ChainError("START", `--devices ${DEVICES}: between 6 and 10,000`);
  const PER_WORKER = ctx.devicesPerWorker ?? DEVICES_PER_WORKER;
  if (!Number.isInteger(PER_WORKER) || PER_WORKER < 1)
    throw new ChainError("START", `devices per worker ${PER_WORKER}: a positive integer`);
  const TIMEOUT_MS = ctx.phaseTimeoutMs ?? PHASE_TIMEOUT_MS;
  // the customer accepts the job when at least 80% of the online devices take part (≥ 5)
  const MIN_PARTICIPANTS = Math.max(5, Math.floor(((DEVICES - OFFLINE) * 4) / 5));
  const chainId = await ctx.publicClient.getChainId();
  const chain = new DemoChain(
    ctx.publicClient,
    ctx.manifest,
    createTestClient({ mode: "hardhat", transport: http(ctx.rpcUrl) }),
  );
  const wallet = (i: number) => createChainWalletClient(networkAccount(i), ctx.rpcUrl, chainId);
  const [faucet, customer, developer, distributor, aggregator, reporter, keeper] = [
    1, 2, 3, 4, 5, 6, 11,
  ].map(wallet) as [Wallet, Wallet, Wallet, Wallet, Wallet, Wallet, Wallet];
  const attestors = [7, 8, 9, 10].map(wallet);
  const [refiner, poster] = [15, 16].map(wallet) as [Wallet, Wallet];
  const who = (w: Wallet) => getAddress(w.account.address);

  const root = path.join(ctx.dataDir, "demo");
  await rm(root, { recursive: true, force: true });
  let store: KuboStore | undefined;
  try {
    const ipfs =
      ctx.kuboUrl === undefined ? await startIpfs(path.join(root, "ipfs")) : { url: ctx.kuboUrl };
    store = await KuboStore.open({ url: ipfs.url, cacheDir: path.join(root, "ipfs-client") });
    const net: NetworkEndpoints = {
      rpcUrl: ctx.rpcUrl,
      manifestFile: ctx.manifestFile,
      kuboUrl: ipfs.url,
    };
    print(
      `${ctx.kuboUrl === undefined ? "dml-ipfs daemon" : "IPFS (Kubo RPC API)"} at ${ipfs.url}`,
    );
    emit({ kind: "endpoint", name: "IPFS (Kubo RPC API)", url: ipfs.url });

    // developer: train, package, publish, list
    print("training the reference spam classifier on the developer's public slice …");
    const workload = await prepareWorkload({ split: { devices: DEVICES } });
    // the package publishes the model's confusion matrix on the held-out control group (PROTOCOL.md §7.11)
    // … with distributed DP noise on every device's result vector (docs/privacy.md)
    const built = await buildReferencePackage(workload, trainReference(workload), {
      ...referenceManifestFields(),
      privacy: DEFAULT_PRIVACY_SPEC,
    });
    const packageCid = await publishPackage(store, built.manifest, built.model);
    await chain.send(developer, "AlgorithmMarketplace", "list", [
      packageCid,
      `0x${built.manifest.modelSha256}`,
      schemaHash(EMAIL_SCHEMA_ID),
      USE_PRICE,
      0n,
      0n,
      "",
    ]);
    const algorithmId = await chain.read<bigint>("AlgorithmMarketplace", "algorithmCount");
    print(`algorithm ${algorithmId} listed: package ${packageCid}`);
    await phase("listed");
    emit({ kind: "figure", key: "algorithm", value: `${algorithmId}` });

    // faucet: operators funded, registered and staked; the distributor's heartbeat endpoint and the aggregator's
    // SecAgg server are their NodeStaking endpoints (where their processes will listen)
    const distPort = await freePort();
    const aggPort = await freePort();
    const refPort = await freePort();
    const stakes: [Wallet, number, string][] = [
      [distributor, Role.Distributor, `http://127.0.0.1:${distPort}`],
      [aggregator, Role.Aggregator, `http://127.0.0.1:${aggPort}`],
      [reporter, Role.Reporter, "http://127.0.0.1:1/reporter"],
      [refiner, Role.Refiner, `http://127.0.0.1:${refPort}`],
      ...attestors.map((a): [Wallet, number, string] => [
        a,
        Role.Attestor,
        "http://127.0.0.1:1/attestor",
      ]),
    ];
    for (const [w, role, endpoint] of stakes) {
      const min = await chain.read<bigint>("NodeStaking", "minStake", [role]);
      await chain.send(faucet, "DMLToken", "transfer", [who(w), min]);
      // the operator's X25519 key derives from its wallet (sdk/crypto/operator-key.ts): sealed transcripts reach it
      const { publicKey } = await deriveOperatorKey(walletSigner(w));
      await chain.send(w, "NodeStaking", "register", [endpoint, publicKey, "{}"]);
      await chain.send(w, "DMLToken", "approve", [chain.addr("NodeStaking"), min]);
      await chain.send(w, "NodeStaking", "stake", [role, min]);
    }
    const opsDir = path.join(root, "operators");
    const procs = {
      distributor: await startRelayer(net, opsDir, "distributor", who(distributor), [
        "--listen-port",
        String(distPort),
        ...(ctx.maxSkewSeconds === undefined
          ? []
          : ["--max-skew-seconds", String(ctx.maxSkewSeconds)]),
      ]),
      aggregator: await startRelayer(net, opsDir, "aggregator", who(aggregator), [
        "--listen-port",
        String(aggPort),
        "--round-timeout-ms",
        // rounds close as soon as every device answered; the deadline only bounds a silent one
        String(ctx.roundTimeoutMs ?? Math.max(15_000, DEVICES * 400)),
      ]),
      watcher: await startRelayer(net, opsDir, "watcher", who(keeper)),
    };
    for (const [role, p] of Object.entries(procs))
      emit({ kind: "endpoint", name: `${role} metrics`, url: await p.ready });
    emit({ kind: "endpoint", name: "distributor heartbeats", url: `http://127.0.0.1:${distPort}` });
    emit({ kind: "endpoint", name: "aggregator SecAgg", url: `http://127.0.0.1:${aggPort}` });
    emit({ kind: "figure", key: "operators staked", value: `${stakes.length}` });
    // always-on operators (a benchmark): every staked attestor and the reporter run before any job exists, so the
    // job's window holds no process start-up
    const attestorsRunning = new Set<Address>();
    const reporterRunning = ctx.operatorsUpFront === true;
    if (ctx.operatorsUpFront === true) {
      await Promise.all(
        [
          ...attestors.map((a) => startRelayer(net, opsDir, "attestor", who(a))),
          startRelayer(net, opsDir, "reporter", who(reporter)),
        ].map(async (p) => (await p).ready),
      );
      for (const a of attestors) attestorsRunning.add(who(a));
    }
    await phase("operators-running");
    print(
      `${stakes.length} operators staked; dml-relayer distributor (heartbeats http://127.0.0.1:${distPort}), aggregator (SecAgg http://127.0.0.1:${aggPort}) and watcher running`,
    );

    // devices: data directories with their own keys and inboxes; the faucet funds each bond and gas; each owner
    // consents to the schema on chain. The online ones run `dml-device run` and heartbeat to the distributor, which
    // posts their connected set for the growth epoch; it stands after its challenge window — before any job's seed
    // exists, so cohorts are drawn from it (PROTOCOL.md §7.2–7.3)
    emit({ kind: "step", name: DEMO_STEPS.devices });
    const registry = chain.addr("DeviceRegistry");
    const bond = await chain.read<bigint>("DeviceRegistry", "deviceBond");
    // SETUP_CONCURRENCY devices at a time: the faucet's transactions one after another (its nonces), the directories
    // and the owners' consents in parallel
    const devices: DeviceDir[] = new Array<DeviceDir>(DEVICES);
    let funding: Promise<void> = Promise.resolve();
    await eachLimited([...Array(DEVICES).keys()], SETUP_CONCURRENCY, async (i) => {
      const d = await createDeviceDir(
        { ...net, chainId },
        path.join(root, "devices", String(i)),
        keccak256(toHex(`dml demo device ${i}`)),
        workload.split.inboxes[i]!.emails,
      );
      const funded = funding.then(async () => {
        await chain.send(faucet, "DMLToken", "transfer", [d.account.address, bond]);
        const gas = await faucet.sendTransaction({
          to: d.account.address,
          value: parseEther("0.05"),
        });
        await chain.pub.waitForTransactionReceipt({ hash: gas });
      });
      funding = funded.catch(() => undefined);
      await funded;
      await consentToEmailJobs({ rpcUrl: ctx.rpcUrl, chainId }, registry, d);
      devices[i] = d;
      emit({ kind: "progress", label: "devices registered", done: i + 1, total: DEVICES });
    });
    const online = devices.slice(0, DEVICES - OFFLINE);
    await phase("devices-registered");
    // many devices to a `dml-device host` worker process, each with its own key, data directory and clients
    const workers: ChildProc[] = [];
    for (let i = 0; i < online.length; i += PER_WORKER)
      workers.push(hostCommand(online.slice(i, i + PER_WORKER).map((d) => d.paths.root)));
    const heartbeatSenders = () => {
      const seen = new Set<string>();
      for (const w of workers)
        for (const line of w.stderr().split("\n"))
          if (line.includes("heartbeat sent")) {
            const m = /"device":"(0x[0-9a-fA-F]{40})"/.exec(line);
            if (m?.[1] !== undefined) seen.add(m[1].toLowerCase());
          }
      return seen.size;
    };
    await waitFor(
      "every online device sent a heartbeat",
      () => {
        const n = heartbeatSenders();
        emit({ kind: "progress", label: "devices online", done: n, total: online.length });
        return n >= online.length;
      },
      TIMEOUT_MS,
    );
    await phase("devices-online");
    const growthEpoch = await chain.read<bigint>("GrowthPool", "currentEpoch");
    await chain.warpTo(await chain.read<bigint>("GrowthPool", "epochEnd", [growthEpoch]));
    const connectedSet = () =>
      chain.read<readonly [Hex, bigint, bigint]>("GrowthPool", "connectedSet", [growthEpoch]);
    await waitFor(
      `the distributor posted growth epoch ${growthEpoch}'s connected set`,
      async () => (await connectedSet())[1] > 0n,
      TIMEOUT_MS,
    );
    const [, connectedCount, standsAt] = await connectedSet();
    await chain.warpTo(standsAt + 1n);
    await phase("connected-set-stands");
    emit({ kind: "figure", key: "registered", value: `${devices.length}` });
    emit({ kind: "figure", key: "online", value: `${online.length}` });
    emit({ kind: "figure", key: "connected set", value: `${connectedCount}` });
    emit({ kind: "step", name: DEMO_STEPS.growthDraw });
    print(
      `${devices.length} devices registered, ${online.length} running dml-device; the distributor's connected set for growth epoch ${growthEpoch} (${connectedCount} devices) stands`,
    );

    // growth pool (PROTOCOL.md §7.1–7.2): after the challenge window the distributor requests the epoch's VRF draw;
    // on the dev chain this script plays Chainlink's oracle (the mock coordinator delivers the random word). The
    // winners claim at the end with `dml-device claim growth`
    const drawRequest = async () => {
      const [log] = await chain.pub.getContractEvents({
        address: chain.addr("GrowthPool"),
        abi: protocolAbi("GrowthPool"),
        eventName: "DrawRequested",
        args: { epoch: growthEpoch },
        fromBlock: 0n,
      });
      return (log as unknown as { args: { requestId: bigint } } | undefined)?.args.requestId;
    };
    await waitFor(
      `the distributor requested growth epoch ${growthEpoch}'s draw`,
      async () => (await drawRequest()) !== undefined,
      TIMEOUT_MS,
    );
    const vrf = ctx.manifest.vrf;
    if (!vrf?.mock) throw new ChainError("START", "the dev chain has no VRF mock coordinator");
    const oracle = createChainWalletClient(networkAccount(0), ctx.rpcUrl, chainId);
    const fulfil = await oracle.writeContract({
      address: vrf.coordinator,
      abi: loadArtifact("VRFCoordinatorV2_5Mock").abi,
      functionName: "fulfillRandomWords",
      args: [(await drawRequest())!, chain.addr("GrowthPool")],
    });
    await chain.pub.waitForTransactionReceipt({ hash: fulfil });
    const growthDraw = await chain.read<{
      drawn: boolean;
      k: bigint;
      budget: bigint;
      perWinner: bigint;
    }>("GrowthPool", "epochInfo", [growthEpoch]);
    if (!growthDraw.drawn)
      throw new ChainError(
        "START",
        `growth epoch ${growthEpoch}: the VRF word did not draw the winners`,
      );
    await phase("growth-drawn");
    print(
      `growth epoch ${growthEpoch}: the distributor requested the VRF draw; the word arrived: ${growthDraw.k} draws of ${formatEther(growthDraw.perWinner)} DML from ${connectedCount} connected devices (the epoch budget: ${formatEther(growthDraw.budget)} DML, its emission and the carry)`,
    );

    emit({ kind: "figure", key: "epoch", value: `${growthEpoch}` });
    emit({ kind: "figure", key: "draws", value: `${growthDraw.k}` });
    emit({ kind: "figure", key: "per draw", value: `${formatEther(growthDraw.perWinner)} DML` });
    emit({ kind: "step", name: DEMO_STEPS.job });

    // customer: a job with its report key, one sealed bid; keeper: reveals it, finalizes the auction
    const reportKey = reportKeyPair();
    // the job's budget grows with its cohort (1,000 devices × the reward is past a flat allowance); 1,000 DML on top
    // pays the licence and the bid
    const budget = await chain.read<bigint>("JobMarket", "budgetOf", [DEVICES, REWARD]);
    const funds = budget + parseEther("1000");
    await chain.send(faucet, "DMLToken", "transfer", [who(customer), funds]);
    for (const spender of ["JobMarket", "AlgorithmMarketplace"])
      await chain.send(customer, "DMLToken", "approve", [chain.addr(spender), funds]);
    let epoch = await chain.read<bigint>("JobMarket", "currentEpoch");
    let windows = await chain.read<readonly bigint[]>("JobMarket", "epochWindows", [epoch]);
    if ((await chain.now()) + 60n >= windows[1]!) {
      await chain.warpTo(windows[3]!);
      epoch += 1n;
      windows = await chain.read<readonly bigint[]>("JobMarket", "epochWindows", [epoch]);
    }
    const created = await chain.send(customer, "JobMarket", "createJob", [
      {
        algorithmId,
        schema: schemaHash(EMAIL_SCHEMA_ID),
        minDevices: MIN_PARTICIPANTS,
        maxDevices: DEVICES,
        rewardPerDevice: REWARD,
        minParticipants: MIN_PARTICIPANTS,
        maxStdError: MAX_STD_ERROR,
        encryptionKey: reportKey.publicKey,
        durations: {
          bidding: 7 * 86_400,
          assignment: 3_600,
          commit: 7_200,
          attestation: 3_600,
          report: 3_600,
          settlement: 3_600,
        },
        maxUsePrice: USE_PRICE,
      },
    ]);
    const jobId = await chain.read<bigint>("JobMarket", "jobCount");
    // the customer's report key file: what it picks in the dashboard's customer view to decrypt the report there
    const reportKeyFile = path.join(root, REPORT_KEY_FILE);
    await writeFile(
      reportKeyFile,
      `${JSON.stringify({ jobId: jobId.toString(), publicKey: reportKey.publicKey, secretKey: bytesToHex(reportKey.secretKey) }, null, 2)}\n`,
      { mode: 0o600 },
    );
    print(`the customer's report key for job ${jobId}: ${reportKeyFile}`);
    emit({ kind: "endpoint", name: "customer's report key", url: reportKeyFile });
    const bidSalt = keccak256(randomBytes(32));
    await chain.send(customer, "JobMarket", "commitBid", [
      jobId,
      bidCommitment(jobId, BID, bidSalt, who(customer)),
      BID,
    ]);
    await chain.warpTo(windows[1]!);
    await chain.send(keeper, "JobMarket", "revealBid", [jobId, BID, bidSalt]);
    await chain.warpTo(windows[2]!);
    await chain.send(keeper, "JobMarket", "finalizeEpoch", [epoch]);
    if ((await chain.status(jobId)) !== JobStatus.Scheduled)
      throw new ChainError("START", `job ${jobId} was not scheduled`);
    print(`job ${jobId} created and scheduled in auction epoch ${epoch}`);
    await phase("job-scheduled");
    // clock: the epoch's seed is the hash of the block after finalizeEpoch's (EpochSeedArmed); a live chain moves on
    // by itself, the dev chain mines on demand
    const [armed] = await chain.pub.getContractEvents({
      address: chain.addr("JobMarket"),
      abi: protocolAbi("JobMarket"),
      eventName: "EpochSeedArmed",
      args: { epoch },
      fromBlock: 0n,
    });
    const seedBlock = (armed as unknown as { args: { blockNumber: bigint } }).args.blockNumber;
    const head = await chain.pub.getBlockNumber({ cacheTime: 0 });
    if (head <= seedBlock) await chain.test.mine({ blocks: Number(seedBlock - head + 1n) });

    // the distributor draws and assigns the cohort; ResultAttestation draws the attestors in the same transaction
    await waitFor(
      "the distributor assigned the cohort",
      async () => (await chain.status(jobId)) === JobStatus.Assigned,
      TIMEOUT_MS,
    );
    const att = await chain.read<{ attestors: readonly Address[] }>(
      "ResultAttestation",
      "attestationOf",
      [jobId],
    );
    const [drawn] = await chain.pub.getContractEvents({
      address: chain.addr("ResultAttestation"),
      abi: protocolAbi("ResultAttestation"),
      eventName: "AttestorsDrawn",
      args: { jobId },
      fromBlock: created.blockNumber,
    });
    const drawSeed = (drawn as unknown as { args: { seed: Hex } }).args.seed;
    const [assignedEvent] = await chain.pub.getContractEvents({
      address: chain.addr("JobMarket"),
      abi: protocolAbi("JobMarket"),
      eventName: "CohortAssigned",
      args: { jobId },
      fromBlock: created.blockNumber,
    });
    const cohortSize = (assignedEvent as unknown as { args: { deviceCount: number } }).args
      .deviceCount;
    const assignedAt = Date.now();
    await phase("cohort-assigned");
    emit({ kind: "figure", key: "job", value: `${jobId}` });
    emit({ kind: "figure", key: "cohort", value: `${cohortSize}` });
    print(
      `the distributor drew and assigned a cohort of ${cohortSize} devices from the connected set (the ${OFFLINE} offline device never heartbeat, so it is not in it); ${att.attestors.length} attestors drawn from the job seed ${drawSeed.slice(0, 10)}…`,
    );
    for (const a of att.attestors) {
      if (attestorsRunning.has(getAddress(a))) continue;
      const url = await startRelayer(net, opsDir, "attestor", getAddress(a)).then((p) => p.ready);
      emit({ kind: "endpoint", name: `attestor ${getAddress(a).slice(0, 10)} metrics`, url });
      attestorsRunning.add(getAddress(a));
    }
    if (!reporterRunning) {
      const reporterUrl = await (await startRelayer(net, opsDir, "reporter", who(reporter))).ready;
      emit({ kind: "endpoint", name: "reporter metrics", url: reporterUrl });
    }

    // devices serve (ONNX, SecAgg with the aggregator); the aggregator seals the transcript and commits
    await waitFor(
      "the aggregator committed",
      async () => (await chain.status(jobId)) >= JobStatus.Committed,
      TIMEOUT_MS,
    );
    const [committedEvent] = await chain.pub.getContractEvents({
      address: chain.addr("ResultAttestation"),
      abi: protocolAbi("ResultAttestation"),
      eventName: "AggregateCommitted",
      args: { jobId },
      fromBlock: created.blockNumber,
    });
    await phase("committed");
    const transcriptCid = (committedEvent as unknown as { args: { transcriptCid: string } }).args
      .transcriptCid;
    print(
      `devices served the job and the aggregator committed in ${((Date.now() - assignedAt) / 1000).toFixed(1)} s; transcript sealed to the attestors and reporters: ${transcriptCid}`,
    );

    // attestors replay the transcript and commit-reveal; the aggregator reveals; the reporter settles
    await waitFor(
      "the job settled",
      async () => (await chain.status(jobId)) >= JobStatus.Settled,
      TIMEOUT_MS,
    );
    await phase("settled");
    const status = await chain.status(jobId);
    const revealed = await chain.pub.getContractEvents({
      address: chain.addr("ResultAttestation"),
      abi: protocolAbi("ResultAttestation"),
      eventName: "AttestationRevealed",
      args: { jobId },
      fromBlock: created.blockNumber,
    });
    const posted = await chain.pub.getContractEvents({
      address: chain.addr("Settlement"),
      abi: protocolAbi("Settlement"),
      eventName: "ReportPosted",
      args: { jobId },
      fromBlock: created.blockNumber,
    });
    const postedEvent = posted[0] as unknown as
      | {
          blockNumber: bigint;
          args: { reportCid: string; reportCommitment: Hex; aggregateHash: Hex };
        }
      | undefined;
    if (status !== JobStatus.Settled || !postedEvent)
      throw new ChainError("START", `job ${jobId} did not settle (status ${status})`);
    const rp = postedEvent.args;
    // lifecycle gas: every transaction mined from createJob to the report (every party's)
    let lifecycleGas = 0n;
    for (let b = created.blockNumber; b <= postedEvent.blockNumber; b++)
      lifecycleGas += (await chain.pub.getBlock({ blockNumber: b })).gasUsed;
    print(
      `result attested by ${revealed.length} attestor votes; report posted by the reporter; job status Settled`,
    );
    emit({ kind: "figure", key: "status", value: "Settled" });

    // customer: the report, from ReportPosted and IPFS
    const opened = decryptReport(
      reportKey.secretKey,
      await store.getBytes(rp.reportCid),
      rp.reportCommitment,
    ) as {
      aggregateHash: Hex;
      records: number;
      meanProbability: number[];
      devices: number;
      stdError: number[];
      predictedShare: number[];
      classifyAndCount: Estimate[];
      adjusted?: AdjustedEstimate[];
      privacy?: { rho: number; epsilon: number; delta: number };
      labels: string[];
    };
    if (opened.aggregateHash !== rp.aggregateHash)
      throw new ChainError("START", "the report is not the attested aggregate's");
    const spam = built.manifest.outputLabels.indexOf("spam");
    // the emails the devices read (a DP job reads each device's first maxRecords)
    const maxRecords = built.manifest.privacy?.maxRecords ?? Infinity;
    const read = online.map((_, i) => workload.split.inboxes[i]!.emails.slice(0, maxRecords));
    const truth =
      read.reduce((s, r) => s + r.filter((e) => e.label === 1).length, 0) /
      read.reduce((s, r) => s + r.length, 0);
    const allInboxes = workload.split.inboxes.flatMap((i) => i.emails);
    const population = allInboxes.filter((e) => e.label === 1).length / allInboxes.length;
    const f = (x: number) => x.toFixed(4);
    const interval = (e: Estimate) => `95% [${f(e.interval[0])}, ${f(e.interval[1])}]`;
    const cc = opened.classifyAndCount[spam]!;
    const adj = opened.adjusted?.[spam];
    print(
      `customer's report: ${opened.records.toFixed(0)} emails on ${opened.devices} devices` +
        (opened.privacy
          ? ` (distributed DP: (ε, δ) = (${opened.privacy.epsilon.toFixed(2)}, ${opened.privacy.delta}) per email, ρ = ${opened.privacy.rho.toFixed(3)} zCDP)`
          : "") +
        `; spam share ` +
        (adj
          ? `${f(adj.estimate)} ± ${f(adj.stdError)} (${interval(adj)}; adjusted classify-and-count, control-group TPR ${f(adj.rates.tpr)} FPR ${f(adj.rates.fpr)}) — `
          : "") +
        `ground truth ${f(truth)} on these devices' emails, ${f(population)} over all ${workload.split.inboxes.length} inboxes (never seen by anyone)`,
    );
    emit({ kind: "figure", key: "served", value: `${opened.devices}` });
    emit({
      kind: "figure",
      key: "spam share",
      value: adj ? `${f(adj.estimate)} ${interval(adj)}` : `${f(cc.estimate)} ${interval(cc)}`,
    });
    emit({ kind: "figure", key: "true share", value: f(truth) });
    emit({ kind: "figure", key: "lifecycle gas", value: lifecycleGas.toLocaleString("en-US") });
    emit({ kind: "step", name: DEMO_STEPS.claims });
    print(
      `  uncorrected: classify-and-count ${f(cc.estimate)} ± ${f(cc.stdError)} (${interval(cc)}, cluster-robust); mean spam probability ${f(opened.meanProbability[spam]!)} ± ${f(opened.stdError[spam]!)} (records as if independent)`,
    );

    await phase("report-decrypted");

    // devices: `dml-device claim job` (from ReportPosted and the payout list alone) and `dml-device claim growth`
    // (from the connected-set list and the VRF word alone), a few devices at a time
    let paid = 0n;
    let draws = 0;
    let unpaid = 0;
    const claimants = online.slice(0, ctx.claimants ?? online.length);
    let claimed = 0;
    // one `dml-device claim` process per group of devices (each device still signs its own claim)
    const groups = Array.from({ length: CLAIM_PROCESSES }, (_, i) =>
      claimants.filter((_, j) => j % CLAIM_PROCESSES === i),
    ).filter((g) => g.length > 0);
    const lineOf = (text: string, dir: string): string | undefined =>
      text.split("\n").find((l) => l.startsWith(`${dir}: `));
    await eachLimited(groups, CLAIM_PROCESSES, async (group) => {
      const dirs = group.map((d) => d.paths.root);
      const job = deviceCommand(dirs[0]!, ["claim", "job", "--job", `${jobId}`, ...dirs]);
      await job.exited;
      for (const d of group) {
        const m = /claimed ([0-9.]+) DML/.exec(lineOf(job.stdout(), d.paths.root) ?? "");
        if (m?.[1] !== undefined) paid += parseUnits(m[1], 18);
        else if (lineOf(job.stderr(), d.paths.root)?.includes("NOT_IN_PAYOUT")) unpaid++;
        else
          throw new ChainError(
            "START",
            `dml-device claim job failed for ${d.account.address}:\n${job.stderr()}`,
          );
      }
      const growth = deviceCommand(dirs[0]!, [
        "claim",
        "growth",
        "--epoch",
        `${growthEpoch}`,
        ...dirs,
      ]);
      const code = await growth.exited;
      for (const d of group) {
        const g = /won draws: \[([0-9, ]*)\], claimed now: \[([0-9, ]*)\]/.exec(
          lineOf(growth.stdout(), d.paths.root) ?? "",
        );
        if (code !== 0 || g?.[2] === undefined)
          throw new ChainError(
            "START",
            `dml-device claim growth failed for ${d.account.address}:\n${growth.stderr()}`,
          );
        draws += g[2].split(",").filter((x) => x.trim() !== "").length;
      }
      claimed += group.length;
      emit({ kind: "progress", label: "devices claimed", done: claimed, total: claimants.length });
    });
    const info = await chain.read<{ claimedCount: bigint; k: bigint }>("GrowthPool", "epochInfo", [
      growthEpoch,
    ]);
    await phase("claimed");
    const allClaimed = claimants.length === online.length;
    if (
      allClaimed
        ? BigInt(draws) !== info.k || info.claimedCount !== info.k
        : BigInt(draws) !== info.claimedCount
    )
      throw new ChainError(
        "START",
        `growth epoch ${growthEpoch}: ${draws} of ${info.k} draws claimed (on chain ${info.claimedCount})`,
      );
    print(
      `growth epoch ${growthEpoch}: ${allClaimed ? "the winners claimed all" : `${claimants.length} sampled devices claimed their`} ${draws} draws (${formatEther(growthDraw.perWinner * BigInt(draws))} DML) with dml-device claim growth`,
    );
    emit({
      kind: "figure",
      key: "devices paid",
      value: `${online.length - unpaid} of ${online.length}`,
    });
    emit({ kind: "figure", key: "job paid", value: `${formatEther(paid)} DML` });
    emit({ kind: "figure", key: "growth winners claimed", value: `${draws} of ${info.k} draws` });
    print(
      `${claimants.length - unpaid} devices claimed ${formatEther(paid)} DML with dml-device claim job${unpaid > 0 ? ` (${unpaid} not in the payout list: dropped from the session)` : ""}; lifecycle gas create → settled ${lifecycleGas.toLocaleString("en-US")} (all parties' transactions); ${((Date.now() - started) / 1000).toFixed(0)} s in all`,
    );

    // fine-tuning: the refiner hosts the trainer groups, every staked attestor may be drawn for a round
    if (ctx.fineTuning !== false) {
      emit({ kind: "step", name: DEMO_STEPS.fineTuning });
      const refinerProc = await startRelayer(net, opsDir, "refiner", who(refiner), [
        "--listen-port",
        String(refPort),
        "--round-timeout-ms",
        "60000",
      ]);
      emit({ kind: "endpoint", name: "refiner metrics", url: await refinerProc.ready });
      emit({ kind: "endpoint", name: "refiner SecAgg", url: `http://127.0.0.1:${refPort}` });
      for (const a of attestors)
        if (!attestorsRunning.has(who(a)))
          emit({
            kind: "endpoint",
            name: `attestor ${who(a).slice(0, 10)} metrics`,
            url: await (await startRelayer(net, opsDir, "attestor", who(a))).ready,
          });
      await chain.send(faucet, "DMLToken", "transfer", [who(poster), parseEther("500")]);
      await runFineTuningDemo({
        chain,
        store,
        workload,
        algorithmId,
        poster,
        trainers: online.slice(0, Math.min(ctx.trainers ?? DEFAULT_TRAINERS, online.length)),
        groupSize: 5,
        rounds: ctx.rounds ?? DEFAULT_TRAINED_ROUNDS,
        ...(ctx.events === undefined ? {} : { events: ctx.events }),
        phaseTimeoutMs: TIMEOUT_MS,
        print,
      });
    }
    return {
      jobId,
      paid,
      createdBlock: created.blockNumber,
      reportBlock: postedEvent.blockNumber,
      growthEpoch,
      cohortSize,
      claimed: claimants.length - unpaid,
    };
  } finally {
    if (ctx.keep !== true) {
      await stopAllGracefully();
      await store?.close().catch(() => undefined);
    }
  }
}
