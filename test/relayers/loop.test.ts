/**
 * The relayer loop's reconcile on an unchanged head (relayers/common/loop.ts, `reconcilesChainOnly`), on the
 * in-process EDR chain: a role whose desired state is the chain's reconciles once per head, again after a new block or
 * a failed reconcile; a role without the flag reconciles every tick; the queue's actions run every tick either way.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { network } from "hardhat";
import type { PublicClient, TestClient } from "viem";
import { ActionQueue } from "../../relayers/common/action-queue.ts";
import type { RoleRuntime } from "../../relayers/common/loop.ts";
import { ReorgGuard } from "../../relayers/common/reorg.ts";
import { createLogger } from "../../relayers/common/telemetry.ts";
import { testLoop } from "./helpers.ts";

describe("relayer loop: reconcile once per head for chain-only roles", () => {
  let tmp: string;
  let pub: PublicClient;
  let test: TestClient;
  const log = createLogger("loop", "silent");
  const signal = new AbortController().signal;

  before(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), "dml-relayer-loop-"));
    const { viem } = await network.create();
    pub = (await viem.getPublicClient()) as unknown as PublicClient;
    test = (await viem.getTestClient()) as unknown as TestClient;
    await test.mine({ blocks: 1 });
  });
  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  /** A loop over `role` with a reorg guard on the EDR chain, and the queue it uses. */
  async function loopOf(name: string, role: RoleRuntime) {
    const queue = await ActionQueue.open(path.join(tmp, name));
    const loop = testLoop(queue, role, log, { reorg: new ReorgGuard(pub, queue) });
    return { queue, loop };
  }

  it("skips the reconcile while the head is unchanged; a new block, or a failed reconcile, reconciles again", async () => {
    let reconciles = 0;
    let fail = false;
    let ran = 0;
    let n = 0;
    const { queue, loop } = await loopOf("chain-only", {
      reconcilesChainOnly: true,
      async reconcile() {
        reconciles++;
        if (fail) throw new Error("the RPC went away mid-reconcile");
      },
      handlers: {
        work: async () => {
          ran++;
        },
      },
    });
    try {
      await loop.tick(signal);
      await loop.tick(signal);
      await loop.tick(signal);
      assert.equal(reconciles, 1, "one head: one reconcile");
      assert.equal(loop.reconcilesSkipped, 2);

      // the queue still runs every tick: an action enqueued from outside the reconcile runs on the next one
      await queue.enqueue({ key: `work:${n++}`, type: "work", payload: {} });
      await loop.tick(signal);
      assert.equal(ran, 1);
      assert.equal(reconciles, 1);

      await test.mine({ blocks: 1 });
      await loop.tick(signal);
      assert.equal(reconciles, 2, "a new head: reconciled");

      // a reconcile that failed is retried on the next tick, on the same head
      await test.mine({ blocks: 1 });
      fail = true;
      const failed = await loop.tick(signal);
      assert.equal(failed.ok, false);
      fail = false;
      const retried = await loop.tick(signal);
      assert.equal(retried.ok, true);
      assert.equal(reconciles, 4, "the failed reconcile ran again without a new block");
      await loop.tick(signal);
      assert.equal(reconciles, 4);
    } finally {
      await queue.close();
    }
  });

  it("while the role's off-chain inputs are pending it reconciles every tick, then once per head again", async () => {
    let reconciles = 0;
    let pending = true;
    const { queue, loop } = await loopOf("pending", {
      reconcilesChainOnly: true,
      offChainPending: () => pending,
      async reconcile() {
        reconciles++;
      },
      handlers: {},
    });
    try {
      for (let i = 0; i < 3; i++) await loop.tick(signal);
      assert.equal(reconciles, 3, "pending: every tick, on one head");
      pending = false;
      for (let i = 0; i < 3; i++) await loop.tick(signal);
      assert.equal(reconciles, 3, "nothing pending, the head unchanged: skipped");
      assert.equal(loop.reconcilesSkipped, 3);
      await test.mine({ blocks: 1 });
      await loop.tick(signal);
      assert.equal(reconciles, 4, "a new head: reconciled");
    } finally {
      await queue.close();
    }
  });

  it("a role without the flag reconciles every tick, as before", async () => {
    let reconciles = 0;
    const { queue, loop } = await loopOf("every-tick", {
      async reconcile() {
        reconciles++;
      },
      handlers: {},
    });
    try {
      for (let i = 0; i < 3; i++) await loop.tick(signal);
      assert.equal(reconciles, 3);
      assert.equal(loop.reconcilesSkipped, 0);
    } finally {
      await queue.close();
    }
  });

  it("the guard exposes the head it saw; an unchanged head leaves the remembered heads as they were, a new one is added", async () => {
    const queue = await ActionQueue.open(path.join(tmp, "guard"));
    try {
      const guard = new ReorgGuard(pub, queue);
      assert.equal(await guard.check(), undefined);
      const first = await queue.heads();
      assert.equal(first.length, 1);
      assert.equal(guard.head?.hash, first[0]!.hash);
      assert.equal(await guard.check(), undefined);
      assert.deepEqual(await queue.heads(), first);
      await test.mine({ blocks: 1 });
      assert.equal(await guard.check(), undefined);
      const second = await queue.heads();
      assert.equal(second.length, 2);
      assert.equal(second[1]!.block, first[0]!.block + 1n);
      assert.equal(guard.head?.hash, second[1]!.hash);
    } finally {
      await queue.close();
    }
  });
});
