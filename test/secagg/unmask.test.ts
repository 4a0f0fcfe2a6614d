import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, describe, it } from "node:test";
import { LABEL_PAIR_MASK, MaskGenerator, deriveKey } from "#sdk/secagg/prg.ts";
import { removeMasks } from "#sdk/secagg/unmask.ts";
import { UnmaskPool } from "#sdk/secagg/unmask-pool.ts";
import { SecAggError } from "#sdk/secagg/errors.ts";
import type { UnmaskWork } from "#sdk/secagg/unmask.ts";
import { x25519 } from "@noble/curves/ed25519.js";

/** Reference: the masks removed one by one with @noble's X25519 and ChaCha20 over the whole vector (no chunks). */
function reference(sum: Uint32Array, work: UnmaskWork): Uint32Array {
  const out = sum.slice();
  const mg = new MaskGenerator(work.m, { native: false });
  const apply = (seed: Uint8Array, sign: number) => {
    const w = mg.expand(seed);
    for (let i = 0; i < work.m; i++) out[i] = (out[i]! + sign * w[i]!) >>> 0;
  };
  for (const seed of work.selfSeeds) apply(seed, -1);
  for (const d of work.dropped)
    for (const { key, sign } of d.peers) {
      const shared = x25519.getSharedSecret(d.secret, work.publicKeys[key]!);
      apply(deriveKey(shared, work.sessionIdBytes, LABEL_PAIR_MASK, { native: false }), sign);
    }
  return out;
}

function randomWork(m: number): UnmaskWork {
  const publicKeys = Array.from({ length: 9 }, () =>
    x25519.getPublicKey(x25519.utils.randomSecretKey()),
  );
  return {
    m,
    sessionIdBytes: randomBytes(32),
    selfSeeds: Array.from({ length: 4 }, () => randomBytes(32)),
    publicKeys,
    dropped: Array.from({ length: 5 }, (_, i) => ({
      secret: x25519.utils.randomSecretKey(),
      peers: [0, 2, 3, 5, 8]
        .slice(0, 2 + (i % 4))
        .map((key, j) => ({ key, sign: j % 2 === 0 ? (1 as const) : (-1 as const) })),
    })),
  };
}

describe("removeMasks (server unmasking)", () => {
  // 40,000 words: two full 16,384-word keystream chunks and a partial one
  const work = randomWork(40_000);
  const masked = new Uint32Array(randomBytes(4 * 40_000).buffer);
  const expected = reference(masked, work);
  const pool = new UnmaskPool(3);
  after(() => pool.close());

  it("test_removeMasks_inline_equalsReference", async () => {
    const sum = masked.slice();
    const stats = await removeMasks(sum, work, { workers: 1 });
    assert.deepEqual(stats, { expansions: 4 + 2 + 3 + 4 + 5 + 2, workers: 1, fallbacks: 0 });
    assert.deepEqual(sum, expected);
  });

  it("test_removeMasks_workerThreads_equalInline", async () => {
    const sum = masked.slice();
    const stats = await removeMasks(sum, work, { pool, minParallelWork: 0 });
    assert.equal(stats.workers, 3);
    assert.equal(stats.fallbacks, 0, "every slice ran in its worker thread");
    assert.deepEqual(sum, expected);
  });

  it("test_removeMasks_smallWork_staysInline", async () => {
    const sum = masked.slice();
    const stats = await removeMasks(sum, work, { pool: new UnmaskPool(4) });
    assert.equal(stats.workers, 1, "a cold pool is not started for ≈ 1 ms of work");
    assert.deepEqual(sum, expected);
  });

  it("test_removeMasks_wrongSign_differs", async () => {
    const flipped: UnmaskWork = {
      ...work,
      dropped: work.dropped.map((d, i) =>
        i === 0 ? { ...d, peers: d.peers.map((p) => ({ ...p, sign: -p.sign as 1 | -1 })) } : d,
      ),
    };
    const sum = masked.slice();
    await removeMasks(sum, flipped, { pool, workers: 2, minParallelWork: 0 });
    assert.notDeepEqual(sum, expected);
  });
});

describe("UnmaskPool (worker threads)", () => {
  it("test_unmaskPool_randomDropouts_equalsSingleThreaded", async () => {
    const pool = new UnmaskPool(2);
    try {
      await pool.warm();
      assert.equal(pool.warmed, true);
      for (const m of [1, 16, 5_003, 40_000]) {
        // random survivors and dropouts: each dropped client with a random subset of the survivors as neighbours
        const publicKeys = Array.from({ length: 12 }, () =>
          x25519.getPublicKey(x25519.utils.randomSecretKey()),
        );
        const work: UnmaskWork = {
          m,
          sessionIdBytes: randomBytes(32),
          selfSeeds: Array.from({ length: 1 + (randomBytes(1)[0]! % 6) }, () => randomBytes(32)),
          publicKeys,
          dropped: Array.from({ length: 2 + (randomBytes(1)[0]! % 7) }, () => ({
            secret: x25519.utils.randomSecretKey(),
            peers: publicKeys.flatMap((_, key) =>
              randomBytes(1)[0]! < 128
                ? [{ key, sign: randomBytes(1)[0]! < 128 ? 1 : -1 } as const]
                : [],
            ),
          })),
        };
        const masked = new Uint32Array(randomBytes(4 * m).buffer);
        const inline = masked.slice();
        await removeMasks(inline, work, { workers: 1 });
        const parallel = masked.slice();
        const stats = await removeMasks(parallel, work, { pool, minParallelWork: 0 });
        assert.equal(stats.workers, 2);
        assert.equal(stats.fallbacks, 0);
        assert.deepEqual(parallel, inline, `m = ${m}`);
        assert.deepEqual(parallel, reference(masked, work), `m = ${m}`);
      }
    } finally {
      await pool.close();
    }
  });

  it("test_unmaskPool_workerCrash_typedErrorThenRecovers", async () => {
    const pool = new UnmaskPool(1);
    try {
      const good = randomWork(100);
      const task = { m: good.m, sessionIdBytes: good.sessionIdBytes, publicKeys: good.publicKeys };
      // a secret that is not 32 bytes makes the worker's X25519 key import throw: the worker dies with the task
      const crash = pool.run({
        ...task,
        dropped: [{ secret: new Uint8Array(5), peers: [{ key: 0, sign: 1 }] }],
      });
      await assert.rejects(
        crash,
        (e: unknown) => e instanceof SecAggError && e.code === "UNMASK_WORKER_FAILED",
      );
      // the pool starts a new worker for the next task, which answers correctly
      const acc = await pool.run({ ...task, dropped: good.dropped });
      const expected = reference(new Uint32Array(100), { ...good, selfSeeds: [] });
      assert.deepEqual(acc, expected);
    } finally {
      await pool.close();
    }
  });

  it("test_unmaskPool_closedMidTask_rejectsInsteadOfHanging", async () => {
    const pool = new UnmaskPool(1);
    const work = randomWork(200_000);
    const outcomes = Promise.allSettled([
      pool.run({ ...work, dropped: work.dropped }), // running
      pool.run({ ...work, dropped: work.dropped }), // queued behind it
    ]);
    await pool.close();
    for (const o of await outcomes) {
      assert.equal(o.status, "rejected");
      const e: unknown = o.status === "rejected" ? o.reason : undefined;
      assert.ok(e instanceof SecAggError && e.code === "UNMASK_WORKER_FAILED", String(e));
    }
    await assert.rejects(pool.run({ ...work, dropped: [] }), /closed/);
  });

  it("test_removeMasks_workerCrash_fallsBackInline", async () => {
    // a pool whose workers are gone (closed): every slice fails with UNMASK_WORKER_FAILED and is computed inline
    const work = randomWork(3_000);
    const masked = new Uint32Array(randomBytes(4 * 3_000).buffer);
    const pool = new UnmaskPool(2);
    await pool.close();
    const sum = masked.slice();
    const stats = await removeMasks(sum, work, { pool, minParallelWork: 0 });
    assert.equal(stats.fallbacks, stats.workers * 2);
    assert.deepEqual(sum, reference(masked, work));
  });
});
