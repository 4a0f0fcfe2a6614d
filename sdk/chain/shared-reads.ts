/**
 * One chain read cache for the clients of many devices in one process (`dml-device host`: hundreds of devices, each
 * with its own key, viem clients and HTTP connections to its RPC). When a cohort is assigned, every member reads the
 * same job terms, eligibility, `kMin`, seed and the cohort's session keys at the assignment block; and every device
 * polls the same head, logs and block hashes. A read whose answer is fixed by its block number is asked once per
 * process and handed to every device that asks the same thing, which is what a fleet behind one caching RPC (or one
 * light client) sees.
 *
 * What is shared, by JSON-RPC method:
 * - `eth_chainId`: kept for the life of the cache.
 * - `eth_call` at a block **number** (`0x…` quantity, never a tag such as `latest`), `eth_getBlockByNumber` of a block
 *   number, `eth_getLogs` over a numbered range: kept `ttlMs` (default 30 s). A reorg can change what a number names;
 *   within the window a device sees what it would have seen had it asked a moment earlier, and the event cursor's
 *   block-hash check finds the reorg on a later poll (its block hash is read again once the entry expires).
 * - every other read (`eth_blockNumber`, calls at `latest`, receipts…): only a request already in flight is shared
 *   (devices polling the head at the same instant get one answer), nothing is kept.
 * - writes (`eth_sendRawTransaction`, …) and anything not listed as a read always go to the device's own transport.
 *
 * A failed request is never kept: the next reader asks again. At most `maxEntries` answers are kept, least recently
 * used evicted first. Each device keeps its own transport: the cache only decides whether its request is sent.
 */
import type { EIP1193RequestFn, Transport } from "viem";

export const DEFAULT_SHARED_CHAIN_READ_TTL_MS = 30_000;
export const DEFAULT_SHARED_CHAIN_READ_ENTRIES = 4_096;

/** Methods whose concurrent identical requests may share one answer. */
const READS = new Set([
  "eth_chainId",
  "eth_blockNumber",
  "eth_call",
  "eth_getBlockByNumber",
  "eth_getBlockByHash",
  "eth_getLogs",
  "eth_getTransactionReceipt",
  "eth_getCode",
  "eth_getBalance",
  "eth_getStorageAt",
  "eth_getTransactionCount",
  "eth_gasPrice",
  "eth_maxPriorityFeePerGas",
  "eth_feeHistory",
]);

const QUANTITY = /^0x[0-9a-fA-F]+$/;
const isQuantity = (v: unknown): boolean => typeof v === "string" && QUANTITY.test(v);

/** How long an answer to `method(params)` may be kept: `Infinity`, a TTL in ms, or 0 (share in flight only). */
function retention(method: string, params: unknown, ttlMs: number): number {
  const p = Array.isArray(params) ? params : [];
  switch (method) {
    case "eth_chainId":
      return Infinity;
    case "eth_call":
      return isQuantity(p[1]) ? ttlMs : 0;
    case "eth_getBlockByNumber":
      return isQuantity(p[0]) ? ttlMs : 0;
    case "eth_getLogs": {
      const f = p[0] as { fromBlock?: unknown; toBlock?: unknown; blockHash?: unknown } | undefined;
      return f !== undefined && isQuantity(f.fromBlock) && isQuantity(f.toBlock) ? ttlMs : 0;
    }
    default:
      return 0;
  }
}

interface Entry {
  answer: Promise<unknown>;
  /** When the answer stops being served (ms since epoch); undefined while in flight. */
  expires?: number;
}

export class SharedChainReads {
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  /** key → answer; Map order is recency (oldest first). */
  readonly #entries = new Map<string, Entry>();
  #hits = 0;
  #misses = 0;
  #transports = 0;

  constructor(opts: { ttlMs?: number; maxEntries?: number; now?: () => number } = {}) {
    const ttlMs = opts.ttlMs ?? DEFAULT_SHARED_CHAIN_READ_TTL_MS;
    const maxEntries = opts.maxEntries ?? DEFAULT_SHARED_CHAIN_READ_ENTRIES;
    if (!Number.isFinite(ttlMs) || ttlMs < 0)
      throw new RangeError(`ttlMs must be a non-negative number of ms, got ${ttlMs}`);
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1)
      throw new RangeError(`maxEntries must be a positive integer, got ${maxEntries}`);
    this.#ttlMs = ttlMs;
    this.#maxEntries = maxEntries;
    this.#now = opts.now ?? Date.now;
  }

  /** Requests answered from the cache (or a request in flight) and requests sent, so far. */
  get stats(): { hits: number; misses: number; entries: number } {
    return { hits: this.#hits, misses: this.#misses, entries: this.#entries.size };
  }

  /**
   * `transport` with its reads going through this cache (each client keeps its own transport for what is sent).
   * Answers are shared only between transports to the same endpoint (an HTTP transport's URL; any other transport
   * shares with none but itself).
   */
  wrap<T extends Transport>(transport: T): T {
    const wrapped = ((config: Parameters<T>[0]) => {
      const t = transport(config);
      const send = t.request as (a: unknown, o?: unknown) => Promise<unknown>;
      const url = (t.value as { url?: unknown } | undefined)?.url;
      const endpoint = typeof url === "string" ? `url:${url}` : `own:${++this.#transports}`;
      const request = ((args: { method: string; params?: unknown }, options?: unknown) =>
        this.request(
          args.method,
          args.params,
          () => send(args, options),
          endpoint,
        )) as EIP1193RequestFn;
      return { ...t, request };
    }) as T;
    return wrapped;
  }

  /**
   * Answers `method(params)` on `endpoint` from the cache when it may, else with `send()` (shared with identical
   * requests to the same endpoint).
   */
  request(
    method: string,
    params: unknown,
    send: () => Promise<unknown>,
    endpoint = "",
  ): Promise<unknown> {
    if (!READS.has(method)) return send();
    const key = `${endpoint} ${method}:${JSON.stringify(params ?? null)}`;
    const now = this.#now();
    const hit = this.#entries.get(key);
    if (hit !== undefined && (hit.expires === undefined || hit.expires > now)) {
      this.#hits++;
      this.#entries.delete(key); // most recently used last
      this.#entries.set(key, hit);
      return hit.answer.then(copy);
    }
    if (hit !== undefined) this.#entries.delete(key);
    this.#misses++;
    const keep = retention(method, params, this.#ttlMs);
    const entry: Entry = { answer: send() };
    this.#entries.set(key, entry);
    entry.answer.then(
      () => {
        if (this.#entries.get(key) !== entry) return;
        if (keep > 0) entry.expires = keep === Infinity ? Infinity : this.#now() + keep;
        else this.#entries.delete(key);
      },
      () => {
        if (this.#entries.get(key) === entry) this.#entries.delete(key);
      },
    );
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
    return entry.answer.then(copy);
  }
}

/** Every reader gets its own copy of a shared answer (viem's formatters may change what they are given). */
const copy = <T>(v: T): T => (typeof v === "object" && v !== null ? structuredClone(v) : v);
