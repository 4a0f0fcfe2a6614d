/**
 * Watches JobMarket for `CohortAssigned` through the sdk's one event cursor (`sdk/chain/event-cursor.ts`): getLogs
 * polling up to `head − confirmations`, a persisted position (`chain-cursor.json`: block number and hash, with
 * earlier checkpoints) written atomically after each block whose events were all handled, and reorg detection by
 * block hash with a re-scan from the common ancestor. A restarted runner resumes where it stopped and never skips a
 * block; a handler that throws (e.g. the device is busy) stops the pass, and its block is delivered again next time.
 * Each event is turned into a `PredictionJob` from chain data only: the job (`getJob`), its algorithm listing
 * (package CID + model sha256) and the aggregator's endpoint (`NodeStaking.operatorInfo`).
 *
 * A cursor file of the runner's earlier format (`{chainId, jobMarket, block}`) is converted once, in place.
 */
import { getAddress, type Address, type Hex } from "viem";
import { z } from "zod";
import { CursorError } from "#sdk/chain/errors.ts";
import { EventCursor } from "#sdk/chain/event-cursor.ts";
import { readJsonFile, writeJsonAtomic } from "./atomic-fs.ts";
import { abiOf, JOB_MARKET_EVENTS, type DevicePublicClient } from "./chain.ts";
import { DeviceError } from "./errors.ts";
import type { PredictionJob } from "./prediction-job.ts";

const legacyCursorSchema = z.strictObject({
  chainId: z.number().int(),
  jobMarket: z.string(),
  block: z.string().regex(/^[0-9]+$/),
});

export const cohortEventSchema = z.object({
  jobId: z.bigint(),
  aggregator: z.string(),
  cohortRoot: z.string().regex(/^0x[0-9a-fA-F]{64}$/),
  cohortCid: z.string().min(1).max(512),
});
export type CohortEvent = z.infer<typeof cohortEventSchema> & { blockNumber: bigint };

export interface CohortWatcherOptions {
  publicClient: DevicePublicClient;
  chainId: number;
  jobMarket: Address;
  cursorFile: string;
  /** First block to scan when there is no cursor (the JobMarket deployment block). */
  startBlock: bigint;
  /** Blocks to stay behind the head (reorg safety). */
  confirmations?: bigint;
  /** Largest getLogs range. */
  maxRange?: bigint;
}

export class CohortWatcher {
  private readonly opts: CohortWatcherOptions;
  private readonly cursor: EventCursor<typeof JOB_MARKET_EVENTS>;
  private migrated = false;

  constructor(opts: CohortWatcherOptions) {
    this.opts = opts;
    this.cursor = new EventCursor({
      publicClient: opts.publicClient,
      address: opts.jobMarket,
      abi: JOB_MARKET_EVENTS,
      stateFile: opts.cursorFile,
      fromBlock: opts.startBlock,
      confirmations: Number(opts.confirmations ?? 0n),
      maxRange: Number(opts.maxRange ?? 5_000n),
    });
  }

  /** The last block whose events were all handled (`startBlock − 1` before the first). */
  async position(): Promise<bigint> {
    await this.migrate();
    const p = await this.guard(() => this.cursor.position());
    return p === undefined ? this.opts.startBlock - 1n : p.block;
  }

  /**
   * Hands every `CohortAssigned` after the cursor, up to the confirmed head, to `handle` in chain order and moves
   * the cursor past each block once its events were handled. Undecodable or malformed events are skipped. Returns
   * the number of events handled. A throwing `handle` stops the pass (rethrown); its block comes again next time.
   */
  async poll(handle: (ev: CohortEvent) => Promise<void>): Promise<number> {
    await this.migrate();
    let n = 0;
    await this.guard(() =>
      this.cursor.poll(async (log) => {
        const parsed = cohortEventSchema.safeParse(log.args);
        if (!parsed.success) return;
        await handle({ ...parsed.data, blockNumber: log.blockNumber });
        n++;
      }),
    );
    return n;
  }

  /** A cursor state of another chain or JobMarket is a configuration error, as it always was. */
  private async guard<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      if (e instanceof CursorError && e.code === "CURSOR_STATE")
        throw new DeviceError("CONFIG_INVALID", `${this.opts.cursorFile}: ${e.message}`);
      throw e;
    }
  }

  /** Converts a cursor file of the earlier format (last handled block only) to the event cursor's state. */
  private async migrate(): Promise<void> {
    if (this.migrated) return;
    let legacy;
    try {
      legacy = await readJsonFile(this.opts.cursorFile, legacyCursorSchema);
    } catch {
      legacy = undefined; // not the legacy format: the event cursor validates it
    }
    if (legacy !== undefined) {
      if (
        legacy.chainId !== this.opts.chainId ||
        getAddress(legacy.jobMarket) !== getAddress(this.opts.jobMarket)
      )
        throw new DeviceError(
          "CONFIG_INVALID",
          `${this.opts.cursorFile} belongs to another chain or JobMarket`,
        );
      const block = await this.opts.publicClient.getBlock({ blockNumber: BigInt(legacy.block) });
      await writeJsonAtomic(this.opts.cursorFile, {
        version: 1,
        chainId: this.opts.chainId,
        addresses: [this.opts.jobMarket.toLowerCase()],
        checkpoints: [{ block: legacy.block, hash: block.hash }],
      });
    }
    this.migrated = true;
  }
}

const jobSchema = z.looseObject({
  algorithmId: z.bigint(),
  rewardPerDevice: z.bigint(),
});
// the job's schema is its algorithm's (JobMarket checks it at creation and keeps it in `JobCreated` only)
const algorithmSchema = z.looseObject({
  schema: z.string().regex(/^0x[0-9a-fA-F]{64}$/),
  packageCid: z.string().min(1),
  modelSha256: z.string().regex(/^0x[0-9a-fA-F]{64}$/),
});
const operatorSchema = z.looseObject({ endpoint: z.string().url() });

/** Resolves a CohortAssigned event into a runnable job from chain state. */
export async function jobFromEvent(
  pub: DevicePublicClient,
  addresses: { chainId: number; jobMarket: Address; marketplace: Address; staking: Address },
  ev: CohortEvent,
): Promise<PredictionJob & { algorithmId: bigint; rewardPerDevice: bigint }> {
  const job = jobSchema.parse(
    await pub.readContract({
      blockNumber: ev.blockNumber,
      address: addresses.jobMarket,
      abi: abiOf("JobMarket"),
      functionName: "getJob",
      args: [ev.jobId],
    }),
  );
  const alg = algorithmSchema.parse(
    await pub.readContract({
      blockNumber: ev.blockNumber,
      address: addresses.marketplace,
      abi: abiOf("AlgorithmMarketplace"),
      functionName: "getAlgorithm",
      args: [job.algorithmId],
    }),
  );
  const op = operatorSchema.parse(
    await pub.readContract({
      blockNumber: ev.blockNumber,
      address: addresses.staking,
      abi: abiOf("NodeStaking"),
      functionName: "operatorInfo",
      args: [getAddress(ev.aggregator)],
    }),
  );
  return {
    kind: "predict",
    jobId: ev.jobId,
    chainId: addresses.chainId,
    jobMarket: addresses.jobMarket,
    cohortRoot: ev.cohortRoot as Hex,
    cohortCid: ev.cohortCid,
    packageCid: alg.packageCid,
    modelSha256: alg.modelSha256,
    schema: alg.schema as Hex,
    aggregatorUrl: op.endpoint,
    attempt: 0,
    assignedBlock: ev.blockNumber,
    algorithmId: job.algorithmId,
    rewardPerDevice: job.rewardPerDevice,
  };
}
