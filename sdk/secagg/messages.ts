/**
 * SecAgg wire messages. Each round's message has a typed body and an EIP-712 signature over
 * (sessionId, round, sender, sha256(canonical payload)). The canonical payload is a fixed binary layout per round
 * (documented below) so the same bytes are hashed whether the message travels in-process or as JSON over HTTP.
 * JSON carries binary fields as base64 and is parsed with zod.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "viem";
import type { Hex, LocalAccount } from "viem";
import { z } from "zod";
import { signSecAggEnvelope, verifySecAggEnvelope } from "../crypto/signing.ts";
import type { SecAggDomain, SecAggEnvelope } from "../crypto/signing.ts";
import { SecAggError } from "./errors.ts";
import { shareDigest } from "./share-digest.ts";

export { shareDigest } from "./share-digest.ts";

export const Round = {
  AdvertiseKeys: 0,
  ShareKeys: 1,
  MaskedInput: 2,
  ConsistencyCheck: 3,
  Unmasking: 4,
} as const;
export type RoundNumber = (typeof Round)[keyof typeof Round];

export const KEY_BYTES = 32;
/** Shamir share of a 32-byte secret: 32 bytes of y values + 1 byte x coordinate. */
export const SHARE_BYTES = 33;
/** Share plaintext: sender u32 BE ‖ receiver u32 BE ‖ share(b_u) ‖ share(s_u^SK). */
export const SHARE_PLAINTEXT_BYTES = 8 + 2 * SHARE_BYTES;
/** ChaCha20-Poly1305 ciphertext of the share plaintext (16-byte tag). */
export const SHARE_CIPHERTEXT_BYTES = SHARE_PLAINTEXT_BYTES + 16;

interface BodyBase {
  sessionId: Hex;
  sender: number;
}
export interface AdvertiseBody extends BodyBase {
  round: 0;
  /** X25519 public key for share encryption (c_u^PK). */
  cPk: Uint8Array;
  /** X25519 public key for pairwise masks (s_u^PK). */
  sPk: Uint8Array;
}
export interface EncryptedShare {
  to: number;
  ciphertext: Uint8Array;
  /**
   * Transcript form only (transcript v2): SHA-256 of the ciphertext, which is then withheld (`ciphertext` empty). The
   * round-1 signature covers `to ‖ sha256(ciphertext)` per share, so it verifies from the digest alone. Only a
   * replaying server (`SecAggServer` with `transcriptReplay`) accepts it; a live server drops a sender that sends it.
   */
  ciphertextDigest?: Uint8Array;
}
export interface ShareKeysBody extends BodyBase {
  round: 1;
  /** sha256("DML-SecAgg/1 b" ‖ sessionId ‖ sender ‖ b_u): lets the server check the reconstructed self-mask seed. */
  selfMaskCommitment: Uint8Array;
  shares: EncryptedShare[];
}
export interface MaskedInputBody extends BodyBase {
  round: 2;
  masked: Uint32Array;
}
export interface RevealedShare {
  /** The client whose secret this share belongs to. */
  of: number;
  share: Uint8Array;
}
/** Round 3 (ConsistencyCheck, Bonawitz et al. 2017): the survivor set U3 the server announced, signed by a survivor. */
export interface ConsistencyBody extends BodyBase {
  round: 3;
  /** U3 in increasing order. */
  survivors: number[];
}
export interface UnmaskBody extends BodyBase {
  round: 4;
  /** Shares of b_v for surviving clients v. */
  selfMaskShares: RevealedShare[];
  /** Shares of s_v^SK for dropped clients v. */
  keyShares: RevealedShare[];
}
export type SecAggBody =
  AdvertiseBody | ShareKeysBody | MaskedInputBody | ConsistencyBody | UnmaskBody;
export interface Signed<B extends SecAggBody = SecAggBody> {
  body: B;
  signature: Hex;
}

/** What the server sends every survivor in round 3: the survivor set U3 to sign. */
export interface ConsistencyRequest {
  sessionId: Hex;
  survivors: number[];
}

/**
 * A round-3 signature in a certificate: the signed body is (sessionId, round 3, sender, U3), and U3 is the request's
 * own survivor set, so only sender and signature travel (O(1) per entry instead of O(n)).
 */
export interface CertificateEntry {
  sender: number;
  signature: Hex;
}

/**
 * What the server sends a client in round 4: U3, the dropped U2 \ U3, and the certificate — the signed round-3
 * messages of the survivors whose signatures the client needs (see consistency.ts).
 */
export interface UnmaskRequest {
  sessionId: Hex;
  survivors: number[];
  dropped: number[];
  certificate: CertificateEntry[];
}

function u32be(out: Uint8Array, off: number, v: number): void {
  out[off] = v >>> 24;
  out[off + 1] = (v >>> 16) & 0xff;
  out[off + 2] = (v >>> 8) & 0xff;
  out[off + 3] = v & 0xff;
}

/**
 * Canonical payload bytes of a body (the part hashed into `payloadHash`). Every variable-size field is length-prefixed
 * (u32 BE), so the encoding is injective over all bodies, malformed ones included: a signed malformed message is a
 * proof of its sender's fault that cannot be re-split into a well-formed one (or the reverse). Never throws.
 *   round 0: len ‖ cPk ‖ len ‖ sPk
 *   round 1: len ‖ selfMaskCommitment ‖ count ‖ (to ‖ sha256(ciphertext))*   (digests, so a transcript that keeps
 *            only the digests still verifies; each entry is 36 bytes, so the layout stays injective)
 *   round 2: the masked vector, u32 little-endian
 *   round 3: count ‖ survivor ids
 *   round 4: count ‖ (of ‖ len ‖ share)* for selfMaskShares, then the same for keyShares
 */
export function canonicalPayload(body: SecAggBody): Uint8Array {
  const parts: (Uint8Array | number)[] = [];
  const bytes = (b: Uint8Array) => parts.push(b.length, b);
  const revealed = (list: RevealedShare[]) => {
    parts.push(list.length);
    for (const sh of list) {
      parts.push(sh.of);
      bytes(sh.share);
    }
  };
  switch (body.round) {
    case 0:
      bytes(body.cPk);
      bytes(body.sPk);
      break;
    case 1:
      bytes(body.selfMaskCommitment);
      parts.push(body.shares.length);
      for (const sh of body.shares) {
        parts.push(sh.to);
        parts.push(shareDigest(sh));
      }
      break;
    case 2:
      return new Uint8Array(body.masked.buffer, body.masked.byteOffset, body.masked.byteLength);
    case 3:
      parts.push(body.survivors.length, ...body.survivors);
      break;
    case 4:
      revealed(body.selfMaskShares);
      revealed(body.keyShares);
      break;
  }
  let len = 0;
  for (const p of parts) len += typeof p === "number" ? 4 : p.length;
  const out = new Uint8Array(len);
  let off = 0;
  for (const p of parts) {
    if (typeof p === "number") {
      u32be(out, off, p >>> 0);
      off += 4;
    } else {
      out.set(p, off);
      off += p.length;
    }
  }
  return out;
}

/** Checks fixed-size fields so that hashing and later processing cannot misbehave on malformed input. */
export function checkShape(body: SecAggBody): void {
  const bad = (msg: string): never => {
    throw new SecAggError("INVALID_MESSAGE", msg);
  };
  switch (body.round) {
    case 0:
      if (body.cPk.length !== KEY_BYTES || body.sPk.length !== KEY_BYTES)
        bad("public keys must be 32 bytes");
      break;
    case 1:
      if (body.selfMaskCommitment.length !== 32) bad("selfMaskCommitment must be 32 bytes");
      for (const s of body.shares) {
        if (s.ciphertextDigest !== undefined) {
          if (s.ciphertextDigest.length !== 32 || s.ciphertext.length !== 0)
            bad(`share to ${s.to}: a 32-byte digest and no ciphertext`);
          continue;
        }
        if (s.ciphertext.length !== SHARE_CIPHERTEXT_BYTES) {
          throw new SecAggError(
            "BAD_SHARE",
            `ciphertext to ${s.to} must be ${SHARE_CIPHERTEXT_BYTES} bytes`,
          );
        }
      }
      break;
    case 2:
      break;
    case 3:
      for (let i = 0; i < body.survivors.length; i++) {
        const id = body.survivors[i]!;
        if (!Number.isInteger(id) || id < 1 || id > 0xffffffff) bad("survivor ids are uint32 > 0");
        if (i > 0 && id <= body.survivors[i - 1]!) bad("survivors must increase");
      }
      break;
    case 4:
      for (const s of [...body.selfMaskShares, ...body.keyShares]) {
        if (s.share.length !== SHARE_BYTES)
          throw new SecAggError("BAD_SHARE", `share of ${s.of} must be 33 bytes`);
      }
      break;
  }
}

export function envelopeOf(body: SecAggBody): SecAggEnvelope {
  return {
    sessionId: body.sessionId,
    round: body.round,
    sender: body.sender,
    payloadHash: bytesToHex(sha256(canonicalPayload(body))),
  };
}

export async function signBody<B extends SecAggBody>(
  account: Pick<LocalAccount, "signTypedData">,
  domain: SecAggDomain,
  body: B,
): Promise<Signed<B>> {
  checkShape(body);
  return { body, signature: await signSecAggEnvelope(account, domain, envelopeOf(body)) };
}

export function verifySigned(
  expected: `0x${string}`,
  domain: SecAggDomain,
  msg: Signed,
): Promise<boolean> {
  return verifySecAggEnvelope(expected, domain, envelopeOf(msg.body), msg.signature);
}

// ---------------------------------------------------------------- JSON codec (HTTP transport, byte accounting)

const b64 = (u: Uint8Array): string =>
  Buffer.from(u.buffer, u.byteOffset, u.byteLength).toString("base64");
const B64 = z
  .string()
  .max(64 * 1024 * 1024)
  .regex(/^[A-Za-z0-9+/]*={0,2}$/, "base64");
const fromB64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "base64"));
const HexBytes32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/) as unknown as z.ZodType<Hex>;
const Sig = z.string().regex(/^0x[0-9a-fA-F]{130}$/) as unknown as z.ZodType<Hex>;
const Id = z.number().int().min(1).max(0xffffffff);

export function toJson(msg: Signed): unknown {
  const b = msg.body;
  const base = { sessionId: b.sessionId, round: b.round, sender: b.sender };
  switch (b.round) {
    case 0:
      return { body: { ...base, cPk: b64(b.cPk), sPk: b64(b.sPk) }, signature: msg.signature };
    case 1:
      return {
        body: {
          ...base,
          selfMaskCommitment: b64(b.selfMaskCommitment),
          // the digest form only exists in transcripts; the wire schema below accepts ciphertexts only
          shares: b.shares.map((s) =>
            s.ciphertextDigest === undefined
              ? { to: s.to, ciphertext: b64(s.ciphertext) }
              : { to: s.to, ciphertext: "", ciphertextDigest: b64(s.ciphertextDigest) },
          ),
        },
        signature: msg.signature,
      };
    case 2:
      return {
        body: {
          ...base,
          masked: b64(new Uint8Array(b.masked.buffer, b.masked.byteOffset, b.masked.byteLength)),
        },
        signature: msg.signature,
      };
    case 3:
      return { body: { ...base, survivors: [...b.survivors] }, signature: msg.signature };
    case 4: {
      const r = (l: RevealedShare[]) => l.map((s) => ({ of: s.of, share: b64(s.share) }));
      return {
        body: { ...base, selfMaskShares: r(b.selfMaskShares), keyShares: r(b.keyShares) },
        signature: msg.signature,
      };
    }
  }
}

const RevealedJson = z.array(z.object({ of: Id, share: B64 })).max(256);
const BaseJson = { sessionId: HexBytes32, sender: Id };
export const SignedJson = z.object({
  signature: Sig,
  body: z.discriminatedUnion("round", [
    z.object({ ...BaseJson, round: z.literal(0), cPk: B64, sPk: B64 }),
    z.object({
      ...BaseJson,
      round: z.literal(1),
      selfMaskCommitment: B64,
      shares: z.array(z.object({ to: Id, ciphertext: B64 })).max(256),
    }),
    z.object({ ...BaseJson, round: z.literal(2), masked: B64 }),
    z.object({ ...BaseJson, round: z.literal(3), survivors: z.array(Id).max(1 << 16) }),
    z.object({
      ...BaseJson,
      round: z.literal(4),
      selfMaskShares: RevealedJson,
      keyShares: RevealedJson,
    }),
  ]),
});

/**
 * Parses a JSON message (untrusted input); throws SecAggError INVALID_MESSAGE when it is not a message at all. Field
 * sizes are not checked here (`checkShape`, after the signature, decides whether the signed sender is at fault).
 */
export function fromJson(input: unknown): Signed {
  const parsed = SignedJson.safeParse(input);
  if (!parsed.success) throw new SecAggError("INVALID_MESSAGE", z.prettifyError(parsed.error));
  const { body: j, signature } = parsed.data;
  const base = { sessionId: j.sessionId.toLowerCase() as Hex, sender: j.sender };
  let body: SecAggBody;
  switch (j.round) {
    case 0:
      body = { ...base, round: 0, cPk: fromB64(j.cPk), sPk: fromB64(j.sPk) };
      break;
    case 1:
      body = {
        ...base,
        round: 1,
        selfMaskCommitment: fromB64(j.selfMaskCommitment),
        shares: j.shares.map((s) => ({ to: s.to, ciphertext: fromB64(s.ciphertext) })),
      };
      break;
    case 2: {
      const raw = fromB64(j.masked);
      if (raw.length % 4 !== 0)
        throw new SecAggError("WRONG_LENGTH", "masked vector byte length not a multiple of 4");
      body = {
        ...base,
        round: 2,
        masked: new Uint32Array(raw.buffer, raw.byteOffset, raw.length / 4),
      };
      break;
    }
    case 3:
      body = { ...base, round: 3, survivors: j.survivors };
      break;
    case 4: {
      const r = (l: { of: number; share: string }[]) =>
        l.map((s) => ({ of: s.of, share: fromB64(s.share) }));
      body = { ...base, round: 4, selfMaskShares: r(j.selfMaskShares), keyShares: r(j.keyShares) };
      break;
    }
  }
  // shapes are checked by the receiver after the signature (server.ts), so a signed malformed message is attributable
  return { body, signature };
}

/** Serialised JSON size in bytes (used for byte accounting in benches). */
export function wireSize(msg: Signed): number {
  return Buffer.byteLength(JSON.stringify(toJson(msg)));
}
