/** Config precedence (flags > env > file > defaults), keys from keystores, and /healthz turning 503 when stale. */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { Command } from "commander";
import { createKeystore, KeystoreError, LIGHT_SCRYPT } from "#sdk/crypto/keystore.ts";
import { ActionQueue } from "../../relayers/common/action-queue.ts";
import {
  addConfigOptions,
  commonFields,
  envName,
  flagName,
  loadConfig,
  unlockOperator,
} from "../../relayers/common/config.ts";
import { RelayerError } from "../../relayers/common/errors.ts";
import { RelayerLoop } from "../../relayers/common/loop.ts";
import { RelayerMetrics } from "../../relayers/common/metrics.ts";
import { createLogger, startTelemetryServer } from "../../relayers/common/telemetry.ts";

let root: string;
before(async () => {
  root = await mkdtemp(path.join(tmpdir(), "dml-relayer-cfg-"));
});
after(() => rm(root, { recursive: true, force: true }));

const fields = commonFields("attestor");

describe("relayer config", () => {
  it("merges flags > env > file > defaults, each field on its own", async () => {
    const file = path.join(root, "c.json");
    await writeFile(
      file,
      JSON.stringify({ metricsPort: 1001, tickIntervalMs: 2002, maxAttempts: 3, dataDir: "/f" }),
    );
    const cfg = await loadConfig(fields, {
      flags: { metricsPort: "1" },
      env: { DML_METRICS_PORT: "100", DML_TICK_INTERVAL_MS: "200", DML_CONFIG: file },
    });
    assert.equal(cfg.metricsPort, 1, "flag beats env and file");
    assert.equal(cfg.tickIntervalMs, 200, "env beats file");
    assert.equal(cfg.maxAttempts, 3, "file beats default");
    assert.equal(cfg.dataDir, "/f");
    assert.equal(cfg.retryBaseMs, 1_000, "default");
    assert.equal(cfg.rpcUrl, "http://127.0.0.1:8545");
    assert.equal(cfg.chainId, undefined);
    assert.equal(envName("healthMaxTickAgeMs"), "DML_HEALTH_MAX_TICK_AGE_MS");
    assert.equal(flagName("healthMaxTickAgeMs"), "--health-max-tick-age-ms");
  });

  it("names the field, its source and the problem in one line", async () => {
    const cases: [Parameters<typeof loadConfig>[1], RegExp][] = [
      [
        { flags: { maxAttempts: "0" } },
        /^invalid config: maxAttempts \(flag --max-attempts = "0"\): expected at least 1$/,
      ],
      [
        { env: { DML_LOG_LEVEL: "loud" } },
        /^invalid config: logLevel \(env DML_LOG_LEVEL = "loud"\): /,
      ],
      [
        { env: { DML_CHAIN_ID: "1.5" } },
        /^invalid config: chainId \(env DML_CHAIN_ID = "1.5"\): expected an integer$/,
      ],
    ];
    for (const [src, re] of cases)
      await assert.rejects(loadConfig(fields, src), (e: unknown) => {
        assert.ok(e instanceof RelayerError);
        assert.equal(e.code, "CONFIG_INVALID");
        assert.match(e.message, re);
        assert.ok(!e.message.includes("\n"));
        return true;
      });
    const bad = path.join(root, "bad.json");
    await writeFile(bad, "{ not json");
    await assert.rejects(loadConfig(fields, { file: bad }), { code: "CONFIG_FILE" });
    await assert.rejects(loadConfig(fields, { file: path.join(root, "none.json") }), {
      code: "CONFIG_FILE",
    });
  });

  it("every field has a flag with its env name in the help", () => {
    const cmd = addConfigOptions(new Command("x"), fields, "Relayer options:");
    const help = cmd.helpInformation();
    for (const key of Object.keys(fields)) {
      assert.ok(help.includes(flagName(key)), key);
      assert.ok(help.includes(envName(key)), key);
    }
  });

  it("unlocks the operator key from a keystore; a wrong password is WRONG_PASSWORD", async () => {
    const keystore = path.join(root, "ks.json");
    const acct = await createKeystore(keystore, "correct horse", { scrypt: LIGHT_SCRYPT });
    const pw = path.join(root, "pw");
    await writeFile(pw, "correct horse\n");
    const cfg = { dataDir: root, keystore, passwordFile: pw };
    assert.equal((await unlockOperator(cfg, {})).address, acct.address);
    assert.equal(
      (
        await unlockOperator(
          { ...cfg, passwordFile: undefined },
          { DML_KEYSTORE_PASSWORD: "correct horse" },
        )
      ).address,
      acct.address,
    );
    await assert.rejects(
      unlockOperator({ ...cfg, passwordFile: undefined }, { DML_KEYSTORE_PASSWORD: "wrong horse" }),
      (e: unknown) => e instanceof KeystoreError && e.code === "WRONG_PASSWORD",
    );
    await assert.rejects(unlockOperator({ ...cfg, keystore: path.join(root, "nope.json") }, {}), {
      code: "KEYSTORE_MISSING",
    });
  });
});

describe("relayer telemetry", () => {
  it("/healthz is 200 after a tick and 503 once no tick ended within the limit", async () => {
    const queue = await ActionQueue.open(path.join(root, "health"));
    const log = createLogger("t", "silent");
    const metrics = new RelayerMetrics("t", () => queue.counts());
    const loop = new RelayerLoop({
      queue,
      log,
      metrics,
      role: { reconcile: async () => undefined, handlers: {} },
      intervalMs: 10,
      maxAttempts: 1,
      retryBaseMs: 0,
      retryMaxMs: 0,
    });
    const server = await startTelemetryServer({
      port: 0,
      metrics,
      health: {
        role: "t",
        startedAt: loop.startedAt,
        lastTickAt: () => loop.lastTickAt,
        ticks: () => loop.ticks,
        queueCounts: () => queue.counts(),
        maxTickAgeMs: 300,
      },
    });
    try {
      const starting = await fetch(`${server.url}/healthz`);
      assert.equal(starting.status, 200);
      assert.equal(((await starting.json()) as { status: string }).status, "starting");
      await loop.tick(new AbortController().signal);
      const ok = await fetch(`${server.url}/healthz`);
      assert.equal(ok.status, 200);
      const body = (await ok.json()) as { status: string; ticks: number; lastTickAgeMs: number };
      assert.equal(body.status, "ok");
      assert.equal(body.ticks, 1);
      await new Promise((r) => setTimeout(r, 400));
      const stale = await fetch(`${server.url}/healthz`);
      assert.equal(stale.status, 503);
      assert.equal(((await stale.json()) as { status: string }).status, "stale");
      assert.equal((await fetch(`${server.url}/metrics`, { method: "POST" })).status, 405);
    } finally {
      await server.close();
      await queue.close();
    }
  });

  it("a reconcile that throws is logged and counted; the loop keeps ticking", async () => {
    const queue = await ActionQueue.open(path.join(root, "errors"));
    const metrics = new RelayerMetrics("t", () => queue.counts());
    let calls = 0;
    const loop = new RelayerLoop({
      queue,
      log: createLogger("t", "silent"),
      metrics,
      role: {
        reconcile: async () => {
          calls++;
          if (calls <= 2) throw new Error("RPC down");
          await queue.enqueue({ key: "k", type: "t" });
        },
        handlers: { t: async () => undefined },
      },
      intervalMs: 5,
      maxAttempts: 1,
      retryBaseMs: 0,
      retryMaxMs: 0,
    });
    const ac = new AbortController();
    const running = loop.run(ac.signal);
    while ((await queue.get("k"))?.status !== "succeeded")
      await new Promise((r) => setTimeout(r, 10));
    ac.abort();
    await running;
    assert.ok(calls >= 3);
    const text = await metrics.registry.metrics();
    assert.match(text, /dml_relayer_errors_total\{role="t",where="reconcile"\} 2/);
    assert.match(text, /dml_relayer_ticks_total\{role="t",outcome="error"\} 2/);
    await queue.close();
  });
});
