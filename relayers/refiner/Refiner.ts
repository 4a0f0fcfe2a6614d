/**
 * The refiner role (PROTOCOL.md §5, §7.7) on the relayer loop: for each active fine-tuning bounty it watches, it
 * builds the round's candidate from the groups' securely aggregated updates, publishes the round list, commits the
 * candidate hidden, reveals it once the quorum's reveal phase opens, and finalises (or closes) the round.
 *
 *   reconcile  every active bounty (`BountyCreated`, optionally filtered) at its current round:
 *              Open, deadline not passed, the groups' updates ready       → `commit:<bounty>:<round>`
 *              Open, deadline passed (nobody committed)                   → `close:<bounty>:<round>`
 *              mine, Attesting, undrawn, seed block mined, not expired    → `draw:<bounty>:<round>`
 *              mine, not revealed, candidate reveal open (contract rule)  → `reveal:<bounty>:<round>`
 *              mine, the round's phase over (`_judge` would not revert)    → `finalize:<bounty>:<round>`
 *   commit     chain first: the round left Open → success when this refiner committed it, else abandoned. Else
 *              keep the groups whose mean update has a positive gain on the public control group, build the
 *              candidate (or reuse the one persisted by an earlier attempt), publish the round list on IPFS,
 *              **persist the candidate**, then `commitCandidate`.
 *   reveal     chain first: already revealed → success. Else load the persisted candidate, check it opens the
 *              on-chain commitment, state its metric on the revealed split, `revealCandidate`.
 *   finalize / close / draw   chain first: the round moved on (or the draw happened) → success; else send.
 *
 * The salt is never stored: it is `keccak256(signature)` of a fixed message naming the chain, the contract, the
 * bounty and the round (RFC 6979 signatures are deterministic), as the attestor derives its own. The candidate
 * (model CID and hash, list CID, payout root) is written to `<stateDir>/candidates/` before the commitment is sent,
 * so a refiner restarted between commit and reveal reveals exactly once.
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { getAddress, keccak256, type Abi, type Address, type Hex } from "viem";
import { z } from "zod";
import { fineTuningAbi } from "#sdk/chain/abi/FineTuning.ts";
import type { ChainPublicClient, ChainWalletClient } from "#sdk/chain/clients.ts";
import {
  buildRoundList,
  candidateCommitment,
  trainerBudget,
  type AcceptedGroup,
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

/** `IFineTuning.RoundStatus`. */
export const RoundStatus = {
  Open: 0,
  Committed: 1,
  Accepted: 2,
  Rejected: 3,
  Attesting: 4,
} as const;
/** `IFineTuning.BountyStatus`. */
export const BountyStatus = { None: 0, Active: 1, Finalized: 2 } as const;

export type RefinerPhase = "commit" | "close" | "draw" | "reveal" | "finalize";

export interface DesiredRoundAction {
  bountyId: bigint;
  round: number;
  phase: RefinerPhase;
}

/** One secure-aggregation group's result for a round: its surviving members, sample sum and control-group gain. */
export interface GroupUpdate {
  group: number;
  members: readonly Address[];
  /** The group's aggregate sample count (the only per-group count that leaves secure aggregation). */
  samples: bigint;
  /** Metric gain of the group's mean update on the public control group (fixed point 1e18; may be negative). */
  gain: bigint;
}

/** A built candidate: its package on IPFS and the sha256 of its model.onnx. */
export interface Candidate {
  modelCid: string;
  modelSha256: Hex;
}

/** Where the refiner's inputs come from: the groups' aggregated updates, the model building and evaluation. */
export interface RefinerWork {
  /** The round's group updates once every group's secure aggregation finished (undefined: not yet). */
  groups(bountyId: bigint, round: number): Promise<readonly GroupUpdate[] | undefined>;
  /** Applies the accepted groups' sample-weighted mean update, packages and publishes the candidate. */
  buildCandidate(
    bountyId: bigint,
    round: number,
    accepted: readonly GroupUpdate[],
  ): Promise<Candidate>;
  /**
   * The candidate's metric (fixed point 1e18) on the round's revealed hidden split, or on the control group when
   * the split was not revealed in time (`splitCid` undefined).
   */
  metric(
    bountyId: bigint,
    round: number,
    candidate: Candidate,
    splitCid: string | undefined,
  ): Promise<bigint>;
}

export interface RefinerContracts {
  FineTuning: Address;
}

export interface RefinerOptions {
  publicClient: ChainPublicClient;
  wallet: ChainWalletClient;
  contracts: RefinerContracts;
  chainId: number;
  store: Pick<ContentStore, "addBytes">;
  work: RefinerWork;
  /** Where candidates are persisted between commit and reveal (the role's data directory). */
  stateDir: string;
  /** Only these bounties (default: every bounty created on the contract). */
  bounties?: readonly bigint[];
  fromBlock?: bigint;
  rescanBlocks?: bigint;
}

/** What survives a restart between commit and reveal. */
const persistedSchema = z.strictObject({
  bountyId: z.string().regex(/^\d{1,78}$/),
  round: z.number().int().min(0),
  modelCid: z.string().min(1),
  modelSha256: z.string().regex(/^0x[0-9a-fA-F]{64}$/),
  listCid: z.string().min(1),
  payoutRoot: z.string().regex(/^0x[0-9a-fA-F]{64}$/),
  accepted: z.array(z.number().int().min(0)),
});
export type PersistedCandidate = z.infer<typeof persistedSchema>;

const u = z.union([z.number(), z.bigint()]).transform((x) => BigInt(x));
const addr = z.string().transform((a) => getAddress(a));
const bountySchema = z.looseObject({
  status: u.transform(Number),
  rounds: u.transform(Number),
  currentRound: u.transform(Number),
  roundDuration: u,
  roundOpenedAt: u,
  rewardPool: u,
});
const roundSchema = z.looseObject({
  status: u.transform(Number),
  refiner: addr,
  claimHash: z.string(),
  commitDeadline: u,
  revealDeadline: u,
  committedMask: u,
  revealedMask: u,
  attestors: z.array(addr),
  splitDeadline: u,
  candidateRevealed: z.boolean(),
  seedBlock: u,
  listCid: z.string(),
});
type RoundInfo = z.infer<typeof roundSchema>;
const paramsSchema = z.looseObject({ revealWindow: u, attestorShareBps: u.transform(Number) });
const createdSchema = z.looseObject({ args: z.looseObject({ bountyId: z.bigint() }) });
const splitSchema = z.looseObject({ args: z.looseObject({ splitCid: z.string() }) });
const payloadSchema = z.strictObject({
  bountyId: z.string().regex(/^\d{1,78}$/),
  round: z.number().int().min(0),
});

const ZERO = `0x${"0".repeat(40)}`;

export class Refiner implements RoleRuntime {
  readonly address: Address;
  readonly handlers: Readonly<Record<RefinerPhase, ActionHandler>>;
  private readonly o: RefinerOptions;
  private readonly abi = fineTuningAbi;
  private readonly active = new Set<bigint>();
  private readonly window: ScanWindow;
  private sender: Promise<TxSender> | undefined;

  constructor(opts: RefinerOptions) {
    this.o = opts;
    this.address = getAddress(opts.wallet.account.address);
    this.window = new ScanWindow(opts.fromBlock ?? 0n, opts.rescanBlocks);
    this.handlers = {
      commit: (a) => this.commit(a),
      close: (a) => this.closeRound(a),
      draw: (a) => this.draw(a),
      reveal: (a) => this.reveal(a),
      finalize: (a) => this.finalize(a),
    };
  }

  /** The round transactions the chain calls for now (the reconcile's pure part; exported for tests and tools). */
  async desired(): Promise<DesiredRoundAction[]> {
    const head = await this.o.publicClient.getBlockNumber({ cacheTime: 0 });
    const range = this.window.next(head);
    if (range !== undefined) {
      const logs = await this.o.publicClient.getContractEvents({
        address: this.o.contracts.FineTuning,
        abi: this.abi,
        eventName: "BountyCreated",
        ...range,
      });
      for (const log of logs) {
        const { bountyId } = createdSchema.parse(log).args;
        if (this.o.bounties === undefined || this.o.bounties.includes(bountyId))
          this.active.add(bountyId);
      }
    }
    this.window.done(head);
    const block = await this.o.publicClient.getBlock({ blockNumber: head });
    const now = block.timestamp;
    const out: DesiredRoundAction[] = [];
    for (const bountyId of this.activeBounties()) {
      const bounty = await this.bounty(bountyId);
      if (bounty.status !== BountyStatus.Active) {
        if (bounty.status === BountyStatus.Finalized) this.active.delete(bountyId);
        continue;
      }
      const round = bounty.currentRound;
      const r = await this.round(bountyId, round);
      const phase = await this.phaseOf(bountyId, bounty, r, now, head);
      if (phase !== undefined) out.push({ bountyId, round, phase });
    }
    return out;
  }

  /** Bounties still watched (created, not finalised), for tools and tests. */
  activeBounties(): bigint[] {
    return [...this.active].sort((a, b) => (a < b ? -1 : 1));
  }

  onReorg(event: { ancestor: bigint }): void {
    this.window.onReorg(event.ancestor);
  }

  async reconcile({ queue }: ReconcileContext): Promise<void> {
    for (const d of await this.desired())
      await queue.enqueue({
        key: `${d.phase}:${d.bountyId}:${d.round}`,
        type: d.phase,
        payload: { bountyId: d.bountyId.toString(), round: d.round },
      });
  }

  private async phaseOf(
    bountyId: bigint,
    bounty: z.infer<typeof bountySchema>,
    r: RoundInfo,
    now: bigint,
    head: bigint,
  ): Promise<RefinerPhase | undefined> {
    if (r.status === RoundStatus.Open) {
      if (now > bounty.roundOpenedAt + bounty.roundDuration) return "close";
      const groups = await this.o.work.groups(bountyId, bounty.currentRound);
      return groups === undefined ? undefined : "commit";
    }
    if (r.refiner !== this.address) return undefined;
    if (this.revealOpen(r, now, await this.revealWindow())) return "reveal";
    if (await this.finalizable(r, now)) return "finalize";
    if (
      r.status === RoundStatus.Attesting &&
      r.attestors.length === 0 &&
      head > r.seedBlock &&
      now <= r.revealDeadline
    )
      return "draw";
    return undefined;
  }

  /** `revealCandidate`'s window, as the contract checks it. */
  private revealOpen(r: RoundInfo, now: bigint, revealWindow: bigint): boolean {
    if (r.candidateRevealed) return false;
    if (r.status === RoundStatus.Attesting) {
      const size = r.attestors.length;
      if (size === 0) return false;
      const all = (1n << BigInt(size)) - 1n;
      const open = now > r.commitDeadline || (r.committedMask & all) === all;
      return open && now <= r.revealDeadline;
    }
    if (r.status === RoundStatus.Committed)
      return now > r.splitDeadline && now <= r.splitDeadline + revealWindow;
    return false;
  }

  /** Whether `finalizeRound` would not revert (`FineTuning._judge`). */
  private async finalizable(r: RoundInfo, now: bigint): Promise<boolean> {
    if (r.status === RoundStatus.Committed)
      return (
        now >
        (r.candidateRevealed ? r.splitDeadline : r.splitDeadline + (await this.revealWindow()))
      );
    if (r.status !== RoundStatus.Attesting) return false;
    if (r.attestors.length === 0) return now > r.revealDeadline;
    const all = (1n << BigInt(r.attestors.length)) - 1n;
    const allRevealed = (r.revealedMask & all) === all;
    if (now > r.revealDeadline) return true;
    return r.candidateRevealed && allRevealed;
  }

  private async commit(action: Action): Promise<ActionOutcome> {
    const { bountyId, round } = payloadOf(action);
    const bounty = await this.bounty(bountyId);
    const r = await this.round(bountyId, round);
    if (bounty.currentRound !== round || r.status !== RoundStatus.Open) {
      if (r.refiner === this.address) return { status: "succeeded" }; // my commitment is on chain
      return {
        status: "abandoned",
        reason: `round ${bountyId}/${round} left Open (status ${r.status})`,
      };
    }
    if ((await this.chainTime()) > bounty.roundOpenedAt + bounty.roundDuration)
      return { status: "abandoned", reason: `round ${bountyId}/${round}'s deadline passed` };
    const candidate =
      (await this.loadCandidate(bountyId, round)) ?? (await this.prepare(bountyId, round, bounty));
    const salt = await this.salt(bountyId, round);
    const commitment = candidateCommitment(
      candidate.modelSha256 as Hex,
      candidate.payoutRoot as Hex,
      salt,
    );
    await this.send("commitCandidate", [
      bountyId,
      commitment,
      candidate.modelCid,
      candidate.listCid,
    ]);
    return { status: "succeeded" };
  }

  /** Selects the groups, builds and publishes the candidate and the round list, persists them. */
  private async prepare(
    bountyId: bigint,
    round: number,
    bounty: z.infer<typeof bountySchema>,
  ): Promise<PersistedCandidate> {
    const groups = await this.o.work.groups(bountyId, round);
    if (groups === undefined)
      throw new Error(`round ${bountyId}/${round}: group updates not ready`);
    const accepted = selectGroups(groups);
    if (accepted.length === 0)
      throw new PermanentActionError(
        `round ${bountyId}/${round}: no group's update improves the control group`,
      );
    const candidate = await this.o.work.buildCandidate(bountyId, round, accepted);
    const params = paramsSchema.parse(
      await this.o.publicClient.readContract({
        address: this.o.contracts.FineTuning,
        abi: this.abi,
        functionName: "params",
      }),
    );
    const { list, payoutRoot } = buildRoundList({
      bountyId,
      round,
      budget: trainerBudget(bounty.rewardPool, bounty.rounds, params.attestorShareBps),
      groups: accepted.map((g): AcceptedGroup => ({ members: g.members, samples: g.samples })),
    });
    const listCid = await this.o.store.addBytes(new TextEncoder().encode(JSON.stringify(list)));
    const persisted: PersistedCandidate = {
      bountyId: bountyId.toString(),
      round,
      modelCid: candidate.modelCid,
      modelSha256: candidate.modelSha256,
      listCid,
      payoutRoot,
      accepted: accepted.map((g) => g.group),
    };
    await this.saveCandidate(persisted);
    return persisted;
  }

  private async reveal(action: Action): Promise<ActionOutcome> {
    const { bountyId, round } = payloadOf(action);
    const bounty = await this.bounty(bountyId);
    const r = await this.round(bountyId, round);
    if (r.refiner !== this.address)
      return { status: "abandoned", reason: `round ${bountyId}/${round} is not mine` };
    if (r.candidateRevealed) return { status: "succeeded" }; // already on chain
    if (
      bounty.currentRound !== round ||
      !this.revealOpen(r, await this.chainTime(), await this.revealWindow())
    )
      return {
        status: "abandoned",
        reason: `round ${bountyId}/${round}'s candidate reveal is not open`,
      };
    const c = await this.loadCandidate(bountyId, round);
    if (c === undefined)
      throw new PermanentActionError(`round ${bountyId}/${round}: the committed candidate is lost`);
    const salt = await this.salt(bountyId, round);
    const sha = c.modelSha256 as Hex;
    const root = c.payoutRoot as Hex;
    if (candidateCommitment(sha, root, salt) !== r.claimHash)
      throw new PermanentActionError(
        `round ${bountyId}/${round}: the persisted candidate does not open the on-chain commitment`,
      );
    const metric = await this.o.work.metric(
      bountyId,
      round,
      { modelCid: c.modelCid, modelSha256: sha },
      r.status === RoundStatus.Attesting ? await this.splitCid(bountyId, round) : undefined,
    );
    await this.send("revealCandidate", [bountyId, sha, metric, root, salt]);
    return { status: "succeeded" };
  }

  private async finalize(action: Action): Promise<ActionOutcome> {
    const { bountyId, round } = payloadOf(action);
    const [bounty, r] = await Promise.all([this.bounty(bountyId), this.round(bountyId, round)]);
    if (bounty.status !== BountyStatus.Active || bounty.currentRound !== round)
      return { status: "succeeded" }; // the round was finalised (by anyone)
    if (!(await this.finalizable(r, await this.chainTime())))
      return { status: "abandoned", reason: `round ${bountyId}/${round} is not over` };
    await this.send("finalizeRound", [bountyId]);
    return { status: "succeeded" };
  }

  private async closeRound(action: Action): Promise<ActionOutcome> {
    const { bountyId, round } = payloadOf(action);
    const [bounty, r] = await Promise.all([this.bounty(bountyId), this.round(bountyId, round)]);
    if (bounty.status !== BountyStatus.Active || bounty.currentRound !== round)
      return { status: "succeeded" };
    if (r.status !== RoundStatus.Open)
      return { status: "abandoned", reason: `round ${bountyId}/${round} got a candidate` };
    await this.send("closeRound", [bountyId]);
    return { status: "succeeded" };
  }

  private async draw(action: Action): Promise<ActionOutcome> {
    const { bountyId, round } = payloadOf(action);
    const r = await this.round(bountyId, round);
    if (r.attestors.length > 0) return { status: "succeeded" };
    if (r.status !== RoundStatus.Attesting)
      return { status: "abandoned", reason: `round ${bountyId}/${round} is not attesting` };
    await this.send("drawAttestors", [bountyId]);
    return { status: "succeeded" };
  }

  /** The per-round salt: keccak256 of the operator's deterministic signature over a message naming the round. */
  async salt(bountyId: bigint, round: number): Promise<Hex> {
    const message = `DML refiner salt v1: chain ${this.o.chainId}, FineTuning ${this.o.contracts.FineTuning}, bounty ${bountyId}, round ${round}`;
    return keccak256(await walletSigner(this.o.wallet).signMessage(message));
  }

  private candidateFile(bountyId: bigint, round: number): string {
    return path.join(this.o.stateDir, "candidates", `${bountyId}-${round}.json`);
  }

  /** The candidate persisted for a round (undefined when none). */
  async loadCandidate(bountyId: bigint, round: number): Promise<PersistedCandidate | undefined> {
    let raw: string;
    try {
      raw = await readFile(this.candidateFile(bountyId, round), "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw e;
    }
    const parsed = persistedSchema.safeParse(JSON.parse(raw));
    if (!parsed.success)
      throw new PermanentActionError(
        `${this.candidateFile(bountyId, round)}: not a persisted candidate`,
      );
    return parsed.data;
  }

  private async saveCandidate(c: PersistedCandidate): Promise<void> {
    const file = this.candidateFile(BigInt(c.bountyId), c.round);
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    const tmp = `${file}.tmp`;
    await writeFile(tmp, JSON.stringify(c), { mode: 0o600, flush: true });
    await rename(tmp, file);
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

  private async bounty(bountyId: bigint): Promise<z.infer<typeof bountySchema>> {
    return bountySchema.parse(
      await this.o.publicClient.readContract({
        address: this.o.contracts.FineTuning,
        abi: this.abi,
        functionName: "getBounty",
        args: [bountyId],
      }),
    );
  }

  private async round(bountyId: bigint, round: number): Promise<RoundInfo> {
    const r = roundSchema.parse(
      await this.o.publicClient.readContract({
        address: this.o.contracts.FineTuning,
        abi: this.abi,
        functionName: "getRound",
        args: [bountyId, BigInt(round)],
      }),
    );
    return r.refiner === ZERO ? { ...r, refiner: getAddress(ZERO) } : r;
  }

  private revealWindowValue: bigint | undefined;
  private async revealWindow(): Promise<bigint> {
    this.revealWindowValue ??= paramsSchema.parse(
      await this.o.publicClient.readContract({
        address: this.o.contracts.FineTuning,
        abi: this.abi,
        functionName: "params",
      }),
    ).revealWindow;
    return this.revealWindowValue;
  }

  private async send(functionName: string, args: readonly unknown[]): Promise<void> {
    this.sender ??= TxSender.create({
      publicClient: this.o.publicClient,
      walletClient: this.o.wallet,
    });
    this.sender.catch(() => (this.sender = undefined));
    await (
      await this.sender
    ).send({
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

/** The groups whose mean update improves the control group (positive gain), in group order. */
export function selectGroups(groups: readonly GroupUpdate[]): GroupUpdate[] {
  return groups
    .filter((g) => g.gain > 0n && g.samples > 0n && g.members.length > 0)
    .sort((a, b) => a.group - b.group);
}

function payloadOf(action: Action): { bountyId: bigint; round: number } {
  const p = payloadSchema.safeParse(action.payload);
  if (!p.success) throw new PermanentActionError(`action ${action.key}: bad payload`);
  return { bountyId: BigInt(p.data.bountyId), round: p.data.round };
}
