/**
 * X25519 Diffie–Hellman with the native OpenSSL implementation of node:crypto when available (≈20× faster than pure
 * JS, which matters for SecAgg+ where a client does ~2k agreements and the server k per dropped client), falling back
 * to @noble/curves. Both follow RFC 7748 (scalar clamping included) and produce identical secrets (tested).
 */
import { x25519 } from "@noble/curves/ed25519.js";
import * as nodeCrypto from "node:crypto";
import type { KeyObject } from "node:crypto";

const PKCS8_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");

let native = typeof nodeCrypto.diffieHellman === "function";
try {
  if (native)
    nativeShared(
      x25519.utils.randomSecretKey(),
      x25519.getPublicKey(x25519.utils.randomSecretKey()),
    );
} catch {
  native = false;
}

function nativePublicKey(pk: Uint8Array): KeyObject {
  // JWK import is ≈ 12× cheaper than SPKI DER in node:crypto (0.012 vs 0.145 ms): it dominated agreements
  return nodeCrypto.createPublicKey({
    key: { kty: "OKP", crv: "X25519", x: Buffer.from(pk).toString("base64url") },
    format: "jwk",
  });
}

/**
 * A peer public key prepared once for many agreements (the server's unmasking agrees with each live client's s^PK
 * once per dropped neighbour): a node:crypto KeyObject when native, else the bytes.
 */
export function preparePublicKey(pk: Uint8Array): Uint8Array | KeyObject {
  return native ? nativePublicKey(pk) : pk;
}

function nativeShared(sk: Uint8Array | KeyObject, pk: Uint8Array | KeyObject): Uint8Array {
  const privateKey =
    sk instanceof Uint8Array
      ? nodeCrypto.createPrivateKey({
          key: Buffer.concat([PKCS8_PREFIX, sk]),
          format: "der",
          type: "pkcs8",
        })
      : sk;
  const publicKey = pk instanceof Uint8Array ? nativePublicKey(pk) : pk;
  return new Uint8Array(nodeCrypto.diffieHellman({ privateKey, publicKey }));
}

function rawOf(key: KeyObject): Uint8Array {
  const jwk = key.export({ format: "jwk" });
  return new Uint8Array(Buffer.from(String(jwk.x), "base64url"));
}

/** A secret key prepared once for many agreements. */
export class X25519Secret {
  readonly secret: Uint8Array;
  private readonly keyObject: KeyObject | undefined;
  constructor(secret: Uint8Array, opts: { native?: boolean } = {}) {
    this.secret = secret;
    this.keyObject =
      (opts.native ?? true) && native
        ? nodeCrypto.createPrivateKey({
            key: Buffer.concat([PKCS8_PREFIX, secret]),
            format: "der",
            type: "pkcs8",
          })
        : undefined;
  }
  /** X25519(secret, 9): native when the key is a KeyObject (≈ 0.05 ms, against ≈ 0.7 ms in @noble); same bytes. */
  publicKey(): Uint8Array {
    return this.keyObject
      ? rawOf(nodeCrypto.createPublicKey(this.keyObject))
      : x25519.getPublicKey(this.secret);
  }
  /** X25519(secret, peer); throws on a low-order peer key (all-zero shared secret). */
  agree(peer: Uint8Array | KeyObject): Uint8Array {
    const out = this.keyObject
      ? nativeShared(this.keyObject, peer)
      : x25519.getSharedSecret(this.secret, peer instanceof Uint8Array ? peer : rawOf(peer));
    let acc = 0;
    for (const b of out) acc |= b;
    if (acc === 0) throw new Error("x25519: low-order public key");
    return out;
  }
}

const probe = new X25519Secret(x25519.utils.randomSecretKey());

/** True when `pk` is not a usable X25519 public key (wrong length or a low-order point: all-zero shared secret). */
export function isWeakPublicKey(pk: Uint8Array): boolean {
  if (pk.length !== 32) return true;
  try {
    probe.agree(pk);
    return false;
  } catch {
    return true;
  }
}
