/**
 * A `RefinerWork` that hosts the round's trainer groups itself (PROTOCOL.md §5, §7.7; docs/fine-tuning-rounds.md
 * "Hosting the groups"): the refiner is the SecAgg server of every group of the rounds it is drawn to host, and
 * builds the real candidate from the groups' sums.
 *
 *   groups       the round as every party derives it (`trainingRoundOf`: seed, groups, host). Not the drawn host →
 *                undefined (nothing to commit). The host adds one session per group on its SecAgg HTTP server
 *                (`trainingSessionConfig`: members' registered session keys, the starting package's parameter
 *                count, `TRAINING_DEFAULTS.clipNorm`), once per process. Undefined until every session settled;
 *                then each group with a result gives its survivors, its sample sum and its control-group gain
 *                (`meanUpdateOf`, `controlGain` on the bounty's control set featurized with the package's
 *                featurizer); a failed session leaves its group out. The settled groups (with their decoded sums)
 *                are written to `<stateDir>/rounds/<bounty>-<round>.json` before they are returned.
 *   buildCandidate  `candidateWeights` of the kept groups' sums on the starting weights → the candidate package
 *                (`publishCandidate`: base manifest fields, new version, control-group confusion) on IPFS.
 *   metric       the candidate package's `accuracyMetric` on the revealed split, or on the control set.
 *
 * Sessions live in memory: a restart while they run loses them (the trainers that already sent do not rejoin; the
 * re-added sessions fail for lack of members and the round is closed at its deadline). A restart after they
 * settled reads the persisted groups and commits as if nothing happened.
 */
import path from "node:path";
import { getAddress, type Address, type Hex } from "viem";
import { z } from "zod";
import { deviceRegistryAbi } from "#sdk/chain/abi/DeviceRegistry.ts";
import { fineTuningAbi } from "#sdk/chain/abi/FineTuning.ts";
import type { ChainPublicClient } from "#sdk/chain/clients.ts";
import type { ContentStore } from "#sdk/ipfs/index.ts";
import { flatten, loadPackage, type LabelledVectors, type LoadedPackage } from "#sdk/ml/index.ts";
import { trainingSessionConfig } from "#sdk/protocol/session.ts";
import {
  accuracyMetric,
  fetchLabelledSet,
  TRAINING_DEFAULTS,
  trainingGroupList,
  trainingRoundOf,
  type LabelledSet,
} from "#sdk/protocol/training-round.ts";
import {
  decodeSum,
  SecAggError,
  type SecAggHttpServer,
  type SecAggResult,
  type SecAggSessionConfig,
} from "#sdk/secagg/index.ts";
import {
  featurizeSet,
  loadBasePackage,
  publishCandidate,
  type BasePackage,
} from "./candidate-package.ts";
import type { Candidate, GroupUpdate, RefinerWork } from "./Refiner.ts";
import {
  loadRoundState,
  ROUND_STATE_VERSION,
  saveRoundState,
  updatesOf,
  type RoundState,
} from "./round-state.ts";
import { candidateWeights, controlGain, meanUpdateOf, type GroupSum } from "./updates.ts";

export interface HostedWorkContracts {
  FineTuning: Address;
  NodeStaking: Address;
  DeviceRegistry: Address;
  AlgorithmMarketplace: Address;
}

export type HostedWorkEvent =
  | { type: "not-host"; bountyId: bigint; round: number; host: Address }
  | {
      type: "session-opened";
      bountyId: bigint;
      round: number;
      group: number;
      sessionId: Hex;
      members: number;
    }
  | { type: "session-done"; bountyId: bigint; round: number; group: number; survivors: number }
  | { type: "session-failed"; bountyId: bigint; round: number; group: number; reason: string }
  | { type: "host-failed"; bountyId: bigint; round: number; reason: string }
  | { type: "round-settled"; bountyId: bigint; round: number; groups: number; file: string };

export interface HostedWorkOptions {
  publicClient: ChainPublicClient;
  /** This refiner's operator address: it hosts the rounds whose drawn host it is. */
  address: Address;
  contracts: HostedWorkContracts;
  chainId: number;
  store: ContentStore;
  /** The SecAgg HTTP server (listening at the operator's NodeStaking endpoint). */
  secagg: SecAggHttpServer;
  /** Where settled rounds are persisted (`<stateDir>/rounds/`). */
  stateDir: string;
  /** How long each SecAgg round waits for silent trainers (round 0 also waits for them to finish training). */
  roundTimeoutMs: number;
  fromBlock?: bigint;
  onEvent?: (e: HostedWorkEvent) => void;
}

interface HostedGroup {
  group: number;
  session: SecAggSessionConfig;
  state: "running" | "done" | "failed";
  result?: SecAggResult;
}

interface HostedRound {
  base: BasePackage;
  controlCid: string;
  groups: HostedGroup[];
}

const bountySchema = z.looseObject({ controlCid: z.string().min(1) });
const keysSchema = z.array(z.string().regex(/^0x[0-9a-fA-F]{64}$/));

export class HostedWork implements RefinerWork {
  private readonly o: HostedWorkOptions;
  private readonly address: Address;
  /** Per round: its hosting (undefined: not the host, or no group). */
  private readonly hosting = new Map<string, Promise<HostedRound | undefined>>();
  private readonly settling = new Map<string, Promise<RoundState>>();
  private readonly states = new Map<string, RoundState>();
  private readonly bases = new Map<bigint, Promise<BasePackage>>();
  private readonly controls = new Map<
    string,
    Promise<{ set: LabelledSet; vectors: LabelledVectors }>
  >();
  private opened = 0;

  constructor(opts: HostedWorkOptions) {
    this.o = opts;
    this.address = getAddress(opts.address);
  }

  /** Sessions this work added to the SecAgg server since it started. */
  get sessionsOpened(): number {
    return this.opened;
  }

  /**
   * The round's settled groups, or undefined while they are not (or this refiner does not host the round). A failed
   * read (chain, IPFS, the persisted file) is reported as `host-failed` and retried on the next call, so one
   * bounty's trouble does not stop the refiner's reconcile of the others.
   */
  async groups(bountyId: bigint, round: number): Promise<readonly GroupUpdate[] | undefined> {
    const key = `${bountyId}-${round}`;
    try {
      const persisted = await this.state(bountyId, round);
      if (persisted !== undefined) return updatesOf(persisted);
      const hosted = await this.host(bountyId, round);
      if (hosted === undefined || hosted.groups.some((g) => g.state === "running"))
        return undefined;
      let settling = this.settling.get(key);
      if (settling === undefined) {
        settling = this.settle(bountyId, round, hosted);
        this.settling.set(key, settling);
        settling.catch(() => this.settling.delete(key));
      }
      return updatesOf(await settling);
    } catch (e) {
      this.o.onEvent?.({
        type: "host-failed",
        bountyId,
        round,
        reason: e instanceof Error ? e.message : String(e),
      });
      return undefined;
    }
  }

  async buildCandidate(
    bountyId: bigint,
    round: number,
    accepted: readonly GroupUpdate[],
  ): Promise<Candidate> {
    const state = await this.state(bountyId, round);
    if (state === undefined)
      throw new Error(`round ${bountyId}/${round}: the groups have not settled`);
    const base = await this.base(BigInt(state.algorithmId));
    if (base.pkg.cid !== state.packageCid)
      throw new Error(
        `round ${bountyId}/${round}: version ${state.algorithmId} is package ${base.pkg.cid}, the round trained from ${state.packageCid}`,
      );
    const P = flatten(base.weights).length;
    const ids = new Set(accepted.map((g) => g.group));
    const kept: GroupSum[] = state.groups
      .filter((g) => ids.has(g.group))
      .map((g) => ({ group: g.group, survivors: g.members.length, sum: g.sum }));
    if (kept.length !== ids.size)
      throw new Error(`round ${bountyId}/${round}: an accepted group has no settled sum`);
    const control = await this.control(state.controlCid, base.pkg);
    return publishCandidate({
      store: this.o.store,
      base,
      weights: candidateWeights(base.weights, kept, P),
      bountyId,
      round,
      control: { cid: state.controlCid, ...control },
    });
  }

  async metric(
    bountyId: bigint,
    _round: number,
    candidate: Candidate,
    splitCid: string | undefined,
  ): Promise<bigint> {
    const pkg = await loadPackage(this.o.store, candidate.modelCid, candidate.modelSha256);
    const cid = splitCid ?? (await this.controlCidOf(bountyId));
    return accuracyMetric(pkg, await fetchLabelledSet(this.o.store, cid));
  }

  // ---------------------------------------------------------------------------------------------------------------

  private async state(bountyId: bigint, round: number): Promise<RoundState | undefined> {
    const key = `${bountyId}-${round}`;
    const cached = this.states.get(key);
    if (cached !== undefined) return cached;
    const loaded = await loadRoundState(this.o.stateDir, bountyId, round);
    if (loaded !== undefined) this.states.set(key, loaded);
    return loaded;
  }

  /** The round's hosting, started once (a failed start is retried on the next call). */
  private host(bountyId: bigint, round: number): Promise<HostedRound | undefined> {
    const key = `${bountyId}-${round}`;
    let p = this.hosting.get(key);
    if (p === undefined) {
      p = this.startHosting(bountyId, round);
      this.hosting.set(key, p);
      p.catch(() => this.hosting.delete(key));
    }
    return p;
  }

  private async startHosting(bountyId: bigint, round: number): Promise<HostedRound | undefined> {
    const r = await trainingRoundOf(
      this.o.publicClient,
      this.o.contracts,
      bountyId,
      BigInt(round),
      this.o.fromBlock ?? 0n,
    );
    if (r === undefined) throw new Error(`round ${bountyId}/${round} has not opened`);
    if (r.host !== this.address) {
      this.o.onEvent?.({ type: "not-host", bountyId, round, host: r.host });
      return undefined;
    }
    if (r.groups.length === 0) return undefined;
    const [base, controlCid] = await Promise.all([
      this.base(r.algorithmId),
      this.controlCidOf(bountyId),
    ]);
    const parameters = flatten(base.weights).length;
    // every session is derived before any is added, so a failed read adds none
    const sessions: SecAggSessionConfig[] = [];
    for (const [group, members] of r.groups.entries()) {
      const keys = keysSchema.parse(
        await this.o.publicClient.readContract({
          address: this.o.contracts.DeviceRegistry,
          abi: deviceRegistryAbi,
          functionName: "sessionKeysOf",
          args: [members],
        }),
      ) as Hex[];
      sessions.push(
        trainingSessionConfig({
          chainId: this.o.chainId,
          fineTuning: this.o.contracts.FineTuning,
          bountyId,
          round: BigInt(round),
          group,
          members: trainingGroupList(bountyId, members).list.members,
          sessionKeys: keys,
          parameters,
          clipNorm: TRAINING_DEFAULTS.clipNorm,
        }),
      );
    }
    const groups = await Promise.all(
      sessions.map((session, group) => this.open(bountyId, round, group, session)),
    );
    return { base, controlCid, groups };
  }

  private async open(
    bountyId: bigint,
    round: number,
    group: number,
    session: SecAggSessionConfig,
  ): Promise<HostedGroup> {
    const h: HostedGroup = { group, session, state: "running" };
    try {
      // journaled: a restart continues the group's session instead of losing it (sdk/secagg/journal.ts)
      await this.o.secagg.openSession(session, {
        roundTimeoutMs: this.o.roundTimeoutMs,
        journalFile: path.join(
          this.o.stateDir,
          "sessions",
          `${bountyId}-${round}-${group}.journal`,
        ),
      });
      this.opened++;
      this.o.onEvent?.({
        type: "session-opened",
        bountyId,
        round,
        group,
        sessionId: session.sessionId,
        members: session.roster.length,
      });
    } catch (e) {
      // already hosted by this server (an earlier start of this round): follow that session
      if (!(e instanceof SecAggError && e.code === "INVALID_CONFIG")) throw e;
    }
    this.o.secagg.result(session.sessionId).then(
      (result) => {
        h.state = "done";
        h.result = result;
        this.o.onEvent?.({
          type: "session-done",
          bountyId,
          round,
          group,
          survivors: result.survivors.length,
        });
      },
      (e: unknown) => {
        h.state = "failed";
        this.o.onEvent?.({
          type: "session-failed",
          bountyId,
          round,
          group,
          reason: e instanceof Error ? e.message : String(e),
        });
      },
    );
    return h;
  }

  /** Every group's result → survivors, samples and control gain; persisted before it is returned. */
  private async settle(bountyId: bigint, round: number, hosted: HostedRound): Promise<RoundState> {
    const { base } = hosted;
    const parameters = flatten(base.weights).length;
    const control = await this.control(hosted.controlCid, base.pkg);
    const groups: RoundState["groups"] = [];
    for (const g of hosted.groups) {
      const result = g.result;
      if (g.state !== "done" || result === undefined || result.survivors.length === 0) continue;
      const sum = decodeSum(result.sum, result.survivors.length, g.session.encoding);
      const { delta, samples } = meanUpdateOf(
        { group: g.group, survivors: result.survivors.length, sum },
        parameters,
      );
      const byId = new Map(g.session.roster.map((m) => [m.id, getAddress(m.address)]));
      groups.push({
        group: g.group,
        members: [...result.survivors]
          .sort((a, b) => a - b)
          .map((id) => byId.get(id))
          .filter((a): a is Address => a !== undefined),
        samples: samples.toString(),
        gain: controlGain(base.weights, delta, control.vectors).toString(),
        sum: [...sum],
      });
    }
    const state: RoundState = {
      version: ROUND_STATE_VERSION,
      bountyId: bountyId.toString(),
      round,
      algorithmId: base.algorithmId.toString(),
      packageCid: base.pkg.cid,
      modelSha256: base.modelSha256,
      controlCid: hosted.controlCid,
      groups,
    };
    await saveRoundState(this.o.stateDir, state);
    const key = `${bountyId}-${round}`;
    this.states.set(key, state);
    this.hosting.delete(key);
    this.o.onEvent?.({
      type: "round-settled",
      bountyId,
      round,
      groups: groups.length,
      file: `rounds/${key}.json`,
    });
    return state;
  }

  private base(algorithmId: bigint): Promise<BasePackage> {
    let p = this.bases.get(algorithmId);
    if (p === undefined) {
      p = loadBasePackage(
        this.o.publicClient,
        this.o.contracts.AlgorithmMarketplace,
        this.o.store,
        algorithmId,
      );
      this.bases.set(algorithmId, p);
      p.catch(() => this.bases.delete(algorithmId));
    }
    return p;
  }

  /** The control set and its features under `pkg`'s featurizer (cached per set and package). */
  private control(
    cid: string,
    pkg: LoadedPackage,
  ): Promise<{ set: LabelledSet; vectors: LabelledVectors }> {
    const key = `${cid}:${pkg.cid}`;
    let p = this.controls.get(key);
    if (p === undefined) {
      p = fetchLabelledSet(this.o.store, cid).then((set) => ({
        set,
        vectors: featurizeSet(pkg, set),
      }));
      this.controls.set(key, p);
      p.catch(() => this.controls.delete(key));
    }
    return p;
  }

  private async controlCidOf(bountyId: bigint): Promise<string> {
    return bountySchema.parse(
      await this.o.publicClient.readContract({
        address: this.o.contracts.FineTuning,
        abi: fineTuningAbi,
        functionName: "getBounty",
        args: [bountyId],
      }),
    ).controlCid;
  }
}
