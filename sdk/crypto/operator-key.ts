/**
 * An operator's X25519 key pair (registered as `NodeStaking.encryptionKey`; sealed transcripts are wrapped to it),
 * derived deterministically from its wallet so it never needs storing: the wallet signs the fixed EIP-191 message
 * `OPERATOR_KEY_MESSAGE` (RFC 6979 signatures are deterministic), and the secret is
 * `HKDF-SHA256(ikm = signature, salt = "dml.operator-x25519", info = address)`. Only the wallet's holder can produce
 * the signature, so only it can derive the secret; re-deriving gives the same key on every restart. The demo and the
 * tests derive their attestors' keys this way (docs/attestation-settlement-finetuning.md).
 */
import { x25519 } from "@noble/curves/ed25519.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, getAddress, hexToBytes, type Address, type Hex } from "viem";

export const OPERATOR_KEY_MESSAGE = "DML operator X25519 key, version 1. Sign only for DML.";

export interface OperatorKey {
  /** X25519 secret (32 bytes). */
  secretKey: Uint8Array;
  /** X25519 public key as `NodeStaking.register` / `updateOperator` take it (bytes32). */
  publicKey: Hex;
}

/** Something that signs an EIP-191 message as `address` (a viem account or wallet client). */
export interface MessageSigner {
  address: Address;
  signMessage(message: string): Promise<Hex>;
}

/** The operator key of `signer` (deterministic). */
export async function deriveOperatorKey(signer: MessageSigner): Promise<OperatorKey> {
  const signature = await signer.signMessage(OPERATOR_KEY_MESSAGE);
  const secretKey = hkdf(
    sha256,
    hexToBytes(signature),
    new TextEncoder().encode("dml.operator-x25519"),
    hexToBytes(getAddress(signer.address)),
    32,
  );
  return { secretKey, publicKey: bytesToHex(x25519.getPublicKey(secretKey)) };
}

/** A wallet client (or account) as a `MessageSigner`. */
export function walletSigner(w: {
  account: { address: Address };
  signMessage(args: { account: never; message: string }): Promise<Hex>;
}): MessageSigner {
  return {
    address: w.account.address,
    signMessage: (message) => w.signMessage({ account: w.account as never, message }),
  };
}
