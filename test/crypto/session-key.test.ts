import assert from "node:assert/strict";
import * as nodeCrypto from "node:crypto";
import { describe, it } from "node:test";
import { bytesToHex, hexToBytes, zeroAddress } from "viem";
import type { Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import {
  NO_SESSION_KEY,
  SessionKeyError,
  deviceAccount,
  sessionKeyOf,
  sessionSignerOf,
  sessionVerifyingKey,
  verifySessionSignature,
} from "#sdk/crypto/session-key.ts";
import {
  secAggDigest,
  secAggDigestBytes,
  signSecAggEnvelope,
  verifySecAggEnvelope,
} from "#sdk/crypto/signing.ts";
import type { SecAggEnvelope } from "#sdk/crypto/signing.ts";

const KEY_A: Hex = `0x${"0a".repeat(32)}`;
const KEY_B: Hex = `0x${"0b".repeat(32)}`;
const envelope: SecAggEnvelope = {
  sessionId: `0x${"ab".repeat(32)}`,
  round: 3,
  sender: 0xfffffffe,
  payloadHash: `0x${"cd".repeat(32)}`,
};
const domain = { chainId: 31337, verifyingContract: zeroAddress };

describe("session keys (Ed25519, derived from the device key)", () => {
  it("derivation is deterministic, domain-separated, and the registered key is the signer's", () => {
    const a = sessionSignerOf(KEY_A);
    assert.equal(sessionSignerOf(KEY_A).sessionKey, a.sessionKey, "deterministic");
    assert.notEqual(sessionSignerOf(KEY_B).sessionKey, a.sessionKey, "one key per device");
    assert.equal(a.address, privateKeyToAccount(KEY_A).address);
    assert.match(a.sessionKey, /^0x[0-9a-f]{64}$/);
    assert.notEqual(a.sessionKey, NO_SESSION_KEY);
    // domain separation: not the Ed25519 key whose seed is the device key itself
    const plain = nodeCrypto
      .createPublicKey(
        nodeCrypto.createPrivateKey({
          key: Buffer.concat([
            Buffer.from("302e020100300506032b657004220420", "hex"),
            hexToBytes(KEY_A),
          ]),
          format: "der",
          type: "pkcs8",
        }),
      )
      .export({ format: "der", type: "spki" });
    assert.notEqual(bytesToHex(new Uint8Array(plain.subarray(12))), a.sessionKey);
    // the device account carries the same signer
    const acc = deviceAccount(KEY_A);
    assert.equal(acc.address, a.address);
    assert.equal(acc.session.sessionKey, a.sessionKey);
    assert.equal(sessionKeyOf(KEY_A), a.sessionKey);
    assert.throws(
      () => sessionSignerOf("0x1234"),
      (e: unknown) => e instanceof SessionKeyError && e.code === "INVALID_PRIVATE_KEY",
    );
  });

  it("signatures verify against the registered key only; unset and malformed keys", () => {
    const a = sessionSignerOf(KEY_A);
    const msg = new Uint8Array(32).fill(7);
    const sig = hexToBytes(a.sign(msg));
    assert.equal(sig.length, 64);
    const key = sessionVerifyingKey(a.sessionKey)!;
    assert.ok(verifySessionSignature(key, msg, sig));
    assert.ok(!verifySessionSignature(key, new Uint8Array(32).fill(8), sig), "another message");
    assert.ok(!verifySessionSignature(sessionVerifyingKey(sessionKeyOf(KEY_B))!, msg, sig));
    assert.ok(!verifySessionSignature(key, msg, sig.subarray(0, 63)), "truncated");
    assert.equal(sessionVerifyingKey(NO_SESSION_KEY), undefined, "unset");
    assert.throws(
      () => sessionVerifyingKey("0xabcd"),
      (e: unknown) => e instanceof SessionKeyError && e.code === "INVALID_SESSION_KEY",
    );
  });

  it("the fast EIP-712 digest equals viem's; envelope signatures bind every field and the domain", () => {
    assert.equal(bytesToHex(secAggDigestBytes(domain, envelope)), secAggDigest(domain, envelope));
    const other = { chainId: 1, verifyingContract: `0x${"12".repeat(20)}` as const };
    assert.equal(bytesToHex(secAggDigestBytes(other, envelope)), secAggDigest(other, envelope));
    const a = sessionSignerOf(KEY_A);
    const key = sessionVerifyingKey(a.sessionKey)!;
    const sig = signSecAggEnvelope(a, domain, envelope);
    assert.ok(verifySecAggEnvelope(key, domain, envelope, sig));
    assert.ok(!verifySecAggEnvelope(key, other, envelope, sig), "another domain");
    for (const changed of [
      { ...envelope, round: 4 },
      { ...envelope, sender: 1 },
      { ...envelope, payloadHash: `0x${"ce".repeat(32)}` as Hex },
      { ...envelope, sessionId: `0x${"ac".repeat(32)}` as Hex },
    ])
      assert.ok(!verifySecAggEnvelope(key, domain, changed, sig));
    assert.ok(!verifySecAggEnvelope(key, domain, envelope, "0x1234"), "malformed signature");
    assert.ok(
      !verifySecAggEnvelope(key, domain, { ...envelope, sessionId: "0x12" }, sig),
      "malformed envelope",
    );
  });
});
