/**
 * The common runtime as operators run it: `dml-relayer <role>` child processes (a test role whose effects are lines
 * in a file) — ticks, retries, /healthz and /metrics, SIGTERM drain, SIGKILL recovery with no effect twice, and the
 * one-line start errors (bad config, wrong keystore password).
 */
import assert from "node:assert/strict";
import { access, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { createKeystore, LIGHT_SCRYPT } from "#sdk/crypto/keystore.ts";
import { ActionQueue } from "../../relayers/common/action-queue.ts";
import { fileLines, killAll, startRelayer, waitFor } from "./helpers.ts";

let root: string;
before(async () => {
  root = await mkdtemp(path.join(tmpdir(), "dml-relayer-proc-"));
});
after(async () => {
  killAll();
  await rm(root, { recursive: true, force: true });
});

function dirs(name: string) {
  const base = path.join(root, name);
  return {
    dataDir: path.join(base, "data"),
    effects: path.join(base, "effects"),
    trace: path.join(base, "trace"),
  };
}

function args(d: ReturnType<typeof dirs>, extra: string[] = []): string[] {
  return [
    "effect",
    "--data-dir",
    d.dataDir,
    "--effects-file",
    d.effects,
    "--trace-file",
    d.trace,
    "--metrics-port",
    "0",
    "--tick-interval-ms",
    "50",
    "--retry-base-ms",
    "0",
    ...extra,
  ];
}

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe("dml-relayer process", () => {
  it("reconciles and acts each tick, retries a failed action, serves /healthz and /metrics, exits 0 on SIGTERM", async () => {
    const d = dirs("run");
    // the retry waits 100 ms, so it runs in a later tick than the failure (a flag given twice: the last wins)
    const r = startRelayer(
      args(d, ["--jobs", "3", "--fail-keys", "effect:2", "--retry-base-ms", "100"]),
    );
    const url = await r.ready;
    await waitFor("3 effects", async () => (await fileLines(d.effects)).length === 3);
    await waitFor("3 succeeded", async () => {
      const h = await getJson(`${url}/healthz`);
      return (h.body.queue as Record<string, number>).succeeded === 3;
    });
    const health = await getJson(`${url}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(health.body.status, "ok");
    assert.equal(health.body.role, "effect");
    assert.ok((health.body.ticks as number) >= 2, "the retry ran in a later tick");
    assert.deepEqual(health.body.queue, {
      queued: 0,
      running: 0,
      succeeded: 3,
      failed: 0,
      abandoned: 0,
    });
    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.match(metrics, /dml_relayer_actions\{role="effect",status="succeeded"\} 3/);
    assert.match(metrics, /dml_relayer_ticks_total\{role="effect",outcome="(ok|error)"\} \d+/);
    assert.match(metrics, /dml_relayer_tick_duration_seconds_count\{role="effect"\} \d+/);
    assert.match(
      metrics,
      /dml_relayer_action_latency_seconds_count\{role="effect",type="effect"\} 3/,
    );
    assert.match(
      metrics,
      /dml_relayer_action_runs_total\{role="effect",type="effect",outcome="retry"\} 1/,
    );
    assert.match(metrics, /dml_relayer_errors_total\{role="effect",where="action"\} 1/);
    assert.match(metrics, /dml_relayer_process_resident_memory_bytes\{role="effect"\} \d+/);
    assert.equal((await fetch(`${url}/nope`)).status, 404);

    r.child.kill("SIGTERM");
    assert.equal(await r.exited, 0);
    assert.deepEqual((await fileLines(d.effects)).sort(), ["effect:1", "effect:2", "effect:3"]);
    const q = await ActionQueue.open(d.dataDir);
    try {
      const a2 = await q.get("effect:2");
      assert.equal(a2?.attempts, 2);
      assert.match(a2.lastFailure ?? "", /planned failure/);
      assert.equal(a2.status, "succeeded");
    } finally {
      await q.close();
    }
  });

  it("SIGTERM drains: the action in flight finishes, no new one starts, exit 0", async () => {
    const d = dirs("drain");
    const r = startRelayer(args(d, ["--jobs", "3", "--handler-delay-ms", "1500"]));
    await r.ready;
    await waitFor("effect:1 in flight", async () =>
      (await fileLines(d.effects)).includes("effect:1"),
    );
    r.child.kill("SIGTERM");
    assert.equal(await r.exited, 0, r.stderr());
    assert.deepEqual(await fileLines(d.trace), ["start effect:1 1", "end effect:1"]);
    const q = await ActionQueue.open(d.dataDir);
    try {
      assert.equal((await q.get("effect:1"))?.status, "succeeded");
      assert.equal((await q.get("effect:2"))?.status, "queued");
      assert.equal((await q.get("effect:3"))?.status, "queued");
    } finally {
      await q.close();
    }
  });

  it("SIGKILL mid-action, restart: the action is recovered, its handler finds its effect, nothing happens twice", async () => {
    const d = dirs("kill");
    const r1 = startRelayer(args(d, ["--jobs", "2", "--handler-delay-ms", "5000"]));
    await r1.ready;
    await waitFor("effect:1 sent", async () => (await fileLines(d.effects)).includes("effect:1"));
    r1.child.kill("SIGKILL");
    assert.equal(await r1.exited, "SIGKILL");

    const r2 = startRelayer(args(d, ["--jobs", "2", "--handler-delay-ms", "0"]));
    const url = await r2.ready;
    assert.match(r2.stderr(), /recovered an action left running by a crash/);
    await waitFor("both effects", async () => (await fileLines(d.effects)).length === 2);
    await waitFor("2 succeeded", async () => {
      const h = await getJson(`${url}/healthz`);
      return (h.body.queue as Record<string, number>).succeeded === 2;
    });
    r2.child.kill("SIGINT");
    assert.equal(await r2.exited, 0);
    assert.deepEqual(await fileLines(d.effects), ["effect:1", "effect:2"], "each effect once");
    assert.deepEqual(await fileLines(d.trace), [
      "start effect:1 1",
      "start effect:1 2",
      "skip effect:1",
      "start effect:2 1",
      "end effect:2",
    ]);
    const q = await ActionQueue.open(d.dataDir);
    try {
      const a1 = await q.get("effect:1");
      assert.deepEqual([a1?.status, a1?.attempts, a1?.recoveries], ["succeeded", 2, 1]);
    } finally {
      await q.close();
    }
  });

  it("a bad config value is one line naming the field and its source, exit 2", async () => {
    const d = dirs("badcfg");
    const flag = startRelayer(args(d, ["--metrics-port", "http"]));
    assert.equal(await flag.exited, 2);
    assert.equal(
      flag.stderr(),
      'dml-relayer: error[CONFIG_INVALID]: invalid config: metricsPort (flag --metrics-port = "http"): expected an integer\n',
    );
    const env = startRelayer(args(d), { DML_RPC_URL: "ftp://x" });
    assert.equal(await env.exited, 2);
    assert.equal(
      env.stderr(),
      'dml-relayer: error[CONFIG_INVALID]: invalid config: rpcUrl (env DML_RPC_URL = "ftp://x"): expected an http(s) URL\n',
    );
    const file = path.join(root, "cfg.json");
    await writeFile(file, JSON.stringify({ jobs: 3, maxAttemps: 2 }));
    const typo = startRelayer([...args(d), "--config", file]);
    assert.equal(await typo.exited, 2);
    assert.match(
      typo.stderr(),
      /^dml-relayer: error\[CONFIG_INVALID\]: invalid config: unknown key "maxAttemps" in .*cfg\.json/,
    );
    assert.equal(typo.stderr().split("\n").length, 2, "one line");
  });

  it("a keystore with the wrong password: one clear line, exit 1, nothing opened", async () => {
    const d = dirs("keyed");
    const keystore = path.join(root, "operator.json");
    await createKeystore(keystore, "the right password", { scrypt: LIGHT_SCRYPT });
    const a = ["keyed", ...args(d).slice(1), "--keystore", keystore];
    const wrong = startRelayer(a, { DML_KEYSTORE_PASSWORD: "not the password" });
    assert.equal(await wrong.exited, 1);
    assert.equal(
      wrong.stderr(),
      `dml-relayer: error[WRONG_PASSWORD]: wrong password for the keystore ${keystore}\n`,
    );
    await assert.rejects(
      access(d.dataDir),
      "the key is checked before the data directory is touched",
    );
    const none = startRelayer(a, { DML_KEYSTORE_PASSWORD: "" });
    assert.equal(await none.exited, 1);
    assert.match(none.stderr(), /^dml-relayer: error\[KEYSTORE\]: no keystore password/);
    const right = startRelayer(a, { DML_KEYSTORE_PASSWORD: "the right password" });
    await right.ready;
    assert.match(right.stderr(), /"address":"0x[0-9a-fA-F]{40}"/);
    right.child.kill("SIGTERM");
    assert.equal(await right.exited, 0);
  });
});
