/**
 * Running a verified package on local records, as a device does: `recordText` per the manifest's
 * input schema → the package's featurizer → ONNX Runtime, in batches.
 */
import { recordText } from "./manifest.ts";
import { openClassifier, type LoadedPackage } from "./package.ts";

export interface Prediction {
  /** Probability per output label, in `manifest.outputLabels` order. */
  probabilities: Float32Array;
  /** Index of the most probable label (lowest index on ties). */
  label: number;
}

/** Classifies `records` with `pkg`; opens and releases its own ONNX Runtime session. */
export async function classifyRecords(
  pkg: LoadedPackage,
  records: readonly Readonly<Record<string, string | undefined>>[],
  batchSize = 256,
): Promise<Prediction[]> {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError("batchSize must be >= 1");
  const session = await openClassifier(pkg);
  try {
    const out: Prediction[] = [];
    for (let i = 0; i < records.length; i += batchSize) {
      const rows = records
        .slice(i, i + batchSize)
        .map((r) => pkg.featurizer.featurize(recordText(pkg.manifest.inputSchema, r)));
      for (const probabilities of await session.run(rows)) {
        let label = 0;
        probabilities.forEach((p, k) => {
          if (p > (probabilities[label] ?? 0)) label = k;
        });
        out.push({ probabilities, label });
      }
    }
    return out;
  } finally {
    await session.release();
  }
}
