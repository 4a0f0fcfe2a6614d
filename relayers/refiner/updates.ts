/**
 * The refiner's model arithmetic on the groups' securely aggregated updates (PROTOCOL.md §5). A trainer's vector
 * is `[clipped Δ (flatten layout), n / SAMPLE_SCALE]` (device-runner/trainer.ts), so a group's decoded SecAgg sum
 * is `[Σ Δ, Σ n / SAMPLE_SCALE]`: its mean update is `Σ Δ / |survivors|` and its sample count `Σ n`. Each group's
 * mean update is applied alone to the round's model and scored on the public control group (the gain, 1e18 fixed
 * point); the candidate applies the mean over the kept groups' members.
 */
import { accuracy, applyDelta, type LabelledVectors, type LogRegWeights } from "#sdk/ml/index.ts";
import { SAMPLE_SCALE } from "#sdk/protocol/session.ts";

const E18 = 10n ** 18n;

/** One group's aggregate, decoded: the sum of its survivors' vectors. */
export interface GroupSum {
  group: number;
  survivors: number;
  /** The decoded SecAgg sum, `parameters + 1` values. */
  sum: ArrayLike<number>;
}

export class RefinerUpdateError extends Error {
  readonly code = "UPDATE_SHAPE";
  override readonly name = "RefinerUpdateError";
}

/** A group's mean update and aggregate sample count. @throws RefinerUpdateError */
export function meanUpdateOf(
  g: GroupSum,
  parameters: number,
): { delta: Float64Array; samples: bigint } {
  if (g.sum.length !== parameters + 1)
    throw new RefinerUpdateError(
      `group ${g.group}: ${g.sum.length} values for ${parameters} parameters + the sample count`,
    );
  if (!(g.survivors > 0)) throw new RefinerUpdateError(`group ${g.group}: no survivors`);
  const delta = new Float64Array(parameters);
  for (let i = 0; i < parameters; i++) delta[i] = (g.sum[i] ?? 0) / g.survivors;
  const samples = BigInt(Math.max(0, Math.round((g.sum[parameters] ?? 0) * SAMPLE_SCALE)));
  return { delta, samples };
}

/** Accuracy as a 1e18 fixed-point metric (what `FineTuning` compares). */
export function fixedMetric(weights: LogRegWeights, data: LabelledVectors): bigint {
  return (BigInt(Math.round(accuracy(weights, data) * 1e9)) * E18) / 10n ** 9n;
}

/** The control-group gain of applying `delta` to `weights` (fixed point 1e18; negative when it hurts). */
export function controlGain(
  weights: LogRegWeights,
  delta: ArrayLike<number>,
  control: LabelledVectors,
): bigint {
  return fixedMetric(applyDelta(weights, delta), control) - fixedMetric(weights, control);
}

/** The candidate: `weights` plus the mean update over the kept groups' survivors. @throws RefinerUpdateError */
export function candidateWeights(
  weights: LogRegWeights,
  kept: readonly GroupSum[],
  parameters: number,
): LogRegWeights {
  const members = kept.reduce((s, g) => s + g.survivors, 0);
  if (members === 0) throw new RefinerUpdateError("no kept group");
  const total = new Float64Array(parameters);
  for (const g of kept) {
    meanUpdateOf(g, parameters); // shape check
    for (let i = 0; i < parameters; i++) total[i]! += g.sum[i] ?? 0;
  }
  return applyDelta(weights, total, 1 / members);
}
