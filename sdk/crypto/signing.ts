/**
 * Signing helpers for SecAgg messages (PROTOCOL.md §3). A message is reduced to a fixed EIP-712 typed struct that
 * carries the hash of its canonical payload, so the same typed-data schema signs payloads of any size (a
 * 100,000-element masked vector is hashed once, not ABI-encoded). The 32-byte EIP-712 digest is signed with the
 * device's Ed25519 session key (session-key.ts), registered on chain: verification needs no public-key recovery.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import { keccak256Bytes } from "./keccak.ts";
import type { KeyObject } from "node:crypto";
import { hashTypedData, hexToBytes, isHex, zeroAddress } from "viem";
import type { Address, Hex } from "viem";
import { verifySessionSignature } from "./session-key.ts";
import type { SessionSigner } from "./session-key.ts";

/** EIP-712 domain of SecAgg messages: name "DML SecAgg", version "3", the chain and the JobMarket (or zero address). */
export interface SecAggDomain {
  chainId: number;
  verifyingContract: Address;
}

export const SECAGG_DOMAIN_NAME = "DML SecAgg";
/**
 * "3": messages are signed with the registered Ed25519 session key (64-byte signatures) instead of the secp256k1 device
 * key, and round 1's payload hash covers `to ‖ sha256(ciphertext)` per share (transcript v2 keeps only the digests).
 * "2" added the ConsistencyCheck round (3) and moved unmasking to round 4.
 */
export const SECAGG_DOMAIN_VERSION = "3";

/** The signed struct: session, round, sender id and the SHA-256 of the round's canonical payload encoding. */
export const SECAGG_TYPES = {
  SecAggMessage: [
    { name: "sessionId", type: "bytes32" },
    { name: "round", type: "uint8" },
    { name: "sender", type: "uint32" },
    { name: "payloadHash", type: "bytes32" },
  ],
} as const;

export interface SecAggEnvelope {
  sessionId: Hex;
  round: number;
  sender: number;
  payloadHash: Hex;
}

function typedData(domain: SecAggDomain, envelope: SecAggEnvelope) {
  return {
    domain: {
      name: SECAGG_DOMAIN_NAME,
      version: SECAGG_DOMAIN_VERSION,
      chainId: domain.chainId,
      verifyingContract: domain.verifyingContract ?? zeroAddress,
    },
    types: SECAGG_TYPES,
    primaryType: "SecAggMessage" as const,
    message: envelope,
  };
}

/** EIP-712 digest of a SecAgg envelope via viem (the reference `secAggDigestBytes` is tested against). */
export function secAggDigest(domain: SecAggDomain, envelope: SecAggEnvelope): Hex {
  return hashTypedData(typedData(domain, envelope));
}

const enc = new TextEncoder();
const TYPE_HASH = keccak_256(
  enc.encode("SecAggMessage(bytes32 sessionId,uint8 round,uint32 sender,bytes32 payloadHash)"),
);
const DOMAIN_TYPE_HASH = keccak_256(
  enc.encode("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
);
const separators = new Map<string, Uint8Array>();

function word(out: Uint8Array, slot: number, value: bigint): void {
  for (let i = 31; i >= 0; i--) {
    out[slot * 32 + i] = Number(value & 0xffn);
    value >>= 8n;
  }
}

/** The EIP-712 domain separator, computed once per (chainId, verifyingContract). */
function domainSeparator(domain: SecAggDomain): Uint8Array {
  const key = `${domain.chainId}:${domain.verifyingContract.toLowerCase()}`;
  let sep = separators.get(key);
  if (sep === undefined) {
    const buf = new Uint8Array(5 * 32);
    buf.set(DOMAIN_TYPE_HASH, 0);
    buf.set(keccak_256(enc.encode(SECAGG_DOMAIN_NAME)), 32);
    buf.set(keccak_256(enc.encode(SECAGG_DOMAIN_VERSION)), 64);
    word(buf, 3, BigInt(domain.chainId));
    buf.set(hexToBytes(domain.verifyingContract), 4 * 32 + 12);
    sep = keccak_256(buf);
    separators.set(key, sep);
  }
  return sep;
}

/**
 * The same EIP-712 digest as `secAggDigest`, as bytes, with the domain separator and type hash precomputed (two
 * keccak-256 of 160 and 66 bytes per message instead of viem's generic typed-data encoder).
 * @throws Error when the envelope's fields are out of range (callers validate them first).
 */
export function secAggDigestBytes(domain: SecAggDomain, envelope: SecAggEnvelope): Uint8Array {
  if (!isHex(envelope.sessionId) || envelope.sessionId.length !== 66) throw new Error("sessionId");
  if (!isHex(envelope.payloadHash) || envelope.payloadHash.length !== 66)
    throw new Error("payloadHash");
  const struct = new Uint8Array(5 * 32);
  struct.set(TYPE_HASH, 0);
  struct.set(hexToBytes(envelope.sessionId), 32);
  word(struct, 2, BigInt(envelope.round & 0xff));
  word(struct, 3, BigInt(envelope.sender >>> 0));
  struct.set(hexToBytes(envelope.payloadHash), 128);
  const out = new Uint8Array(66);
  out[0] = 0x19;
  out[1] = 0x01;
  out.set(domainSeparator(domain), 2);
  out.set(keccak256Bytes(struct), 34);
  return keccak256Bytes(out);
}

/** Signs an envelope's EIP-712 digest with the device's Ed25519 session key. */
export function signSecAggEnvelope(
  signer: Pick<SessionSigner, "sign">,
  domain: SecAggDomain,
  envelope: SecAggEnvelope,
): Hex {
  return signer.sign(secAggDigestBytes(domain, envelope));
}

/**
 * True when `signature` is the session key `key`'s signature of the envelope's digest. Never throws: malformed
 * signatures or envelopes are just invalid.
 */
export function verifySecAggEnvelope(
  key: KeyObject,
  domain: SecAggDomain,
  envelope: SecAggEnvelope,
  signature: Hex,
): boolean {
  try {
    if (!isHex(signature) || signature.length !== 130) return false;
    return verifySessionSignature(key, secAggDigestBytes(domain, envelope), hexToBytes(signature));
  } catch {
    return false;
  }
}
