/**
 * Reads the output of `graph build` (build/subgraph.yaml, each data source's wasm and ABIs, schema.graphql):
 * data sources with their address, startBlock, context and event handlers (the event signature → topic0 and the
 * ABI event viem decodes the log with), and the templates that `dataSource.create` instantiates.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import {
  keccak256,
  toEventSignature,
  toHex,
  type Abi,
  type AbiEvent,
  type Address,
  type Hex,
} from "viem";
import YAML from "yaml";
import { z } from "zod";
import { RuntimeError, RuntimeErrorCode } from "./errors.ts";
import { parseSchema, type SubgraphSchema } from "./schema.ts";
import type { Value } from "../types.ts";

const contextEntry = z.object({
  type: z.enum(["Bool", "String", "Int", "Int8", "BigDecimal", "Bytes", "List", "BigInt"]),
  data: z.unknown(),
});

const mappingSchema = z.object({
  kind: z.literal("ethereum/events"),
  apiVersion: z.string().regex(/^\d+\.\d+\.\d+$/),
  language: z.literal("wasm/assemblyscript"),
  entities: z.array(z.string()).default([]),
  abis: z.array(z.object({ name: z.string(), file: z.string() })),
  eventHandlers: z
    .array(
      z.object({
        event: z.string(),
        handler: z.string(),
        receipt: z.boolean().optional(),
        topic1: z.array(z.string()).optional(),
        topic2: z.array(z.string()).optional(),
        topic3: z.array(z.string()).optional(),
        calls: z.record(z.string(), z.string()).optional(),
      }),
    )
    .default([]),
  blockHandlers: z.array(z.unknown()).optional(),
  callHandlers: z.array(z.unknown()).optional(),
  file: z.string(),
});

/** A block number, also as the string a rendered template leaves (`startBlock: "123"`). */
const blockNumber = z.union([
  z.number().int().nonnegative(),
  z
    .string()
    .regex(/^\d+$/)
    .transform((s) => Number(s)),
]);

const dataSourceSchema = z.object({
  // graph-node accepts both spellings of the Ethereum data source kind
  kind: z.enum(["ethereum", "ethereum/contract"]),
  name: z.string(),
  network: z.string(),
  source: z.object({
    address: z
      .string()
      .regex(/^0x[0-9a-fA-F]{40}$/)
      .optional(),
    abi: z.string(),
    startBlock: blockNumber.optional(),
    endBlock: blockNumber.optional(),
  }),
  context: z.record(z.string(), contextEntry).optional(),
  mapping: mappingSchema,
});

const manifestSchema = z.object({
  specVersion: z.string(),
  schema: z.object({ file: z.string() }),
  dataSources: z.array(dataSourceSchema).min(1),
  templates: z.array(dataSourceSchema).optional(),
});

export interface EventHandlerDef {
  /** As written in the manifest, e.g. `Transfer(indexed address,indexed address,uint256)`. */
  readonly event: string;
  readonly handler: string;
  readonly topic0: Hex;
  readonly abiEvent: AbiEvent;
  /** `receipt: true`: the handler's event carries its transaction receipt. */
  readonly receipt: boolean;
  readonly topicFilters: readonly (readonly Hex[] | undefined)[];
}

export interface MappingDef {
  readonly apiVersion: readonly [number, number, number];
  readonly wasm: WebAssembly.Module;
  readonly wasmFile: string;
  readonly abis: ReadonlyMap<string, Abi>;
  readonly eventHandlers: readonly EventHandlerDef[];
}

/** A data source of the manifest or a template (templates have no address). */
export interface DataSourceDef {
  readonly kind: "ethereum";
  readonly name: string;
  readonly network: string;
  readonly address?: Address;
  readonly abi: string;
  readonly startBlock: number;
  readonly endBlock?: number;
  readonly context: ReadonlyMap<string, Value> | null;
  readonly mapping: MappingDef;
}

export interface SubgraphManifest {
  readonly dir: string;
  readonly specVersion: string;
  readonly schema: SubgraphSchema;
  readonly schemaText: string;
  readonly dataSources: readonly DataSourceDef[];
  readonly templates: readonly DataSourceDef[];
}

const invalid = (message: string, cause?: unknown) =>
  new RuntimeError(
    RuntimeErrorCode.MANIFEST_INVALID,
    message,
    cause === undefined ? undefined : { cause },
  );

/** `Transfer(indexed address,uint256)` → `Transfer(address,uint256)`. */
export const canonicalEventSignature = (event: string): string =>
  event.replace(/\bindexed\s+/g, "").replace(/\s+/g, "");

function contextValue(
  type: z.infer<typeof contextEntry>["type"],
  data: unknown,
  where: string,
): Value {
  const fail = () => invalid(`${where}: context value ${JSON.stringify(data)} is not a ${type}`);
  switch (type) {
    case "Bool":
      if (typeof data !== "boolean") throw fail();
      return { kind: "Bool", value: data };
    case "String":
      if (typeof data !== "string") throw fail();
      return { kind: "String", value: data };
    case "Int":
      if (typeof data !== "number" || !Number.isInteger(data)) throw fail();
      return { kind: "Int", value: data };
    case "Int8":
    case "BigInt":
      if (typeof data !== "string" && typeof data !== "number") throw fail();
      return { kind: type, value: BigInt(data) };
    case "BigDecimal":
      if (typeof data !== "string" && typeof data !== "number") throw fail();
      return { kind: "BigDecimal", value: String(data) };
    case "Bytes":
      if (typeof data !== "string" || !/^0x([0-9a-fA-F]{2})*$/.test(data)) throw fail();
      return { kind: "Bytes", value: Uint8Array.from(Buffer.from(data.slice(2), "hex")) };
    case "List": {
      if (!Array.isArray(data)) throw fail();
      return {
        kind: "List",
        value: data.map((d) => {
          const e = contextEntry.parse(d);
          return contextValue(e.type, e.data, where);
        }),
      };
    }
  }
}

const versionOf = (v: string): [number, number, number] => {
  const [a, b, c] = v.split(".").map(Number);
  return [a ?? 0, b ?? 0, c ?? 0];
};

export const apiVersionAtLeast = (v: readonly [number, number, number], min: string): boolean => {
  const m = versionOf(min);
  for (let i = 0; i < 3; i++) if (v[i] !== m[i]) return v[i]! > m[i]!;
  return true;
};

function loadDataSource(
  dir: string,
  raw: z.infer<typeof dataSourceSchema>,
  wasmCache: Map<string, WebAssembly.Module>,
): DataSourceDef {
  const where = `data source ${raw.name}`;
  const m = raw.mapping;
  if ((m.blockHandlers?.length ?? 0) > 0 || (m.callHandlers?.length ?? 0) > 0)
    throw invalid(
      `${where}: block and call handlers are not supported by the local graph host (event handlers only)`,
    );
  const apiVersion = versionOf(m.apiVersion);
  if (!apiVersionAtLeast(apiVersion, "0.0.5"))
    throw invalid(
      `${where}: mapping apiVersion ${m.apiVersion} is older than 0.0.5 (AssemblyScript < 0.19)`,
    );
  const abis = new Map<string, Abi>();
  for (const a of m.abis) {
    try {
      abis.set(
        a.name,
        z
          .array(z.record(z.string(), z.unknown()))
          .parse(JSON.parse(readFileSync(path.join(dir, a.file), "utf8"))) as unknown as Abi,
      );
    } catch (e) {
      throw invalid(`${where}: ABI ${a.name} (${a.file}): ${(e as Error).message}`, e);
    }
  }
  const abi = abis.get(raw.source.abi);
  if (!abi) throw invalid(`${where}: source ABI ${raw.source.abi} is not among the mapping's abis`);
  const events = abi.filter((i): i is AbiEvent => i.type === "event");
  const eventHandlers = m.eventHandlers.map((h): EventHandlerDef => {
    const canonical = canonicalEventSignature(h.event);
    const abiEvent = events.find((e) => toEventSignature(e).replace(/\s+/g, "") === canonical);
    if (!abiEvent)
      throw invalid(
        `${where}: event ${h.event} of handler ${h.handler} is not in ABI ${raw.source.abi}`,
      );
    const topic = (t: string[] | undefined) => t?.map((x) => x as Hex);
    return {
      event: h.event,
      handler: h.handler,
      topic0: keccak256(toHex(canonical)),
      abiEvent,
      receipt: h.receipt ?? false,
      topicFilters: [topic(h.topic1), topic(h.topic2), topic(h.topic3)],
    };
  });
  const wasmFile = path.join(dir, m.file);
  let wasm = wasmCache.get(wasmFile);
  if (!wasm) {
    try {
      wasm = new WebAssembly.Module(readFileSync(wasmFile));
    } catch (e) {
      throw invalid(`${where}: ${m.file}: ${(e as Error).message}`, e);
    }
    wasmCache.set(wasmFile, wasm);
  }
  const context = raw.context
    ? new Map(
        Object.entries(raw.context).map(
          ([k, v]) => [k, contextValue(v.type, v.data, where)] as const,
        ),
      )
    : null;
  return {
    kind: "ethereum",
    name: raw.name,
    network: raw.network,
    ...(raw.source.address ? { address: raw.source.address.toLowerCase() as Address } : {}),
    abi: raw.source.abi,
    startBlock: raw.source.startBlock ?? 0,
    ...(raw.source.endBlock !== undefined ? { endBlock: raw.source.endBlock } : {}),
    context,
    mapping: { apiVersion, wasm, wasmFile, abis, eventHandlers },
  };
}

/** Loads `<buildDir>/subgraph.yaml` (the output of `graph build`) and everything it points to. */
export function loadManifest(buildDir: string): SubgraphManifest {
  const file = path.join(buildDir, "subgraph.yaml");
  let doc: unknown;
  try {
    doc = YAML.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw invalid(`${file}: ${(e as Error).message}`, e);
  }
  const parsed = manifestSchema.safeParse(doc);
  if (!parsed.success) throw invalid(`${file}: ${z.prettifyError(parsed.error)}`);
  const raw = parsed.data;
  let schemaText: string;
  try {
    schemaText = readFileSync(path.join(buildDir, raw.schema.file), "utf8");
  } catch (e) {
    throw invalid(`${raw.schema.file}: ${(e as Error).message}`, e);
  }
  const wasmCache = new Map<string, WebAssembly.Module>();
  const dataSources = raw.dataSources.map((d) => {
    if (!d.source.address) throw invalid(`data source ${d.name} has no source.address`);
    return loadDataSource(buildDir, d, wasmCache);
  });
  const templates = (raw.templates ?? []).map((t) => loadDataSource(buildDir, t, wasmCache));
  const names = [...dataSources, ...templates].map((d) => d.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw invalid(`data source name ${dup} is used twice`);
  return {
    dir: buildDir,
    specVersion: raw.specVersion,
    schema: parseSchema(schemaText),
    schemaText,
    dataSources,
    templates,
  };
}
