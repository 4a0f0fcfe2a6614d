/**
 * A reader of the Prometheus text exposition format (what `dml-relayer … /metrics` serves, docs/relayers.md):
 * samples by metric name and labels. Enough for the benchmark's CPU and memory reads; comments and HELP/TYPE lines
 * are skipped.
 */

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export class PromParseError extends Error {
  readonly code = "PROM_PARSE_INVALID";
  constructor(message: string) {
    super(message);
    this.name = "PromParseError";
  }
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/gy;

function unescape(v: string): string {
  return v.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
}

/** Every sample of `text`; a malformed line fails with its line number. */
export function parsePrometheus(text: string): PromSample[] {
  const out: PromSample[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = LINE.exec(line);
    if (!m) throw new PromParseError(`line ${i + 1}: not a sample: ${line.slice(0, 80)}`);
    const labels: Record<string, string> = {};
    const body = m[3] ?? "";
    LABEL.lastIndex = 0;
    let read = 0;
    for (let l = LABEL.exec(body); l !== null; l = LABEL.exec(body)) {
      labels[l[1]!] = unescape(l[2]!);
      read = LABEL.lastIndex;
    }
    if (read !== body.length)
      throw new PromParseError(`line ${i + 1}: bad labels: ${body.slice(0, 80)}`);
    const raw = m[4]!;
    const value =
      raw === "+Inf" ? Infinity : raw === "-Inf" ? -Infinity : raw === "NaN" ? NaN : Number(raw);
    if (Number.isNaN(value) && raw !== "NaN")
      throw new PromParseError(`line ${i + 1}: bad value ${raw}`);
    out.push({ name: m[1]!, labels, value });
  }
  return out;
}

/** The value of the first sample named `name` (whatever its labels), or undefined. */
export function promValue(samples: readonly PromSample[], name: string): number | undefined {
  return samples.find((s) => s.name === name)?.value;
}

/** A relayer's CPU seconds and resident memory from its /metrics (prefix `dml_relayer_`). */
export function relayerProcessStats(
  samples: readonly PromSample[],
): { cpuSeconds: number; rssBytes: number } | undefined {
  const cpu = promValue(samples, "dml_relayer_process_cpu_seconds_total");
  const rss = promValue(samples, "dml_relayer_process_resident_memory_bytes");
  if (cpu === undefined || rss === undefined) return undefined;
  return { cpuSeconds: cpu, rssBytes: rss };
}

/** Fetches and parses `url` (a relayer's metrics base URL or its /metrics), within `timeoutMs`. */
export async function scrapeMetrics(url: string, timeoutMs = 5_000): Promise<PromSample[]> {
  const target = url.endsWith("/metrics") ? url : `${url.replace(/\/$/, "")}/metrics`;
  const res = await fetch(target, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new PromParseError(`${target}: HTTP ${res.status}`);
  return parsePrometheus(await res.text());
}
