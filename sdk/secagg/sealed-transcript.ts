/**
 * Transcript v2 sealed to the drawn attestors (sdk/crypto/sealed.ts): the envelope's context is
 * "DML-SecAgg transcript v2" ‖ sessionId, authenticated in every recipient's wrapped key and in the content, so an
 * envelope of one session cannot be passed off as another's. Recipients are the attestors' operators with their
 * registered `NodeStaking.encryptionKey` (bytes32 X25519).
 */
import { hexToBytes } from "viem";
import type { Hex } from "viem";
import { openSealed, sealBytes } from "../crypto/sealed.ts";
import type { SealOpener, SealRecipient } from "../crypto/sealed.ts";

const TAG = new TextEncoder().encode("DML-SecAgg transcript v2");

/** The sealed-envelope context of a session's transcript. */
export function transcriptContext(sessionId: Hex): Uint8Array {
  const id = hexToBytes(sessionId);
  const out = new Uint8Array(TAG.length + id.length);
  out.set(TAG);
  out.set(id, TAG.length);
  return out;
}

/** Seals encoded transcript bytes to `recipients` for session `sessionId`. @throws SealedError */
export function sealTranscript(
  bytes: Uint8Array,
  recipients: readonly SealRecipient[],
  sessionId: Hex,
): Uint8Array {
  return sealBytes(bytes, recipients, transcriptContext(sessionId));
}

/**
 * Opens a sealed transcript as `me`, checking it was sealed for `sessionId`.
 * @throws SealedError NOT_A_RECIPIENT, UNDECRYPTABLE, WRONG_CONTEXT, TOO_LARGE, TRUNCATED, INVALID_ENVELOPE
 */
export function openSealedTranscript(
  envelope: Uint8Array,
  me: SealOpener,
  sessionId: Hex,
): Uint8Array {
  return openSealed(envelope, me, { expectedContext: transcriptContext(sessionId) });
}
