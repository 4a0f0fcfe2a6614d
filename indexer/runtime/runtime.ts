/**
 * The local graph host's WebAssembly runtime: loads a `graph build` output and runs its AssemblyScript mappings on
 * a block's logs, in (transactionIndex, logIndex) order, returning the block's entity changes.
 *
 * As graph-node does, each trigger gets a fresh instance of the data source's compiled module (globals never leak
 * from one trigger to the next; `instancePerTrigger: false` reuses one instance per module instead, see
 * docs/indexer-runtime.md for the cost of each), `_start` runs first, then the handler with the `ethereum.Event` the
 * host wrote into the instance's memory. A deterministic failure (abort, log.critical, a refused entity, a wasm trap)
 * throws a HandlerError (code HANDLER_DETERMINISTIC) naming data source, handler and block: the indexer stops there
 * and sets `hasIndexingErrors`. An RPC failure throws a RuntimeError CALL_FAILED: the block can be retried.
 */
import { hexToBytes, isAddress, type Address, type Hex } from "viem";
import type { BlockChanges, BlockPtr, Entity, HeadState } from "../types.ts";
import { AscHeap } from "./asc-heap.ts";
import type { BlockInput, LogInput } from "./block-input.ts";
import { BlockState } from "./block-state.ts";
import { DeterministicHostError, HandlerError, RuntimeError, RuntimeErrorCode } from "./errors.ts";
import { decodeEventParams, writeEvent, type EventTrigger } from "./ethereum-event.ts";
import { hostImports, type HostContext, type HostLogger } from "./host-functions.ts";
import {
  apiVersionAtLeast,
  loadManifest,
  type DataSourceDef,
  type EventHandlerDef,
  type SubgraphManifest,
} from "./manifest.ts";
import { createSyncRpc, type RpcOutcome, type SyncRpc } from "./sync-rpc.ts";

/** A data source created by `dataSource.create` from a template (persist these to resume after a restart). */
export interface CreatedDataSource {
  readonly template: string;
  readonly address: Address;
  readonly context: Entity | null;
  /** The block that created it: it matches logs from there on. */
  readonly startBlock: number;
}

export interface BlockResult extends BlockChanges {
  /** Data sources the block's handlers created from templates. */
  readonly createdDataSources: readonly CreatedDataSource[];
  /** How many handlers ran. */
  readonly triggers: number;
}

export interface SubgraphRuntimeOptions {
  /** JSON-RPC endpoint for ethereum.call / getBalance / hasCode (needed only if a mapping calls them). */
  readonly rpcUrl?: string;
  /** A synchronous RPC to use instead of the worker built from `rpcUrl`. */
  readonly rpc?: SyncRpc;
  /** Timeout of one ethereum.call round trip (default 10 s). */
  readonly callTimeoutMs?: number;
  readonly head: HeadState;
  readonly logger?: HostLogger;
  /** Default true, as graph-node. */
  readonly instancePerTrigger?: boolean;
  /** Template data sources created before (restored after a restart). */
  readonly createdDataSources?: readonly CreatedDataSource[];
  /**
   * Data source name → the address and start block to index instead of the build's (one build serves every
   * deployment of the contracts: the modules do not depend on the addresses).
   */
  readonly sources?: ReadonlyMap<
    string,
    { readonly address: Address; readonly startBlock: number }
  >;
}

interface ActiveDataSource {
  readonly name: string;
  readonly def: DataSourceDef;
  readonly address: Address;
  readonly addressBytes: Uint8Array;
  readonly startBlock: number;
  readonly endBlock?: number;
  readonly context: Entity | null;
}

const silent: HostLogger = { error() {}, warn() {}, info() {}, debug() {} };

/** Mutable per-trigger state behind the host functions (one per instance when instances are reused). */
class TriggerContext implements HostContext {
  heapRef: AscHeap | null = null;
  state!: BlockState;
  dataSourceName = "";
  address: Uint8Array = new Uint8Array(20);
  network = "";
  context: Entity | null = null;
  logger: HostLogger = silent;
  rpcAt: (method: string, params: readonly unknown[]) => RpcOutcome = () => {
    throw new RuntimeError(RuntimeErrorCode.CALL_FAILED, "no RPC");
  };
  create: (template: string, params: readonly string[], context: Entity | null) => void = () => {};

  heap(): AscHeap {
    if (!this.heapRef)
      throw new DeterministicHostError("host function called before the module was initialised");
    return this.heapRef;
  }
  rpc(
    method: "eth_call" | "eth_getBalance" | "eth_getCode",
    params: readonly unknown[],
  ): RpcOutcome {
    return this.rpcAt(method, params);
  }
  createDataSource(template: string, params: readonly string[], context: Entity | null): void {
    this.create(template, params, context);
  }
}

interface LiveInstance {
  readonly instance: WebAssembly.Instance;
  readonly ctx: TriggerContext;
  readonly heap: AscHeap;
}

const CALL_CACHE_LIMIT = 10_000;

export class SubgraphRuntime {
  readonly manifest: SubgraphManifest;
  readonly #head: HeadState;
  readonly #logger: HostLogger;
  readonly #rpc: SyncRpc | null;
  readonly #ownsRpc: boolean;
  readonly #perTrigger: boolean;
  readonly #active: ActiveDataSource[] = [];
  readonly #reused = new Map<WebAssembly.Module, LiveInstance>();
  readonly #callCache = new Map<string, RpcOutcome>();
  /**
   * How many times each handler ran to completion since this runtime was loaded, keyed `<data source>.<handler>`
   * (a block re-run after a reorg counts again): what the mapping tests check their coverage with.
   */
  readonly handlerRuns = new Map<string, number>();

  private constructor(manifest: SubgraphManifest, opts: SubgraphRuntimeOptions) {
    this.manifest = manifest;
    this.#head = opts.head;
    this.#logger = opts.logger ?? silent;
    this.#perTrigger = opts.instancePerTrigger ?? true;
    if (opts.rpc) {
      this.#rpc = opts.rpc;
      this.#ownsRpc = false;
    } else if (opts.rpcUrl) {
      this.#rpc = createSyncRpc(opts.rpcUrl, opts.callTimeoutMs);
      this.#ownsRpc = true;
    } else {
      this.#rpc = null;
      this.#ownsRpc = false;
    }
    for (const ds of manifest.dataSources) {
      const source = opts.sources?.get(ds.name);
      const address = (source?.address.toLowerCase() as Address | undefined) ?? ds.address!;
      this.#active.push({
        name: ds.name,
        def: ds,
        address,
        addressBytes: hexToBytes(address),
        startBlock: source?.startBlock ?? ds.startBlock,
        ...(ds.endBlock !== undefined ? { endBlock: ds.endBlock } : {}),
        context: ds.context,
      });
    }
    for (const c of opts.createdDataSources ?? []) this.#active.push(this.#resolve(c));
  }

  /** Loads `<buildDir>/subgraph.yaml` (the output of `graph build`) and compiles its modules. */
  static load(buildDir: string, opts: SubgraphRuntimeOptions): SubgraphRuntime {
    return new SubgraphRuntime(loadManifest(buildDir), opts);
  }

  #resolve(c: CreatedDataSource): ActiveDataSource {
    const def = this.manifest.templates.find((t) => t.name === c.template);
    if (!def)
      throw new RuntimeError(RuntimeErrorCode.MANIFEST_INVALID, `no template named ${c.template}`);
    const active: ActiveDataSource = {
      name: c.template,
      def,
      address: c.address.toLowerCase() as Address,
      addressBytes: hexToBytes(c.address),
      startBlock: c.startBlock,
      context: c.context,
    };
    return active;
  }

  /**
   * What to ask `eth_getLogs` for: the handlers' topic0s (templates' included) and the active data sources'
   * addresses, or `null` (any address) when the manifest has templates, because a data source created in a block
   * also handles that block's earlier logs (graph-node re-matches the block against new data sources).
   */
  logFilter(): { readonly addresses: readonly Address[] | null; readonly topics0: readonly Hex[] } {
    const handlers = [...this.#active.map((d) => d.def), ...this.manifest.templates].flatMap(
      (d) => d.mapping.eventHandlers,
    );
    return {
      addresses:
        this.manifest.templates.length > 0
          ? null
          : [...new Set(this.#active.map((d) => d.address))],
      topics0: [...new Set(handlers.map((h) => h.topic0))],
    };
  }

  /** The data sources created from templates so far (persist them to resume after a restart). */
  createdDataSources(): CreatedDataSource[] {
    return this.#active
      .filter((d) => d.def.address === undefined)
      .map((d) => ({
        template: d.name,
        address: d.address,
        context: d.context,
        startBlock: d.startBlock,
      }));
  }

  /**
   * After a reorg: forgets the data sources created by blocks above `blockNumber` (the store rolls their entities
   * back; re-indexing the new chain's blocks creates them again if they still do).
   */
  rollbackTo(blockNumber: number): void {
    const keep = this.#active.filter(
      (d) => d.def.address !== undefined || d.startBlock <= blockNumber,
    );
    this.#active.splice(0, this.#active.length, ...keep);
    this.#callCache.clear();
  }

  /** Whether some handler of `address` (or of any data source) takes a receipt. */
  needsReceipts(address?: Address): boolean {
    return this.#active.some(
      (d) =>
        (address === undefined || d.address === address.toLowerCase()) &&
        d.def.mapping.eventHandlers.some((h) => h.receipt),
    );
  }

  /** The lowest startBlock of the manifest's data sources. */
  startBlock(): number {
    return Math.min(...this.#active.map((d) => d.startBlock));
  }

  #instantiate(ds: ActiveDataSource): LiveInstance {
    const module = ds.def.mapping.wasm;
    const reused = this.#perTrigger ? undefined : this.#reused.get(module);
    if (reused) return reused;
    const ctx = new TriggerContext();
    let instance: WebAssembly.Instance;
    try {
      instance = new WebAssembly.Instance(module, hostImports(module, ctx) as WebAssembly.Imports);
    } catch (e) {
      throw new RuntimeError(
        RuntimeErrorCode.MANIFEST_INVALID,
        `${ds.def.mapping.wasmFile}: cannot instantiate: ${(e as Error).message}`,
        { cause: e },
      );
    }
    const ex = instance.exports;
    const memory = ex.memory;
    const allocate = ex.allocate;
    const newObject = ex.__new;
    const idOfType = ex.id_of_type;
    if (
      !(memory instanceof WebAssembly.Memory) ||
      (typeof allocate !== "function" && typeof newObject !== "function") ||
      typeof idOfType !== "function"
    )
      throw new RuntimeError(
        RuntimeErrorCode.MANIFEST_INVALID,
        `${ds.def.mapping.wasmFile} does not export memory, allocate (or __new) and id_of_type (not a graph-ts mapping for apiVersion >= 0.0.5)`,
      );
    const heap = new AscHeap({
      memory,
      ...(typeof allocate === "function" ? { allocate: allocate as (n: number) => number } : {}),
      ...(typeof newObject === "function"
        ? { newObject: newObject as (n: number, id: number) => number }
        : {}),
      idOfType: idOfType as (n: number) => number,
    });
    ctx.heapRef = heap;
    const live = { instance, ctx, heap };
    if (typeof ex._start === "function") (ex._start as () => void)();
    if (!this.#perTrigger) this.#reused.set(module, live);
    return live;
  }

  /** Runs every handler the block's logs trigger; returns the block's entity changes. */
  handleBlock(input: BlockInput): BlockResult {
    const { block } = input;
    const state = new BlockState(this.manifest.schema, this.#head);
    const created: CreatedDataSource[] = [];
    const createdActive: ActiveDataSource[] = [];
    let triggers = 0;
    let prev: LogInput | null = null;
    for (const log of input.logs) {
      if (
        prev &&
        (log.transactionIndex < prev.transactionIndex ||
          (log.transactionIndex === prev.transactionIndex && log.logIndex <= prev.logIndex))
      )
        throw new RuntimeError(
          RuntimeErrorCode.INPUT_INVALID,
          `block ${block.number}: logs are not in (transactionIndex, logIndex) order`,
        );
      prev = log;
    }
    const onCreate = (c: CreatedDataSource) => {
      created.push(c);
      createdActive.push(this.#resolve(c));
    };
    const run = (sources: readonly ActiveDataSource[]) => {
      for (const log of input.logs) {
        const address = log.address.toLowerCase();
        for (const ds of sources) {
          if (ds.address !== address || block.number < ds.startBlock) continue;
          if (ds.endBlock !== undefined && block.number > ds.endBlock) continue;
          for (const h of ds.def.mapping.eventHandlers) {
            if (!this.#matches(h, log)) continue;
            triggers++;
            if (this.#runTrigger(ds, h, input, log, state, onCreate)) {
              const key = `${ds.name}.${h.handler}`;
              this.handlerRuns.set(key, (this.handlerRuns.get(key) ?? 0) + 1);
            }
          }
        }
      }
    };
    run(this.#active);
    // graph-node's process_dynamic_data_sources: the block's triggers are re-matched against the data sources it
    // created, breadth first, until no handler creates another one
    for (let round = 0; round < createdActive.length;) {
      const batch = createdActive.slice(round);
      round = createdActive.length;
      run(batch);
    }
    this.#active.push(...createdActive);
    return { block, changes: state.changes(), createdDataSources: created, triggers };
  }

  #matches(h: EventHandlerDef, log: LogInput): boolean {
    if (log.topics[0]?.toLowerCase() !== h.topic0) return false;
    return h.topicFilters.every((f, i) => {
      if (!f || f.length === 0) return true;
      const t = log.topics[i + 1]?.toLowerCase();
      return t !== undefined && f.some((x) => x.toLowerCase() === t);
    });
  }

  #rpcAt(block: BlockPtr): (method: string, params: readonly unknown[]) => RpcOutcome {
    return (method, params) => {
      if (!this.#rpc)
        throw new RuntimeError(
          RuntimeErrorCode.CALL_FAILED,
          `${method}: the runtime has no rpcUrl to reach the chain`,
        );
      const full = [...params, `0x${block.number.toString(16)}`];
      const key = `${block.hash}:${method}:${JSON.stringify(params)}`;
      const hit = this.#callCache.get(key);
      if (hit) return hit;
      const out = this.#rpc.request(method, full);
      if (this.#callCache.size >= CALL_CACHE_LIMIT)
        this.#callCache.delete(this.#callCache.keys().next().value!);
      this.#callCache.set(key, out);
      return out;
    };
  }

  #runTrigger(
    ds: ActiveDataSource,
    h: EventHandlerDef,
    input: BlockInput,
    log: LogInput,
    state: BlockState,
    onCreate: (c: CreatedDataSource) => void,
  ): boolean {
    const { block } = input;
    const where = {
      dataSource: ds.name,
      handler: h.handler,
      blockNumber: block.number,
      blockHash: block.hash,
      transactionHash: log.transactionHash,
      logIndex: log.logIndex,
    };
    const txHash = log.transactionHash.toLowerCase();
    const transaction = input.transactions.get(txHash);
    if (!transaction)
      throw new RuntimeError(
        RuntimeErrorCode.INPUT_INVALID,
        `block ${block.number}: transaction ${txHash} of log ${log.logIndex} is missing`,
      );
    const receipt = h.receipt ? (input.receipts?.get(txHash) ?? null) : null;
    if (h.receipt && !receipt)
      throw new RuntimeError(
        RuntimeErrorCode.INPUT_INVALID,
        `block ${block.number}: ${ds.name}.${h.handler} takes receipts, but the receipt of ${txHash} is missing`,
      );
    let params;
    try {
      params = decodeEventParams(h.abiEvent, log);
    } catch (e) {
      // graph-node skips a log that does not decode with the handler's event
      this.#logger.warn(
        { ...where, error: (e as Error).message },
        "log does not decode with the handler's event: skipped",
      );
      return false;
    }
    const trigger: EventTrigger = {
      block,
      header: input.header,
      log,
      transaction,
      receipt,
      params,
    };
    const apiVersion = ds.def.mapping.apiVersion;
    try {
      const live = this.#instantiate(ds);
      const ctx = live.ctx;
      ctx.state = state;
      ctx.dataSourceName = ds.name;
      ctx.address = ds.addressBytes;
      ctx.network = ds.def.network;
      ctx.context = ds.context;
      ctx.logger = this.#logger;
      ctx.rpcAt = this.#rpcAt(block);
      ctx.create = (template, args, context) => {
        const def = this.manifest.templates.find((t) => t.name === template);
        if (!def)
          throw new DeterministicHostError(
            `Failed to create data source from name \`${template}\`: No template with this name in parent data source \`${ds.name}\`. Available names: ${this.manifest.templates.map((t) => t.name).join(", ")}.`,
          );
        const addr = args[0];
        if (args.length !== 1 || addr === undefined || !isAddress(addr, { strict: false }))
          throw new DeterministicHostError(
            `Failed to create data source from name \`${template}\`: an ethereum template takes one parameter, the contract address (got ${JSON.stringify(args)})`,
          );
        const c: CreatedDataSource = {
          template,
          address: addr.toLowerCase() as Address,
          context,
          startBlock: block.number,
        };
        onCreate(c);
      };
      state.strictFields = apiVersionAtLeast(apiVersion, "0.0.8");
      const eventPtr = writeEvent(live.heap, apiVersion, trigger);
      const handler = live.instance.exports[h.handler];
      if (typeof handler !== "function")
        throw new RuntimeError(
          RuntimeErrorCode.MANIFEST_INVALID,
          `${ds.def.mapping.wasmFile} does not export handler ${h.handler}`,
        );
      (handler as (p: number) => void)(eventPtr);
      return true;
    } catch (e) {
      // a trapped instance is never reused: its memory and globals are whatever the failure left
      this.#reused.delete(ds.def.mapping.wasm);
      if (e instanceof RuntimeError) throw e;
      if (e instanceof DeterministicHostError) throw new HandlerError(e.message, where);
      if (e instanceof WebAssembly.RuntimeError)
        throw new HandlerError(`wasm trap: ${e.message}`, where);
      if (e instanceof RangeError || e instanceof TypeError)
        throw new HandlerError(`invalid memory access by the mapping: ${e.message}`, where);
      throw e;
    }
  }

  /** Stops the RPC worker (if the runtime created it). */
  async close(): Promise<void> {
    if (this.#ownsRpc && this.#rpc) await this.#rpc.close();
  }
}
