/**
 * The device's configuration (`device.json` in the data dir), zod-validated. Contract addresses come from a
 * deployment manifest (`manifest` path, as written by script/deploy.ts) and/or explicit `contracts` entries.
 */
import { readManifest } from "#sdk/chain/manifest.ts";
import { getAddress, isAddress, type Address } from "viem";
import { z } from "zod";
import { readJsonFile, writeJsonAtomic } from "./atomic-fs.ts";
import { DeviceError } from "./errors.ts";
import { idlePolicySchema } from "./idle.ts";
import { DEFAULT_SCRYPT, scryptParamsSchema } from "#sdk/crypto/keystore.ts";

const addr = z.string().refine((a) => isAddress(a, { strict: false }), "not an address");

export const deviceConfigSchema = z.strictObject({
  rpcUrl: z.url().default("http://127.0.0.1:8545"),
  chainId: z.number().int().positive().default(31337),
  /** Path of a deployment manifest (script/deploy.ts output). */
  manifest: z.string().optional(),
  contracts: z.record(z.string(), addr).default({}),
  /** First block to scan for jobs when no cursor exists. */
  startBlock: z.coerce.bigint().min(0n).optional(),
  kuboUrl: z.url().optional(),
  /** Distributor endpoint for heartbeats (POST /heartbeats). */
  distributorUrl: z.url().optional(),
  heartbeatIntervalSec: z.number().int().min(10).max(86_400).default(300),
  pollIntervalSec: z.number().int().min(1).max(3600).default(12),
  confirmations: z.number().int().min(0).max(128).default(2),
  idle: idlePolicySchema.default({ maxLoadPerCore: 0.5, windows: [] }),
  scrypt: scryptParamsSchema.default(DEFAULT_SCRYPT),
});
export type DeviceConfig = z.infer<typeof deviceConfigSchema>;

export async function loadConfig(file: string): Promise<DeviceConfig> {
  try {
    return deviceConfigSchema.parse((await readJsonFile(file, z.unknown())) ?? {});
  } catch (e) {
    throw new DeviceError(
      "CONFIG_INVALID",
      `${file}: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}

export async function saveConfig(file: string, config: DeviceConfig): Promise<void> {
  const plain = JSON.parse(
    JSON.stringify(deviceConfigSchema.parse(config), (_k, v: unknown) =>
      typeof v === "bigint" ? v.toString() : v,
    ),
  ) as unknown;
  await writeJsonAtomic(file, plain);
}

/** Address of a protocol contract by name (explicit entry first, then the deployment manifest). */
export function contractAddress(config: DeviceConfig, name: string): Address {
  const explicit = config.contracts[name];
  if (explicit !== undefined) return getAddress(explicit);
  if (config.manifest !== undefined) {
    const m = readManifest(config.manifest);
    const c = m.contracts[name];
    if (c !== undefined) return getAddress(c.address);
  }
  throw new DeviceError(
    "CONFIG_INVALID",
    `no address for ${name}: set contracts.${name} or a deployment manifest`,
  );
}

export function startBlockOf(config: DeviceConfig): bigint {
  if (config.startBlock !== undefined) return config.startBlock;
  if (config.manifest !== undefined) return BigInt(readManifest(config.manifest).startBlock);
  return 0n;
}
