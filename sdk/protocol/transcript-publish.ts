/**
 * The aggregator's side of transcript v2 (PROTOCOL.md §7.4): the session's transcript (every signed message,
 * `sdk/secagg/transcript-v2.ts`) sealed to the job's drawn attestors — their addresses from
 * `ResultAttestation.attestationOf(jobId).attestors` (the `AttestorsDrawn` quorum) and their registered
 * `NodeStaking.encryptionKey` — and published on IPFS; its CID goes into `commitAggregate`. Nobody but the drawn
 * attestors can read it (one content key, wrapped per attestor).
 */
import { getAddress, type Hex } from "viem";
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

/** Encodes, seals to `recipients` and adds the transcript; returns its CID. @throws SealedError, SecAggError */
export async function publishSealedTranscript(
  store: Pick<ContentStore, "addBytes">,
  transcript: SessionTranscript,
  recipients: readonly SealRecipient[],
): Promise<string> {
  const bytes = encodeTranscriptV2(transcript);
  return store.addBytes(sealTranscript(bytes, recipients, transcript.config.sessionId as Hex));
}
