/**
 * The one event cursor. Scans the logs of given contracts and events in block ranges up to `head − confirmations`,
 * hands them to a handler in (block, logIndex) order, and persists its position (block number + hash, with a short
 * history of earlier checkpoints) atomically after every block that had logs and at the end of every range. On each
 * poll it compares the stored hash with the chain's hash at that height; when they differ (a reorg deeper than the
 * confirmations), it walks its checkpoints back to the newest one still on the chain (the common ancestor), tells the
 * handler through `onReorg`, and re-scans from there. Delivery is at least once across crashes: a handler that fails
 * (or a process that dies) before a block's checkpoint sees that block's logs again.
 */
import { z } from "zod";
import type { Abi, AbiEvent, Address, ContractEventName, Hex, Log } from "viem";
import { readJsonFile, writeJsonAtomic } from "#sdk/fs/atomic.ts";
import type { ChainPublicClient } from "./clients.ts";
import { CursorError } from "./errors.ts";

/** Where the cursor is: the last block whose logs were all delivered, and that block's hash. */
export interface Checkpoint {
  block: bigint;
  hash: Hex;
}

/** A delivered log, decoded against the watched ABI: `eventName` and `args` are typed by it. */
export type CursorLog<abi extends Abi | readonly unknown[] = Abi> = Log<
  bigint,
  number,
  false,
  undefined,
  true,
  abi extends Abi ? abi : Abi
>;

export interface ReorgInfo {
  /** The checkpoint that is no longer on the chain. */
  stale: Checkpoint;
  /** The newest checkpoint still on the chain: logs after it are delivered again (from the new chain). */
  ancestor: Checkpoint;
}

export interface EventCursorOptions<abi extends Abi | readonly unknown[] = Abi> {
  publicClient: ChainPublicClient;
  /** Contracts to watch. */
  address: Address | Address[];
  /** ABIs (or ABI fragments) whose events are delivered; other events are ignored. */
  abi: abi;
  /** Only these event names (default: every event of `abi`). */
  eventNames?: readonly ContractEventName<abi>[];
  /** State file (JSON, written atomically). */
  stateFile: string;
  /** First block to scan when there is no state file. */
  fromBlock: bigint;
  /** Blocks below the head a log must be to be delivered. Default 0. */
  confirmations?: number;
  /** Largest block range per `getLogs`. Default 2000. */
  maxRange?: number;
  /** Checkpoints remembered for reorg walks. Default 128. */
  history?: number;
  /** Told before the re-scan after a reorg; undo effects of logs above `ancestor.block` here. */
  onReorg?: (info: ReorgInfo) => void | Promise<void>;
}

const hex32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/) as unknown as z.ZodType<Hex>;
const stateSchema = z.object({
  version: z.literal(1),
  /** What the state is about: a file of another chain or contract set is refused. */
  chainId: z.number().int().positive(),
  addresses: z.array(z.string()),
  /** Oldest first; the last entry is the position. */
  checkpoints: z.array(z.object({ block: z.string().regex(/^\d+$/), hash: hex32 })).min(1),
});

export class EventCursor<const abi extends Abi | readonly unknown[] = Abi> {
  private checkpoints: Checkpoint[] | undefined;
  private chain: number | undefined;
  private readonly events: AbiEvent[];
  private readonly confirmations: bigint;
  private readonly maxRange: bigint;
  private readonly history: number;

  private readonly opts: EventCursorOptions<abi>;

  constructor(opts: EventCursorOptions<abi>) {
    this.opts = opts;
    const wanted = opts.eventNames ? new Set<string>(opts.eventNames) : undefined;
    this.events = (opts.abi as Abi).filter(
      (i): i is AbiEvent => i.type === "event" && (!wanted || wanted.has(i.name)),
    );
    if (this.events.length === 0)
      throw new CursorError("CURSOR_STATE", "the cursor watches no event (check abi/eventNames)");
    this.confirmations = BigInt(opts.confirmations ?? 0);
    this.maxRange = BigInt(opts.maxRange ?? 2_000);
    this.history = opts.history ?? 128;
  }

  /** The last fully delivered block (undefined before the first block is scanned). */
  async position(): Promise<Checkpoint | undefined> {
    return (await this.load()).at(-1);
  }

  /**
   * One pass: checks for a reorg, then delivers every log up to `head − confirmations`, range by range.
   * Returns the number of logs delivered. A failing handler stops the pass; its block is delivered again next time.
   */
  async poll(handler: (log: CursorLog<abi>) => void | Promise<void>): Promise<number> {
    const pub = this.opts.publicClient;
    await this.load();
    await this.checkReorg();
    // cacheTime 0: viem caches the block number for a polling interval, which would hide blocks just mined
    const head = await pub.getBlockNumber({ cacheTime: 0 });
    const safe = head - this.confirmations;
    let delivered = 0;
    let from = this.nextBlock();
    while (from <= safe) {
      const to = from + this.maxRange - 1n < safe ? from + this.maxRange - 1n : safe;
      const logs = (await pub.getLogs({
        address: this.opts.address,
        events: this.events,
        fromBlock: from,
        toBlock: to,
        strict: true, // a log that does not decode against the ABI is not delivered
      })) as unknown as CursorLog<abi>[];
      logs.sort((a, b) =>
        a.blockNumber === b.blockNumber
          ? a.logIndex - b.logIndex
          : a.blockNumber < b.blockNumber
            ? -1
            : 1,
      );
      for (let i = 0; i < logs.length; i++) {
        const log = logs[i] as CursorLog<abi>;
        await handler(log);
        delivered++;
        const next = logs[i + 1];
        if (!next || next.blockNumber !== log.blockNumber)
          await this.advance({ block: log.blockNumber, hash: log.blockHash });
      }
      const end = await pub.getBlock({ blockNumber: to });
      await this.advance({ block: to, hash: end.hash });
      from = to + 1n;
    }
    return delivered;
  }

  /** Polls every `intervalMs` until `signal` aborts. Errors go to `onError` (default: rethrow, ending the loop). */
  async run(
    handler: (log: CursorLog<abi>) => void | Promise<void>,
    opts: { intervalMs: number; signal: AbortSignal; onError?: (err: unknown) => void },
  ): Promise<void> {
    while (!opts.signal.aborted) {
      try {
        await this.poll(handler);
      } catch (err) {
        if (!opts.onError) throw err;
        opts.onError(err);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, opts.intervalMs);
        opts.signal.addEventListener(
          "abort",
          () => {
            clearTimeout(t);
            resolve();
          },
          { once: true },
        );
      });
    }
  }

  private nextBlock(): bigint {
    const last = (this.checkpoints ?? []).at(-1);
    return last ? last.block + 1n : this.opts.fromBlock;
  }

  private async hashAt(block: bigint): Promise<Hex | undefined> {
    try {
      return (await this.opts.publicClient.getBlock({ blockNumber: block })).hash;
    } catch {
      return undefined; // the chain is shorter than it was
    }
  }

  private async checkReorg(): Promise<void> {
    const cps = this.checkpoints ?? [];
    const last = cps.at(-1);
    if (!last || (await this.hashAt(last.block)) === last.hash) return;
    for (let i = cps.length - 2; i >= 0; i--) {
      const cp = cps[i] as Checkpoint;
      if ((await this.hashAt(cp.block)) === cp.hash) {
        await this.opts.onReorg?.({ stale: last, ancestor: cp });
        this.checkpoints = cps.slice(0, i + 1);
        await this.save();
        return;
      }
    }
    throw new CursorError(
      "REORG_TOO_DEEP",
      `block ${last.block} was reorganised and none of the ${cps.length} remembered checkpoints is on the chain`,
    );
  }

  private async advance(cp: Checkpoint): Promise<void> {
    const cps = this.checkpoints ?? [];
    const last = cps.at(-1);
    if (last && last.block === cp.block && last.hash === cp.hash) return;
    cps.push(cp);
    this.checkpoints = cps.slice(-this.history);
    await this.save();
  }

  private async load(): Promise<Checkpoint[]> {
    if (this.checkpoints) return this.checkpoints;
    // a client built without a chain definition is asked for the chain id once
    this.chain = this.opts.publicClient.chain?.id ?? (await this.opts.publicClient.getChainId());
    let state;
    try {
      state = await readJsonFile(this.opts.stateFile, stateSchema);
    } catch (cause) {
      throw new CursorError("CURSOR_STATE", `cursor state ${this.opts.stateFile} is invalid`, {
        cause,
      });
    }
    if (
      state &&
      (state.chainId !== this.chainId() || state.addresses.join() !== this.addresses().join())
    )
      throw new CursorError(
        "CURSOR_STATE",
        `cursor state ${this.opts.stateFile} belongs to chain ${state.chainId} / ${state.addresses.join(", ")}, not this cursor's`,
      );
    this.checkpoints = (state?.checkpoints ?? []).map((c) => ({
      block: BigInt(c.block),
      hash: c.hash.toLowerCase() as Hex,
    }));
    return this.checkpoints;
  }

  private chainId(): number {
    if (this.chain === undefined) throw new CursorError("CURSOR_STATE", "cursor used before load");
    return this.chain;
  }

  private addresses(): string[] {
    const a = Array.isArray(this.opts.address) ? this.opts.address : [this.opts.address];
    return a.map((x) => x.toLowerCase()).sort();
  }

  private async save(): Promise<void> {
    await writeJsonAtomic(this.opts.stateFile, {
      version: 1,
      chainId: this.chainId(),
      addresses: this.addresses(),
      checkpoints: (this.checkpoints ?? []).map((c) => ({
        block: c.block.toString(),
        hash: c.hash,
      })),
    });
  }
}
