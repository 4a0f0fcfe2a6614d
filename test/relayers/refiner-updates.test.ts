/**
 * The refiner's model arithmetic on real trainer updates (sdk/ml logistic regression, trainFrom + clipL2 as
 * device-runner/trainer.ts computes them): a group trained on true labels has a positive control gain, a group
 * trained on flipped labels a negative one and is dropped by `selectGroups`; the candidate built from the kept
 * group beats the base model on the control group; the sample count survives the sum's last slot.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { clipL2, flatten, trainFrom, weightDelta, zeroWeights } from "#sdk/ml/index.ts";
import { SAMPLE_SCALE } from "#sdk/protocol/session.ts";
import { selectGroups } from "../../relayers/refiner/Refiner.ts";
import {
  candidateWeights,
  controlGain,
  fixedMetric,
  meanUpdateOf,
  RefinerUpdateError,
  type GroupSum,
} from "../../relayers/refiner/updates.ts";

/** Two well-separated clusters in 4 dimensions, deterministic. */
function data(n: number, seed: number, flip = false) {
  const x: Float32Array[] = [];
  const y: number[] = [];
  let s = seed;
  const r = () => ((s = (s * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  for (let i = 0; i < n; i++) {
    const label = i % 2;
    const c = label === 1 ? 1 : -1;
    x.push(Float32Array.from([c + 0.5 * r(), c + 0.5 * r(), 0.5 * r(), 0.5 * r()]));
    y.push(flip ? 1 - label : label);
  }
  return { x, y };
}

describe("refiner updates", () => {
  const base = zeroWeights(2, 4);
  const P = flatten(base).length;
  const control = data(200, 99);
  /** A group's decoded SecAgg sum of its members' `[clipped Δ, n / SAMPLE_SCALE]` vectors. */
  const groupSum = (group: number, seeds: number[], flip: boolean): GroupSum => {
    const sum = new Float64Array(P + 1);
    for (const seed of seeds) {
      const local = data(40, seed, flip);
      const delta = clipL2(weightDelta(base, trainFrom(base, local, 3)), 1.2);
      for (let i = 0; i < P; i++) sum[i]! += delta[i]!;
      sum[P]! += local.x.length / SAMPLE_SCALE;
    }
    return { group, survivors: seeds.length, sum };
  };

  it("keeps the group that helps, drops the one that hurts, and the candidate beats the base", () => {
    const good = groupSum(0, [1, 2, 3], false);
    const bad = groupSum(1, [4, 5, 6], true);
    const updates = [good, bad].map((g) => {
      const { delta, samples } = meanUpdateOf(g, P);
      return { group: g.group, members: [], samples, gain: controlGain(base, delta, control) };
    });
    assert.equal(updates[0]!.samples, 120n);
    assert.ok(updates[0]!.gain > 0n, `good gain ${updates[0]!.gain}`);
    assert.ok(updates[1]!.gain < 0n, `bad gain ${updates[1]!.gain}`);
    const keptIds = selectGroups(
      updates.map((u) => ({ ...u, members: ["0x1111111111111111111111111111111111111111"] })),
    ).map((g) => g.group);
    assert.deepEqual(keptIds, [0]);
    const candidate = candidateWeights(base, [good], P);
    assert.ok(fixedMetric(candidate, control) > fixedMetric(base, control));
    assert.ok(fixedMetric(candidate, control) >= 9n * 10n ** 17n, "≥ 90% on separable clusters");
    const both = candidateWeights(base, [good, bad], P);
    assert.ok(fixedMetric(both, control) < fixedMetric(candidate, control), "the bad group hurts");
  });

  it("rejects a sum of the wrong shape or a group without survivors", () => {
    assert.throws(
      () => meanUpdateOf({ group: 3, survivors: 2, sum: new Float64Array(P) }, P),
      (e) => e instanceof RefinerUpdateError && e.code === "UPDATE_SHAPE",
    );
    assert.throws(
      () => meanUpdateOf({ group: 3, survivors: 0, sum: new Float64Array(P + 1) }, P),
      RefinerUpdateError,
    );
  });
});
