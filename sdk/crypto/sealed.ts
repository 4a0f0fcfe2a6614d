/**
 * Sealed envelopes: any bytes encrypted once under a random content key, the key wrapped for each recipient's X25519
 * public key (e.g. `NodeStaking.encryptionKey(operator)`, the bytes32 key registered with the stake). Only a listed
 * recipient opens it. Used for SecAgg transcript v2, sealed to the drawn attestors (docs/secagg.md).
 *
 *   content:   k ← random 32 bytes; ChaCha20-Poly1305(k, nonce ← random 12 bytes, AD = "DML-sealed/1 content" ‖
 *              u32 len ‖ context) over the plaintext (encrypted once, whatever the number of recipients)
 *   per recipient (address A, X25519 key P): e ← random X25519 key; z = X25519(e, P);
 *              kek = HKDF-SHA256(ikm z, salt E ‖ P, info "DML-sealed/1 wrap"); wrapped = ChaCha20-Poly1305(kek,
 *              zero nonce (kek is single-use), AD = "DML-sealed/1 wrap" ‖ A ‖ E ‖ P ‖ u32 len ‖ context)(k)
 *   envelope:  "DMLS" ‖ u8 version (1) ‖ u32 len ‖ context ‖ sha256("DML-sealed/1 key" ‖ k) ‖ u32 count ‖ (A[20] ‖ P[32] ‖ E[32] ‖ wrapped[48])* ‖
 *              nonce[12] ‖ content ciphertext (plaintext + 16-byte tag)
 *
 * The context (e.g. the SecAgg session id) and the recipient's address are authenticated in every wrap, so a wrapped
 * key cannot be moved to another recipient entry or another envelope's context. The commitment to k makes the
 * envelope key-committing: every recipient that opens it reads the same plaintext. Primitives from @noble (x25519,
 * chacha20poly1305, hkdf); nothing hand-written.
 */
import { randomBytes } from "node:crypto";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { x25519 } from "@noble/curves/ed25519.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { getAddress, hexToBytes, isAddress, isHex } from "viem";
import type { Address, Hex } from "viem";
import { ByteReader, ByteWriter } from "./byte-codec.ts";

export type SealedErrorCode =
  | "NOT_A_RECIPIENT"
  | "UNDECRYPTABLE"
  | "INVALID_RECIPIENT"
  | "INVALID_ENVELOPE"
  | "WRONG_CONTEXT"
  | "TOO_LARGE"
  | "TRUNCATED";

export class SealedError extends Error {
  readonly code: SealedErrorCode;
  constructor(code: SealedErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = "SealedError";
    this.code = code;
  }
}

export interface SealRecipient {
  address: Address;
  /** X25519 public key, 32 bytes hex (the operator's registered encryption key). */
  x25519PublicKey: Hex;
}

export interface SealOpener {
  address: Address;
  /** X25519 secret key, 32 bytes. */
  x25519SecretKey: Hex | Uint8Array;
}

export const SEALED_VERSION = 1;
/** Largest envelope opened by default (bytes), refused before parsing: 512 MiB of content plus headroom. */
export const MAX_SEALED_BYTES = 528 * 1024 * 1024;
export const MAX_RECIPIENTS = 4096;
export const MAX_CONTEXT_BYTES = 1024;

const MAGIC = new TextEncoder().encode("DMLS");
const ENTRY_BYTES = 20 + 32 + 32 + 48;
const enc = (s: string) => new TextEncoder().encode(s);
const CONTENT_TAG = enc("DML-sealed/1 content");
const WRAP_TAG = enc("DML-sealed/1 wrap");
const KEY_TAG = enc("DML-sealed/1 key");

function concat(...parts: Uint8Array[]): Uint8Array {
  const w = new ByteWriter();
  for (const p of parts) w.raw(p);
  return w.finish();
}

const u32 = (n: number) => new ByteWriter().u32(n).finish();
const contentAd = (context: Uint8Array) => concat(CONTENT_TAG, u32(context.length), context);
const wrapAd = (address: Uint8Array, e: Uint8Array, p: Uint8Array, context: Uint8Array) =>
  concat(WRAP_TAG, address, e, p, u32(context.length), context);
/**
 * sha256(tag ‖ k): ChaCha20-Poly1305 is not key-committing, so without it a sealer could wrap different keys for
 * different recipients under one ciphertext that decrypts to different plaintexts ("invisible salamanders"); with it,
 * every recipient that opens has the same key, hence the same plaintext.
 */
const keyCommitment = (k: Uint8Array) => sha256(concat(KEY_TAG, k));
const kekOf = (z: Uint8Array, e: Uint8Array, p: Uint8Array) =>
  hkdf(sha256, z, concat(e, p), WRAP_TAG, 32);

function recipientKey(r: SealRecipient): Uint8Array {
  if (!isHex(r.x25519PublicKey) || r.x25519PublicKey.length !== 66)
    throw new SealedError("INVALID_RECIPIENT", `key of ${r.address} is not 32 bytes hex`);
  return hexToBytes(r.x25519PublicKey);
}

/**
 * Seals `plaintext` to `recipients` under `context` (≤ 1 KiB, authenticated, readable by anyone).
 * @throws SealedError INVALID_RECIPIENT (bad address or key, duplicate address, low-order key), TOO_LARGE
 */
export function sealBytes(
  plaintext: Uint8Array,
  recipients: readonly SealRecipient[],
  context: Uint8Array,
): Uint8Array {
  if (recipients.length < 1 || recipients.length > MAX_RECIPIENTS)
    throw new SealedError(
      "INVALID_RECIPIENT",
      `1 to ${MAX_RECIPIENTS} recipients, got ${recipients.length}`,
    );
  if (context.length > MAX_CONTEXT_BYTES)
    throw new SealedError("TOO_LARGE", `context of ${context.length} bytes > ${MAX_CONTEXT_BYTES}`);
  const overhead = 4 + 1 + 4 + context.length + 4 + recipients.length * ENTRY_BYTES + 12 + 16;
  if (plaintext.length + overhead > MAX_SEALED_BYTES)
    throw new SealedError("TOO_LARGE", `${plaintext.length} bytes of content`);
  const contentKey = new Uint8Array(randomBytes(32));
  const w = new ByteWriter()
    .raw(MAGIC)
    .u8(SEALED_VERSION)
    .bytes(context)
    .raw(keyCommitment(contentKey))
    .u32(recipients.length);
  const seen = new Set<string>();
  for (const r of recipients) {
    if (!isAddress(r.address, { strict: false }))
      throw new SealedError("INVALID_RECIPIENT", `invalid address ${r.address}`);
    const address = getAddress(r.address);
    if (seen.has(address)) throw new SealedError("INVALID_RECIPIENT", `${address} listed twice`);
    seen.add(address);
    const p = recipientKey(r);
    const eSk = x25519.utils.randomSecretKey();
    const e = x25519.getPublicKey(eSk);
    let z: Uint8Array;
    try {
      z = x25519.getSharedSecret(eSk, p);
    } catch (err) {
      throw new SealedError("INVALID_RECIPIENT", `key of ${address}: ${(err as Error).message}`);
    }
    const a = hexToBytes(address);
    const wrapped = chacha20poly1305(
      kekOf(z, e, p),
      new Uint8Array(12),
      wrapAd(a, e, p, context),
    ).encrypt(contentKey);
    w.raw(a).raw(p).raw(e).raw(wrapped);
  }
  const nonce = new Uint8Array(randomBytes(12));
  w.raw(nonce).raw(chacha20poly1305(contentKey, nonce, contentAd(context)).encrypt(plaintext));
  contentKey.fill(0);
  return w.finish();
}

interface ParsedEnvelope {
  context: Uint8Array;
  commitment: Uint8Array;
  entries: { address: Uint8Array; p: Uint8Array; e: Uint8Array; wrapped: Uint8Array }[];
  nonce: Uint8Array;
  ciphertext: Uint8Array;
}

function parse(envelope: Uint8Array, maxBytes: number): ParsedEnvelope {
  if (envelope.length > maxBytes)
    throw new SealedError("TOO_LARGE", `envelope of ${envelope.length} bytes > ${maxBytes}`);
  const r = new ByteReader(
    envelope,
    (what) => new SealedError("TRUNCATED", `envelope ends inside ${what}`),
  );
  const magic = r.raw(4, "magic");
  if (!magic.every((x, i) => x === MAGIC[i]))
    throw new SealedError("INVALID_ENVELOPE", "not a sealed envelope");
  const version = r.u8("version");
  if (version !== SEALED_VERSION) throw new SealedError("INVALID_ENVELOPE", `version ${version}`);
  const contextLen = r.u32("context length");
  if (contextLen > MAX_CONTEXT_BYTES)
    throw new SealedError("INVALID_ENVELOPE", `context of ${contextLen} bytes`);
  const context = r.raw(contextLen, "context");
  const commitment = r.raw(32, "key commitment");
  const n = r.count("recipients", ENTRY_BYTES);
  if (n < 1 || n > MAX_RECIPIENTS) throw new SealedError("INVALID_ENVELOPE", `${n} recipients`);
  const entries: ParsedEnvelope["entries"] = [];
  for (let i = 0; i < n; i++) {
    entries.push({
      address: r.raw(20, "recipient"),
      p: r.raw(32, "recipient"),
      e: r.raw(32, "recipient"),
      wrapped: r.raw(48, "recipient"),
    });
  }
  const nonce = r.raw(12, "nonce");
  r.need(16, "content tag");
  return { context, commitment, entries, nonce, ciphertext: r.raw(r.remaining, "content") };
}

/** The envelope's context (authenticated only once opened). @throws SealedError on a malformed envelope */
export function sealedContext(envelope: Uint8Array, maxBytes = MAX_SEALED_BYTES): Uint8Array {
  return parse(envelope, maxBytes).context.slice();
}

/** The envelope's recipient addresses (checksummed), in order. @throws SealedError on a malformed envelope */
export function sealedRecipients(envelope: Uint8Array, maxBytes = MAX_SEALED_BYTES): Address[] {
  return parse(envelope, maxBytes).entries.map((x) =>
    getAddress(`0x${Buffer.from(x.address).toString("hex")}`),
  );
}

/**
 * Opens an envelope as recipient `me`; when `expectedContext` is given the envelope's context must equal it.
 * @throws SealedError TOO_LARGE, TRUNCATED, INVALID_ENVELOPE, WRONG_CONTEXT, NOT_A_RECIPIENT (no entry for
 *   `me.address`), UNDECRYPTABLE (the entry or the content does not decrypt with `me`'s key: another key, or a byte
 *   changed)
 */
export function openSealed(
  envelope: Uint8Array,
  me: SealOpener,
  opts: { expectedContext?: Uint8Array; maxBytes?: number } = {},
): Uint8Array {
  const env = parse(envelope, opts.maxBytes ?? MAX_SEALED_BYTES);
  const ctx = opts.expectedContext;
  if (
    ctx !== undefined &&
    (ctx.length !== env.context.length || !ctx.every((x, i) => x === env.context[i]))
  )
    throw new SealedError("WRONG_CONTEXT", "envelope sealed for another context");
  if (!isAddress(me.address, { strict: false }))
    throw new SealedError("NOT_A_RECIPIENT", `invalid address ${me.address}`);
  const a = hexToBytes(getAddress(me.address));
  const entry = env.entries.find((x) => x.address.every((b, i) => b === a[i]));
  if (entry === undefined)
    throw new SealedError("NOT_A_RECIPIENT", `${me.address} is not a recipient`);
  const sk =
    typeof me.x25519SecretKey === "string" ? hexToBytes(me.x25519SecretKey) : me.x25519SecretKey;
  let contentKey: Uint8Array;
  try {
    if (sk.length !== 32) throw new Error("secret key must be 32 bytes");
    const p = x25519.getPublicKey(sk);
    const z = x25519.getSharedSecret(sk, entry.e);
    contentKey = chacha20poly1305(
      kekOf(z, entry.e, p),
      new Uint8Array(12),
      wrapAd(a, entry.e, p, env.context),
    ).decrypt(entry.wrapped);
  } catch (e) {
    throw new SealedError("UNDECRYPTABLE", `content key does not unwrap: ${(e as Error).message}`);
  }
  try {
    const c = keyCommitment(contentKey);
    if (!c.every((x, i) => x === env.commitment[i]))
      throw new Error("content key does not match its commitment");
    return chacha20poly1305(contentKey, env.nonce, contentAd(env.context)).decrypt(env.ciphertext);
  } catch (e) {
    throw new SealedError("UNDECRYPTABLE", `content does not decrypt: ${(e as Error).message}`);
  } finally {
    contentKey.fill(0);
  }
}
