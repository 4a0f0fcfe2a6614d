import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  accuracy,
  applyDelta,
  clipL2,
  flatten,
  l2Norm,
  forward,
  LogRegShapeError,
  loss,
  Prng,
  train,
  trainFrom,
  unflatten,
  weightDelta,
  zeroWeights,
  type LabelledVectors,
} from "#sdk/ml/index.ts";

/** Two Gaussian blobs in 8 dimensions, separable along the first axis. */
function blobs(n: number, seed: string): LabelledVectors {
  const p = new Prng(seed);
  const x: Float32Array[] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const label = i % 2;
    const v = new Float32Array(8).map(() => 0.3 * p.normal());
    v[0] = (v[0] ?? 0) + (label === 1 ? 1 : -1);
    x.push(v);
    y.push(label);
  }
  return { x, y };
}

describe("softmax logistic regression", () => {
  const data = blobs(400, "train");
  const held = blobs(200, "held");

  it("learns a separable problem and lowers the loss", () => {
    const w0 = zeroWeights(2, 8);
    const w = train(data, 2, 10, { learningRate: 0.5, l2: 1e-4 });
    assert.ok(loss(w, data) < loss(w0, data) / 2);
    assert.ok(accuracy(w, held) > 0.95, `held-out accuracy ${accuracy(w, held)}`);
  });

  it("forward returns a probability distribution", () => {
    const w = train(data, 2, 2);
    for (const x of held.x.slice(0, 20)) {
      const p = forward(w, x);
      assert.ok(Math.abs((p[0] ?? 0) + (p[1] ?? 0) - 1) < 1e-12);
    }
  });

  it("is deterministic given a seed and depends on it", () => {
    const a = train(data, 2, 3, { seed: "a" });
    const b = train(data, 2, 3, { seed: "a" });
    const c = train(data, 2, 3, { seed: "c" });
    assert.deepEqual(a.W, b.W);
    assert.notDeepEqual(a.W, c.W);
  });

  it("trainFrom continues from given weights without mutating them", () => {
    const start = train(data, 2, 1);
    const before = Float32Array.from(start.W);
    const next = trainFrom(start, data, 2);
    assert.deepEqual(start.W, before);
    assert.notDeepEqual(next.W, start.W);
    assert.deepEqual(trainFrom(start, data, 0).W, start.W);
  });

  it("flatten / unflatten round-trip", () => {
    const w = train(data, 2, 2);
    const flat = flatten(w);
    assert.equal(flat.length, 2 * 8 + 2);
    assert.equal(flat[16], w.b[0]);
    const back = unflatten(flat, 2, 8);
    assert.deepEqual(back.W, w.W);
    assert.deepEqual(back.b, w.b);
    assert.throws(() => unflatten(flat.subarray(1), 2, 8), LogRegShapeError);
  });

  it("a logit offset trains a skewed sample towards the population's posterior", () => {
    // the population is balanced; a device holds 9 of class 0 for every 1 of class 1 (a prior shift only)
    const start = train(data, 2, 5);
    const skewed: LabelledVectors = { x: [], y: [] };
    data.x.forEach((x, i) => {
      if (data.y[i] === 0 || i % 9 === 1) {
        (skewed.x as Float32Array[]).push(x);
        (skewed.y as number[]).push(data.y[i] ?? 0);
      }
    });
    const share1 = skewed.y.filter((y) => y === 1).length / skewed.y.length;
    const offset = [Math.log((1 - share1) / 0.5), Math.log(share1 / 0.5)];
    const margin = (w: typeof start) => (w.b[1] ?? 0) - (w.b[0] ?? 0);
    const plain = trainFrom(start, skewed, 20);
    const shifted = trainFrom(start, skewed, 20, { logitOffset: offset });
    const drift = (w: typeof start) => Math.abs(margin(w) - margin(start));
    // without the offset the class-1 margin absorbs the device's prior (log(share1 / (1 − share1)) ≈ −2)
    assert.ok(margin(plain) - margin(start) < -1, `plain drift ${margin(plain) - margin(start)}`);
    assert.ok(drift(shifted) < 0.6 * drift(plain), `${drift(shifted)} vs ${drift(plain)}`);
    assert.ok(accuracy(shifted, held) >= accuracy(plain, held));
    // no offset, an empty one and a zero one train the same weights; a wrong length is refused
    assert.deepEqual(
      trainFrom(start, skewed, 2, { logitOffset: [] }).W,
      trainFrom(start, skewed, 2).W,
    );
    assert.deepEqual(
      trainFrom(start, skewed, 2, { logitOffset: [0, 0] }).W,
      trainFrom(start, skewed, 2).W,
    );
    assert.throws(() => trainFrom(start, skewed, 1, { logitOffset: [1] }), LogRegShapeError);
  });

  it("rejects mismatched shapes and labels", () => {
    const w = zeroWeights(2, 8);
    assert.throws(() => forward(w, new Float32Array(7)), LogRegShapeError);
    assert.throws(() => trainFrom(w, { x: [new Float32Array(8)], y: [2] }, 1), LogRegShapeError);
    assert.throws(() => trainFrom(w, { x: [new Float32Array(8)], y: [] }, 1), LogRegShapeError);
    assert.throws(() => zeroWeights(1, 8), LogRegShapeError);
  });
});

describe("model updates", () => {
  const data = blobs(200, "upd");
  const start = train(data, 2, 1);
  const next = trainFrom(start, data, 3);

  it("weightDelta + applyDelta reproduce the trained weights", () => {
    const delta = weightDelta(start, next);
    assert.equal(delta.length, 18);
    const back = applyDelta(start, delta);
    back.W.forEach((w, i) => assert.ok(Math.abs(w - (next.W[i] ?? 0)) < 1e-6));
    back.b.forEach((b, i) => assert.ok(Math.abs(b - (next.b[i] ?? 0)) < 1e-6));
    assert.throws(() => weightDelta(start, zeroWeights(2, 7)), LogRegShapeError);
    assert.throws(() => applyDelta(start, new Float64Array(3)), LogRegShapeError);
  });

  it("clipL2 bounds the norm and keeps the direction", () => {
    const delta = weightDelta(start, next);
    const norm = l2Norm(delta);
    const clipped = clipL2(delta, norm / 4);
    assert.ok(Math.abs(l2Norm(clipped) - norm / 4) < 1e-9);
    clipped.forEach((v, i) => assert.ok(Math.abs(v * 4 - (delta[i] ?? 0)) < 1e-9));
    assert.deepEqual(clipL2(delta, norm * 2), delta);
    assert.throws(() => clipL2(delta, 0), RangeError);
  });
});
