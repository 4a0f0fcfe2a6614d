/** The durable action queue (PGlite on disk): idempotent keys, atomic claims, statuses, and recovery after SIGKILL. */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { ActionQueue } from "../../relayers/common/action-queue.ts";
import { RelayerError } from "../../relayers/common/errors.ts";
import { TS_NODE_ARGS } from "../../script/network/processes.ts";

let root: string;
before(async () => {
  root = await mkdtemp(path.join(tmpdir(), "dml-queue-"));
});
after(() => rm(root, { recursive: true, force: true }));

async function rejectsCode(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof RelayerError, `expected RelayerError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

describe("action queue", () => {
  it("re-opens only the actions that finished above a reorg's ancestor; heads keep the newest N", async () => {
    const q = await ActionQueue.open(path.join(root, "reorg"));
    try {
      const finishAt = async (
        key: string,
        block: bigint | undefined,
        how: "succeed" | "abandon",
      ) => {
        await q.enqueue({ key, type: "t" });
        const a = await q.claimNext();
        assert.equal(a?.key, key);
        if (how === "succeed") await q.succeed(a.id, block);
        else await q.abandon(a.id, "moot", block);
      };
      await finishAt("a", 10n, "succeed");
      await finishAt("b", 12n, "succeed");
      await finishAt("c", 13n, "abandon");
      await finishAt("d", undefined, "succeed"); // finished without a known head: never re-opened
      const reopened = await q.reopenAfter(11n, "reorg above 11");
      assert.deepEqual(reopened.map((a) => a.key).sort(), ["b", "c"]);
      assert.equal((await q.get("a"))?.status, "succeeded");
      assert.equal((await q.get("d"))?.status, "succeeded");
      const b = await q.get("b");
      assert.equal(b?.status, "queued");
      assert.equal(b.lastFailure, "reorg above 11");
      assert.equal(b.finishedBlock, undefined);
      assert.deepEqual(await q.reopenAfter(11n, "again"), [], "nothing finished above 11 any more");

      for (let i = 1n; i <= 5n; i++) await q.recordHead({ block: i, hash: `0x${i}` }, 3);
      assert.deepEqual(
        (await q.heads()).map((h) => h.block),
        [3n, 4n, 5n],
      );
      await q.recordHead({ block: 4n, hash: "0xAB" }, 3); // a new head at 4 replaces 4 and 5
      assert.deepEqual(await q.heads(), [
        { block: 3n, hash: "0x3" },
        { block: 4n, hash: "0xab" },
      ]);
    } finally {
      await q.close();
    }
  });

  it("is idempotent by key, claims oldest-ready first, and records every status change", async () => {
    let now = 1_700_000_000_000;
    const q = await ActionQueue.open(path.join(root, "basic"), { now: () => now });
    try {
      const first = await q.enqueue({ key: "commit:7", type: "commit", payload: { jobId: "7" } });
      assert.equal(first.created, true);
      const again = await q.enqueue({ key: "commit:7", type: "commit", payload: { jobId: "8" } });
      assert.equal(again.created, false);
      assert.equal(again.action.id, first.action.id);
      assert.deepEqual(again.action.payload, { jobId: "7" }, "the first payload stays");
      now += 1;
      await q.enqueue({ key: "reveal:7", type: "reveal", notBefore: new Date(now + 10_000) });
      await q.enqueue({ key: "commit:8", type: "commit", payload: { jobId: "8" } });
      assert.deepEqual(await q.counts(), {
        queued: 3,
        running: 0,
        succeeded: 0,
        failed: 0,
        abandoned: 0,
      });

      const c1 = await q.claimNext();
      assert.equal(c1?.key, "commit:7");
      assert.equal(c1.status, "running");
      assert.equal(c1.attempts, 1);
      const c2 = await q.claimNext();
      assert.equal(c2?.key, "commit:8", "reveal:7 is not ready before its not_before");
      assert.equal(await q.claimNext(), undefined);

      await q.succeed(c1.id);
      await rejectsCode(q.succeed(c1.id), "QUEUE"); // only a running action changes status
      const retried = await q.retry(c2.id, "RPC: timeout", new Date(now + 5_000));
      assert.equal(retried.status, "queued");
      assert.equal(retried.lastFailure, "RPC: timeout");
      assert.equal(await q.claimNext(), undefined, "back-off holds the retry");

      now += 10_000;
      const c3 = await q.claimNext();
      assert.equal(c3?.key, "commit:8", "older not_before first");
      assert.equal(c3.attempts, 2);
      await q.fail(c3.id, "reverted: JobMarketWrongPhase");
      const c4 = await q.claimNext();
      assert.equal(c4?.key, "reveal:7");
      await q.abandon(c4.id, "reveal deadline passed");

      const done = await q.get("commit:7");
      assert.equal(done?.status, "succeeded");
      assert.ok(done.finishedAt !== undefined && done.startedAt !== undefined);
      assert.equal((await q.get("commit:8"))?.lastFailure, "reverted: JobMarketWrongPhase");
      assert.deepEqual(
        (await q.list({ status: "abandoned" })).map((a) => a.key),
        ["reveal:7"],
      );
      assert.deepEqual(await q.counts(), {
        queued: 0,
        running: 0,
        succeeded: 1,
        failed: 1,
        abandoned: 1,
      });
      // a finished key is never re-enqueued: the reconcile of a later tick cannot resurrect it
      assert.equal((await q.enqueue({ key: "commit:8", type: "commit" })).created, false);
      assert.equal(await q.claimNext(), undefined);

      await rejectsCode(q.enqueue({ key: "", type: "commit" }), "QUEUE");
      await rejectsCode(
        q.enqueue({ key: "x", type: "t", payload: { n: 1n } as unknown as null }),
        "QUEUE",
      );
      assert.equal(await q.get("x"), undefined, "a rejected action changes nothing");
    } finally {
      await q.close();
    }
  });

  it("an idle queue answers claims without a query until an action may be ready; each write that queues one is seen", async () => {
    let now = 1_700_000_000_000;
    const q = await ActionQueue.open(path.join(root, "idle"), { now: () => now });
    // counts the queries the queue sends to its database
    const db = (q as unknown as { db: { query: (...a: unknown[]) => Promise<unknown> } }).db;
    const query = db.query.bind(db);
    let queries = 0;
    db.query = (...a: unknown[]) => {
      queries++;
      return query(...a);
    };
    const claim = async (expected: number) => {
      const before = queries;
      const a = await q.claimNext();
      assert.equal(queries - before, expected, `queries for a claim at ${now}`);
      return a;
    };
    try {
      assert.equal(
        await claim(2),
        undefined,
        "an empty queue: the claim, then when the next is due",
      );
      assert.equal(await claim(0), undefined, "nothing queued: no query");
      await q.enqueue({ key: "later", type: "t", notBefore: new Date(now + 5_000) });
      assert.equal(await claim(0), undefined, "queued, not due yet: no query");
      now += 5_000;
      const later = await claim(1);
      assert.equal(later?.key, "later", "due: claimed");
      await q.retry(later.id, "RPC: timeout", new Date(now + 1_000));
      // after a claim the queue may hold more ready actions: the next claim asks, and learns the back-off
      assert.equal(await claim(2), undefined, "the retry's back-off holds it");
      assert.equal(await claim(0), undefined, "the back-off known: no query");
      now += 1_000;
      const retried = await claim(1);
      assert.equal(retried?.key, "later");
      await q.succeed(retried.id, 10n);
      assert.equal(await claim(2), undefined);
      assert.equal(await claim(0), undefined);
      // a reorg re-opens the action: the next claim takes it
      assert.equal((await q.reopenAfter(5n, "reorg")).length, 1);
      assert.equal((await claim(1))?.key, "later");
      // an action enqueued ready now is claimed at once
      await q.enqueue({ key: "now", type: "t" });
      assert.equal((await claim(1))?.key, "now");
      // one enqueued while a claim is reading is not hidden by what that claim learnt
      const [none] = await Promise.all([q.claimNext(), q.enqueue({ key: "during", type: "t" })]);
      assert.equal(none, undefined);
      assert.equal((await q.claimNext())?.key, "during");
    } finally {
      await q.close();
    }
  });

  it("survives SIGKILL: the action left running returns to queued, the rest is intact, the lock is taken over", async () => {
    const dir = path.join(root, "crash");
    // node itself (not a wrapper), so SIGKILL hits the process that holds the database
    const child = spawn(
      process.execPath,
      [...TS_NODE_ARGS, path.join(import.meta.dirname, "fixtures/queue-child.ts"), dir],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (d: Buffer) => {
        if (d.toString().includes("READY")) resolve();
      });
      child.once("exit", (code) => reject(new Error(`child exited ${code}: ${stderr}`)));
    });
    // while the child lives, its data directory is locked
    await rejectsCode(ActionQueue.open(dir), "DATA_DIR_LOCKED");
    const exited = new Promise((r) => child.once("exit", (_c, sig) => r(sig)));
    child.kill("SIGKILL");
    assert.equal(await exited, "SIGKILL");

    const q = await ActionQueue.open(dir);
    try {
      assert.deepEqual(
        q.recovered.map((a) => [a.key, a.status, a.attempts, a.recoveries]),
        [["b", "queued", 1, 1]],
      );
      assert.equal((await q.get("a"))?.status, "succeeded");
      const b = await q.get("b");
      assert.equal(b?.status, "queued");
      assert.match(b.lastFailure ?? "", /interrupted/);
      assert.equal((await q.get("c"))?.status, "queued");
      const next = await q.claimNext();
      assert.equal(
        next?.key,
        "b",
        "the recovered action runs first (its handler re-checks the chain)",
      );
      assert.equal(next.attempts, 2);
    } finally {
      await q.close();
    }
  });
});
