/**
 * An attestor's two transactions on `ResultAttestation` (PROTOCOL.md §7.4): commit `memberCommitment(value, salt,
 * attestor)` while the commit window is open, reveal `(value, salt)` once it closed (or every attestor committed).
 * The salt is random unless given; keep the returned vote until the reveal.
 */
import { randomBytes } from "node:crypto";
import { bytesToHex, getAddress, type Address, type Hex } from "viem";
import { resultAttestationAbi } from "#sdk/chain/abi/index.ts";
import { memberCommitment } from "#sdk/chain/commitments.ts";

export interface VoteIo {
  resultAttestation: Address;
  wallet: {
    account: { address: Address };
    writeContract(args: never): Promise<Hex>;
  };
  publicClient: {
    waitForTransactionReceipt(args: { hash: Hex }): Promise<{ status: "success" | "reverted" }>;
  };
}

export interface Vote {
  jobId: bigint;
  value: Hex;
  salt: Hex;
  commitment: Hex;
}

export class VoteError extends Error {
  readonly code = "TX_REVERTED";
  constructor(message: string) {
    super(`TX_REVERTED: ${message}`);
    this.name = "VoteError";
  }
}

async function send(io: VoteIo, functionName: string, args: readonly unknown[]): Promise<void> {
  const hash = await io.wallet.writeContract({
    account: io.wallet.account,
    address: io.resultAttestation,
    abi: resultAttestationAbi,
    functionName,
    args,
  } as never);
  const receipt = await io.publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success")
    throw new VoteError(`ResultAttestation.${functionName} reverted (${hash})`);
}

/** Commits `value` for `jobId`. @throws VoteError */
export async function commitVote(io: VoteIo, jobId: bigint, value: Hex, salt?: Hex): Promise<Vote> {
  const s = salt ?? bytesToHex(randomBytes(32));
  const commitment = memberCommitment(value, s, getAddress(io.wallet.account.address));
  await send(io, "commitAttestation", [jobId, commitment]);
  return { jobId, value, salt: s, commitment };
}

/** Reveals a committed vote. @throws VoteError */
export async function revealVote(io: VoteIo, vote: Vote): Promise<void> {
  await send(io, "revealAttestation", [vote.jobId, vote.value, vote.salt]);
}

/**
 * Commits, waits for the reveal phase (`untilReveal`: e.g. until the commit deadline passed), reveals.
 * @throws VoteError
 */
export async function commitAndReveal(
  io: VoteIo,
  jobId: bigint,
  value: Hex,
  untilReveal: () => Promise<void>,
  salt?: Hex,
): Promise<Vote> {
  const vote = await commitVote(io, jobId, value, salt);
  await untilReveal();
  await revealVote(io, vote);
  return vote;
}
