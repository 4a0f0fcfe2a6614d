/**
 * A trainer's local step of a fine-tuning round (PROTOCOL.md §5), shared by the device runner (`device-runner/
 * trainer.ts`) and the benchmarks: train from the round's weights on the owner's labelled records with the prior-shift
 * correction, clip the update, and lay out the vector sent through secure aggregation, `[Δ, n / SAMPLE_SCALE]`.
 */
import {
  clipL2,
  decodeLogRegOnnx,
  flatten,
  LogRegShapeError,
  parameterCount,
  recordText,
  trainFrom,
  weightDelta,
  type LoadedPackage,
  type LogRegWeights,
} from "#sdk/ml/index.ts";
import { SAMPLE_SCALE } from "./session.ts";

export interface LocalUpdate {
  before: LogRegWeights;
  after: LogRegWeights;
  delta: Float64Array;
  vector: Float64Array;
}

/**
 * The prior-shift correction a trainer adds to the logits while training (`TrainOptions.logitOffset`):
 * `log(π_local[k] / π[k])` per class, where π is the class shares of the package's control group (the row sums of
 * `manifest.controlGroup.confusion`, a sample of the population the model serves) and π_local the trainer's own
 * label shares, both add-one smoothed. An inbox that holds mostly ham then trains the model towards the population's
 * posterior instead of its own prior (the inboxes differ in their spam share, not in what spam looks like). Empty
 * when the manifest has no control group or its classes are not the model's.
 */
export function priorShiftOffset(
  manifest: LoadedPackage["manifest"],
  labels: readonly number[],
): number[] {
  const classes = manifest.outputLabels.length;
  const confusion = manifest.controlGroup?.confusion;
  if (confusion?.length !== classes) return [];
  const population = confusion.map((row) => row.reduce((s, v) => s + v, 0) + 1);
  const local = new Array<number>(classes).fill(1);
  for (const y of labels) if (y >= 0 && y < classes) local[y]! += 1;
  const popTotal = population.reduce((s, v) => s + v, 0);
  const localTotal = local.reduce((s, v) => s + v, 0);
  return local.map((n, k) => Math.log(n / localTotal / (population[k]! / popTotal)));
}

/**
 * One trainer's local update: `trainFrom(before, rows, epochs)` with the prior-shift offset, Δ =
 * `clipL2(after − before, clipNorm)` and the vector sent, `[Δ, n / SAMPLE_SCALE]`. @throws
 * LogRegShapeError when the model's shape is not its manifest's
 */
export function localUpdate(
  pkg: LoadedPackage,
  rows: readonly { record: { subject: string; body: string }; label: 0 | 1 }[],
  opts: { epochs: number; learningRate: number; clipNorm: number },
): LocalUpdate {
  const before = decodeLogRegOnnx(pkg.model);
  const classes = pkg.manifest.outputLabels.length;
  const x = rows.map((r) =>
    pkg.featurizer.featurize(
      recordText(pkg.manifest.inputSchema, { subject: r.record.subject, body: r.record.body }),
    ),
  );
  const y = rows.map((r) => r.label);
  const after = trainFrom(before, { x, y }, opts.epochs, {
    learningRate: opts.learningRate,
    logitOffset: priorShiftOffset(pkg.manifest, y),
  });
  const delta = clipL2(weightDelta(before, after), opts.clipNorm);
  if (
    delta.length !== flatten(before).length ||
    delta.length !== parameterCount(classes, before.dim)
  )
    throw new LogRegShapeError("model shape does not match its manifest");
  const vector = new Float64Array(delta.length + 1);
  vector.set(delta);
  vector[delta.length] = rows.length / SAMPLE_SCALE;
  return { before, after, delta, vector };
}
