/**
 * Wires the subgraph to a deployment: reads a deployment manifest (deployments/<chainId>*.json, written by
 * script/deploy.ts) and writes, into subgraph/:
 *   - `networks.json`   graph-cli's network file: { <network>: { <DataSource>: { address, startBlock } } };
 *   - `subgraph.yaml`   subgraph.template.yaml with the network, every data source's address and startBlock;
 *   - `abis/<Name>.json` each data source's ABI from the Hardhat artifacts (a proxy's address, its
 *                        implementation's ABI, which carries the ERC-1967 `Upgraded` event too).
 * All three are generated (gitignored): `npm run subgraph:build` writes them before `graph codegen`.
 *
 * Library: `renderSubgraphFiles(manifest, opts)`, `writeSubgraphFiles(...)`. CLI:
 *   npx tsx script/subgraph-manifest.ts [--manifest FILE] [--network NAME] [--dir DIR]
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Command } from "commander";
import { DEFAULT_ARTIFACTS_DIR, loadArtifact } from "#sdk/chain/artifacts.ts";
import { defaultManifestPath, readManifest, type Manifest } from "#sdk/chain/manifest.ts";
import { SUBGRAPH_DIR, SubgraphError } from "./lib/graph-cli.ts";

/** Data sources of the subgraph, one per protocol contract, with their mapping file (subgraph/src/mappings/). */
export const SUBGRAPH_DATA_SOURCES = {
  DMLToken: "dml-token",
  DMLGovernor: "dml-governor",
  NodeStaking: "node-staking",
  DeviceRegistry: "device-registry",
  AlgorithmMarketplace: "algorithm-marketplace",
  JobMarket: "job-market",
  ResultAttestation: "result-attestation",
  Settlement: "settlement",
  GrowthPool: "growth-pool",
  FineTuning: "fine-tuning",
  PaymentChannels: "payment-channels",
} as const;
export type SubgraphDataSource = keyof typeof SUBGRAPH_DATA_SOURCES;
export const DATA_SOURCE_NAMES = Object.keys(SUBGRAPH_DATA_SOURCES) as SubgraphDataSource[];

/** graph-node network names of the chains the protocol knows; any other chain needs `--network`. */
export const NETWORK_NAMES: Readonly<Record<number, string>> = {
  1: "mainnet",
  10: "optimism",
  137: "matic",
  8453: "base",
  42161: "arbitrum-one",
  84532: "base-sepolia",
  421614: "arbitrum-sepolia",
  11155111: "sepolia",
  31337: "hardhat",
};

export const TEMPLATE_FILE = "subgraph.template.yaml";

export interface NetworkEntry {
  address: string;
  startBlock: number;
}
export type NetworksJson = Record<string, Record<string, NetworkEntry>>;

export interface SubgraphFiles {
  network: string;
  networks: NetworksJson;
  /** subgraph.yaml's text. */
  manifest: string;
  /** ABI file name (`<Name>.json`) → text. */
  abis: Map<string, string>;
}

export interface RenderOptions {
  /** graph-node network name; default from the chain id (NETWORK_NAMES). */
  network?: string;
  artifactsDir?: string;
  /** The subgraph directory holding the template. */
  dir?: string;
}

/** The network name for a chain. @throws SubgraphError when the chain is unknown and none is given. */
export function networkName(chainId: number, override?: string): string {
  const name = override ?? NETWORK_NAMES[chainId];
  if (!name)
    throw new SubgraphError(
      "SUBGRAPH_OPTIONS",
      `no graph-node network name known for chain ${chainId}: pass --network <name> (the name your graph-node's ethereum setting uses)`,
    );
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name))
    throw new SubgraphError("SUBGRAPH_OPTIONS", `invalid network name "${name}"`);
  return name;
}

/** networks.json for a deployment: every data source's proxy address and creation block. */
export function renderNetworks(manifest: Manifest, network: string): NetworksJson {
  const entries: Record<string, NetworkEntry> = {};
  for (const name of DATA_SOURCE_NAMES) {
    const c = manifest.contracts[name];
    if (!c)
      throw new SubgraphError(
        "SUBGRAPH_MANIFEST",
        `deployment manifest for chain ${manifest.chainId} has no ${name}: the subgraph indexes every protocol contract`,
      );
    entries[name] = { address: c.address, startBlock: c.blockNumber };
  }
  return { [network]: entries };
}

/**
 * Fills `{{network}}`, `{{<Name>.address}}` and `{{<Name>.startBlock}}` in the template. The template quotes every
 * placeholder so that it stays valid YAML; a quoted startBlock becomes a bare number.
 */
export function renderTemplate(
  template: string,
  network: string,
  entries: Record<string, NetworkEntry>,
): string {
  return template.replace(
    /("?)\{\{\s*([A-Za-z0-9.]+)\s*\}\}("?)/g,
    (_m, open: string, key: string, close: string) => {
      if (key === "network") return `${open}${network}${close}`;
      const [name, field] = key.split(".");
      const entry = name === undefined ? undefined : entries[name];
      if (!entry || (field !== "address" && field !== "startBlock"))
        throw new SubgraphError(
          "SUBGRAPH_TEMPLATE",
          `${TEMPLATE_FILE}: unknown placeholder {{${key}}}`,
        );
      if (field === "startBlock") return String(entry.startBlock);
      return `${open}${entry.address}${close}`;
    },
  );
}

/** Everything `writeSubgraphFiles` writes, rendered in memory. */
export function renderSubgraphFiles(manifest: Manifest, opts: RenderOptions = {}): SubgraphFiles {
  const dir = opts.dir ?? SUBGRAPH_DIR;
  const network = networkName(manifest.chainId, opts.network);
  const networks = renderNetworks(manifest, network);
  const template = readFileSync(path.join(dir, TEMPLATE_FILE), "utf8");
  const text = renderTemplate(template, network, networks[network] ?? {});
  const abis = new Map<string, string>();
  for (const name of DATA_SOURCE_NAMES) {
    const { abi } = loadArtifact(name, opts.artifactsDir ?? DEFAULT_ARTIFACTS_DIR);
    abis.set(`${name}.json`, `${JSON.stringify(abi, null, 2)}\n`);
  }
  return {
    network,
    networks,
    manifest: `# Generated by script/subgraph-manifest.ts from ${TEMPLATE_FILE}: do not edit.\n${text}`,
    abis,
  };
}

/** Writes networks.json, subgraph.yaml and abis/ into the subgraph directory. */
export function writeSubgraphFiles(files: SubgraphFiles, dir = SUBGRAPH_DIR): void {
  mkdirSync(path.join(dir, "abis"), { recursive: true });
  for (const [file, text] of files.abis) writeFileSync(path.join(dir, "abis", file), text);
  writeFileSync(path.join(dir, "networks.json"), `${JSON.stringify(files.networks, null, 2)}\n`);
  writeFileSync(path.join(dir, "subgraph.yaml"), files.manifest);
}

export interface ManifestCliOptions {
  manifest?: string;
  network?: string;
  dir?: string;
  artifacts?: string;
}

/** Reads the deployment manifest and writes the subgraph's generated files; returns what it wrote. */
export function generateSubgraphManifest(
  opts: ManifestCliOptions = {},
): SubgraphFiles & { source: string } {
  const source = opts.manifest ?? defaultManifestPath(31337);
  if (!existsSync(source))
    throw new SubgraphError(
      "SUBGRAPH_MANIFEST",
      `no deployment manifest at ${source}: deploy first (npm start or npm run deploy) or pass --manifest <file>`,
    );
  const manifest = readManifest(source);
  const files = renderSubgraphFiles(manifest, {
    ...(opts.network ? { network: opts.network } : {}),
    ...(opts.artifacts ? { artifactsDir: opts.artifacts } : {}),
    ...(opts.dir ? { dir: opts.dir } : {}),
  });
  writeSubgraphFiles(files, opts.dir ?? SUBGRAPH_DIR);
  return { ...files, source };
}

/** Shared CLI options of the subgraph scripts. */
export function addManifestOptions(cmd: Command): Command {
  return cmd
    .option("--manifest <file>", "deployment manifest (default deployments/31337.local.json)")
    .option("--network <name>", "graph-node network name (default from the chain id)")
    .option("--artifacts <dir>", "Hardhat artifacts directory");
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const program = addManifestOptions(
    new Command()
      .name("subgraph-manifest")
      .description(
        "Write subgraph/networks.json, subgraph/subgraph.yaml and subgraph/abis/ from a deployment manifest",
      ),
  )
    .option("--dir <dir>", "subgraph directory", SUBGRAPH_DIR)
    .parse(process.argv);
  try {
    const out = generateSubgraphManifest(program.opts<ManifestCliOptions>());
    console.log(
      `subgraph: ${DATA_SOURCE_NAMES.length} data sources on ${out.network} from ${path.relative(process.cwd(), out.source)}`,
    );
  } catch (err) {
    console.error(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
    process.exitCode = 1;
  }
}
