/**
 * `npm start`: starts the embedded EDR chain on 127.0.0.1 (`hardhat node`, a real HTTP JSON-RPC server that the
 * relayer and device processes reach like any node), deploys the protocol and reports live state, then runs the
 * whole protocol with every operator role and every device as its own process: a prediction job and a growth epoch
 * (script/demo-job.ts, script/network/), a fine-tuning bounty (script/finetune-demo.ts) and an upgrade by
 * governance (script/governance-demo.ts). The job is a list of steps sharing one context; the demo job reports its
 * sub-steps, key figures, progress and endpoints through `ctx.events` (script/start/events.ts).
 *
 * Exit 0 only when every step held; otherwise the last line is `step "<name>" failed: <reason>` and the exit code 1
 * (2: bad options, 130: SIGINT/SIGTERM, after stopping every process started here). Bars on a terminal, plain lines
 * otherwise; one table of every step's wall time and key figures at the end (script/start/).
 *
 * Options: --port <n> (default 8545, or DML_CHAIN_PORT), --data-dir <dir> (default .data), --devices <n> (default
 * 50), --trainers <n> (20), --rounds <n> (4), --keep (alias --keep-alive: leave everything serving until Ctrl-C),
 * --no-job (chain, deployment and report only), --rpc <url> / --keystore <dir> / --ipfs <url> (drive an existing
 * network: docs/deployment.md).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, openSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Command, CommanderError, Option } from "commander";
import { formatEther, type Address } from "viem";
import { protocolAbi } from "#sdk/chain/contracts.ts";
import {
  createChainPublicClient,
  fetchChainId,
  type ChainPublicClient,
} from "#sdk/chain/clients.ts";
import { ChainError, RpcError } from "#sdk/chain/errors.ts";
import type { Manifest } from "#sdk/chain/manifest.ts";
import { DEFAULT_DEVICES, DEFAULT_TRAINERS, runDemoJob } from "./demo-job.ts";
import { DEFAULT_TRAINED_ROUNDS } from "./finetune-demo.ts";
import { stopAllGracefully } from "./network/processes.ts";
import type { DemoEvents } from "./start/events.ts";
import { progressDisplay } from "./start/progress.ts";
import { removeChainPid, stopStaleChain, writeChainPid } from "./start/stale-chain.ts";
import { formatStepTable, StepLog } from "./start/step-log.ts";
import { deployProtocol } from "./deploy.ts";
import { governanceGenesis, runGovernanceDemo } from "./governance-demo.ts";
import {
  checkIndexer,
  ensureSubgraphBuild,
  startIndexer,
  type RunningIndexer,
} from "./start/indexer.ts";
import { ensureDashboardBuild } from "../indexer/dashboard/build.ts";
import { startIpfs } from "./network/processes.ts";
import {
  accountKey,
  loadKeystoreKeys,
  SCENARIO_ACCOUNTS,
  useAccountKeys,
} from "./network/accounts.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const DEFAULT_DATA_DIR = path.join(ROOT, ".data");

/** State shared by the steps of the job. */
export interface StartContext {
  rpcUrl: string;
  port: number;
  /** Where the chain's log, the manifest (unless the default data directory) and the demo's processes live. */
  dataDir: string;
  chain?: ChildProcess;
  publicClient?: ChainPublicClient;
  manifest?: Manifest;
  /** The deployment manifest's file (what relayer and device processes read). */
  manifestFile?: string;
  print: (line: string) => void;
  /** Steps, key figures, progress and endpoints (the bars and the final table). */
  events: DemoEvents;
  /** Devices the job simulates (`--devices`). */
  devices?: number;
  /** Trainers of the fine-tuning bounty (`--trainers`). */
  trainers?: number;
  /** Trained rounds of the fine-tuning bounty (`--rounds`). */
  rounds?: number;
  /** Leave the network serving after the scenario (`--keep`). */
  keep?: boolean;
  /** An IPFS (Kubo RPC) API to use instead of the embedded `dml-ipfs` daemon (`--ipfs`). */
  kuboUrl?: string;
  /** Accounts come from `--keystore` (the deployer is account #0 of it). */
  keystoreAccounts?: boolean;
  /** The running `dml-indexer` (the local graph host). */
  indexer?: RunningIndexer;
}

export interface StartStep {
  name: string;
  /** The step reports its own sub-steps through `ctx.events` (the runner does not begin a record for it). */
  reportsSteps?: boolean;
  run(ctx: StartContext): Promise<void>;
}

/** Whether 127.0.0.1:`port` can be bound now. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

const figure = (ctx: StartContext, key: string, value: string): void =>
  ctx.events({ kind: "figure", key, value });

/** Starts `hardhat node` bound to loopback and waits until it answers eth_chainId. */
export const startChain: StartStep = {
  name: "start embedded chain",
  async run(ctx) {
    mkdirSync(ctx.dataDir, { recursive: true });
    const pidFile = path.join(ctx.dataDir, "chain.pid");
    const stale = await stopStaleChain(pidFile);
    if (stale !== undefined) {
      ctx.print(`stopped the chain an earlier run left running (pid ${stale}, ${pidFile})`);
      for (let i = 0; i < 100 && !(await portFree(ctx.port)); i++) await sleep(100);
    }
    // a bind, not an eth_chainId probe: a loaded machine's chain may answer late, and a chain that fails to bind
    // would leave this run talking to whatever holds the port
    if (!(await portFree(ctx.port)))
      throw new RpcError(
        `port ${ctx.port} on 127.0.0.1 is taken (something already listens at ${ctx.rpcUrl}): stop it or choose another --port`,
      );
    const logFile = path.join(ctx.dataDir, "chain.log");
    // the log file itself, not a pipe through this process: the chain's life does not hang on this process's pipes
    const out = openSync(logFile, "w");
    const bin = path.join(ROOT, "node_modules", ".bin", "hardhat");
    const child = spawn(bin, ["node", "--hostname", "127.0.0.1", "--port", String(ctx.port)], {
      cwd: ROOT,
      stdio: ["ignore", out, out],
      detached: true,
    });
    closeSync(out);
    ctx.chain = child;
    if (child.pid !== undefined) writeChainPid(pidFile, child.pid);
    let exited: number | null | undefined;
    child.once("exit", (code) => (exited = code));
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (exited !== undefined)
        throw new RpcError(`hardhat node exited with code ${exited}; see ${logFile}`);
      try {
        const id = await fetchChainId(ctx.rpcUrl, 1_000);
        ctx.print(`chain ${id} at ${ctx.rpcUrl} (log: ${path.relative(ROOT, logFile)})`);
        figure(ctx, "chain", `${id}`);
        figure(ctx, "rpc", ctx.rpcUrl);
        ctx.events({ kind: "endpoint", name: "chain JSON-RPC", url: ctx.rpcUrl });
        break;
      } catch {
        if (Date.now() > deadline)
          throw new RpcError(`hardhat node did not answer within 60 s; see ${logFile}`);
        await sleep(250);
      }
    }
    ctx.publicClient = await createChainPublicClient(ctx.rpcUrl);
  },
};

/** `--rpc URL`: an existing chain instead of the embedded one (nothing is started, nothing stopped). */
export const connectChain: StartStep = {
  name: "connect to the chain",
  async run(ctx) {
    const id = await fetchChainId(ctx.rpcUrl, 30_000);
    ctx.print(`chain ${id} at ${ctx.rpcUrl} (not started here)`);
    figure(ctx, "chain", `${id}`);
    figure(ctx, "rpc", ctx.rpcUrl);
    ctx.events({ kind: "endpoint", name: "chain JSON-RPC", url: ctx.rpcUrl });
    ctx.publicClient = await createChainPublicClient(ctx.rpcUrl);
  },
};

/** Deploys (idempotently) with Hardhat's default funded account, or `--keystore`'s account #0. */
export const deploy: StartStep = {
  name: "deploy protocol",
  async run(ctx) {
    const result = await deployProtocol({
      rpcUrl: ctx.rpcUrl,
      config: { genesis: governanceGenesis() },
      ...(ctx.keystoreAccounts === true ? { deployerKey: accountKey(0) } : {}),
      // the default data directory keeps the default manifest (deployments/31337.local.json); another one its own
      ...(path.resolve(ctx.dataDir) === DEFAULT_DATA_DIR
        ? {}
        : { manifestPath: path.join(ctx.dataDir, "deployments", "manifest.local.json") }),
    });
    figure(ctx, "transactions", `${result.txCount}`);
    figure(ctx, "contracts", `${Object.keys(result.manifest.contracts).length}`);
    ctx.manifest = result.manifest;
    ctx.manifestFile = result.manifestPath;
    ctx.print(
      `deployed in ${result.txCount} transactions; manifest ${path.relative(ROOT, result.manifestPath)}`,
    );
    for (const [name, c] of Object.entries(result.manifest.contracts)) {
      ctx.print(
        `  ${name.padEnd(22)} ${c.address}${c.implementation ? `  impl ${c.implementation}` : ""}`,
      );
    }
  },
};

async function tryRead(
  pub: ChainPublicClient,
  address: Address,
  artifact: string,
  functionName: string,
  args: readonly unknown[] = [],
): Promise<unknown> {
  try {
    return await pub.readContract({ address, abi: protocolAbi(artifact), functionName, args });
  } catch {
    return undefined;
  }
}

const tokens = (v: unknown): string => (typeof v === "bigint" ? `${formatEther(v)} DML` : "n/a");

/** Live reads: token supply and balances, growth-pool schedule, staking parameters. */
export const report: StartStep = {
  name: "report",
  async run(ctx) {
    const pub = ctx.publicClient;
    const m = ctx.manifest;
    if (!pub || !m) throw new ChainError("START", "report needs a chain and a manifest");
    const token = m.contracts.DMLToken?.address;
    const treasury = m.contracts.TimelockController?.address;
    const pool = m.contracts.GrowthPool?.address ?? m.predicted.GrowthPool;
    if (token) {
      const supply = tokens(await tryRead(pub, token, "DMLToken", "totalSupply"));
      ctx.print(`token supply        ${supply}`);
      figure(ctx, "token supply", supply);
      if (treasury)
        ctx.print(
          `treasury balance    ${tokens(await tryRead(pub, token, "DMLToken", "balanceOf", [treasury]))}`,
        );
      if (pool)
        ctx.print(
          `growth pool balance ${tokens(await tryRead(pub, token, "DMLToken", "balanceOf", [pool]))}`,
        );
    }
    const gp = m.contracts.GrowthPool?.address;
    if (gp) {
      const cfg = (await tryRead(pub, gp, "GrowthPool", "config")) as
        { epochLength: bigint; halvingEpochs: number; winnersPerEpoch: number } | undefined;
      ctx.print(`growth pool cap     ${tokens(await tryRead(pub, gp, "GrowthPool", "cap"))}`);
      ctx.print(
        `growth pool E(0)    ${tokens(await tryRead(pub, gp, "GrowthPool", "emission", [0n]))}`,
      );
      if (cfg) {
        const h = BigInt(cfg.halvingEpochs);
        ctx.print(
          `growth pool E(H)    ${tokens(await tryRead(pub, gp, "GrowthPool", "emission", [h]))} (H = ${h})`,
        );
        ctx.print(
          `epoch length        ${cfg.epochLength} s; ${cfg.winnersPerEpoch} winners per epoch`,
        );
      }
      ctx.print(
        `current epoch       ${String(await tryRead(pub, gp, "GrowthPool", "currentEpoch"))}`,
      );
    }
    const st = m.contracts.NodeStaking?.address;
    if (st) {
      const roles = ["distributor", "aggregator", "attestor", "reporter", "refiner"];
      const mins = await Promise.all(
        roles.map((_, i) => tryRead(pub, st, "NodeStaking", "minStake", [i])),
      );
      ctx.print(`min stakes          ${roles.map((r, i) => `${r} ${tokens(mins[i])}`).join(", ")}`);
      const delay = await tryRead(pub, st, "NodeStaking", "unbondingDelay");
      const share = await tryRead(pub, st, "NodeStaking", "challengerShareBps");
      const burn = await tryRead(pub, st, "NodeStaking", "burnSlashed");
      ctx.print(
        `unbonding delay     ${String(delay)} s; challenger share ${String(share)} bps; burn slashed ${String(burn)}`,
      );
    }
  },
};

/** One prediction job through every party and part (script/demo-job.ts). */
export const predictionJob: StartStep = {
  name: "run a prediction job",
  reportsSteps: true,
  async run(ctx) {
    const pub = ctx.publicClient;
    const m = ctx.manifest;
    if (!pub || !m || !ctx.manifestFile)
      throw new ChainError("START", "the job needs a chain and a manifest");
    await runDemoJob({
      rpcUrl: ctx.rpcUrl,
      publicClient: pub,
      manifest: m,
      manifestFile: ctx.manifestFile,
      dataDir: ctx.dataDir,
      print: ctx.print,
      events: ctx.events,
      ...(ctx.devices === undefined ? {} : { devices: ctx.devices }),
      ...(ctx.trainers === undefined ? {} : { trainers: ctx.trainers }),
      ...(ctx.rounds === undefined ? {} : { rounds: ctx.rounds }),
      // the processes outlive the job: the indexer check runs after it; the runner stops them at the end
      keep: true,
      ...(ctx.kuboUrl === undefined ? {} : { kuboUrl: ctx.kuboUrl }),
    });
  },
};

/** Token holders upgrade AlgorithmMarketplace by proposal; its state survives (script/governance-demo.ts). */
export const governance: StartStep = {
  name: "governance: upgrade a contract by proposal",
  async run(ctx) {
    const pub = ctx.publicClient;
    const m = ctx.manifest;
    if (!pub || !m) throw new ChainError("START", "governance needs a chain and a manifest");
    const out = await runGovernanceDemo({
      rpcUrl: ctx.rpcUrl,
      publicClient: pub,
      manifest: m,
      print: ctx.print,
    });
    figure(ctx, "proposal", `${out.proposalId.toString().slice(0, 12)}…`);
    figure(ctx, "votes for", `${formatEther(out.votesFor)} DML`);
    figure(ctx, "state", out.state);
    figure(
      ctx,
      "implementation",
      `${out.oldImplementation.slice(0, 10)}… → ${out.implementation.slice(0, 10)}…`,
    );
  },
};

/**
 * Starts the embedded `dml-ipfs` daemon (unless `--ipfs` names one) before the indexer, so the dashboard's IPFS proxy
 * and the scenario's parties share it from the start.
 */
export const ipfs: StartStep = {
  name: "start IPFS",
  async run(ctx) {
    if (ctx.kuboUrl !== undefined) {
      ctx.print(`IPFS (Kubo RPC API) at ${ctx.kuboUrl} (not started here)`);
      figure(ctx, "IPFS", ctx.kuboUrl);
      return;
    }
    const daemon = await startIpfs(path.join(ctx.dataDir, "ipfs"));
    ctx.kuboUrl = daemon.url;
    ctx.print(`dml-ipfs daemon at ${daemon.url}`);
    figure(ctx, "IPFS", daemon.url);
  },
};

/**
 * Builds the subgraph and the dashboard (each once per source change) and starts `dml-indexer --dashboard` on the
 * deployment: GraphQL, the dashboard, its config.json and the read-only IPFS proxy on one loopback port.
 */
export const indexer: StartStep = {
  name: "indexer: build the subgraph and the dashboard, serve GraphQL",
  async run(ctx) {
    if (!ctx.manifestFile) throw new ChainError("START", "the indexer needs a deployment manifest");
    const built = await ensureSubgraphBuild(ctx.manifestFile);
    figure(ctx, "subgraph", built ? "built" : "build up to date");
    const dashboardBuilt = await ensureDashboardBuild();
    figure(ctx, "dashboard build", dashboardBuilt ? "built" : "up to date");
    ctx.indexer = await startIndexer(
      ctx.rpcUrl,
      ctx.manifestFile,
      path.join(ctx.dataDir, "indexer"),
      {
        ...(ctx.kuboUrl === undefined ? {} : { ipfsUrl: ctx.kuboUrl }),
      },
    );
    figure(ctx, "GraphQL", ctx.indexer.url);
    ctx.events({ kind: "endpoint", name: "GraphQL (subgraph)", url: ctx.indexer.url });
    if (ctx.indexer.dashboardUrl !== undefined) {
      figure(ctx, "dashboard", ctx.indexer.dashboardUrl);
      ctx.events({ kind: "endpoint", name: "dashboard", url: ctx.indexer.dashboardUrl });
    }
    ctx.print(
      `the local graph host serves ${ctx.indexer.url}${ctx.indexer.dashboardUrl ? ` and the dashboard at ${ctx.indexer.dashboardUrl}` : ""}`,
    );
  },
};

/** Every job, payout, stake, slash, growth epoch, bounty and round over GraphQL equals the contracts' state. */
export const indexerAgrees: StartStep = {
  name: "indexer: GraphQL equals the chain",
  async run(ctx) {
    const pub = ctx.publicClient;
    if (!pub || !ctx.manifest || !ctx.indexer)
      throw new ChainError("START", "the check needs a chain, a manifest and the indexer");
    // a difference that is gone at a later block (the relayers keep transacting) is reported, not failed on; one that
    // stays through three checks fails the step
    let r = await checkIndexer(pub, ctx.manifest, ctx.indexer);
    const earlier: string[] = [];
    for (let attempt = 1; r.mismatches.length > 0 && attempt < 3; attempt++) {
      earlier.push(`at block ${r.block}: ${r.mismatches.join("; ")}`);
      await sleep(2_000);
      r = await checkIndexer(pub, ctx.manifest, ctx.indexer);
    }
    if (earlier.length > 0 && r.mismatches.length === 0)
      ctx.print(
        `GraphQL differed from the chain, then agreed at block ${r.block}:\n  ${earlier.join("\n  ")}`,
      );
    const n = r.counts;
    figure(
      ctx,
      "indexed to block",
      `${r.block} (${(r.waitedMs / 1000).toFixed(1)} s behind at most)`,
    );
    figure(
      ctx,
      "compared",
      `jobs ${n.jobs}, claims ${n.payoutClaims}, stakes ${n.stakes}, slashes ${n.slashes}, growth epochs ${n.growthEpochs}, bounties ${n.bounties}, rounds ${n.rounds}`,
    );
    if (r.mismatches.length > 0)
      throw new ChainError(
        "START",
        `GraphQL differs from the chain in ${r.mismatches.length} places at block ${r.block}:\n  ${r.mismatches.slice(0, 20).join("\n  ")}\n(earlier checks: ${earlier.join(" | ")})\nindexer log tail:\n${ctx.indexer.proc.stderr().slice(-3000)}`,
      );
    ctx.print(
      `GraphQL equals the contracts' state (${Object.values(n).reduce((a, b) => a + b, 0)} entities compared)`,
    );
  },
};

/** The job, in order. Later stages append their steps here. */
export const STEPS: StartStep[] = [
  startChain,
  deploy,
  report,
  ipfs,
  indexer,
  predictionJob,
  governance,
  indexerAgrees,
];

/** Ends the embedded chain's process group: SIGTERM, then SIGKILL after `graceMs`; resolves once it is gone. */
async function stopChain(ctx: StartContext, graceMs = 5_000): Promise<void> {
  const child = ctx.chain;
  removeChainPid(path.join(ctx.dataDir, "chain.pid"));
  if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((r) => child.once("exit", () => r()));
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, s);
    } catch {
      child.kill(s);
    }
  };
  signal("SIGTERM");
  const timer = setTimeout(() => signal("SIGKILL"), graceMs);
  await gone;
  clearTimeout(timer);
  signal("SIGKILL"); // whatever of its process group outlived the leader
}

/** The last resort on exit: SIGKILL the chain's process group (synchronous). */
function killChainNow(ctx: StartContext): void {
  const pid = ctx.chain?.pid;
  if (!pid || ctx.chain?.exitCode !== null || ctx.chain.signalCode !== null) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // gone already
  }
  removeChainPid(path.join(ctx.dataDir, "chain.pid"));
}

/** The error's first line (the whole message stays printed above the summary). */
const oneLine = (err: unknown): string => {
  const msg = err instanceof Error ? err.message : String(err);
  return (msg.split("\n").find((l) => l.trim() !== "") ?? "").trim() || "unknown error";
};

interface StartOptions {
  port: string;
  dataDir: string;
  keep: boolean;
  keepAlive: boolean;
  job: boolean;
  devices: string;
  trainers: string;
  rounds: string;
  rpc?: string;
  keystore?: string;
  ipfs?: string;
}

const intIn = (name: string, v: string, min: number, max: number): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new ChainError("START", `${name} ${v}: an integer between ${min} and ${max}`);
  return n;
};

/** Runs `npm start`; resolves with the process's exit code (0: every step held). */
export async function main(argv: string[]): Promise<number> {
  const program = new Command()
    .name("start")
    .description("Start the embedded chain, deploy DML and run the whole protocol")
    .option(
      "--port <n>",
      "loopback port of the embedded chain",
      process.env.DML_CHAIN_PORT ?? "8545",
    )
    .option(
      "--data-dir <dir>",
      "where the chain log, the demo's processes' data (and, for a non-default directory, the manifest) live",
      DEFAULT_DATA_DIR,
    )
    .option(
      "--devices <n>",
      "devices to simulate, hosted 10 to a dml-device worker process (6 to 10,000)",
      String(DEFAULT_DEVICES),
    )
    .option(
      "--trainers <n>",
      "devices that enrol as fine-tuning trainers (3 to the online devices)",
      String(DEFAULT_TRAINERS),
    )
    .option(
      "--rounds <n>",
      "trained rounds of the fine-tuning bounty",
      String(DEFAULT_TRAINED_ROUNDS),
    )
    .option(
      "--keep",
      "leave the chain, IPFS, relayers and devices serving after the scenario until Ctrl-C",
      false,
    )
    .addOption(new Option("--keep-alive", "alias of --keep").hideHelp().default(false))
    .option("--no-job", "only start the chain, deploy and report (no prediction job)")
    .option(
      "--rpc <url>",
      "drive an existing chain's JSON-RPC instead of starting the embedded one (it must let the scenario move its clock: a Hardhat or Anvil node)",
    )
    .option(
      "--keystore <dir>",
      `sign with the ${SCENARIO_ACCOUNTS} v3 keystores in <dir> (account i = i-th file by name; password from DML_KEYSTORE_PASSWORD) instead of Hardhat's dev keys`,
    )
    .option("--ipfs <url>", "an IPFS Kubo RPC API to use instead of the embedded dml-ipfs daemon")
    .exitOverride()
    .parse(argv);
  const opts = program.opts<StartOptions>();
  const devices = intIn("--devices", opts.devices, 6, 10_000);
  const trainers = intIn("--trainers", opts.trainers, 3, 10_000);
  const rounds = intIn("--rounds", opts.rounds, 1, 20);
  const port = intIn("--port", opts.port, 1, 65_535);
  const keep = opts.keep || opts.keepAlive;

  const log = new StepLog();
  const display = progressDisplay(process.stdout.isTTY === true);
  const endpoints: [string, string][] = [];
  const events: DemoEvents = (e) => {
    switch (e.kind) {
      case "step":
        log.begin(e.name);
        display.print(`\n== ${e.name}`);
        break;
      case "figure":
        log.figure(e.key, e.value);
        break;
      case "progress":
        display.update(e.label, e.done, e.total);
        break;
      case "endpoint":
        endpoints.push([e.name, e.url]);
        break;
    }
  };
  if (opts.keystore !== undefined) {
    const password = process.env.DML_KEYSTORE_PASSWORD;
    if (!password)
      throw new ChainError("START", "--keystore needs DML_KEYSTORE_PASSWORD in the environment");
    useAccountKeys(await loadKeystoreKeys(path.resolve(opts.keystore), password));
  }
  const ctx: StartContext = {
    rpcUrl: opts.rpc ?? `http://127.0.0.1:${port}`,
    port,
    dataDir: path.resolve(opts.dataDir),
    print: (l) => display.print(l),
    events,
    devices,
    trainers,
    rounds,
    keep,
    ...(opts.ipfs === undefined ? {} : { kuboUrl: opts.ipfs }),
    ...(opts.keystore === undefined ? {} : { keystoreAccounts: true }),
  };
  const started = Date.now();
  let interrupted = false;
  /** Every step held and `--keep` serves: Ctrl-C then ends a successful run (exit 0). */
  let serving = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (interrupted) {
      killChainNow(ctx);
      process.exit(130);
    }
    interrupted = true;
    display.stop();
    const step = log.current?.name;
    console.error(
      serving
        ? `\n${sig}: stopping the network`
        : `\n${sig}${step === undefined ? "" : ` during step "${step}"`}: stopping every process started here …`,
    );
    void stopAllGracefully(3_000)
      .then(() => stopChain(ctx, 3_000))
      .finally(() => process.exit(serving ? 0 : 130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  process.once("exit", () => killChainNow(ctx));

  const steps = STEPS.map((x) =>
    x === startChain && opts.rpc !== undefined ? connectChain : x,
  ).filter((x) => opts.job || [startChain, connectChain, deploy, report].includes(x));
  try {
    for (const s of steps) {
      if (!s.reportsSteps) events({ kind: "step", name: s.name });
      await s.run(ctx);
    }
    log.end(true);
  } catch (err) {
    // Ctrl-C makes the running step fail: the signal handler stops everything and exits 130
    if (interrupted) return new Promise<number>(() => undefined);
    log.end(false);
    display.stop();
    const failed = log.records.at(-1)?.name ?? "start";
    console.error(err instanceof ChainError ? `${err.name}: ${err.message}` : err);
    await stopAllGracefully(3_000);
    await stopChain(ctx);
    printTable(log);
    console.error(`step "${failed}" failed: ${oneLine(err)}`);
    return 1;
  }
  display.stop();
  printTable(log);
  console.log(
    `all ${log.records.length} steps held in ${((Date.now() - started) / 1000).toFixed(0)} s`,
  );
  if (keep) {
    console.log("\nstill serving (Ctrl-C stops everything):");
    const w = Math.max(...endpoints.map(([n]) => n.length));
    for (const [name, url] of endpoints) console.log(`  ${name.padEnd(w)}  ${url}`);
    if (ctx.manifestFile) console.log(`  ${"manifest".padEnd(w)}  ${ctx.manifestFile}`);
    serving = true;
    await new Promise(() => {});
  }
  await stopAllGracefully(3_000);
  await stopChain(ctx);
  return 0;
}

function printTable(log: StepLog): void {
  console.log("\n== summary");
  for (const line of formatStepTable(log.records)) console.log(line);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv).then(
    (code) => process.exit(code),
    (err: unknown) => {
      if (err instanceof CommanderError) process.exit(err.exitCode);
      console.error(`step "options" failed: ${oneLine(err)}`);
      process.exit(2);
    },
  );
}
