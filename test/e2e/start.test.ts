/**
 * `npm start` as a user runs it: the real `script/start.ts` process (embedded EDR chain, deployment, every relayer
 * role and device as its own process), each run on its own port and data directory.
 *
 * - The whole scenario at a small size (12 devices, 6 trainers, 1 trained round): it exits 0 and its final table
 *   shows every step held — the job settled and was served and paid per device, the growth epoch's winners claimed
 *   every draw, every trained round was recorded accepted or rejected with at least one accepted and its trainers
 *   paid, the governance proposal Executed.
 * - A failing step is named: with something already answering on the chain's port, it exits 1 with
 *   `step "start embedded chain" failed: …`.
 * - Ctrl-C mid-run: SIGINT during the deployment exits 130 with the chain and the port gone; a SIGKILLed run leaves
 *   its chain, which the next run on the same data directory ends; both reruns start cleanly and hold.
 *
 * - The dashboard, on that same run (`--keep`: the network stays up, then SIGINT ends it with exit 0): every page in
 *   headless Debian Chromium with no console error, its numbers equal to GraphQL and viem reads, the customer's
 *   report decrypted in the page with npm start's key file and refused with a wrong one (test/e2e/dashboard-checks.ts);
 *   screenshots in `test-results/dashboard/` (or DML_SCREENSHOT_DIR), kept as CI artifacts.
 *
 * Timings are printed, never asserted.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { freePort } from "../../script/network/processes.ts";
import { alive } from "../../script/start/stale-chain.ts";
import { checkDashboard, servingEndpoints, targetFrom } from "./dashboard-checks.ts";
import { TS_NODE_ARGS } from "../../script/network/processes.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const START = path.join(ROOT, "script/start.ts");
const SCREENSHOTS = process.env.DML_SCREENSHOT_DIR ?? path.join(ROOT, "test-results", "dashboard");

interface Run {
  code: Promise<number | string>;
  output: () => string;
  stdout: () => string;
  pid: number;
  signal: (s: NodeJS.Signals) => void;
  waitFor: (text: string, timeoutMs: number) => Promise<void>;
}

function start(args: string[]): Run {
  const child = spawn(process.execPath, [...TS_NODE_ARGS, START, ...args], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let stdout = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
    stdout += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const code = new Promise<number | string>((r) =>
    child.once("exit", (c, s) => r(c ?? s ?? "unknown")),
  );
  return {
    code,
    output: () => out,
    stdout: () => stdout,
    pid: child.pid!,
    signal: (s) => child.kill(s),
    async waitFor(text, timeoutMs) {
      const end = Date.now() + timeoutMs;
      while (!out.includes(text)) {
        if (child.exitCode !== null) throw new Error(`exited before "${text}":\n${out}`);
        if (Date.now() > end) throw new Error(`no "${text}" within ${timeoutMs} ms:\n${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

/** Whether 127.0.0.1:`port` can be bound (nothing listens there). */
const portFree = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
const chainPid = async (dataDir: string): Promise<number> =>
  Number((await readFile(path.join(dataDir, "chain.pid"), "utf8")).trim());

/** The final table's rows: step name → its figures (continuation lines joined). */
function summary(out: string): Map<string, { result: string; figures: string }> {
  const lines = out.slice(out.lastIndexOf("== summary")).split("\n").slice(3);
  const rows = new Map<string, { result: string; figures: string }>();
  let last: { result: string; figures: string } | undefined;
  for (const line of lines) {
    if (line.startsWith("all ") || line.startsWith("step ") || line.trim() === "") break;
    const m = /^(\S.*?)\s{2,}([\d.]+ s|-)\s{2}(held|FAILED|-)\s*(.*)$/.exec(line);
    if (m) {
      last = { result: m[3]!, figures: m[4]! };
      rows.set(m[1]!.trim(), last);
    } else if (last) last.figures += `; ${line.trim()}`;
  }
  return rows;
}

const num = (figures: string, re: RegExp): number[] => {
  const m = re.exec(figures);
  assert.ok(m, `${re} in "${figures}"`);
  return m.slice(1).map(Number);
};

const dirs: string[] = [];
const tmp = async (name: string) => {
  const d = await mkdtemp(path.join(tmpdir(), `dml-start-${name}-`));
  dirs.push(d);
  return d;
};
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe("npm start (script/start.ts as a process)", () => {
  it("runs the whole scenario at a small size, serves the dashboard, and exits 0 with every step held", async () => {
    const t0 = Date.now();
    const dataDir = await tmp("small");
    const rounds = 1;
    const run = start([
      "--port",
      String(await freePort()),
      "--data-dir",
      dataDir,
      "--devices",
      "12",
      "--trainers",
      "6",
      "--rounds",
      String(rounds),
      "--keep",
    ]);
    // every step held when it prints what it still serves (a failed step exits instead)
    await run.waitFor("still serving", 1_500_000).catch((e: unknown) => {
      run.signal("SIGKILL");
      throw e;
    });
    console.log(
      `npm start at 12 devices, 6 trainers, ${rounds} rounds: ${((Date.now() - t0) / 1000).toFixed(0)} s`,
    );
    try {
      const d = await checkDashboard(targetFrom(servingEndpoints(run.stdout()), SCREENSHOTS));
      console.log(
        `dashboard: ${d.pages.length} pages, ${d.numbersCompared} numbers compared, in ${(d.ms / 1000).toFixed(1)} s; screenshots:\n  ${d.screenshots.join("\n  ")}`,
      );
    } finally {
      run.signal("SIGINT");
    }
    const code = await run.code;
    const out = run.output();
    assert.equal(code, 0, out);
    console.log(run.stdout().slice(run.stdout().lastIndexOf("== summary")));
    assert.doesNotMatch(out, /step ".*" failed/);
    const rows = summary(run.stdout());
    for (const [name, r] of rows) assert.equal(r.result, "held", `${name}: ${r.result}`);
    const row = (name: string) => {
      const r = rows.get(name);
      assert.ok(r, `a "${name}" row in:\n${out.slice(out.lastIndexOf("== summary"))}`);
      return r.figures;
    };
    assert.match(out, new RegExp(`all ${rows.size} steps held`));

    // the prediction job settled; the devices that served it are the ones paid, 2 DML each
    const job = row("prediction job");
    assert.match(job, /status: Settled/);
    const [cohort] = num(job, /cohort: (\d+)/);
    const [served] = num(job, /served: (\d+)/);
    assert.ok(served! >= 5 && served! <= cohort!, `served ${served} of a cohort of ${cohort}`);
    const [share, lo, hi] = num(job, /spam share: ([\d.]+) 95% \[([-\d.]+), ([-\d.]+)\]/);
    assert.ok(lo! <= share! && share! <= hi!, `${share} in [${lo}, ${hi}]`);
    const [truth] = num(job, /true share: ([\d.]+)/);
    assert.ok(truth! > 0 && truth! < 1);
    const claims = row("claims: job and growth");
    const [paidDevices, onlineDevices] = num(claims, /devices paid: (\d+) of (\d+)/);
    assert.equal(paidDevices, served, "only the devices in the aggregate are paid");
    assert.equal(onlineDevices, 11);
    const [jobPaid] = num(claims, /job paid: ([\d.]+) DML/);
    assert.equal(jobPaid, 2 * paidDevices!, "2 DML per paid device");

    // growth epoch: every draw claimed by its winner
    const [draws] = num(row("growth epoch: draw"), /draws: (\d+)/);
    const [won, of] = num(claims, /growth winners claimed: (\d+) of (\d+) draws/);
    assert.ok(draws! > 0);
    assert.equal(won, draws);
    assert.equal(of, draws);

    // fine-tuning: every trained round recorded, at least one accepted, its trainers paid
    const ft = row("fine-tuning bounty");
    assert.equal(num(ft, /trainers: (\d+)/)[0], 6);
    const verdicts = [
      ...ft.matchAll(
        /round (\d+): (accepted|rejected), control ([\d.]+%|n\/a), hidden ([\d.]+%|n\/a)/g,
      ),
    ];
    assert.deepEqual(
      verdicts.map((v) => Number(v[1])),
      Array.from({ length: rounds }, (_, i) => i + 1),
    );
    const [acc, total] = num(ft, /accepted: (\d+) of (\d+)/);
    assert.equal(total, rounds);
    assert.equal(acc, verdicts.filter((v) => v[2] === "accepted").length);
    assert.ok(acc! >= 1, "at least one round accepted");
    const [trainerClaims] = num(ft, /trainer claims: (\d+)/);
    assert.ok(trainerClaims! >= 1 && trainerClaims! <= 6 * acc!, `${trainerClaims} trainer claims`);
    assert.match(ft, /held-out: [\d.]+% → [\d.]+%, centralized [\d.]+%/);

    // governance: the upgrade executed
    assert.match(row("governance: upgrade a contract by proposal"), /state: Executed/);
    // nothing left running: the chain's pid file is gone
    await assert.rejects(readFile(path.join(dataDir, "chain.pid")));
  });

  it("names the failing step and exits 1 when the chain's port is taken", async () => {
    const port = await freePort();
    const squatter: Server = createServer((sock) =>
      sock.end(
        'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{"jsonrpc":"2.0","id":1,"result":"0x7a69"}',
      ),
    );
    await new Promise<void>((r) => squatter.listen(port, "127.0.0.1", r));
    try {
      const run = start(["--port", String(port), "--data-dir", await tmp("busy"), "--no-job"]);
      assert.equal(await run.code, 1, run.output());
      assert.match(
        run.output(),
        /^step "start embedded chain" failed: port \d+ on 127\.0\.0\.1 is taken/m,
      );
    } finally {
      await new Promise((r) => squatter.close(r));
    }
  });

  it("after Ctrl-C, or a SIGKILL, mid-run the next run on the same data directory starts cleanly", async () => {
    const port = await freePort();
    const dataDir = await tmp("restart");
    const args = ["--port", String(port), "--data-dir", dataDir, "--no-job"];

    // Ctrl-C during the deployment: the chain is stopped, the port freed, exit 130
    const first = start(args);
    await first.waitFor("== deploy protocol", 180_000);
    const firstChain = await chainPid(dataDir);
    assert.ok(alive(firstChain));
    first.signal("SIGINT");
    assert.equal(await first.code, 130, first.output());
    assert.match(first.output(), /SIGINT during step "deploy protocol"/);
    assert.equal(alive(firstChain), false, "the chain process is gone");
    assert.equal(await portFree(port), true, "the port is free");

    // the rerun holds
    const second = start(args);
    assert.equal(await second.code, 0, second.output());
    assert.match(second.output(), /all 3 steps held/);

    // a SIGKILLed run cannot stop its chain: the next run on the data directory ends it and holds
    const third = start(args);
    await third.waitFor("== deploy protocol", 180_000);
    const leftChain = await chainPid(dataDir);
    third.signal("SIGKILL");
    await third.code;
    assert.ok(alive(leftChain), "the killed run's chain outlives it");
    assert.equal(await portFree(port), false);
    const fourth = start(args);
    assert.equal(await fourth.code, 0, fourth.output());
    assert.match(
      fourth.output(),
      new RegExp(`stopped the chain an earlier run left running \\(pid ${leftChain},`),
    );
    assert.match(fourth.output(), /all 3 steps held/);
    assert.equal(alive(leftChain), false);
    assert.equal(await portFree(port), true, "the fourth run stopped its own chain too");
  });
});
