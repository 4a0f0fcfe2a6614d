/**
 * The reporter role (PROTOCOL.md §7.5) on the relayer loop: once a job is `Attested`, replay its sealed transcript on
 * one's own, check it yields the attested resultHash, encrypt the report to the customer and settle the job
 * (`Settlement.report`): exactly one report per job, whoever of the active reporters gets there first.
 *
 *   reconcile  every job whose attestation finalised as attested (`ResultAttestation.AttestationFinalized`, scanned
 *              incrementally with a re-scan margin) and that is still `Attested` (JobMarket) within its report
 *              deadline → enqueue `report:<job>`. A job in any other state leaves the open set.
 *   report     chain first: the job is `Reported`/`Settled`, or `Failed` with a `ReportPosted` → success (another
 *              reporter, or this one before a crash); not `Attested` or past its deadline → abandoned. Else replay the
 *              transcript as a recipient (`replayTranscript`: the aggregator seals it to the drawn attestors and every
 *              reporter active at its commitment), check resultHash(derived) = `ResultAttestation.resultOf(job)`,
 *              build the report exactly as the demo does (`buildReport`: estimate, labels, participants, aggregate
 *              hash, DP figures), `encryptReport` it to the `JobCreated` encryptionKey, add the ciphertext and the
 *              payout list to IPFS and send `Settlement.report`. A send that reverts because another reporter settled
 *              the job first is a success once the chain shows the job reported.
 *
 * A reporter that is not a recipient of the transcript (it staked after the aggregator's commitment, or its key
 * changed) cannot report the job: the action fails with NOT_A_RECIPIENT; another reporter reports it. Payout claims
 * are not the reporter's: devices claim from `ReportPosted` and the payout list themselves.
 */
import { getAddress, type Abi, type Address, type Hex } from "viem";
import { z } from "zod";
import { jobMarketAbi, resultAttestationAbi, settlementAbi } from "#sdk/chain/abi/index.ts";
import type { ChainPublicClient, ChainWalletClient } from "#sdk/chain/clients.ts";
import type { CohortMember } from "#sdk/chain/cohort.ts";
import { JobStatus } from "#sdk/chain/enums.ts";
import { TxError } from "#sdk/chain/errors.ts";
import { resultHash } from "#sdk/chain/result.ts";
import { TxSender, type TxResult } from "#sdk/chain/tx-sender.ts";
import { deriveOperatorKey, walletSigner } from "#sdk/crypto/operator-key.ts";
import { encryptReport } from "#sdk/crypto/report.ts";
import type { ContentStore } from "#sdk/ipfs/index.ts";
import { AttestorError, replayTranscript, TranscriptReplayError } from "#sdk/protocol/attestor.ts";
import { chainAttestorReads } from "#sdk/protocol/attestor-chain.ts";
import type { JobModelContracts, LoadedJobModel } from "#sdk/protocol/job-model.ts";
import type { DerivedJobResult } from "#sdk/protocol/job-result.ts";
import type { Action } from "../common/action-queue.ts";
import {
  PermanentActionError,
  type ActionHandler,
  type ActionOutcome,
  type ReconcileContext,
  type RoleRuntime,
} from "../common/loop.ts";
import { ScanWindow } from "../common/scan-window.ts";

export interface ReporterContracts extends JobModelContracts {
  Settlement: Address;
}

/** One report the chain's state calls for. */
export interface DesiredReport {
  jobId: bigint;
}

export interface ReporterOptions {
  publicClient: ChainPublicClient;
  /** The operator's signer (an active staked reporter with its X25519 key registered). */
  wallet: ChainWalletClient;
  contracts: ReporterContracts;
  chainId: number;
  store: Pick<ContentStore, "getBytes" | "addBytes">;
  /** The job's cohort list (members in position order) and its model from the package (`jobModelOf`). */
  inputs: {
    cohort(jobId: bigint): Promise<readonly CohortMember[]>;
    model(jobId: bigint): Promise<LoadedJobModel>;
  };
  /** First block to scan for `AttestationFinalized` (the deployment block). */
  fromBlock?: bigint;
  /** Blocks below the last scanned head that every tick scans again (default 64): reorg margin. */
  rescanBlocks?: bigint;
  fetchTimeoutMs?: number;
  /** Called right before `Settlement.report` is sent (tests: make another reporter win the race). */
  beforeSend?: (jobId: bigint) => Promise<void>;
}

/** What the customer decrypts (the demo's report, built the same way). */
export interface JobReport {
  jobId: string;
  algorithmId: string;
  participants: number;
  aggregateHash: Hex;
  labels: string[];
  privacy?: { rho: number; epsilon: number; delta: number };
  [estimateField: string]: unknown;
}

/** The report of a derived job result: the crowd estimate, labels, participants, aggregate hash and DP figures. */
export function buildReport(
  jobId: bigint,
  loaded: LoadedJobModel,
  derived: DerivedJobResult,
): JobReport {
  const { privacy } = loaded.model;
  return {
    jobId: jobId.toString(),
    algorithmId: loaded.algorithm.algorithmId.toString(),
    participants: derived.result.participants,
    aggregateHash: derived.result.aggregateHash,
    ...derived.estimate,
    labels: [...loaded.manifest.outputLabels],
    ...(privacy
      ? { privacy: { rho: privacy.rho, epsilon: privacy.epsilon, delta: privacy.delta } }
      : {}),
  };
}

const u = z.union([z.number(), z.bigint()]).transform((x) => BigInt(x));
const jobSchema = z.looseObject({ status: u.transform(Number), deadline: u });
const finalizedSchema = z.looseObject({
  args: z.looseObject({ jobId: z.bigint(), attested: z.boolean() }),
});
const createdSchema = z.looseObject({
  args: z.looseObject({ encryptionKey: z.string().regex(/^0x[0-9a-fA-F]*$/) }),
});
const hex32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/);
const payloadSchema = z.strictObject({ jobId: z.string().regex(/^\d{1,78}$/) });

type JobState = z.infer<typeof jobSchema>;

export class Reporter implements RoleRuntime {
  readonly address: Address;
  readonly handlers: Readonly<Record<"report", ActionHandler>>;
  private readonly o: ReporterOptions;
  private x25519: Uint8Array | undefined;
  private sender: Promise<TxSender> | undefined;
  /** Receipt of this instance's last `Settlement.report` (tools and tests: gas). */
  lastReceipt: TxResult["receipt"] | undefined;
  /** Attested jobs not yet seen reported (rebuilt by one full scan after a restart). */
  private readonly open = new Set<bigint>();
  private readonly window: ScanWindow;

  constructor(opts: ReporterOptions) {
    this.o = opts;
    this.address = getAddress(opts.wallet.account.address);
    this.window = new ScanWindow(opts.fromBlock ?? 0n, opts.rescanBlocks);
    this.handlers = { report: (a) => this.report(a) };
  }

  /** After a reorg: scan again from the common ancestor (relayers/common/reorg.ts). */
  onReorg(event: { ancestor: bigint }): void {
    this.window.onReorg(event.ancestor);
  }

  /** The reports the chain calls for now (the reconcile's pure part; exported for tests and tools). */
  async desired(): Promise<DesiredReport[]> {
    const head = await this.o.publicClient.getBlockNumber({ cacheTime: 0 });
    const range = this.window.next(head);
    if (range !== undefined) {
      const logs = await this.o.publicClient.getContractEvents({
        address: this.o.contracts.ResultAttestation,
        abi: resultAttestationAbi,
        eventName: "AttestationFinalized",
        ...range,
      });
      for (const log of logs) {
        const { args } = finalizedSchema.parse(log);
        if (args.attested) this.open.add(args.jobId);
      }
    }
    this.window.done(head);
    const now = await this.chainTime();
    const out: DesiredReport[] = [];
    for (const jobId of [...this.open].sort((a, b) => (a < b ? -1 : 1))) {
      const job = await this.job(jobId);
      if (job.status !== JobStatus.Attested || now > job.deadline) {
        this.open.delete(jobId); // reported, failed, expired — or past its report deadline
        continue;
      }
      out.push({ jobId });
    }
    return out;
  }

  /** Attested jobs still open for reporting, for tools and tests. */
  openJobs(): bigint[] {
    return [...this.open].sort((a, b) => (a < b ? -1 : 1));
  }

  async reconcile({ queue }: ReconcileContext): Promise<void> {
    for (const r of await this.desired())
      await queue.enqueue({
        key: `report:${r.jobId}`,
        type: "report",
        payload: { jobId: r.jobId.toString() },
      });
  }

  private async report(action: Action): Promise<ActionOutcome> {
    const jobId = jobOf(action);
    const before = await this.settledOutcome(jobId);
    if (before !== undefined) return before;
    const derived = await this.derive(jobId);
    const attested = hex32.parse(
      await this.o.publicClient.readContract({
        address: this.o.contracts.ResultAttestation,
        abi: resultAttestationAbi,
        functionName: "resultOf",
        args: [jobId],
      }),
    );
    const mine = resultHash(derived.derived.result);
    if (mine.toLowerCase() !== attested.toLowerCase())
      throw new PermanentActionError(
        `job ${jobId}: the transcript yields resultHash ${mine}, the quorum attested ${attested}`,
      );
    const sealed = encryptReport(
      await this.customerKey(jobId),
      buildReport(jobId, derived.loaded, derived.derived),
    );
    const { tree } = derived.derived;
    const input = {
      reportCid: await this.o.store.addBytes(sealed.ciphertext),
      reportCommitment: sealed.commitment,
      payoutsCid: tree
        ? await this.o.store.addBytes(new TextEncoder().encode(JSON.stringify(tree.toList())))
        : "",
      result: derived.derived.result,
    };
    await this.o.beforeSend?.(jobId);
    try {
      const sent = await (
        await this.txSender()
      ).send({
        address: this.o.contracts.Settlement,
        abi: settlementAbi as Abi,
        functionName: "report",
        args: [jobId, input],
      });
      this.lastReceipt = sent.receipt;
    } catch (e) {
      // two reporters raced: the loser's report reverts (simulated or mined); the chain shows the job reported
      if (e instanceof TxError && e.code === "TX_REVERTED") {
        const after = await this.settledOutcome(jobId);
        if (after?.status === "succeeded") return after;
      }
      throw e;
    }
    return { status: "succeeded" };
  }

  /**
   * The chain's answer before (and after a reverted) send: success when the job was reported (by anyone), abandoned
   * when it can no longer be; undefined when it is Attested within its deadline.
   */
  private async settledOutcome(jobId: bigint): Promise<ActionOutcome | undefined> {
    const job = await this.job(jobId);
    if (job.status === JobStatus.Reported || job.status === JobStatus.Settled)
      return { status: "succeeded" };
    if (job.status === JobStatus.Failed)
      return (await this.reportPosted(jobId))
        ? { status: "succeeded" }
        : { status: "abandoned", reason: `job ${jobId} failed without a report` };
    if (job.status !== JobStatus.Attested)
      return { status: "abandoned", reason: `job ${jobId} is not Attested (status ${job.status})` };
    if ((await this.chainTime()) > job.deadline)
      return { status: "abandoned", reason: `job ${jobId}'s report deadline passed` };
    return undefined;
  }

  /** Replays the transcript as a recipient; the recipient's own impossibilities are permanent. */
  private async derive(
    jobId: bigint,
  ): Promise<{ loaded: LoadedJobModel; derived: DerivedJobResult }> {
    const [cohort, loaded] = await Promise.all([
      this.o.inputs.cohort(jobId),
      this.o.inputs.model(jobId),
    ]);
    try {
      const derived = await replayTranscript(
        {
          chain: chainAttestorReads(this.o.publicClient, this.o.contracts, {
            ...(this.o.fromBlock === undefined ? {} : { fromBlock: this.o.fromBlock }),
          }),
          store: this.o.store,
          ...(this.o.fetchTimeoutMs === undefined ? {} : { fetchTimeoutMs: this.o.fetchTimeoutMs }),
          cohort,
          me: { address: this.address, x25519SecretKey: await this.secret() },
          model: loaded.model,
          session: { chainId: this.o.chainId, jobMarket: this.o.contracts.JobMarket },
        },
        jobId,
      );
      return { loaded, derived };
    } catch (e) {
      if (e instanceof TranscriptReplayError) {
        if (e.reason === "NOT_A_RECIPIENT")
          throw new PermanentActionError(
            `job ${jobId}: NOT_A_RECIPIENT: the transcript is not sealed to this reporter (${this.address}); the ` +
              "aggregator seals it to the reporters active when it commits, so a reporter that staked (or changed " +
              "its key) later cannot report this job",
            { cause: e },
          );
        if (e.reason === "TRANSCRIPT_UNFETCHABLE") throw e; // IPFS may answer later: retry
        throw new PermanentActionError(`job ${jobId}: ${e.message}`, { cause: e });
      }
      if (e instanceof AttestorError && (e.code === "KEY_MISMATCH" || e.code === "COHORT_MISMATCH"))
        throw new PermanentActionError(e.message, { cause: e });
      throw e;
    }
  }

  private async customerKey(jobId: bigint): Promise<Hex> {
    const logs = await this.o.publicClient.getContractEvents({
      address: this.o.contracts.JobMarket,
      abi: jobMarketAbi,
      eventName: "JobCreated",
      args: { jobId },
      fromBlock: this.o.fromBlock ?? 0n,
    });
    const first = logs[0];
    if (first === undefined) throw new Error(`job ${jobId} has no JobCreated event`);
    return createdSchema.parse(first).args.encryptionKey as Hex;
  }

  private async reportPosted(jobId: bigint): Promise<boolean> {
    const logs = await this.o.publicClient.getContractEvents({
      address: this.o.contracts.Settlement,
      abi: settlementAbi,
      eventName: "ReportPosted",
      args: { jobId },
      fromBlock: this.o.fromBlock ?? 0n,
    });
    return logs.length > 0;
  }

  private async job(jobId: bigint): Promise<JobState> {
    return jobSchema.parse(
      await this.o.publicClient.readContract({
        address: this.o.contracts.JobMarket,
        abi: jobMarketAbi,
        functionName: "getJob",
        args: [jobId],
      }),
    );
  }

  private async secret(): Promise<Uint8Array> {
    this.x25519 ??= (await deriveOperatorKey(walletSigner(this.o.wallet))).secretKey;
    return this.x25519;
  }

  private txSender(): Promise<TxSender> {
    this.sender ??= TxSender.create({
      publicClient: this.o.publicClient,
      walletClient: this.o.wallet,
    });
    this.sender.catch(() => (this.sender = undefined));
    return this.sender;
  }

  private async chainTime(): Promise<bigint> {
    return (await this.o.publicClient.getBlock()).timestamp;
  }
}

function jobOf(action: Action): bigint {
  const p = payloadSchema.safeParse(action.payload);
  if (!p.success) throw new PermanentActionError(`action ${action.key}: bad payload`);
  return BigInt(p.data.jobId);
}
