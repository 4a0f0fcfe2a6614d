import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { sha256, sha256Segments, sha256Wasm } from "#sdk/crypto/sha256.ts";

const reference = (b: Uint8Array) => new Uint8Array(createHash("sha256").update(b).digest());

describe("SHA-256 in WebAssembly (sdk/crypto/sha256.ts)", () => {
  it("test_sha256_wasmInUse", () => {
    assert.equal(sha256Wasm, true);
  });

  it("test_sha256_everyLengthAroundTheBlocks_equalsNodeCrypto", () => {
    // 0–300 covers the one- and two-block paddings (55/56, 119/120 bytes) and several full blocks
    for (let len = 0; len <= 300; len++) {
      const data = randomBytes(len);
      assert.deepEqual(sha256(data), reference(data), `length ${len}`);
    }
    const long = randomBytes(100_003); // native path
    assert.deepEqual(sha256(long), reference(long));
  });

  it("test_sha256Segments_randomLengths_equalEachSegmentsDigest", () => {
    const lengths = [104, 0, 1, 55, 56, 64, 119, 120, 128, 300, 104, 5000];
    const total = lengths.reduce((a, b) => a + b, 0);
    const data = randomBytes(total + 7); // trailing bytes past the segments are ignored
    const got = sha256Segments(data, lengths);
    assert.equal(got.length, 32 * lengths.length);
    let at = 0;
    lengths.forEach((l, i) => {
      assert.deepEqual(got.subarray(32 * i, 32 * i + 32), reference(data.subarray(at, at + l)));
      at += l;
    });
    // the module's memory grows for a large batch (≈ 2.3 MB) and the digests stay right
    const many = new Uint32Array(22_200).fill(104);
    const big = randomBytes(104 * many.length);
    const digests = sha256Segments(big, many);
    for (const i of [0, 1, 11_111, 22_199])
      assert.deepEqual(
        digests.subarray(32 * i, 32 * i + 32),
        reference(big.subarray(104 * i, 104 * i + 104)),
      );
  });

  it("test_sha256Segments_pastTheData_rangeError", () => {
    assert.throws(() => sha256Segments(randomBytes(100), [50, 51]), RangeError);
  });
});
