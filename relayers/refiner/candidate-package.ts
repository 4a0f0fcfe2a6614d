/**
 * The refiner's packaging (PROTOCOL.md §5): the round's starting package as the marketplace lists it, the bounty's
 * control set featurized with that package's featurizer, and the candidate package built from new weights — the
 * base manifest's fields, a new version, `parent` = the base package, and the candidate's control-group confusion
 * measured with ONNX Runtime as `sdk/ml/reference.ts` measures the reference package's.
 */
import type { Address, Hex } from "viem";
import { z } from "zod";
import { algorithmMarketplaceAbi } from "#sdk/chain/abi/AlgorithmMarketplace.ts";
import type { ChainPublicClient } from "#sdk/chain/clients.ts";
import type { ContentStore } from "#sdk/ipfs/index.ts";
import {
  buildClassifierPackage,
  decodeLogRegOnnx,
  loadPackage,
  measureConfusion,
  publishPackage,
  recordsSha256,
  recordText,
  type LabelledVectors,
  type LoadedPackage,
  type LogRegWeights,
  type Manifest,
} from "#sdk/ml/index.ts";
import type { LabelledSet } from "#sdk/protocol/training-round.ts";
import type { Candidate } from "./Refiner.ts";

export type CandidatePackageErrorCode = "LABELS_MISMATCH" | "VERSION_INVALID";

export class CandidatePackageError extends Error {
  readonly code: CandidatePackageErrorCode;
  override readonly name = "CandidatePackageError";
  constructor(code: CandidatePackageErrorCode, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.code = code;
  }
}

/** A round's starting package: the loaded package and its weights. */
export interface BasePackage {
  algorithmId: bigint;
  pkg: LoadedPackage;
  /** The marketplace's model hash (0x-prefixed). */
  modelSha256: Hex;
  weights: LogRegWeights;
}

const listingSchema = z.looseObject({
  packageCid: z.string().min(1),
  modelSha256: z.string().regex(/^0x[0-9a-fA-F]{64}$/),
});

/** Loads marketplace version `algorithmId`'s package (checked against its on-chain model hash) and its weights. */
export async function loadBasePackage(
  client: ChainPublicClient,
  marketplace: Address,
  store: ContentStore,
  algorithmId: bigint,
): Promise<BasePackage> {
  const listing = listingSchema.parse(
    await client.readContract({
      address: marketplace,
      abi: algorithmMarketplaceAbi,
      functionName: "getAlgorithm",
      args: [algorithmId],
    }),
  );
  const pkg = await loadPackage(store, listing.packageCid, listing.modelSha256);
  return {
    algorithmId,
    pkg,
    modelSha256: listing.modelSha256 as Hex,
    weights: decodeLogRegOnnx(pkg.model),
  };
}

/** The set's records featurized with the package's featurizer. @throws CandidatePackageError LABELS_MISMATCH */
export function featurizeSet(pkg: LoadedPackage, set: LabelledSet): LabelledVectors {
  const labels = pkg.manifest.outputLabels;
  if (labels.length !== set.labels.length || labels.some((l, i) => l !== set.labels[i]))
    throw new CandidatePackageError(
      "LABELS_MISMATCH",
      `the set "${set.name}" has labels [${set.labels.join(", ")}], the package [${labels.join(", ")}]`,
    );
  return {
    x: set.records.map((r) =>
      pkg.featurizer.featurize(
        recordText(pkg.manifest.inputSchema, { subject: r.subject, body: r.body }),
      ),
    ),
    y: set.records.map((r) => r.label),
  };
}

/**
 * The candidate's version: the base's patch + 1 with build metadata naming the bounty and round
 * (`1.0.0` → `1.0.1+ft.4.1`). @throws CandidatePackageError VERSION_INVALID
 */
export function candidateVersion(base: string, bountyId: bigint, round: number): string {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(base);
  if (m === null) throw new CandidatePackageError("VERSION_INVALID", `version ${base}`);
  return `${m[1]}.${m[2]}.${Number(m[3]) + 1}+ft.${bountyId}.${round}`;
}

/**
 * Builds and publishes the candidate package: `weights` in the base manifest's format, with the confusion matrix on
 * the control set. Returns the package CID and the 0x-prefixed sha256 of its model.onnx (`FineTuning`'s bytes32).
 */
export async function publishCandidate(opts: {
  store: ContentStore;
  base: BasePackage;
  weights: LogRegWeights;
  bountyId: bigint;
  round: number;
  control: { cid: string; set: LabelledSet; vectors: LabelledVectors };
}): Promise<Candidate> {
  const { base, control } = opts;
  const { modelSha256: _sha, controlGroup: _control, ...rest } = base.pkg.manifest;
  const fields: Omit<Manifest, "modelSha256"> = {
    ...rest,
    version: candidateVersion(base.pkg.manifest.version, opts.bountyId, opts.round),
    parent: base.pkg.cid,
  };
  const { model } = buildClassifierPackage(opts.weights, fields);
  const confusion = await measureConfusion(
    model,
    base.pkg.featurizer.dim,
    fields.outputLabels.length,
    control.vectors,
  );
  const built = buildClassifierPackage(opts.weights, {
    ...fields,
    controlGroup: {
      source: `labelled set ${control.cid} (FineTuning bounty ${opts.bountyId} control group)`,
      recordsSha256: recordsSha256(control.set.records.map((r) => r.id)),
      confusion,
    },
  });
  const modelCid = await publishPackage(opts.store, built.manifest, built.model);
  return { modelCid, modelSha256: `0x${built.manifest.modelSha256}` };
}
