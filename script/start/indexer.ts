/**
 * `npm start`'s graph host: builds the subgraph once (graph codegen + graph build, skipped while its sources are
 * unchanged: the build does not depend on the deployment's addresses, which `dml-indexer` takes from the deployment
 * manifest), runs `dml-indexer` as its own process on 127.0.0.1, and at the end waits for it to reach the chain's head
 * and checks its GraphQL answers against the contracts (script/indexer-check.ts).
 */
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import path from "node:path";
import type { Manifest } from "#sdk/chain/manifest.ts";
import type { ChainPublicClient } from "#sdk/chain/clients.ts";
import { buildSubgraph } from "../subgraph-build.ts";
import { SUBGRAPH_DIR } from "../lib/graph-cli.ts";
import { checkIndexerAgainstChain, graphql, type IndexerCheck } from "../indexer-check.ts";
import { freePort, spawnTs, type ChildProc } from "../network/processes.ts";

const ROOT = path.resolve(import.meta.dirname, "..", "..");
export const INDEXER_CLI = path.join(ROOT, "indexer/cli.ts");
const BUILD_DIR = path.join(SUBGRAPH_DIR, "build");
const STAMP = path.join(BUILD_DIR, ".sources-sha256");

/** A hash of what the build is made from: mappings, schema, template and the contracts' ABIs (artifacts). */
function sourcesHash(): string {
  const h = createHash("sha256");
  const walk = (p: string): void => {
    if (!existsSync(p)) return;
    if (statSync(p).isDirectory()) for (const n of readdirSync(p).sort()) walk(path.join(p, n));
    else h.update(path.relative(ROOT, p)).update(readFileSync(p));
  };
  walk(path.join(SUBGRAPH_DIR, "src"));
  walk(path.join(SUBGRAPH_DIR, "schema.graphql"));
  walk(path.join(SUBGRAPH_DIR, "subgraph.template.yaml"));
  walk(path.join(ROOT, "artifacts", "contracts"));
  return h.digest("hex");
}

/** The build's directory (what `dml-indexer --subgraph` and GraphHost take). */
export const SUBGRAPH_BUILD_DIR = BUILD_DIR;
const LOCK = path.join(SUBGRAPH_DIR, ".build.lock");
/** A lock older than this was left by a killed build (one takes well under a minute). */
const STALE_LOCK_MS = 10 * 60_000;

/**
 * Builds subgraph/build for `manifestFile` unless a build of the same sources exists. Returns whether it built.
 * Processes that ask at the same time (`npm start` and the mapping tests run side by side in `npm test`) take turns on
 * a lock directory, so one builds and the others find its stamp; graph-cli writes into subgraph/ and two builds at
 * once would clobber each other's files.
 */
export async function ensureSubgraphBuild(manifestFile: string): Promise<boolean> {
  const want = sourcesHash();
  const built = () => existsSync(STAMP) && readFileSync(STAMP, "utf8") === want;
  if (built()) return false;
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const since = statSync(LOCK, { throwIfNoEntry: false })?.mtimeMs;
      if (since !== undefined && Date.now() - since > STALE_LOCK_MS)
        rmSync(LOCK, { recursive: true, force: true });
      else await sleep(250);
    }
  }
  try {
    if (built()) return false;
    await buildSubgraph({ manifest: manifestFile });
    writeFileSync(STAMP, want);
    return true;
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

export interface RunningIndexer {
  proc: ChildProc;
  /** The subgraph's GraphQL URL. */
  url: string;
  /** The dashboard's URL (`--dashboard`, the default). */
  dashboardUrl?: string;
}

/**
 * Starts `dml-indexer` on a free loopback port (PGlite under `dataDir`) and waits for its query URL. With the
 * dashboard (default) it serves it too, reading reports through `ipfsUrl`.
 */
export async function startIndexer(
  rpcUrl: string,
  manifestFile: string,
  dataDir: string,
  opts: { dashboard?: boolean; ipfsUrl?: string } = {},
): Promise<RunningIndexer> {
  const dashboard = opts.dashboard ?? true;
  const port = await freePort();
  const proc = spawnTs(INDEXER_CLI, [
    "--rpc",
    rpcUrl,
    "--manifest",
    manifestFile,
    "--subgraph",
    BUILD_DIR,
    "--data-dir",
    dataDir,
    "--port",
    String(port),
    ...(dashboard ? ["--dashboard"] : []),
    ...(opts.ipfsUrl === undefined ? [] : ["--ipfs", opts.ipfsUrl]),
  ]);
  const end = Date.now() + 180_000;
  for (;;) {
    const out = proc.stdout();
    const m = /^(http:\/\/127\.0\.0\.1:\d+\/subgraphs\/name\/\S+)$/m.exec(out);
    const d = /^(http:\/\/127\.0\.0\.1:\d+\/dashboard\/)$/m.exec(out);
    if (m?.[1] && (!dashboard || d?.[1]))
      return { proc, url: m[1], ...(d?.[1] ? { dashboardUrl: d[1] } : {}) };
    const exited = await Promise.race([
      proc.exited,
      new Promise<null>((r) => setTimeout(() => r(null), 100)),
    ]);
    if (exited !== null)
      throw new Error(
        `dml-indexer exited (${exited}) before serving:\n${proc.stderr().slice(-2000)}`,
      );
    if (Date.now() > end) throw new Error("dml-indexer did not serve within 180 s");
  }
}

/** Waits until the indexer holds the chain's current head, then compares its answers with the contracts. */
export async function checkIndexer(
  pub: ChainPublicClient,
  manifest: Manifest,
  indexer: RunningIndexer,
  timeoutMs = 300_000,
): Promise<IndexerCheck & { block: number; waitedMs: number }> {
  const head = Number(await pub.getBlockNumber({ cacheTime: 0 }));
  const t0 = Date.now();
  for (;;) {
    const meta = (await graphql(indexer.url, "{ _meta { block { number } hasIndexingErrors } }"))
      ._meta as { block: { number: number }; hasIndexingErrors: boolean };
    if (meta.hasIndexingErrors)
      throw new Error(`the subgraph has indexing errors:\n${indexer.proc.stderr().slice(-2000)}`);
    if (meta.block.number >= head) break;
    if (Date.now() - t0 > timeoutMs)
      throw new Error(
        `the indexer reached block ${meta.block.number} of ${head} in ${timeoutMs / 1000} s`,
      );
    await new Promise((r) => setTimeout(r, 250));
  }
  const waitedMs = Date.now() - t0;
  return {
    ...(await checkIndexerAgainstChain(pub, manifest, indexer.url, head)),
    block: head,
    waitedMs,
  };
}
