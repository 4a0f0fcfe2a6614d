/**
 * The reporter role on the real contracts (EDR) and Helia, on jobs of the reference package (control-group confusion
 * matrix, DP noise): the aggregator seals the transcript to the drawn attestors and the active reporters; once the
 * quorum attested, a reporter's loop replays the transcript, checks the attested resultHash, encrypts the report to
 * the customer and settles the job. The customer decrypts it (its aggregate hash is the attested one) and the payout
 * list is the attested tree. A second reporter does not report again; a restart after the transaction was sent but
 * before its success was recorded ends `succeeded` without a second transaction; two reporters racing: the loser's
 * send reverts and its action still succeeds; a reporter the transcript was not sealed to fails with NOT_A_RECIPIENT.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fullProfileOnly } from "../profile.ts";
import { getAddress, type Address, type Hex } from "viem";
import { deriveOperatorKey, walletSigner } from "#sdk/crypto/operator-key.ts";
import { decryptReport, reportKeyPair } from "#sdk/crypto/report.ts";
import { HeliaStore } from "#sdk/ipfs/index.ts";
import { chainJobModelReads, jobModelOf } from "#sdk/protocol/job-model.ts";
import type { SealRecipient } from "#sdk/secagg/index.ts";
import { ActionQueue } from "../../relayers/common/action-queue.ts";
import { testLoop } from "./helpers.ts";
import { RelayerLoop } from "../../relayers/common/loop.ts";
import { createLogger } from "../../relayers/common/telemetry.ts";
import { Reporter } from "../../relayers/reporter/Reporter.ts";
import { JobLifecycle, who } from "../../bench/fixture/job-run.ts";
import { abi, ETHER, JobStatus, Role } from "../../bench/fixture/protocol.ts";
import { attestorContracts, prepareJob, referencePackage } from "./attestor-fixture.ts";

const N = 8;
type Wallet = JobLifecycle["reporter"];

describe("reporter relayer on the real contracts", () => {
  let life: JobLifecycle;
  let store: HeliaStore;
  let tmp: string;
  /** Reporters the transcripts are sealed to, and one that staked but is never a recipient. */
  let second: Wallet;
  let late: Wallet;
  const log = createLogger("reporter", "silent");

  before(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), "dml-relayer-reporter-"));
    store = await HeliaStore.open({ dir: path.join(tmp, "helia") });
    life = await JobLifecycle.create(await referencePackage(store));
    second = life.env.wallet(12)!;
    late = life.env.wallet(13)!;
    await life.env.stakeNode(second, Role.Reporter, 5_000n * ETHER);
    await life.env.stakeNode(late, Role.Reporter, 5_000n * ETHER);
  });
  after(async () => {
    await store.close();
    await rm(tmp, { recursive: true, force: true });
  });

  const contracts = () => ({ ...attestorContracts(life), Settlement: life.env.addr("Settlement") });
  const recipient = async (w: Wallet): Promise<SealRecipient> => ({
    address: who(w),
    x25519PublicKey: (await deriveOperatorKey(walletSigner(w))).publicKey,
  });
  const reporterOf = (
    w: Wallet,
    cohort: Awaited<ReturnType<typeof prepareJob>>["drawn"]["members"],
    beforeSend?: (jobId: bigint) => Promise<void>,
  ) =>
    new Reporter({
      publicClient: life.env.pub,
      wallet: w,
      contracts: contracts(),
      chainId: life.env.pub.chain!.id,
      store,
      fetchTimeoutMs: 5_000,
      inputs: {
        cohort: async () => cohort,
        model: (jobId) =>
          jobModelOf(
            {
              chain: chainJobModelReads(life.env.pub, contracts()),
              store,
              cohort,
              session: { chainId: life.env.pub.chain!.id, jobMarket: life.env.addr("JobMarket") },
            },
            jobId,
          ),
      },
      ...(beforeSend === undefined ? {} : { beforeSend }),
    });
  const loopOf = (queue: ActionQueue, role: Reporter) => testLoop(queue, role, log);
  const tick = (loop: RelayerLoop) => loop.tick(new AbortController().signal);
  const nonce = (w: Wallet) => life.env.pub.getTransactionCount({ address: who(w) });
  const reportsOf = async (jobId: bigint) =>
    (
      await life.env.pub.getContractEvents({
        address: life.env.addr("Settlement"),
        abi: abi("Settlement"),
        eventName: "ReportPosted",
        args: { jobId },
        fromBlock: 0n,
      })
    ).map(
      (e) =>
        (
          e as unknown as {
            args: {
              reporter: Address;
              reportCid: string;
              reportCommitment: Hex;
              aggregateHash: Hex;
              payoutsCid: string;
              success: boolean;
            };
          }
        ).args,
    );

  it(
    "settles an attested job once; the customer decrypts the report; no second report, even after a restart",
    {
      skip: fullProfileOnly(
        "the e2e test's reporter process, killed before the attestation and after its report",
      ),
    },
    async () => {
      const { env } = life;
      const customer = reportKeyPair();
      const job = await prepareJob(life, store, N, {
        fromPackage: true,
        encryptionKey: customer.publicKey,
        extraRecipients: [await recipient(life.reporter), await recipient(second)],
      });
      assert.ok(job.derived.result.qualityMet, "the job's quality holds: devices are paid");
      const first = reporterOf(life.reporter, job.drawn.members);
      const other = reporterOf(second, job.drawn.members);
      const queue = await ActionQueue.open(path.join(tmp, "reporter-a"));
      const queueB = await ActionQueue.open(path.join(tmp, "reporter-b"));
      try {
        assert.deepEqual(await first.desired(), [], "nothing before the attestation");
        await life.attest(job.jobId, job.derived.result, job.cid);
        assert.equal(await env.read("JobMarket", "status", [job.jobId]), JobStatus.Attested);
        const attestedAt = Date.now();
        assert.deepEqual(await first.desired(), [{ jobId: job.jobId }]);

        const nonceA = await nonce(life.reporter);
        const cpu = process.cpuUsage();
        const rss = process.memoryUsage().rss;
        await tick(loopOf(queue, first));
        const cpuMs = (process.cpuUsage(cpu).user + process.cpuUsage(cpu).system) / 1000;
        const action = await queue.get(`report:${job.jobId}`);
        assert.equal(action?.status, "succeeded", action?.lastFailure);
        assert.equal(action.attempts, 1);
        assert.equal(await nonce(life.reporter), nonceA + 1, "one transaction");
        assert.equal(await env.read("JobMarket", "status", [job.jobId]), JobStatus.Settled);

        // the customer: the report from ReportPosted and IPFS, decrypted with its key
        const [posted, ...more] = await reportsOf(job.jobId);
        assert.equal(more.length, 0);
        assert.ok(posted);
        assert.equal(getAddress(posted.reporter), who(life.reporter));
        assert.equal(posted.success, true);
        assert.equal(posted.aggregateHash, job.derived.result.aggregateHash);
        const report = decryptReport(
          customer.secretKey,
          await store.getBytes(posted.reportCid),
          posted.reportCommitment,
        ) as {
          aggregateHash: Hex;
          participants: number;
          labels: string[];
          privacy?: { epsilon: number };
          adjusted?: { estimate: number }[];
        };
        assert.equal(
          report.aggregateHash,
          posted.aggregateHash,
          "the report is the attested aggregate's",
        );
        assert.equal(report.participants, N - 1);
        assert.deepEqual(report.labels, ["ham", "spam"]);
        assert.ok(report.privacy && report.privacy.epsilon > 0, "the DP figures");
        assert.equal(report.adjusted?.[1]?.estimate, job.derived.estimate.adjusted?.[1]?.estimate);
        // the payout list is the attested tree: devices claim from it
        const list = JSON.parse(new TextDecoder().decode(await store.getBytes(posted.payoutsCid)));
        assert.deepEqual(list, JSON.parse(JSON.stringify(job.derived.tree!.toList())));
        const receipt = first.lastReceipt!;
        console.log(
          "reporter per job:",
          JSON.stringify({
            cpuMs: Math.round(cpuMs),
            rssDeltaMiB: Math.round((process.memoryUsage().rss - rss) / 2 ** 20),
            attestedToReportMs: Date.now() - attestedAt,
            reportGas: `${receipt.gasUsed}`,
          }),
        );

        // a second reporter: nothing to do, nothing sent
        const nonceB = await nonce(second);
        assert.deepEqual(await other.desired(), []);
        await tick(loopOf(queueB, other));
        assert.equal((await queueB.list()).length, 0);
        assert.equal(await nonce(second), nonceB);

        // a restart after the transaction was sent but before its success was recorded: the action was `running`
        // when the process died; the reopened queue re-queues it and the handler finds the job reported
        const dir = path.join(tmp, "reporter-crash");
        const crashed = await ActionQueue.open(dir);
        await crashed.enqueue({
          key: `report:${job.jobId}`,
          type: "report",
          payload: { jobId: `${job.jobId}` },
        });
        assert.equal((await crashed.claimNext())?.status, "running");
        await crashed.close();
        const reopened = await ActionQueue.open(dir);
        try {
          assert.equal(reopened.recovered.length, 1);
          await tick(
            new RelayerLoop({
              queue: reopened,
              role: { reconcile: async () => undefined, handlers: first.handlers },
              log,
              intervalMs: 10,
              maxAttempts: 3,
              retryBaseMs: 0,
              retryMaxMs: 0,
            }),
          );
          const re = await reopened.get(`report:${job.jobId}`);
          assert.equal(re?.status, "succeeded", re?.lastFailure);
          assert.equal(re.recoveries, 1);
        } finally {
          await reopened.close();
        }
        assert.equal(await nonce(life.reporter), nonceA + 1, "no second transaction");
        assert.equal((await reportsOf(job.jobId)).length, 1);
        assert.deepEqual(await first.desired(), [], "done: the job left the open set");
        assert.deepEqual(first.openJobs(), []);
      } finally {
        await queue.close();
        await queueB.close();
      }
    },
  );

  it("two reporters race: the loser's send reverts and its action succeeds; a non-recipient fails NOT_A_RECIPIENT", async () => {
    const { env } = life;
    const job = await prepareJob(life, store, N, {
      fromPackage: true,
      extraRecipients: [await recipient(life.reporter), await recipient(second)],
    });
    await life.attest(job.jobId, job.derived.result, job.cid);
    assert.equal(await env.read("JobMarket", "status", [job.jobId]), JobStatus.Attested);
    const qA = await ActionQueue.open(path.join(tmp, "race-a"));
    const qB = await ActionQueue.open(path.join(tmp, "race-b"));
    const qC = await ActionQueue.open(path.join(tmp, "race-c"));
    try {
      // the late reporter (staked, but the transcript is not sealed to it): a clear permanent failure, nothing sent
      const nonceC = await nonce(late);
      await tick(loopOf(qC, reporterOf(late, job.drawn.members)));
      const c = await qC.get(`report:${job.jobId}`);
      assert.equal(c?.status, "failed");
      assert.match(c.lastFailure ?? "", /NOT_A_RECIPIENT/);
      assert.equal(c.attempts, 1, "permanent: not retried");
      assert.equal(await nonce(late), nonceC);

      // B has checked the chain and derived the report; right before it sends, A reports
      const loopA = loopOf(qA, reporterOf(life.reporter, job.drawn.members));
      const nonceB = await nonce(second);
      const loopB = loopOf(
        qB,
        reporterOf(second, job.drawn.members, async () => {
          await tick(loopA);
        }),
      );
      await tick(loopB);
      const a = await qA.get(`report:${job.jobId}`);
      const b = await qB.get(`report:${job.jobId}`);
      assert.equal(a?.status, "succeeded", a?.lastFailure);
      assert.equal(b?.status, "succeeded", b?.lastFailure);
      assert.equal(b.attempts, 1);
      assert.equal(
        await nonce(second),
        nonceB,
        "the loser's report reverted in simulation: nothing sent",
      );
      const reports = await reportsOf(job.jobId);
      assert.equal(reports.length, 1);
      assert.equal(getAddress(reports[0]!.reporter), who(life.reporter));
      // settled, or failed on quality (this job's noisy error may miss the bound): either way reported, and a
      // Failed job with its ReportPosted is a reported one for the loser too
      assert.equal(reports[0]!.success, job.derived.result.qualityMet);
      assert.equal(
        await env.read("JobMarket", "status", [job.jobId]),
        job.derived.result.qualityMet ? JobStatus.Settled : JobStatus.Failed,
      );
    } finally {
      await qA.close();
      await qB.close();
      await qC.close();
    }
  });
});
