/**
 * The attestor of fine-tuning rounds (PROTOCOL.md §7.7) on the relayer loop, beside the job attestor (Attestor.ts)
 * in the same `dml-relayer attestor` process (compose.ts). round-value.ts derives the value; this class decides when
 * to commit and reveal it and never does either twice.
 *
 *   reconcile  every round whose `FineTuning.AttestorsDrawn` names this operator (the draw happens only once the
 *              split is revealed) while it is the bounty's current round and `Attesting`: my commit bit unset and
 *              the commit window open → `round-commit:<bounty>:<round>`; committed, not revealed, and the reveal
 *              window open (commit deadline passed, or every attestor committed) → `round-reveal:<bounty>:<round>`.
 *   commit     chain first: already committed → success; round moved on or window closed → abandoned. Else derive
 *              the value (round-value.ts: the candidate's metric on the split, the canonical payout root; or a
 *              reserved value) and `commitAttestation`.
 *   reveal     chain first: already revealed → success; window closed → abandoned. Else the value whose
 *              `memberCommitment(value, salt, me)` is my `AttestationCommitted` commitment: the reserved values
 *              (cheap), the value this process derived at commit, then a fresh derivation (after a restart).
 *
 * The salt is never stored: `keccak256(signature)` of a fixed message naming the chain, the contract, the bounty and
 * the round (RFC 6979 signatures are deterministic), as the job attestor derives its own.
 */
import { getAddress, keccak256, type Abi, type Address, type Hex } from "viem";
import { z } from "zod";
import { fineTuningAbi } from "#sdk/chain/abi/FineTuning.ts";
import type { ChainPublicClient, ChainWalletClient } from "#sdk/chain/clients.ts";
import { memberCommitment } from "#sdk/chain/commitments.ts";
import {
  BountyStatus,
  FineTuningRoundStatus,
  RESERVED_ROUND_VALUES,
  trainerBudget,
} from "#sdk/chain/finetuning.ts";
import { TxSender } from "#sdk/chain/tx-sender.ts";
import { walletSigner } from "#sdk/crypto/operator-key.ts";
import type { ContentStore } from "#sdk/ipfs/index.ts";
import type { Action } from "../common/action-queue.ts";
import {
  PermanentActionError,
  type ActionHandler,
  type ActionOutcome,
  type ReconcileContext,
  type RoleRuntime,
} from "../common/loop.ts";
import { ScanWindow } from "../common/scan-window.ts";
import { deriveRoundValue, type RoundInputs, type RoundVerdict } from "./round-value.ts";

export type RoundVotePhase = "round-commit" | "round-reveal";

/** One vote transaction the chain calls for on a fine-tuning round. */
export interface DesiredRoundVote {
  bountyId: bigint;
  round: number;
  phase: RoundVotePhase;
}

export interface RoundAttestorOptions {
  publicClient: ChainPublicClient;
  wallet: ChainWalletClient;
  contracts: { FineTuning: Address };
  chainId: number;
  store: ContentStore;
  /** First block scanned for `AttestorsDrawn` (the deployment block). */
  fromBlock?: bigint;
  /** Blocks below the last scanned head every tick scans again (default 64). */
  rescanBlocks?: bigint;
  /** Longest wait for one fetch (candidate, list, split); past it the content counts as unfetchable. */
  fetchTimeoutMs?: number;
  /** Told each derived verdict (logs, tests). */
  onVerdict?: (round: { bountyId: bigint; round: number }, verdict: RoundVerdict) => void;
}

const u = z.union([z.number(), z.bigint()]).transform((x) => BigInt(x));
const bountySchema = z.looseObject({
  status: u.transform(Number),
  rounds: u.transform(Number),
  currentRound: u.transform(Number),
  rewardPool: u,
  controlCid: z.string(),
});
type Bounty = z.infer<typeof bountySchema>;
const roundSchema = z.looseObject({
  status: u.transform(Number),
  commitDeadline: u,
  revealDeadline: u,
  committedMask: u,
  revealedMask: u,
  attestors: z.array(z.string().transform((a) => getAddress(a))),
  claim: z.looseObject({ modelCid: z.string() }),
  listCid: z.string(),
});
type Round = z.infer<typeof roundSchema>;
const paramsSchema = z.looseObject({ attestorShareBps: u.transform(Number) });
const drawnSchema = z.looseObject({
  args: z.looseObject({ bountyId: z.bigint(), round: z.bigint(), attestors: z.array(z.string()) }),
});
const splitSchema = z.looseObject({ args: z.looseObject({ splitCid: z.string() }) });
const committedSchema = z.looseObject({ args: z.looseObject({ commitment: z.string() }) });
const payloadSchema = z.strictObject({
  bountyId: z.string().regex(/^\d{1,78}$/),
  round: z.number().int().min(0).max(255),
});

const keyOf = (bountyId: bigint, round: number) => `${bountyId}:${round}`;

export class RoundAttestor implements RoleRuntime {
  readonly address: Address;
  readonly handlers: Readonly<Record<RoundVotePhase, ActionHandler>>;
  /** What to vote on follows from the chain at its head alone (the transcripts are read by the handlers). */
  readonly reconcilesChainOnly = true;
  private readonly o: RoundAttestorOptions;
  private readonly abi = fineTuningAbi;
  /** Rounds this operator was drawn for and that are not finished (rebuilt by one full scan after a restart). */
  private readonly open = new Map<string, { bountyId: bigint; round: number }>();
  /** Values derived in this process (the reveal tries them before deriving again). */
  private readonly derived = new Map<string, Hex>();
  private readonly window: ScanWindow;

  constructor(opts: RoundAttestorOptions) {
    this.o = opts;
    this.address = getAddress(opts.wallet.account.address);
    this.window = new ScanWindow(opts.fromBlock ?? 0n, opts.rescanBlocks);
    this.handlers = {
      "round-commit": (a) => this.commit(a),
      "round-reveal": (a) => this.reveal(a),
    };
  }

  /** The vote transactions the chain calls for now (the reconcile's pure part; exported for tests and tools). */
  async desired(): Promise<DesiredRoundVote[]> {
    const head = await this.o.publicClient.getBlockNumber({ cacheTime: 0 });
    const range = this.window.next(head);
    if (range !== undefined) {
      const logs = await this.o.publicClient.getContractEvents({
        address: this.o.contracts.FineTuning,
        abi: this.abi,
        eventName: "AttestorsDrawn",
        ...range,
      });
      for (const log of logs) {
        const { args } = drawnSchema.parse(log);
        if (args.attestors.some((a) => getAddress(a) === this.address)) {
          const round = Number(args.round);
          this.open.set(keyOf(args.bountyId, round), { bountyId: args.bountyId, round });
        }
      }
    }
    this.window.done(head);
    const now = await this.chainTime();
    const out: DesiredRoundVote[] = [];
    for (const [key, { bountyId, round }] of [...this.open].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const [bounty, r] = await Promise.all([this.bounty(bountyId), this.round(bountyId, round)]);
      if (this.finished(bounty, r, round, now)) {
        this.open.delete(key);
        this.derived.delete(key);
        continue;
      }
      const phase = this.phaseOf(r, now);
      if (phase !== undefined) out.push({ bountyId, round, phase });
    }
    return out;
  }

  async reconcile({ queue }: ReconcileContext): Promise<void> {
    for (const v of await this.desired())
      await queue.enqueue({
        key: `${v.phase}:${v.bountyId}:${v.round}`,
        type: v.phase,
        payload: { bountyId: v.bountyId.toString(), round: v.round },
      });
  }

  /** After a reorg: scan again from the common ancestor; open rounds stay open (`desired()` re-reads them). */
  onReorg(event: { ancestor: bigint }): void {
    this.window.onReorg(event.ancestor);
  }

  /** Rounds still open for this operator (drawn, not finished), for tools and tests. */
  openRounds(): { bountyId: bigint; round: number }[] {
    return [...this.open.values()].sort((a, b) =>
      a.bountyId === b.bountyId ? a.round - b.round : a.bountyId < b.bountyId ? -1 : 1,
    );
  }

  /**
   * Nothing more to do: the round is no longer the bounty's current one or no longer `Attesting` (finalised), I am
   * not among its attestors (its draw was reorged away), my vote is revealed, or its reveal window is over.
   */
  private finished(bounty: Bounty, r: Round, round: number, now: bigint): boolean {
    if (bounty.status !== BountyStatus.Active || bounty.currentRound !== round) return true;
    if (r.status !== FineTuningRoundStatus.Attesting) return true;
    const i = r.attestors.indexOf(this.address);
    if (i < 0) return true;
    return (r.revealedMask & (1n << BigInt(i))) !== 0n || now > r.revealDeadline;
  }

  private phaseOf(r: Round, now: bigint): RoundVotePhase | undefined {
    const i = r.attestors.indexOf(this.address);
    if (i < 0) return undefined;
    const bit = 1n << BigInt(i);
    if ((r.committedMask & bit) === 0n) return now <= r.commitDeadline ? "round-commit" : undefined;
    if ((r.revealedMask & bit) !== 0n) return undefined;
    return this.revealOpen(r, now) ? "round-reveal" : undefined;
  }

  private revealOpen(r: Round, now: bigint): boolean {
    const all = (1n << BigInt(r.attestors.length)) - 1n;
    return (now > r.commitDeadline || (r.committedMask & all) === all) && now <= r.revealDeadline;
  }

  private async commit(action: Action): Promise<ActionOutcome> {
    const { bountyId, round } = payloadOf(action);
    const [bounty, r] = await Promise.all([this.bounty(bountyId), this.round(bountyId, round)]);
    const i = this.indexIn(r, bountyId, round);
    if ((r.committedMask & (1n << BigInt(i))) !== 0n) return { status: "succeeded" }; // on chain
    if (
      bounty.status !== BountyStatus.Active ||
      bounty.currentRound !== round ||
      r.status !== FineTuningRoundStatus.Attesting
    )
      return { status: "abandoned", reason: `round ${bountyId}/${round} left the commit phase` };
    if ((await this.chainTime()) > r.commitDeadline)
      return { status: "abandoned", reason: `round ${bountyId}/${round}'s commit window closed` };
    const value = await this.derive(bountyId, round, bounty, r);
    const salt = await this.salt(bountyId, round);
    await this.send("commitAttestation", [bountyId, memberCommitment(value, salt, this.address)]);
    return { status: "succeeded" };
  }

  private async reveal(action: Action): Promise<ActionOutcome> {
    const { bountyId, round } = payloadOf(action);
    const [bounty, r] = await Promise.all([this.bounty(bountyId), this.round(bountyId, round)]);
    const i = this.indexIn(r, bountyId, round);
    const bit = 1n << BigInt(i);
    if ((r.revealedMask & bit) !== 0n) return { status: "succeeded" }; // on chain
    if ((r.committedMask & bit) === 0n)
      return { status: "abandoned", reason: `nothing committed for round ${bountyId}/${round}` };
    if (
      bounty.status !== BountyStatus.Active ||
      bounty.currentRound !== round ||
      r.status !== FineTuningRoundStatus.Attesting ||
      !this.revealOpen(r, await this.chainTime())
    )
      return { status: "abandoned", reason: `round ${bountyId}/${round}'s reveal window closed` };
    const onChain = await this.myCommitment(bountyId, round);
    const salt = await this.salt(bountyId, round);
    const opens = (v: Hex) => memberCommitment(v, salt, this.address) === onChain;
    const cached = this.derived.get(keyOf(bountyId, round));
    let value = [...RESERVED_ROUND_VALUES, ...(cached === undefined ? [] : [cached])].find(opens);
    if (value === undefined) {
      const fresh = await this.derive(bountyId, round, bounty, r);
      if (opens(fresh)) value = fresh;
    }
    if (value === undefined)
      throw new PermanentActionError(
        `round ${bountyId}/${round}: no value this attestor derives matches its on-chain commitment ${onChain}`,
      );
    await this.send("revealAttestation", [bountyId, value, salt]);
    return { status: "succeeded" };
  }

  /** The round's value from its public inputs (round-value.ts). */
  private async derive(bountyId: bigint, round: number, bounty: Bounty, r: Round): Promise<Hex> {
    const splitCid = await this.splitCid(bountyId, round);
    if (splitCid === undefined)
      throw new Error(`round ${bountyId}/${round}: its SplitRevealed event is not visible yet`);
    const params = paramsSchema.parse(
      await this.o.publicClient.readContract({
        address: this.o.contracts.FineTuning,
        abi: this.abi,
        functionName: "params",
      }),
    );
    const inputs: RoundInputs = {
      bountyId,
      round,
      modelCid: r.claim.modelCid,
      listCid: r.listCid,
      splitCid,
      controlCid: bounty.controlCid,
      budget: trainerBudget(bounty.rewardPool, bounty.rounds, params.attestorShareBps),
    };
    const verdict = await deriveRoundValue(
      {
        store: this.o.store,
        ...(this.o.fetchTimeoutMs === undefined ? {} : { fetchTimeoutMs: this.o.fetchTimeoutMs }),
      },
      inputs,
    );
    this.o.onVerdict?.({ bountyId, round }, verdict);
    this.derived.set(keyOf(bountyId, round), verdict.value);
    return verdict.value;
  }

  /** The per-round salt: keccak256 of the operator's deterministic signature over a message naming the round. */
  async salt(bountyId: bigint, round: number): Promise<Hex> {
    const message = `DML round attestation salt v1: chain ${this.o.chainId}, FineTuning ${this.o.contracts.FineTuning}, bounty ${bountyId}, round ${round}`;
    return keccak256(await walletSigner(this.o.wallet).signMessage(message));
  }

  private indexIn(r: Round, bountyId: bigint, round: number): number {
    const i = r.attestors.indexOf(this.address);
    if (i < 0)
      throw new PermanentActionError(
        `${this.address} is not a drawn attestor of round ${bountyId}/${round}`,
      );
    return i;
  }

  private async splitCid(bountyId: bigint, round: number): Promise<string | undefined> {
    const logs = await this.o.publicClient.getContractEvents({
      address: this.o.contracts.FineTuning,
      abi: this.abi,
      eventName: "SplitRevealed",
      args: { bountyId, round: BigInt(round) },
      fromBlock: this.o.fromBlock ?? 0n,
    });
    const last = logs.at(-1);
    return last === undefined ? undefined : splitSchema.parse(last).args.splitCid;
  }

  private async myCommitment(bountyId: bigint, round: number): Promise<Hex> {
    const logs = await this.o.publicClient.getContractEvents({
      address: this.o.contracts.FineTuning,
      abi: this.abi,
      eventName: "AttestationCommitted",
      args: { bountyId, round: BigInt(round), attestor: this.address },
      fromBlock: this.o.fromBlock ?? 0n,
    });
    const last = logs.at(-1);
    if (last === undefined)
      throw new Error(
        `round ${bountyId}/${round}: my AttestationCommitted event is not visible yet`,
      );
    return committedSchema.parse(last).args.commitment as Hex;
  }

  private async bounty(bountyId: bigint): Promise<Bounty> {
    return bountySchema.parse(
      await this.o.publicClient.readContract({
        address: this.o.contracts.FineTuning,
        abi: this.abi,
        functionName: "getBounty",
        args: [bountyId],
      }),
    );
  }

  private async round(bountyId: bigint, round: number): Promise<Round> {
    return roundSchema.parse(
      await this.o.publicClient.readContract({
        address: this.o.contracts.FineTuning,
        abi: this.abi,
        functionName: "getRound",
        args: [bountyId, BigInt(round)],
      }),
    );
  }

  /** A fresh sender per transaction: its nonce is the chain's, whatever else this signer sent meanwhile. */
  private async send(
    functionName: "commitAttestation" | "revealAttestation",
    args: readonly unknown[],
  ): Promise<void> {
    const sender = await TxSender.create({
      publicClient: this.o.publicClient,
      walletClient: this.o.wallet,
    });
    await sender.send({
      address: this.o.contracts.FineTuning,
      abi: this.abi as Abi,
      functionName,
      args,
    });
  }

  private async chainTime(): Promise<bigint> {
    return (await this.o.publicClient.getBlock()).timestamp;
  }
}

function payloadOf(action: Action): { bountyId: bigint; round: number } {
  const p = payloadSchema.safeParse(action.payload);
  if (!p.success) throw new PermanentActionError(`action ${action.key}: bad payload`);
  return { bountyId: BigInt(p.data.bountyId), round: p.data.round };
}
