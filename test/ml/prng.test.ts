import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Prng } from "#sdk/ml/index.ts";

describe("Prng (sha256 counter mode)", () => {
  it("is deterministic per seed and differs across seeds and forks", () => {
    const a = Array.from(
      { length: 16 },
      (
        (p) => () =>
          p.nextUint32()
      )(new Prng("s")),
    );
    const b = Array.from(
      { length: 16 },
      (
        (p) => () =>
          p.nextUint32()
      )(new Prng("s")),
    );
    const c = Array.from(
      { length: 16 },
      (
        (p) => () =>
          p.nextUint32()
      )(new Prng("t")),
    );
    const f = Array.from(
      { length: 16 },
      (
        (p) => () =>
          p.nextUint32()
      )(new Prng("s").fork("x")),
    );
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    assert.notDeepEqual(a, f);
  });

  it("draws uniforms in [0,1) and unbiased integers", () => {
    const p = new Prng("uniform");
    const counts = new Array<number>(6).fill(0);
    for (let i = 0; i < 60_000; i++) {
      const u = p.next();
      assert.ok(u >= 0 && u < 1);
      const k = p.nextInt(6);
      counts[k] = (counts[k] ?? 0) + 1;
    }
    for (const c of counts) assert.ok(Math.abs(c - 10_000) < 500, `count ${c}`);
    assert.throws(() => p.nextInt(0), RangeError);
  });

  it("samples Gamma and Beta with the right means", () => {
    const p = new Prng("beta");
    const n = 20_000;
    let g = 0;
    let gSmall = 0;
    let b = 0;
    for (let i = 0; i < n; i++) {
      g += p.gamma(3);
      gSmall += p.gamma(0.5);
      const x = p.beta(2, 5);
      assert.ok(x > 0 && x < 1);
      b += x;
    }
    assert.ok(Math.abs(g / n - 3) < 0.08, `gamma(3) mean ${g / n}`);
    assert.ok(Math.abs(gSmall / n - 0.5) < 0.03, `gamma(0.5) mean ${gSmall / n}`);
    assert.ok(Math.abs(b / n - 2 / 7) < 0.01, `beta(2,5) mean ${b / n}`);
    assert.throws(() => p.gamma(0), RangeError);
  });

  it("shuffles deterministically into a permutation", () => {
    const xs = new Prng("perm").shuffle(Array.from({ length: 100 }, (_, i) => i));
    const ys = new Prng("perm").shuffle(Array.from({ length: 100 }, (_, i) => i));
    assert.deepEqual(xs, ys);
    assert.deepEqual(
      [...xs].sort((a, b) => a - b),
      Array.from({ length: 100 }, (_, i) => i),
    );
    assert.notDeepEqual(
      xs,
      Array.from({ length: 100 }, (_, i) => i),
    );
  });
});
