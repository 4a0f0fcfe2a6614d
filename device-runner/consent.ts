/**
 * Consent (PROTOCOL.md §2 DeviceRegistry): which schemas the device serves, which algorithms it accepts (any in the
 * schema, or an explicit list) and the minimum reward per job. Registered on-chain by the device key, and kept in
 * the data dir (`consent.json`): the local copy is what the owner wants and is authoritative for the runner, which
 * also requires the chain's `isEligible` (admission.ts) — a job must pass both.
 */
import { z } from "zod";
import { NO_SESSION_KEY } from "#sdk/crypto/session-key.ts";
import { readJsonFile, writeJsonAtomic } from "./atomic-fs.ts";
import { TxSender, type TxRequest } from "#sdk/chain/tx-sender.ts";
import { abiOf, type DeviceClients } from "./chain.ts";
import { KNOWN_SCHEMAS, schemaHash } from "./dataset.ts";
import { DeviceError } from "./errors.ts";
import type { Address, Hex } from "viem";

export const consentSchema = z.strictObject({
  schemas: z
    .array(z.string().refine((s) => s in KNOWN_SCHEMAS, "unknown schema"))
    .min(1)
    .max(32),
  anyAlgorithmInSchema: z.boolean(),
  algorithms: z.array(z.coerce.bigint().positive()).max(256).default([]),
  /** Minimum reward per job, token wei. */
  priceFloor: z.coerce.bigint().min(0n),
  /**
   * Local only (not registered): the smallest cohort the owner accepts, on top of the chain's `kMin` (the runner
   * uses the larger of the two).
   */
  minCohort: z.number().int().min(1).max(100_000).optional(),
  /**
   * Local only: the owner's lifetime zCDP budget ρ over all DP jobs (privacy-ledger.ts); absent →
   * DEFAULT_PRIVACY_BUDGET.
   */
  privacyBudget: z.number().nonnegative().finite().max(1000).optional(),
});
export type Consent = z.infer<typeof consentSchema>;

/** Writes the owner's consent to `consent.json` (atomic; bigints as decimal strings). */
export async function saveLocalConsent(file: string, input: Consent): Promise<void> {
  const c = consentSchema.parse(input);
  await writeJsonAtomic(file, {
    schemas: c.schemas,
    anyAlgorithmInSchema: c.anyAlgorithmInSchema,
    algorithms: c.algorithms.map(String),
    priceFloor: c.priceFloor.toString(),
    ...(c.minCohort !== undefined ? { minCohort: c.minCohort } : {}),
    ...(c.privacyBudget !== undefined ? { privacyBudget: c.privacyBudget } : {}),
  });
}

/** The owner's consent from `consent.json`; `undefined` when none was given. @throws DeviceError CONFIG_INVALID */
export async function loadLocalConsent(file: string): Promise<Consent | undefined> {
  try {
    return await readJsonFile(file, consentSchema);
  } catch (e) {
    throw new DeviceError(
      "CONFIG_INVALID",
      `${file}: ${e instanceof Error ? e.message : String(e)}`,
      { cause: e },
    );
  }
}

function onChain(c: Consent) {
  return {
    schemas: c.schemas.map(schemaHash),
    consent: {
      anyAlgorithmInSchema: c.anyAlgorithmInSchema,
      algorithms: c.algorithms,
      priceFloor: c.priceFloor,
    },
  };
}

/**
 * Registers the device (approving its bond in DML first), or updates schemas and consent when it is already
 * registered, and registers its SecAgg session key (`sessionKey`, derived from the device key: session-key.ts) when
 * the registration has none yet. Returns tx hashes.
 * @throws DeviceError SESSION_KEY_MISMATCH when the registration already holds another session key (keys are
 *   immutable while registered: deregister and register again), CHAIN when a transaction fails.
 */
export async function registerConsent(
  clients: DeviceClients,
  registry: Address,
  input: Consent,
  sessionKey: Hex,
): Promise<Hex[]> {
  const consent = consentSchema.parse(input);
  const { schemas, consent: c } = onChain(consent);
  const { publicClient: pub, walletClient: wallet } = clients;
  const abi = abiOf("DeviceRegistry");
  const device = wallet.account.address;
  const registered = (await pub.readContract({
    address: registry,
    abi,
    functionName: "isRegistered",
    args: [device],
  })) as boolean;
  const calls: TxRequest[] = registered
    ? [
        { address: registry, abi, functionName: "updateSchemas", args: [schemas] },
        { address: registry, abi, functionName: "updateConsent", args: [c] },
      ]
    : [{ address: registry, abi, functionName: "register", args: [schemas, c] }];
  const current = registered
    ? ((await pub.readContract({
        address: registry,
        abi,
        functionName: "sessionKeyOf",
        args: [device],
      })) as Hex)
    : NO_SESSION_KEY;
  if (current === NO_SESSION_KEY || /^0x0{64}$/.test(current))
    calls.push({ address: registry, abi, functionName: "setSessionKey", args: [sessionKey] });
  else if (current.toLowerCase() !== sessionKey.toLowerCase())
    throw new DeviceError(
      "SESSION_KEY_MISMATCH",
      `DeviceRegistry holds session key ${current} for ${device}, not this device's ${sessionKey}: deregister and register again`,
    );
  if (!registered) {
    // Registering posts the device bond (PROTOCOL.md §7.2): let the registry pull it first.
    const bond = (await pub.readContract({
      address: registry,
      abi,
      functionName: "deviceBond",
    })) as bigint;
    const token = (await pub.readContract({
      address: registry,
      abi,
      functionName: "token",
    })) as Address;
    calls.unshift({
      address: token,
      abi: abiOf("DMLToken"),
      functionName: "approve",
      args: [registry, bond],
    });
  }
  const hashes: Hex[] = [];
  const sender = await TxSender.create({ publicClient: pub, walletClient: wallet });
  for (const call of calls) {
    try {
      hashes.push((await sender.send(call)).hash);
    } catch (e) {
      throw new DeviceError(
        "CHAIN",
        `DeviceRegistry.${call.functionName}: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`,
        { cause: e },
      );
    }
  }
  return hashes;
}

export async function isEligible(
  clients: Pick<DeviceClients, "publicClient">,
  registry: Address,
  device: Address,
  schemaId: string,
  algorithmId: bigint,
  reward: bigint,
): Promise<boolean> {
  return (await clients.publicClient.readContract({
    address: registry,
    abi: abiOf("DeviceRegistry"),
    functionName: "isEligible",
    args: [device, schemaHash(schemaId), algorithmId, reward],
  })) as boolean;
}
