/**
 * The benchmark's measurements of one run and their printed tables (bench/e2e.ts).
 */
import type { GasLine } from "./tx-gas.ts";

export interface PhaseTime {
  name: string;
  seconds: number;
}

export interface KindCpu {
  kind: string;
  processes: number;
  /** CPU seconds from cohort assigned to settled (the job window). */
  jobCpuS: number;
  /** CPU seconds over the whole run (the chain and the bench: from the deployment on). */
  totalCpuS: number;
  peakRssMiB: number;
  /** From the relayer's own /metrics (process_cpu_seconds_total) over the job window, when it served it. */
  metricsJobCpuS?: number;
}

export interface RunResult {
  devices: number;
  online: number;
  perWorker: number;
  workers: number;
  claimants: number;
  cohortSize: number;
  /** 1-minute load average at the start, its largest sample during the job window, and at the end. */
  load: { start: number; jobMax: number; end: number };
  phases: PhaseTime[];
  /** Inside the job window, from the aggregator's own events. */
  jobWindow: PhaseTime[];
  assignedToSettledS: number;
  cpu: KindCpu[];
  perDevice: {
    /** Worker CPU over the job window / devices hosted. */
    jobCpuS: number;
    /** Worker CPU over the worker's life / devices hosted. */
    totalCpuS: number;
    bytesSent: number;
    bytesReceived: number;
    /** Devices that logged "job done". */
    done: number;
  };
  gas: {
    job: GasLine[];
    jobTotal: bigint;
    claims: GasLine[];
    /** Mean gas of one device's job claim (Settlement.claim). */
    claimPerDevice: bigint;
  };
}

const s1 = (x: number) => x.toFixed(1);
const int = (x: bigint | number) => x.toLocaleString("en-US");

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) =>
    `| ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ")} |`;
  return [line(header), `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`, ...rows.map(line)];
}

/** The printed report of one run (markdown tables). */
export function formatRun(r: RunResult): string[] {
  const out: string[] = [];
  out.push(
    `## ${int(r.devices)} devices (${r.online} online, ${r.workers} workers × ≤ ${r.perWorker}; cohort ${r.cohortSize}; ${r.claimants} claimants) — load avg ${r.load.start.toFixed(2)} at start, ≤ ${r.load.jobMax.toFixed(2)} in the job, ${r.load.end.toFixed(2)} at end`,
    "",
  );
  out.push(
    ...table(
      ["phase", "wall s"],
      r.phases.map((p) => [p.name, s1(p.seconds)]),
    ),
    "",
  );
  out.push(
    `cohort assigned → settled: ${s1(r.assignedToSettledS)} s`,
    ...table(
      ["inside the job window", "wall s"],
      r.jobWindow.map((p) => [p.name, s1(p.seconds)]),
    ),
    "",
  );
  out.push(
    ...table(
      ["process kind", "n", "CPU s (job)", "CPU s (/metrics, job)", "CPU s (run)", "peak RSS MiB"],
      r.cpu.map((c) => [
        c.kind,
        String(c.processes),
        s1(c.jobCpuS),
        c.metricsJobCpuS === undefined ? "" : s1(c.metricsJobCpuS),
        s1(c.totalCpuS),
        String(Math.round(c.peakRssMiB)),
      ]),
    ),
    "",
  );
  const d = r.perDevice;
  out.push(
    `per device: ${(d.jobCpuS * 1000).toFixed(0)} ms CPU in the job window (${(d.totalCpuS * 1000).toFixed(0)} ms over the run), SecAgg sent ${int(Math.round(d.bytesSent))} B, received ${int(Math.round(d.bytesReceived))} B (mean of the ${d.done} devices that finished)`,
    "",
  );
  out.push(
    `on-chain gas of the job (createJob → settled, every party): ${int(r.gas.jobTotal)}`,
    ...table(
      ["call", "txs", "gas total", "gas mean"],
      r.gas.job.map((g) => [g.call, String(g.count), int(g.total), int(g.mean)]),
    ),
    "",
    `claims (per device): Settlement.claim ${int(r.gas.claimPerDevice)} gas`,
    ...table(
      ["call", "txs", "gas total", "gas mean"],
      r.gas.claims.map((g) => [g.call, String(g.count), int(g.total), int(g.mean)]),
    ),
    "",
  );
  return out;
}

/** The curve over every run: the numbers the targets are about. */
export function formatCurve(runs: readonly RunResult[]): string[] {
  return table(
    [
      "devices",
      "assigned → settled s",
      "session s",
      "job gas",
      "claim gas/device",
      "device CPU ms (job)",
      "device B sent",
      "aggregator CPU s",
      "peak RSS MiB (max kind)",
      "load",
    ],
    runs.map((r) => {
      const session = r.jobWindow.find((p) => p.name.startsWith("SecAgg session"));
      const agg = r.cpu.find((c) => c.kind === "relayer aggregator");
      const peak = [...r.cpu].sort((a, b) => b.peakRssMiB - a.peakRssMiB)[0];
      return [
        int(r.devices),
        s1(r.assignedToSettledS),
        session ? s1(session.seconds) : "",
        int(r.gas.jobTotal),
        int(r.gas.claimPerDevice),
        (r.perDevice.jobCpuS * 1000).toFixed(0),
        int(Math.round(r.perDevice.bytesSent)),
        agg ? s1(agg.jobCpuS) : "",
        peak ? `${Math.round(peak.peakRssMiB)} (${peak.kind})` : "",
        r.load.jobMax.toFixed(2),
      ];
    }),
  );
}

/** JSON of the results (bigints as decimal strings). */
export function resultsJson(runs: readonly RunResult[]): string {
  return JSON.stringify(runs, (_, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2);
}
