/**
 * The aggregator role (PROTOCOL.md §7.4) on the relayer loop: it serves the SecAgg session of every job whose cohort
 * names this operator as the aggregator (`JobMarket.CohortAssigned`, indexed by aggregator), then commits the job's
 * result, reveals it, and finalises the attestation when nobody else did.
 *
 *   reconcile  scans `CohortAssigned(aggregator = me)` incrementally; per open job, from `attestationOf`:
 *              `Drawn` (cohort assigned, nothing committed): no local result and no hosted session → enqueue
 *              `serve:<job>:<boot>`; the hosted session finished → seal, publish and persist the result (below),
 *              then enqueue `commit:<job>`; a persisted result → enqueue `commit:<job>`.
 *              `Committed`: not revealed, reveal window open (commit deadline passed or every attestor committed)
 *              → `reveal:<job>`; reveal deadline passed (or everything revealed) and still `Committed` →
 *              `finalize:<job>`. `Attested`/`Failed`/`None`, or the JobMarket past the commit phase: the job leaves.
 *   serve      derives the session from the chain (cohort list from IPFS checked against the on-chain root and size,
 *              `sessionKeysOf` at the assignment block, cohort root + job seed, classes from the package manifest)
 *              and hosts it on the SecAgg HTTP server (`recordTranscript`), journaled to
 *              `<data-dir>/aggregator/sessions/<job>.journal`. A malformed cohort list or package, or a damaged
 *              journal, is a PermanentActionError. Its key carries the process's boot id: every start re-opens the
 *              sessions of the jobs still waiting for a result, each replayed from its journal and continued in the
 *              round it had reached (the devices retry through the outage), so a kill mid-session loses nothing.
 *   commit     chain first: already committed (status past `Drawn`) → success; job no longer `Assigned` or its
 *              phase deadline passed → abandoned. Else `commitAggregate(aggregateCommitment(resultHash, salt),
 *              transcriptCid)` from the persisted result.
 *   reveal     chain first: already revealed → success; window closed → abandoned; the persisted result must open
 *              the on-chain commitment (else PermanentActionError). Else `revealAggregate(resultHash, salt)`.
 *   finalize   status no longer `Committed` → success; else `finalize` (permissionless keeper call).
 *
 * The result (sealed transcript bytes, its CID, the JobResult and its hash) is written atomically to
 * `<data-dir>/aggregator/jobs/` BEFORE the commit is sent: a restart after the commit still reveals, and a restart
 * between persisting and committing commits the same CID and hash. The salt is never stored: `keccak256(signature)`
 * of a fixed message naming the chain, the contract and the job (RFC 6979 signatures are deterministic).
 */
import { rm } from "node:fs/promises";
import path from "node:path";
import { getAddress, keccak256, type Abi, type Address, type Hex } from "viem";
import { z } from "zod";
import { jobMarketAbi } from "#sdk/chain/abi/JobMarket.ts";
import { resultAttestationAbi } from "#sdk/chain/abi/ResultAttestation.ts";
import type { ChainPublicClient, ChainWalletClient } from "#sdk/chain/clients.ts";
import { aggregateCommitment } from "#sdk/chain/commitments.ts";
import { JobStatus } from "#sdk/chain/enums.ts";
import { resultHash, type JobResult } from "#sdk/chain/result.ts";
import { TxSender } from "#sdk/chain/tx-sender.ts";
import { walletSigner } from "#sdk/crypto/operator-key.ts";
import { readJsonFile, writeFileAtomic, writeJsonAtomic } from "#sdk/fs/atomic.ts";
import type { ContentStore } from "#sdk/ipfs/index.ts";
import { chainAttestorReads, type AttestorChainReads } from "#sdk/protocol/attestor-chain.ts";
import { deriveJobResult, type JobModel } from "#sdk/protocol/job-result.ts";
import { jobSessionConfig } from "#sdk/protocol/session.ts";
import { transcriptRecipients } from "#sdk/protocol/transcript-publish.ts";
import {
  SecAggError,
  encodeTranscriptV2,
  sealTranscript,
  type SecAggHttpServer,
  type SecAggResult,
  type SecAggSessionConfig,
} from "#sdk/secagg/index.ts";
import type { Action } from "../common/action-queue.ts";
import {
  PermanentActionError,
  type ActionHandler,
  type ActionOutcome,
  type ReconcileContext,
  type RoleRuntime,
} from "../common/loop.ts";
import { ScanWindow } from "../common/scan-window.ts";
import { AggregatorError, loadCohort, loadJobModel, type AggregatorContracts } from "./inputs.ts";

/** `IResultAttestation.Status`. */
export const AttestationStatus = {
  None: 0,
  Drawn: 1,
  Committed: 2,
  Attested: 3,
  Failed: 4,
} as const;

export type AggregatorPhase = "serve" | "commit" | "reveal" | "finalize";

export interface DesiredAction {
  jobId: bigint;
  phase: AggregatorPhase;
}

export interface AggregatorOptions {
  publicClient: ChainPublicClient;
  wallet: ChainWalletClient;
  contracts: AggregatorContracts;
  chainId: number;
  store: Pick<ContentStore, "getBytes" | "getFile" | "addBytes">;
  /** The SecAgg HTTP server (listening): its URL is the operator's NodeStaking endpoint. */
  secagg: SecAggHttpServer;
  /** Where results are persisted (`<dir>/jobs/<job>.json` and the sealed transcript beside it). */
  stateDir: string;
  /** Time each SecAgg round stays open (silent devices are dropped when it passes). */
  roundTimeoutMs: number;
  /** First block scanned for `CohortAssigned` (the deployment block). */
  fromBlock?: bigint;
  /** Blocks below the last scanned head that every tick scans again (default 64). */
  rescanBlocks?: bigint;
  /** Distinguishes this process's `serve` actions from an earlier start's (default: the start time). */
  bootId?: string;
  /** The job's model; default `loadJobModel` (the algorithm's package manifest). */
  model?: (jobId: bigint, session: SecAggSessionConfig) => Promise<JobModel>;
  /** Longest wait for the cohort list and the package manifest on IPFS (default 30 s); past it the serve retries. */
  fetchTimeoutMs?: number;
  /** Notified of events worth a log line (tests read timings from it). */
  onEvent?: (event: AggregatorEvent) => void;
}

export type AggregatorEvent =
  | { type: "session-opened"; jobId: bigint; sessionId: Hex; devices: number }
  | { type: "session-done"; jobId: bigint; survivors: number; at: number }
  | { type: "session-failed"; jobId: bigint; reason: string }
  | { type: "result-persisted"; jobId: bigint; transcriptCid: string; resultHash: Hex; ms: number }
  | {
      type: "sent";
      jobId: bigint;
      phase: "commit" | "reveal" | "finalize";
      gasUsed: bigint;
      at: number;
    };

const u = z.union([z.number(), z.bigint()]).transform((x) => BigInt(x));
const hex32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/) as unknown as z.ZodType<Hex>;
const attestationSchema = z.looseObject({
  status: u.transform(Number),
  aggregatorRevealed: z.boolean(),
  aggregator: z.string().transform((a) => getAddress(a)),
  aggregatorCommitment: hex32,
  commitDeadline: u,
  revealDeadline: u,
  committedMask: u,
  revealedMask: u,
  attestors: z.array(z.string().transform((a) => getAddress(a))),
});
type Attestation = z.infer<typeof attestationSchema>;
const jobSchema = z.looseObject({
  status: u.transform(Number),
  deadline: u,
  minParticipants: u.transform(Number),
  rewardPerDevice: u,
  maxStdError: u,
});
const assignedSchema = z.looseObject({
  args: z.looseObject({ jobId: z.bigint(), cohortCid: z.string() }),
});
const jobPayloadSchema = z.strictObject({ jobId: z.string().regex(/^\d{1,78}$/) });

/** What the aggregator persists per job before committing (`<stateDir>/jobs/<job>.json`). */
export const jobRecordSchema = z.strictObject({
  version: z.literal(1),
  jobId: z.string().regex(/^\d{1,78}$/),
  sessionId: hex32,
  transcriptCid: z.string().min(1),
  /** File name (beside the record) of the sealed transcript bytes. */
  transcriptFile: z.string().min(1),
  recipients: z.array(z.string()),
  survivors: z.array(z.number().int().positive()),
  result: z.strictObject({
    aggregateHash: hex32,
    payoutRoot: hex32,
    payoutTotal: z.string().regex(/^\d{1,78}$/),
    participants: z.number().int().nonnegative(),
    qualityMet: z.boolean(),
  }),
  resultHash: hex32,
  finishedAt: z.string(),
});
export type JobRecord = z.infer<typeof jobRecordSchema>;

interface Hosted {
  session: SecAggSessionConfig;
  members: Address[];
  model: JobModel;
  state: "running" | "done" | "failed";
  result?: SecAggResult;
  failure?: string;
}

export class Aggregator implements RoleRuntime {
  readonly address: Address;
  readonly handlers: Readonly<Record<AggregatorPhase, ActionHandler>>;
  readonly bootId: string;
  private readonly o: AggregatorOptions;
  private readonly reads: AttestorChainReads;
  /** Jobs assigned to me that are not finished (rebuilt by one full scan after a restart), with their cohort CID. */
  private readonly open = new Map<bigint, string>();
  private readonly hosted = new Map<bigint, Hosted>();
  private readonly window: ScanWindow;
  private sender: Promise<TxSender> | undefined;

  constructor(opts: AggregatorOptions) {
    this.o = opts;
    this.address = getAddress(opts.wallet.account.address);
    this.window = new ScanWindow(opts.fromBlock ?? 0n, opts.rescanBlocks);
    this.bootId = opts.bootId ?? `${Date.now()}`;
    this.reads = chainAttestorReads(opts.publicClient, opts.contracts, {
      ...(opts.fromBlock === undefined ? {} : { fromBlock: opts.fromBlock }),
    });
    this.handlers = {
      serve: (a) => this.serve(a),
      commit: (a) => this.commit(a),
      reveal: (a) => this.reveal(a),
      finalize: (a) => this.finalize(a),
    };
  }

  /** After a reorg: scan again from the common ancestor (relayers/common/reorg.ts). */
  onReorg(event: { ancestor: bigint }): void {
    this.window.onReorg(event.ancestor);
  }

  /** Jobs still open for this operator (assigned to it, not finished), for tools and tests. */
  openJobs(): bigint[] {
    return [...this.open.keys()].sort((a, b) => (a < b ? -1 : 1));
  }

  /** The hosted session's state of `jobId`, for tools and tests. */
  sessionState(jobId: bigint): Hosted["state"] | undefined {
    return this.hosted.get(jobId)?.state;
  }

  async reconcile({ queue, log }: ReconcileContext): Promise<void> {
    for (const d of await this.desired(log))
      await queue.enqueue({
        key: d.phase === "serve" ? `serve:${d.jobId}:${this.bootId}` : `${d.phase}:${d.jobId}`,
        type: d.phase,
        payload: { jobId: d.jobId.toString() },
      });
  }

  /**
   * The actions the chain (and the local sessions) call for now. A finished session's result is sealed, published
   * and persisted here, before its commit is asked for.
   */
  async desired(log?: ReconcileContext["log"]): Promise<DesiredAction[]> {
    await this.scan();
    const now = await this.chainTime();
    const out: DesiredAction[] = [];
    for (const jobId of this.openJobs()) {
      try {
        const phase = await this.phaseOf(jobId, now);
        if (phase !== undefined) out.push({ jobId, phase });
      } catch (e) {
        // one job's trouble (an IPFS publish failing, say) never blocks the others; the next tick retries
        log?.warn({ jobId: `${jobId}`, err: message(e) }, "aggregator: job reconcile failed");
      }
    }
    return out;
  }

  private async scan(): Promise<void> {
    const head = await this.o.publicClient.getBlockNumber({ cacheTime: 0 });
    const range = this.window.next(head);
    if (range !== undefined) {
      const logs = await this.o.publicClient.getContractEvents({
        address: this.o.contracts.JobMarket,
        abi: jobMarketAbi,
        eventName: "CohortAssigned",
        args: { aggregator: this.address },
        ...range,
      });
      for (const l of logs) {
        const { args } = assignedSchema.parse(l);
        if (!this.finishedJobs.has(args.jobId)) this.open.set(args.jobId, args.cohortCid);
      }
    }
    this.window.done(head);
  }

  /** True while a job assigned to this aggregator is open (its session, result or commit-reveal under way). */
  hasOpenJobs(): boolean {
    return this.open.size > 0;
  }

  /** Jobs that left the open set in this process (so the re-scan margin does not add them again). */
  private readonly finishedJobs = new Set<bigint>();

  private leave(jobId: bigint): void {
    this.open.delete(jobId);
    this.hosted.delete(jobId);
    this.finishedJobs.add(jobId);
  }

  private async phaseOf(jobId: bigint, now: bigint): Promise<AggregatorPhase | undefined> {
    const att = await this.attestation(jobId);
    if (
      att.status === AttestationStatus.None ||
      att.status === AttestationStatus.Attested ||
      att.status === AttestationStatus.Failed ||
      att.aggregator !== this.address
    ) {
      this.leave(jobId);
      return undefined;
    }
    if (att.status === AttestationStatus.Drawn) {
      const job = await this.job(jobId);
      if (job.status !== JobStatus.Assigned || now > job.deadline) {
        this.leave(jobId); // the commit phase is over: nothing to commit any more
        return undefined;
      }
      if ((await this.record(jobId)) !== undefined) return "commit";
      const h = this.hosted.get(jobId);
      if (h === undefined) return "serve";
      if (h.state === "done") {
        await this.persist(jobId, h);
        return "commit";
      }
      return undefined; // running, or failed (logged once; the job times out on chain)
    }
    // Committed
    if (!att.aggregatorRevealed) {
      const all = (1n << BigInt(att.attestors.length)) - 1n;
      const revealOpen = now > att.commitDeadline || (att.committedMask & all) === all;
      if (revealOpen && now <= att.revealDeadline) return "reveal";
    }
    const all = (1n << BigInt(att.attestors.length)) - 1n;
    const over =
      now > att.revealDeadline || (att.aggregatorRevealed && (att.revealedMask & all) === all);
    return over ? "finalize" : undefined;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // handlers
  // ---------------------------------------------------------------------------------------------------------------

  private async serve(action: Action): Promise<ActionOutcome> {
    const jobId = jobOf(action);
    const att = await this.attestation(jobId);
    if (att.aggregator !== this.address)
      throw new PermanentActionError(`${this.address} is not job ${jobId}'s aggregator`);
    if (att.status !== AttestationStatus.Drawn)
      return {
        status: "abandoned",
        reason: `job ${jobId} is past the session (status ${att.status})`,
      };
    if ((await this.record(jobId)) !== undefined) return { status: "succeeded" }; // result already persisted
    if (this.hosted.has(jobId)) return { status: "succeeded" };
    const cid = this.open.get(jobId) ?? (await this.cohortCid(jobId));
    let session: SecAggSessionConfig;
    let members: Address[];
    let model: JobModel;
    try {
      const job = await this.reads.job(jobId);
      const { kMin } = z.looseObject({ kMin: u.transform(Number) }).parse(
        await this.o.publicClient.readContract({
          address: this.o.contracts.ResultAttestation,
          abi: resultAttestationAbi,
          functionName: "params",
        }),
      );
      const list = await loadCohort(
        this.o.store,
        cid,
        {
          jobId,
          root: job.cohortRoot,
          deviceCount: job.deviceCount,
          kMin,
        },
        this.o.fetchTimeoutMs,
      );
      members = list.members.map((m) => getAddress(m.address));
      const [sessionKeys, seed] = await Promise.all([
        this.reads.sessionKeysOf(jobId, members),
        this.reads.jobSeed(jobId),
      ]);
      const base = await loadJobModel(
        {
          publicClient: this.o.publicClient,
          contracts: this.o.contracts,
          store: this.o.store,
        },
        jobId,
        this.o.fetchTimeoutMs,
      );
      session = jobSessionConfig({
        chainId: this.o.chainId,
        jobMarket: this.o.contracts.JobMarket,
        jobId,
        cohort: list,
        sessionKeys,
        graph: { cohortRoot: job.cohortRoot, jobSeed: seed },
        classes: base.classes,
      });
      model = this.o.model ? await this.o.model(jobId, session) : base.model(session, kMin);
    } catch (e) {
      if (e instanceof AggregatorError && e.permanent)
        throw new PermanentActionError(e.message, { cause: e });
      throw e;
    }
    const h: Hosted = { session, members, model, state: "running" };
    try {
      // journaled: a restart continues this session where it was instead of losing it (sdk/secagg/journal.ts)
      await this.o.secagg.openSession(session, {
        roundTimeoutMs: this.o.roundTimeoutMs,
        recordTranscript: true,
        journalFile: this.journalFile(jobId),
      });
    } catch (e) {
      if (e instanceof SecAggError && e.code === "JOURNAL_INVALID")
        throw new PermanentActionError(e.message, { cause: e });
      throw e;
    }
    this.hosted.set(jobId, h);
    this.o.onEvent?.({
      type: "session-opened",
      jobId,
      sessionId: session.sessionId,
      devices: members.length,
    });
    this.o.secagg.result(session.sessionId).then(
      (r) => {
        h.state = "done";
        h.result = r;
        this.o.onEvent?.({
          type: "session-done",
          jobId,
          survivors: r.survivors.length,
          at: Date.now(),
        });
      },
      (e: unknown) => {
        h.state = "failed";
        h.failure = message(e);
        this.o.onEvent?.({ type: "session-failed", jobId, reason: h.failure });
      },
    );
    return { status: "succeeded" };
  }

  private async commit(action: Action): Promise<ActionOutcome> {
    const jobId = jobOf(action);
    const att = await this.attestation(jobId);
    if (att.aggregator !== this.address)
      throw new PermanentActionError(`${this.address} is not job ${jobId}'s aggregator`);
    if (att.status !== AttestationStatus.Drawn) {
      if (att.status === AttestationStatus.None)
        return { status: "abandoned", reason: `job ${jobId} has no attestation record` };
      return { status: "succeeded" }; // committed (only the aggregator can move Drawn → Committed)
    }
    const job = await this.job(jobId);
    if (job.status !== JobStatus.Assigned || (await this.chainTime()) > job.deadline)
      return { status: "abandoned", reason: `job ${jobId}'s commit phase is over` };
    const rec = await this.record(jobId);
    if (rec === undefined)
      throw new PermanentActionError(
        `job ${jobId}: no persisted result to commit (${this.recordFile(jobId)})`,
      );
    const salt = await this.salt(jobId);
    await this.send(jobId, "commit", "commitAggregate", [
      jobId,
      aggregateCommitment(rec.resultHash, salt),
      rec.transcriptCid,
    ]);
    this.hosted.delete(jobId); // the session's work is done; the SecAgg server keeps its (finished) state
    return { status: "succeeded" };
  }

  private async reveal(action: Action): Promise<ActionOutcome> {
    const jobId = jobOf(action);
    const att = await this.attestation(jobId);
    if (att.aggregatorRevealed) return { status: "succeeded" };
    if (att.status !== AttestationStatus.Committed)
      return {
        status: "abandoned",
        reason: `job ${jobId} is not in its attestation (status ${att.status})`,
      };
    if ((await this.chainTime()) > att.revealDeadline)
      return { status: "abandoned", reason: `job ${jobId}'s reveal window closed` };
    const rec = await this.record(jobId);
    if (rec === undefined)
      throw new PermanentActionError(
        `job ${jobId}: no persisted result to reveal (${this.recordFile(jobId)})`,
      );
    const salt = await this.salt(jobId);
    if (aggregateCommitment(rec.resultHash, salt) !== att.aggregatorCommitment)
      throw new PermanentActionError(
        `job ${jobId}: the persisted result ${rec.resultHash} does not open the on-chain commitment ${att.aggregatorCommitment}`,
      );
    await this.send(jobId, "reveal", "revealAggregate", [jobId, rec.resultHash, salt]);
    return { status: "succeeded" };
  }

  private async finalize(action: Action): Promise<ActionOutcome> {
    const jobId = jobOf(action);
    const att = await this.attestation(jobId);
    if (att.status !== AttestationStatus.Committed) return { status: "succeeded" }; // finalised (by anyone)
    await this.send(jobId, "finalize", "finalize", [jobId]);
    return { status: "succeeded" };
  }

  // ---------------------------------------------------------------------------------------------------------------
  // the result: sealed, published, persisted
  // ---------------------------------------------------------------------------------------------------------------

  /** Seals the finished session's transcript, publishes it, derives the JobResult and writes both atomically. */
  private async persist(jobId: bigint, h: Hosted): Promise<JobRecord> {
    const t0 = Date.now();
    const result = h.result!;
    const job = await this.job(jobId);
    const survivors = [...result.survivors].sort((a, b) => a - b);
    const derived = deriveJobResult(
      { sessionId: h.session.sessionId, survivors, sum: result.sum },
      {
        members: h.members,
        encoding: h.session.encoding,
        model: h.model,
        rule: {
          rewardPerDevice: job.rewardPerDevice,
          minParticipants: job.minParticipants,
          maxStdError: job.maxStdError,
        },
      },
    );
    const recipients = await transcriptRecipients(
      this.reads,
      { client: this.o.publicClient, nodeStaking: this.o.contracts.NodeStaking },
      jobId,
    );
    const sealed = sealTranscript(
      encodeTranscriptV2(this.o.secagg.transcript(h.session.sessionId)),
      recipients,
      h.session.sessionId,
    );
    const transcriptFile = `${jobId}.transcript.sealed`;
    await writeFileAtomic(path.join(this.jobsDir(), transcriptFile), sealed);
    const transcriptCid = await this.o.store.addBytes(sealed);
    const r: JobResult = derived.result;
    const rec: JobRecord = {
      version: 1,
      jobId: `${jobId}`,
      sessionId: h.session.sessionId,
      transcriptCid,
      transcriptFile,
      recipients: recipients.map((x) => x.address),
      survivors,
      result: { ...r, payoutTotal: r.payoutTotal.toString() },
      resultHash: resultHash(r),
      finishedAt: new Date().toISOString(),
    };
    await writeJsonAtomic(this.recordFile(jobId), rec);
    // the persisted result supersedes the session's journal
    await rm(this.journalFile(jobId), { force: true });
    this.o.onEvent?.({
      type: "result-persisted",
      jobId,
      transcriptCid,
      resultHash: rec.resultHash,
      ms: Date.now() - t0,
    });
    return rec;
  }

  /** The persisted result of `jobId`, if any. */
  async record(jobId: bigint): Promise<JobRecord | undefined> {
    return readJsonFile(this.recordFile(jobId), jobRecordSchema);
  }

  private jobsDir(): string {
    return path.join(this.o.stateDir, "jobs");
  }

  /** The job's SecAgg session journal (`<dir>/sessions/<job>.journal`), removed once the result is persisted. */
  private journalFile(jobId: bigint): string {
    return path.join(this.o.stateDir, "sessions", `${jobId}.journal`);
  }

  private recordFile(jobId: bigint): string {
    return path.join(this.jobsDir(), `${jobId}.json`);
  }

  /** The per-job salt: keccak256 of the operator's deterministic signature over a message naming the job. */
  async salt(jobId: bigint): Promise<Hex> {
    const message = `DML aggregate salt v1: chain ${this.o.chainId}, ResultAttestation ${this.o.contracts.ResultAttestation}, job ${jobId}`;
    return keccak256(await walletSigner(this.o.wallet).signMessage(message));
  }

  // ---------------------------------------------------------------------------------------------------------------
  // chain
  // ---------------------------------------------------------------------------------------------------------------

  private async send(
    jobId: bigint,
    phase: "commit" | "reveal" | "finalize",
    functionName: "commitAggregate" | "revealAggregate" | "finalize",
    args: readonly unknown[],
  ): Promise<void> {
    this.sender ??= TxSender.create({
      publicClient: this.o.publicClient,
      walletClient: this.o.wallet,
    });
    const { receipt } = await (
      await this.sender
    ).send({
      address: this.o.contracts.ResultAttestation,
      abi: resultAttestationAbi as Abi,
      functionName,
      args,
    });
    this.o.onEvent?.({ type: "sent", jobId, phase, gasUsed: receipt.gasUsed, at: Date.now() });
  }

  private async attestation(jobId: bigint): Promise<Attestation> {
    return attestationSchema.parse(
      await this.o.publicClient.readContract({
        address: this.o.contracts.ResultAttestation,
        abi: resultAttestationAbi,
        functionName: "attestationOf",
        args: [jobId],
      }),
    );
  }

  private async job(jobId: bigint): Promise<z.infer<typeof jobSchema>> {
    return jobSchema.parse(
      await this.o.publicClient.readContract({
        address: this.o.contracts.JobMarket,
        abi: jobMarketAbi,
        functionName: "getJob",
        args: [jobId],
      }),
    );
  }

  private async cohortCid(jobId: bigint): Promise<string> {
    const logs = await this.o.publicClient.getContractEvents({
      address: this.o.contracts.JobMarket,
      abi: jobMarketAbi,
      eventName: "CohortAssigned",
      args: { jobId },
      fromBlock: this.o.fromBlock ?? 0n,
    });
    const last = logs.at(-1);
    if (last === undefined) throw new Error(`job ${jobId} has no CohortAssigned event`);
    return assignedSchema.parse(last).args.cohortCid;
  }

  private async chainTime(): Promise<bigint> {
    return (await this.o.publicClient.getBlock()).timestamp;
  }
}

function jobOf(action: Action): bigint {
  const p = jobPayloadSchema.safeParse(action.payload);
  if (!p.success) throw new PermanentActionError(`action ${action.key}: bad payload`);
  return BigInt(p.data.jobId);
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
