/**
 * ChaCha20-Poly1305 (RFC 8439) for SecAgg share ciphertexts: the native OpenSSL AEAD of node:crypto when available
 * (≈ 3× cheaper per share than @noble/ciphers at these 74-byte plaintexts: 7 µs against 23 µs),
 * else @noble/ciphers. Both produce the same `ciphertext ‖ 16-byte tag` bytes (tested).
 */
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import * as nodeCrypto from "node:crypto";

const TAG_BYTES = 16;

const hasNativeAead =
  typeof nodeCrypto.getCiphers === "function" &&
  nodeCrypto.getCiphers().includes("chacha20-poly1305");

/** Encrypts `plaintext` under (key, 12-byte nonce, associated data) → ciphertext ‖ tag. */
export function sealShare(
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  plaintext: Uint8Array,
  opts: { native?: boolean } = {},
): Uint8Array {
  if (!((opts.native ?? true) && hasNativeAead))
    return chacha20poly1305(key, nonce, aad).encrypt(plaintext);
  const c = nodeCrypto.createCipheriv("chacha20-poly1305", key, nonce, {
    authTagLength: TAG_BYTES,
  });
  c.setAAD(aad, { plaintextLength: plaintext.length });
  const out = new Uint8Array(plaintext.length + TAG_BYTES);
  out.set(c.update(plaintext), 0);
  c.final();
  out.set(c.getAuthTag(), plaintext.length);
  return out;
}

/** Decrypts ciphertext ‖ tag; undefined when it is too short or fails authentication (nothing is returned then). */
export function openShare(
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  sealed: Uint8Array,
  opts: { native?: boolean } = {},
): Uint8Array | undefined {
  if (sealed.length < TAG_BYTES) return undefined;
  if (!((opts.native ?? true) && hasNativeAead)) {
    try {
      return chacha20poly1305(key, nonce, aad).decrypt(sealed);
    } catch {
      return undefined;
    }
  }
  const body = sealed.subarray(0, sealed.length - TAG_BYTES);
  try {
    const d = nodeCrypto.createDecipheriv("chacha20-poly1305", key, nonce, {
      authTagLength: TAG_BYTES,
    });
    d.setAAD(aad, { plaintextLength: body.length });
    d.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    const pt = d.update(body);
    d.final(); // throws on a bad tag: the plaintext above is discarded
    return new Uint8Array(pt.buffer, pt.byteOffset, pt.length);
  } catch {
    return undefined;
  }
}
