#!/usr/bin/env node
/**
 * `dml-indexer` — the local graph host (docs/indexer.md): indexes the protocol's subgraph from any chain into PGlite
 * (or Postgres with DATABASE_URL) and serves The Graph's GraphQL API on 127.0.0.1.
 *
 * Exit codes: 0 stopped (SIGINT/SIGTERM), 1 runtime failure or a deterministic handler error, 2 invalid options or
 * manifest. A failure is one line on stderr, `dml-indexer: error[CODE]: message` (sdk/cli/errors.ts).
 */
import { pathToFileURL } from "node:url";
import { Command, InvalidArgumentError, Option } from "commander";
import pino from "pino";
import { readManifest } from "#sdk/chain/manifest.ts";
import { reportCliError } from "#sdk/cli/errors.ts";
import { makeOutput } from "#sdk/cli/output.ts";
import { progressEnabled, startProgress, type Progress } from "#sdk/cli/progress.ts";
import { DEFAULT_SUBGRAPH_NAME, GraphHost } from "./graph-host.ts";
import type { StepResult } from "./indexer.ts";
import { DASHBOARD_DIST, ensureDashboardBuild } from "./dashboard/build.ts";
import { dashboardRoutes } from "./dashboard/serve.ts";
import { sourcesFromManifest } from "./sources.ts";

const DEFAULT_PORT = 8000;

const port = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65_535)
    throw new InvalidArgumentError("a port is an integer in 0..65535");
  return n;
};
const httpUrl = (v: string): string => {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new InvalidArgumentError("an http(s) URL");
  }
  if (u.protocol !== "http:" && u.protocol !== "https:")
    throw new InvalidArgumentError("an http(s) URL");
  return v.replace(/\/$/, "");
};
const positive = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("a positive integer");
  return n;
};

interface CliOptions {
  rpc: string;
  manifest: string;
  subgraph: string;
  dataDir: string;
  databaseUrl?: string;
  port: number;
  name: string;
  batchBlocks?: number;
  reorgThreshold?: number;
  once?: boolean;
  json?: boolean;
  dashboard?: boolean;
  ipfs?: string;
}

export function buildProgram(): Command {
  return new Command("dml-indexer")
    .description(
      "DML indexer: host the protocol's subgraph locally. Runs the `graph build` output's WebAssembly mappings " +
        "over the chain's logs in block order, keeps the entities in a block-range versioned store (PGlite in " +
        "--data-dir, or Postgres with --database-url / DATABASE_URL), rolls back reorgs, and serves The Graph's " +
        "GraphQL API at http://127.0.0.1:<port>/subgraphs/name/<name>.",
    )
    .requiredOption("--rpc <url>", "JSON-RPC endpoint of the chain to index")
    .requiredOption(
      "--manifest <file>",
      "deployment manifest (script/deploy.ts output): the data sources' addresses and start blocks",
    )
    .option("--subgraph <dir>", "graph build output directory", "subgraph/build")
    .option("--data-dir <dir>", "PGlite data directory", `${process.env.HOME ?? "."}/.dml-indexer`)
    .addOption(
      new Option("--database-url <url>", "Postgres connection string instead of PGlite").env(
        "DATABASE_URL",
      ),
    )
    .option("--port <n>", "GraphQL port on 127.0.0.1", port, DEFAULT_PORT)
    .option("--name <name>", "subgraph name in the query URL", DEFAULT_SUBGRAPH_NAME)
    .option("--batch-blocks <n>", "blocks per eth_getLogs request", positive)
    .option("--reorg-threshold <n>", "deepest reorg rolled back (blocks)", positive)
    .option("--once", "index up to the current head, print the query URL's _meta and exit")
    .option(
      "--json",
      "stdout is one JSON document: `--once` prints {_meta}, serving prints {url, dashboard}; no progress bar",
    )
    .option(
      "--dashboard",
      "also serve the dashboard at http://127.0.0.1:<port>/dashboard/ (built with Vite first when missing or stale)",
    )
    .option(
      "--ipfs <url>",
      "IPFS Kubo RPC API the dashboard reads reports and packages from, proxied read-only at /ipfs/<cid>",
      httpUrl,
    )
    .addHelpText(
      "after",
      `
Examples:
  dml-indexer --rpc http://127.0.0.1:8545 --manifest deployments/31337.json
  dml-indexer --rpc http://127.0.0.1:8545 --manifest deployments/31337.json --dashboard --ipfs http://127.0.0.1:5001
  DATABASE_URL=postgres://graph:pw@127.0.0.1:5432/graph dml-indexer --rpc $RPC --manifest deployment.json --port 8000
  curl -s http://127.0.0.1:8000/subgraphs/name/dml/protocol -H 'content-type: application/json' \\
    -d '{"query":"{ _meta { block { number } hasIndexingErrors } jobs(first: 5) { id status } }"}'`,
    );
}

/**
 * The `--once` bar: blocks indexed of those between the first block this run indexes and the head (the head moves
 * while syncing; the total follows it). Silent when bars are off.
 */
export function syncProgress(enabled: boolean): (r: StepResult) => void {
  let bar: Progress | undefined;
  let first = 0;
  return (r) => {
    if (r.kind === "indexed") {
      if (bar === undefined) {
        first = r.from;
        bar = startProgress("indexing blocks", r.head - first + 1, enabled);
      }
      bar.setTotal(r.head - first + 1);
      bar.update(r.to - first + 1, `block ${r.to} of ${r.head}`);
    } else if (r.kind === "synced" || r.kind === "failed") bar?.stop();
  };
}

export async function main(argv: readonly string[]): Promise<void> {
  const program = buildProgram().exitOverride();
  // commander's own refusals are printed by the shared formatter, one line (sdk/cli/errors.ts)
  program.configureOutput({ outputError: () => undefined });
  let o: CliOptions;
  try {
    o = program.parse([...argv], { from: "user" }).opts<CliOptions>();
  } catch (e) {
    if ((e as { exitCode?: number }).exitCode === 0) process.exitCode = 0;
    else reportCliError("dml-indexer", e);
    return;
  }
  const log = pino({ name: "dml-indexer" }, pino.destination(2));
  let host: GraphHost | undefined;
  try {
    const manifest = readManifest(o.manifest);
    const name = o.name;
    if (o.dashboard && !o.once) {
      const built = await ensureDashboardBuild();
      log.info({ dir: DASHBOARD_DIST, built }, built ? "dashboard built" : "dashboard up to date");
    }
    host = await GraphHost.open({
      buildDir: o.subgraph,
      rpcUrl: o.rpc,
      sources: sourcesFromManifest(manifest),
      ...(o.databaseUrl ? { databaseUrl: o.databaseUrl } : { dataDir: o.dataDir }),
      name: o.name,
      port: o.port,
      ...(o.dashboard && !o.once
        ? {
            routes: dashboardRoutes({
              distDir: DASHBOARD_DIST,
              graphqlPath: `/subgraphs/name/${name}`,
              rpcUrl: o.rpc,
              ipfsUrl: o.ipfs ?? null,
            }),
          }
        : {}),
      tuning: {
        ...(o.batchBlocks ? { batchBlocks: o.batchBlocks } : {}),
        ...(o.reorgThreshold ? { reorgThreshold: o.reorgThreshold } : {}),
      },
      logger: log,
    });
    log.info({ url: host.queryUrl, deployment: host.deployment }, "serving");
    if (o.once) {
      const r = await host.syncToHead(syncProgress(progressEnabled(o.json === true)));
      const meta = await host.api.execute({
        query: "{ _meta { block { number hash } deployment hasIndexingErrors } }",
      });
      // JSON with or without --json: one line as before, the shared pretty document with it
      if (o.json) makeOutput(true).result(meta.data ?? meta, []);
      else console.log(JSON.stringify(meta.data ?? meta));
      process.exitCode = r.kind === "failed" ? 1 : 0;
      return;
    }
    const ac = new AbortController();
    process.once("SIGINT", () => ac.abort());
    process.once("SIGTERM", () => ac.abort());
    makeOutput(o.json === true).result(
      { url: host.queryUrl, dashboard: o.dashboard ? `${host.url}/dashboard/` : null },
      [host.queryUrl ?? "", ...(o.dashboard ? [`${host.url}/dashboard/`] : [])],
    );
    const r = await host.run(ac.signal);
    if (r?.kind === "failed") {
      process.stderr.write(
        `dml-indexer: error[INDEXING_FAILED]: indexing stopped at block ${r.block}: ${r.message.split("\n")[0]}\n`,
      );
      // keep serving the data up to the failed block (with hasIndexingErrors) until stopped, as graph-node does
      await new Promise<void>((resolve) => ac.signal.addEventListener("abort", () => resolve()));
      process.exitCode = 1;
    }
  } catch (e) {
    reportCliError("dml-indexer", e);
  } finally {
    await host?.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href)
  await main(process.argv.slice(2));
