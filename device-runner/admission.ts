/**
 * What the device serves (PROTOCOL.md §7.3, §7.9): before a prediction job touches the data, the device checks
 *
 * 1. the owner's **local consent** (`consent.json`, authoritative for what the owner wants): the job's schema is one
 *    the owner serves, its algorithm is consented to (any in the schema, or listed), and the reward per device is at
 *    least the owner's price floor (`CONSENT_DENIED`, `BELOW_PRICE_FLOOR`); no consent file → `CONSENT_DENIED`;
 * 2. the **chain**: `DeviceRegistry.isEligible(device, schema, algorithmId, rewardPerDevice)` holds (`NOT_ELIGIBLE`) —
 *    the registration must agree with the owner's wish, or the cohort is a provable fault anyway;
 * 3. the **cohort** (in `fetchCohort`): a drawn (version-2) list of exactly the on-chain `deviceCount` members, at
 *    least `kMin` = max(`ResultAttestation.params().kMin`, the owner's `minCohort`), whose root is the on-chain
 *    `getJob(jobId).cohortRoot` (`COHORT_TOO_SMALL`, `COHORT_SIZE_MISMATCH`, `COHORT_ROOT_MISMATCH`);
 * 4. the **model's output** (`checkModelBounds`, after the package is verified and before ONNX runs): its classes
 *    and result vector length stay within the bounds below (`MODEL_OUT_OF_BOUNDS`).
 *
 * The job's terms (algorithm, reward, cohort root and size, schema and package) are read from the chain at serve
 * time, never taken from the job descriptor: a descriptor that disagrees with the chain is rejected. A refusal is a
 * `DeviceError` with one of `REFUSAL_CODES`; the runner records the job as `refused` and sends nothing.
 */
import { jobSeed } from "#sdk/chain/result.ts";
import { getAddress, type Address, type Hex } from "viem";
import { z } from "zod";
import { abiOf, type DevicePublicClient } from "./chain.ts";
import { contractAddress, type DeviceConfig } from "./config.ts";
import type { Consent } from "./consent.ts";
import { schemaHash } from "./dataset.ts";
import { DeviceError } from "./errors.ts";
import { resultVectorLength } from "#sdk/protocol/result-vector.ts";

// ------------------------------------------------------------------------------------------------ model bounds
//
// PROTOCOL.md §7.9: a device refuses "a model whose output would describe fewer than kMin devices (bounded classes
// and vector length)". Every coordinate of the result vector is a sum over the whole cohort, but a model chooses
// where each record's mass lands: an adversarial model can give a class of its own to the records of one device
// (an inbox fingerprint), and that class's coordinates then describe that device alone. With C classes a model can
// carve the cohort into at most C such groups, so the device requires C · kMin ≤ |cohort| — the classes, on
// average, each aggregate at least kMin devices — and never more than MAX_OUTPUT_CLASSES. Two classes are always
// allowed (the least a classifier has): what a binary model can still single out is the membership risk that
// distributed differential privacy (§7.10) bounds.

/** Largest number of output classes any job may have, whatever the cohort. */
export const MAX_OUTPUT_CLASSES = 16;
/** Largest result vector a device contributes (`classification-stats/v2`: 3 + 7C). */
export const MAX_RESULT_VECTOR_LENGTH = resultVectorLength(MAX_OUTPUT_CLASSES);
/** Classes allowed whatever the cohort size (a binary classifier). */
export const MIN_ALLOWED_CLASSES = 2;

/** The most output classes a model may have for a cohort of `cohortSize` devices and a minimum of `kMin`. */
export function maxOutputClasses(cohortSize: number, kMin: number): number {
  return Math.min(
    MAX_OUTPUT_CLASSES,
    Math.max(MIN_ALLOWED_CLASSES, Math.floor(cohortSize / Math.max(1, kMin))),
  );
}

/** @throws DeviceError MODEL_OUT_OF_BOUNDS */
export function checkModelBounds(classes: number, cohortSize: number, kMin: number): void {
  const max = maxOutputClasses(cohortSize, kMin);
  if (classes > max)
    throw new DeviceError(
      "MODEL_OUT_OF_BOUNDS",
      `the model has ${classes} output classes; a cohort of ${cohortSize} with kMin = ${kMin} allows at most ${max} (MAX_OUTPUT_CLASSES = ${MAX_OUTPUT_CLASSES})`,
    );
  const length = resultVectorLength(classes);
  if (length > MAX_RESULT_VECTOR_LENGTH)
    throw new DeviceError(
      "MODEL_OUT_OF_BOUNDS",
      `the result vector would have ${length} coordinates, more than MAX_RESULT_VECTOR_LENGTH = ${MAX_RESULT_VECTOR_LENGTH}`,
    );
}

// ------------------------------------------------------------------------------------------------ chain view

/** A job's terms as the chain states them (`JobMarket.getJob` + the algorithm's marketplace listing). */
export interface JobTerms {
  algorithmId: bigint;
  rewardPerDevice: bigint;
  cohortRoot: Hex;
  deviceCount: number;
  /** The algorithm's schema (bytes32). */
  schema: Hex;
  packageCid: string;
  modelSha256: Hex;
}

/** The chain reads admission needs (`chainView` on a live chain; tests may supply their own). */
export interface ChainView {
  /** The JobMarket whose jobs this view reads. */
  jobMarket(): Address;
  jobTerms(jobId: bigint): Promise<JobTerms>;
  /** `ResultAttestation.params().kMin`. */
  kMin(): Promise<number>;
  /** `DeviceRegistry.isEligible`. */
  isEligible(device: Address, schema: Hex, algorithmId: bigint, reward: bigint): Promise<boolean>;
  /** `DeviceRegistry.sessionKeysOf(devices)`: the registered SecAgg session keys, zero when unset (one call). */
  sessionKeysOf(devices: readonly Address[]): Promise<Hex[]>;
  /**
   * The job's seed, `keccak256(abi.encode(JobMarket.epochSeed(job.scheduledEpoch), "dml.job", jobId))` (the seed
   * its cohort was drawn from); the SecAgg neighbour graph derives from it and the cohort root.
   */
  jobSeed(jobId: bigint): Promise<Hex>;
  /**
   * The same reads at one block (the cohort's assignment block): every member of a cohort asks the same questions
   * at the same block, so a process hosting many devices answers them once (sdk/chain/shared-reads.ts). Only
   * `isEligible`, the device's own question, is still read at the latest block.
   */
  at?(blockNumber: bigint): ChainView;
}

export interface ChainViewAddresses {
  jobMarket: Address;
  marketplace: Address;
  registry: Address;
  attestation: Address;
}

const hex32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/);
const getJobSchema = z.looseObject({
  scheduledEpoch: z.number().int().min(0),
  algorithmId: z.bigint(),
  rewardPerDevice: z.bigint(),
  cohortRoot: hex32,
  deviceCount: z.number().int().min(0),
});
const listingSchema = z.looseObject({
  schema: hex32,
  packageCid: z.string().min(1),
  modelSha256: hex32,
});
const paramsSchema = z.looseObject({ kMin: z.number().int().min(1) });

async function chainRead<T>(what: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof DeviceError) throw e;
    throw new DeviceError(
      "CHAIN",
      `${what}: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`,
      { cause: e },
    );
  }
}

/** Admission's chain reads on a live chain; addresses are resolved on each read (so a missing one fails the job). */
export function chainView(
  pub: DevicePublicClient,
  addresses: () => ChainViewAddresses,
  blockNumber?: bigint,
): ChainView {
  // every read at `blockNumber` when pinned, at the latest block otherwise
  const at = blockNumber === undefined ? {} : { blockNumber };
  return {
    at: (b) => chainView(pub, addresses, b),
    jobMarket: () => addresses().jobMarket,
    jobTerms: (jobId) =>
      chainRead(`JobMarket.getJob(${jobId})`, async () => {
        const a = addresses();
        const job = getJobSchema.parse(
          await pub.readContract({
            ...at,
            address: a.jobMarket,
            abi: abiOf("JobMarket"),
            functionName: "getJob",
            args: [jobId],
          }),
        );
        const alg = listingSchema.parse(
          await pub.readContract({
            ...at,
            address: a.marketplace,
            abi: abiOf("AlgorithmMarketplace"),
            functionName: "getAlgorithm",
            args: [job.algorithmId],
          }),
        );
        return {
          algorithmId: job.algorithmId,
          rewardPerDevice: job.rewardPerDevice,
          cohortRoot: job.cohortRoot as Hex,
          deviceCount: job.deviceCount,
          schema: alg.schema as Hex,
          packageCid: alg.packageCid,
          modelSha256: alg.modelSha256 as Hex,
        };
      }),
    kMin: () =>
      chainRead("ResultAttestation.params", async () => {
        const p = paramsSchema.parse(
          await pub.readContract({
            ...at,
            address: addresses().attestation,
            abi: abiOf("ResultAttestation"),
            functionName: "params",
          }),
        );
        return p.kMin;
      }),
    isEligible: (device, schema, algorithmId, reward) =>
      chainRead("DeviceRegistry.isEligible", async () => {
        const ok = await pub.readContract({
          // the latest block even in a pinned view: the device's own eligibility now (a consent it withdrew on chain
          // after the assignment counts), and a question no other device asks (nothing to share)
          address: addresses().registry,
          abi: abiOf("DeviceRegistry"),
          functionName: "isEligible",
          args: [device, schema, algorithmId, reward],
        });
        return z.boolean().parse(ok);
      }),
    sessionKeysOf: (devices) =>
      chainRead("DeviceRegistry.sessionKeysOf", async () => {
        const keys = await pub.readContract({
          ...at,
          address: addresses().registry,
          abi: abiOf("DeviceRegistry"),
          functionName: "sessionKeysOf",
          args: [devices],
        });
        const parsed = z.array(hex32).parse(keys) as Hex[];
        if (parsed.length !== devices.length)
          throw new DeviceError("CHAIN", "sessionKeysOf answered another number of keys");
        return parsed;
      }),
    jobSeed: (jobId) =>
      chainRead(`JobMarket.epochSeed(job ${jobId})`, async () => {
        const a = addresses();
        const abi = abiOf("JobMarket");
        const job = getJobSchema.parse(
          await pub.readContract({
            ...at,
            address: a.jobMarket,
            abi,
            functionName: "getJob",
            args: [jobId],
          }),
        );
        const epochSeed = hex32.parse(
          await pub.readContract({
            ...at,
            address: a.jobMarket,
            abi,
            functionName: "epochSeed",
            args: [BigInt(job.scheduledEpoch)],
          }),
        ) as Hex;
        if (/^0x0{64}$/.test(epochSeed))
          throw new DeviceError("CHAIN", `job ${jobId}'s epoch seed is not fixed yet`);
        return jobSeed(epochSeed, jobId);
      }),
  };
}

/** The chain view of a device configuration (JobMarket, AlgorithmMarketplace, DeviceRegistry, ResultAttestation). */
export function chainViewOf(pub: DevicePublicClient, config: DeviceConfig): ChainView {
  return chainView(pub, () => ({
    jobMarket: contractAddress(config, "JobMarket"),
    marketplace: contractAddress(config, "AlgorithmMarketplace"),
    registry: contractAddress(config, "DeviceRegistry"),
    attestation: contractAddress(config, "ResultAttestation"),
  }));
}

// ------------------------------------------------------------------------------------------------ admission

/** What a prediction job descriptor claims (checked against the chain's terms). */
export interface PredictionJobClaim {
  jobId: bigint;
  jobMarket: string;
  schema: string;
  packageCid: string;
  modelSha256: string;
}

const sameHex = (a: string, b: string) =>
  a.toLowerCase().replace(/^0x/, "") === b.toLowerCase().replace(/^0x/, "");

/**
 * Consent, price floor and eligibility of a prediction job (steps 1–2 above); returns the chain's terms and the
 * `kMin` the cohort must meet (steps 3–4 follow once the cohort and the package are fetched).
 * @throws DeviceError CONSENT_DENIED | BELOW_PRICE_FLOOR | NOT_ELIGIBLE | SCHEMA_MISMATCH | PACKAGE_INVALID | CHAIN
 */
export async function admitPredictionJob(opts: {
  job: PredictionJobClaim;
  chain: ChainView;
  consent: Consent | undefined;
  device: Address;
}): Promise<{ terms: JobTerms; kMin: number }> {
  const { job, chain, consent } = opts;
  const id = job.jobId.toString();
  if (consent === undefined)
    throw new DeviceError(
      "CONSENT_DENIED",
      `job ${id}: the owner has given no consent (consent.json; run dml-device consent)`,
    );
  if (getAddress(job.jobMarket) !== getAddress(chain.jobMarket()))
    throw new DeviceError(
      "CHAIN",
      `job ${id} names JobMarket ${job.jobMarket}; this device follows ${chain.jobMarket()}`,
    );
  const terms = await chain.jobTerms(job.jobId);
  if (!sameHex(terms.schema, job.schema))
    throw new DeviceError(
      "SCHEMA_MISMATCH",
      `job ${id}: the descriptor names schema ${job.schema}, algorithm ${terms.algorithmId} is listed for ${terms.schema}`,
    );
  if (terms.packageCid !== job.packageCid || !sameHex(terms.modelSha256, job.modelSha256))
    throw new DeviceError(
      "PACKAGE_INVALID",
      `job ${id}: the descriptor names package ${job.packageCid}, algorithm ${terms.algorithmId} is listed as ${terms.packageCid} (${terms.modelSha256})`,
    );
  const schemaId = consent.schemas.find((s) => sameHex(schemaHash(s), terms.schema));
  if (schemaId === undefined)
    throw new DeviceError(
      "CONSENT_DENIED",
      `job ${id}: schema ${terms.schema} is not one the owner consented to (${consent.schemas.join(", ")})`,
    );
  if (!consent.anyAlgorithmInSchema && !consent.algorithms.includes(terms.algorithmId))
    throw new DeviceError(
      "CONSENT_DENIED",
      `job ${id}: algorithm ${terms.algorithmId} is outside the owner's consent (${consent.algorithms.length > 0 ? consent.algorithms.join(", ") : "none listed"})`,
    );
  if (terms.rewardPerDevice < consent.priceFloor)
    throw new DeviceError(
      "BELOW_PRICE_FLOOR",
      `job ${id}: reward ${terms.rewardPerDevice} per device is below the owner's price floor ${consent.priceFloor} (token wei)`,
    );
  if (
    !(await chain.isEligible(opts.device, terms.schema, terms.algorithmId, terms.rewardPerDevice))
  )
    throw new DeviceError(
      "NOT_ELIGIBLE",
      `job ${id}: DeviceRegistry.isEligible(${opts.device}, ${terms.schema}, ${terms.algorithmId}, ${terms.rewardPerDevice}) is false`,
    );
  const kMin = Math.max(await chain.kMin(), consent.minCohort ?? 0);
  return { terms, kMin };
}
