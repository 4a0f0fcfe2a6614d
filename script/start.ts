/**
 * `npm start`: starts the embedded EDR chain on 127.0.0.1 (`hardhat node`, a real HTTP JSON-RPC server that the
 * relayer and device processes reach like any node), deploys the protocol and reports live state. The job is a list
 * of steps sharing one context, so later stages append steps.
 *
 * Then runs one prediction job with every operator role and every device as its own process (script/demo-job.ts,
 * script/network/); nothing is left running when it ends (unless --keep-alive keeps the chain).
 *
 * Then token holders upgrade one contract by proposal (script/governance-demo.ts).
 *
 * Options: --port <n> (default 8545, or DML_CHAIN_PORT), --devices <n> (default 50), --keep-alive (keep the chain
 * running until Ctrl-C), --no-job (chain, deployment and report only).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Command } from "commander";
import { formatEther, type Address } from "viem";
import { protocolAbi } from "#sdk/chain/contracts.ts";
import {
  createChainPublicClient,
  fetchChainId,
  type ChainPublicClient,
} from "#sdk/chain/clients.ts";
import { ChainError, RpcError } from "#sdk/chain/errors.ts";
import type { Manifest } from "#sdk/chain/manifest.ts";
import { DEFAULT_DEVICES, runDemoJob } from "./demo-job.ts";
import { deployProtocol } from "./deploy.ts";
import { GOVERNANCE_GENESIS, runGovernanceDemo } from "./governance-demo.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const DATA_DIR = path.join(ROOT, ".data");

/** State shared by the steps of the job. */
export interface StartContext {
  rpcUrl: string;
  port: number;
  chain?: ChildProcess;
  publicClient?: ChainPublicClient;
  manifest?: Manifest;
  /** The deployment manifest's file (what relayer and device processes read). */
  manifestFile?: string;
  print: (line: string) => void;
  /** Devices the job simulates (`--devices`). */
  devices?: number;
}

export interface StartStep {
  name: string;
  run(ctx: StartContext): Promise<void>;
}

/** Starts `hardhat node` bound to loopback and waits until it answers eth_chainId. */
export const startChain: StartStep = {
  name: "start embedded chain",
  async run(ctx) {
    const busy = await fetchChainId(ctx.rpcUrl, 1_000).then(
      () => true,
      () => false,
    );
    if (busy)
      throw new RpcError(
        `something already answers at ${ctx.rpcUrl}: stop it or choose another --port`,
      );
    mkdirSync(DATA_DIR, { recursive: true });
    const logFile = path.join(DATA_DIR, "chain.log");
    const out = createWriteStream(logFile);
    const bin = path.join(ROOT, "node_modules", ".bin", "hardhat");
    const child = spawn(bin, ["node", "--hostname", "127.0.0.1", "--port", String(ctx.port)], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    child.stdout.pipe(out);
    child.stderr.pipe(out);
    ctx.chain = child;
    let exited: number | null | undefined;
    child.once("exit", (code) => (exited = code));
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (exited !== undefined)
        throw new RpcError(`hardhat node exited with code ${exited}; see ${logFile}`);
      try {
        const id = await fetchChainId(ctx.rpcUrl, 1_000);
        ctx.print(`chain ${id} at ${ctx.rpcUrl} (log: ${path.relative(ROOT, logFile)})`);
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

/** Deploys (idempotently) with Hardhat's default funded account. */
export const deploy: StartStep = {
  name: "deploy protocol",
  async run(ctx) {
    const result = await deployProtocol({
      rpcUrl: ctx.rpcUrl,
      config: { genesis: GOVERNANCE_GENESIS },
    });
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
      ctx.print(
        `token supply        ${tokens(await tryRead(pub, token, "DMLToken", "totalSupply"))}`,
      );
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
      dataDir: DATA_DIR,
      print: ctx.print,
      ...(ctx.devices === undefined ? {} : { devices: ctx.devices }),
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
    await runGovernanceDemo({
      rpcUrl: ctx.rpcUrl,
      publicClient: pub,
      manifest: m,
      print: ctx.print,
    });
  },
};

/** The job, in order. Later stages append their steps here. */
export const STEPS: StartStep[] = [startChain, deploy, report, predictionJob, governance];

function stopChain(ctx: StartContext): void {
  const child = ctx.chain;
  if (!child?.pid || child.exitCode !== null) return;
  try {
    process.kill(-child.pid, "SIGTERM");
  } catch {
    child.kill("SIGTERM");
  }
}

async function main(argv: string[]): Promise<void> {
  const program = new Command()
    .name("start")
    .description("Start the embedded chain, deploy DML and run the main job")
    .option(
      "--port <n>",
      "loopback port of the embedded chain",
      process.env.DML_CHAIN_PORT ?? "8545",
    )
    .option("--keep-alive", "keep the chain running after the job until Ctrl-C", false)
    .option(
      "--devices <n>",
      "devices to simulate, hosted 10 to a dml-device worker process (6 to 10,000)",
      String(DEFAULT_DEVICES),
    )
    .option("--no-job", "only start the chain, deploy and report (no prediction job)")
    .parse(argv);
  const opts = program.opts<{ port: string; keepAlive: boolean; job: boolean; devices: string }>();
  const devices = Number(opts.devices);
  if (!Number.isInteger(devices) || devices < 6 || devices > 10_000)
    throw new ChainError("START", `--devices ${opts.devices}: an integer between 6 and 10,000`);
  const port = Number(opts.port);
  if (!Number.isInteger(port) || port < 1 || port > 65_535)
    throw new ChainError("START", `bad port ${opts.port}`);
  const ctx: StartContext = {
    rpcUrl: `http://127.0.0.1:${port}`,
    port,
    print: (l) => console.log(l),
    devices,
  };
  const onSignal = (): void => {
    stopChain(ctx);
    process.exit(130);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  process.once("exit", () => stopChain(ctx));
  try {
    for (const s of STEPS.filter((x) => opts.job || (x !== predictionJob && x !== governance))) {
      console.log(`\n== ${s.name}`);
      await s.run(ctx);
    }
    if (opts.keepAlive) {
      console.log(`\nchain running at ${ctx.rpcUrl}; Ctrl-C to stop`);
      await new Promise(() => {});
    }
  } finally {
    if (!opts.keepAlive) stopChain(ctx);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv).catch((err: unknown) => {
    console.error(err instanceof ChainError ? `${err.name}: ${err.message}` : err);
    process.exitCode = 1;
  });
}
