/**
 * Watches JobMarket for `CohortAssigned` with `getLogs` polling and a persisted cursor (`chain-cursor.json`: the last
 * block whose events were fully handled), so a restarted runner resumes where it stopped and never skips a block.
 * Each event is turned into a `PredictionJob` from chain data only: the job (`getJob`), its algorithm listing
 * (package CID + model sha256) and the aggregator's endpoint (`NodeStaking.operatorInfo`).
 */
import { getAddress, type Address, type Hex } from "viem";
import { z } from "zod";
import { readJsonFile, writeJsonAtomic } from "./atomic-fs.ts";
import { abiOf, JOB_MARKET_EVENTS, type DevicePublicClient } from "./chain.ts";
import { DeviceError } from "./errors.ts";
import type { PredictionJob } from "./prediction-job.ts";

const cursorSchema = z.strictObject({
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
  constructor(opts: CohortWatcherOptions) {
    this.opts = opts;
  }

  async cursor(): Promise<bigint> {
    const c = await readJsonFile(this.opts.cursorFile, cursorSchema);
    if (c === undefined) return this.opts.startBlock - 1n;
    if (
      c.chainId !== this.opts.chainId ||
      getAddress(c.jobMarket) !== getAddress(this.opts.jobMarket)
    )
      throw new DeviceError(
        "CONFIG_INVALID",
        `${this.opts.cursorFile} belongs to another chain or JobMarket`,
      );
    return BigInt(c.block);
  }

  async commit(block: bigint): Promise<void> {
    await writeJsonAtomic(this.opts.cursorFile, {
      chainId: this.opts.chainId,
      jobMarket: this.opts.jobMarket,
      block: block.toString(),
    });
  }

  /** Events after the cursor up to the confirmed head (at most `maxRange` blocks); call `commit(toBlock)` once handled. */
  async poll(): Promise<{ events: CohortEvent[]; toBlock: bigint } | undefined> {
    // cacheTime 0: viem caches the block number for a polling interval, which would hide blocks just mined
    const head = await this.opts.publicClient.getBlockNumber({ cacheTime: 0 });
    const safe = head - (this.opts.confirmations ?? 0n);
    const from = (await this.cursor()) + 1n;
    if (safe < from) return undefined;
    const to =
      from + (this.opts.maxRange ?? 5_000n) - 1n < safe
        ? from + (this.opts.maxRange ?? 5_000n) - 1n
        : safe;
    const logs = await this.opts.publicClient.getLogs({
      address: this.opts.jobMarket,
      event: JOB_MARKET_EVENTS[0],
      fromBlock: from,
      toBlock: to,
    });
    const events: CohortEvent[] = [];
    for (const log of logs) {
      const parsed = cohortEventSchema.safeParse(log.args);
      if (parsed.success) events.push({ ...parsed.data, blockNumber: log.blockNumber });
    }
    return { events, toBlock: to };
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
      address: addresses.jobMarket,
      abi: abiOf("JobMarket"),
      functionName: "getJob",
      args: [ev.jobId],
    }),
  );
  const alg = algorithmSchema.parse(
    await pub.readContract({
      address: addresses.marketplace,
      abi: abiOf("AlgorithmMarketplace"),
      functionName: "getAlgorithm",
      args: [job.algorithmId],
    }),
  );
  const op = operatorSchema.parse(
    await pub.readContract({
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
    algorithmId: job.algorithmId,
    rewardPerDevice: job.rewardPerDevice,
  };
}
