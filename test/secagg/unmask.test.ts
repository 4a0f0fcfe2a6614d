import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { LABEL_PAIR_MASK, MaskGenerator, deriveKey } from "#sdk/secagg/prg.ts";
import { removeMasks } from "#sdk/secagg/unmask.ts";
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

  it("test_removeMasks_inline_equalsReference", async () => {
    const sum = masked.slice();
    const stats = await removeMasks(sum, work, { workers: 1 });
    assert.deepEqual(stats, { expansions: 4 + 2 + 3 + 4 + 5 + 2, workers: 1, fallbacks: 0 });
    assert.deepEqual(sum, expected);
  });

  it("test_removeMasks_workerThreads_equalInline", async () => {
    const sum = masked.slice();
    const stats = await removeMasks(sum, work, { workers: 3, minParallelWork: 0 });
    assert.equal(stats.workers, 3);
    assert.equal(stats.fallbacks, 0, "every slice ran in its worker thread");
    assert.deepEqual(sum, expected);
  });

  it("test_removeMasks_smallWork_staysInline", async () => {
    const sum = masked.slice();
    const stats = await removeMasks(sum, work, { workers: 4 });
    assert.equal(stats.workers, 1);
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
    await removeMasks(sum, flipped, { workers: 2, minParallelWork: 0 });
    assert.notDeepEqual(sum, expected);
  });
});
