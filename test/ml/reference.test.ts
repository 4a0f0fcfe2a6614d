import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  accuracy,
  applyDelta,
  buildReferencePackage,
  classRates,
  clipL2,
  decodeLogRegOnnx,
  exportLogRegOnnx,
  forward,
  OnnxClassifier,
  OnnxInferenceError,
  predict,
  prepareWorkload,
  recordsSha256,
  trainBaseline,
  trainFrom,
  trainReference,
  weightDelta,
  type LogRegWeights,
  type Workload,
} from "#sdk/ml/index.ts";

let workload: Workload;
let baseline: LogRegWeights;
let reference: LogRegWeights;

before(async () => {
  workload = await prepareWorkload();
  baseline = trainBaseline(workload);
  reference = trainReference(workload);
});

describe("reference workload accuracy", () => {
  it("centralized baseline on all device data reaches >= 95% test accuracy", () => {
    const acc = accuracy(baseline, workload.test);
    console.log(`    baseline test accuracy ${(100 * acc).toFixed(2)}%`);
    assert.ok(acc >= 0.95, `baseline accuracy ${acc}`);
  });

  it("reference algorithm (developer slice only) is useful but leaves room for fine-tuning", () => {
    const acc = accuracy(reference, workload.test);
    console.log(`    reference test accuracy ${(100 * acc).toFixed(2)}%`);
    assert.ok(acc > 0.8, `reference accuracy ${acc}`);
    assert.ok(acc < accuracy(baseline, workload.test) - 0.03);
  });

  it("training is reproducible", () => {
    assert.deepEqual(trainReference(workload).W, reference.W);
  });
});

describe("control-group rates in the reference package", () => {
  it("publishes the ONNX model's confusion matrix on the held-out control group, and it can be rechecked", async () => {
    const built = await buildReferencePackage(workload, reference);
    const cg = built.manifest.controlGroup!;
    assert.equal(cg.recordsSha256, recordsSha256(workload.split.control.map((e) => e.id)));
    assert.equal(
      cg.confusion.flat().reduce((a, b) => a + b, 0),
      workload.control.x.length,
    );
    // recount with the TypeScript forward pass: float32 ONNX and float64 TS agree on (almost) every argmax
    const recount = [
      [0, 0],
      [0, 0],
    ];
    workload.control.x.forEach(
      (x, i) => (recount[workload.control.y[i]!]![predict(reference, x)]! += 1),
    );
    const diff = cg.confusion.flat().reduce((a, v, i) => a + Math.abs(v - recount.flat()[i]!), 0);
    assert.ok(diff <= 2, `ONNX vs TS confusion differ by ${diff}`);
    const spam = classRates(cg.confusion, 1);
    console.log(
      `    control group ${workload.control.x.length}: TPR ${spam.tpr.toFixed(3)}, FPR ${spam.fpr.toFixed(3)}`,
    );
    assert.ok(spam.tpr > spam.fpr);
  });
});

describe("federated fine-tuning from the reference", () => {
  it("one round of clipped FedAvg over device updates improves control and test accuracy", () => {
    const deltas = workload.devices.map((data, i) =>
      clipL2(weightDelta(reference, trainFrom(reference, data, 3, { seed: `device/${i}` })), 1.2),
    );
    const total = workload.devices.reduce((a, d) => a + d.x.length, 0);
    const mean = new Float64Array(deltas[0]?.length ?? 0);
    deltas.forEach((d, i) => {
      const weight = (workload.devices[i]?.x.length ?? 0) / total;
      d.forEach((v, j) => (mean[j] = (mean[j] ?? 0) + weight * v));
    });
    const next = applyDelta(reference, mean);
    const before = [accuracy(reference, workload.control), accuracy(reference, workload.test)];
    const after = [accuracy(next, workload.control), accuracy(next, workload.test)];
    console.log(`    FedAvg round: control ${before[0]?.toFixed(4)} → ${after[0]?.toFixed(4)}`);
    assert.ok((after[0] ?? 0) > (before[0] ?? 1));
    assert.ok((after[1] ?? 0) > (before[1] ?? 1));
  });
});

describe("ONNX export run by ONNX Runtime", () => {
  const sessions: OnnxClassifier[] = [];
  after(async () => {
    for (const s of sessions) await s.release();
  });

  for (const which of ["baseline", "reference"] as const) {
    it(`${which}: ORT probabilities equal the TS forward pass within 1e-5 on every test email`, async () => {
      const weights = which === "baseline" ? baseline : reference;
      const model = exportLogRegOnnx(weights);
      const ort = await OnnxClassifier.load(model, weights.dim, weights.classes);
      sessions.push(ort);
      const rows = workload.test.x;
      const probs = await ort.run(rows);
      assert.equal(probs.length, rows.length);
      assert.equal(rows.length, 1209);
      let worst = 0;
      rows.forEach((x, i) => {
        const ts = forward(weights, x);
        const o = probs[i] as Float32Array;
        for (let k = 0; k < weights.classes; k++) {
          worst = Math.max(worst, Math.abs((o[k] ?? NaN) - (ts[k] ?? NaN)));
        }
      });
      assert.ok(worst <= 1e-5, `max |ORT - TS| = ${worst}`);
      // single-row batches agree with the big batch
      const one = await ort.run([rows[0] as Float32Array]);
      assert.deepEqual(one[0], probs[0]);
    });
  }

  it("the exported weights decode back exactly", () => {
    const back = decodeLogRegOnnx(exportLogRegOnnx(reference));
    assert.deepEqual(back.W, reference.W);
    assert.deepEqual(back.b, reference.b);
  });

  it("rejects inputs of the wrong width and garbage models", async () => {
    const ort = await OnnxClassifier.load(exportLogRegOnnx(reference), reference.dim, 2);
    sessions.push(ort);
    await assert.rejects(ort.run([new Float32Array(10)]), OnnxInferenceError);
    await assert.rejects(
      OnnxClassifier.load(new Uint8Array([1, 2, 3, 4]), 4096, 2),
      OnnxInferenceError,
    );
  });
});
