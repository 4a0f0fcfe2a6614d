/**
 * CPU time and memory of a process from Linux's /proc (what `ps` and `top` read): `/proc/<pid>/stat` fields 14–15
 * (utime, stime, in clock ticks) and `/proc/<pid>/status` VmRSS / VmHWM (resident now / peak resident, in kB).
 */
import { execFileSync } from "node:child_process";
import { readFile } from "node:fs/promises";

export interface ProcSample {
  /** User + system CPU seconds since the process started. */
  cpuSeconds: number;
  rssBytes: number;
  /** Peak resident set size (VmHWM). */
  peakRssBytes: number;
}

export class ProcStatsError extends Error {
  readonly code = "PROC_STATS_INVALID";
  constructor(message: string) {
    super(message);
    this.name = "ProcStatsError";
  }
}

let ticks: number | undefined;
/** Clock ticks per second (`getconf CLK_TCK`; 100 on every Linux this runs on). */
export function clockTicks(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

/** User + system CPU seconds from the text of `/proc/<pid>/stat` (the command name may hold spaces and parens). */
export function parseStatCpu(stat: string, hz = clockTicks()): number {
  const close = stat.lastIndexOf(")");
  if (close < 0) throw new ProcStatsError("no command name in /proc/<pid>/stat");
  // after "pid (comm) ": field 3 (state) is index 0, so utime (field 14) is index 11, stime index 12
  const fields = stat
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime))
    throw new ProcStatsError("utime/stime missing in /proc/<pid>/stat");
  return (utime + stime) / hz;
}

/** A `kB` field of `/proc/<pid>/status` in bytes (0 when absent, as for a zombie). */
export function parseStatusKb(status: string, field: "VmRSS" | "VmHWM"): number {
  const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB$`, "m").exec(status);
  return m?.[1] === undefined ? 0 : Number(m[1]) * 1024;
}

/** The process's sample now, or undefined when it has exited. */
export async function sampleProc(pid: number): Promise<ProcSample | undefined> {
  try {
    const [stat, status] = await Promise.all([
      readFile(`/proc/${pid}/stat`, "utf8"),
      readFile(`/proc/${pid}/status`, "utf8"),
    ]);
    return {
      cpuSeconds: parseStatCpu(stat),
      rssBytes: parseStatusKb(status, "VmRSS"),
      peakRssBytes: parseStatusKb(status, "VmHWM"),
    };
  } catch (e) {
    if ((e as { code?: unknown }).code === "ENOENT" || (e as { code?: unknown }).code === "ESRCH")
      return undefined;
    throw e;
  }
}
