/**
 * Trainer mode (PROTOCOL.md §5): train locally from the round's published weights on the owner's labelled (and
 * corrected) records, clip the update to L2 ≤ clipNorm and send it, with the sample count, through secure aggregation
 * in the trainer's group. The update vector is `[Δ (flatten layout: W…, b…), n / SAMPLE_SCALE]`.
 */
import { LogRegShapeError, type LoadedPackage } from "#sdk/ml/index.ts";
import {
  localUpdate as sdkLocalUpdate,
  priorShiftOffset,
  type LocalUpdate,
} from "#sdk/protocol/local-update.ts";
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

export { priorShiftOffset };

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
 * One trainer's local update (`sdk/protocol/local-update.ts`), a model whose shape is not its manifest's refused as
 * PACKAGE_INVALID. @throws DeviceError
 */
export function localUpdate(
  pkg: LoadedPackage,
  rows: readonly { record: Pick<DatasetRecord, "subject" | "body">; label: 0 | 1 }[],
  opts: Pick<TrainingJob, "epochs" | "learningRate" | "clipNorm">,
): LocalUpdate {
  try {
    return sdkLocalUpdate(pkg, rows, opts);
  } catch (e) {
    if (e instanceof LogRegShapeError)
      throw new DeviceError("PACKAGE_INVALID", e.message, { cause: e });
    throw e;
  }
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
