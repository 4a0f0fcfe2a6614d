/**
 * Attestation of a job's transcript on the real contracts (PROTOCOL.md §7.4): a real SecAgg session runs in-process
 * with the cohort devices' own keys (the devices drawn on-chain), the aggregator publishes the transcript on Helia and
 * commits the job's `resultHash`; every drawn attestor runs `attestJob` (sdk/protocol/attestor.ts) with its
 * wallet-derived X25519 key, commits and reveals what it derived; the quorum finalises. An honest transcript gives the
 * unanimous value; a committed result the transcript does not yield, or a transcript nobody can fetch, slashes the
 * aggregator and refunds the job. One deployment serves every case (each its own job).
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { getAddress, type Address, type Hex } from "viem";
import { INVALID, resultHash, type JobResult } from "#sdk/chain/result.ts";
import { HeliaStore } from "#sdk/ipfs/index.ts";
import type { Prediction } from "#sdk/ml/index.ts";
import type { AttestOutcome } from "#sdk/protocol/attestor.ts";
import { deriveJobResult, type JobAggregate, type JobModel } from "#sdk/protocol/job-result.ts";
import {
  encodeTranscript,
  simulateSession,
  transcriptOf,
  type AggregationTranscript,
  type SecAggSessionConfig,
} from "#sdk/secagg/index.ts";
import { drawnCohortList, encodeCohortList } from "../../device-runner/cohort.ts";
import { reduceToResultVector } from "../../device-runner/result-vector.ts";
import { jobSessionConfig } from "../../device-runner/session.ts";
import { rng } from "../secagg/helpers.ts";
import { JOB, JobLifecycle, who } from "./helpers/job-run.ts";
import { abi, JobStatus, Role, type DrawnCohort } from "./helpers/protocol.ts";

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
  transcript: AggregationTranscript;
}

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
    const session = jobSessionConfig({
      chainId: life.env.pub.chain!.id,
      jobMarket: life.env.addr("JobMarket"),
      jobId,
      cohort: list,
      classes: MODEL.classes,
    });
    const report = await simulateSession({
      config: session,
      accounts: new Map(drawn.devices.map((d, i) => [i + 1, d])),
      inputs: (id) => deviceVector(id),
      drops: new Map([[N, 0]]),
    });
    const transcript = transcriptOf(report.result);
    assert.deepEqual(
      transcript.survivors,
      Array.from({ length: N - 1 }, (_, i) => i + 1),
    );
    return { jobId, drawn, session, transcript };
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
    const cid = await store.addBytes(encodeTranscript(job.transcript));
    const committed = await derive(job, job.transcript as JobAggregate);
    assert.equal(committed.qualityMet, true);
    assert.equal(committed.participants, N - 1);
    const stake = await aggregatorStake();
    const { outcomes } = await attest(job, committed, cid);
    assert.deepEqual(
      outcomes.map((o) => [o.reason, o.value]),
      outcomes.map(() => ["OK", resultHash(committed)]),
    );
    assert.equal(await life.env.read("JobMarket", "status", [job.jobId]), JobStatus.Attested);
    assert.equal(
      await life.env.read("ResultAttestation", "resultOf", [job.jobId]),
      resultHash(committed),
    );
    assert.equal(await aggregatorStake(), stake, "the aggregator keeps its stake");
  });

  it("a wrong sum: the aggregator commits a result whose sum the transcript does not hold; it is slashed", async () => {
    const job = await sessionJob();
    const cid = await store.addBytes(encodeTranscript(job.transcript));
    const sum = [...job.transcript.sum];
    sum[1] = (sum[1]! + 1_000) >>> 0;
    const committed = await derive(job, { ...(job.transcript as JobAggregate), sum });
    const honest = resultHash(await derive(job, job.transcript as JobAggregate));
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
    const committed = await derive(job, job.transcript as JobAggregate);
    const stake = await aggregatorStake();
    // a well-formed CID whose content the aggregator never published
    const { outcomes } = await attest(job, committed, JOB.TRANSCRIPT);
    assert.deepEqual(
      outcomes.map((o) => [o.reason, o.value]),
      outcomes.map(() => ["TRANSCRIPT_UNFETCHABLE", INVALID]),
    );
    await assertAggregatorSlashed(job.jobId, stake, INVALID);
  });
});
