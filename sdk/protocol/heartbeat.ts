/**
 * Signed device heartbeats (PROTOCOL.md §3 "off-chain messages", §7.2). A connected device POSTs one per interval to
 * its distributor's `/heartbeats` endpoint; the distributor keeps the devices with a valid heartbeat in the epoch as
 * the growth-pool connected set, whose leaves `(index, device, signature)` carry the signature on-chain.
 * `verifyHeartbeat` is the check the distributor relayer runs on every message.
 *
 * EIP-712 domain `{ name: "DML Device", version: "1", chainId, verifyingContract: DeviceRegistry proxy }`,
 * `Heartbeat(address device, uint64 epoch)` — exactly what `DeviceRegistry.heartbeatDigest(device, epoch)` hashes,
 * so `GrowthPool.challengeSignature` can check it. `timestamp` and `schemas` travel unsigned (transport fields: the
 * distributor's freshness check and a hint of what the device serves; the registry is the source of truth).
 */
import {
  getAddress,
  isAddress,
  recoverTypedDataAddress,
  type Address,
  type Hex,
  type LocalAccount,
} from "viem";
import { z } from "zod";
import { ProtocolError } from "./errors.ts";

export const HEARTBEAT_DOMAIN_NAME = "DML Device";
export const HEARTBEAT_DOMAIN_VERSION = "1";
export const HEARTBEAT_TYPES = {
  Heartbeat: [
    { name: "device", type: "address" },
    { name: "epoch", type: "uint64" },
  ],
} as const;

export interface HeartbeatDomain {
  chainId: number;
  /** DeviceRegistry address. */
  verifyingContract: Address;
}

const hex32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/);

/** Wire form (JSON body of `POST /heartbeats`). */
export const heartbeatSchema = z.strictObject({
  device: z.string().refine((a) => isAddress(a, { strict: false }), "not an address"),
  epoch: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  timestamp: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  /** Unsigned transport field. */
  schemas: z.array(hex32).max(64).optional(),
  signature: z.string().regex(/^0x[0-9a-fA-F]{130}$/),
});
export type Heartbeat = z.infer<typeof heartbeatSchema>;

function domainOf(d: HeartbeatDomain) {
  return {
    name: HEARTBEAT_DOMAIN_NAME,
    version: HEARTBEAT_DOMAIN_VERSION,
    chainId: d.chainId,
    verifyingContract: getAddress(d.verifyingContract),
  } as const;
}

/** The device's EIP-712 heartbeat signature for `epoch` (what a connected-set leaf carries). */
export async function signHeartbeatMessage(
  account: Pick<LocalAccount, "address" | "signTypedData">,
  domain: HeartbeatDomain,
  epoch: number | bigint,
): Promise<Hex> {
  return account.signTypedData({
    domain: domainOf(domain),
    types: HEARTBEAT_TYPES,
    primaryType: "Heartbeat",
    message: { device: account.address, epoch: BigInt(epoch) },
  });
}

export async function signHeartbeat(
  account: Pick<LocalAccount, "address" | "signTypedData">,
  domain: HeartbeatDomain,
  body: { epoch: number; timestamp: number; schemas?: readonly Hex[] },
): Promise<Heartbeat> {
  const signature = await signHeartbeatMessage(account, domain, body.epoch);
  return {
    device: account.address,
    epoch: body.epoch,
    timestamp: body.timestamp,
    ...(body.schemas ? { schemas: [...body.schemas] } : {}),
    signature,
  };
}

/**
 * Checks a heartbeat received from the network: shape, signature by `device`, the expected epoch and a timestamp
 * within `maxSkewSeconds` of `nowSeconds`. Returns the checksummed device address.
 * @throws ProtocolError HEARTBEAT_INVALID
 */
export async function verifyHeartbeat(
  input: unknown,
  domain: HeartbeatDomain,
  opts: { nowSeconds: number; epoch?: number; maxSkewSeconds?: number },
): Promise<Address> {
  const parsed = heartbeatSchema.safeParse(input);
  if (!parsed.success)
    throw new ProtocolError(
      "HEARTBEAT_INVALID",
      `malformed heartbeat: ${parsed.error.issues[0]?.message ?? ""}`,
    );
  const hb = parsed.data;
  if (opts.epoch !== undefined && hb.epoch !== opts.epoch)
    throw new ProtocolError(
      "HEARTBEAT_INVALID",
      `heartbeat for epoch ${hb.epoch}, expected ${opts.epoch}`,
    );
  const skew = opts.maxSkewSeconds ?? 300;
  if (Math.abs(hb.timestamp - opts.nowSeconds) > skew)
    throw new ProtocolError(
      "HEARTBEAT_INVALID",
      `heartbeat timestamp ${hb.timestamp} is more than ${skew}s off`,
    );
  let signer: Address;
  try {
    signer = await recoverTypedDataAddress({
      domain: domainOf(domain),
      types: HEARTBEAT_TYPES,
      primaryType: "Heartbeat",
      message: { device: getAddress(hb.device), epoch: BigInt(hb.epoch) },
      signature: hb.signature as Hex,
    });
  } catch {
    throw new ProtocolError("HEARTBEAT_INVALID", "unrecoverable heartbeat signature");
  }
  if (signer !== getAddress(hb.device))
    throw new ProtocolError("HEARTBEAT_INVALID", `heartbeat not signed by ${hb.device}`);
  return signer;
}

/** POSTs a heartbeat to `${distributorUrl}/heartbeats`. */
export async function sendHeartbeat(
  distributorUrl: string,
  hb: Heartbeat,
  timeoutMs = 10_000,
): Promise<void> {
  let res: Response;
  try {
    res = await fetch(`${distributorUrl.replace(/\/$/, "")}/heartbeats`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(hb),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    throw new ProtocolError(
      "HEARTBEAT_INVALID",
      `distributor ${distributorUrl} unreachable: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  await res.arrayBuffer();
  if (!res.ok)
    throw new ProtocolError(
      "HEARTBEAT_INVALID",
      `distributor rejected the heartbeat: HTTP ${res.status}`,
    );
}
