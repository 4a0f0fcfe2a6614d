import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { MaskAccumulator, MaskGenerator, scratchAccumulator } from "#sdk/secagg/prg.ts";
import { addKernel, simdAvailable } from "#sdk/secagg/simd-add.ts";

const words = (m: number) => new Uint32Array(randomBytes(4 * m).buffer);

describe("WebAssembly SIMD add kernel (simd-add.ts)", () => {
  it("test_addKernel_addsAndSubtractsMod2pow32", () => {
    assert.equal(simdAvailable(), true, "Node 22 runs WebAssembly SIMD");
    const k = addKernel(4 * 64)!;
    const a = new Uint32Array(k.bytes.buffer, 0, 32);
    const b = new Uint32Array(k.bytes.buffer, 128, 32);
    const x = words(32);
    const y = words(32);
    y[0] = 0xffffffff;
    x[0] = 2; // wraps
    a.set(x);
    b.set(y);
    k.add(0, 128, 128);
    assert.deepEqual(
      a,
      x.map((v, i) => (v + y[i]!) >>> 0),
    );
    assert.equal(a[0], 1);
    k.sub(0, 128, 128);
    assert.deepEqual(a, x);
    k.sub(0, 128, 64); // only the first 16 words
    assert.deepEqual(a.subarray(16), x.subarray(16));
    assert.notDeepEqual(a.subarray(0, 16), x.subarray(0, 16));
  });
});

describe("MaskAccumulator", () => {
  // lengths around the 16,384-word keystream chunk and the 4-word SIMD lane
  for (const m of [1, 3, 4, 5, 16, 16_383, 16_384, 16_385, 40_000]) {
    it(`test_maskAccumulator_m${m}_equalsNobleReference`, () => {
      const simd = new MaskAccumulator(m);
      const plain = new MaskAccumulator(m, { simd: false });
      assert.equal(simd.simd, true);
      assert.equal(plain.simd, false);
      const ref = new MaskGenerator(m, { native: false }); // @noble ChaCha20, whole vector, JS add
      const expected = words(m);
      simd.words.set(expected);
      plain.words.set(expected);
      for (let i = 0; i < 6; i++) {
        const seed = randomBytes(32);
        const ks = ref.expand(seed);
        const sign = i % 3 === 1 ? -1 : 1;
        for (let j = 0; j < m; j++) expected[j] = (expected[j]! + sign * ks[j]!) >>> 0;
        for (const acc of [simd, plain]) {
          if (sign === 1) acc.add(seed);
          else acc.sub(seed);
        }
      }
      const v = words(m);
      for (let j = 0; j < m; j++) expected[j] = (expected[j]! + v[j]!) >>> 0;
      simd.addVector(v);
      plain.addVector(v);
      assert.deepEqual(simd.words, expected);
      assert.deepEqual(plain.words, expected);
    });
  }

  it("test_maskAccumulator_wrongLengthVector_refused", () => {
    const acc = new MaskAccumulator(10);
    assert.throws(() => acc.addVector(new Uint32Array(11)), RangeError);
  });

  it("test_maskAccumulator_instancesIndependent", () => {
    const a = new MaskAccumulator(100);
    const b = new MaskAccumulator(100);
    a.add(randomBytes(32));
    assert.deepEqual(b.words, new Uint32Array(100));
  });
});

describe("scratchAccumulator", () => {
  it("test_scratchAccumulator_reusedAndZeroed", () => {
    const a = scratchAccumulator(1000);
    a.add(randomBytes(32));
    const b = scratchAccumulator(1000);
    assert.equal(b, a, "same length: the same accumulator");
    assert.deepEqual(b.words, new Uint32Array(1000), "handed out zeroed");
    assert.notEqual(scratchAccumulator(999), a);
    for (const m of [1, 2, 3, 4, 5]) scratchAccumulator(m); // evicts the oldest lengths
    assert.notEqual(scratchAccumulator(1000), a);
  });
});
