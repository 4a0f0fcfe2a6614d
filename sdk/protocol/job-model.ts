/**
 * A job's `JobModel` — what its algorithm's package says about the result vector — derived from the chain and IPFS
 * alone, identically by the aggregator, every attestor and the reporter (PROTOCOL.md §7.4–7.5):
 *
 *   package      `JobMarket.getJob(job).algorithmId` → `AlgorithmMarketplace.getAlgorithm` (package CID, on-chain
 *                model sha256) → `loadPackage` (the devices' own check: UnixFS-verified blocks, manifest schema,
 *                featurizer, sha256(model.onnx) against the manifest and the chain);
 *   classes      `manifest.outputLabels.length`;
 *   qualityClass the LAST output label (`outputLabels.length − 1`): the manifest names no quality class, so the rule
 *                is that a package lists its class of interest (the positive class: "spam" of ["ham", "spam"]) last
 *                (docs/relayers.md, "The job's model");
 *   confusion    `manifest.controlGroup.confusion` when the package publishes it (adjusted classify-and-count);
 *   privacy      `jobPrivacy(manifest.privacy, classes, session, kMin)` when the package adds DP noise, with the job's
 *                SecAgg session (roster size, encoding, threshold) and `ResultAttestation.params().kMin` — exactly
 *                what each device computes before adding its noise.
 *
 * A model taken from configuration instead (classes and quality class only) decodes a DP job's sum without its noise
 * and ignores the control group: its resultHash differs from the aggregator's.
 */
import type { Address, Hex, PublicClient } from "viem";
import { getAddress } from "viem";
import { z } from "zod";
import { protocolAbis } from "#sdk/chain/abi/index.ts";
import type { CohortMember } from "#sdk/chain/cohort.ts";
import type { ContentStore } from "#sdk/ipfs/index.ts";
import { loadPackage, type Manifest } from "#sdk/ml/index.ts";
import type { SecAggSessionConfig } from "#sdk/secagg/index.ts";
import {
  chainAttestorReads,
  type AttestorChainReads,
  type AttestorContracts,
} from "./attestor-chain.ts";
import { cohortListSchema } from "./cohort.ts";
import type { JobModel } from "./job-result.ts";
import { jobPrivacy } from "./result-privacy.ts";
import { expectedSession } from "./transcript-check.ts";

export type JobModelErrorCode = "CHAIN_READ" | "PACKAGE_INVALID" | "PRIVACY_INVALID";

export class JobModelError extends Error {
  readonly code: JobModelErrorCode;
  constructor(code: JobModelErrorCode, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.name = "JobModelError";
    this.code = code;
  }
}

/** The job's listed algorithm. */
export interface JobAlgorithm {
  algorithmId: bigint;
  packageCid: string;
  /** On-chain sha256 of model.onnx (bytes32 hex). */
  modelSha256: Hex;
}

/** The chain reads `jobModelOf` needs (on top of the attestor's: cohort root, session keys, job seed). */
export interface JobModelChainReads extends Pick<
  AttestorChainReads,
  "job" | "sessionKeysOf" | "jobSeed"
> {
  algorithmOf(jobId: bigint): Promise<JobAlgorithm>;
  /** `ResultAttestation.params().kMin`. */
  kMin(): Promise<number>;
}

export interface JobModelContracts extends AttestorContracts {
  AlgorithmMarketplace: Address;
}

export interface JobModelDeps {
  chain: JobModelChainReads;
  store: ContentStore;
  /** The job's cohort list, members in position order (the session's roster). */
  cohort: readonly CohortMember[];
  /** The chain and JobMarket the job's SecAgg session is bound to. */
  session: { chainId: number; jobMarket: Address };
}

/** The job's model and the manifest it was read from. */
export interface LoadedJobModel {
  model: JobModel;
  manifest: Manifest;
  algorithm: JobAlgorithm;
}

/** The quality class of a manifest: its last output label (the rule of this module's header). */
export function qualityClassOf(manifest: Pick<Manifest, "outputLabels">): number {
  return manifest.outputLabels.length - 1;
}

/**
 * The model of a manifest; a package with DP noise needs the job's session and kMin (`dp`).
 * @throws JobModelError PRIVACY_INVALID (a DP package without `dp`), PrivacyError
 */
export function jobModelOfManifest(
  manifest: Manifest,
  dp?: { session: SecAggSessionConfig; kMin: number },
): JobModel {
  const classes = manifest.outputLabels.length;
  if (manifest.privacy !== undefined && dp === undefined)
    throw new JobModelError(
      "PRIVACY_INVALID",
      "a DP package's model needs the job's session and kMin",
    );
  return {
    classes,
    qualityClass: qualityClassOf(manifest),
    ...(manifest.controlGroup ? { confusion: manifest.controlGroup.confusion } : {}),
    ...(manifest.privacy && dp
      ? { privacy: jobPrivacy(manifest.privacy, classes, dp.session, dp.kMin) }
      : {}),
  };
}

/** The job's model from its package. @throws JobModelError */
export async function jobModelOf(deps: JobModelDeps, jobId: bigint): Promise<LoadedJobModel> {
  const algorithm = await chainRead(`job ${jobId}'s algorithm`, () =>
    deps.chain.algorithmOf(jobId),
  );
  let manifest: Manifest;
  try {
    ({ manifest } = await loadPackage(deps.store, algorithm.packageCid, algorithm.modelSha256));
  } catch (e) {
    throw new JobModelError(
      "PACKAGE_INVALID",
      `job ${jobId}: package ${algorithm.packageCid} of algorithm ${algorithm.algorithmId}: ${message(e)}`,
      { cause: e },
    );
  }
  if (manifest.privacy === undefined)
    return { model: jobModelOfManifest(manifest), manifest, algorithm };
  const [job, keys, seed, kMin] = await chainRead(`job ${jobId}'s session`, () =>
    Promise.all([
      deps.chain.job(jobId),
      deps.chain.sessionKeysOf(
        jobId,
        deps.cohort.map((m) => m.device),
      ),
      deps.chain.jobSeed(jobId),
      deps.chain.kMin(),
    ]),
  );
  try {
    const session = expectedSession(
      { ...deps.session, graph: { cohortRoot: job.cohortRoot, jobSeed: seed } },
      jobId,
      deps.cohort,
      keys,
      manifest.outputLabels.length,
    );
    return { model: jobModelOfManifest(manifest, { session, kMin }), manifest, algorithm };
  } catch (e) {
    throw new JobModelError("PRIVACY_INVALID", `job ${jobId}: ${message(e)}`, { cause: e });
  }
}

type ReadClient = Pick<PublicClient, "readContract" | "getContractEvents">;

const hex32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/) as unknown as z.ZodType<Hex>;
const getJobSchema = z.looseObject({ algorithmId: z.bigint() });
const listingSchema = z.looseObject({ packageCid: z.string().min(1), modelSha256: hex32 });
const paramsSchema = z.looseObject({
  kMin: z.union([z.number(), z.bigint()]).transform((x) => Number(x)),
});

/** `jobModelOf`'s reads over a viem client (the attestor's reads plus the algorithm listing and kMin). */
export function chainJobModelReads(
  client: ReadClient,
  contracts: JobModelContracts,
  opts: { fromBlock?: bigint } = {},
): JobModelChainReads {
  const base = chainAttestorReads(client, contracts, opts);
  return {
    job: (jobId) => base.job(jobId),
    sessionKeysOf: (jobId, devices) => base.sessionKeysOf(jobId, devices),
    jobSeed: (jobId) => base.jobSeed(jobId),
    async algorithmOf(jobId) {
      const { algorithmId } = getJobSchema.parse(
        await client.readContract({
          address: contracts.JobMarket,
          abi: protocolAbis.JobMarket,
          functionName: "getJob",
          args: [jobId],
        }),
      );
      const listing = listingSchema.parse(
        await client.readContract({
          address: contracts.AlgorithmMarketplace,
          abi: protocolAbis.AlgorithmMarketplace,
          functionName: "getAlgorithm",
          args: [algorithmId],
        }),
      );
      return { algorithmId, packageCid: listing.packageCid, modelSha256: listing.modelSha256 };
    },
    async kMin() {
      return paramsSchema.parse(
        await client.readContract({
          address: contracts.ResultAttestation,
          abi: protocolAbis.ResultAttestation,
          functionName: "params",
        }),
      ).kMin;
    },
  };
}

const assignedSchema = z.looseObject({ args: z.looseObject({ cohortCid: z.string() }) });

/**
 * The job's cohort list as the distributor published it (the CID of its last `CohortAssigned` event), members in
 * position order. Not checked here: `replayTranscript` checks it against the on-chain root and size.
 */
export async function publishedCohortOf(
  client: ReadClient,
  jobMarket: Address,
  store: Pick<ContentStore, "getBytes">,
  jobId: bigint,
  fromBlock = 0n,
): Promise<CohortMember[]> {
  const logs = await client.getContractEvents({
    address: jobMarket,
    abi: protocolAbis.JobMarket,
    eventName: "CohortAssigned",
    args: { jobId },
    fromBlock,
  });
  const last = logs.at(-1);
  if (last === undefined) throw new Error(`job ${jobId} has no CohortAssigned event`);
  const cid = assignedSchema.parse(last).args.cohortCid;
  const list = cohortListSchema.parse(
    JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(await store.getBytes(cid))),
  );
  return list.members.map((m) => ({
    position: m.id - 1,
    connectedIndex: "connectedIndex" in m ? BigInt(m.connectedIndex) : 0n,
    device: getAddress(m.address),
  }));
}

async function chainRead<T>(what: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw new JobModelError("CHAIN_READ", `reading ${what}: ${message(e)}`, { cause: e });
  }
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
