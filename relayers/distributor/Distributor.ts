/**
 * The distributor role (PROTOCOL.md §4.3, §7.2–7.3) on the relayer loop.
 *
 *   heartbeats  `acceptHeartbeat` (behind HeartbeatServer): a device's signed heartbeat for the growth pool's current
 *               epoch, checked (shape, EIP-712 signature, epoch, clock skew, registered device) and only then kept —
 *               in memory (HeartbeatBook) and on disk (HeartbeatJournal, flushed before the 200).
 *   post:<e>    once `GrowthPool.epochEnd(e)` passed for `e = nextEpoch()`: the connected set of e's heartbeats whose
 *               devices are still registered (`buildConnectedSet`, leaves ordered by address), its tree dump added to
 *               IPFS, `postEpoch(e, root, n, cid)`. An epoch without heartbeats is posted empty (n = 0), so later
 *               epochs can be posted (strictly in order). Chain first: e already posted, by anyone → success.
 *   draw:<e>    a post whose challenge window is over (`Posted`, or `Voided` past its repost deadline):
 *               `requestDraw(e)` (permissionless). Chain first: `Settled` → success.
 *   retry:<e>:<request>  a settled draw with no random word whose request went to a coordinator governance has since
 *               replaced (`requestCoordinator != vrfConfig().coordinator`, the only case `retryDraw` accepts):
 *               `retryDraw(e)`. Chain first: drawn, or the request moved on → success.
 *   cohort:<job>  a `Scheduled` job (JobScheduled events, scanned incrementally) within its assignment deadline
 *               whose seed exists: its cohort is drawn (`drawCohort(jobSeed, eligible candidates of the standing
 *               connected set, size)`), the list published and `assignCohort` sent. Chain first: the job left
 *               `Scheduled` (it has a cohort) → success.
 *
 * The aggregator of a job is `config.aggregator` when set, else `NodeStaking.drawActive(Aggregator, r)` with
 * `r = deriveSeed(jobSeed, "dml.aggregator", jobId)`: stake-weighted, fixed by a seed nobody knew when the job was
 * scheduled, and independent of the attestors' draw (`"dml.attestors"`), so a distributor cannot pick a friend.
 */
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { getAddress, hexToBigInt, type Address, type Hex } from "viem";
import { z } from "zod";
import type { Logger } from "pino";
import { algorithmMarketplaceAbi } from "#sdk/chain/abi/AlgorithmMarketplace.ts";
import { deviceRegistryAbi } from "#sdk/chain/abi/DeviceRegistry.ts";
import { growthPoolAbi } from "#sdk/chain/abi/GrowthPool.ts";
import { jobMarketAbi } from "#sdk/chain/abi/JobMarket.ts";
import { nodeStakingAbi } from "#sdk/chain/abi/NodeStaking.ts";
import { resultAttestationAbi } from "#sdk/chain/abi/ResultAttestation.ts";
import type { ChainPublicClient, ChainWalletClient } from "#sdk/chain/clients.ts";
import { drawCohort, type CohortCandidate, type CohortMember } from "#sdk/chain/cohort.ts";
import {
  buildConnectedSet,
  loadConnectedSet,
  type ConnectedDevice,
  type ConnectedSetTree,
} from "#sdk/chain/connected-set.ts";
import { JobStatus, Role } from "#sdk/chain/enums.ts";
import { deriveSeed, jobSeed, ZERO_HASH } from "#sdk/chain/result.ts";
import { TxSender, type TxRequest } from "#sdk/chain/tx-sender.ts";
import { writeJsonAtomic } from "#sdk/fs/atomic.ts";
import type { ContentStore } from "#sdk/ipfs/index.ts";
import { cohortRoot, drawnCohortList, encodeCohortList } from "../../sdk/protocol/cohort.ts";
import type { Action } from "../common/action-queue.ts";
import {
  PermanentActionError,
  type ActionHandler,
  type ActionOutcome,
  type ReconcileContext,
  type RoleRuntime,
} from "../common/loop.ts";
import { HeartbeatBook, HeartbeatError } from "./HeartbeatBook.ts";
import { HeartbeatJournal } from "./HeartbeatJournal.ts";
import type { HeartbeatIntake } from "./HeartbeatServer.ts";

/** `IGrowthPool.EpochStatus`. */
export const EpochStatus = { None: 0, Posted: 1, Voided: 2, Settled: 3 } as const;

export type DistributorActionType = "post" | "draw" | "retry" | "cohort";

export interface DistributorContracts {
  GrowthPool: Address;
  JobMarket: Address;
  ResultAttestation: Address;
  NodeStaking: Address;
  DeviceRegistry: Address;
  AlgorithmMarketplace: Address;
}

export interface DistributorOptions {
  publicClient: ChainPublicClient;
  wallet: ChainWalletClient;
  contracts: DistributorContracts;
  chainId: number;
  store: Pick<ContentStore, "addBytes" | "getBytes">;
  /** Heartbeat journal (`heartbeats/`) and posted sets (`connected/`) live here. */
  dataDir: string;
  /** First block scanned for JobScheduled (the deployment block). */
  fromBlock?: bigint;
  /** Blocks below the last scanned head that each tick scans again (reorg margin; default 64). */
  rescanBlocks?: bigint;
  /** A fixed aggregator for every job (default: drawn from the active aggregators by the job's seed). */
  aggregator?: Address;
  /** Largest accepted difference between a heartbeat's timestamp and chain time (default 300 s). */
  maxSkewSeconds?: number;
  log?: Logger;
  /** Test hook: runs after a post's set was built and published, before `postEpoch` is sent. */
  beforePostTx?: (epoch: bigint, tree: ConnectedSetTree | undefined) => Promise<void>;
}

/** A job's cohort as this distributor draws it (exported for tests and tools). */
export interface CohortDraw {
  jobId: bigint;
  seed: Hex;
  connectedEpoch: bigint;
  members: CohortMember[];
  root: Hex;
  aggregator: Address;
}

/** What the chain calls for now (the reconcile's pure part). */
export interface DesiredAction {
  key: string;
  type: DistributorActionType;
  payload: Record<string, string>;
}

const num = z.string().regex(/^\d{1,78}$/);
const epochPayload = z.strictObject({ epoch: num });
const jobPayload = z.strictObject({ jobId: num });
const scheduledSchema = z.looseObject({ args: z.looseObject({ jobId: z.bigint() }) });
const postedSchema = z.looseObject({ args: z.looseObject({ cid: z.string(), root: z.string() }) });
const armedSchema = z.looseObject({ args: z.looseObject({ blockNumber: z.bigint() }) });

export class DistributorError extends Error {
  readonly code: "SEED_UNAVAILABLE" | "NO_CONNECTED_SET" | "COHORT_TOO_SMALL" | "SET_UNAVAILABLE";
  constructor(code: DistributorError["code"], message: string) {
    super(message);
    this.code = code;
    this.name = "DistributorError";
  }
}

export class Distributor implements RoleRuntime, HeartbeatIntake {
  readonly address: Address;
  readonly handlers: Readonly<Record<DistributorActionType, ActionHandler>>;
  readonly book: HeartbeatBook;
  private readonly o: DistributorOptions;
  private readonly journal: HeartbeatJournal;
  private sender: Promise<TxSender> | undefined;
  /** Heartbeats being checked, by epoch. */
  private readonly inflight = new Map<number, Set<Promise<void>>>();
  /** Epochs up to this one take no more heartbeats: their set is being built or posted. */
  private sealedThrough = -1;
  /** Scheduled jobs not yet assigned or expired (rebuilt by one full scan after a restart). */
  private readonly openJobs = new Set<bigint>();
  private scannedTo: bigint | undefined;
  /** Every growth epoch below this one is settled and drawn (or had nothing to draw). */
  private drawFloor = 0n;

  private constructor(opts: DistributorOptions, book: HeartbeatBook, journal: HeartbeatJournal) {
    this.o = opts;
    this.book = book;
    this.journal = journal;
    this.address = getAddress(opts.wallet.account.address);
    this.handlers = {
      post: (a) => this.post(a),
      draw: (a) => this.draw(a),
      retry: (a) => this.retry(a),
      cohort: (a) => this.cohort(a),
    };
  }

  /** Opens the heartbeat journal in `dataDir` (replaying it) and returns the distributor. */
  static async open(opts: DistributorOptions): Promise<Distributor> {
    const book = new HeartbeatBook(
      { chainId: opts.chainId, verifyingContract: opts.contracts.DeviceRegistry },
      opts.maxSkewSeconds ?? 300,
    );
    const journal = await HeartbeatJournal.open(path.join(opts.dataDir, "heartbeats"), book);
    await mkdir(path.join(opts.dataDir, "connected"), { recursive: true, mode: 0o700 });
    return new Distributor(opts, book, journal);
  }

  // ------------------------------------------------------------------ heartbeats

  /**
   * Checks and keeps a device's heartbeat for the growth pool's current epoch (chain time). Nothing is stored unless
   * every check passes; the heartbeat is on disk when this resolves.
   * @throws HeartbeatError HEARTBEAT_INVALID | DEVICE_UNREGISTERED | HEARTBEAT_REPLAY
   */
  async accept(body: unknown): Promise<{ device: Address; epoch: number }> {
    const [now, current] = await this.intakeClock();
    const epoch = Number(current);
    // the post of `epoch` waits for the heartbeats being checked for it (one may straddle the epoch's end)
    const done = this.acceptOne(body, epoch, now);
    let pending = this.inflight.get(epoch);
    if (pending === undefined) this.inflight.set(epoch, (pending = new Set()));
    const settled = done.then(
      () => undefined,
      () => undefined,
    );
    pending.add(settled);
    try {
      return await done;
    } finally {
      pending.delete(settled);
    }
  }

  private async acceptOne(
    body: unknown,
    epoch: number,
    now: bigint,
  ): Promise<{ device: Address; epoch: number }> {
    const { device, signature } = await this.book.verify(body, epoch, Number(now));
    if (this.book.has(epoch, device))
      throw new HeartbeatError(
        "HEARTBEAT_REPLAY",
        `already have ${device}'s heartbeat for epoch ${epoch}`,
      );
    if (!(await this.read.isRegistered(device)))
      throw new HeartbeatError("DEVICE_UNREGISTERED", `${device} is not a registered device`);
    if (epoch <= this.sealedThrough)
      throw new HeartbeatError("HEARTBEAT_INVALID", `epoch ${epoch} is closed: its set is built`);
    this.book.record(epoch, device, signature); // throws HEARTBEAT_REPLAY for a concurrent duplicate
    try {
      await this.journal.append(epoch, device, signature);
    } catch (e) {
      this.book.forget(epoch, device);
      throw e;
    }
    return { device, epoch };
  }

  // ------------------------------------------------------------------ reconcile

  async reconcile({ queue }: ReconcileContext): Promise<void> {
    for (const a of await this.desired())
      await queue.enqueue({ key: a.key, type: a.type, payload: a.payload });
  }

  /** The actions the chain calls for now. */
  async desired(): Promise<DesiredAction[]> {
    const now = await this.chainTime();
    const out: DesiredAction[] = [];
    const active = await this.read.isActive(this.address);
    const next = await this.read.nextEpoch();
    if (active && now >= (await this.read.epochEnd(next)))
      out.push({ key: `post:${next}`, type: "post", payload: { epoch: `${next}` } });
    out.push(...(await this.desiredDraws(next, now)));
    if (active) out.push(...(await this.desiredCohorts(now)));
    return out;
  }

  private async desiredDraws(next: bigint, now: bigint): Promise<DesiredAction[]> {
    const out: DesiredAction[] = [];
    let coordinator: Address | undefined;
    let floorMoves = true;
    for (let e = this.drawFloor; e < next; e++) {
      const info = await this.read.epochInfo(e);
      const settledForGood = info.status === EpochStatus.Settled && (info.k === 0n || info.drawn);
      if (settledForGood && floorMoves) {
        this.drawFloor = e + 1n;
        continue;
      }
      floorMoves = false;
      if (
        (info.status === EpochStatus.Posted && now > info.challengeDeadline) ||
        (info.status === EpochStatus.Voided && now > info.repostDeadline)
      )
        out.push({ key: `draw:${e}`, type: "draw", payload: { epoch: `${e}` } });
      else if (info.status === EpochStatus.Settled && info.k > 0n && !info.drawn) {
        coordinator ??= getAddress((await this.read.vrfConfig()).coordinator);
        if (getAddress(info.requestCoordinator) !== coordinator)
          out.push({
            key: `retry:${e}:${info.requestId}`,
            type: "retry",
            payload: { epoch: `${e}` },
          });
      }
    }
    return out;
  }

  private async desiredCohorts(now: bigint): Promise<DesiredAction[]> {
    const pub = this.o.publicClient;
    const head = await pub.getBlockNumber({ cacheTime: 0 });
    const start = this.o.fromBlock ?? 0n;
    const margin = this.o.rescanBlocks ?? 64n;
    const from =
      this.scannedTo === undefined
        ? start
        : this.scannedTo + 1n - margin > start
          ? this.scannedTo + 1n - margin
          : start;
    if (from <= head) {
      const logs = await pub.getContractEvents({
        address: this.o.contracts.JobMarket,
        abi: jobMarketAbi,
        eventName: "JobScheduled",
        fromBlock: from,
        toBlock: head,
      });
      for (const log of logs) this.openJobs.add(scheduledSchema.parse(log).args.jobId);
    }
    this.scannedTo = head;
    const out: DesiredAction[] = [];
    for (const jobId of [...this.openJobs].sort((a, b) => (a < b ? -1 : 1))) {
      const job = await this.read.job(jobId);
      if (job.status !== JobStatus.Scheduled || now > BigInt(job.deadline)) {
        this.openJobs.delete(jobId);
        continue;
      }
      if ((await this.seedOf(jobId, BigInt(job.scheduledEpoch))) === undefined) continue;
      out.push({ key: `cohort:${jobId}`, type: "cohort", payload: { jobId: `${jobId}` } });
    }
    return out;
  }

  /**
   * After a reorg (relayers/common/reorg.ts): scan JobScheduled again from the common ancestor and re-read every
   * growth epoch's state (a post or a draw request may have left the chain); re-opened actions re-check the chain.
   */
  onReorg(event: { ancestor: bigint }): void {
    if (this.scannedTo !== undefined && this.scannedTo > event.ancestor)
      this.scannedTo = event.ancestor;
    this.drawFloor = 0n;
  }

  /** Scheduled jobs this distributor still watches (for tools and tests). */
  watchedJobs(): bigint[] {
    return [...this.openJobs].sort((a, b) => (a < b ? -1 : 1));
  }

  // ------------------------------------------------------------------ handlers

  private async post(action: Action): Promise<ActionOutcome> {
    const epoch = BigInt(parse(epochPayload, action).epoch);
    if (epoch < (await this.read.nextEpoch())) {
      await this.afterPost(epoch);
      return { status: "succeeded" }; // posted, by this distributor or another
    }
    // no heartbeat for the epoch is recorded from now on; those being checked finish first (acknowledged → in the set)
    this.sealedThrough = Math.max(this.sealedThrough, Number(epoch));
    await Promise.all([...(this.inflight.get(Number(epoch)) ?? [])]);
    const registered = await mapChunked(this.book.connected(Number(epoch)), async (d) => ({
      d,
      ok: await this.read.isRegistered(d.device),
    }));
    // a device that unregistered since its heartbeat would make the post challengeable: leave it out
    const devices: ConnectedDevice[] = registered.filter((r) => r.ok).map((r) => r.d);
    let tree: ConnectedSetTree | undefined;
    let cid = "";
    if (devices.length > 0) {
      tree = buildConnectedSet(devices);
      const dump = tree.tree.dump();
      await writeJsonAtomic(this.setFile(epoch), dump);
      cid = await this.o.store.addBytes(new TextEncoder().encode(JSON.stringify(dump)));
    }
    await this.o.beforePostTx?.(epoch, tree);
    await this.send({
      address: this.o.contracts.GrowthPool,
      abi: growthPoolAbi,
      functionName: "postEpoch",
      args: [epoch, tree?.root ?? ZERO_HASH, BigInt(devices.length), cid],
    });
    this.o.log?.info(
      { epoch: `${epoch}`, n: devices.length, root: tree?.root ?? ZERO_HASH, cid },
      "connected set posted",
    );
    await this.afterPost(epoch);
    return { status: "succeeded" };
  }

  private async afterPost(epoch: bigint): Promise<void> {
    for (const [e, pending] of this.inflight)
      if (e <= Number(epoch) && pending.size === 0) this.inflight.delete(e);
    // the epoch's own heartbeats are kept until the next post: a reorg that drops this post re-opens the action,
    // which must rebuild the same set
    this.book.prune(Number(epoch));
    await this.journal.prune(Number(epoch));
  }

  private async draw(action: Action): Promise<ActionOutcome> {
    const epoch = BigInt(parse(epochPayload, action).epoch);
    const info = await this.read.epochInfo(epoch);
    if (info.status === EpochStatus.Settled) return { status: "succeeded" };
    if (info.status === EpochStatus.None)
      return { status: "abandoned", reason: `epoch ${epoch} is not posted` };
    const now = await this.chainTime();
    if (info.status === EpochStatus.Posted && now <= info.challengeDeadline)
      throw new Error(`epoch ${epoch}'s challenge window is open until ${info.challengeDeadline}`);
    await this.send({
      address: this.o.contracts.GrowthPool,
      abi: growthPoolAbi,
      functionName: "requestDraw",
      args: [epoch],
    });
    return { status: "succeeded" };
  }

  private async retry(action: Action): Promise<ActionOutcome> {
    const epoch = BigInt(parse(epochPayload, action).epoch);
    const info = await this.read.epochInfo(epoch);
    if (info.drawn) return { status: "succeeded" };
    const coordinator = getAddress((await this.read.vrfConfig()).coordinator);
    if (getAddress(info.requestCoordinator) === coordinator) return { status: "succeeded" };
    await this.send({
      address: this.o.contracts.GrowthPool,
      abi: growthPoolAbi,
      functionName: "retryDraw",
      args: [epoch],
    });
    return { status: "succeeded" };
  }

  private async cohort(action: Action): Promise<ActionOutcome> {
    const jobId = BigInt(parse(jobPayload, action).jobId);
    const job = await this.read.job(jobId);
    if (job.status !== JobStatus.Scheduled) {
      if (job.status >= JobStatus.Assigned && job.cohortRoot !== ZERO_HASH)
        return { status: "succeeded" }; // assigned, by this distributor or another
      return { status: "abandoned", reason: `job ${jobId} is not Scheduled (${job.status})` };
    }
    if ((await this.chainTime()) > BigInt(job.deadline))
      return { status: "abandoned", reason: `job ${jobId}'s assignment window closed` };
    const draw = await this.drawFor(jobId);
    const list = drawnCohortList(jobId, draw.connectedEpoch, draw.members);
    const cid = await this.o.store.addBytes(encodeCohortList(list));
    await this.send({
      address: this.o.contracts.ResultAttestation,
      abi: resultAttestationAbi,
      functionName: "assignCohort",
      args: [
        jobId,
        cohortRoot(list),
        draw.members.length,
        cid,
        draw.aggregator,
        draw.connectedEpoch,
      ],
    });
    this.o.log?.info(
      {
        jobId: `${jobId}`,
        size: draw.members.length,
        connectedEpoch: `${draw.connectedEpoch}`,
        aggregator: draw.aggregator,
        cid,
      },
      "cohort assigned",
    );
    return { status: "succeeded" };
  }

  // ------------------------------------------------------------------ the cohort draw

  /**
   * The job's cohort (PROTOCOL.md §7.3): the latest connected set that stood by the end of the job's scheduling
   * epoch's reveal window; its devices eligible for the job (`isEligible` for the algorithm's schema, the algorithm
   * and the reward) and unchanged since before now (`lastChange < now`); the `min(maxDevices, eligible)` lowest
   * draw scores of the job's seed.
   * @throws DistributorError SEED_UNAVAILABLE | NO_CONNECTED_SET | SET_UNAVAILABLE | COHORT_TOO_SMALL
   */
  async drawFor(jobId: bigint): Promise<CohortDraw> {
    const job = await this.read.job(jobId);
    const seed = await this.seedOf(jobId, BigInt(job.scheduledEpoch));
    if (seed === undefined)
      throw new DistributorError("SEED_UNAVAILABLE", `job ${jobId}'s seed block is not mined yet`);
    const [, , seedTime] = await this.read.epochWindows(BigInt(job.scheduledEpoch));
    const { epoch: connectedEpoch, root } = await this.standingSet(seedTime);
    const set = await this.connectedSetTree(connectedEpoch, root);
    const schema = (await this.read.algorithm(BigInt(job.algorithmId))).schema;
    const now = await this.chainTime();
    const leaves = [...set.tree.entries()].map(([, v]) => ({
      connectedIndex: BigInt(v[0]),
      device: getAddress(v[1]),
    }));
    const ok = await mapChunked(
      leaves,
      async (c) =>
        (await this.read.isEligible(
          c.device,
          schema,
          BigInt(job.algorithmId),
          job.rewardPerDevice,
        )) && (await this.read.lastChange(c.device)) < now,
    );
    const candidates: CohortCandidate[] = leaves.filter((_, i) => ok[i]);
    const kMin = (await this.read.params()).kMin;
    const size = Math.min(job.maxDevices, candidates.length);
    const floor = Math.max(job.minDevices, kMin);
    if (size < floor)
      throw new DistributorError(
        "COHORT_TOO_SMALL",
        `job ${jobId}: ${candidates.length} eligible devices in connected set ${connectedEpoch}, the job needs ${floor}`,
      );
    const members = drawCohort(seed, candidates, size);
    const list = drawnCohortList(jobId, connectedEpoch, members);
    return {
      jobId,
      seed,
      connectedEpoch,
      members,
      root: cohortRoot(list),
      aggregator: await this.aggregatorFor(jobId, seed),
    };
  }

  /** `config.aggregator`, else the active aggregator `drawActive` picks by `deriveSeed(jobSeed, "dml.aggregator")`. */
  async aggregatorFor(jobId: bigint, seed: Hex): Promise<Address> {
    if (this.o.aggregator !== undefined) return getAddress(this.o.aggregator);
    return getAddress(
      await this.o.publicClient.readContract({
        address: this.o.contracts.NodeStaking,
        abi: nodeStakingAbi,
        functionName: "drawActive",
        args: [Role.Aggregator, hexToBigInt(deriveSeed(seed, "dml.aggregator", jobId))],
      }),
    );
  }

  /** The latest growth epoch whose post stood by `seedTime` (what `assignCohort` accepts). */
  private async standingSet(seedTime: bigint): Promise<{ epoch: bigint; root: Hex }> {
    const next = await this.read.nextEpoch();
    for (let e = next - 1n; e >= 0n && e >= next - 1024n; e--) {
      const [root, , finalAt] = await this.read.connectedSet(e);
      if (finalAt !== 0n && finalAt <= seedTime) return { epoch: e, root };
    }
    throw new DistributorError("NO_CONNECTED_SET", `no connected set stood by ${seedTime}`);
  }

  /** The set's tree: the one this distributor posted (data dir), else the poster's dump on IPFS (root checked). */
  private async connectedSetTree(epoch: bigint, root: Hex): Promise<ConnectedSetTree> {
    try {
      return loadConnectedSet(JSON.parse(await readFile(this.setFile(epoch), "utf8")), root);
    } catch {
      /* not ours (or another root): the published dump */
    }
    const logs = await this.o.publicClient.getContractEvents({
      address: this.o.contracts.GrowthPool,
      abi: growthPoolAbi,
      eventName: "EpochPosted",
      args: { epoch },
      fromBlock: this.o.fromBlock ?? 0n,
    });
    const posted = logs
      .map((l) => postedSchema.parse(l).args)
      .filter((a) => a.root.toLowerCase() === root.toLowerCase())
      .at(-1);
    if (posted === undefined)
      throw new DistributorError(
        "SET_UNAVAILABLE",
        `no EpochPosted for epoch ${epoch} with ${root}`,
      );
    try {
      const bytes = await this.o.store.getBytes(posted.cid);
      const tree = loadConnectedSet(JSON.parse(new TextDecoder().decode(bytes)), root);
      await writeJsonAtomic(this.setFile(epoch), tree.tree.dump());
      return tree;
    } catch (e) {
      throw new DistributorError(
        "SET_UNAVAILABLE",
        `connected set ${epoch} (${posted.cid}): ${e instanceof Error ? e.message : String(e)}`,
      );
    }
  }

  /**
   * The job's seed once it exists: the fixed epoch seed, else the hash of the armed block once it is mined (what
   * `assignCohort` will fix). Undefined before the block exists or after its hash expired (256 blocks: `fixSeed`
   * re-arms it, not done here).
   */
  private async seedOf(jobId: bigint, epoch: bigint): Promise<Hex | undefined> {
    const fixed = await this.read.epochSeed(epoch);
    if (fixed !== ZERO_HASH) return jobSeed(fixed, jobId);
    const armed = await this.o.publicClient.getContractEvents({
      address: this.o.contracts.JobMarket,
      abi: jobMarketAbi,
      eventName: "EpochSeedArmed",
      args: { epoch },
      fromBlock: this.o.fromBlock ?? 0n,
    });
    const last = armed.at(-1);
    if (last === undefined) return undefined;
    const b = armedSchema.parse(last).args.blockNumber;
    const head = await this.o.publicClient.getBlockNumber({ cacheTime: 0 });
    if (head <= b || head - b > 256n) return undefined;
    const block = await this.o.publicClient.getBlock({ blockNumber: b });
    return block.hash === null ? undefined : jobSeed(block.hash, jobId);
  }

  // ------------------------------------------------------------------ chain access

  private setFile(epoch: bigint): string {
    return path.join(this.o.dataDir, "connected", `${epoch}.json`);
  }

  /** The intake's chain time and epoch read in flight, shared by the heartbeats that arrive meanwhile. */
  private clock: Promise<readonly [bigint, bigint]> | undefined;

  /**
   * Chain time and current epoch for the heartbeat intake. Heartbeats that arrive while a read is in flight share it
   * (a thousand devices heartbeating at once made two thousand RPC calls and timed out); a heartbeat that arrives
   * when none is in flight starts a fresh one, so the intake never reads a clock older than its own arrival by more
   * than one round trip.
   */
  private intakeClock(): Promise<readonly [bigint, bigint]> {
    if (this.clock !== undefined) return this.clock;
    const value = Promise.all([this.chainTime(), this.read.currentEpoch()] as const);
    this.clock = value;
    const clear = () => {
      if (this.clock === value) this.clock = undefined;
    };
    value.then(clear, clear);
    return value;
  }

  private async chainTime(): Promise<bigint> {
    return (await this.o.publicClient.getBlock()).timestamp;
  }

  private async send(req: TxRequest): Promise<void> {
    this.sender ??= TxSender.create({
      publicClient: this.o.publicClient,
      walletClient: this.o.wallet,
    });
    const { receipt } = await (await this.sender).send(req);
    if (receipt.status !== "success") throw new Error(`${req.functionName} reverted`);
  }

  private readonly read = (() => {
    const pub = () => this.o.publicClient;
    const c = () => this.o.contracts;
    return {
      currentEpoch: () =>
        pub().readContract({
          address: c().GrowthPool,
          abi: growthPoolAbi,
          functionName: "currentEpoch",
        }),
      nextEpoch: () =>
        pub().readContract({
          address: c().GrowthPool,
          abi: growthPoolAbi,
          functionName: "nextEpoch",
        }),
      epochEnd: (e: bigint) =>
        pub().readContract({
          address: c().GrowthPool,
          abi: growthPoolAbi,
          functionName: "epochEnd",
          args: [e],
        }),
      epochInfo: (e: bigint) =>
        pub().readContract({
          address: c().GrowthPool,
          abi: growthPoolAbi,
          functionName: "epochInfo",
          args: [e],
        }),
      connectedSet: (e: bigint) =>
        pub().readContract({
          address: c().GrowthPool,
          abi: growthPoolAbi,
          functionName: "connectedSet",
          args: [e],
        }),
      vrfConfig: () =>
        pub().readContract({
          address: c().GrowthPool,
          abi: growthPoolAbi,
          functionName: "vrfConfig",
        }),
      isRegistered: (d: Address) =>
        pub().readContract({
          address: c().DeviceRegistry,
          abi: deviceRegistryAbi,
          functionName: "isRegistered",
          args: [d],
        }),
      isEligible: (d: Address, schema: Hex, algorithmId: bigint, reward: bigint) =>
        pub().readContract({
          address: c().DeviceRegistry,
          abi: deviceRegistryAbi,
          functionName: "isEligible",
          args: [d, schema, algorithmId, reward],
        }),
      lastChange: (d: Address) =>
        pub().readContract({
          address: c().DeviceRegistry,
          abi: deviceRegistryAbi,
          functionName: "lastChange",
          args: [d],
        }),
      isActive: (op: Address) =>
        pub().readContract({
          address: c().NodeStaking,
          abi: nodeStakingAbi,
          functionName: "isActive",
          args: [op, Role.Distributor],
        }),
      job: (jobId: bigint) =>
        pub().readContract({
          address: c().JobMarket,
          abi: jobMarketAbi,
          functionName: "getJob",
          args: [jobId],
        }),
      epochSeed: (e: bigint) =>
        pub().readContract({
          address: c().JobMarket,
          abi: jobMarketAbi,
          functionName: "epochSeed",
          args: [e],
        }),
      epochWindows: (e: bigint) =>
        pub().readContract({
          address: c().JobMarket,
          abi: jobMarketAbi,
          functionName: "epochWindows",
          args: [e],
        }),
      algorithm: (id: bigint) =>
        pub().readContract({
          address: c().AlgorithmMarketplace,
          abi: algorithmMarketplaceAbi,
          functionName: "getAlgorithm",
          args: [id],
        }),
      params: () =>
        pub().readContract({
          address: c().ResultAttestation,
          abi: resultAttestationAbi,
          functionName: "params",
        }),
    };
  })();
}

function parse<S extends z.ZodType>(schema: S, action: Action): z.infer<S> {
  const p = schema.safeParse(action.payload);
  if (!p.success) throw new PermanentActionError(`action ${action.key}: bad payload`);
  return p.data;
}

/** `Promise.all(items.map(f))` with at most `size` calls in flight (one RPC read each: do not flood the node). */
async function mapChunked<T, R>(
  items: readonly T[],
  f: (x: T) => Promise<R>,
  size = 128,
): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size)
    out.push(...(await Promise.all(items.slice(i, i + size).map(f))));
  return out;
}
