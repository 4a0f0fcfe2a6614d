import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex, keccak256 } from "viem";
import { keccak256Bytes, keccakWasm } from "#sdk/crypto/keccak.ts";

describe("keccak256Bytes (Keccak-f[1600] in WebAssembly)", () => {
  it("test_keccak_runsInWebAssembly_knownVectors", () => {
    assert.equal(keccakWasm, true);
    // Ethereum's empty-input and "abc" hashes (Keccak padding, not SHA3-256's)
    assert.equal(
      bytesToHex(keccak256Bytes(new Uint8Array())),
      "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470",
    );
    assert.equal(
      bytesToHex(keccak256Bytes(new TextEncoder().encode("abc"))),
      "0x4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45",
    );
  });

  it("test_keccak_everyLengthAroundTheRate_equalsNoble", () => {
    // 0 … 410 bytes: empty, partial, exactly one/two/three 136-byte blocks, and one byte either side
    for (let n = 0; n <= 410; n++) {
      const data = randomBytes(n);
      assert.equal(bytesToHex(keccak256Bytes(data)), bytesToHex(keccak_256(data)), `length ${n}`);
    }
    const big = randomBytes(100_003);
    assert.equal(bytesToHex(keccak256Bytes(big)), keccak256(big));
  });

  it("test_keccak_outputIsACopy", () => {
    const a = keccak256Bytes(new Uint8Array([1]));
    const snapshot = bytesToHex(a);
    keccak256Bytes(new Uint8Array([2]));
    assert.equal(bytesToHex(a), snapshot, "a later call does not overwrite an earlier digest");
  });
});
