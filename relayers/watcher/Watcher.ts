/**
 * The watcher role (PROTOCOL.md §7.2–7.3) on the relayer loop: anyone may run it. It checks every connected-set post
 * and every drawn cohort it can read against the rules (checks.ts) while they can still be challenged, and proves
 * each fault on-chain; the proof slashes the poster and pays this operator the challenger share.
 *
 *   reconcile  scan `GrowthPool.EpochPosted` and `JobMarket.CohortAssigned` (incremental, with a re-scan margin).
 *              Each post still `Posted` and inside its challenge window: fetch its list (the CID of the event), check
 *              it once (the verdict is cached per post) and, on a fault, enqueue `challenge:set:<epoch>:<deadline>`
 *              with the evidence. Each cohort whose attestation is still open (`Drawn`/`Committed`, job
 *              `Assigned`/`Committed`): fetch its list and the connected set it is drawn from, check it once and,
 *              on a fault, enqueue `challenge:cohort:<job>`. The post's challenge deadline is part of its key: a
 *              voided epoch may be reposted, and the repost is a new post with its own verdict.
 *   handlers   chain first: the post is no longer the one checked (voided, reposted, settled) or the cohort is no
 *              longer challengeable → `succeeded` when this watcher's own challenge did it (its `PostChallenged` /
 *              `CohortChallenged` event), else `abandoned`; past the window → `abandoned`. Else send the challenge.
 *              A challenge the chain refuses with `…NoFault` is a `PermanentActionError` (checks.ts and the
 *              contract disagree: a bug to look at, not a retry).
 *
 * What cannot be proven on-chain is logged and reported by `verdicts()` as `unprovable`, never challenged: a list
 * that cannot be fetched (no contract function covers "unfetchable"), a list that does not parse or whose root is
 * not the posted one, a connected set that lists fewer leaves than its `n`, a cohort list shorter than its
 * `deviceCount` (docs/relayers.md, watcher).
 */
import { getAddress, type Abi, type Address, type Hex } from "viem";
import { z } from "zod";
import { algorithmMarketplaceAbi } from "#sdk/chain/abi/AlgorithmMarketplace.ts";
import { deviceRegistryAbi } from "#sdk/chain/abi/DeviceRegistry.ts";
import { growthPoolAbi } from "#sdk/chain/abi/GrowthPool.ts";
import { jobMarketAbi } from "#sdk/chain/abi/JobMarket.ts";
import { resultAttestationAbi } from "#sdk/chain/abi/ResultAttestation.ts";
import type { ChainPublicClient, ChainWalletClient } from "#sdk/chain/clients.ts";
import type { CohortMember } from "#sdk/chain/cohort.ts";
import { loadConnectedSet, type ConnectedSetTree } from "#sdk/chain/connected-set.ts";
import { JobStatus } from "#sdk/chain/enums.ts";
import { TxError } from "#sdk/chain/errors.ts";
import { jobSeed } from "#sdk/chain/result.ts";
import { TxSender, type TxRequest } from "#sdk/chain/tx-sender.ts";
import type { ContentStore } from "#sdk/ipfs/index.ts";
import {
  cohortListSchema,
  cohortRoot,
  DRAWN_COHORT_LIST_VERSION,
} from "../../sdk/protocol/cohort.ts";
import type { Action, JsonValue, NewAction } from "../common/action-queue.ts";
import {
  PermanentActionError,
  type ActionHandler,
  type ActionOutcome,
  type ReconcileContext,
  type RoleRuntime,
} from "../common/loop.ts";
import { ScanWindow } from "../common/scan-window.ts";
import {
  checkCohort,
  checkConnectedSet,
  type CohortFault,
  type Eligibility,
  type LeafEvidence,
  type MemberEvidence,
  type Registration,
  type SetFault,
} from "./checks.ts";

/** `IGrowthPool.EpochStatus`. */
export const EpochStatus = { None: 0, Posted: 1, Voided: 2, Settled: 3 } as const;
/** `IResultAttestation.Status`. */
const AttStatus = { Drawn: 1, Committed: 2 } as const;

export interface WatcherContracts {
  GrowthPool: Address;
  ResultAttestation: Address;
  JobMarket: Address;
  DeviceRegistry: Address;
  AlgorithmMarketplace: Address;
}

export interface WatcherOptions {
  publicClient: ChainPublicClient;
  /** The watcher's signer: challenges are sent from it and the challenger share is paid to it. */
  wallet: ChainWalletClient;
  contracts: WatcherContracts;
  chainId: number;
  store: Pick<ContentStore, "getBytes">;
  /** First block scanned (the deployment block). */
  fromBlock?: bigint;
  /** Blocks below the last scanned head that every tick scans again (default 64): reorg margin. */
  rescanBlocks?: bigint;
  /** Longest wait for a list from IPFS (default 30 s); a timeout is retried on the next tick. */
  fetchTimeoutMs?: number;
  /** Parallel registry reads (default 32). */
  readConcurrency?: number;
}

/** One subject the watcher judged: a post or a cohort. */
export interface Verdict {
  /** `set:<epoch>:<deadline>` or `cohort:<job>`. */
  subject: string;
  status: "ok" | "fault" | "unprovable" | "pending";
  /** The fault, or why nothing can be proven (or why it is pending). */
  reason?: string;
  /** Wall time of the check (fetch included), ms. */
  checkMs?: number;
}

type ChallengeType = "challenge-set" | "challenge-cohort";

interface Post {
  epoch: bigint;
  root: Hex;
  n: bigint;
  deadline: bigint;
  cid: string;
  block: bigint;
}

interface Assignment {
  jobId: bigint;
  cohortRoot: Hex;
  deviceCount: number;
  cid: string;
  block: bigint;
}

const u = z.union([z.number(), z.bigint()]).transform((x) => BigInt(x));
const hex32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/) as unknown as z.ZodType<Hex>;
const hex = z.string().regex(/^0x([0-9a-fA-F]{2})*$/) as unknown as z.ZodType<Hex>;
const addr = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/)
  .transform((a) => getAddress(a));
const dec = z.string().regex(/^\d{1,78}$/);

const postedLog = z.looseObject({
  blockNumber: z.bigint(),
  args: z.looseObject({
    epoch: z.bigint(),
    root: hex32,
    n: z.bigint(),
    challengeDeadline: z.bigint(),
    cid: z.string(),
  }),
});
const assignedLog = z.looseObject({
  blockNumber: z.bigint(),
  args: z.looseObject({
    jobId: z.bigint(),
    cohortRoot: hex32,
    deviceCount: u.transform(Number),
    cohortCid: z.string(),
  }),
});
const epochInfoSchema = z.looseObject({
  status: u.transform(Number),
  root: hex32,
  n: u,
  postedAt: u,
  challengeDeadline: u,
});
const attestationSchema = z.looseObject({
  status: u.transform(Number),
  connectedEpoch: u,
  assignedAt: u,
});
const jobSchema = z.looseObject({
  status: u.transform(Number),
  scheduledEpoch: u,
  cohortRoot: hex32,
  deviceCount: u.transform(Number),
  algorithmId: u,
  rewardPerDevice: u,
});

const leafJson = z.strictObject({
  index: dec,
  device: addr,
  signature: hex,
  proof: z.array(hex32),
});
const memberJson = z.strictObject({
  position: dec,
  connectedIndex: dec,
  device: addr,
  proof: z.array(hex32),
});
const setFaultJson = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("unregistered"), leaf: leafJson, reason: z.string() }),
  z.strictObject({ kind: z.literal("signature"), leaf: leafJson, reason: z.string() }),
  z.strictObject({ kind: z.literal("index"), leaf: leafJson, reason: z.string() }),
  z.strictObject({ kind: z.literal("duplicate"), a: leafJson, b: leafJson, reason: z.string() }),
]);
const cohortFaultJson = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("member"),
    member: memberJson,
    connected: leafJson,
    reason: z.string(),
  }),
  z.strictObject({ kind: z.literal("ineligible"), member: memberJson, reason: z.string() }),
  z.strictObject({ kind: z.literal("order"), a: memberJson, b: memberJson, reason: z.string() }),
  z.strictObject({
    kind: z.literal("omission"),
    omitted: leafJson,
    below: memberJson,
    above: memberJson,
    reason: z.string(),
  }),
]);
const setPayload = z.strictObject({
  epoch: dec,
  deadline: dec,
  block: dec,
  fault: setFaultJson,
});
const cohortPayload = z.strictObject({ jobId: dec, block: dec, fault: cohortFaultJson });

/** Loaded connected sets kept in memory. */
const SETS_KEPT = 4;

/** Reverts meaning "the chain disagrees with the evidence" (a watcher bug), not "too late". */
const NO_FAULT = new Set([
  "GrowthPoolNoFault",
  "GrowthPoolInvalidProof",
  "AttestationNoCohortFault",
  "AttestationNotCohortMember",
  "AttestationNotConnected",
]);
/** Reverts meaning "no longer challengeable": the next run's chain check decides. */
const TOO_LATE = new Set([
  "GrowthPoolChallengeWindowClosed",
  "GrowthPoolPostVoided",
  "AttestationCohortNotChallengeable",
]);

export class WatcherError extends Error {
  readonly code: "LIST_UNFETCHABLE" | "LIST_INVALID";
  constructor(code: WatcherError["code"], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "WatcherError";
    this.code = code;
  }
}

export class Watcher implements RoleRuntime {
  readonly address: Address;
  readonly handlers: Readonly<Record<ChallengeType, ActionHandler>>;
  private readonly o: WatcherOptions;
  /** Posts still challengeable, by `<epoch>:<deadline>`. */
  private readonly posts = new Map<string, Post>();
  /** Cohorts still challengeable, by job id. */
  private readonly jobs = new Map<bigint, Assignment>();
  /** The verdict of each subject checked; a `pending` one is checked again next tick. */
  private readonly judged = new Map<string, { verdict: Verdict; action?: NewAction }>();
  /** Settled cohorts that left the open set, by the block of their assignment: forgotten once no re-scan sees them. */
  private readonly retired = new Map<string, bigint>();
  /** Loaded connected sets by `<epoch>:<root>` (cohort checks reuse them). */
  private readonly sets = new Map<string, ConnectedSetTree | WatcherError>();
  private readonly window: ScanWindow;
  private sender: Promise<TxSender> | undefined;

  constructor(opts: WatcherOptions) {
    this.o = opts;
    this.address = getAddress(opts.wallet.account.address);
    this.window = new ScanWindow(opts.fromBlock ?? 0n, opts.rescanBlocks);
    this.handlers = {
      "challenge-set": (a) => this.challengeSet(a),
      "challenge-cohort": (a) => this.challengeCohort(a),
    };
  }

  async reconcile({ queue, log }: ReconcileContext): Promise<void> {
    for (const a of await this.desired()) {
      const { created } = await queue.enqueue(a);
      if (created) log.warn({ key: a.key, payload: a.payload }, "fault found: challenging");
    }
  }

  /** The verdicts held: subjects still open, and settled cohorts until the re-scan margin passes them. */
  verdicts(): Verdict[] {
    return [...this.judged.values()].map((j) => j.verdict);
  }

  /** True while a check waits on content that could not be fetched yet (the next reconcile tries again). */
  hasPendingChecks(): boolean {
    for (const j of this.judged.values()) if (j.verdict.status === "pending") return true;
    return false;
  }

  /** Subjects still open (posts by `set:<epoch>:<deadline>`, cohorts by `cohort:<job>`). */
  open(): string[] {
    return [
      ...[...this.posts.keys()].map((k) => `set:${k}`),
      ...[...this.jobs.keys()].map((j) => `cohort:${j}`),
    ];
  }

  /** The challenges the chain's state calls for now (the reconcile's pure part). */
  async desired(): Promise<NewAction[]> {
    await this.scan();
    const now = await this.chainTime();
    const out: NewAction[] = [];
    for (const [k, post] of [...this.posts]) {
      const info = await this.epochInfo(post.epoch);
      if (
        info.status !== EpochStatus.Posted ||
        info.challengeDeadline !== post.deadline ||
        now > post.deadline
      ) {
        this.posts.delete(k); // voided, reposted, settled or past its window: nothing more to prove
        this.judged.delete(`set:${k}`); // a re-scan may see it again: closed, it is dropped unchecked
        continue;
      }
      const a = await this.judge(`set:${k}`, () => this.checkPost(post, info.postedAt));
      if (a !== undefined) out.push(a);
    }
    for (const [jobId, asg] of [...this.jobs]) {
      // a settled verdict (ok, unprovable) never changes: a device that changes after the assignment cannot make
      // the distributor liable, so the cohort leaves the open set without further reads
      if (this.settled(`cohort:${jobId}`)) {
        this.jobs.delete(jobId);
        this.retired.set(`cohort:${jobId}`, asg.block);
        continue;
      }
      const state = await this.cohortState(jobId);
      if (state === undefined) {
        this.jobs.delete(jobId);
        this.judged.delete(`cohort:${jobId}`); // closed: a re-scan drops it after one read
        continue;
      }
      const a = await this.judge(`cohort:${jobId}`, () => this.checkAssignment(asg, state));
      if (a !== undefined) out.push(a);
    }
    return out;
  }

  /**
   * After a reorg (relayers/common/reorg.ts): scan again from the common ancestor and forget what was read above it
   * (posts and assignments there may have moved or changed: they are judged again as the new branch has them).
   */
  onReorg(event: { ancestor: bigint }): void {
    this.window.onReorg(event.ancestor);
    for (const [k, p] of [...this.posts])
      if (p.block > event.ancestor) {
        this.posts.delete(k);
        this.judged.delete(`set:${k}`);
      }
    for (const [jobId, a] of [...this.jobs])
      if (a.block > event.ancestor) {
        this.jobs.delete(jobId);
        this.judged.delete(`cohort:${jobId}`);
      }
    for (const [subject, block] of [...this.retired])
      if (block > event.ancestor) {
        this.retired.delete(subject);
        this.judged.delete(subject);
      }
  }

  /** Whether `subject` was judged for good with nothing to challenge (ok or unprovable). */
  private settled(subject: string): boolean {
    const s = this.judged.get(subject)?.verdict.status;
    return s === "ok" || s === "unprovable";
  }

  // ------------------------------------------------------------------------------------------ scanning

  private async scan(): Promise<void> {
    const pub = this.o.publicClient;
    const head = await pub.getBlockNumber({ cacheTime: 0 });
    const range = this.window.next(head);
    const from = range?.fromBlock ?? head + 1n;
    for (const [subject, block] of [...this.retired])
      if (block < from) {
        this.retired.delete(subject);
        this.judged.delete(subject);
      }
    if (range !== undefined) {
      const [posted, assigned] = await Promise.all([
        pub.getContractEvents({
          address: this.o.contracts.GrowthPool,
          abi: growthPoolAbi,
          eventName: "EpochPosted",
          ...range,
        }),
        pub.getContractEvents({
          address: this.o.contracts.JobMarket,
          abi: jobMarketAbi,
          eventName: "CohortAssigned",
          ...range,
        }),
      ]);
      const now = await this.chainTime();
      for (const log of posted) {
        const { blockNumber, args } = postedLog.parse(log);
        // n = 0 is settled at once (nothing to challenge); a closed window is history
        if (args.n === 0n || args.challengeDeadline < now) continue;
        const key = `${args.epoch}:${args.challengeDeadline}`;
        if (!this.judged.has(`set:${key}`))
          this.posts.set(key, {
            epoch: args.epoch,
            root: args.root,
            n: args.n,
            deadline: args.challengeDeadline,
            cid: args.cid,
            block: blockNumber,
          });
      }
      for (const log of assigned) {
        const { blockNumber, args } = assignedLog.parse(log);
        if (this.settled(`cohort:${args.jobId}`)) continue;
        this.jobs.set(args.jobId, {
          jobId: args.jobId,
          cohortRoot: args.cohortRoot,
          deviceCount: args.deviceCount,
          cid: args.cohortCid,
          block: blockNumber,
        });
      }
    }
    this.window.done(head);
  }

  /** Runs `check` once per subject (again while `pending`); returns the challenge its fault calls for. */
  private async judge(
    subject: string,
    check: () => Promise<{ verdict: Omit<Verdict, "subject" | "checkMs">; action?: NewAction }>,
  ): Promise<NewAction | undefined> {
    const known = this.judged.get(subject);
    if (known !== undefined && known.verdict.status !== "pending") return known.action;
    const t0 = performance.now();
    const r = await check();
    const verdict: Verdict = { subject, ...r.verdict, checkMs: performance.now() - t0 };
    this.judged.set(subject, r.action === undefined ? { verdict } : { verdict, action: r.action });
    return r.action;
  }

  // ------------------------------------------------------------------------------------------ checks

  private async checkPost(
    post: Post,
    postedAt: bigint,
  ): Promise<{ verdict: Omit<Verdict, "subject" | "checkMs">; action?: NewAction }> {
    const set = await this.connectedSetOf(post.epoch, post.root, post.cid);
    if (set instanceof WatcherError)
      return {
        verdict: {
          status: set.code === "LIST_UNFETCHABLE" ? "pending" : "unprovable",
          reason: set.message,
        },
      };
    const fault = await checkConnectedSet({
      epoch: post.epoch,
      n: post.n,
      postedAt,
      set,
      domain: { chainId: this.o.chainId, verifyingContract: this.o.contracts.DeviceRegistry },
      registrations: (devices) => this.registrations(devices),
    });
    if (fault !== undefined)
      return {
        verdict: { status: "fault", reason: `${fault.kind}: ${fault.reason}` },
        action: {
          key: `challenge:set:${post.epoch}:${post.deadline}`,
          type: "challenge-set",
          payload: {
            epoch: post.epoch.toString(),
            deadline: post.deadline.toString(),
            block: post.block.toString(),
            fault: json(fault),
          },
        },
      };
    if (BigInt(set.size) < post.n)
      return {
        verdict: {
          status: "unprovable",
          reason: `the list has ${set.size} leaves for n = ${post.n}: draws of a missing index pay nobody, and no challenge covers it`,
        },
      };
    return { verdict: { status: "ok" } };
  }

  private async checkAssignment(
    asg: Assignment,
    state: CohortState,
  ): Promise<{ verdict: Omit<Verdict, "subject" | "checkMs">; action?: NewAction }> {
    let bytes: Uint8Array;
    try {
      bytes = await this.fetch(asg.cid);
    } catch (e) {
      return { verdict: { status: "pending", reason: `cohort list ${asg.cid}: ${msg(e)}` } };
    }
    let members: CohortMember[];
    try {
      const list = cohortListSchema.parse(
        JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes)),
      );
      if (list.version !== DRAWN_COHORT_LIST_VERSION)
        throw new Error(`a version-${list.version} list, not a drawn cohort`);
      const root = cohortRoot(list);
      if (root.toLowerCase() !== asg.cohortRoot.toLowerCase())
        throw new Error(`root ${root}, the chain has ${asg.cohortRoot}`);
      members = list.members.map((m) => ({
        position: m.id - 1,
        connectedIndex: BigInt(m.connectedIndex),
        device: getAddress(m.address),
      }));
    } catch (e) {
      return {
        verdict: {
          status: "unprovable",
          reason: `cohort list ${asg.cid} of job ${asg.jobId}: ${msg(e)} (no contract function proves a bad list)`,
        },
      };
    }
    // the connected set the cohort is drawn from: the post of its epoch that stands
    const [root, n] = await this.read<readonly [Hex, bigint, bigint]>(
      this.o.contracts.GrowthPool,
      growthPoolAbi,
      "connectedSet",
      [state.connectedEpoch],
    );
    const cid = await this.postCid(state.connectedEpoch, root);
    const loaded =
      cid === undefined
        ? new WatcherError(
            "LIST_UNFETCHABLE",
            `no EpochPosted of epoch ${state.connectedEpoch} with root ${root}`,
          )
        : await this.connectedSetOf(state.connectedEpoch, root, cid);
    const set = loaded instanceof WatcherError ? undefined : { n, tree: loaded };
    const fault = await checkCohort({
      jobId: asg.jobId,
      seed: state.seed,
      deviceCount: state.deviceCount,
      members,
      set,
      eligibility: (devices) => this.eligibility(devices, state),
    });
    if (fault !== undefined)
      return {
        verdict: { status: "fault", reason: `${fault.kind}: ${fault.reason}` },
        action: {
          key: `challenge:cohort:${asg.jobId}`,
          type: "challenge-cohort",
          payload: {
            jobId: asg.jobId.toString(),
            block: asg.block.toString(),
            fault: json(fault),
          },
        },
      };
    if (set === undefined)
      return {
        verdict: {
          status: "pending",
          reason: `connected set of epoch ${state.connectedEpoch}: ${loaded instanceof WatcherError ? loaded.message : ""} (membership and omissions unchecked)`,
        },
      };
    if (members.length < state.deviceCount)
      return {
        verdict: {
          status: "unprovable",
          reason: `the list has ${members.length} members for deviceCount ${state.deviceCount}`,
        },
      };
    return { verdict: { status: "ok" } };
  }

  /** The published connected set of a post, checked against its root (cached; unfetchable is not cached). */
  private async connectedSetOf(
    epoch: bigint,
    root: Hex,
    cid: string,
  ): Promise<ConnectedSetTree | WatcherError> {
    const key = `${epoch}:${root.toLowerCase()}`;
    const known = this.sets.get(key);
    if (known !== undefined) return known;
    let bytes: Uint8Array;
    try {
      bytes = await this.fetch(cid);
    } catch (e) {
      return new WatcherError(
        "LIST_UNFETCHABLE",
        `connected set ${cid} of epoch ${epoch}: ${msg(e)} (no contract function proves an unfetchable list)`,
        { cause: e },
      );
    }
    let out: ConnectedSetTree | WatcherError;
    try {
      out = loadConnectedSet(
        JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes)),
        root,
      );
    } catch (e) {
      out = new WatcherError(
        "LIST_INVALID",
        `connected set ${cid} of epoch ${epoch}: ${msg(e)} (no contract function proves a malformed list)`,
        { cause: e },
      );
    }
    this.sets.set(key, out);
    // cohorts draw from the latest standing sets: keep a few, the oldest go first (a set can be tens of MiB)
    for (const old of [...this.sets.keys()].slice(0, Math.max(0, this.sets.size - SETS_KEPT)))
      this.sets.delete(old);
    return out;
  }

  /** The CID of the epoch's post with `root` (the latest such `EpochPosted`). */
  private async postCid(epoch: bigint, root: Hex): Promise<string | undefined> {
    const logs = await this.o.publicClient.getContractEvents({
      address: this.o.contracts.GrowthPool,
      abi: growthPoolAbi,
      eventName: "EpochPosted",
      args: { epoch },
      fromBlock: this.o.fromBlock ?? 0n,
    });
    const match = logs
      .map((l) => postedLog.parse(l).args)
      .filter((a) => a.root.toLowerCase() === root.toLowerCase());
    return match.at(-1)?.cid;
  }

  private async fetch(cid: string): Promise<Uint8Array> {
    const ms = this.o.fetchTimeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.o.store.getBytes(cid),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`not fetched within ${ms} ms`)), ms);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async registrations(devices: readonly Address[]): Promise<Registration[]> {
    return this.mapLimited(devices, async (d) => {
      const [registered, lastChange] = await Promise.all([
        this.read<boolean>(this.o.contracts.DeviceRegistry, deviceRegistryAbi, "isRegistered", [d]),
        this.read<bigint>(this.o.contracts.DeviceRegistry, deviceRegistryAbi, "lastChange", [d]),
      ]);
      return { registered: z.boolean().parse(registered), lastChange: u.parse(lastChange) };
    });
  }

  private async eligibility(devices: readonly Address[], s: CohortState): Promise<Eligibility[]> {
    return this.mapLimited(devices, async (d) => {
      const lastChange = u.parse(
        await this.read(this.o.contracts.DeviceRegistry, deviceRegistryAbi, "lastChange", [d]),
      );
      if (lastChange >= s.assignedAt) return "changed";
      const ok = z
        .boolean()
        .parse(
          await this.read(this.o.contracts.DeviceRegistry, deviceRegistryAbi, "isEligible", [
            d,
            s.schema,
            s.algorithmId,
            s.rewardPerDevice,
          ]),
        );
      return ok ? "eligible" : "ineligible";
    });
  }

  private async mapLimited<T, R>(xs: readonly T[], f: (x: T) => Promise<R>): Promise<R[]> {
    const out: R[] = new Array<R>(xs.length);
    const width = this.o.readConcurrency ?? 32;
    for (let i = 0; i < xs.length; i += width) {
      const part = await Promise.all(xs.slice(i, i + width).map(f));
      for (const [k, r] of part.entries()) out[i + k] = r;
    }
    return out;
  }

  // ------------------------------------------------------------------------------------------ chain state

  private async epochInfo(epoch: bigint) {
    return epochInfoSchema.parse(
      await this.read(this.o.contracts.GrowthPool, growthPoolAbi, "epochInfo", [epoch]),
    );
  }

  /** The job's cohort facts while its cohort can be challenged; undefined once it cannot. */
  private async cohortState(jobId: bigint): Promise<CohortState | undefined> {
    const att = attestationSchema.parse(
      await this.read(this.o.contracts.ResultAttestation, resultAttestationAbi, "attestationOf", [
        jobId,
      ]),
    );
    if (att.status !== AttStatus.Drawn && att.status !== AttStatus.Committed) return undefined;
    const job = jobSchema.parse(
      await this.read(this.o.contracts.JobMarket, jobMarketAbi, "getJob", [jobId]),
    );
    if (job.status !== JobStatus.Assigned && job.status !== JobStatus.Committed) return undefined;
    const epochSeed = hex32.parse(
      await this.read(this.o.contracts.JobMarket, jobMarketAbi, "epochSeed", [job.scheduledEpoch]),
    );
    const algorithm = z
      .looseObject({ schema: hex32 })
      .parse(
        await this.read(
          this.o.contracts.AlgorithmMarketplace,
          algorithmMarketplaceAbi,
          "getAlgorithm",
          [job.algorithmId],
        ),
      );
    return {
      connectedEpoch: att.connectedEpoch,
      assignedAt: att.assignedAt,
      seed: jobSeed(epochSeed, jobId),
      deviceCount: job.deviceCount,
      schema: algorithm.schema,
      algorithmId: job.algorithmId,
      rewardPerDevice: job.rewardPerDevice,
    };
  }

  // ------------------------------------------------------------------------------------------ handlers

  private async challengeSet(action: Action): Promise<ActionOutcome> {
    const p = parsePayload(setPayload, action);
    const epoch = BigInt(p.epoch);
    const deadline = BigInt(p.deadline);
    const info = await this.epochInfo(epoch);
    if (info.status !== EpochStatus.Posted || info.challengeDeadline !== deadline) {
      // the post is gone: did this watcher void it?
      const mine = await this.o.publicClient.getContractEvents({
        address: this.o.contracts.GrowthPool,
        abi: growthPoolAbi,
        eventName: "PostChallenged",
        args: { epoch, challenger: this.address },
        fromBlock: BigInt(p.block),
      });
      if (mine.length > 0) return { status: "succeeded" };
      return {
        status: "abandoned",
        reason: `epoch ${epoch}'s post is no longer challengeable (status ${info.status}): voided by another challenger or settled`,
      };
    }
    if ((await this.chainTime()) > deadline)
      return {
        status: "abandoned",
        reason: `epoch ${epoch}'s challenge window closed at ${deadline}`,
      };
    const f = p.fault;
    const gp = this.o.contracts.GrowthPool;
    const abi = growthPoolAbi as Abi;
    switch (f.kind) {
      case "unregistered":
        return this.send({
          address: gp,
          abi,
          functionName: "challengeUnregistered",
          args: [epoch, leafArg(f.leaf), f.leaf.proof],
        });
      case "signature":
        return this.send({
          address: gp,
          abi,
          functionName: "challengeSignature",
          args: [epoch, leafArg(f.leaf), f.leaf.proof],
        });
      case "index":
        return this.send({
          address: gp,
          abi,
          functionName: "challengeIndex",
          args: [epoch, leafArg(f.leaf), f.leaf.proof],
        });
      case "duplicate":
        return this.send({
          address: gp,
          abi,
          functionName: "challengeDuplicate",
          args: [epoch, leafArg(f.a), f.a.proof, leafArg(f.b), f.b.proof],
        });
    }
  }

  private async challengeCohort(action: Action): Promise<ActionOutcome> {
    const p = parsePayload(cohortPayload, action);
    const jobId = BigInt(p.jobId);
    if ((await this.cohortState(jobId)) === undefined) {
      const mine = await this.o.publicClient.getContractEvents({
        address: this.o.contracts.ResultAttestation,
        abi: resultAttestationAbi,
        eventName: "CohortChallenged",
        args: { jobId, challenger: this.address },
        fromBlock: BigInt(p.block),
      });
      if (mine.length > 0) return { status: "succeeded" };
      return {
        status: "abandoned",
        reason: `job ${jobId}'s cohort is no longer challengeable (challenged by another, or its attestation is final)`,
      };
    }
    const f = p.fault;
    const ra = this.o.contracts.ResultAttestation;
    const abi = resultAttestationAbi as Abi;
    switch (f.kind) {
      case "member":
        return this.send({
          address: ra,
          abi,
          functionName: "challengeCohortMember",
          args: [jobId, memberArg(f.member), leafArg(f.connected), f.connected.proof],
        });
      case "ineligible":
        return this.send({
          address: ra,
          abi,
          functionName: "challengeCohortIneligible",
          args: [jobId, memberArg(f.member)],
        });
      case "order":
        return this.send({
          address: ra,
          abi,
          functionName: "challengeCohortOrder",
          args: [jobId, memberArg(f.a), memberArg(f.b)],
        });
      case "omission":
        return this.send({
          address: ra,
          abi,
          functionName: "challengeCohortOmission",
          args: [
            jobId,
            leafArg(f.omitted),
            f.omitted.proof,
            memberArg(f.below),
            memberArg(f.above),
          ],
        });
    }
  }

  /** Sends through the signer's TxSender (simulated first); maps the contract's refusals to outcomes. */
  private async send(req: TxRequest): Promise<ActionOutcome> {
    this.sender ??= TxSender.create({
      publicClient: this.o.publicClient,
      walletClient: this.o.wallet,
    });
    try {
      await (await this.sender).send(req);
      return { status: "succeeded" };
    } catch (e) {
      if (e instanceof TxError && e.errorName !== undefined) {
        if (NO_FAULT.has(e.errorName))
          throw new PermanentActionError(
            `${req.functionName}: the chain refused the evidence (${e.errorName})`,
            { cause: e },
          );
        if (TOO_LATE.has(e.errorName))
          throw new Error(`${req.functionName}: ${e.errorName}; re-checking the chain`, {
            cause: e,
          });
      }
      this.sender = undefined; // re-read the nonce on the next attempt
      throw e;
    }
  }

  // ------------------------------------------------------------------------------------------ helpers

  private async read<T = unknown>(
    address: Address,
    abi: Abi | readonly unknown[],
    functionName: string,
    args: readonly unknown[],
  ): Promise<T> {
    return (await this.o.publicClient.readContract({
      address,
      abi: abi as Abi,
      functionName,
      args,
    })) as T;
  }

  private async chainTime(): Promise<bigint> {
    return (await this.o.publicClient.getBlock()).timestamp;
  }
}

interface CohortState {
  connectedEpoch: bigint;
  assignedAt: bigint;
  seed: Hex;
  deviceCount: number;
  schema: Hex;
  algorithmId: bigint;
  rewardPerDevice: bigint;
}

function leafArg(l: LeafEvidence | z.infer<typeof leafJson>) {
  return { index: BigInt(l.index), device: l.device, signature: l.signature };
}

function memberArg(m: MemberEvidence | z.infer<typeof memberJson>) {
  return {
    member: {
      position: BigInt(m.position),
      connectedIndex: BigInt(m.connectedIndex),
      device: m.device,
    },
    proof: m.proof,
  };
}

function parsePayload<S extends z.ZodType>(schema: S, action: Action): z.infer<S> {
  const r = schema.safeParse(action.payload);
  if (!r.success)
    throw new PermanentActionError(`action ${action.key}: bad payload: ${r.error.message}`);
  return r.data;
}

/** A plain JSON copy of evidence (strings and arrays only) for the action's payload. */
function json(x: SetFault | CohortFault): JsonValue {
  return JSON.parse(JSON.stringify(x)) as JsonValue;
}

function msg(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export type { CohortFault, SetFault };
