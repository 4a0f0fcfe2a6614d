/**
 * The parsers bench:e2e's numbers go through (bench/e2e/): its command line, the relayers' Prometheus text, and
 * /proc's stat and status lines. A wrong parse would print plausible but false CPU, memory or sizes.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BenchArgsError, parseBenchArgs, parseSizes } from "../../bench/e2e/args.ts";
import {
  parsePrometheus,
  PromParseError,
  relayerProcessStats,
} from "../../bench/e2e/prom-metrics.ts";
import {
  parseStatCpu,
  parseStatusKb,
  ProcStatsError,
  sampleProc,
} from "../../bench/e2e/proc-stats.ts";

const base = { port: "8719", dataDir: "/tmp/x" };

describe("bench:e2e arguments", () => {
  it("reads sizes separated by commas or spaces, with _ as a thousands separator", () => {
    assert.deepEqual(parseSizes("50,200,1000"), [50, 200, 1000]);
    assert.deepEqual(parseSizes(" 50  1_000 "), [50, 1000]);
    assert.deepEqual(parseSizes("10000"), [10_000]);
  });

  it("refuses sizes outside 6..10,000 and non-numbers, naming the bad one", () => {
    for (const bad of ["5", "10001", "1e3", "-50", "abc", "", "50,x"])
      assert.throws(
        () => parseSizes(bad),
        (e: unknown) => e instanceof BenchArgsError && e.code === "BENCH_ARGS_INVALID",
        bad,
      );
    assert.throws(() => parseSizes("50,4"), /--devices 4:/);
  });

  it("defaults to 50, 200 and 1,000 devices with ≤ 8 workers of ≥ 10 devices and 8 claimants", () => {
    const a = parseBenchArgs(base);
    assert.deepEqual(
      a.runs.map((r) => [r.devices, r.perWorker, r.claimants]),
      [
        [50, 10, 8],
        [200, 25, 8],
        [1000, 125, 8],
      ],
    );
    assert.equal(a.port, 8719);
    assert.equal(a.timeoutMs, undefined);
  });

  it("takes devices per worker, claimants (a number or all) and a timeout", () => {
    const a = parseBenchArgs({
      ...base,
      devices: "300",
      perWorker: "25",
      claimants: "all",
      timeoutS: "600",
    });
    assert.deepEqual(a.runs, [{ devices: 300, perWorker: 25, claimants: 299 }]);
    assert.equal(a.timeoutMs, 600_000);
    assert.equal(parseBenchArgs({ ...base, devices: "300", claimants: "7" }).runs[0]!.claimants, 7);
  });

  it("names the flag of an invalid option", () => {
    assert.throws(() => parseBenchArgs({ ...base, port: "80" }), /--port:/);
    assert.throws(() => parseBenchArgs({ ...base, perWorker: "0" }), /--per-worker:/);
    assert.throws(() => parseBenchArgs({ ...base, claimants: "some" }), /--claimants:/);
    assert.throws(() => parseBenchArgs({ ...base, cpuProf: "chain" }), /--cpu-prof:/);
  });
});

describe("Prometheus text", () => {
  const text = [
    "# HELP dml_relayer_process_cpu_seconds_total Total user and system CPU time spent in seconds.",
    "# TYPE dml_relayer_process_cpu_seconds_total counter",
    'dml_relayer_process_cpu_seconds_total{role="aggregator"} 12.5',
    'dml_relayer_process_resident_memory_bytes{role="aggregator"} 524288000',
    'dml_relayer_actions{role="aggregator",status="pending"} 0',
    'dml_relayer_tick_duration_seconds_bucket{le="+Inf",role="aggregator"} 42',
    'weird{msg="a \\"quoted\\", comma"} 1 1700000000000',
    "",
  ].join("\n");

  it("reads samples with labels, escapes, +Inf and timestamps", () => {
    const s = parsePrometheus(text);
    assert.equal(s.length, 5);
    assert.deepEqual(s[2], {
      name: "dml_relayer_actions",
      labels: { role: "aggregator", status: "pending" },
      value: 0,
    });
    assert.equal(s[3]!.labels.le, "+Inf");
    assert.equal(s[4]!.labels.msg, 'a "quoted", comma');
    assert.deepEqual(relayerProcessStats(s), { cpuSeconds: 12.5, rssBytes: 524_288_000 });
  });

  it("refuses a malformed line with its number, and reports missing process metrics as undefined", () => {
    assert.throws(
      () => parsePrometheus("ok 1\nbad line here x"),
      (e: unknown) => {
        return e instanceof PromParseError && /line 2/.test(e.message);
      },
    );
    assert.throws(() => parsePrometheus('x{a="1" b} 2'), /bad labels/);
    assert.throws(() => parsePrometheus("x abc"), /bad value/);
    assert.equal(relayerProcessStats(parsePrometheus("x 1")), undefined);
  });
});

describe("/proc", () => {
  it("reads utime + stime past a command name holding spaces and parentheses", () => {
    // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime …
    const stat = "4242 (node (tsx) x) S 1 4242 4242 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 11 0";
    assert.equal(parseStatCpu(stat, 100), 3);
    assert.throws(() => parseStatCpu("garbage", 100), ProcStatsError);
  });

  it("reads VmRSS and VmHWM in bytes, 0 when absent", () => {
    const status = "Name:\tnode\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n";
    assert.equal(parseStatusKb(status, "VmHWM"), 204_800 * 1024);
    assert.equal(parseStatusKb(status, "VmRSS"), 102_400 * 1024);
    assert.equal(parseStatusKb("Name:\tzombie\n", "VmRSS"), 0);
  });

  it("samples this process, whose CPU time grows with work and whose peak is ≥ its resident size", async () => {
    const before = await sampleProc(process.pid);
    assert.ok(before !== undefined);
    const end = Date.now() + 300;
    let x = 0;
    while (Date.now() < end) x += Math.sqrt(x + 1);
    const after = await sampleProc(process.pid);
    assert.ok(after !== undefined && x > 0);
    assert.ok(after.cpuSeconds > before.cpuSeconds, `${after.cpuSeconds} > ${before.cpuSeconds}`);
    assert.ok(after.peakRssBytes >= after.rssBytes && after.rssBytes > 0);
    assert.equal(await sampleProc(2 ** 22 + 12_345), undefined);
  });
});
