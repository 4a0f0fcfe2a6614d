/**
 * An attestor's two transactions on `ResultAttestation` (PROTOCOL.md §7.4): commit `memberCommitment(value, salt,
 * attestor)` while the commit window is open, reveal `(value, salt)` once it closed (or every attestor committed).
 * The salt is random unless given; keep the returned vote until the reveal.
 */
import { randomBytes } from "node:crypto";
import { bytesToHex, getAddress, type Abi, type Address, type Hex } from "viem";
import { resultAttestationAbi } from "#sdk/chain/abi/index.ts";
import type { ChainPublicClient, ChainWalletClient } from "#sdk/chain/clients.ts";
import { memberCommitment } from "#sdk/chain/commitments.ts";
import { TxSender } from "#sdk/chain/tx-sender.ts";

export interface VoteIo {
  resultAttestation: Address;
  wallet: ChainWalletClient;
  publicClient: ChainPublicClient;
}

export interface Vote {
  jobId: bigint;
  value: Hex;
  salt: Hex;
  commitment: Hex;
}

/** Sends through the signer's TxSender: simulated first, a revert is a TxError naming the custom error. */
async function send(
  io: VoteIo,
  functionName: "commitAttestation" | "revealAttestation",
  args: readonly [bigint, Hex] | readonly [bigint, Hex, Hex],
): Promise<void> {
  const sender = await TxSender.create({ publicClient: io.publicClient, walletClient: io.wallet });
  await sender.send({
    address: io.resultAttestation,
    abi: resultAttestationAbi as Abi,
    functionName,
    args,
  });
}

/** Commits `value` for `jobId`. @throws TxError */
export async function commitVote(io: VoteIo, jobId: bigint, value: Hex, salt?: Hex): Promise<Vote> {
  const s = salt ?? bytesToHex(randomBytes(32));
  const commitment = memberCommitment(value, s, getAddress(io.wallet.account.address));
  await send(io, "commitAttestation", [jobId, commitment]);
  return { jobId, value, salt: s, commitment };
}

/** Reveals a committed vote. @throws TxError */
export async function revealVote(io: VoteIo, vote: Vote): Promise<void> {
  await send(io, "revealAttestation", [vote.jobId, vote.value, vote.salt]);
}

/**
 * Commits, waits for the reveal phase (`untilReveal`: e.g. until the commit deadline passed), reveals.
 * @throws TxError
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
