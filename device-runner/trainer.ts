/**
 * Trainer mode (PROTOCOL.md §5): train locally from the round's published weights on the owner's labelled (and
 * corrected) records, clip the update to L2 ≤ clipNorm and send it, with the sample count, through secure aggregation
 * in the trainer's group. The update vector is `[Δ (flatten layout: W…, b…), n / SAMPLE_SCALE]`.
 */
import {
  clipL2,
  decodeLogRegOnnx,
  flatten,
  parameterCount,
  recordText,
  trainFrom,
  weightDelta,
  type LoadedPackage,
  type LogRegWeights,
} from "#sdk/ml/index.ts";
import type { ContentStore } from "#sdk/ipfs/index.ts";
import type { PollOptions } from "#sdk/secagg/index.ts";
import type { Logger } from "pino";
import type { Address, Hex } from "viem";
import { z } from "zod";
import { fetchCohort } from "#sdk/protocol/cohort.ts";
import { labelledRecords, loadCorrections } from "./corrections.ts";
import { loadDataset, type DatasetRecord } from "./dataset.ts";
import { DeviceError } from "./errors.ts";
import type { DevicePaths } from "./paths.ts";
import type { ChainView } from "./admission.ts";
import {
  aggregate,
  checkPackageFitsSchema,
  loadVerifiedPackage,
  schemaIdOf,
  cohortSessionKeys,
  type DeviceSigner,
} from "./prediction-job.ts";
import { SAMPLE_SCALE, trainingSessionConfig } from "#sdk/protocol/session.ts";
import { TRAINING_DEFAULTS } from "#sdk/protocol/training-round.ts";

const hex32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/);

export const trainingJobSchema = z.strictObject({
  kind: z.literal("train"),
  chainId: z.number().int().positive(),
  fineTuning: z.string().regex(/^0x[0-9a-fA-F]{40}$/),
  bountyId: z.coerce.bigint(),
  round: z.coerce.bigint(),
  group: z.number().int().min(0).max(0xffffffff),
  /** Merkle root and CID of the group's member list (cohort-list format, jobId = bountyId). */
  groupRoot: hex32,
  groupCid: z.string().min(1),
  /** The round's starting package (current version of the algorithm) and its on-chain model hash. */
  packageCid: z.string().min(1),
  modelSha256: z.string().regex(/^(0x)?[0-9a-fA-F]{64}$/),
  schema: hex32,
  aggregatorUrl: z.url(),
  epochs: z.number().int().min(1).max(100).default(TRAINING_DEFAULTS.epochs),
  learningRate: z.number().positive().max(100).default(TRAINING_DEFAULTS.learningRate),
  clipNorm: z.number().positive().max(1000).default(TRAINING_DEFAULTS.clipNorm),
});
export type TrainingJob = z.infer<typeof trainingJobSchema>;

/**
 * The owner's training rows for `schemaId`: imported records with a label (`dml-device data import` keeps a JSONL
 * `label`), a correction (`train review`) overriding it; at most `SAMPLE_SCALE` rows (the sample count's encoding).
 * @throws DeviceError DATASET_MISSING | DATASET_INVALID | CORRECTIONS_INVALID (also when no record is labelled)
 */
export async function trainingRows(
  paths: Pick<DevicePaths, "datasets" | "corrections">,
  schemaId: string,
): Promise<{ record: DatasetRecord; label: 0 | 1 }[]> {
  const dataset = await loadDataset(paths.datasets, schemaId);
  const rows = labelledRecords(dataset.records, await loadCorrections(paths.corrections, schemaId));
  if (rows.length === 0)
    throw new DeviceError(
      "CORRECTIONS_INVALID",
      "no labelled records to train on (import labels or corrections)",
    );
  if (rows.length > SAMPLE_SCALE) rows.length = SAMPLE_SCALE;
  return rows;
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
 * `clipL2(after − before, clipNorm)` and the vector sent, `[Δ, n / SAMPLE_SCALE]`. @throws DeviceError
 * PACKAGE_INVALID when the model's shape is not its manifest's
 */
export function localUpdate(
  pkg: LoadedPackage,
  rows: readonly { record: Pick<DatasetRecord, "subject" | "body">; label: 0 | 1 }[],
  opts: Pick<TrainingJob, "epochs" | "learningRate" | "clipNorm">,
): { before: LogRegWeights; after: LogRegWeights; delta: Float64Array; vector: Float64Array } {
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
    throw new DeviceError("PACKAGE_INVALID", "model shape does not match its manifest");
  const vector = new Float64Array(delta.length + 1);
  vector.set(delta);
  vector[delta.length] = rows.length / SAMPLE_SCALE;
  return { before, after, delta, vector };
}

export async function runTrainingJob(opts: {
  job: TrainingJob;
  store: ContentStore;
  account: DeviceSigner;
  /** Reads the group members' session keys (`DeviceRegistry.sessionKeysOf`). */
  chain: Pick<ChainView, "sessionKeysOf">;
  paths: DevicePaths;
  poll?: PollOptions;
  log?: Logger;
  onVector?: (v: Float64Array) => void;
}): Promise<{ clientId: number; samples: number; updateNorm: number }> {
  const { job, store } = opts;
  const schemaId = schemaIdOf(job.schema);
  const { list, clientId } = await fetchCohort(store, job.groupCid, {
    root: job.groupRoot as Hex,
    jobId: job.bountyId,
    device: opts.account.address,
  });
  const sessionKeys = await cohortSessionKeys(
    opts.chain,
    list.members,
    { clientId, session: opts.account.session },
    Math.min(3, list.members.length),
  );
  const pkg = await loadVerifiedPackage(store, job.packageCid, job.modelSha256);
  checkPackageFitsSchema(pkg, schemaId);
  const rows = await trainingRows(opts.paths, schemaId);
  const { delta, vector } = localUpdate(pkg, rows, job);
  opts.onVector?.(vector);
  const config = trainingSessionConfig({
    chainId: job.chainId,
    fineTuning: job.fineTuning as Address,
    bountyId: job.bountyId,
    round: job.round,
    group: job.group,
    members: list.members,
    sessionKeys,
    parameters: delta.length,
    clipNorm: job.clipNorm,
  });
  await aggregate({
    baseUrl: job.aggregatorUrl,
    config,
    id: clientId,
    account: opts.account.session,
    input: vector,
    poll: opts.poll,
  });
  let norm = 0;
  for (const d of delta) norm += d * d;
  opts.log?.info(
    { bountyId: job.bountyId.toString(), round: job.round.toString(), samples: rows.length },
    "update sent",
  );
  return { clientId, samples: rows.length, updateNorm: Math.sqrt(norm) };
}
