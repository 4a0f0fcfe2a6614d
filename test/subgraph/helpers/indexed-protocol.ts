/**
 * Test harness for the subgraph's mapping tests: the protocol deployed by script/deploy.ts on a `hardhat node` child
 * process (EDR; the runtime's `ethereum.call` blocks this thread, so the chain must live in another process), driven
 * through bench/fixture's ProtocolEnv, and indexed by the local graph host (indexer/graph-host.ts) from the real
 * `graph build` output of subgraph/ into an in-memory store.
 *
 * What a mapping test asserts with it:
 * - `entity` / `entities`: the stored entities, read through the GraphQL API analysts use;
 * - `eventEntityOf`: the one-event entity a log produced (id = transaction hash ++ log index, graph-ts's
 *   `concatI32`), with `expectEventFields` comparing every field named after an event parameter to the decoded log;
 * - `assertHandlersRan`: every handler of the named data sources ran at least once (the coverage the issue asks for).
 */
import assert from "node:assert/strict";
import {
  bytesToHex,
  decodeEventLog,
  hexToBytes,
  numberToBytes,
  concatBytes,
  type Abi,
  type Address,
  type Hex,
  type Log,
} from "viem";
import { protocolAbi } from "#sdk/chain/contracts.ts";
import type { DeployConfigInput } from "../../../script/lib/config.ts";
import { ensureSubgraphBuild, SUBGRAPH_BUILD_DIR } from "../../../script/start/indexer.ts";
import { GraphHost } from "../../../indexer/graph-host.ts";
import { queryFieldNames } from "../../../indexer/graphql/names.ts";
import { sourcesFromManifest } from "../../../indexer/sources.ts";
import { ProtocolEnv } from "../../../bench/fixture/protocol.ts";
import { sharedNodeChain, type NodeChain } from "../../indexer/helpers/hardhat-node.ts";

/** A GraphQL answer's entity: field → JSON value (BigInt and Bytes as strings, references as `{ id }`). */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type EntityJson = { [k: string]: Json };

/** A protocol log decoded with its contract's ABI. */
export interface DecodedLog {
  readonly contract: string;
  readonly eventName: string;
  readonly args: Record<string, unknown>;
  readonly log: Log;
  /** The id of the one-event entity this log would produce (`makeEventId`). */
  readonly eventId: Hex;
}

export interface IndexedProtocol {
  readonly chain: NodeChain;
  readonly env: ProtocolEnv;
  readonly host: GraphHost;
  /** Indexes to the chain's head; fails the test on an indexing error. */
  sync(): Promise<void>;
  /** Runs a GraphQL query against the subgraph; fails the test on errors. */
  query<T = Record<string, Json>>(q: string, variables?: Record<string, unknown>): Promise<T>;
  /** One entity with every scalar field (references as their id) or null. */
  entity(type: string, id: string): Promise<EntityJson | null>;
  /** Every entity of a type (up to 1,000), in id order. */
  entities(type: string, where?: string): Promise<EntityJson[]>;
  /** Every log the protocol's contracts emitted since deployment, decoded. */
  logs(): Promise<DecodedLog[]>;
  /** The one-event entity of `type` recorded for `log`. */
  eventEntityOf(type: string, log: DecodedLog): Promise<EntityJson>;
  /** Asserts every handler of the given data sources ran at least once. */
  assertHandlersRan(dataSources: readonly string[]): void;
  stop(): Promise<void>;
}

/** graph-ts `Bytes.concatI32`: the 4 little-endian bytes of an i32 appended. */
export function makeEventId(txHash: Hex, logIndex: number): Hex {
  const le = numberToBytes(logIndex, { size: 4 }).reverse();
  return bytesToHex(concatBytes([hexToBytes(txHash), le]));
}

/** The JSON value GraphQL gives for a decoded event argument (lower-case hex, decimal strings). */
export function jsonOf(v: unknown): Json {
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "string") return /^0x[0-9a-fA-F]*$/.test(v) ? v.toLowerCase() : v;
  if (typeof v === "number" || typeof v === "boolean" || v === null) return v;
  if (Array.isArray(v)) return v.map(jsonOf);
  throw new Error(`no JSON form for ${String(v)}`);
}

/** Compares the entity's fields named after the event's parameters with the decoded log (a tuple is skipped). */
export function expectEventFields(
  entity: EntityJson,
  log: DecodedLog,
  rename: Record<string, string> = {},
): number {
  let compared = 0;
  for (const [param, value] of Object.entries(log.args)) {
    const field = rename[param] ?? param;
    if (!(field in entity) || (typeof value === "object" && !Array.isArray(value))) continue;
    const got = entity[field];
    // a small integer (uint8..uint48) decodes as a number; the entity holds it as Int (number) or BigInt (string)
    const want =
      typeof value === "number" && typeof entity[field] === "string"
        ? String(value)
        : jsonOf(value);
    // a reference field holds `{ id }`
    const gotValue =
      got !== null && typeof got === "object" && !Array.isArray(got) && "id" in got ? got.id : got;
    assert.deepEqual(gotValue, want, `${log.contract}.${log.eventName}.${param} → ${field}`);
    compared++;
  }
  return compared;
}

/**
 * What `recordParameterChange` (subgraph/src/helpers/contracts.ts) stores for a log: `name=value` per parameter in
 * the event's order, tuples flattened as `name.i`, numbers in decimal, addresses and bytes as lower-case hex.
 */
export function parameterValues(log: DecodedLog): string[] {
  const str = (v: unknown): string =>
    typeof v === "string" && /^0x[0-9a-fA-F]*$/.test(v) ? v.toLowerCase() : String(v);
  const out: string[] = [];
  const add = (name: string, v: unknown) => {
    if (v !== null && typeof v === "object" && !Array.isArray(v))
      Object.values(v).forEach((x, i) => add(`${name}.${i}`, x));
    else out.push(`${name}=${str(v)}`);
  };
  for (const [name, v] of Object.entries(log.args)) add(name, v);
  return out;
}

interface TypeRef {
  kind: string;
  name: string | null;
  ofType: TypeRef | null;
}

/** Every field of an entity type but lists of entities (derived or many-valued: asked for explicitly). */
async function selectionOf(ix: Pick<IndexedProtocol, "query">, type: string): Promise<string> {
  const r = await ix.query<{ __type: { fields: { name: string; type: TypeRef }[] } | null }>(
    `{ __type(name: "${type}") { fields { name type { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } }`,
  );
  assert.ok(r.__type, `entity type ${type}`);
  const parts: string[] = [];
  for (const f of r.__type.fields) {
    let t: TypeRef | null = f.type;
    let list = false;
    while (t && (t.kind === "NON_NULL" || t.kind === "LIST")) {
      if (t.kind === "LIST") list = true;
      t = t.ofType;
    }
    if (t?.kind === "OBJECT") {
      if (!list) parts.push(`${f.name} { id }`);
    } else parts.push(f.name);
  }
  return parts.join(" ");
}

/** A deployed contract's ABI, or null for one the sdk has none of (e.g. OpenZeppelin's TimelockController). */
function abiOrNull(name: string): Abi | null {
  try {
    return protocolAbi(name);
  } catch {
    return null;
  }
}

/**
 * Deploys a fresh protocol (its own contracts, so its own subgraph deployment and tables) on the test process's shared
 * `hardhat node`, builds the subgraph (once per sources) and opens the host on an in-memory store.
 */
export async function startIndexedProtocol(
  config: DeployConfigInput = {},
): Promise<IndexedProtocol> {
  const chain = await sharedNodeChain();
  const env = await ProtocolEnv.create(config, { url: chain.url });
  await ensureSubgraphBuild(env.manifestPath);
  const host = await GraphHost.open({
    buildDir: SUBGRAPH_BUILD_DIR,
    rpcUrl: chain.url,
    sources: sourcesFromManifest(env.manifest),
    tuning: { pollMs: 20 },
  });
  const selections = new Map<string, string>();
  const contracts = Object.entries(env.manifest.contracts).map(([name, c]) => ({
    name,
    address: c.address.toLowerCase() as Address,
    abi: abiOrNull(name),
  }));
  const fromBlock = BigInt(
    Math.min(...Object.values(env.manifest.contracts).map((c) => c.blockNumber)),
  );

  const ix: IndexedProtocol = {
    chain,
    env,
    host,
    async sync() {
      const r = await host.syncToHead();
      assert.equal(
        r.kind,
        "synced",
        `indexing stopped: ${JSON.stringify(host.store.indexingError())}`,
      );
    },
    async query<T>(q: string, variables?: Record<string, unknown>) {
      const res = await host.api.execute({ query: q, ...(variables ? { variables } : {}) });
      assert.equal(res.errors, undefined, `GraphQL errors for ${q}: ${JSON.stringify(res.errors)}`);
      return res.data as T;
    },
    async entity(type, id) {
      let sel = selections.get(type);
      if (sel === undefined) selections.set(type, (sel = await selectionOf(ix, type)));
      const r = await ix.query<Record<string, EntityJson | null>>(
        `query($id: ID!) { e: ${queryFieldNames(type).singular}(id: $id) { ${sel} } }`,
        { id },
      );
      return r.e ?? null;
    },
    async entities(type, where = "{}") {
      let sel = selections.get(type);
      if (sel === undefined) selections.set(type, (sel = await selectionOf(ix, type)));
      const r = await ix.query<Record<string, EntityJson[]>>(
        `{ e: ${queryFieldNames(type).plural}(first: 1000, where: ${where}, orderBy: id) { ${sel} } }`,
      );
      return r.e ?? [];
    },
    async logs() {
      const out: DecodedLog[] = [];
      const raw = await chain.pub.getLogs({
        address: contracts.map((c) => c.address),
        fromBlock,
        toBlock: "latest",
      });
      for (const log of raw) {
        const c = contracts.find((x) => x.address === log.address.toLowerCase());
        if (!c?.abi) continue;
        let decoded;
        try {
          decoded = decodeEventLog({ abi: c.abi, data: log.data, topics: log.topics });
        } catch {
          continue; // an event of an implementation behind the proxy that the ABI does not list
        }
        out.push({
          contract: c.name,
          eventName: decoded.eventName ?? "",
          args: (decoded.args ?? {}) as Record<string, unknown>,
          log: log as Log,
          eventId: makeEventId(log.transactionHash, log.logIndex),
        });
      }
      return out;
    },
    async eventEntityOf(type, log) {
      const e = await ix.entity(type, log.eventId);
      assert.ok(e, `${type} ${log.eventId} for ${log.contract}.${log.eventName}`);
      return e;
    },
    assertHandlersRan(dataSources) {
      const missing: string[] = [];
      for (const ds of host.runtime.manifest.dataSources) {
        if (!dataSources.includes(ds.name)) continue;
        for (const h of ds.mapping.eventHandlers)
          if (!host.runtime.handlerRuns.get(`${ds.name}.${h.handler}`))
            missing.push(`${ds.name}.${h.handler} (${h.event})`);
      }
      for (const name of dataSources)
        assert.ok(
          host.runtime.manifest.dataSources.some((d) => d.name === name),
          `data source ${name}`,
        );
      assert.deepEqual(missing, [], "handlers that never ran");
    },
    async stop() {
      await host.close();
    },
  };
  return ix;
}
