/**
 * Session signing keys (docs/secagg.md "Signatures"). Every device has an Ed25519 key that signs its SecAgg messages,
 * derived deterministically from its device (secp256k1) private key, so the keystore format does not change:
 *
 *   seed = HKDF-SHA256(ikm = device private key (32 bytes), salt = "DML session key", info = SESSION_KEY_INFO, 32)
 *
 * and registered once per registration in `DeviceRegistry.setSessionKey(bytes32 publicKey)`. Verifiers read the
 * cohort's keys from the chain (`sessionKeysOf`) and verify with node:crypto's native Ed25519 (≈ 0.1 ms, against
 * ≈ 2.4 ms for an EIP-712 recovery): there is no public-key recovery anywhere on the hot path. Keys are node:crypto
 * `KeyObject`s built once per roster member.
 */
import * as nodeCrypto from "node:crypto";
import type { KeyObject } from "node:crypto";
import { bytesToHex, hexToBytes, isHex } from "viem";
import type { Address, Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { PrivateKeyAccount } from "viem/accounts";

/** HKDF info of the derivation; bump the version to rotate every device's key (needs a re-registration). */
export const SESSION_KEY_INFO = "DML-SecAgg session signing key v1 (Ed25519)";
const SESSION_KEY_SALT = "DML session key";
/** An unset key in `DeviceRegistry` (the device cannot sign SecAgg messages). */
export const NO_SESSION_KEY: Hex = `0x${"00".repeat(32)}`;

const PKCS8_ED25519 = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_ED25519 = Buffer.from("302a300506032b6570032100", "hex");

export class SessionKeyError extends Error {
  readonly code: "INVALID_PRIVATE_KEY" | "INVALID_SESSION_KEY";
  constructor(code: SessionKeyError["code"], message: string) {
    super(`${code}: ${message}`);
    this.name = "SessionKeyError";
    this.code = code;
  }
}

/** The 32-byte Ed25519 seed of a device's session key. */
export function sessionKeySeed(devicePrivateKey: Hex): Uint8Array {
  if (!isHex(devicePrivateKey) || devicePrivateKey.length !== 66)
    throw new SessionKeyError("INVALID_PRIVATE_KEY", "the device key must be 32 bytes of 0x-hex");
  return new Uint8Array(
    nodeCrypto.hkdfSync(
      "sha256",
      hexToBytes(devicePrivateKey),
      SESSION_KEY_SALT,
      SESSION_KEY_INFO,
      32,
    ),
  );
}

/** Signs SecAgg messages for one device: its address and its Ed25519 session key (`publicKey`, bytes32 hex). */
export interface SessionSigner {
  /** The device (secp256k1) address the key is registered for. */
  readonly address: Address;
  /** The raw 32-byte Ed25519 public key, as registered in `DeviceRegistry`. */
  readonly sessionKey: Hex;
  /** Ed25519 signature (64 bytes, hex) over `message`. */
  sign(message: Uint8Array): Hex;
}

/** The session signer of a device private key (deterministic). */
export function sessionSignerOf(devicePrivateKey: Hex): SessionSigner {
  const seed = sessionKeySeed(devicePrivateKey);
  const privateKey = nodeCrypto.createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519, seed]),
    format: "der",
    type: "pkcs8",
  });
  const spki = nodeCrypto.createPublicKey(privateKey).export({ format: "der", type: "spki" });
  const sessionKey = bytesToHex(new Uint8Array(spki.subarray(SPKI_ED25519.length)));
  const address = privateKeyToAccount(devicePrivateKey).address;
  return {
    address,
    sessionKey,
    sign: (message) => bytesToHex(new Uint8Array(nodeCrypto.sign(null, message, privateKey))),
  };
}

/** A device account that also carries its session signer (what the device runner and test helpers hold). */
export type DeviceAccount = PrivateKeyAccount & { readonly session: SessionSigner };

/** The viem account of a device key together with its derived session signer. */
export function deviceAccount(devicePrivateKey: Hex): DeviceAccount {
  return Object.assign(privateKeyToAccount(devicePrivateKey), {
    session: sessionSignerOf(devicePrivateKey),
  });
}

/** The registered public key (bytes32) of a device private key. */
export function sessionKeyOf(devicePrivateKey: Hex): Hex {
  return sessionSignerOf(devicePrivateKey).sessionKey;
}

/**
 * A verifying key for a registered session key, or undefined when the key is unset (zero) or not a valid Ed25519
 * point encoding (the registry cannot check that: such a device simply cannot sign, like one without a key).
 */
export function sessionVerifyingKey(sessionKey: Hex): KeyObject | undefined {
  if (!isHex(sessionKey) || sessionKey.length !== 66)
    throw new SessionKeyError("INVALID_SESSION_KEY", "a session key is 32 bytes of 0x-hex");
  if (/^0x0{64}$/.test(sessionKey)) return undefined;
  try {
    // JWK import: ≈ 12× cheaper than SPKI DER in node:crypto
    return nodeCrypto.createPublicKey({
      key: {
        kty: "OKP",
        crv: "Ed25519",
        x: Buffer.from(hexToBytes(sessionKey)).toString("base64url"),
      },
      format: "jwk",
    });
  } catch {
    return undefined;
  }
}

/** True when `signature` (64 bytes) is `key`'s Ed25519 signature of `message`. Never throws. */
export function verifySessionSignature(
  key: KeyObject,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (signature.length !== 64) return false;
  try {
    return nodeCrypto.verify(null, message, key, signature);
  } catch {
    return false;
  }
}
