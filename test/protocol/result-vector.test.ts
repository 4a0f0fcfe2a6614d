/** sdk/protocol/result-vector: the "classification-stats/v2" vector a device contributes and what a sum of them yields. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Prediction } from "#sdk/ml/index.ts";
import { ProtocolError } from "#sdk/protocol/errors.ts";
import {
  clusterSumsOf,
  crowdEstimate,
  PAIR_SCALE,
  parseResultVector,
  reduceToResultVector,
  resultVectorLength,
} from "#sdk/protocol/result-vector.ts";

const pred = (p1: number): Prediction => ({
  probabilities: Float32Array.from([1 - p1, p1]),
  label: p1 > 0.5 ? 1 : 0,
});
const invalid = (e: unknown) => e instanceof ProtocolError && e.code === "RESULT_VECTOR_INVALID";

describe("result vector (classification-stats/v2)", () => {
  it("one device's vector: n, Σp, Σp², class counts, then n², n·c_k, c_k² split in base PAIR_SCALE (known answer)", () => {
    const v = reduceToResultVector([pred(0.75), pred(0.25), pred(1)], 2);
    assert.equal(v.length, resultVectorLength(2));
    const f = (x: number) => Math.fround(x);
    const expected = [
      3,
      f(0.25) + f(0.75) + f(0),
      f(0.75) + f(0.25) + f(1),
      f(0.25) ** 2 + f(0.75) ** 2 + 0,
      f(0.75) ** 2 + f(0.25) ** 2 + 1,
      1, // c_0
      2, // c_1
      0,
      9, // n² = 9
      0,
      3, // n·c_0
      0,
      6, // n·c_1
      0,
      1, // c_0²
      0,
      4, // c_1²
    ];
    assert.deepEqual(Array.from(v), expected);
  });

  it("summed over devices, the pairs recover Σn², Σn·c, Σc² exactly, also above PAIR_SCALE", () => {
    const big = Array.from({ length: 400 }, (_, i) => pred(i % 4 === 0 ? 0.9 : 0.1));
    const small = [pred(0.9), pred(0.2)];
    const a = reduceToResultVector(big, 2);
    const b = reduceToResultVector(small, 2);
    assert.equal(a[1 + 3 * 2]! * PAIR_SCALE + a[2 + 3 * 2]!, 400 * 400);
    const sum = a.map((x, i) => x + b[i]!);
    const s = clusterSumsOf(sum, 2, 2, 1);
    assert.deepEqual(s, {
      devices: 2,
      n: 402,
      c: 101,
      nn: 400 ** 2 + 2 ** 2,
      nc: 400 * 100 + 2 * 1,
      cc: 100 ** 2 + 1,
    });
    const est = crowdEstimate(sum, 2, 2);
    assert.equal(est.records, 402);
    assert.equal(est.devices, 2);
    assert.ok(Math.abs(est.predictedShare[1]! - 101 / 402) < 1e-12);
    assert.equal(est.classifyAndCount.length, 2);
    assert.throws(
      () =>
        reduceToResultVector(
          Array.from({ length: PAIR_SCALE + 1 }, () => pred(0.1)),
          2,
        ),
      RangeError,
    );
  });

  it("a vector of the wrong length or with a non-finite coordinate is RESULT_VECTOR_INVALID", () => {
    const v = reduceToResultVector([pred(0.75)], 2);
    assert.deepEqual(Array.from(parseResultVector(v, 2)), Array.from(v));
    assert.throws(() => parseResultVector(v.subarray(1), 2), invalid);
    assert.throws(() => parseResultVector(v, 3), invalid);
    assert.throws(() => parseResultVector(v, 0), invalid);
    const nan = Float64Array.from(v);
    nan[3] = Number.NaN;
    assert.throws(() => parseResultVector(nan, 2), invalid);
    assert.throws(() => crowdEstimate(v.subarray(1), 2, 1), invalid);
    assert.throws(() => crowdEstimate(v, 2, 1, undefined, new Float64Array(3)), invalid);
  });
});
