/**
 * `npm run subgraph:deploy -- --node URL --ipfs URL [--name dml/protocol] [--version-label v]`: builds the subgraph
 * for a deployment (script/subgraph-build.ts), uploads that build to IPFS, then `graph create` (once per name) and
 * `graph deploy --ipfs-hash` of exactly that build on a real graph-node. See docs/subgraph.md and
 * docs/graph-node/docker-compose.yml.
 */
import { pathToFileURL } from "node:url";
import { Command } from "commander";
import { z } from "zod";
import { assertReachable, graph, runGraph, SUBGRAPH_DIR, SubgraphError } from "./lib/graph-cli.ts";
import { buildSubgraph } from "./subgraph-build.ts";
import { addManifestOptions } from "./subgraph-manifest.ts";

const url = z.url({ protocol: /^https?$/ });

export const deployOptionsSchema = z.object({
  /** graph-node's admin JSON-RPC endpoint (e.g. http://127.0.0.1:8020). */
  node: url,
  /** IPFS API (e.g. http://127.0.0.1:5001). */
  ipfs: url,
  /** Subgraph name. */
  name: z
    .string()
    .regex(/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)?$/, "name must look like account/subgraph"),
  versionLabel: z.string().min(1),
  manifest: z.string().optional(),
  network: z.string().optional(),
  artifacts: z.string().optional(),
});
export type DeployOptions = z.input<typeof deployOptionsSchema>;

export interface DeployResult {
  name: string;
  ipfsHash: string;
  created: boolean;
}

function withSlash(url: string): string {
  return url.endsWith("/") ? url : `${url}/`;
}

/** @throws SubgraphError (SUBGRAPH_OPTIONS, SUBGRAPH_UNREACHABLE, SUBGRAPH_BUILD, SUBGRAPH_CREATE,
 *         SUBGRAPH_DEPLOY) */
export async function deploySubgraph(input: DeployOptions): Promise<DeployResult> {
  const parsed = deployOptionsSchema.safeParse(input);
  if (!parsed.success) throw new SubgraphError("SUBGRAPH_OPTIONS", z.prettifyError(parsed.error));
  const opts = parsed.data;
  await assertReachable("graph-node (admin JSON-RPC, usually port 8020)", opts.node);
  await assertReachable(
    "IPFS (API, usually port 5001)",
    new URL("api/v0/version", withSlash(opts.ipfs)).href,
  );
  const built = await buildSubgraph({
    ...(opts.manifest ? { manifest: opts.manifest } : {}),
    ...(opts.network ? { network: opts.network } : {}),
    ...(opts.artifacts ? { artifacts: opts.artifacts } : {}),
    ipfs: opts.ipfs,
  });
  const ipfsHash = built.ipfsHash;
  if (!ipfsHash) throw new SubgraphError("SUBGRAPH_BUILD", "the build was not uploaded to IPFS");
  const create = await runGraph(["create", "--node", opts.node, opts.name], SUBGRAPH_DIR);
  const out = `${create.stdout}\n${create.stderr}`;
  const exists = /already exists/i.test(out);
  if (create.code !== 0 && !exists)
    throw new SubgraphError(
      "SUBGRAPH_CREATE",
      `graph create ${opts.name} on ${opts.node} failed (is graph-node running? its admin port is usually 8020):\n${out.trim()}`,
    );
  await graph(
    "SUBGRAPH_DEPLOY",
    [
      "deploy",
      opts.name,
      "subgraph.yaml",
      "--node",
      opts.node,
      "--ipfs",
      opts.ipfs,
      "--ipfs-hash",
      ipfsHash,
      "--version-label",
      opts.versionLabel,
    ],
    SUBGRAPH_DIR,
  );
  return { name: opts.name, ipfsHash, created: !exists };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const program = addManifestOptions(
    new Command()
      .name("subgraph-deploy")
      .description("Build the subgraph for a deployment and deploy that build to a graph-node"),
  )
    .requiredOption("--node <url>", "graph-node admin endpoint, e.g. http://127.0.0.1:8020")
    .requiredOption("--ipfs <url>", "IPFS API, e.g. http://127.0.0.1:5001")
    .option("--name <name>", "subgraph name", "dml/protocol")
    .option("--version-label <label>", "version label", "v0.1.0")
    .parse(process.argv);
  deploySubgraph(program.opts<DeployOptions>())
    .then((r) => {
      console.log(
        `deployed ${r.name} (${r.ipfsHash})${r.created ? "" : " (the name existed already)"}`,
      );
    })
    .catch((err: unknown) => {
      console.error(err instanceof SubgraphError ? `${err.code}: ${err.message}` : String(err));
      process.exitCode = 1;
    });
}
