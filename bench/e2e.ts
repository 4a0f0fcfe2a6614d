/**
 * End-to-end benchmark of the prediction job at scale: `npm run bench:e2e -- --devices 50,200,1000`.
 *
 * Each size runs on a fresh embedded chain (`hardhat node` on its own port) with a fresh deployment and the main
 * job of `npm start` (script/demo-job.ts: every relayer role and every device its own process or device in a
 * `dml-device host` worker, one dml-ipfs daemon), without the fine-tuning bounty and governance. It prints, per size:
 *
 *   - wall time per phase (setup, devices online, growth epoch, auction, cohort assigned → settled, claims) and,
 *     inside the job window, the aggregator's own events (session opened / done, commit, reveal, finalize);
 *   - CPU seconds and peak resident memory by process kind (/proc; the relayers' own /metrics beside);
 *   - per device: worker CPU / devices hosted, and SecAgg bytes sent and received (the device's "job done" line);
 *   - on-chain gas of every transaction from createJob to settled, by call, and of the claims per device;
 *
 * then the curve over the sizes. Nothing is asserted: the targets (docs/deployment.md#benchmark-bench-e2e) are read
 * off the output. Options: --per-worker, --claimants <n|all>, --port, --data-dir, --json, --cpu-prof <role>.
 */
import { mkdir, rm, writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import path from "node:path";
import { Command } from "commander";
import { createChainPublicClient } from "#sdk/chain/clients.ts";
import { runDemoJob, type DemoPhase } from "../script/demo-job.ts";
import { deployProtocol } from "../script/deploy.ts";
import { GOVERNANCE_GENESIS } from "../script/governance-demo.ts";
import { RELAYER_CLI, setSpawnEnv, stopAllGracefully } from "../script/network/processes.ts";
import { parseBenchArgs, type BenchArgs, type BenchRun } from "./e2e/args.ts";
import { startChainNode } from "./e2e/chain-node.ts";
import { ProcessTracker, type CpuSnapshot } from "./e2e/process-tracker.ts";
import {
  formatCurve,
  formatRun,
  resultsJson,
  type KindCpu,
  type PhaseTime,
  type RunResult,
} from "./e2e/report.ts";
import { gasByCall, transactionsIn } from "./e2e/tx-gas.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const MiB = 1024 * 1024;

interface Mark {
  at: number;
  cpu: CpuSnapshot;
  block: bigint;
  load: number;
}

/** Wall-time phases between the demo's boundaries (the setup one starts at the chain's start). */
const PHASES: [string, DemoPhase | "chain", DemoPhase][] = [
  ["chain + deploy", "chain", "started"],
  ["developer trains, publishes, lists", "started", "listed"],
  ["operators staked, relayers running", "listed", "operators-running"],
  ["devices set up (keys, inboxes, bond, consent)", "operators-running", "devices-registered"],
  ["devices online (every heartbeat)", "devices-registered", "devices-online"],
  ["connected set posted and stands", "devices-online", "connected-set-stands"],
  ["growth draw (VRF)", "connected-set-stands", "growth-drawn"],
  ["job created, bid, scheduled", "growth-drawn", "job-scheduled"],
  ["cohort assignment (distributor)", "job-scheduled", "cohort-assigned"],
  ["assigned → committed (session, seal, commit)", "cohort-assigned", "committed"],
  ["committed → settled (attest, reveal, report, settle)", "committed", "settled"],
  ["customer decrypts the report", "settled", "report-decrypted"],
  ["claims (job + growth)", "report-decrypted", "claimed"],
];

function num(x: unknown): number | undefined {
  return typeof x === "number" ? x : undefined;
}

async function benchRun(run: BenchRun, args: BenchArgs): Promise<RunResult> {
  const dir = path.join(args.dataDir, `n${run.devices}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const loadStart = loadavg()[0]!;
  const chainStarted = Date.now();
  const chain = await startChainNode(args.port, path.join(dir, "chain.log"));
  const tracker = new ProcessTracker([
    { kind: "chain (hardhat node)", pid: chain.child.pid! },
    { kind: "bench (customer, keeper, clock, faucet)", pid: process.pid },
  ]);
  tracker.start();
  const marks = new Map<DemoPhase | "chain", Mark>();
  const loads: { at: number; load: number }[] = [];
  const loadTimer = setInterval(() => loads.push({ at: Date.now(), load: loadavg()[0]! }), 5_000);
  loadTimer.unref();
  let metricsAtAssigned = new Map<number, { cpuSeconds: number }>();
  let metricsAtSettled = new Map<number, { cpuSeconds: number }>();
  // Ctrl-C: the processes' logs are what tells where a long run stood, so keep them before stopping everything
  const interrupted = () => {
    console.log(`\n[bench] interrupted: writing the processes' logs to ${path.join(dir, "logs")}`);
    void (async () => {
      try {
        await tracker.close();
        await stopAllGracefully();
        await tracker.writeLogs(path.join(dir, "logs"));
        await chain.stop();
      } finally {
        process.exit(130);
      }
    })();
  };
  process.once("SIGINT", interrupted);
  process.once("SIGTERM", interrupted);
  try {
    const pub = await createChainPublicClient(chain.rpcUrl);
    marks.set("chain", { at: chainStarted, cpu: new Map(), block: 0n, load: loadStart });
    const deployed = await deployProtocol({
      rpcUrl: chain.rpcUrl,
      config: { genesis: GOVERNANCE_GENESIS },
      manifestPath: path.join(dir, "deployment.json"),
      force: true,
    });
    console.log(
      `\n== ${run.devices} devices: chain at ${chain.rpcUrl}, deployed in ${deployed.txCount} transactions`,
    );
    const result = await runDemoJob({
      rpcUrl: chain.rpcUrl,
      publicClient: pub,
      manifest: deployed.manifest,
      manifestFile: deployed.manifestPath,
      dataDir: dir,
      devices: run.devices,
      devicesPerWorker: run.perWorker,
      claimants: run.claimants,
      fineTuning: false,
      operatorsUpFront: true,
      // the dev chain mines a block per transaction, a new second each: the set-up runs its clock ≈ 3 s per device
      // ahead of the devices' wall clocks, past the distributor's default 300 s heartbeat skew from ≈ 100 devices on
      maxSkewSeconds: 3_600,
      // the default 8 s round deadline drops devices that a shared, loaded machine starts late: the benchmark
      // measures the protocol, not a session lost to scheduling (rounds still close when every device answered)
      roundTimeoutMs: args.roundTimeoutMs ?? Math.max(60_000, run.devices * 400),
      ...(args.timeoutMs === undefined ? {} : { phaseTimeoutMs: args.timeoutMs }),
      print: (l) => console.log(`  ${l}`),
      onPhase: async (phase, at) => {
        const [cpu, block] = await Promise.all([
          tracker.snapshot(),
          pub.getBlockNumber({ cacheTime: 0 }),
        ]);
        marks.set(phase, { at, cpu, block, load: loadavg()[0]! });
        if (phase === "cohort-assigned") metricsAtAssigned = await tracker.relayerMetrics();
        if (phase === "settled") metricsAtSettled = await tracker.relayerMetrics();
        console.log(`  [bench] ${phase} at +${((at - chainStarted) / 1000).toFixed(1)} s`);
      },
    });
    const final = await tracker.snapshot();
    const mark = (p: DemoPhase | "chain"): Mark => {
      const m = marks.get(p);
      if (m === undefined) throw new Error(`the demo never reached "${p}"`);
      return m;
    };
    const phases: PhaseTime[] = PHASES.map(([name, a, b]) => ({
      name,
      seconds: (mark(b).at - mark(a).at) / 1000,
    }));
    const assigned = mark("cohort-assigned");
    const settled = mark("settled");

    // inside the job window: the aggregator's events (pino `time`, ms)
    const aggEvents = tracker
      .logLines("relayer aggregator")
      .filter((l) => typeof l.msg === "string" && l.msg.startsWith("aggregator: "))
      .filter((l) => l.jobId === `${result.jobId}`)
      .map((l) => ({
        what: `${String(l.msg).slice("aggregator: ".length)}${typeof l.phase === "string" ? ` ${l.phase}` : ""}`,
        at: num(l.time) ?? 0,
      }));
    const first = (what: string) => aggEvents.find((e) => e.what === what)?.at;
    const steps: [string, number | undefined][] = [
      ["cohort assigned", assigned.at],
      ["session-opened", first("session-opened")],
      ["session-done", first("session-done")],
      ["result-persisted", first("result-persisted")],
      ["sent commit", first("sent commit")],
      ["sent reveal", first("sent reveal")],
      ["sent finalize", first("sent finalize")],
      ["settled", settled.at],
    ];
    const labels: Record<string, string> = {
      "session-opened": "aggregator sees the cohort, opens the session",
      "session-done": "SecAgg session (advertise → unmask)",
      "result-persisted": "transcript sealed and stored",
      "sent commit": "commit sent",
      "sent reveal": "attestors commit + reveal; aggregator reveals",
      "sent finalize": "aggregator finalizes",
      settled: "report posted, settled (reporter)",
    };
    const known = steps.filter((s): s is [string, number] => s[1] !== undefined);
    const jobWindow = known.slice(1).map(([what, at], i) => ({
      name: labels[what] ?? what,
      seconds: (at - known[i]![1]) / 1000,
    }));

    // CPU and memory by kind
    const jobCpu = tracker.cpuByKind(assigned.cpu, settled.cpu);
    const runCpu = tracker.cpuByKind(new Map(), final);
    const metricsJob = new Map<string, number>();
    for (const p of tracker.procs) {
      const end = metricsAtSettled.get(p.pid);
      if (end === undefined) continue;
      const d = end.cpuSeconds - (metricsAtAssigned.get(p.pid)?.cpuSeconds ?? 0);
      metricsJob.set(p.kind, (metricsJob.get(p.kind) ?? 0) + d);
    }
    const cpu: KindCpu[] = [...tracker.peakByKind().entries()].map(([kind, g]) => ({
      kind,
      processes: g.processes,
      jobCpuS: jobCpu.get(kind) ?? 0,
      totalCpuS: runCpu.get(kind) ?? 0,
      peakRssMiB: g.peakRssBytes / MiB,
      ...(metricsJob.has(kind) ? { metricsJobCpuS: metricsJob.get(kind)! } : {}),
    }));
    const hosted = tracker.procs
      .filter((p) => p.kind === "device host")
      .reduce((s, p) => s + p.devices, 0);
    const done = tracker
      .logLines("device host")
      .filter((l) => l.msg === "job done" && l.jobId === `${result.jobId}`);
    const mean = (k: string) =>
      done.length === 0 ? 0 : done.reduce((s, l) => s + (num(l[k]) ?? 0), 0) / done.length;

    // gas: the job's lifecycle, then the claims
    const jobTxs = await transactionsIn(pub, deployed.manifest, result.createdBlock, settled.block);
    const claimTxs = await transactionsIn(
      pub,
      deployed.manifest,
      settled.block + 1n,
      mark("claimed").block,
    );
    const claims = gasByCall(claimTxs);
    const jobClaim = claims.find((g) => g.call === "Settlement.claim");
    const jobMax = Math.max(
      assigned.load,
      settled.load,
      ...loads.filter((l) => l.at >= assigned.at && l.at <= settled.at).map((l) => l.load),
    );
    return {
      devices: run.devices,
      online: run.devices - 1,
      perWorker: run.perWorker,
      workers: tracker.procs.filter((p) => p.kind === "device host").length,
      claimants: result.claimed,
      cohortSize: result.cohortSize,
      load: { start: loadStart, jobMax, end: loadavg()[0]! },
      phases,
      jobWindow,
      assignedToSettledS: (settled.at - assigned.at) / 1000,
      cpu,
      perDevice: {
        jobCpuS: hosted === 0 ? 0 : (jobCpu.get("device host") ?? 0) / hosted,
        totalCpuS: hosted === 0 ? 0 : (runCpu.get("device host") ?? 0) / hosted,
        bytesSent: mean("bytesSent"),
        bytesReceived: mean("bytesReceived"),
        done: done.length,
      },
      gas: {
        job: gasByCall(jobTxs),
        jobTotal: jobTxs.reduce((s, t) => s + t.gasUsed, 0n),
        claims,
        claimPerDevice: jobClaim?.mean ?? 0n,
      },
    };
  } finally {
    process.off("SIGINT", interrupted);
    process.off("SIGTERM", interrupted);
    clearInterval(loadTimer);
    await tracker.close();
    await stopAllGracefully();
    await tracker.writeLogs(path.join(dir, "logs"));
    await chain.stop();
  }
}

async function main(argv: string[]): Promise<void> {
  const program = new Command()
    .name("bench:e2e")
    .description("End-to-end prediction job benchmark at N devices (see docs/deployment.md)")
    .option("--devices <sizes>", "device counts, comma-separated (6 to 10,000 each)", "50,200,1000")
    .option(
      "--per-worker <n>",
      "devices per dml-device host worker [default: enough for ≤ 8 workers, ≥ 10]",
    )
    .option("--claimants <n|all>", "devices that claim at the end [default: 8]")
    .option("--port <n>", "loopback port of the benchmark's chain", "8719")
    .option(
      "--data-dir <dir>",
      "where the runs' data go (recreated per size)",
      path.join(ROOT, ".data", "bench-e2e"),
    )
    .option("--json <file>", "also write the results as JSON")
    .option(
      "--cpu-prof <role>",
      "write a V8 CPU profile of one process kind (aggregator, distributor, reporter, attestor, host) into <data-dir>/n<N>/profiles",
    )
    .option("--timeout-s <s>", "longest wait for one phase [default: 300]")
    .option(
      "--round-timeout-s <s>",
      "the aggregator's SecAgg round deadline [default: max(60, 0.4 per device)]",
    )
    .parse(argv);
  const o = program.opts<Record<string, string | undefined>>();
  const args = parseBenchArgs({
    ...(o.devices === undefined ? {} : { devices: o.devices }),
    ...(o.perWorker === undefined ? {} : { perWorker: o.perWorker }),
    ...(o.claimants === undefined ? {} : { claimants: o.claimants }),
    port: o.port ?? "",
    dataDir: path.resolve(o.dataDir ?? ""),
    ...(o.json === undefined ? {} : { json: path.resolve(o.json) }),
    ...(o.cpuProf === undefined ? {} : { cpuProf: o.cpuProf }),
    ...(o.timeoutS === undefined ? {} : { timeoutS: o.timeoutS }),
    ...(o.roundTimeoutS === undefined ? {} : { roundTimeoutS: o.roundTimeoutS }),
  });
  const results: RunResult[] = [];
  for (const run of args.runs) {
    const prof = args.cpuProf;
    if (prof !== undefined) {
      const dir = path.join(args.dataDir, `n${run.devices}`, "profiles");
      setSpawnEnv((cli, a) =>
        (prof === "host" ? a[0] === "host" : cli === RELAYER_CLI && a[0] === prof)
          ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${dir}` }
          : {},
      );
    }
    const r = await benchRun(run, args);
    results.push(r);
    console.log("");
    for (const l of formatRun(r)) console.log(l);
  }
  setSpawnEnv(undefined);
  console.log("\n## curve\n");
  for (const l of formatCurve(results)) console.log(l);
  if (args.json !== undefined) {
    await writeFile(args.json, resultsJson(results));
    console.log(`\nresults: ${args.json}`);
  }
}

main(process.argv).catch((e: unknown) => {
  console.error(e instanceof Error ? `${e.name}: ${e.message}` : e);
  process.exitCode = 1;
});
