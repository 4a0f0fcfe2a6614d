/**
 * Sealed envelopes (sdk/crypto/sealed.ts) and sealed transcripts (sdk/secagg/sealed-transcript.ts): real X25519 keys,
 * real AEAD. Every recipient opens; a non-recipient, another key, another context or a flipped byte does not.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { x25519 } from "@noble/curves/ed25519.js";
import { bytesToHex } from "viem";
import type { Address } from "viem";
import { privateKeyToAccount, generatePrivateKey } from "viem/accounts";
import {
  MAX_SEALED_BYTES,
  SealedError,
  openSealed,
  sealBytes,
  sealedContext,
  sealedRecipients,
} from "#sdk/crypto/sealed.ts";
import { openSealedTranscript, sealTranscript } from "#sdk/secagg/index.ts";

interface Party {
  address: Address;
  secret: Uint8Array;
  recipient: { address: Address; x25519PublicKey: `0x${string}` };
}

function party(): Party {
  const address = privateKeyToAccount(generatePrivateKey()).address;
  const secret = x25519.utils.randomSecretKey();
  return {
    address,
    secret,
    recipient: { address, x25519PublicKey: bytesToHex(x25519.getPublicKey(secret)) },
  };
}

const codeOf = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof SealedError, String(e));
    return e.code;
  }
  return "returned";
};

const ctx = new TextEncoder().encode("job 7 / session 0xab");

describe("sealed envelopes", () => {
  it("every recipient opens the same bytes; the content is encrypted once", () => {
    const parties = [party(), party(), party()];
    const plain = new Uint8Array(randomBytes(10_000));
    const env = sealBytes(
      plain,
      parties.map((p) => p.recipient),
      ctx,
    );
    // 132 bytes per recipient (address, its key, ephemeral key, wrapped key), the content once
    assert.equal(env.length, 4 + 1 + 4 + ctx.length + 32 + 4 + 3 * 132 + 12 + plain.length + 16);
    assert.ok(
      !Buffer.from(env).includes(Buffer.from(plain.subarray(0, 32))),
      "plaintext not visible",
    );
    for (const p of parties) {
      assert.deepEqual(openSealed(env, { address: p.address, x25519SecretKey: p.secret }), plain);
      assert.deepEqual(
        openSealed(
          env,
          { address: p.address, x25519SecretKey: bytesToHex(p.secret) },
          { expectedContext: ctx },
        ),
        plain,
      );
    }
    assert.deepEqual(sealedContext(env), ctx);
    assert.deepEqual(
      sealedRecipients(env),
      parties.map((p) => p.address),
    );
  });

  it("a non-recipient cannot open: unknown address, or a recipient's address with another X25519 key", () => {
    const [a, b, outsider] = [party(), party(), party()];
    const env = sealBytes(new TextEncoder().encode("secret"), [a.recipient, b.recipient], ctx);
    assert.equal(
      codeOf(() =>
        openSealed(env, { address: outsider.address, x25519SecretKey: outsider.secret }),
      ),
      "NOT_A_RECIPIENT",
    );
    assert.equal(
      codeOf(() => openSealed(env, { address: a.address, x25519SecretKey: outsider.secret })),
      "UNDECRYPTABLE",
    );
    // b's key on a's entry: the wrap is bound to a's address and key
    assert.equal(
      codeOf(() => openSealed(env, { address: a.address, x25519SecretKey: b.secret })),
      "UNDECRYPTABLE",
    );
  });

  it("a flipped byte anywhere in a wrapped key or the content fails the AEAD; another context is refused", () => {
    const [a] = [party()];
    const env = sealBytes(new Uint8Array(randomBytes(200)), [a.recipient], ctx);
    const me = { address: a.address, x25519SecretKey: a.secret };
    const headerEnd = 4 + 1 + 4 + ctx.length + 32 + 4;
    // the entry: address[20] ‖ P[32] ‖ E[32] ‖ wrapped[48]; flipping the address makes us a non-recipient
    for (const at of [
      headerEnd + 20 + 32 + 5,
      headerEnd + 20 + 32 + 32 + 7,
      env.length - 1,
      env.length - 100,
    ]) {
      const bad = env.slice();
      bad[at]! ^= 0x01;
      assert.equal(
        codeOf(() => openSealed(bad, me)),
        "UNDECRYPTABLE",
        `byte ${at}`,
      );
    }
    const badCtx = env.slice();
    badCtx[9]! ^= 0x01; // inside the context: authenticated in the wrap and the content
    assert.equal(
      codeOf(() => openSealed(badCtx, me)),
      "UNDECRYPTABLE",
    );
    assert.equal(
      codeOf(() =>
        openSealed(env, me, { expectedContext: new TextEncoder().encode("another job") }),
      ),
      "WRONG_CONTEXT",
    );
  });

  it("is key-committing: a recipient entry wrapping another content key does not open", () => {
    const [a, b] = [party(), party()];
    const one = sealBytes(
      new TextEncoder().encode("transcript X"),
      [a.recipient, b.recipient],
      ctx,
    );
    const two = sealBytes(
      new TextEncoder().encode("transcript Y"),
      [a.recipient, b.recipient],
      ctx,
    );
    // b's entry of the second envelope spliced into the first: it unwraps (same address, key, context)…
    const entry = (env: Uint8Array, i: number) => {
      const at = 4 + 1 + 4 + ctx.length + 32 + 4 + i * 132;
      return [at, env.subarray(at, at + 132)] as const;
    };
    const mixed = one.slice();
    const [at, bTwo] = entry(two, 1);
    mixed.set(bTwo, at);
    assert.deepEqual(
      openSealed(mixed, { address: a.address, x25519SecretKey: a.secret }),
      new TextEncoder().encode("transcript X"),
    );
    // …but its key is not the committed one: b cannot be shown another plaintext than a
    assert.throws(
      () => openSealed(mixed, { address: b.address, x25519SecretKey: b.secret }),
      (e: SealedError) => e.code === "UNDECRYPTABLE" && /commitment/.test(e.message),
    );
  });

  it("truncated, oversized or malformed envelopes and bad recipients get typed errors", () => {
    const a = party();
    const env = sealBytes(new Uint8Array(64), [a.recipient], ctx);
    const me = { address: a.address, x25519SecretKey: a.secret };
    for (const cut of [0, 3, 8, 20, 40, env.length - 100]) {
      assert.equal(
        codeOf(() => openSealed(env.subarray(0, cut), me)),
        "TRUNCATED",
        `cut ${cut}`,
      );
    }
    assert.equal(
      codeOf(() => openSealed(env, me, { maxBytes: env.length - 1 })),
      "TOO_LARGE",
    );
    assert.ok(MAX_SEALED_BYTES > 512 * 1024 * 1024);
    const huge = env.slice();
    new DataView(huge.buffer).setUint32(9 + ctx.length + 32, 0xffffffff, false); // recipient count
    assert.equal(
      codeOf(() => openSealed(huge, me)),
      "TRUNCATED",
    );
    const magic = env.slice();
    magic[0] = 0;
    assert.equal(
      codeOf(() => openSealed(magic, me)),
      "INVALID_ENVELOPE",
    );
    assert.equal(
      codeOf(() =>
        sealBytes(new Uint8Array(1), [{ ...a.recipient, x25519PublicKey: "0x1234" }], ctx),
      ),
      "INVALID_RECIPIENT",
    );
    assert.equal(
      codeOf(() =>
        sealBytes(
          new Uint8Array(1),
          [{ ...a.recipient, x25519PublicKey: `0x${"00".repeat(32)}` }],
          ctx,
        ),
      ),
      "INVALID_RECIPIENT",
      "low-order key",
    );
    assert.equal(
      codeOf(() => sealBytes(new Uint8Array(1), [a.recipient, a.recipient], ctx)),
      "INVALID_RECIPIENT",
    );
    assert.equal(
      codeOf(() => sealBytes(new Uint8Array(1), [], ctx)),
      "INVALID_RECIPIENT",
    );
  });

  it("a sealed transcript opens only for its session", () => {
    const [a, b] = [party(), party()];
    const sessionId = bytesToHex(randomBytes(32));
    const bytes = new Uint8Array(randomBytes(1000));
    const env = sealTranscript(bytes, [a.recipient, b.recipient], sessionId);
    assert.deepEqual(
      openSealedTranscript(env, { address: b.address, x25519SecretKey: b.secret }, sessionId),
      bytes,
    );
    assert.equal(
      codeOf(() =>
        openSealedTranscript(
          env,
          { address: a.address, x25519SecretKey: a.secret },
          bytesToHex(randomBytes(32)),
        ),
      ),
      "WRONG_CONTEXT",
    );
  });
});
