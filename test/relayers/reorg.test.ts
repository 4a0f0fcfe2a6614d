/**
 * A reorg under a running relayer (EDR snapshot/revert): the drawn attestors commit their votes on one branch; the
 * chain is reverted below those commits and the aggregator's commitment lands again on the new branch. Each attestor's
 * loop sees the head it remembered replaced, re-opens its `commit` action (it finished above the common ancestor),
 * the handler finds no commitment of its own on the new chain and commits once more; a tick later nothing is re-done.
 *
 * Under the earlier rule (no reorg check: a succeeded key is never resurrected) the attestors would never vote on the
 * new chain and the job would fail for their silence; the test checks that this is what a loop without the guard does.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { getAddress, type Address } from "viem";
import { HeliaStore } from "#sdk/ipfs/index.ts";
import { ActionQueue } from "../../relayers/common/action-queue.ts";
import { RelayerLoop } from "../../relayers/common/loop.ts";
import { ReorgGuard } from "../../relayers/common/reorg.ts";
import { createLogger } from "../../relayers/common/telemetry.ts";
import { Attestor } from "../../relayers/attestor/Attestor.ts";
import { JobLifecycle } from "../../bench/fixture/job-run.ts";
import { abi, aggregateCommitment, label } from "../../bench/fixture/protocol.ts";
import { attestorContracts, MODEL, prepareJob } from "./attestor-fixture.ts";

describe("relayers across a chain reorg (EDR snapshot/revert)", () => {
  let life: JobLifecycle;
  let store: HeliaStore;
  let tmp: string;
  const log = createLogger("attestor", "silent");

  before(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), "dml-relayer-reorg-"));
    store = await HeliaStore.open({ dir: path.join(tmp, "helia") });
    life = await JobLifecycle.create();
  });
  after(async () => {
    await store.close();
    await rm(tmp, { recursive: true, force: true });
  });

  it("attestors re-scan and commit once on the new chain after their commits were reorganised away", async () => {
    const { env } = life;
    const { jobId, drawn, value, cid, attestors } = await prepareJob(life, store, 8);
    const relayers = await Promise.all(
      attestors.map(async (a, i) => {
        const queue = await ActionQueue.open(path.join(tmp, `attestor-${i}`));
        const role = new Attestor({
          publicClient: env.pub,
          wallet: life.attestorWallet(a),
          contracts: attestorContracts(life),
          chainId: env.pub.chain!.id,
          store,
          inputs: { cohort: async () => drawn.members, model: async () => MODEL },
          fetchTimeoutMs: 5_000,
        });
        const guarded = (g: boolean) =>
          new RelayerLoop({
            queue,
            role: {
              ...role,
              reconcile: (c) => role.reconcile(c),
              handlers: role.handlers,
              onReorg: (e) => role.onReorg(e),
            },
            log,
            intervalMs: 10,
            maxAttempts: 3,
            retryBaseMs: 0,
            retryMaxMs: 0,
            ...(g ? { reorg: new ReorgGuard(env.pub, queue) } : {}),
          });
        return { a, queue, loop: guarded(true), unguarded: guarded(false) };
      }),
    );
    const tick = async (which: "loop" | "unguarded") => {
      for (const r of relayers) await r[which].tick(new AbortController().signal);
    };
    const commits = async () =>
      (
        await env.pub.getContractEvents({
          address: attestorContracts(life).ResultAttestation,
          abi: abi("ResultAttestation"),
          eventName: "AttestationCommitted",
          args: { jobId },
          fromBlock: 0n,
        })
      ).map((e) => getAddress((e as unknown as { args: { attestor: Address } }).args.attestor));
    const aggCommit = () =>
      env.send(life.aggregator, "ResultAttestation", "commitAggregate", [
        jobId,
        aggregateCommitment(value, label(`agg-salt-${jobId}`)),
        cid,
      ]);

    try {
      await tick("loop"); // records the head; nothing to do yet
      const snapshot = (await env.conn.provider.request({ method: "evm_snapshot" })) as string;
      await aggCommit();
      await tick("loop");
      assert.deepEqual((await commits()).sort(), [...attestors].sort(), "each committed once");
      for (const r of relayers)
        assert.equal((await r.queue.get(`commit:${jobId}`))?.status, "succeeded");

      // the reorg: back below the commits; the aggregator's commitment lands again on the new branch
      await env.conn.provider.request({ method: "evm_revert", params: [snapshot] });
      await aggCommit();
      assert.deepEqual(await commits(), [], "the attestors' commits are gone with the old branch");

      // the earlier rule: a loop without the reorg check keeps `commit` succeeded and never votes again
      await tick("unguarded");
      assert.deepEqual(await commits(), [], "without the guard nobody re-commits");

      // with the guard: the head each relayer remembered was replaced → commit re-opened → committed once
      await tick("loop");
      assert.deepEqual(
        (await commits()).sort(),
        [...attestors].sort(),
        "each committed once on the new chain",
      );
      for (const r of relayers) {
        const c = await r.queue.get(`commit:${jobId}`);
        assert.equal(c?.status, "succeeded");
        assert.equal(c.attempts, 2, "the commit ran once per branch");
        assert.match(c.lastFailure ?? "", /reorganised/);
      }
      await tick("loop");
      await tick("loop");
      assert.equal((await commits()).length, attestors.length, "and never again");
    } finally {
      for (const r of relayers) await r.queue.close();
    }
  });
});
