/**
 * Job reports for the customer (PROTOCOL.md §4 step 7): the reporter encrypts the report to the secp256k1 key the
 * customer gave in `createJob` (ECIES, `eciesjs`), publishes the ciphertext on IPFS and posts
 * `keccak256(ciphertext)` as the report's public commitment in `Settlement.report`. Anyone can check that the published
 * bytes are the committed ones; only the customer can read them.
 */
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { decrypt, encrypt } from "eciesjs";
import { bytesToHex, hexToBytes, keccak256, type Hex } from "viem";

export class ReportError extends Error {
  readonly code: "BAD_KEY" | "COMMITMENT_MISMATCH" | "UNDECRYPTABLE";
  constructor(
    code: "BAD_KEY" | "COMMITMENT_MISMATCH" | "UNDECRYPTABLE",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.code = code;
    this.name = "ReportError";
  }
}

/** A customer's report key pair; `publicKey` is the 33-byte compressed key `createJob` takes. */
export function reportKeyPair(): { secretKey: Uint8Array; publicKey: Hex } {
  const secretKey = secp256k1.utils.randomSecretKey();
  return { secretKey, publicKey: bytesToHex(secp256k1.getPublicKey(secretKey, true)) };
}

/** Encrypts `report` (JSON) to `publicKey`; returns the ciphertext and its commitment. */
export function encryptReport(
  publicKey: Hex,
  report: unknown,
): { ciphertext: Uint8Array; commitment: Hex } {
  let ciphertext: Uint8Array;
  try {
    ciphertext = encrypt(hexToBytes(publicKey), new TextEncoder().encode(JSON.stringify(report)));
  } catch (e) {
    throw new ReportError("BAD_KEY", `not a secp256k1 public key: ${publicKey}`, { cause: e });
  }
  return { ciphertext, commitment: keccak256(ciphertext) };
}

/** Checks the ciphertext against the on-chain commitment, then decrypts it with the customer's key. */
export function decryptReport(
  secretKey: Uint8Array,
  ciphertext: Uint8Array,
  commitment: Hex,
): unknown {
  if (keccak256(ciphertext) !== commitment.toLowerCase())
    throw new ReportError("COMMITMENT_MISMATCH", "the report bytes are not the committed ones");
  try {
    return JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(decrypt(secretKey, ciphertext)),
    );
  } catch (e) {
    throw new ReportError("UNDECRYPTABLE", "the report does not decrypt with this key", {
      cause: e,
    });
  }
}
