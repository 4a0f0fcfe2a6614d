/**
 * The local graph host: one subgraph build (the output of `graph build`) indexed from a chain into the versioned
 * store and served with The Graph's GraphQL API — what graph-node does for one deployment, in this process.
 *
 * The deployment id is derived from the build's manifest and modules (with the data sources' addresses and start
 * blocks filled in), so a changed mapping or another deployment of the contracts indexes into fresh tables, as a new
 * graph-node deployment would, while a restart with the same build resumes where the store stopped.
 */
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import { createPublicClient, http, type Address, type PublicClient } from "viem";
import { GraphQLApi } from "./graphql/execute.ts";
import { GraphQLServer, type GraphQLServerOptions } from "./graphql/server.ts";
import { Indexer, type IndexerTuning, type StepResult } from "./indexer.ts";
import { SubgraphRuntime } from "./runtime/runtime.ts";
import { Store } from "./store/store.ts";

/** Where a data source's contract lives on the chain being indexed (overrides the build's manifest). */
export interface SourceOverride {
  readonly address: Address;
  readonly startBlock: number;
}

export interface GraphHostOptions {
  /** `graph build` output directory (holds subgraph.yaml, schema.graphql and the modules). */
  readonly buildDir: string;
  readonly rpcUrl: string;
  /** Data source name → address and start block, e.g. from a deployment manifest. */
  readonly sources?: ReadonlyMap<string, SourceOverride>;
  /** PGlite data directory; or `databaseUrl` for Postgres; or neither for an in-memory store. */
  readonly dataDir?: string;
  readonly databaseUrl?: string;
  /** Served at /subgraphs/name/<name>. */
  readonly name?: string;
  /** GraphQL port on 127.0.0.1 (0: any free port; undefined: no server). */
  readonly port?: number;
  readonly host?: string;
  /** Other routes on the GraphQL server (the dashboard's: indexer/dashboard/serve.ts). */
  readonly routes?: GraphQLServerOptions["routes"];
  readonly tuning?: IndexerTuning;
  readonly logger?: Logger;
  /** A client to use instead of one built from `rpcUrl` (tests). */
  readonly client?: PublicClient;
}

export const DEFAULT_SUBGRAPH_NAME = "dml/protocol";

/** A content hash of the build as it will be indexed: manifest, schema, ABIs, modules and the source overrides. */
export function deploymentId(
  buildDir: string,
  sources?: ReadonlyMap<string, SourceOverride>,
): string {
  const h = createHash("sha256");
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else h.update(p.slice(buildDir.length)).update(readFileSync(p));
    }
  };
  walk(buildDir);
  for (const [name, s] of [...(sources ?? new Map())].sort((a, b) => a[0].localeCompare(b[0])))
    h.update(`${name}=${s.address.toLowerCase()}@${s.startBlock}`);
  return `local-${h.digest("hex").slice(0, 32)}`;
}

export class GraphHost {
  readonly deployment: string;
  readonly name: string;
  readonly store: Store;
  readonly runtime: SubgraphRuntime;
  readonly indexer: Indexer;
  readonly api: GraphQLApi;
  readonly #server: GraphQLServer | null;
  #url: string | null = null;

  private constructor(
    deployment: string,
    name: string,
    store: Store,
    runtime: SubgraphRuntime,
    indexer: Indexer,
    server: GraphQLServer | null,
    api: GraphQLApi,
  ) {
    this.deployment = deployment;
    this.name = name;
    this.store = store;
    this.runtime = runtime;
    this.indexer = indexer;
    this.#server = server;
    this.api = api;
  }

  /** Opens the store (creating the deployment's tables on first use), loads the modules, starts the GraphQL server. */
  static async open(o: GraphHostOptions): Promise<GraphHost> {
    const deployment = deploymentId(o.buildDir, o.sources);
    const name = o.name ?? DEFAULT_SUBGRAPH_NAME;
    const store = await Store.open({
      ...(o.databaseUrl !== undefined
        ? { databaseUrl: o.databaseUrl }
        : o.dataDir !== undefined
          ? { dataDir: o.dataDir }
          : { memory: true as const }),
      schema: readFileSync(join(o.buildDir, "schema.graphql"), "utf8"),
      deployment,
    });
    let runtime: SubgraphRuntime | undefined;
    try {
      runtime = SubgraphRuntime.load(o.buildDir, {
        rpcUrl: o.rpcUrl,
        head: store.head(),
        ...(o.sources ? { sources: o.sources } : {}),
        ...(o.logger ? { logger: o.logger } : {}),
      });
      const client = o.client ?? createPublicClient({ transport: http(o.rpcUrl) });
      const indexer = new Indexer({
        client,
        runtime,
        store,
        ...(o.tuning ?? {}),
        ...(o.logger ? { logger: o.logger } : {}),
      });
      const api = new GraphQLApi(store);
      const server =
        o.port === undefined
          ? null
          : new GraphQLServer({
              subgraphs: [{ name, deployment, api }],
              port: o.port,
              ...(o.host ? { host: o.host } : {}),
              ...(o.routes ? { routes: o.routes } : {}),
            });
      const host = new GraphHost(deployment, name, store, runtime, indexer, server, api);
      if (server) host.#url = await server.start();
      return host;
    } catch (e) {
      await runtime?.close();
      await store.close();
      throw e;
    }
  }

  /** The server's base URL (e.g. http://127.0.0.1:8000), or null without a server. */
  get url(): string | null {
    return this.#url;
  }

  /** The subgraph's query URL. */
  get queryUrl(): string | null {
    return this.#url === null ? null : `${this.#url}/subgraphs/name/${this.name}`;
  }

  /** Indexes until aborted (or a deterministic handler error stops it). */
  run(signal: AbortSignal): Promise<StepResult | null> {
    return this.indexer.run(signal);
  }

  /**
   * Steps until the store holds the chain's head as of now (tests, one-shot runs); `onStep` sees each step (the
   * `--once` progress bar: an `indexed` step carries its range and the head it indexes toward).
   */
  async syncToHead(onStep?: (r: StepResult) => void): Promise<StepResult> {
    for (;;) {
      const r = await this.indexer.step();
      onStep?.(r);
      if (r.kind === "synced" || r.kind === "failed") return r;
    }
  }

  async close(): Promise<void> {
    await this.#server?.stop();
    await this.runtime.close();
    await this.store.close();
  }
}
