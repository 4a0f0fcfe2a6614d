/**
 * `npm run subgraph:build`: wires the subgraph to a deployment (script/subgraph-manifest.ts), then runs
 * `graph codegen` and `graph build` (offline) in subgraph/. The output (subgraph/build/: one .wasm per data source,
 * the schema, ABIs and subgraph.yaml) is what the local graph host loads and what `subgraph:deploy` uploads.
 *
 * Library: `buildSubgraph(opts)`. CLI:
 *   npm run subgraph:build -- [--manifest FILE] [--network NAME] [--output-dir DIR] [--ipfs URL]
 */
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Command } from "commander";
import { graph, SUBGRAPH_DIR, SubgraphError } from "./lib/graph-cli.ts";
import {
  addManifestOptions,
  generateSubgraphManifest,
  type ManifestCliOptions,
} from "./subgraph-manifest.ts";

export interface BuildOptions extends ManifestCliOptions {
  /** Where `graph build` writes (default subgraph/build). */
  outputDir?: string;
  /** Also upload the build to this IPFS API (for `graph deploy --ipfs-hash`). */
  ipfs?: string;
  /** Print graph-cli's output as it runs. */
  echo?: boolean;
}

export interface BuildResult {
  network: string;
  /** subgraph/build (absolute). */
  outputDir: string;
  /** The manifest's IPFS hash when uploaded. */
  ipfsHash?: string;
  ms: { manifest: number; codegen: number; build: number };
}

/** Writes the generated files, then codegen and build. @throws SubgraphError */
export async function buildSubgraph(opts: BuildOptions = {}): Promise<BuildResult> {
  const dir = opts.dir ?? SUBGRAPH_DIR;
  const outputDir = path.resolve(opts.outputDir ?? path.join(dir, "build"));
  const t0 = performance.now();
  const files = generateSubgraphManifest({ ...opts, dir });
  const t1 = performance.now();
  const echo = opts.echo ?? false;
  await graph("SUBGRAPH_CODEGEN", ["codegen", "--skip-migrations", "subgraph.yaml"], dir, { echo });
  const t2 = performance.now();
  const args = ["build", "--skip-migrations", "--output-dir", outputDir, "subgraph.yaml"];
  if (opts.ipfs) args.push("--ipfs", opts.ipfs);
  const built = await graph("SUBGRAPH_BUILD", args, dir, { echo });
  const t3 = performance.now();
  let ipfsHash: string | undefined;
  if (opts.ipfs) {
    const m = /Build completed: (\S+)/.exec(built.stdout + built.stderr);
    if (!m?.[1])
      throw new SubgraphError(
        "SUBGRAPH_BUILD",
        "graph build uploaded nothing: no IPFS hash in its output",
      );
    ipfsHash = m[1];
  }
  return {
    network: files.network,
    outputDir,
    ...(ipfsHash ? { ipfsHash } : {}),
    ms: { manifest: t1 - t0, codegen: t2 - t1, build: t3 - t2 },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const program = addManifestOptions(
    new Command()
      .name("subgraph-build")
      .description(
        "Generate the subgraph manifest from a deployment, then graph codegen and graph build",
      ),
  )
    .option("--output-dir <dir>", "build output directory", path.join(SUBGRAPH_DIR, "build"))
    .option("--ipfs <url>", "also upload the build to this IPFS API")
    .parse(process.argv);
  buildSubgraph({ ...program.opts<BuildOptions>(), echo: false })
    .then((r) => {
      console.log(
        `subgraph built for ${r.network} in ${path.relative(process.cwd(), r.outputDir)}` +
          ` (manifest ${r.ms.manifest.toFixed(0)} ms, codegen ${r.ms.codegen.toFixed(0)} ms, build ${r.ms.build.toFixed(0)} ms)` +
          (r.ipfsHash ? `; IPFS ${r.ipfsHash}` : ""),
      );
    })
    .catch((err: unknown) => {
      console.error(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
      process.exitCode = 1;
    });
}
