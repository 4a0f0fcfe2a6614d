/**
 * Arguments of `npm run bench:e2e` (bench/e2e.ts), validated with zod: a typed error names the bad flag.
 */
import { z } from "zod";

/** The sizes the benchmark runs when `--devices` is not given. */
export const DEFAULT_SIZES = [50, 200, 1_000] as const;
/** At most this many `dml-device host` workers by default: the rest is devices per worker. */
const DEFAULT_MAX_WORKERS = 8;
/** Claims run by this many devices by default (each claim is a `dml-device` process of ~1–2 s CPU; the gas of a claim does not depend on N). */
const DEFAULT_CLAIMANTS = 8;

export class BenchArgsError extends Error {
  readonly code = "BENCH_ARGS_INVALID";
  constructor(message: string) {
    super(message);
    this.name = "BenchArgsError";
  }
}

const intString = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^[0-9][0-9_,]*$/, "expected a whole number")
    .transform((s) => Number(s.replace(/[_,]/g, "")))
    .pipe(z.number().int().min(min).max(max));

const rawSchema = z.strictObject({
  perWorker: intString(1, 1_000).optional(),
  claimants: z.union([z.literal("all"), intString(0, 10_000)]).optional(),
  port: intString(1_024, 65_535),
  dataDir: z.string().min(1),
  json: z.string().min(1).optional(),
  cpuProf: z.enum(["aggregator", "distributor", "reporter", "attestor", "host"]).optional(),
  timeoutS: intString(30, 86_400).optional(),
  roundTimeoutS: intString(1, 3_600).optional(),
});
/** The command line's options as strings (commander's output); `devices` is parsed by `parseSizes`. */
export type RawBenchArgs = { port: string; dataDir: string } & Partial<
  Record<
    "devices" | "perWorker" | "claimants" | "json" | "cpuProf" | "timeoutS" | "roundTimeoutS",
    string
  >
>;

/** One benchmark run's resolved settings. */
export interface BenchRun {
  devices: number;
  perWorker: number;
  /** Devices that run `dml-device claim` (the online ones when "all"). */
  claimants: number;
}

export interface BenchArgs {
  runs: BenchRun[];
  port: number;
  dataDir: string;
  json?: string;
  cpuProf?: "aggregator" | "distributor" | "reporter" | "attestor" | "host";
  timeoutMs?: number;
  roundTimeoutMs?: number;
}

/** Sizes as written on the command line: "50,200,1000" or "50 200 1_000" (a comma separates sizes). */
export function parseSizes(text: string): number[] {
  const parts = text
    .split(/[\s,]+/)
    .map((p) => p.replace(/_/g, ""))
    .filter((p) => p !== "");
  if (parts.length === 0) throw new BenchArgsError("--devices: no size given");
  return parts.map((p) => {
    const n = /^\d+$/.test(p) ? Number(p) : NaN;
    if (!Number.isInteger(n) || n < 6 || n > 10_000)
      throw new BenchArgsError(`--devices ${p}: each size is an integer between 6 and 10,000`);
    return n;
  });
}

/** Resolves the command line into the runs to make. */
export function parseBenchArgs(raw: RawBenchArgs): BenchArgs {
  const { devices, ...rest } = raw;
  const parsed = rawSchema.safeParse(rest);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const flag = `--${String(issue.path[0] ?? "?").replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    throw new BenchArgsError(`${flag}: ${issue.message}`);
  }
  const a = parsed.data;
  const sizes = devices === undefined ? [...DEFAULT_SIZES] : parseSizes(devices);
  const runs = sizes.map((devices): BenchRun => {
    const online = devices - 1;
    const perWorker = a.perWorker ?? Math.max(10, Math.ceil(online / DEFAULT_MAX_WORKERS));
    const claimants =
      a.claimants === "all" ? online : Math.min(online, a.claimants ?? DEFAULT_CLAIMANTS);
    return { devices, perWorker, claimants };
  });
  return {
    runs,
    port: a.port,
    dataDir: a.dataDir,
    ...(a.json === undefined ? {} : { json: a.json }),
    ...(a.cpuProf === undefined ? {} : { cpuProf: a.cpuProf }),
    ...(a.timeoutS === undefined ? {} : { timeoutMs: a.timeoutS * 1000 }),
    ...(a.roundTimeoutS === undefined ? {} : { roundTimeoutMs: a.roundTimeoutS * 1000 }),
  };
}
