/**
 * Enrolment as a trainer (PROTOCOL.md §5): `FineTuning.enrol(bountyId)` from the device key, through the same
 * `TxSender` path as consent and claims. Checked first, so that the owner gets one clear line instead of a revert:
 * the bounty exists and is active, the device is registered in `DeviceRegistry`. Idempotent: a device already
 * enrolled sends nothing. Once enrolled, `dml-device run` trains in every round of the bounty
 * (training-watcher.ts).
 */
import { getAddress, type Address, type Hex } from "viem";
import { z } from "zod";
import { TxError } from "#sdk/chain/errors.ts";
import { TxSender } from "#sdk/chain/tx-sender.ts";
import { abiOf, type DeviceClients } from "./chain.ts";
import { DeviceError } from "./errors.ts";

/** `IFineTuning.BountyStatus`. */
const BOUNTY_STATUS = ["none", "active", "finalized"] as const;
const bountySchema = z.looseObject({ status: z.number().int().min(0).max(2) });

export type EnrolResult = { status: "enrolled"; hash: Hex } | { status: "already" };

/**
 * Enrols the device of `clients` in `bountyId`.
 * @throws DeviceError BOUNTY_NOT_ACTIVE (no such bounty, or finalised), NOT_REGISTERED (not a registered device),
 *   CHAIN (a read or the transaction failed)
 */
export async function enrolTrainer(
  clients: DeviceClients,
  contracts: { FineTuning: Address; DeviceRegistry: Address },
  bountyId: bigint,
): Promise<EnrolResult> {
  const pub = clients.publicClient;
  const me = getAddress(clients.walletClient.account.address);
  const abi = abiOf("FineTuning");
  const read = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (e) {
      throw new DeviceError(
        "CHAIN",
        `${what}: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`,
        { cause: e },
      );
    }
  };
  const count = await read("FineTuning.bountyCount", () =>
    pub.readContract({ address: contracts.FineTuning, abi, functionName: "bountyCount" }),
  );
  if (bountyId < 1n || bountyId > count)
    throw new DeviceError(
      "BOUNTY_NOT_ACTIVE",
      `bounty ${bountyId} does not exist (FineTuning has ${count} bount${count === 1n ? "y" : "ies"})`,
    );
  const enrolled = await read("FineTuning.isEnrolled", () =>
    pub.readContract({
      address: contracts.FineTuning,
      abi,
      functionName: "isEnrolled",
      args: [bountyId, me],
    }),
  );
  if (enrolled) return { status: "already" };
  const bounty = bountySchema.parse(
    await read("FineTuning.getBounty", () =>
      pub.readContract({
        address: contracts.FineTuning,
        abi,
        functionName: "getBounty",
        args: [bountyId],
      }),
    ),
  );
  if (BOUNTY_STATUS[bounty.status] !== "active")
    throw new DeviceError(
      "BOUNTY_NOT_ACTIVE",
      `bounty ${bountyId} is ${BOUNTY_STATUS[bounty.status]}: it takes no more trainers`,
    );
  const registered = await read("DeviceRegistry.isRegistered", () =>
    pub.readContract({
      address: contracts.DeviceRegistry,
      abi: abiOf("DeviceRegistry"),
      functionName: "isRegistered",
      args: [me],
    }),
  );
  if (!registered)
    throw new DeviceError(
      "NOT_REGISTERED",
      `${me} is not a registered device: run \`dml-device consent\` first`,
    );
  try {
    const sender = await TxSender.create({ publicClient: pub, walletClient: clients.walletClient });
    const { hash } = await sender.send({
      address: contracts.FineTuning,
      abi,
      functionName: "enrol",
      args: [bountyId],
    });
    return { status: "enrolled", hash };
  } catch (e) {
    // another process of the same device enrolled in between
    if (e instanceof TxError && e.errorName === "FineTuningAlreadyEnrolled")
      return { status: "already" };
    throw new DeviceError(
      "CHAIN",
      `FineTuning.enrol: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`,
      { cause: e },
    );
  }
}
