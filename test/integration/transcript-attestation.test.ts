/**
 * Attestation of a job's transcript on the real contracts (PROTOCOL.md §7.4): a real SecAgg session runs in-process
 * with the cohort devices' own keys (the devices drawn on-chain), the aggregator seals its transcript v2 (every signed
 * message) to the drawn attestors' registered X25519 keys, publishes it on Helia and commits the job's `resultHash`;
 * every drawn attestor runs `attestJob` (sdk/protocol/attestor.ts) with its wallet-derived key — open, decode, replay
 * through a fresh SecAgg server, derive — commits and reveals what it derived; the quorum finalises. An honest
 * transcript gives the unanimous value; a committed result the transcript does not yield, a transcript nobody can
 * fetch, or a tampered one (a changed masked input, a dropped signature, a survivor added or removed) leads the
 * attestors to INVALID or another value and slashes the aggregator. A staked node that was not drawn cannot open the
 * transcript. One deployment serves every case (each its own job).
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it, type TestContext } from "node:test";
import { getAddress, type Address, type Hex } from "viem";
import { INVALID, resultHash, type JobResult } from "#sdk/chain/result.ts";
import { HeliaStore, KuboStore } from "#sdk/ipfs/index.ts";
import type { Prediction } from "#sdk/ml/index.ts";
import { deriveOperatorKey, walletSigner } from "#sdk/crypto/operator-key.ts";
import { AttestorError, type AttestOutcome } from "#sdk/protocol/attestor.ts";
import { chainAttestorReads } from "#sdk/protocol/attestor-chain.ts";
import { commitAndReveal } from "#sdk/protocol/attestor-vote.ts";
import type { ChainPublicClient, ChainWalletClient } from "#sdk/chain/clients.ts";
import { deriveJobResult, type JobAggregate, type JobModel } from "#sdk/protocol/job-result.ts";
import { recoverAggregate } from "#sdk/protocol/transcript-check.ts";
import { attestorRecipients, publishSealedTranscript } from "#sdk/protocol/transcript-publish.ts";
import {
  decodeTranscriptV2,
  encodeTranscriptV2,
  openSealedTranscript,
  SealedError,
  SecAggClient,
  simulateSession,
  transcriptV2Of,
  type SecAggSessionConfig,
  type SessionTranscript,
} from "#sdk/secagg/index.ts";
import { drawnCohortList, encodeCohortList } from "#sdk/protocol/cohort.ts";
import { reduceToResultVector } from "#sdk/protocol/result-vector.ts";
import { jobSessionConfig } from "#sdk/protocol/session.ts";
import { rng } from "../secagg/helpers.ts";
import { JOB, JobLifecycle, who } from "../../bench/fixture/job-run.ts";
import {
  abi,
  aggregateCommitment,
  JobStatus,
  label,
  localAccount,
  Role,
  type DrawnCohort,
} from "../../bench/fixture/protocol.ts";
import type { PrivateKeyAccount } from "viem/accounts";
import type { DeviceAccount, SessionSigner } from "#sdk/crypto/session-key.ts";

const N = 10; // cohort size; client N never comes online
const MODEL: JobModel = { classes: 2, qualityClass: 1 };

/** A device's result vector: `records` synthetic predictions whose spam probability is drawn per device. */
function deviceVector(id: number, records = 25): Float64Array {
  const r = rng(1_000 + id);
  const preds: Prediction[] = Array.from({ length: records }, () => {
    const p = r();
    return { probabilities: Float32Array.from([1 - p, p]), label: p >= 0.5 ? 1 : 0 };
  });
  return reduceToResultVector(preds, MODEL.classes);
}

interface SessionJob {
  jobId: bigint;
  drawn: DrawnCohort;
  session: SecAggSessionConfig;
  /** The session's transcript v2 as the aggregator's server recorded it. */
  transcript: SessionTranscript;
  /** The aggregate the session computed (survivors increasing). */
  aggregate: JobAggregate;
}

/** The pool's devices are `deviceAccount`s (`localAccount`): their SecAgg session signer. */
function deviceSigner(d: PrivateKeyAccount): SessionSigner {
  const signer = (d as Partial<DeviceAccount>).session;
  assert.ok(signer, `${d.address} has no session signer`);
  return signer;
}

/** A deep copy of a transcript (through its encoding), to tamper with. */
const copyOf = (t: SessionTranscript): SessionTranscript =>
  decodeTranscriptV2(encodeTranscriptV2(t));

describe("attestors derive the job's result from its transcript on the real contracts", () => {
  let life: JobLifecycle;
  let store: HeliaStore;
  let tmp: string;

  before(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), "dml-transcript-attest-"));
    store = await HeliaStore.open({ dir: path.join(tmp, "helia") });
    life = await JobLifecycle.create();
  });

  after(async () => {
    await store.close();
    await rm(tmp, { recursive: true, force: true });
  });

  /** Schedules and assigns a job of N drawn devices, then runs its SecAgg session in-process with their keys. */
  async function sessionJob(): Promise<SessionJob> {
    const jobId = await life.schedule(life.spec(N, { devices: N, participants: N - 2 }));
    const drawn = await life.drawCohortOf(jobId, N);
    const list = drawnCohortList(jobId, drawn.connectedEpoch, drawn.members);
    await life.assign(
      jobId,
      drawn.tree.root,
      N,
      await store.addBytes(encodeCohortList(list)),
      drawn.connectedEpoch,
    );
    // the aggregator reads the roster's session keys and the graph seed from the chain, as devices and attestors do
    const session = jobSessionConfig({
      chainId: life.env.pub.chain!.id,
      jobMarket: life.env.addr("JobMarket"),
      jobId,
      cohort: list,
      sessionKeys: await reads().sessionKeysOf(
        jobId,
        drawn.members.map((m) => m.device),
      ),
      graph: { cohortRoot: drawn.tree.root, jobSeed: await reads().jobSeed(jobId) },
      classes: MODEL.classes,
    });
    const report = await simulateSession({
      config: session,
      accounts: new Map(drawn.devices.map((d, i) => [i + 1, deviceSigner(d)])),
      inputs: (id) => deviceVector(id),
      drops: new Map([[N, 0]]),
      recordTranscript: true,
    });
    const survivors = [...report.result.survivors].sort((a, b) => a - b);
    assert.deepEqual(
      survivors,
      Array.from({ length: N - 1 }, (_, i) => i + 1),
    );
    return {
      jobId,
      drawn,
      session,
      transcript: transcriptV2Of(report.server),
      aggregate: { sessionId: session.sessionId, survivors, sum: report.result.sum },
    };
  }

  const reads = () =>
    chainAttestorReads(life.env.pub, {
      JobMarket: life.env.addr("JobMarket"),
      ResultAttestation: life.env.addr("ResultAttestation"),
      NodeStaking: life.env.addr("NodeStaking"),
      DeviceRegistry: life.env.addr("DeviceRegistry"),
    });

  /** The aggregator seals `transcript` to the job's drawn attestors and publishes it; returns the CID. */
  async function publish(job: SessionJob, transcript = job.transcript): Promise<string> {
    return publishSealedTranscript(store, transcript, await attestorRecipients(reads(), job.jobId));
  }

  /** The result the aggregator derives from `aggregate` (sdk/protocol/job-result.ts). */
  async function derive(job: SessionJob, aggregate: JobAggregate): Promise<JobResult> {
    return deriveJobResult(aggregate, {
      members: job.drawn.members.map((m) => m.device),
      encoding: job.session.encoding,
      model: MODEL,
      rule: await life.env.read("JobMarket", "getJob", [job.jobId]),
    }).result;
  }

  /** The aggregator commits `committed` with `cid`; the drawn attestors run attestJob, commit and reveal. */
  async function attest(job: SessionJob, committed: JobResult, cid: string) {
    const outcomes = new Map<Address, AttestOutcome>();
    const vote = life.attestorVotes({
      jobId: job.jobId,
      store,
      cohort: job.drawn.members,
      model: MODEL,
      fetchTimeoutMs: 5_000,
      outcomes,
    });
    const attestors = await life.attest(job.jobId, committed, cid, { vote });
    return { attestors, outcomes: attestors.map((a) => outcomes.get(a)!) };
  }

  const aggregatorStake = () =>
    life.env.read<bigint>("NodeStaking", "stakeOf", [who(life.aggregator), Role.Aggregator]);

  /** The job failed, the aggregator lost `JOB.SLASH` (NodeSlashed) and no attestor was slashed. */
  async function assertAggregatorSlashed(jobId: bigint, stakeBefore: bigint, finalHash: Hex) {
    const { env } = life;
    assert.equal(await env.read("JobMarket", "status", [jobId]), JobStatus.Failed);
    assert.equal(await aggregatorStake(), stakeBefore - JOB.SLASH, "the aggregator is slashed");
    const att = await env.read<{ finalHash: Hex }>("ResultAttestation", "attestationOf", [jobId]);
    assert.equal(att.finalHash, finalHash, "the majority's value");
    const slashed = await env.pub.getContractEvents({
      address: env.addr("ResultAttestation"),
      abi: abi("ResultAttestation"),
      eventName: "NodeSlashed",
      args: { jobId },
      fromBlock: 0n,
    });
    assert.deepEqual(
      slashed.map((e) => {
        const a = (e as unknown as { args: { node: Address; amount: bigint } }).args;
        return [getAddress(a.node), a.amount];
      }),
      [[who(life.aggregator), JOB.SLASH]],
      "only the aggregator is slashed",
    );
    assert.equal(await env.read("JobMarket", "escrowOf", [jobId]), 0n, "the job is refunded");
    // the aggregator tops its stake up again so that the next case's job can name it
    await env.stakeNode(life.aggregator, Role.Aggregator, JOB.SLASH);
  }

  it("an honest transcript: every attestor derives the aggregator's value; unanimous, the job is attested", async () => {
    const job = await sessionJob();
    const cid = await publish(job);
    const committed = await derive(job, job.aggregate);
    assert.equal(committed.qualityMet, true);
    assert.equal(committed.participants, N - 1);
    const stake = await aggregatorStake();
    const { env, aggregator } = life;
    const value = resultHash(committed);
    const aggSalt = label(`agg-salt-${job.jobId}`);
    await env.send(aggregator, "ResultAttestation", "commitAggregate", [
      job.jobId,
      aggregateCommitment(value, aggSalt),
      cid,
    ]);
    // every drawn attestor, concurrently: attestJob, then the sdk's commitAndReveal (the reveal opens once all
    // committed)
    const { attestors } = await reads().attestation(job.jobId);
    const found = new Map<Address, AttestOutcome>();
    const vote = life.attestorVotes({
      jobId: job.jobId,
      store,
      cohort: job.drawn.members,
      model: MODEL,
      outcomes: found,
    });
    let pending = attestors.length;
    let release = () => {};
    const allCommitted = new Promise<void>((ok) => (release = ok));
    const votes = await Promise.all(
      attestors.map(async (a) =>
        commitAndReveal(
          {
            resultAttestation: env.addr("ResultAttestation"),
            wallet: life.attestorWallet(a) as unknown as ChainWalletClient,
            publicClient: env.pub as unknown as ChainPublicClient,
          },
          job.jobId,
          await vote(a),
          async () => {
            if (--pending === 0) release();
            await allCommitted;
          },
        ),
      ),
    );
    assert.deepEqual(
      votes.map((v) => v.value),
      attestors.map(() => value),
    );
    const outcomes = attestors.map((a) => found.get(a)!);
    assert.deepEqual(
      outcomes.map((o) => [o.reason, o.value]),
      outcomes.map(() => ["OK", value]),
    );
    // the aggregator's reveal completes the unanimous set: attested in that transaction
    await env.send(aggregator, "ResultAttestation", "revealAggregate", [job.jobId, value, aggSalt]);
    assert.equal(await life.env.read("JobMarket", "status", [job.jobId]), JobStatus.Attested);
    assert.equal(
      await life.env.read("ResultAttestation", "resultOf", [job.jobId]),
      resultHash(committed),
    );
    assert.equal(await aggregatorStake(), stake, "the aggregator keeps its stake");

    // the same sealed transcript through a store whose read limit it exceeds: TRANSCRIPT_TOO_LARGE, INVALID
    const small = await HeliaStore.open({
      dir: path.join(tmp, "helia-small"),
      maxReadBytes: 4_096,
    });
    try {
      assert.equal(await small.addBytes(await store.getBytes(cid)), cid, "content-addressed");
      const limited = new Map<Address, AttestOutcome>();
      await life.attestorVotes({
        jobId: job.jobId,
        store: small,
        cohort: job.drawn.members,
        model: MODEL,
        outcomes: limited,
      })(attestors[0]!);
      const o = limited.get(attestors[0]!)!;
      assert.deepEqual([o.reason, o.value], ["TRANSCRIPT_TOO_LARGE", INVALID]);
    } finally {
      await small.close();
    }
  });

  it("a wrong sum: the aggregator commits a result whose sum the transcript does not hold; it is slashed", async () => {
    const job = await sessionJob();
    const cid = await publish(job);
    const sum = Array.from(job.aggregate.sum);
    sum[1] = (sum[1]! + 1_000) >>> 0;
    const committed = await derive(job, { ...job.aggregate, sum });
    const honest = resultHash(await derive(job, job.aggregate));
    assert.notEqual(resultHash(committed), honest);
    const stake = await aggregatorStake();
    const { outcomes } = await attest(job, committed, cid);
    assert.deepEqual(
      outcomes.map((o) => o.value),
      outcomes.map(() => honest),
      "every attestor derives the transcript's value",
    );
    await assertAggregatorSlashed(job.jobId, stake, honest);
  });

  it("an unfetchable transcript CID: every attestor attests INVALID; the aggregator is slashed", async () => {
    const job = await sessionJob();
    const committed = await derive(job, job.aggregate);
    const stake = await aggregatorStake();
    // a well-formed CID whose content the aggregator never published
    const { attestors, outcomes } = await attest(job, committed, JOB.TRANSCRIPT);
    assert.deepEqual(
      outcomes.map((o) => [o.reason, o.value]),
      outcomes.map(() => ["TRANSCRIPT_UNFETCHABLE", INVALID]),
    );
    await assertAggregatorSlashed(job.jobId, stake, INVALID);

    // an IPFS node that accepts the request and never answers: the attestor's fetch timeout gives INVALID in time
    const silent = createServer(() => undefined);
    await new Promise<void>((ok) => silent.listen(0, "127.0.0.1", ok));
    const kubo = await KuboStore.open({
      url: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`,
      cacheDir: path.join(tmp, "kubo-cache"),
      timeoutMs: 60_000,
    });
    try {
      const late = new Map<Address, AttestOutcome>();
      const t0 = Date.now();
      await life.attestorVotes({
        jobId: job.jobId,
        store: kubo,
        cohort: job.drawn.members,
        model: MODEL,
        fetchTimeoutMs: 300,
        outcomes: late,
      })(attestors[0]!);
      assert.ok(Date.now() - t0 < 10_000, "the timeout, not the store's 60 s, ended the wait");
      const o = late.get(attestors[0]!)!;
      assert.deepEqual([o.reason, o.value], ["TRANSCRIPT_UNFETCHABLE", INVALID]);
      assert.match(o.detail, /within 300 ms/);
    } finally {
      await kubo.close();
      silent.closeAllConnections();
      await new Promise((ok) => silent.close(ok));
    }
  });

  /**
   * The aggregator commits the session's honest result but publishes `tamper(transcript)`: every attestor reaches
   * INVALID or another value than the committed one, and the aggregator is slashed.
   */
  async function tampered(
    ctx: TestContext,
    tamper: (
      t: SessionTranscript,
      job: SessionJob,
    ) => SessionTranscript | Promise<SessionTranscript>,
    expectReasons: readonly string[],
  ): Promise<AttestOutcome[]> {
    const job = await sessionJob();
    const cid = await publish(job, await tamper(copyOf(job.transcript), job));
    const committed = resultHash(await derive(job, job.aggregate));
    const stake = await aggregatorStake();
    const { outcomes } = await attest(job, await derive(job, job.aggregate), cid);
    for (const o of outcomes) {
      assert.notEqual(o.value, committed, `${o.reason}: ${o.detail}`);
      assert.ok(expectReasons.includes(o.reason), `${o.reason}: ${o.detail}`);
    }
    const finalHash = outcomes[0]!.value;
    assert.ok(
      outcomes.every((o) => o.value === finalHash),
      "the attestors agree",
    );
    await assertAggregatorSlashed(job.jobId, stake, finalHash);
    ctx.diagnostic(`attestors: ${outcomes[0]!.reason} (${outcomes[0]!.detail.slice(0, 160)})`);
    return outcomes;
  }

  const roundOf = (t: SessionTranscript, i: number) => t.records[i]!.message.body.round;

  it("a changed masked input: its signature no longer verifies; INVALID, the aggregator is slashed", async (ctx) => {
    const outcomes = await tampered(
      ctx,
      (t) => {
        const r = t.records.find((x) => x.message.body.round === 2)!;
        const body = r.message.body as { masked: Uint32Array };
        body.masked[0] = (body.masked[0]! + 1) >>> 0;
        return t;
      },
      ["INCONSISTENT"],
    );
    assert.ok(outcomes.every((o) => o.value === INVALID));
  });

  it("a dropped signature: a consistency signature removed; INVALID or another value, the aggregator is slashed", async (ctx) => {
    await tampered(
      ctx,
      (t) => {
        const i = t.records.findIndex((_, j) => roundOf(t, j) === 3);
        t.records.splice(i, 1);
        return t;
      },
      ["INCONSISTENT", "OK"],
    );
  });

  it("a survivor added: the offline device's advertisement forged with another key; INVALID, the aggregator is slashed", async (ctx) => {
    const outcomes = await tampered(
      ctx,
      async (t, job) => {
        // the aggregator (or a Sybil) signs a round-0 message as client N, which never came online
        const forger = localAccount("forger");
        const forged = await new SecAggClient({
          config: {
            ...job.session,
            roster: job.session.roster.map((r) =>
              r.id === N
                ? { id: N, address: forger.address, sessionKey: forger.session.sessionKey }
                : r,
            ),
          },
          id: N,
          account: forger.session,
        }).advertise();
        const i = t.records.findIndex((r) => r.message.body.round === 1);
        t.records.splice(i, 0, { fault: false, message: forged });
        return t;
      },
      ["INCONSISTENT"],
    );
    assert.ok(outcomes.every((o) => o.value === INVALID));
  });

  it("a survivor removed: every message of survivor 1 deleted; INVALID or another value, the aggregator is slashed", async (ctx) => {
    await tampered(
      ctx,
      (t) => {
        t.records = t.records.filter((r) => r.message.body.sender !== 1);
        return t;
      },
      ["INCONSISTENT", "OK"],
    );
  });

  it("a staked attestor that was not drawn cannot open the transcript", async () => {
    const job = await sessionJob();
    const cid = await publish(job);
    const att = await reads().attestation(job.jobId);
    const outsider = life.attestorWallets.find((w) => !att.attestors.includes(who(w)));
    assert.ok(outsider, "five staked attestors, three drawn");
    const key = await deriveOperatorKey(walletSigner(outsider));
    assert.equal(
      key.publicKey,
      await life.env.read("NodeStaking", "encryptionKey", [who(outsider)]),
      "its registered key",
    );
    const sealed = await store.getBytes(cid);
    const me = { address: who(outsider), x25519SecretKey: key.secretKey };
    const recovered = await recoverAggregate(sealed, { session: job.session, me });
    assert.equal(recovered.ok ? "OK" : recovered.reason, "NOT_A_RECIPIENT");
    // posing as a drawn attestor with its own key does not help: the wrapped content key does not open
    assert.throws(
      () =>
        openSealedTranscript(
          sealed,
          { address: att.attestors[0]!, x25519SecretKey: key.secretKey },
          job.session.sessionId,
        ),
      (e) => e instanceof SealedError && e.code === "UNDECRYPTABLE",
    );
    // and attestJob refuses to attest for a node that was not drawn (after the aggregator committed)
    const committed = await derive(job, job.aggregate);
    const outcomes = new Map<Address, AttestOutcome>();
    await life.attest(job.jobId, committed, cid, {
      vote: life.attestorVotes({
        jobId: job.jobId,
        store,
        cohort: job.drawn.members,
        model: MODEL,
        outcomes,
      }),
    });
    assert.deepEqual(
      [...outcomes.values()].map((o) => o.reason),
      att.attestors.map(() => "OK"),
    );
    const vote = life.attestorVotes({
      jobId: job.jobId,
      store,
      cohort: job.drawn.members,
      model: MODEL,
    });
    await assert.rejects(
      vote(who(outsider)),
      (e) => e instanceof AttestorError && e.code === "NOT_DRAWN",
    );
  });
  // Framing attempt: a survivor clears its registered session key (deregister) after the session, so that the
  // transcript's signatures would no longer verify against the current registry and the attestors would vote
  // INVALID against an honest aggregator. Attestors read the keys as of the cohort assignment, so it fails.
  it("a survivor deregisters after the session: attestors verify against the keys at assignment; the honest aggregator keeps its stake", async () => {
    const job = await sessionJob();
    const cid = await publish(job);
    const committed = await derive(job, job.aggregate);
    const survivor = job.drawn.devices[0]!;
    await life.env.send(await life.env.localWallet(survivor), "DeviceRegistry", "deregister", []);
    const zero = `0x${"00".repeat(32)}`;
    assert.equal(
      await life.env.read("DeviceRegistry", "sessionKeyOf", [survivor.address]),
      zero,
      "the survivor's key is cleared now",
    );
    const stake = await aggregatorStake();
    const { outcomes } = await attest(job, committed, cid);
    assert.deepEqual(
      outcomes.map((o) => [o.reason, o.value]),
      outcomes.map(() => ["OK", resultHash(committed)]),
    );
    assert.equal(await life.env.read("JobMarket", "status", [job.jobId]), JobStatus.Attested);
    assert.equal(await aggregatorStake(), stake, "the aggregator keeps its stake");
  });
});
