/** The digest of a round-1 share that its sender's signature covers (messages.ts `canonicalPayload`). */
import { sha256 } from "../crypto/sha256.ts";
import type { EncryptedShare } from "./messages.ts";

/** SHA-256 of `data` (short inputs in WebAssembly, long ones natively: sdk/crypto/sha256.ts). */
export const sha256Bytes = sha256;

/** SHA-256 of a share's ciphertext (the recorded digest when the share is in transcript form). */
export function shareDigest(sh: EncryptedShare): Uint8Array {
  const d = sh.ciphertextDigest;
  if (d === undefined) return sha256Bytes(sh.ciphertext);
  // a malformed digest still hashes to a fixed 32 bytes, so the payload layout stays injective
  return d.length === 32 ? d : sha256Bytes(d);
}
