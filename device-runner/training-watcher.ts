/**
 * The trainer's side of `dml-device run` (PROTOCOL.md §5, docs/fine-tuning-rounds.md "Trainers"): watches
 * `FineTuning.RoundOpened` through the sdk's event cursor (persisted position `training-cursor.json`, reorg re-scan,
 * at-least-once delivery — like the CohortWatcher) and turns each round of a bounty this device had enrolled in by
 * then (`TrainerEnrolled` with trainer = me, up to the round's `RoundOpened` block) into a `TrainingJob` from chain
 * data only:
 *
 *   round    `trainingRoundOf` (sdk/protocol/training-round.ts): seed, groups, host — the same derivation as the
 *            refiner's; the device's group and client id are `groupOf(me)` (not in a group → skipped, logged);
 *   package  the marketplace listing of the round's `algorithmId` (package CID, model sha256, schema);
 *   host     `NodeStaking.operatorInfo(host).endpoint`, where the group's SecAgg session runs;
 *   group    `trainingGroupList(bountyId, members)`, encoded and added to the device's own store: its root is the
 *            one `runTrainingJob` checks the list against, so no published list needs trusting;
 *   training `TRAINING_DEFAULTS` (epochs, learning rate, clip norm: the host's session config assumes them).
 *
 * A round that can no longer take updates is skipped: the bounty is not active or has moved on, the round is not
 * `Open` (a refiner committed, or it was closed), or its deadline `roundOpenedAt + roundDuration` passed. The runner's
 * job key (`train:<chain>:<FineTuning>:<bounty>:<round>:<group>`) makes a round run once across restarts and
 * redeliveries.
 */
import { BaseError, ContractFunctionRevertedError, getAddress, type Address, type Hex } from "viem";
import type { Logger } from "pino";
import { z } from "zod";
import { fineTuningAbi } from "#sdk/chain/abi/FineTuning.ts";
import { ArtifactError, CursorError } from "#sdk/chain/errors.ts";
import { EventCursor } from "#sdk/chain/event-cursor.ts";
import type { ContentStore } from "#sdk/ipfs/index.ts";
import { encodeCohortList } from "#sdk/protocol/cohort.ts";
import { ProtocolError } from "#sdk/protocol/errors.ts";
import { trainingSessionId } from "#sdk/protocol/session.ts";
import {
  groupOf,
  TRAINING_DEFAULTS,
  trainingGroupList,
  trainingRoundOf,
} from "#sdk/protocol/training-round.ts";
import { abiOf, type DevicePublicClient } from "./chain.ts";
import { DeviceError } from "./errors.ts";
import type { TrainingJob } from "./trainer.ts";

type FineTuningItem = (typeof fineTuningAbi)[number];
type RoundOpenedEvent = Extract<FineTuningItem, { type: "event"; name: "RoundOpened" }>;
const roundOpened = fineTuningAbi.find(
  (i): i is RoundOpenedEvent => i.type === "event" && i.name === "RoundOpened",
);
if (!roundOpened)
  throw new ArtifactError(
    "the generated FineTuning ABI has no RoundOpened event: `npm run gen:abis`",
  );
/** The FineTuning events the training watcher polls. */
export const FINE_TUNING_EVENTS = [roundOpened] as const;

const roundOpenedSchema = z.object({
  bountyId: z.bigint(),
  round: z.bigint(),
  algorithmId: z.bigint(),
  openedAt: z.bigint(),
});
export type RoundOpened = z.infer<typeof roundOpenedSchema> & { blockNumber: bigint };

/** `IFineTuning.BountyStatus.Active`, `IFineTuning.RoundStatus.Open`. */
const BOUNTY_ACTIVE = 1;
const ROUND_OPEN = 0;
const bountySchema = z.looseObject({
  status: z.number().int(),
  currentRound: z.number().int(),
  roundDuration: z.number().int(),
});
const roundSchema = z.looseObject({ status: z.number().int() });
const algorithmSchema = z.looseObject({
  schema: z.string().regex(/^0x[0-9a-fA-F]{64}$/),
  packageCid: z.string().min(1),
  modelSha256: z.string().regex(/^0x[0-9a-fA-F]{64}$/),
});
const operatorSchema = z.looseObject({ endpoint: z.url() });

/** Why a delivered round yields no job for this device. */
export type RoundSkip =
  | "not-enrolled"
  | "bounty-inactive"
  | "round-not-current"
  | "round-not-open"
  | "round-expired"
  | "not-in-group"
  | "unresolvable";

export interface TrainingWatcherOptions {
  publicClient: DevicePublicClient;
  chainId: number;
  contracts: { FineTuning: Address; AlgorithmMarketplace: Address; NodeStaking: Address };
  /** This device. */
  device: Address;
  /** Where the group lists are added (the device's own store). */
  store: Pick<ContentStore, "addBytes">;
  cursorFile: string;
  /** First block to scan when there is no cursor, and the lower bound of every log query (the deployment block). */
  startBlock: bigint;
  /** Blocks to stay behind the head (reorg safety). */
  confirmations?: bigint;
  /** Largest getLogs range. */
  maxRange?: bigint;
  log?: Logger;
}

export class TrainingWatcher {
  private readonly opts: TrainingWatcherOptions;
  private readonly cursor: EventCursor<typeof FINE_TUNING_EVENTS>;
  private readonly me: Address;

  constructor(opts: TrainingWatcherOptions) {
    this.opts = opts;
    this.me = getAddress(opts.device);
    this.cursor = new EventCursor({
      publicClient: opts.publicClient,
      address: opts.contracts.FineTuning,
      abi: FINE_TUNING_EVENTS,
      stateFile: opts.cursorFile,
      fromBlock: opts.startBlock,
      confirmations: Number(opts.confirmations ?? 0n),
      maxRange: Number(opts.maxRange ?? 5_000n),
    });
  }

  /** The last block whose rounds were all handled (`startBlock − 1` before the first). */
  async position(): Promise<bigint> {
    const p = await this.guard(() => this.cursor.position());
    return p === undefined ? this.opts.startBlock - 1n : p.block;
  }

  /**
   * Hands the training job of every round opened after the cursor (up to the confirmed head) that this device
   * trains in to `handle`, in chain order, and moves the cursor past each block once handled. Rounds it does not
   * train in are passed to `onSkip` (default: logged). A throwing `handle`, or a chain read that fails for a
   * transport reason, stops the pass (rethrown); its block comes again next time. Returns the number of jobs handled.
   */
  async poll(
    handle: (job: TrainingJob) => Promise<void>,
    onSkip?: (ev: RoundOpened, why: RoundSkip, detail?: string) => void,
  ): Promise<number> {
    let n = 0;
    const skip =
      onSkip ??
      ((ev: RoundOpened, why: RoundSkip, detail?: string) =>
        this.opts.log?.[why === "not-enrolled" ? "debug" : "info"](
          {
            bountyId: ev.bountyId.toString(),
            round: ev.round.toString(),
            why,
            ...(detail ? { detail } : {}),
          },
          "fine-tuning round skipped",
        ));
    await this.guard(() =>
      this.cursor.poll(async (log) => {
        const parsed = roundOpenedSchema.safeParse(log.args);
        if (!parsed.success) return;
        const ev = { ...parsed.data, blockNumber: log.blockNumber };
        let job: TrainingJob | RoundSkip;
        try {
          job = await this.resolve(ev);
        } catch (e) {
          if (!isPermanent(e)) throw e;
          skip(ev, "unresolvable", e instanceof Error ? e.message.split("\n")[0] : String(e));
          return;
        }
        if (typeof job === "string") {
          skip(ev, job);
          return;
        }
        await handle(job);
        n++;
      }),
    );
    return n;
  }

  /** The round's job for this device, or why there is none. Chain reads only, plus the group list added locally. */
  async resolve(ev: RoundOpened): Promise<TrainingJob | RoundSkip> {
    const pub = this.opts.publicClient;
    const { FineTuning, AlgorithmMarketplace, NodeStaking } = this.opts.contracts;
    // enrolled by the block that opened the round: the round's trainer set (trainingRoundOf) is cut there
    const mine = await pub.getContractEvents({
      address: FineTuning,
      abi: fineTuningAbi,
      eventName: "TrainerEnrolled",
      args: { bountyId: ev.bountyId, trainer: this.me },
      fromBlock: this.opts.startBlock,
      toBlock: ev.blockNumber,
    });
    if (mine.length === 0) return "not-enrolled";
    const [bountyRaw, roundRaw, head] = await Promise.all([
      pub.readContract({
        address: FineTuning,
        abi: fineTuningAbi,
        functionName: "getBounty",
        args: [ev.bountyId],
      }),
      pub.readContract({
        address: FineTuning,
        abi: fineTuningAbi,
        functionName: "getRound",
        args: [ev.bountyId, ev.round],
      }),
      pub.getBlock({ blockTag: "latest" }),
    ]);
    const bounty = bountySchema.parse(bountyRaw);
    if (bounty.status !== BOUNTY_ACTIVE) return "bounty-inactive";
    if (BigInt(bounty.currentRound) !== ev.round) return "round-not-current";
    if (roundSchema.parse(roundRaw).status !== ROUND_OPEN) return "round-not-open";
    if (head.timestamp > ev.openedAt + BigInt(bounty.roundDuration)) return "round-expired";

    const round = await trainingRoundOf(
      pub,
      { FineTuning, NodeStaking },
      ev.bountyId,
      ev.round,
      this.opts.startBlock,
    );
    if (round === undefined || round.openedBlock !== ev.blockNumber)
      throw new DeviceError(
        "CHAIN",
        `RoundOpened(${ev.bountyId}, ${ev.round}) at block ${ev.blockNumber} is not on the chain any more`,
      );
    const at = groupOf(round, this.me);
    if (at === undefined) return "not-in-group";
    const [alg, op] = await Promise.all([
      pub.readContract({
        address: AlgorithmMarketplace,
        abi: abiOf("AlgorithmMarketplace"),
        functionName: "getAlgorithm",
        args: [round.algorithmId],
      }),
      pub.readContract({
        address: NodeStaking,
        abi: abiOf("NodeStaking"),
        functionName: "operatorInfo",
        args: [round.host],
      }),
    ]);
    const listing = algorithmSchema.parse(alg);
    const endpoint = operatorSchema.parse(op).endpoint;
    const { list, root } = trainingGroupList(ev.bountyId, round.groups[at.group]!);
    const groupCid = await this.opts.store.addBytes(encodeCohortList(list));
    return {
      kind: "train",
      chainId: this.opts.chainId,
      fineTuning: FineTuning,
      bountyId: ev.bountyId,
      round: ev.round,
      group: at.group,
      groupRoot: root,
      groupCid,
      packageCid: listing.packageCid,
      modelSha256: listing.modelSha256,
      schema: listing.schema as Hex,
      aggregatorUrl: endpoint,
      epochs: TRAINING_DEFAULTS.epochs,
      learningRate: TRAINING_DEFAULTS.learningRate,
      clipNorm: TRAINING_DEFAULTS.clipNorm,
    };
  }

  /** A cursor state of another chain or FineTuning is a configuration error. */
  private async guard<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      if (e instanceof CursorError && e.code === "CURSOR_STATE")
        throw new DeviceError("CONFIG_INVALID", `${this.opts.cursorFile}: ${e.message}`);
      throw e;
    }
  }
}

/**
 * Whether resolving a round failed for a reason another try would not fix: malformed chain data (zod), a revert
 * (e.g. no active refiner to host the round), a typed device or protocol error. Transport failures are not.
 */
function isPermanent(e: unknown): boolean {
  if (e instanceof z.ZodError || e instanceof ProtocolError) return true;
  if (e instanceof DeviceError) return e.code !== "CHAIN";
  return (
    e instanceof BaseError && e.walk((x) => x instanceof ContractFunctionRevertedError) !== null
  );
}

const sessionStatusSchema = z.looseObject({ round: z.number().int().min(0) });

/**
 * Whether the round's host serves the group's SecAgg session (`GET <endpoint>/sessions/<id>`): `ready` while it
 * takes advertisements (round 0), `started` once it moved past them (joining now fails), `not-yet` when the host does
 * not answer, answers with an error, or does not know the session yet. A trainer has one try per round, so the
 * daemon holds a `not-yet` round back (the cursor stays before it) until the host serves it or the round expires.
 */
export async function hostSession(
  job: Pick<
    TrainingJob,
    "chainId" | "fineTuning" | "bountyId" | "round" | "group" | "aggregatorUrl"
  >,
  timeoutMs = 5_000,
): Promise<"ready" | "started" | "not-yet"> {
  const id = trainingSessionId(
    job.chainId,
    getAddress(job.fineTuning),
    job.bountyId,
    job.round,
    job.group,
  );
  let res: Response;
  try {
    res = await fetch(`${job.aggregatorUrl}/sessions/${id}`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch {
    return "not-yet";
  }
  if (!res.ok) {
    await res.body?.cancel();
    return "not-yet";
  }
  const status = sessionStatusSchema.safeParse(await res.json().catch(() => undefined));
  if (!status.success) return "not-yet";
  return status.data.round === 0 ? "ready" : "started";
}
