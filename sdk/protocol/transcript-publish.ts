/**
 * The aggregator's side of transcript v2 (PROTOCOL.md §7.4): the session's transcript (every signed message,
 * `sdk/secagg/transcript-v2.ts`) sealed to the job's drawn attestors — their addresses from
 * `ResultAttestation.attestationOf(jobId).attestors` (the `AttestorsDrawn` quorum) and their registered
 * `NodeStaking.encryptionKey` — and published on IPFS; its CID goes into `commitAggregate`. Nobody but the drawn
 * attestors can read it (one content key, wrapped per attestor).
 */
import { getAddress, type Address, type Hex, type PublicClient } from "viem";
import { z } from "zod";
import { nodeStakingAbi } from "#sdk/chain/abi/NodeStaking.ts";
import { Role } from "#sdk/chain/enums.ts";
import type { ContentStore } from "#sdk/ipfs/index.ts";
import {
  encodeTranscriptV2,
  sealTranscript,
  type SealRecipient,
  type SessionTranscript,
} from "#sdk/secagg/index.ts";
import type { AttestorChainReads } from "./attestor-chain.ts";

/** The job's drawn attestors with their registered X25519 keys. */
export async function attestorRecipients(
  chain: AttestorChainReads,
  jobId: bigint,
): Promise<SealRecipient[]> {
  const { attestors } = await chain.attestation(jobId);
  return Promise.all(
    attestors.map(async (a) => ({
      address: getAddress(a),
      x25519PublicKey: await chain.encryptionKey(a),
    })),
  );
}

/** Where the active reporters are read: `NodeStaking.activeCount/activeAt(Role.Reporter)` and `encryptionKey`. */
export interface StakingReads {
  client: Pick<PublicClient, "readContract">;
  nodeStaking: Address;
}

const ZERO_KEY = `0x${"0".repeat(64)}`;
const key32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/) as unknown as z.ZodType<Hex>;

/**
 * The transcript's recipients: the job's drawn attestors (`attestorRecipients`), then every active reporter
 * (`NodeStaking.activeAt(Role.Reporter, i)`) with a registered X25519 key, in address order, each address once.
 * A reporter replays the transcript itself (it derives the report and the payout list from it), so it must be able
 * to open it; an active reporter without a key is skipped (it could not open it anyway).
 */
export async function transcriptRecipients(
  chain: AttestorChainReads,
  staking: StakingReads,
  jobId: bigint,
): Promise<SealRecipient[]> {
  const attestors = await attestorRecipients(chain, jobId);
  const read = (
    functionName: "activeCount" | "activeAt" | "encryptionKey",
    args: readonly unknown[],
  ) =>
    staking.client.readContract({
      address: staking.nodeStaking,
      abi: nodeStakingAbi,
      functionName,
      args,
    } as Parameters<StakingReads["client"]["readContract"]>[0]);
  const count = Number(z.bigint().parse(await read("activeCount", [Role.Reporter])));
  const reporters = await Promise.all(
    Array.from({ length: count }, async (_, i) =>
      getAddress(z.string().parse(await read("activeAt", [Role.Reporter, BigInt(i)]))),
    ),
  );
  const seen = new Set(attestors.map((r) => r.address));
  const extra: SealRecipient[] = [];
  for (const address of [...new Set(reporters)].sort()) {
    if (seen.has(address)) continue;
    const k = key32.parse(await read("encryptionKey", [address]));
    if (k.toLowerCase() === ZERO_KEY) continue;
    extra.push({ address, x25519PublicKey: k });
    seen.add(address);
  }
  return [...attestors, ...extra];
}

/** Encodes, seals to `recipients` and adds the transcript; returns its CID. @throws SealedError, SecAggError */
export async function publishSealedTranscript(
  store: Pick<ContentStore, "addBytes">,
  transcript: SessionTranscript,
  recipients: readonly SealRecipient[],
): Promise<string> {
  const bytes = encodeTranscriptV2(transcript);
  return store.addBytes(sealTranscript(bytes, recipients, transcript.config.sessionId as Hex));
}
