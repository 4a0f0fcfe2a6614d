/**
 * What the aggregator reads before it opens a job's session: the cohort list the distributor published (checked
 * against the chain) and the job's model from the algorithm's package manifest.
 *
 * `loadJobModel` reads the manifest of `AlgorithmMarketplace.getAlgorithm(job.algorithmId).packageCid` (its
 * `modelSha256` checked against the on-chain one) before the session exists (the session needs `classes`), then
 * builds the model with the session as every attestor and the reporter do: `jobModelOfManifest`
 * (`sdk/protocol/job-model.ts`: the last label is the quality class, the control group's confusion matrix, DP with
 * the session and `kMin`).
 */
import type { Address, Hex, PublicClient } from "viem";
import { z } from "zod";
import { algorithmMarketplaceAbi } from "#sdk/chain/abi/AlgorithmMarketplace.ts";
import { jobMarketAbi } from "#sdk/chain/abi/JobMarket.ts";
import type { ContentStore } from "#sdk/ipfs/index.ts";
import { MANIFEST_FILE, manifestSchema, type Manifest } from "#sdk/ml/manifest.ts";
import type { AttestorContracts } from "#sdk/protocol/attestor-chain.ts";
import {
  cohortListSchema,
  cohortRoot,
  DRAWN_COHORT_LIST_VERSION,
  type CohortList,
} from "#sdk/protocol/cohort.ts";
import type { JobModel } from "#sdk/protocol/job-result.ts";
import { jobModelOfManifest } from "#sdk/protocol/job-model.ts";
import type { SecAggSessionConfig } from "#sdk/secagg/index.ts";

export interface AggregatorContracts extends AttestorContracts {
  AlgorithmMarketplace: Address;
}

export type AggregatorErrorCode =
  "COHORT_UNFETCHABLE" | "COHORT_INVALID" | "PACKAGE_UNFETCHABLE" | "PACKAGE_INVALID";

/** Bad input for a job's session. `permanent`: a retry cannot help (the content is there and wrong). */
export class AggregatorError extends Error {
  readonly code: AggregatorErrorCode;
  readonly permanent: boolean;
  constructor(code: AggregatorErrorCode, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.name = "AggregatorError";
    this.code = code;
    this.permanent = code === "COHORT_INVALID" || code === "PACKAGE_INVALID";
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The cohort list at `cid`, checked against the chain: a drawn (version 2) list for this job, of exactly the
 * on-chain `deviceCount` members (at least `kMin`), whose Merkle root is the on-chain cohort root.
 * @throws AggregatorError COHORT_UNFETCHABLE (retryable) | COHORT_INVALID (permanent)
 */
export async function loadCohort(
  store: Pick<ContentStore, "getBytes">,
  cid: string,
  expected: { jobId: bigint; root: Hex; deviceCount: number; kMin: number },
  timeoutMs = 30_000,
): Promise<CohortList> {
  let bytes: Uint8Array;
  try {
    bytes = await withTimeout(store.getBytes(cid), timeoutMs, `fetching ${cid}`);
  } catch (e) {
    throw new AggregatorError("COHORT_UNFETCHABLE", `cohort list ${cid}: ${message(e)}`, {
      cause: e,
    });
  }
  const bad = (why: string): never => {
    throw new AggregatorError(
      "COHORT_INVALID",
      `job ${expected.jobId}'s cohort list ${cid}: ${why}`,
    );
  };
  let json: unknown;
  try {
    json = JSON.parse(utf8.decode(bytes));
  } catch (e) {
    return bad(`not UTF-8 JSON (${message(e)})`);
  }
  const parsed = cohortListSchema.safeParse(json);
  if (!parsed.success) return bad(z.prettifyError(parsed.error).replace(/\n/g, "; "));
  const list = parsed.data;
  if (BigInt(list.jobId) !== expected.jobId) bad(`it is for job ${list.jobId}`);
  if (list.version !== DRAWN_COHORT_LIST_VERSION)
    bad(`a version-${list.version} list; a prediction job's cohort is drawn (version 2)`);
  const n = list.members.length;
  if (n < expected.kMin) bad(`${n} devices, fewer than kMin = ${expected.kMin}`);
  if (n !== expected.deviceCount) bad(`${n} devices, the chain assigned ${expected.deviceCount}`);
  if (list.members.some((m, i) => m.id !== i + 1)) bad("client ids are not 1…n in order");
  let root: Hex;
  try {
    root = cohortRoot(list);
  } catch (e) {
    return bad(message(e));
  }
  if (root.toLowerCase() !== expected.root.toLowerCase())
    bad(`its root ${root} is not the chain's ${expected.root}`);
  return list;
}

export interface ModelReads {
  publicClient: Pick<PublicClient, "readContract">;
  contracts: Pick<AggregatorContracts, "JobMarket" | "AlgorithmMarketplace">;
  store: Pick<ContentStore, "getFile">;
}

/** The job's model before the session exists (classes), and with it (the DP mechanism depends on the session). */
export interface LoadedJobModel {
  manifest: Manifest;
  classes: number;
  model(session: SecAggSessionConfig, kMin: number): JobModel;
}

const algorithmSchema = z.looseObject({
  packageCid: z.string().min(1),
  modelSha256: z.string().regex(/^0x[0-9a-fA-F]{64}$/),
});
const jobAlgorithmSchema = z.looseObject({
  algorithmId: z.union([z.number(), z.bigint()]).transform((x) => BigInt(x)),
});

/**
 * The job's model from its algorithm's package manifest (see the module comment).
 * @throws AggregatorError PACKAGE_UNFETCHABLE (retryable) | PACKAGE_INVALID (permanent)
 */
export async function loadJobModel(
  reads: ModelReads,
  jobId: bigint,
  timeoutMs = 30_000,
): Promise<LoadedJobModel> {
  const { algorithmId } = jobAlgorithmSchema.parse(
    await reads.publicClient.readContract({
      address: reads.contracts.JobMarket,
      abi: jobMarketAbi,
      functionName: "getJob",
      args: [jobId],
    }),
  );
  const alg = algorithmSchema.parse(
    await reads.publicClient.readContract({
      address: reads.contracts.AlgorithmMarketplace,
      abi: algorithmMarketplaceAbi,
      functionName: "getAlgorithm",
      args: [algorithmId],
    }),
  );
  let bytes: Uint8Array;
  try {
    bytes = await withTimeout(
      reads.store.getFile(alg.packageCid, MANIFEST_FILE),
      timeoutMs,
      `fetching ${alg.packageCid}/${MANIFEST_FILE}`,
    );
  } catch (e) {
    throw new AggregatorError(
      "PACKAGE_UNFETCHABLE",
      `algorithm ${algorithmId}'s package ${alg.packageCid}: ${message(e)}`,
      { cause: e },
    );
  }
  let manifest: Manifest;
  try {
    manifest = manifestSchema.parse(JSON.parse(utf8.decode(bytes)));
  } catch (e) {
    throw new AggregatorError(
      "PACKAGE_INVALID",
      `algorithm ${algorithmId}'s manifest in ${alg.packageCid}: ${message(e)}`,
      { cause: e },
    );
  }
  if (`0x${manifest.modelSha256}` !== alg.modelSha256.toLowerCase())
    throw new AggregatorError(
      "PACKAGE_INVALID",
      `algorithm ${algorithmId}'s manifest names model ${manifest.modelSha256}, the marketplace ${alg.modelSha256}`,
    );
  const classes = manifest.outputLabels.length;
  return {
    manifest,
    classes,
    // the same model every attestor and the reporter derive (sdk/protocol/job-model.ts)
    model: (session, kMin) => jobModelOfManifest(manifest, { session, kMin }),
  };
}

/** `p`, or a rejection after `ms` (IPFS reads of absent content wait forever otherwise). */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
