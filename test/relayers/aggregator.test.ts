/**
 * The aggregator role on the real contracts (EDR), Helia and SecAgg over HTTP. A job is scheduled and assigned to
 * the aggregator; its loop (reconcile → durable queue → handlers) opens the job's session on the SecAgg HTTP server
 * its NodeStaking endpoint names; the drawn devices (SecAggClients with their registered session keys, one offline)
 * run the session over HTTP; the aggregator seals the transcript to the drawn attestors and the active reporter,
 * persists the result, commits once, and — after a restart of the Aggregator object on the same data directory —
 * reveals once the attestors committed. Each attestor derives the same resultHash from the transcript on its own
 * (`attestJob`, with the reporter as an extra recipient); the reporter opens it too. A job not assigned to an
 * operator is ignored by it; a malformed cohort list fails the serve permanently with the reason; a restart in the
 * middle of a session continues it from its journal.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { getAddress, type Address, type Hex } from "viem";
import { deriveOperatorKey, walletSigner } from "#sdk/crypto/operator-key.ts";
import { HeliaStore } from "#sdk/ipfs/index.ts";
import { commitVote, revealVote, type Vote } from "#sdk/protocol/attestor-vote.ts";
import { buildPayoutTree } from "#sdk/chain/payouts.ts";
import {
  aggregateHashOf,
  encodeVector,
  openSealedTranscript,
  SecAggHttpServer,
} from "#sdk/secagg/index.ts";
import { ActionQueue } from "../../relayers/common/action-queue.ts";
import { testLoop } from "./helpers.ts";
import { RelayerLoop } from "../../relayers/common/loop.ts";
import { createLogger } from "../../relayers/common/telemetry.ts";
import {
  Aggregator,
  jobRecordSchema,
  type AggregatorEvent,
} from "../../relayers/aggregator/Aggregator.ts";
import { JobLifecycle, who } from "../../bench/fixture/job-run.ts";
import { abi, JobStatus, Role } from "../../bench/fixture/protocol.ts";
import {
  assignJob,
  deviceSession,
  deviceVector,
  lifecycleWithPackage,
  MODEL,
  publishEndpoint,
  runDevices,
} from "./fixtures/aggregator/setup.ts";

const N = 8;
const ROUND_MS = 1_500;

describe("aggregator relayer on the real contracts", () => {
  let life: JobLifecycle;
  let store: HeliaStore;
  let tmp: string;
  let secagg: SecAggHttpServer;
  let port: number;
  const log = createLogger("aggregator", "silent");
  const events: AggregatorEvent[] = [];

  before(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), "dml-relayer-aggregator-"));
    store = await HeliaStore.open({ dir: path.join(tmp, "helia") });
    life = await lifecycleWithPackage(store);
    secagg = new SecAggHttpServer();
    const url = await secagg.listen();
    port = Number(new URL(url).port);
    await publishEndpoint(life, url);
  });
  after(async () => {
    await secagg.close();
    await store.close();
    await rm(tmp, { recursive: true, force: true });
  });

  const contracts = () => ({
    JobMarket: life.env.addr("JobMarket"),
    ResultAttestation: life.env.addr("ResultAttestation"),
    NodeStaking: life.env.addr("NodeStaking"),
    DeviceRegistry: life.env.addr("DeviceRegistry"),
    AlgorithmMarketplace: life.env.addr("AlgorithmMarketplace"),
  });
  const aggregatorOn = (dataDir: string, server: SecAggHttpServer, wallet = life.aggregator) =>
    new Aggregator({
      publicClient: life.env.pub,
      wallet,
      contracts: contracts(),
      chainId: life.env.pub.chain!.id,
      store,
      secagg: server,
      stateDir: path.join(dataDir, "aggregator"),
      roundTimeoutMs: ROUND_MS,
      fetchTimeoutMs: 5_000,
      onEvent: (e) => events.push(e),
    });
  const loopOf = (queue: ActionQueue, role: Aggregator) => testLoop(queue, role, log);
  const tick = (loop: RelayerLoop) => loop.tick(new AbortController().signal);
  const aggEvents = async (eventName: string, jobId: bigint) =>
    (
      await life.env.pub.getContractEvents({
        address: life.env.addr("ResultAttestation"),
        abi: abi("ResultAttestation"),
        eventName,
        args: { jobId },
        fromBlock: 0n,
      })
    ).map(
      (e) =>
        e as unknown as {
          args: { transcriptCid?: string; aggregateHash?: Hex; commitment?: Hex };
        },
    );

  it("serves the session, commits once, survives a restart, reveals once; the attestors agree", async () => {
    const { env } = life;
    const dataDir = path.join(tmp, "agg");
    const job = await assignJob(life, store, N);
    const { jobId } = job;

    let queue = await ActionQueue.open(dataDir);
    let role = aggregatorOn(dataDir, secagg);
    let loop = loopOf(queue, role);
    try {
      // tick 1: the job is found and its session opened on the SecAgg server (the NodeStaking endpoint)
      assert.deepEqual(await role.desired(), [{ jobId, phase: "serve" }]);
      await tick(loop);
      const serve = await queue.get(`serve:${jobId}:${role.bootId}`);
      assert.equal(serve?.status, "succeeded", serve?.lastFailure);
      assert.equal(role.sessionState(jobId), "running");
      assert.deepEqual(await role.desired(), [], "session running: nothing to do yet");

      // the devices run the session over HTTP; client N stays offline (dropped by the round deadline)
      // watch the session's round on the SecAgg server: round 3 starts when the last masked input is in
      const sOpen = events.find((e) => e.type === "session-opened" && e.jobId === jobId);
      assert.ok(sOpen !== undefined && sOpen.type === "session-opened");
      assert.equal(sOpen.devices, N);
      let maskedInAt: number | undefined;
      let watching = true;
      const watcher = (async () => {
        while (watching && maskedInAt === undefined) {
          const st = (await (
            await fetch(`http://127.0.0.1:${port}/sessions/${sOpen.sessionId}`)
          ).json()) as { round: number };
          if (st.round >= 3) maskedInAt = Date.now();
          await new Promise((r) => setTimeout(r, 5));
        }
      })();
      const runs = await runDevices(life, job, { offline: [N] });
      const clientsDone = Date.now();
      watching = false;
      await watcher;
      assert.ok(maskedInAt !== undefined, "round 3 was seen");
      assert.equal(runs.filter((r) => r.completedRound === 4).length, N - 1);
      const done = events.find((e) => e.type === "session-done" && e.jobId === jobId);
      assert.ok(done !== undefined && done.type === "session-done");
      assert.equal(done.survivors, N - 1);

      // tick 2: the result is sealed, published and persisted, then committed
      await tick(loop);
      const commit = await queue.get(`commit:${jobId}`);
      assert.equal(commit?.status, "succeeded", commit?.lastFailure);
      assert.equal(commit.attempts, 1);
      const sentCommit = events.find((e) => e.type === "sent" && e.phase === "commit");
      assert.ok(sentCommit !== undefined && sentCommit.type === "sent");
      const persisted = events.find((e) => e.type === "result-persisted");
      assert.ok(persisted !== undefined && persisted.type === "result-persisted");
      console.log(
        `aggregator: last masked input → session done ${done.at - maskedInAt} ms (rounds 3-4); session done → commit receipt ${sentCommit.at - done.at} ms (seal+publish+persist ${persisted.ms} ms; clients returned ${clientsDone - done.at} ms after the session closed); commitAggregate gas ${sentCommit.gasUsed}`,
      );
      assert.equal(await env.read("JobMarket", "status", [jobId]), JobStatus.Committed);
      const rec = jobRecordSchema.parse(
        JSON.parse(
          await readFile(path.join(dataDir, "aggregator", "jobs", `${jobId}.json`), "utf8"),
        ),
      );
      const [committed] = await aggEvents("AggregateCommitted", jobId);
      assert.equal(committed?.args.transcriptCid, rec.transcriptCid);
      assert.deepEqual(
        rec.survivors,
        Array.from({ length: N - 1 }, (_, i) => i + 1),
      );
      assert.equal(rec.result.participants, N - 1);

      // recipients: the drawn attestors, then the active reporter (registered key)
      const att = await env.read<{ attestors: readonly Address[] }>(
        "ResultAttestation",
        "attestationOf",
        [jobId],
      );
      const attestors = att.attestors.map((a) => getAddress(a));
      assert.deepEqual(rec.recipients, [...attestors, who(life.reporter)]);
      // the reporter opens the sealed transcript with its own key
      const reporterKey = await deriveOperatorKey(walletSigner(life.reporter));
      const opened = openSealedTranscript(
        await store.getBytes(rec.transcriptCid),
        { address: who(life.reporter), x25519SecretKey: reporterKey.secretKey },
        rec.sessionId,
      );
      assert.ok(opened.length > 0);
      // each drawn attestor derives the aggregator's resultHash from the transcript (extra recipients and all)
      const vote = life.attestorVotes({ jobId, store, cohort: job.drawn.members, model: MODEL });
      for (const a of attestors) assert.equal(await vote(a), rec.resultHash, `attestor ${a}`);

      // a commit handler re-run with a lost queue finds the commitment on chain and sends nothing
      const lost = await ActionQueue.open(path.join(tmp, "lost"));
      await lost.enqueue({
        key: `commit:${jobId}`,
        type: "commit",
        payload: { jobId: `${jobId}` },
      });
      const sentBefore = events.filter((e) => e.type === "sent").length;
      await testLoop(lost, { reconcile: async () => undefined, handlers: role.handlers }, log, {
        maxAttempts: 1,
      }).tick(new AbortController().signal);
      assert.equal((await lost.get(`commit:${jobId}`))?.status, "succeeded");
      assert.equal(events.filter((e) => e.type === "sent").length, sentBefore);
      await lost.close();

      // the attestors' commit window is open and not all committed: no reveal yet
      assert.deepEqual(await role.desired(), []);

      const firstBoot = role.bootId;
      // restart: a new Aggregator (and SecAgg server on the same port) on the same data directory
      await queue.close();
      await secagg.close();
      secagg = new SecAggHttpServer({ port });
      await secagg.listen();
      queue = await ActionQueue.open(dataDir);
      role = aggregatorOn(dataDir, secagg);
      loop = loopOf(queue, role);
      assert.deepEqual(
        await role.desired(),
        [],
        "after the restart: committed, reveal not open yet",
      );
      assert.deepEqual(role.openJobs(), [jobId]);
      assert.equal(
        role.sessionState(jobId),
        undefined,
        "a committed job's session is not re-opened",
      );

      // the attestors commit their derived value: the reveal window opens (all committed)
      const votes: Vote[] = [];
      for (const a of attestors)
        votes.push(
          await commitVote(
            {
              resultAttestation: env.addr("ResultAttestation"),
              wallet: life.attestorWallet(a),
              publicClient: env.pub,
            },
            jobId,
            rec.resultHash,
          ),
        );
      assert.deepEqual(await role.desired(), [{ jobId, phase: "reveal" }]);
      await tick(loop);
      const reveal = await queue.get(`reveal:${jobId}`);
      assert.equal(reveal?.status, "succeeded", reveal?.lastFailure);
      const reveals = await aggEvents("AggregateRevealed", jobId);
      assert.equal(reveals.length, 1);
      assert.equal(
        reveals[0]!.args.aggregateHash,
        rec.resultHash,
        "the restarted aggregator revealed the same value",
      );
      const sentReveal = events.find((e) => e.type === "sent" && e.phase === "reveal");
      assert.ok(sentReveal !== undefined && sentReveal.type === "sent");
      console.log(`aggregator: revealAggregate gas ${sentReveal.gasUsed}`);

      // a reveal handler re-run sends nothing
      const sent = events.filter((e) => e.type === "sent").length;
      const again = await ActionQueue.open(path.join(tmp, "lost-2"));
      await again.enqueue({
        key: `reveal:${jobId}`,
        type: "reveal",
        payload: { jobId: `${jobId}` },
      });
      await testLoop(again, { reconcile: async () => undefined, handlers: role.handlers }, log, {
        maxAttempts: 1,
      }).tick(new AbortController().signal);
      assert.equal((await again.get(`reveal:${jobId}`))?.status, "succeeded");
      assert.equal(events.filter((e) => e.type === "sent").length, sent);
      await again.close();

      // the attestors reveal: unanimous, the job is attested with the aggregator's value
      for (const [i, a] of attestors.entries())
        await revealVote(
          {
            resultAttestation: env.addr("ResultAttestation"),
            wallet: life.attestorWallet(a),
            publicClient: env.pub,
          },
          votes[i]!,
        );
      assert.equal(await env.read("JobMarket", "status", [jobId]), JobStatus.Attested);
      const final = await env.read<{ finalHash: Hex }>("ResultAttestation", "attestationOf", [
        jobId,
      ]);
      assert.equal(final.finalHash, rec.resultHash);

      // done: the job leaves the open set; exactly one commit and one reveal on chain
      assert.deepEqual(await role.desired(), []);
      assert.deepEqual(role.openJobs(), []);
      await tick(loop);
      assert.equal((await aggEvents("AggregateCommitted", jobId)).length, 1);
      assert.equal((await aggEvents("AggregateRevealed", jobId)).length, 1);
      const keys = (await queue.list()).map((a) => `${a.key}=${a.status}`).sort();
      assert.deepEqual(keys, [
        `commit:${jobId}=succeeded`,
        `reveal:${jobId}=succeeded`,
        `serve:${jobId}:${firstBoot}=succeeded`,
      ]);

      // an operator the job does not name ignores it
      const other = aggregatorOn(path.join(tmp, "other"), secagg, life.keeper);
      assert.deepEqual(await other.desired(), []);
      assert.deepEqual(other.openJobs(), []);
    } finally {
      await queue.close();
    }
  });

  it("reveals after the commit deadline and finalises after the reveal deadline when an attestor is silent", async () => {
    const { env } = life;
    const dataDir = path.join(tmp, "agg-final");
    const job = await assignJob(life, store, N);
    const { jobId } = job;
    const queue = await ActionQueue.open(dataDir);
    const role = aggregatorOn(dataDir, secagg);
    const loop = loopOf(queue, role);
    try {
      await tick(loop);
      assert.equal(role.sessionState(jobId), "running");
      await runDevices(life, job, { offline: [N] });
      await tick(loop);
      assert.equal((await queue.get(`commit:${jobId}`))?.status, "succeeded");
      const rec = await role.record(jobId);
      assert.ok(rec);
      const att = await env.read<{
        attestors: readonly Address[];
        commitDeadline: bigint;
        revealDeadline: bigint;
      }>("ResultAttestation", "attestationOf", [jobId]);
      const io = (a: Address) => ({
        resultAttestation: env.addr("ResultAttestation"),
        wallet: life.attestorWallet(getAddress(a)),
        publicClient: env.pub,
      });
      // two attestors commit, the third stays silent: no reveal before the commit deadline
      const votes: Vote[] = [];
      for (const a of att.attestors.slice(0, 2))
        votes.push(await commitVote(io(a), jobId, rec.resultHash));
      assert.deepEqual(await role.desired(), []);
      await env.warpTo(BigInt(att.commitDeadline) + 1n);
      assert.deepEqual(await role.desired(), [{ jobId, phase: "reveal" }]);
      await tick(loop);
      assert.equal((await queue.get(`reveal:${jobId}`))?.status, "succeeded");
      for (const [i, a] of att.attestors.slice(0, 2).entries()) await revealVote(io(a), votes[i]!);
      // not unanimous: still Committed until someone finalises after the reveal deadline
      assert.equal(await env.read("JobMarket", "status", [jobId]), JobStatus.Committed);
      assert.deepEqual(await role.desired(), []);
      await env.warpTo(BigInt(att.revealDeadline) + 1n);
      assert.deepEqual(await role.desired(), [{ jobId, phase: "finalize" }]);
      await tick(loop);
      const fin = await queue.get(`finalize:${jobId}`);
      assert.equal(fin?.status, "succeeded", fin?.lastFailure);
      const sentFinalize = events.find((e) => e.type === "sent" && e.phase === "finalize");
      assert.ok(sentFinalize !== undefined && sentFinalize.type === "sent");
      console.log(`aggregator: finalize gas ${sentFinalize.gasUsed} (one silent attestor slashed)`);
      assert.equal(await env.read("JobMarket", "status", [jobId]), JobStatus.Attested);
      const final = await env.read<{ finalHash: Hex }>("ResultAttestation", "attestationOf", [
        jobId,
      ]);
      assert.equal(final.finalHash, rec.resultHash);
      assert.deepEqual(await role.desired(), []);
      assert.deepEqual(role.openJobs(), []);
    } finally {
      await queue.close();
    }
  });

  it("a restart mid-session continues the session from its journal: the devices carry on, one commit", async () => {
    // before the journal the session lived in memory: the restart re-opened it at round 0, the devices already in it
    // could not rejoin, and the job expired unpaid
    const dataDir = path.join(tmp, "agg-mid");
    const job = await assignJob(life, store, N);
    const { jobId } = job;
    let queue = await ActionQueue.open(dataDir);
    let role = aggregatorOn(dataDir, secagg);
    await tick(loopOf(queue, role));
    const sOpen = events.find((e) => e.type === "session-opened" && e.jobId === jobId);
    assert.ok(sOpen !== undefined && sOpen.type === "session-opened");
    const journal = path.join(dataDir, "aggregator", "sessions", `${jobId}.journal`);
    const runs = runDevices(life, job);
    runs.catch(() => undefined); // observed below
    // wait until every device advertised (round 0 closed), then "crash": the server and the role go away
    for (;;) {
      const st = (await (
        await fetch(`http://127.0.0.1:${port}/sessions/${sOpen.sessionId}`)
      ).json()) as { round: number };
      if (st.round >= 1) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    await queue.close();
    await secagg.close();
    assert.ok((await readFile(journal, "utf8")).includes('"k":"a","round":0'), "round 0 journaled");
    secagg = new SecAggHttpServer({ port });
    await secagg.listen();
    queue = await ActionQueue.open(dataDir);
    role = aggregatorOn(dataDir, secagg);
    await tick(loopOf(queue, role));
    assert.equal(role.sessionState(jobId), "running", "the restart re-opened the session");
    const done = await runs;
    assert.deepEqual(
      done.map((r) => r.completedRound),
      Array.from({ length: N }, () => 4),
      "every device finished the one session",
    );
    for (let i = 0; i < 20 && (await queue.get(`commit:${jobId}`))?.status !== "succeeded"; i++)
      await tick(loopOf(queue, role));
    assert.equal((await queue.get(`commit:${jobId}`))?.status, "succeeded");
    assert.equal(await life.env.read("JobMarket", "status", [jobId]), JobStatus.Committed);
    const rec = jobRecordSchema.parse(
      JSON.parse(await readFile(path.join(dataDir, "aggregator", "jobs", `${jobId}.json`), "utf8")),
    );
    assert.equal(rec.result.participants, N);
    // the attestors derive the same value from the transcript of the resumed session
    const att = await life.env.read<{ attestors: readonly Address[] }>(
      "ResultAttestation",
      "attestationOf",
      [jobId],
    );
    const vote = life.attestorVotes({ jobId, store, cohort: job.drawn.members, model: MODEL });
    assert.equal(await vote(getAddress(att.attestors[0]!)), rec.resultHash);
    await assert.rejects(readFile(journal), "the persisted result superseded the journal");
    await queue.close();
  });

  it("a malformed cohort list fails the serve permanently with the reason; nothing is committed", async () => {
    const dataDir = path.join(tmp, "agg-bad");
    const job = await assignJob(
      life,
      store,
      N,
      new TextEncoder().encode('{"version":2,"jobId":"x"}'),
    );
    const queue = await ActionQueue.open(dataDir);
    const role = aggregatorOn(dataDir, secagg);
    try {
      await tick(loopOf(queue, role));
      const serve = await queue.get(`serve:${job.jobId}:${role.bootId}`);
      assert.equal(serve?.status, "failed");
      assert.equal(serve.attempts, 1, "permanent: not retried");
      assert.match(serve.lastFailure ?? "", /COHORT_INVALID: job \d+'s cohort list \S+: /);
      assert.equal(role.sessionState(job.jobId), undefined);
      // later ticks in this process do not ask again, and nothing was committed
      await tick(loopOf(queue, role));
      assert.deepEqual(
        (await queue.list()).filter((a) => a.key.includes(`:${job.jobId}`)).map((a) => a.key),
        [`serve:${job.jobId}:${role.bootId}`],
      );
      assert.equal(await life.env.read("JobMarket", "status", [job.jobId]), JobStatus.Assigned);
    } finally {
      await queue.close();
    }
  });
  it("30% of the cohort drops out after setting up its masks: the aggregate is exactly the survivors' sum, only survivors are paid", async () => {
    const n = 10;
    const dataDir = path.join(tmp, "agg-dropout");
    // the earlier jobs of this file still lock the aggregator's stake
    await life.env.stakeNode(life.aggregator, Role.Aggregator, 10_000n * 10n ** 18n);
    // minParticipants 7 = the full-mode threshold ⌊2n/3⌋ + 1
    const job = await assignJob(life, store, n, undefined, 7);
    const { jobId } = job;
    const queue = await ActionQueue.open(dataDir);
    const role = aggregatorOn(dataDir, secagg);
    const loop = loopOf(queue, role);
    await tick(loop);
    // devices 2, 5 and 9 shared their mask keys, then went silent before their masked inputs: their pairwise masks
    // are in the others' masked inputs and are removed with the key shares the survivors reveal
    const stopBefore = new Map<number, 2>([
      [2, 2],
      [5, 2],
      [9, 2],
    ]);
    const runs = await runDevices(life, job, { stopBefore });
    assert.deepEqual(
      runs.map((r) => r.completedRound),
      [4, 1, 4, 4, 1, 4, 4, 4, 1, 4],
    );
    for (let i = 0; i < 20 && (await queue.get(`commit:${jobId}`))?.status !== "succeeded"; i++)
      await tick(loop);
    assert.equal((await queue.get(`commit:${jobId}`))?.status, "succeeded");
    const rec = jobRecordSchema.parse(
      JSON.parse(await readFile(path.join(dataDir, "aggregator", "jobs", `${jobId}.json`), "utf8")),
    );
    const survivors = [1, 3, 4, 6, 7, 8, 10];
    assert.deepEqual(rec.survivors, survivors);
    // the exact aggregate: the survivors' plaintext vectors, encoded and summed here, hash to the committed value
    const session = await deviceSession(life, job);
    const sum = new Uint32Array(session.vectorLength);
    for (const id of survivors) {
      const e = encodeVector(deviceVector(id), session.encoding);
      for (let i = 0; i < sum.length; i++) sum[i] = (sum[i]! + e[i]!) >>> 0;
    }
    assert.equal(
      rec.result.aggregateHash,
      aggregateHashOf({ sessionId: session.sessionId, survivors, sum }),
    );
    // paid: exactly the survivors' devices, each the job's reward once
    const { rewardPerDevice } = await life.env.read<{ rewardPerDevice: bigint }>(
      "JobMarket",
      "getJob",
      [jobId],
    );
    const tree = buildPayoutTree(
      survivors.map((id) => ({
        account: getAddress(job.drawn.members[id - 1]!.device),
        value: rewardPerDevice,
      })),
    );
    assert.equal(rec.result.participants, survivors.length);
    assert.equal(rec.result.payoutRoot, tree.root);
    assert.equal(BigInt(rec.result.payoutTotal), rewardPerDevice * BigInt(survivors.length));
    await queue.close();
  });
});
