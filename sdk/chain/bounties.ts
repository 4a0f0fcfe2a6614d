/**
 * Fine-tuning bounties as the chain holds them (`FineTuning.getBounty`): what anyone reads without the poster's
 * secrets or the ML stack (the poster's side, which needs both, is sdk/protocol/bounty.ts), and the bounty errors.
 */
import { getAddress, type Address, type Hex } from "viem";
import { fineTuningAbi } from "./abi/FineTuning.ts";
import type { ChainPublicClient } from "./clients.ts";
import { BountyStatus } from "./finetuning.ts";

export type BountyErrorCode =
  /** The splits given do not open the bounty's on-chain `splitRoot`. */
  | "SPLIT_ROOT_MISMATCH"
  /** The split's bytes published at reveal do not have the committed CID. */
  | "SPLIT_CID_MISMATCH"
  /** The secrets have no split for the round, or the input is inconsistent (no splits, labels differ). */
  | "BOUNTY_INPUT_INVALID"
  /** `createBounty`'s receipt has no `BountyCreated` event. */
  | "BOUNTY_NOT_CREATED"
  /** No bounty has the id. */
  | "UNKNOWN_BOUNTY";

export class BountyError extends Error {
  readonly code: BountyErrorCode;
  constructor(code: BountyErrorCode, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.name = "BountyError";
    this.code = code;
  }
}

/** What anyone reads about a bounty: poster, status, pool, rounds, trainers. */
export interface BountyInfo {
  id: bigint;
  poster: Address;
  status: "None" | "Active" | "Finalized";
  algorithmId: bigint;
  currentAlgorithmId: bigint;
  rounds: number;
  currentRound: number;
  rewardPool: bigint;
  reserved: bigint;
  refunded: bigint;
  trainerCount: number;
  minGainBps: number;
  groupSize: number;
  roundDuration: number;
  controlCid: string;
  splitRoot: Hex;
  acceptedMetric: bigint;
}

/** Bounty `id`. @throws BountyError UNKNOWN_BOUNTY */
export async function bountyInfo(
  client: ChainPublicClient,
  fineTuning: Address,
  id: bigint,
): Promise<BountyInfo> {
  const count = await client.readContract({
    address: fineTuning,
    abi: fineTuningAbi,
    functionName: "bountyCount",
  });
  if (id < 1n || id > count)
    throw new BountyError(
      "UNKNOWN_BOUNTY",
      `no bounty ${id} (FineTuning has ${count === 0n ? "none" : `bounties 1..${count}`})`,
    );
  const b = await client.readContract({
    address: fineTuning,
    abi: fineTuningAbi,
    functionName: "getBounty",
    args: [id],
  });
  const statusName = (Object.keys(BountyStatus) as BountyInfo["status"][])[b.status] ?? "None";
  return {
    id,
    poster: getAddress(b.poster),
    status: statusName,
    algorithmId: b.baseAlgorithmId,
    currentAlgorithmId: b.currentAlgorithmId,
    rounds: b.rounds,
    currentRound: b.currentRound,
    rewardPool: b.rewardPool,
    reserved: b.reserved,
    refunded: b.refunded,
    trainerCount: b.trainerCount,
    minGainBps: b.minGainBps,
    groupSize: b.groupSize,
    roundDuration: b.roundDuration,
    controlCid: b.controlCid,
    splitRoot: b.splitRoot,
    acceptedMetric: b.acceptedMetric,
  };
}
