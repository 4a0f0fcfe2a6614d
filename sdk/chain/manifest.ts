/**
 * The deployment manifest: where every protocol contract lives on a chain. Written by `script/deploy.ts`
 * after each step, read by relayers, the device runner and the subgraph.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { getAddress, type Address, type Hex } from "viem";
import { z } from "zod";
import { ManifestError } from "./errors.ts";

const address = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, "not an address")
  .transform((a) => getAddress(a) as Address);
const txHash = z
  .string()
  .regex(/^0x[0-9a-fA-F]{64}$/, "not a transaction hash")
  .transform((h) => h.toLowerCase() as Hex);
const bytes32 = z
  .string()
  .regex(/^0x[0-9a-fA-F]{64}$/, "not bytes32")
  .transform((h) => h.toLowerCase() as Hex);
/** uint256 values are stored as decimal strings (JSON has no bigint). */
const uint = z
  .union([z.string().regex(/^\d+$/), z.number().int().nonnegative()])
  .transform((v) => BigInt(v));

export const MANIFEST_VERSION = 1;

/** One deployed contract. Proxies also carry their implementation. */
export const deployedContractSchema = z.object({
  /** Address users call (the ERC1967 proxy for upgradeable contracts). */
  address,
  /** Implementation behind the proxy; absent for non-upgradeable contracts. */
  implementation: address.optional(),
  /** Transaction that created `address`. */
  txHash,
  /** Transaction that created `implementation`. */
  implementationTxHash: txHash.optional(),
  /** Block in which `address` was created. */
  blockNumber: z.number().int().nonnegative(),
});

/** A wiring step (role grant, subscription, governance hand-over) that has been completed. */
export const deploymentStepSchema = z.object({
  txHashes: z.array(txHash),
  blockNumber: z.number().int().nonnegative(),
});

export const vrfInfoSchema = z.object({
  coordinator: address,
  keyHash: bytes32,
  subscriptionId: uint,
  /** True when the coordinator is Chainlink's VRFCoordinatorV2_5Mock deployed by the script (dev chain). */
  mock: z.boolean(),
});

export const manifestSchema = z.object({
  version: z.literal(MANIFEST_VERSION),
  chainId: z.number().int().positive(),
  deployer: address,
  /** First block of the deployment: indexers start here. */
  startBlock: z.number().int().nonnegative(),
  updatedAt: z.string(),
  /** Keyed by contract name: DMLToken, TimelockController, DMLGovernor, NodeStaking, DeviceRegistry, GrowthPool, ... */
  contracts: z.record(z.string(), deployedContractSchema),
  /** Keyed by step name. */
  steps: z.record(z.string(), deploymentStepSchema),
  /** Address the GrowthPool proxy was predicted at when the token minted its 9% to it. */
  predicted: z.record(z.string(), address).default({}),
  vrf: vrfInfoSchema.optional(),
  /** The resolved deployment configuration (bigints as decimal strings). */
  config: z.record(z.string(), z.unknown()).optional(),
});

export type Manifest = z.infer<typeof manifestSchema>;
export type DeployedContract = z.infer<typeof deployedContractSchema>;
export type DeploymentStep = z.infer<typeof deploymentStepSchema>;

/** Validates an unknown value as a manifest. @throws ManifestError */
export function parseManifest(value: unknown, source = "manifest"): Manifest {
  const r = manifestSchema.safeParse(value);
  if (!r.success)
    throw new ManifestError(
      `${source} is not a valid deployment manifest: ${z.prettifyError(r.error)}`,
    );
  return r.data;
}

/** Reads and validates a manifest file. @throws ManifestError (also when the file does not exist). */
export function readManifest(file: string): Manifest {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (cause) {
    throw new ManifestError(`cannot read manifest ${file}`, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new ManifestError(`manifest ${file} is not JSON`, { cause });
  }
  return parseManifest(json, file);
}

/** Reads a manifest, or returns undefined when the file does not exist. */
export function tryReadManifest(file: string): Manifest | undefined {
  try {
    readFileSync(file);
  } catch {
    return undefined;
  }
  return readManifest(file);
}

/** JSON with bigints as decimal strings. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2);
}

/** Validates and atomically writes a manifest (temp file + rename, so a crash never leaves half a file). */
export function writeManifest(file: string, manifest: Manifest): void {
  const checked = parseManifest(JSON.parse(toJson(manifest)), "manifest to write");
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${toJson(checked)}\n`);
  renameSync(tmp, file);
}

/** The address of contract `name`. @throws ManifestError when the manifest does not have it. */
export function contractAddress(manifest: Manifest, name: string): Address {
  const c = manifest.contracts[name];
  if (!c) throw new ManifestError(`manifest for chain ${manifest.chainId} has no ${name}`);
  return c.address;
}

/** Default manifest location for a chain: `deployments/<chainId>.local.json` (gitignored). */
export function defaultManifestPath(
  chainId: number,
  root = path.resolve(import.meta.dirname, "..", ".."),
): string {
  return path.join(root, "deployments", `${chainId}.local.json`);
}
