/**
 * Follows every process a local network starts (script/network/processes.ts `observeSpawns`), plus the chain and
 * this process: samples their CPU and memory from /proc every second, takes CPU snapshots at phase boundaries, and
 * scrapes the relayers' own /metrics. Wiring for bench/e2e.ts; no role logic.
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import {
  DEVICE_CLI,
  IPFS_CLI,
  RELAYER_CLI,
  observeSpawns,
  type ChildProc,
} from "../../script/network/processes.ts";
import { relayerProcessStats, scrapeMetrics } from "./prom-metrics.ts";
import { sampleProc, type ProcSample } from "./proc-stats.ts";

export interface TrackedProc {
  /** "relayer aggregator", "device host", "device claim", "ipfs", "chain", "bench". */
  kind: string;
  pid: number;
  /** Devices a `dml-device host` worker runs (0 for any other process). */
  devices: number;
  proc?: ChildProc;
  last?: ProcSample;
  peakRssBytes: number;
}

/** The kind of a process started with `cli` and `args`. */
export function kindOf(cli: string, args: readonly string[]): string {
  if (cli === RELAYER_CLI) return `relayer ${args[0] ?? "?"}`;
  if (cli === IPFS_CLI) return "ipfs";
  if (cli === DEVICE_CLI) return args[0] === "host" ? "device host" : "device claim";
  return path.basename(cli);
}

export type CpuSnapshot = ReadonlyMap<number, number>;

export class ProcessTracker {
  readonly procs: TrackedProc[] = [];
  private readonly stop: () => void;
  private timer: NodeJS.Timeout | undefined;
  private sampling: Promise<void> = Promise.resolve();

  constructor(extra: { kind: string; pid: number }[] = []) {
    for (const e of extra) this.procs.push({ ...e, devices: 0, peakRssBytes: 0 });
    this.stop = observeSpawns(({ cli, args, proc }) => {
      if (proc.child.pid === undefined) return;
      this.procs.push({
        kind: kindOf(cli, args),
        pid: proc.child.pid,
        devices: cli === DEVICE_CLI && args[0] === "host" ? args.length - 1 : 0,
        proc,
        peakRssBytes: 0,
      });
    });
  }

  /** Starts sampling every `ms`. */
  start(ms = 1_000): void {
    this.timer = setInterval(() => {
      this.sampling = this.sampling.then(() => this.sampleAll()).catch(() => undefined);
    }, ms);
    this.timer.unref();
  }

  /** Samples every live process now (an exited one keeps its last sample). */
  async sampleAll(): Promise<void> {
    await Promise.all(
      this.procs.map(async (p) => {
        if (p.proc !== undefined && p.proc.child.exitCode !== null) return;
        const s = await sampleProc(p.pid);
        if (s === undefined) return;
        p.last = s;
        p.peakRssBytes = Math.max(p.peakRssBytes, s.peakRssBytes, s.rssBytes);
      }),
    );
  }

  /** Every tracked process's CPU seconds now (sampled first). */
  async snapshot(): Promise<CpuSnapshot> {
    await this.sampleAll();
    return new Map(this.procs.map((p) => [p.pid, p.last?.cpuSeconds ?? 0]));
  }

  /** CPU seconds by kind between two snapshots (a process started in between counts from 0). */
  cpuByKind(from: CpuSnapshot, to: CpuSnapshot): Map<string, number> {
    const out = new Map<string, number>();
    for (const p of this.procs) {
      const end = to.get(p.pid);
      if (end === undefined) continue;
      const d = end - (from.get(p.pid) ?? 0);
      out.set(p.kind, (out.get(p.kind) ?? 0) + d);
    }
    return out;
  }

  /** Processes and the largest peak resident memory of each kind. */
  peakByKind(): Map<string, { processes: number; peakRssBytes: number }> {
    const out = new Map<string, { processes: number; peakRssBytes: number }>();
    for (const p of this.procs) {
      const g = out.get(p.kind) ?? { processes: 0, peakRssBytes: 0 };
      g.processes++;
      g.peakRssBytes = Math.max(g.peakRssBytes, p.peakRssBytes);
      out.set(p.kind, g);
    }
    return out;
  }

  /** The relayers' CPU seconds and resident memory from their own /metrics (those still serving). */
  async relayerMetrics(): Promise<Map<number, { cpuSeconds: number; rssBytes: number }>> {
    const out = new Map<number, { cpuSeconds: number; rssBytes: number }>();
    await Promise.all(
      this.procs.map(async (p) => {
        if (!p.kind.startsWith("relayer ") || p.proc === undefined) return;
        if (p.proc.child.exitCode !== null) return;
        const url = /"metricsUrl":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(p.proc.stderr())?.[1];
        if (url === undefined) return;
        const stats = relayerProcessStats(await scrapeMetrics(url).catch(() => []));
        if (stats !== undefined) out.set(p.pid, stats);
      }),
    );
    return out;
  }

  /** JSON log lines (pino) of the processes of `kind`, parsed; other lines are skipped. */
  logLines(kind: string): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    for (const p of this.procs) {
      if (p.kind !== kind || p.proc === undefined) continue;
      for (const line of p.proc.stderr().split("\n")) {
        if (!line.startsWith("{")) continue;
        try {
          out.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          // a line cut by the process's exit
        }
      }
    }
    return out;
  }

  /** Writes every process's stderr and stdout to `dir/<kind>-<pid>.log` (read them when a run fails). */
  async writeLogs(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    await Promise.all(
      this.procs.map((p) =>
        p.proc === undefined
          ? undefined
          : writeFile(
              path.join(dir, `${p.kind.replace(/\W+/g, "-")}-${p.pid}.log`),
              p.proc.stderr() + p.proc.stdout(),
            ),
      ),
    );
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.sampling;
    this.stop();
  }
}
