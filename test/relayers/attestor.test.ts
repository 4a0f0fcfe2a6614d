/**
 * The attestor role on the real contracts (EDR): a job's SecAgg session runs with the drawn devices' keys, the
 * aggregator seals and publishes the transcript (Helia) and commits; each drawn attestor runs the relayer loop
 * (reconcile → durable queue → handlers). They commit the value they derive, reveal it once every attestor committed,
 * and the job is attested. The reconcile asks for nothing before the aggregator's commitment, nothing of an attestor
 * that was not drawn, and nothing once done; a handler re-run with a lost queue (a crash after sending) finds its effect
 * on the chain and sends nothing: exactly one commit and one reveal per attestor.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fullProfileOnly } from "../profile.ts";
import { getAddress, type Address } from "viem";
import { HeliaStore } from "#sdk/ipfs/index.ts";
import { ActionQueue } from "../../relayers/common/action-queue.ts";
import { testLoop } from "./helpers.ts";
import { createLogger } from "../../relayers/common/telemetry.ts";
import { Attestor } from "../../relayers/attestor/Attestor.ts";
import { JobLifecycle, who } from "../../bench/fixture/job-run.ts";
import { abi, aggregateCommitment, JobStatus, label } from "../../bench/fixture/protocol.ts";
import { attestorContracts, MODEL, prepareJob } from "./attestor-fixture.ts";

const N = 8;

describe(
  "attestor relayer on the real contracts",
  {
    skip: fullProfileOnly(
      "the e2e test's attestor processes, each committing and revealing once across kills",
    ),
  },
  () => {
    let life: JobLifecycle;
    let store: HeliaStore;
    let tmp: string;
    const log = createLogger("attestor", "silent");

    before(async () => {
      tmp = mkdtempSync(path.join(tmpdir(), "dml-relayer-attestor-"));
      store = await HeliaStore.open({ dir: path.join(tmp, "helia") });
      life = await JobLifecycle.create();
    });
    after(async () => {
      await store.close();
      await rm(tmp, { recursive: true, force: true });
    });

    const contracts = () => attestorContracts(life);

    it("commits and reveals each drawn attestor's vote exactly once; the job is attested", async () => {
      const { env } = life;
      const {
        jobId,
        drawn,
        value,
        cid,
        attestors: drawnAttestors,
      } = await prepareJob(life, store, N);
      const notDrawn = life.attestorWallets.map(who).filter((a) => !drawnAttestors.includes(a));
      assert.equal(drawnAttestors.length, 3);
      assert.ok(notDrawn.length >= 1);
      const attestorOf = (a: Address) =>
        new Attestor({
          publicClient: env.pub,
          wallet: life.attestorWallet(a),
          contracts: contracts(),
          chainId: env.pub.chain!.id,
          store,
          inputs: { cohort: async () => drawn.members, model: async () => MODEL },
          fetchTimeoutMs: 5_000,
        });
      const relayers = await Promise.all(
        drawnAttestors.map(async (a, i) => {
          const queue = await ActionQueue.open(path.join(tmp, `attestor-${i}`));
          const role = attestorOf(a);
          const loop = testLoop(queue, role, log);
          return { a, queue, role, loop };
        }),
      );
      const tickAll = async () => {
        for (const r of relayers) await r.loop.tick(new AbortController().signal);
      };

      try {
        // before the aggregator commits there is nothing to attest
        for (const r of relayers) assert.deepEqual(await r.role.desired(), []);
        for (const r of relayers)
          assert.deepEqual(r.role.openJobs(), [jobId], "drawn: the job is open");
        await tickAll();
        for (const r of relayers) assert.equal((await r.queue.list()).length, 0);

        const aggSalt = label(`agg-salt-${jobId}`);
        await env.send(life.aggregator, "ResultAttestation", "commitAggregate", [
          jobId,
          aggregateCommitment(value, aggSalt),
          cid,
        ]);
        for (const r of relayers)
          assert.deepEqual(await r.role.desired(), [{ jobId, phase: "commit" }]);
        assert.deepEqual(await attestorOf(notDrawn[0]!).desired(), [], "not drawn: nothing to do");

        // tick 1: each commits (the last commit opens the reveal window: every attestor committed)
        await tickAll();
        for (const r of relayers) {
          const c = await r.queue.get(`commit:${jobId}`);
          assert.equal(c?.status, "succeeded", c?.lastFailure);
          assert.equal(c.attempts, 1);
        }
        for (const r of relayers)
          assert.deepEqual(await r.role.desired(), [{ jobId, phase: "reveal" }]);

        // a commit handler re-run after a crash that lost the queue: the chain says "committed", nothing is sent
        const lost = await ActionQueue.open(path.join(tmp, "lost-queue"));
        await lost.enqueue({
          key: `commit:${jobId}`,
          type: "commit",
          payload: { jobId: `${jobId}` },
        });
        await testLoop(
          lost,
          { reconcile: async () => undefined, handlers: relayers[0]!.role.handlers },
          log,
          { maxAttempts: 1 },
        ).tick(new AbortController().signal);
        assert.equal((await lost.get(`commit:${jobId}`))?.status, "succeeded");

        // tick 2: reveals
        await tickAll();
        for (const r of relayers) {
          const rv = await r.queue.get(`reveal:${jobId}`);
          assert.equal(rv?.status, "succeeded", rv?.lastFailure);
        }
        // the same crash scenario for a reveal
        await lost.enqueue({
          key: `reveal:${jobId}`,
          type: "reveal",
          payload: { jobId: `${jobId}` },
        });
        await testLoop(
          lost,
          { reconcile: async () => undefined, handlers: relayers[0]!.role.handlers },
          log,
          { maxAttempts: 1 },
        ).tick(new AbortController().signal);
        assert.equal((await lost.get(`reveal:${jobId}`))?.status, "succeeded");
        await lost.close();

        await env.send(life.aggregator, "ResultAttestation", "revealAggregate", [
          jobId,
          value,
          aggSalt,
        ]);
        if ((await env.read("JobMarket", "status", [jobId])) === JobStatus.Committed)
          await env.send(life.keeper, "ResultAttestation", "finalize", [jobId]);
        assert.equal(await env.read("JobMarket", "status", [jobId]), JobStatus.Attested);
        const att = await env.read<{ finalHash: string }>("ResultAttestation", "attestationOf", [
          jobId,
        ]);
        assert.equal(att.finalHash, value, "the attestors derived the aggregator's value");
        // finished jobs leave the open set: later ticks read nothing for them
        for (const r of relayers) {
          assert.deepEqual(await r.role.desired(), []);
          assert.deepEqual(r.role.openJobs(), []);
        }
        // a restarted attestor rebuilds its open set with one full scan and finds nothing to do
        const restarted = attestorOf(drawnAttestors[0]!);
        assert.deepEqual(await restarted.desired(), []);
        assert.deepEqual(restarted.openJobs(), []);

        // exactly one commit and one reveal per attestor, each revealing the derived value
        const events = async (eventName: string) =>
          (
            await env.pub.getContractEvents({
              address: env.addr("ResultAttestation"),
              abi: abi("ResultAttestation"),
              eventName,
              args: { jobId },
              fromBlock: 0n,
            })
          ).map((e) => e as unknown as { args: { attestor: Address; aggregateHash?: string } });
        const commits = await events("AttestationCommitted");
        const reveals = await events("AttestationRevealed");
        assert.deepEqual(
          commits.map((e) => getAddress(e.args.attestor)).sort(),
          [...drawnAttestors].sort(),
        );
        assert.deepEqual(
          reveals.map((e) => getAddress(e.args.attestor)).sort(),
          [...drawnAttestors].sort(),
        );
        for (const e of reveals) assert.equal(e.args.aggregateHash, value);

        // done: a further tick wants nothing, and the finished job left the open set
        for (const r of relayers) assert.deepEqual(await r.role.desired(), []);
        for (const r of relayers) assert.deepEqual(r.role.openJobs(), []);
        await tickAll();
        for (const r of relayers) assert.equal((await r.queue.list()).length, 2);
      } finally {
        for (const r of relayers) await r.queue.close();
      }
    });
  },
);
