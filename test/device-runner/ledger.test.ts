/** The owner's zCDP ledger: reserve/commit/refuse, crash safety (a killed child process), corrupt files. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { DeviceError, REFUSAL_CODES } from "../../device-runner/errors.ts";
import { PrivacyLedger } from "../../device-runner/privacy-ledger.ts";
import { TS_NODE_ARGS } from "../../script/network/processes.ts";

const LEDGER_MODULE = path.resolve(import.meta.dirname, "../../device-runner/privacy-ledger.ts");

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "dml-ledger-"));
});
after(() => rm(dir, { recursive: true, force: true }));

async function rejects(p: Promise<unknown>, code: string): Promise<DeviceError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof DeviceError, `expected DeviceError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected ${code}`);
}

describe("privacy ledger (per-owner zCDP)", () => {
  it("reserves, commits, is idempotent per job and refuses a job over budget without writing", async () => {
    const file = path.join(dir, "a.json");
    const l = new PrivacyLedger(file, 2);
    assert.equal(await l.spent(), 0);
    assert.equal(await l.reserve("job-1", 0.8, { epsilon: 6.1, delta: 1e-6 }), 0.8);
    assert.equal(await l.reserve("job-1", 0.8), 0, "the same job is never charged twice");
    await l.commit("job-1");
    assert.equal((await l.read()).entries["job-1"]?.status, "committed");
    assert.equal(await l.reserve("job-2", 0.8), 0.8);
    assert.ok(Math.abs((await l.spent()) - 1.6) < 1e-12);
    const before = await readFile(file);
    await rejects(l.check("job-3", 0.5), "PRIVACY_BUDGET_EXCEEDED");
    const e = await rejects(l.reserve("job-3", 0.5), "PRIVACY_BUDGET_EXCEEDED");
    assert.ok(REFUSAL_CODES.has(e.code));
    assert.deepEqual(await readFile(file), before, "a refused job writes nothing");
    // a larger ρ for the same job charges only the difference
    assert.ok(Math.abs((await l.reserve("job-2", 1.0)) - 0.2) < 1e-12);
    assert.ok(Math.abs((await l.spent()) - 1.8) < 1e-12);
    // concurrent reservations of the same job count once
    const results = await Promise.all([0, 1, 2, 3].map(() => l.reserve("job-4", 0.1)));
    assert.ok(Math.abs(results.reduce((a, b) => a + b, 0) - 0.1) < 1e-12);
    assert.ok(Math.abs((await l.spent()) - 1.9) < 1e-12);
  });

  it("survives a crash right after the reserve (a child process killed) and never double-counts", async () => {
    const file = path.join(dir, "crash.json");
    const script = path.join(dir, "crash.mts");
    await writeFile(
      script,
      `import { PrivacyLedger } from ${JSON.stringify(LEDGER_MODULE)};\n` +
        `const l = new PrivacyLedger(${JSON.stringify(file)}, 1);\n` +
        `await l.reserve("job-a", 0.6, { epsilon: 5, delta: 1e-6 });\n` +
        `process.kill(process.pid, "SIGKILL");\n`,
    );
    const run = () =>
      new Promise<string>((resolve) => {
        const child = execFile(process.execPath, [...TS_NODE_ARGS, script], () => undefined);
        child.on("exit", (code, signal) => resolve(signal ?? String(code)));
      });
    const killed = (how: string) => assert.equal(how, "SIGKILL");
    killed(await run());
    // the restarted job (same key) finds its reservation: nothing more is charged, and it still fits
    const l = new PrivacyLedger(file, 1);
    const entry = (await l.read()).entries["job-a"];
    assert.equal(entry?.status, "reserved");
    assert.equal(entry?.rho, 0.6);
    assert.equal(await l.reserve("job-a", 0.6), 0);
    // a second crash-restart cycle of the same job still counts it once
    killed(await run());
    assert.equal(await l.spent(), 0.6);
    // another job that would take the owner past the budget is refused
    await rejects(l.reserve("job-b", 0.6), "PRIVACY_BUDGET_EXCEEDED");
    assert.equal(await l.spent(), 0.6);
  });

  it("refuses a corrupt ledger with a typed error and leaves the file untouched", async () => {
    for (const [name, content] of [
      ["truncated", '{"version":1,"entries":{"job-1":{"rho":0.5,'],
      ["wrong version", '{"version":2,"entries":{}}'],
      [
        "negative rho",
        '{"version":1,"entries":{"j":{"rho":-1,"status":"reserved","reservedAt":"2026-01-01T00:00:00Z"}}}',
      ],
      ["garbage", "\u0000\u0001not json"],
    ] as const) {
      const file = path.join(dir, `corrupt-${name.replace(/ /g, "-")}.json`);
      await writeFile(file, content);
      const l = new PrivacyLedger(file, 10);
      await rejects(l.read(), "PRIVACY_LEDGER_CORRUPT");
      await rejects(l.check("job-x", 0.1), "PRIVACY_LEDGER_CORRUPT");
      const e = await rejects(l.reserve("job-x", 0.1), "PRIVACY_LEDGER_CORRUPT");
      assert.ok(REFUSAL_CODES.has(e.code), "a DP job is refused, the runner keeps serving");
      await rejects(l.commit("job-1"), "PRIVACY_LEDGER_CORRUPT");
      assert.equal(await readFile(file, "utf8"), content, `${name}: the file must not change`);
    }
  });

  it("refuses an invalid budget or ρ", async () => {
    assert.throws(() => new PrivacyLedger(path.join(dir, "x.json"), -1), DeviceError);
    assert.throws(() => new PrivacyLedger(path.join(dir, "x.json"), NaN), DeviceError);
    const l = new PrivacyLedger(path.join(dir, "y.json"), 1);
    await rejects(l.reserve("j", NaN), "NOISE_PARAMS_INVALID");
    await rejects(l.reserve("j", -0.1), "NOISE_PARAMS_INVALID");
  });
});
