/**
 * The attestor role (PROTOCOL.md §7.4) on the relayer loop: the library derives the value (sdk/protocol/attestor.ts),
 * this class decides when to commit and reveal it and never does either twice.
 *
 *   reconcile  every job whose `AttestorsDrawn` names this operator and whose attestation is `Committed` (the
 *              aggregator committed): my commit bit unset and the commit window open → enqueue `commit:<job>`; my
 *              commit bit set, my reveal bit unset and the reveal window open (commit deadline passed, or every
 *              attestor committed) → enqueue `reveal:<job>`. Keys are (phase, job): one action per vote per phase.
 *   commit     chain first: already committed → success; window closed or the job left `Committed` → abandoned.
 *              Else derive the value (`attestJob`: the job's resultHash, or INVALID) and commit it.
 *   reveal     chain first: already revealed → success; window closed → abandoned. Else find the value whose
 *              commitment is the one the chain holds for me (the freshly derived value, then INVALID: a transcript
 *              that was unfetchable at commit time may be fetchable now) and reveal it.
 *
 * The salt is never stored: it is `keccak256(signature)` of a fixed message naming the chain, the contract and the job
 * (RFC 6979 signatures are deterministic), so a restarted attestor — even one that lost its data directory —
 * re-derives it, and only the key holder can.
 */
import { getAddress, keccak256, type Address, type Hex } from "viem";
import { z } from "zod";
import { resultAttestationAbi } from "#sdk/chain/abi/ResultAttestation.ts";
import type { ChainPublicClient, ChainWalletClient } from "#sdk/chain/clients.ts";
import type { CohortMember } from "#sdk/chain/cohort.ts";
import { memberCommitment } from "#sdk/chain/commitments.ts";
import { INVALID } from "#sdk/chain/result.ts";
import { deriveOperatorKey, walletSigner } from "#sdk/crypto/operator-key.ts";
import type { ContentStore } from "#sdk/ipfs/index.ts";
import { attestJob, AttestorError } from "#sdk/protocol/attestor.ts";
import { chainAttestorReads, type AttestorContracts } from "#sdk/protocol/attestor-chain.ts";
import { commitVote, revealVote, type VoteIo } from "#sdk/protocol/attestor-vote.ts";
import type { JobModel } from "#sdk/protocol/job-result.ts";
import type { Action } from "../common/action-queue.ts";
import {
  PermanentActionError,
  type ActionHandler,
  type ActionOutcome,
  type ReconcileContext,
  type RoleRuntime,
} from "../common/loop.ts";
import { ScanWindow } from "../common/scan-window.ts";

/** `IResultAttestation.Status`. */
export const AttestationStatus = {
  None: 0,
  Drawn: 1,
  Committed: 2,
  Attested: 3,
  Failed: 4,
} as const;

export type VotePhase = "commit" | "reveal";

/** One vote transaction the chain's state calls for. */
export interface DesiredVote {
  jobId: bigint;
  phase: VotePhase;
}

export interface AttestorOptions {
  publicClient: ChainPublicClient;
  /** The operator's signer: sends through its TxSender and signs the operator-key message. */
  wallet: ChainWalletClient;
  contracts: AttestorContracts;
  chainId: number;
  store: Pick<ContentStore, "getBytes">;
  /** The job's cohort list (members in position order) and algorithm model. */
  inputs: {
    cohort(jobId: bigint): Promise<readonly CohortMember[]>;
    model(jobId: bigint): Promise<JobModel>;
  };
  /** First block to scan for `AttestorsDrawn` (the deployment block). */
  fromBlock?: bigint;
  /**
   * Blocks below the last scanned head that every tick scans again (default 64), so an `AttestorsDrawn` that a
   * reorg of at most this depth moved to another block is still seen.
   */
  rescanBlocks?: bigint;
  fetchTimeoutMs?: number;
}

const u = z.union([z.number(), z.bigint()]).transform((x) => BigInt(x));
const attestationSchema = z.looseObject({
  status: u.transform(Number),
  commitDeadline: u,
  revealDeadline: u,
  committedMask: u,
  revealedMask: u,
  attestors: z.array(z.string().transform((a) => getAddress(a))),
});
type Attestation = z.infer<typeof attestationSchema>;
const drawnSchema = z.looseObject({
  args: z.looseObject({ jobId: z.bigint(), attestors: z.array(z.string()) }),
});
const committedEventSchema = z.looseObject({ args: z.looseObject({ commitment: z.string() }) });
const payloadSchema = z.strictObject({ jobId: z.string().regex(/^\d{1,78}$/) });

export class Attestor implements RoleRuntime {
  readonly address: Address;
  readonly handlers: Readonly<Record<VotePhase, ActionHandler>>;
  /** What to vote on follows from the chain at its head alone (the transcripts are read by the handlers). */
  readonly reconcilesChainOnly = true;
  private readonly o: AttestorOptions;
  private readonly abi = resultAttestationAbi;
  private x25519: Uint8Array | undefined;
  /** Jobs this operator was drawn for and that are not finished (rebuilt by one full scan after a restart). */
  private readonly open = new Set<bigint>();
  private readonly window: ScanWindow;

  constructor(opts: AttestorOptions) {
    this.o = opts;
    this.address = getAddress(opts.wallet.account.address);
    this.window = new ScanWindow(opts.fromBlock ?? 0n, opts.rescanBlocks);
    this.handlers = {
      commit: (a) => this.commit(a),
      reveal: (a) => this.reveal(a),
    };
  }

  /** The vote transactions the chain calls for now (the reconcile's pure part; exported for tests and tools). */
  async desired(): Promise<DesiredVote[]> {
    // incremental: the first call scans from the deployment block, later calls only the new blocks (and a margin)
    const head = await this.o.publicClient.getBlockNumber({ cacheTime: 0 });
    const range = this.window.next(head);
    if (range !== undefined) {
      const logs = await this.o.publicClient.getContractEvents({
        address: this.o.contracts.ResultAttestation,
        abi: this.abi,
        eventName: "AttestorsDrawn",
        ...range,
      });
      for (const log of logs) {
        const { args } = drawnSchema.parse(log);
        if (args.attestors.some((a) => getAddress(a) === this.address)) this.open.add(args.jobId);
      }
    }
    this.window.done(head);
    const now = await this.chainTime();
    const out: DesiredVote[] = [];
    for (const jobId of [...this.open].sort((a, b) => (a < b ? -1 : 1))) {
      const att = await this.attestation(jobId);
      if (this.finished(att, now)) {
        this.open.delete(jobId);
        continue;
      }
      const phase = this.phaseOf(att, now);
      if (phase !== undefined) out.push({ jobId, phase });
    }
    return out;
  }

  /**
   * After a reorg (relayers/common/reorg.ts): scan again from the common ancestor, so a draw that moved to another
   * block, or a new one, is seen however deep the reorg was. Open jobs stay open: `desired()` re-reads their state.
   */
  onReorg(event: { ancestor: bigint }): void {
    this.window.onReorg(event.ancestor);
  }

  /** Jobs still open for this operator (drawn, not finished), for tools and tests. */
  openJobs(): bigint[] {
    return [...this.open].sort((a, b) => (a < b ? -1 : 1));
  }

  /**
   * Nothing more to do for this job: finalised (Attested, Failed), gone (None: its draw was reorged away; a redraw
   * within the rescan margin adds it again), my vote revealed, or the reveal window over.
   */
  private finished(att: Attestation, now: bigint): boolean {
    if (
      att.status === AttestationStatus.None ||
      att.status === AttestationStatus.Attested ||
      att.status === AttestationStatus.Failed
    )
      return true;
    if (att.status !== AttestationStatus.Committed) return false;
    const i = att.attestors.indexOf(this.address);
    if (i < 0) return true;
    return (att.revealedMask & (1n << BigInt(i))) !== 0n || now > att.revealDeadline;
  }

  async reconcile({ queue }: ReconcileContext): Promise<void> {
    for (const v of await this.desired())
      await queue.enqueue({
        key: `${v.phase}:${v.jobId}`,
        type: v.phase,
        payload: { jobId: v.jobId.toString() },
      });
  }

  /** Which vote, if any, `att` calls for from me at chain time `now`. */
  private phaseOf(att: Attestation, now: bigint): VotePhase | undefined {
    if (att.status !== AttestationStatus.Committed) return undefined;
    const i = att.attestors.indexOf(this.address);
    if (i < 0) return undefined;
    const bit = 1n << BigInt(i);
    const committed = (att.committedMask & bit) !== 0n;
    const revealed = (att.revealedMask & bit) !== 0n;
    if (!committed) return now <= att.commitDeadline ? "commit" : undefined;
    if (revealed) return undefined;
    const all = (1n << BigInt(att.attestors.length)) - 1n;
    const revealOpen = now > att.commitDeadline || (att.committedMask & all) === all;
    return revealOpen && now <= att.revealDeadline ? "reveal" : undefined;
  }

  private async commit(action: Action): Promise<ActionOutcome> {
    const jobId = jobOf(action);
    const att = await this.attestation(jobId);
    const i = this.indexIn(att, jobId);
    if ((att.committedMask & (1n << BigInt(i))) !== 0n) return { status: "succeeded" }; // already on chain
    if (att.status !== AttestationStatus.Committed)
      return {
        status: "abandoned",
        reason: `job ${jobId} left the commit phase (status ${att.status})`,
      };
    if ((await this.chainTime()) > att.commitDeadline)
      return { status: "abandoned", reason: `job ${jobId}'s commit window closed` };
    const value = await this.derive(jobId);
    await commitVote(this.io(), jobId, value, await this.salt(jobId));
    return { status: "succeeded" };
  }

  private async reveal(action: Action): Promise<ActionOutcome> {
    const jobId = jobOf(action);
    const att = await this.attestation(jobId);
    const i = this.indexIn(att, jobId);
    const bit = 1n << BigInt(i);
    if ((att.revealedMask & bit) !== 0n) return { status: "succeeded" }; // already on chain
    if ((att.committedMask & bit) === 0n)
      return { status: "abandoned", reason: `nothing committed for job ${jobId}` };
    if (att.status !== AttestationStatus.Committed || (await this.chainTime()) > att.revealDeadline)
      return { status: "abandoned", reason: `job ${jobId}'s reveal window closed` };
    const onChain = await this.myCommitment(jobId);
    const salt = await this.salt(jobId);
    const candidates = [await this.derive(jobId).catch(() => INVALID), INVALID];
    const value = candidates.find((v) => memberCommitment(v, salt, this.address) === onChain);
    if (value === undefined)
      throw new PermanentActionError(
        `job ${jobId}: no value this attestor derives matches its on-chain commitment ${onChain}`,
      );
    await revealVote(this.io(), { jobId, value, salt, commitment: onChain });
    return { status: "succeeded" };
  }

  /** The value to attest (the library's derivation). A not-drawn/not-committed job cannot be attested at all. */
  private async derive(jobId: bigint): Promise<Hex> {
    const [cohort, model] = await Promise.all([
      this.o.inputs.cohort(jobId),
      this.o.inputs.model(jobId),
    ]);
    try {
      const outcome = await attestJob(
        {
          chain: chainAttestorReads(this.o.publicClient, this.o.contracts, {
            ...(this.o.fromBlock === undefined ? {} : { fromBlock: this.o.fromBlock }),
          }),
          store: this.o.store,
          ...(this.o.fetchTimeoutMs === undefined ? {} : { fetchTimeoutMs: this.o.fetchTimeoutMs }),
          cohort,
          me: { address: this.address, x25519SecretKey: await this.secret() },
          model,
          session: { chainId: this.o.chainId, jobMarket: this.o.contracts.JobMarket },
        },
        jobId,
      );
      return outcome.value;
    } catch (e) {
      if (e instanceof AttestorError && (e.code === "NOT_DRAWN" || e.code === "KEY_MISMATCH"))
        throw new PermanentActionError(e.message, { cause: e });
      throw e;
    }
  }

  /** The per-job salt: keccak256 of the operator's deterministic signature over a message naming the job. */
  async salt(jobId: bigint): Promise<Hex> {
    const message = `DML attestation salt v1: chain ${this.o.chainId}, ResultAttestation ${this.o.contracts.ResultAttestation}, job ${jobId}`;
    return keccak256(await walletSigner(this.o.wallet).signMessage(message));
  }

  private async secret(): Promise<Uint8Array> {
    this.x25519 ??= (await deriveOperatorKey(walletSigner(this.o.wallet))).secretKey;
    return this.x25519;
  }

  private async attestation(jobId: bigint): Promise<Attestation> {
    return attestationSchema.parse(
      await this.o.publicClient.readContract({
        address: this.o.contracts.ResultAttestation,
        abi: this.abi,
        functionName: "attestationOf",
        args: [jobId],
      }),
    );
  }

  private indexIn(att: Attestation, jobId: bigint): number {
    const i = att.attestors.indexOf(this.address);
    if (i < 0)
      throw new PermanentActionError(`${this.address} is not a drawn attestor of job ${jobId}`);
    return i;
  }

  private async myCommitment(jobId: bigint): Promise<Hex> {
    const logs = await this.o.publicClient.getContractEvents({
      address: this.o.contracts.ResultAttestation,
      abi: this.abi,
      eventName: "AttestationCommitted",
      args: { jobId, attestor: this.address },
      fromBlock: this.o.fromBlock ?? 0n,
    });
    const last = logs.at(-1);
    if (last === undefined)
      throw new Error(`job ${jobId}: my AttestationCommitted event is not visible yet`);
    return committedEventSchema.parse(last).args.commitment as Hex;
  }

  private async chainTime(): Promise<bigint> {
    return (await this.o.publicClient.getBlock()).timestamp;
  }

  private io(): VoteIo {
    return {
      resultAttestation: this.o.contracts.ResultAttestation,
      wallet: this.o.wallet,
      publicClient: this.o.publicClient,
    };
  }
}

function jobOf(action: Action): bigint {
  const p = payloadSchema.safeParse(action.payload);
  if (!p.success) throw new PermanentActionError(`action ${action.key}: bad payload`);
  return BigInt(p.data.jobId);
}
