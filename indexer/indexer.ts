/**
 * The local graph host's indexing loop, as graph-node's block stream: it asks the chain for the logs of the
 * subgraph's data sources in block ranges, hands each block that has any to the WebAssembly runtime in block order and
 * commits the block's entity changes to the versioned store in one transaction (the store's block pointer moves with
 * them, so a crash resumes at the next block). Before each step it checks that the block it indexed last is still on
 * the chain; after a reorg (or an EDR snapshot revert) it walks back to the newest block both agree on, rolls the
 * store back to it and indexes the new chain from there. A deterministic handler error stops indexing at its block
 * and sets `hasIndexingErrors`, as graph-node fails a subgraph; anything else (RPC down, a timed-out call) is retried.
 */
import type { Hex, PublicClient } from "viem";
import type { Logger } from "pino";
import { z } from "zod";
import { fetchBlockInput, type BlockInput, type LogInput } from "./runtime/block-input.ts";
import { RuntimeError, RuntimeErrorCode } from "./runtime/errors.ts";
import type { CreatedDataSource, SubgraphRuntime } from "./runtime/runtime.ts";
import type { Store } from "./store/store.ts";
import type { BlockPtr } from "./types.ts";

export const IndexerErrorCode = {
  /** The chain reorganised deeper than `reorgThreshold` blocks below the indexed head. */
  REORG_TOO_DEEP: "REORG_TOO_DEEP",
  /** Options out of range. */
  CONFIG_INVALID: "CONFIG_INVALID",
} as const;
export type IndexerErrorCode = (typeof IndexerErrorCode)[keyof typeof IndexerErrorCode];

export class IndexerError extends Error {
  readonly code: IndexerErrorCode;
  constructor(code: IndexerErrorCode, message: string) {
    super(message);
    this.name = "IndexerError";
    this.code = code;
  }
}

/** Blocks fetched ahead of the one being handled (bench:indexer measures the effect). */
const PREFETCH_BLOCKS = 16;

const optionsSchema = z.object({
  /** Blocks per eth_getLogs request. */
  batchBlocks: z.number().int().min(1).max(100_000).default(2_000),
  /** How far below the indexed head a reorg may reach and still be rolled back (graph-node's REORG_THRESHOLD). */
  reorgThreshold: z.number().int().min(1).max(100_000).default(250),
  /** Pause between polls once the head is reached (ms). */
  pollMs: z.number().int().min(10).max(600_000).default(1_000),
  /** Retry pause after a non-deterministic failure (ms), doubled up to 30 s. */
  retryMs: z.number().int().min(10).max(600_000).default(1_000),
});
export type IndexerTuning = z.input<typeof optionsSchema>;

export interface IndexerOptions extends IndexerTuning {
  readonly client: PublicClient;
  readonly runtime: SubgraphRuntime;
  readonly store: Store;
  readonly logger?: Logger;
  /** Called with the data sources a block created from templates (persist them to resume after a restart). */
  readonly onCreatedDataSources?: (created: readonly CreatedDataSource[]) => Promise<void>;
}

/** What one call of {@link Indexer.step} did. */
export type StepResult =
  | {
      readonly kind: "indexed";
      readonly from: number;
      readonly to: number;
      readonly blocks: number;
      readonly triggers: number;
      /** The chain head this step indexed toward. */
      readonly head: number;
    }
  | { readonly kind: "reverted"; readonly from: number; readonly to: number }
  | { readonly kind: "synced"; readonly head: number }
  | { readonly kind: "failed"; readonly block: number; readonly message: string };

const isDeterministic = (e: unknown): e is RuntimeError =>
  e instanceof RuntimeError && e.code === RuntimeErrorCode.HANDLER_DETERMINISTIC;

export class Indexer {
  readonly #client: PublicClient;
  readonly #runtime: SubgraphRuntime;
  readonly #store: Store;
  readonly #log: Logger | undefined;
  readonly #tuning: z.output<typeof optionsSchema>;
  readonly #onCreated: IndexerOptions["onCreatedDataSources"];
  readonly #receipts: boolean;
  /**
   * Wall time spent since start, in ms: waiting for logs and blocks from the chain, running the mappings, committing
   * to the store (what bounds throughput: bench:indexer prints it).
   */
  readonly timings = { chainMs: 0, mappingsMs: 0, storeMs: 0 };

  constructor(options: IndexerOptions) {
    const tuning = optionsSchema.safeParse({
      batchBlocks: options.batchBlocks,
      reorgThreshold: options.reorgThreshold,
      pollMs: options.pollMs,
      retryMs: options.retryMs,
    });
    if (!tuning.success)
      throw new IndexerError(
        IndexerErrorCode.CONFIG_INVALID,
        tuning.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "),
      );
    this.#tuning = tuning.data;
    this.#client = options.client;
    this.#runtime = options.runtime;
    this.#store = options.store;
    this.#log = options.logger;
    this.#onCreated = options.onCreatedDataSources;
    this.#receipts = options.runtime.needsReceipts();
  }

  /** The block the store holds last, or null before the first. */
  latest(): BlockPtr | null {
    return this.#store.latestBlock();
  }

  /**
   * One step: roll back a reorg if the indexed head left the chain, else index the next range of blocks (at most
   * `batchBlocks`), else report the head reached. A deterministic handler error is recorded in the store and
   * returned as `failed` (indexing stays stopped there); other errors are thrown for the caller to retry.
   */
  async step(): Promise<StepResult> {
    const failed = this.#store.indexingError();
    if (failed !== null) return { kind: "failed", block: failed.block, message: failed.message };
    const head = Number(await this.#client.getBlockNumber({ cacheTime: 0 }));
    const latest = this.#store.latestBlock();
    if (latest !== null && !(await this.#onChain(latest, head)))
      return this.#rollBack(latest, head);
    const from = latest === null ? this.#runtime.startBlock() : latest.number + 1;
    if (from > head) return { kind: "synced", head };
    const to = Math.min(head, from + this.#tuning.batchBlocks - 1);
    let t = performance.now();
    const byBlock = await this.#logs(from, to);
    this.timings.chainMs += performance.now() - t;
    let triggers = 0;
    let last = latest?.number ?? -1;
    // blocks (and receipts) are fetched PREFETCH_BLOCKS ahead of the one the mappings run on: the round trips overlap
    // the handlers instead of adding to them; the blocks still run and commit strictly in order
    const blocks = [...byBlock];
    const inFlight = new Map<number, Promise<BlockInput>>();
    const prefetch = (k: number) => {
      const entry = blocks[k];
      if (entry === undefined || inFlight.has(k)) return;
      const p = fetchBlockInput(this.#client, BigInt(entry[0]), entry[1], this.#receipts);
      p.catch(() => undefined); // awaited below in order; a step that stops early leaves the rest unobserved
      inFlight.set(k, p);
    };
    for (let k = 0; k < blocks.length; k++) {
      for (let j = k; j < k + PREFETCH_BLOCKS; j++) prefetch(j);
      const number = blocks[k]![0];
      t = performance.now();
      const input = await inFlight.get(k)!;
      this.timings.chainMs += performance.now() - t;
      t = performance.now();
      inFlight.delete(k);
      let result;
      try {
        result = this.#runtime.handleBlock(input);
      } catch (e) {
        if (!isDeterministic(e)) throw e;
        await this.#store.setIndexingError(input.block, e.message);
        this.#log?.error(
          { block: number, err: e.message },
          "deterministic handler error: indexing stopped",
        );
        return { kind: "failed", block: number, message: e.message };
      }
      this.timings.mappingsMs += performance.now() - t;
      t = performance.now();
      await this.#store.commitBlock(result);
      this.timings.storeMs += performance.now() - t;
      if (result.createdDataSources.length > 0) await this.#onCreated?.(result.createdDataSources);
      triggers += result.triggers;
      last = number;
    }
    if (last < to) await this.#store.commitBlock({ block: await this.#pointer(to), changes: [] });
    this.#log?.debug({ from, to, blocks: byBlock.size, triggers }, "indexed");
    return { kind: "indexed", from, to, blocks: byBlock.size, triggers, head };
  }

  /**
   * Steps until `signal` aborts: at the head it waits `pollMs`, after a non-deterministic error it waits and retries
   * (the store is unchanged by a failed step). Returns when aborted or when indexing failed deterministically.
   */
  async run(signal: AbortSignal): Promise<StepResult | null> {
    let retry = this.#tuning.retryMs;
    while (!signal.aborted) {
      let r: StepResult;
      try {
        r = await this.step();
        retry = this.#tuning.retryMs;
      } catch (e) {
        this.#log?.warn(
          { err: e instanceof Error ? e.message : String(e), retryMs: retry },
          "indexing step failed; retrying",
        );
        await sleep(retry, signal);
        retry = Math.min(retry * 2, 30_000);
        continue;
      }
      if (r.kind === "failed") return r;
      if (r.kind === "synced") await sleep(this.#tuning.pollMs, signal);
    }
    return null;
  }

  /** Is `ptr` still the chain's block at its height? */
  async #onChain(ptr: BlockPtr, head: number): Promise<boolean> {
    if (ptr.number > head) return false;
    return (await this.#hashAt(ptr.number)) === ptr.hash.toLowerCase();
  }

  async #hashAt(number: number): Promise<string | null> {
    try {
      const b = await this.#client.getBlock({ blockNumber: BigInt(number) });
      return b.hash?.toLowerCase() ?? null;
    } catch (e) {
      if (e instanceof Error && e.name === "BlockNotFoundError") return null;
      throw e;
    }
  }

  /** Walks back from `latest` to the newest stored block still on the chain and reverts the store to it. */
  async #rollBack(latest: BlockPtr, head: number): Promise<StepResult> {
    const floor = latest.number - this.#tuning.reorgThreshold;
    for (let n = Math.min(latest.number - 1, head); n >= Math.max(floor, 0); n--) {
      const stored = await this.#store.blockByNumber(n);
      if (stored === null) continue;
      if ((await this.#hashAt(n)) !== stored.hash.toLowerCase()) continue;
      await this.#store.revertTo(n);
      this.#runtime.rollbackTo(n);
      this.#log?.warn({ from: latest.number, to: n }, "reorg: store rolled back");
      return { kind: "reverted", from: latest.number, to: n };
    }
    if (floor < 0) {
      // nothing indexed survives: start over
      await this.#store.revertTo(-1);
      this.#runtime.rollbackTo(-1);
      this.#log?.warn(
        { from: latest.number },
        "reorg below every indexed block: store rolled back to empty",
      );
      return { kind: "reverted", from: latest.number, to: -1 };
    }
    throw new IndexerError(
      IndexerErrorCode.REORG_TOO_DEEP,
      `block ${latest.number} left the chain and no indexed block within ${this.#tuning.reorgThreshold} blocks below it is still on it`,
    );
  }

  /** The data sources' matching logs in [from, to], grouped by block in ascending order. */
  async #logs(from: number, to: number): Promise<Map<number, LogInput[]>> {
    const filter = this.#runtime.logFilter();
    const topics = new Set(filter.topics0.map((t) => t.toLowerCase()));
    const logs = await this.#client.getLogs({
      ...(filter.addresses !== null ? { address: [...filter.addresses] } : {}),
      fromBlock: BigInt(from),
      toBlock: BigInt(to),
    });
    const byBlock = new Map<number, LogInput[]>();
    for (const l of logs) {
      const t0 = l.topics[0]?.toLowerCase();
      if (t0 === undefined || !topics.has(t0) || l.blockNumber === null) continue;
      const n = Number(l.blockNumber);
      let list = byBlock.get(n);
      if (list === undefined) byBlock.set(n, (list = []));
      list.push({
        address: l.address,
        topics: l.topics as readonly Hex[],
        data: l.data,
        logIndex: l.logIndex ?? 0,
        transactionIndex: l.transactionIndex ?? 0,
        transactionHash: l.transactionHash ?? "0x",
        blockHash: l.blockHash,
        blockNumber: l.blockNumber,
        removed: l.removed,
      });
    }
    return new Map([...byBlock].sort((a, b) => a[0] - b[0]));
  }

  async #pointer(number: number): Promise<BlockPtr> {
    const b = await this.#client.getBlock({ blockNumber: BigInt(number) });
    if (b.hash === null) throw new Error(`block ${number} is pending`);
    return { number, hash: b.hash, timestamp: b.timestamp };
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
