/**
 * One prediction job on one device (PROTOCOL.md §4 step 4–5): decide whether to serve it (admission.ts: the owner's
 * consent and price floor, on-chain eligibility), verify the cohort against the chain's root, size and kMin, fetch
 * and verify the package against the on-chain model hash and the model-output bounds, run ONNX Runtime over the
 * authorised local dataset, reduce the outputs to the result vector and take part in secure aggregation. Only masked
 * vectors and SecAgg protocol messages leave the device, and nothing leaves it before every check passed.
 *
 * A package with a privacy block (docs/privacy.md) makes it a DP job: the device reads at most `maxRecords` records,
 * checks the job's ρ against the owner's ledger before reading any data, reserves it durably just before the masked
 * input leaves, and adds its share of discrete Gaussian noise to the encoded vector before masking.
 */
import { classifyRecords, loadPackage, PackageError, type LoadedPackage } from "#sdk/ml/index.ts";
import type { ContentStore } from "#sdk/ipfs/index.ts";
import {
  runSecAggHttpClient,
  SecAggError,
  type HttpClientRun,
  type PollOptions,
} from "#sdk/secagg/index.ts";
import type { Logger } from "pino";
import type { Address, Hex, LocalAccount } from "viem";
import type { SessionSigner } from "#sdk/crypto/session-key.ts";
import { z } from "zod";
import { admitPredictionJob, checkModelBounds, type ChainView } from "./admission.ts";
import { fetchCohort, type CohortList } from "#sdk/protocol/cohort.ts";
import type { Consent } from "./consent.ts";
import { KNOWN_SCHEMAS, loadDataset, schemaHash } from "./dataset.ts";
import { PrivacyError } from "#sdk/privacy/index.ts";
import { DeviceError } from "./errors.ts";
import { DEFAULT_PRIVACY_BUDGET, PrivacyLedger } from "./privacy-ledger.ts";
import { jobPrivacy, noisyResultVector, type JobPrivacy } from "#sdk/protocol/result-privacy.ts";
import { reduceToResultVector } from "#sdk/protocol/result-vector.ts";
import { jobSessionConfig, MAX_RECORDS_PER_JOB } from "#sdk/protocol/session.ts";

const hex32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/);
const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/);

/** What the chain says about an assigned job (built by the chain watcher from CohortAssigned + getJob + listing). */
export const predictionJobSchema = z.strictObject({
  kind: z.literal("predict"),
  jobId: z.coerce.bigint(),
  chainId: z.number().int().positive(),
  jobMarket: address,
  cohortRoot: hex32,
  cohortCid: z.string().min(1),
  packageCid: z.string().min(1),
  modelSha256: z.string().regex(/^(0x)?[0-9a-fA-F]{64}$/),
  /** bytes32 schema id of the job (keccak256 of the schema name). */
  schema: hex32,
  /** Aggregator endpoint (from NodeStaking). */
  aggregatorUrl: z.url(),
  attempt: z.number().int().min(0).max(0xffffffff).default(0),
  /** The block of the `CohortAssigned` event: admission reads the chain at this block (absent: the latest). */
  assignedBlock: z.coerce.bigint().min(0n).optional(),
});
export type PredictionJob = z.infer<typeof predictionJobSchema>;

export function schemaIdOf(hash: string): string {
  const id = Object.keys(KNOWN_SCHEMAS).find(
    (s) => schemaHash(s).toLowerCase() === hash.toLowerCase(),
  );
  if (id === undefined)
    throw new DeviceError("UNKNOWN_SCHEMA", `job schema ${hash} is not one this device serves`);
  return id;
}

export async function loadVerifiedPackage(
  store: ContentStore,
  cid: string,
  modelSha256: string,
): Promise<LoadedPackage> {
  try {
    return await loadPackage(store, cid, modelSha256);
  } catch (e) {
    if (e instanceof PackageError)
      throw new DeviceError("PACKAGE_INVALID", `package ${cid}: ${e.code}: ${e.message}`, {
        cause: e,
      });
    throw new DeviceError(
      "PACKAGE_INVALID",
      `package ${cid}: ${e instanceof Error ? e.message : String(e)}`,
      { cause: e },
    );
  }
}

export function checkPackageFitsSchema(pkg: LoadedPackage, schemaId: string): void {
  const fields = KNOWN_SCHEMAS[schemaId] ?? [];
  const missing = pkg.manifest.inputSchema.fields.filter((f) => !fields.includes(f));
  if (missing.length > 0)
    throw new DeviceError(
      "SCHEMA_MISMATCH",
      `package reads fields ${missing.join(", ")} that schema ${schemaId} does not have`,
    );
}

/** Runs the SecAgg client, mapping transport failures to AGGREGATOR_UNREACHABLE. */
export async function aggregate(
  opts: Parameters<typeof runSecAggHttpClient>[0],
): Promise<HttpClientRun> {
  try {
    return await runSecAggHttpClient(opts);
  } catch (e) {
    if (e instanceof DeviceError) throw e; // the device's own refusal while computing its input
    if (e instanceof SecAggError && e.code === "TRANSPORT")
      throw new DeviceError("AGGREGATOR_UNREACHABLE", `aggregator ${opts.baseUrl}: ${e.message}`, {
        cause: e,
      });
    throw new DeviceError(
      "SECAGG_FAILED",
      `secure aggregation failed: ${e instanceof Error ? e.message : String(e)}`,
      { cause: e },
    );
  }
}

/** A device account: its address, EIP-712 signer and derived SecAgg session signer (session-key.ts). */
export type DeviceSigner = Pick<LocalAccount, "address" | "signTypedData"> & {
  readonly session: SessionSigner;
};

/**
 * The cohort members' registered session keys (one `sessionKeysOf` call), checked before anything is sent: this
 * device's key on chain must be the one it derives (else it could not sign: SESSION_KEY_MISMATCH), and at least
 * `kMin` members must hold a key (a keyless member cannot sign and counts as dropped: COHORT_TOO_SMALL otherwise).
 */
export async function cohortSessionKeys(
  chain: Pick<ChainView, "sessionKeysOf">,
  members: CohortList["members"],
  self: { clientId: number; session: SessionSigner },
  kMin: number,
): Promise<Hex[]> {
  const keys = await chain.sessionKeysOf(members.map((m) => m.address as Address));
  const i = members.findIndex((m) => m.id === self.clientId);
  if (keys[i]?.toLowerCase() !== self.session.sessionKey.toLowerCase())
    throw new DeviceError(
      "SESSION_KEY_MISMATCH",
      `DeviceRegistry holds session key ${keys[i]} for this device, not its own ${self.session.sessionKey}`,
    );
  const keyed = keys.filter((k) => !/^0x0{64}$/.test(k)).length;
  if (keyed < kMin)
    throw new DeviceError(
      "COHORT_TOO_SMALL",
      `only ${keyed} of ${members.length} cohort members registered a session key (kMin = ${kMin})`,
    );
  return keys;
}

export interface PredictionRun {
  clientId: number;
  records: number;
  secagg: HttpClientRun;
  /** The DP job's mechanism and cost (absent for a job without noise). */
  privacy?: JobPrivacy;
}

/** The runner's key of a prediction job session (also its privacy-ledger key). */
export function predictionJobKey(job: PredictionJob): string {
  return `predict:${job.chainId}:${job.jobMarket.toLowerCase()}:${job.jobId}:${job.attempt}`;
}

function privacyRefusal(job: PredictionJob, e: unknown): DeviceError {
  return new DeviceError(
    "NOISE_PARAMS_INVALID",
    `job ${job.jobId}: ${e instanceof Error ? e.message : String(e)}`,
    { cause: e },
  );
}

export async function runPredictionJob(opts: {
  job: PredictionJob;
  store: ContentStore;
  account: DeviceSigner;
  datasetsDir: string;
  /** The chain's view of the job (terms, kMin, eligibility). */
  chain: ChainView;
  /** The owner's consent (`consent.json`); `undefined` → every job is refused. */
  consent: Consent | undefined;
  /** The owner's privacy ledger file (`privacy-ledger.json`); DP jobs are refused without one. */
  privacyLedger?: string;
  poll?: PollOptions;
  log?: Logger;
  /** Test hook: receives the plaintext vector before masking (never used by the CLI). */
  onVector?: (v: Float64Array) => void;
}): Promise<PredictionRun> {
  const { job, store } = opts;
  const schemaId = schemaIdOf(job.schema);
  // the cohort's members all read the same terms at the assignment block (one read per hosting process)
  const chain =
    job.assignedBlock !== undefined && opts.chain.at !== undefined
      ? opts.chain.at(job.assignedBlock)
      : opts.chain;
  const { terms, kMin } = await admitPredictionJob({
    job,
    chain,
    consent: opts.consent,
    device: opts.account.address,
  });
  const { list, clientId } = await fetchCohort(store, job.cohortCid, {
    root: terms.cohortRoot,
    jobId: job.jobId,
    device: opts.account.address,
    drawn: { deviceCount: terms.deviceCount, kMin },
  });
  opts.log?.info(
    { jobId: job.jobId.toString(), clientId, cohort: list.members.length, kMin },
    "in cohort",
  );
  const sessionKeys = await cohortSessionKeys(
    chain,
    list.members,
    { clientId, session: opts.account.session },
    kMin,
  );
  const pkg = await loadVerifiedPackage(store, terms.packageCid, terms.modelSha256);
  checkPackageFitsSchema(pkg, schemaId);
  const classes = pkg.manifest.outputLabels.length;
  checkModelBounds(classes, list.members.length, kMin);
  // the neighbour graph derives from the on-chain cohort root and the job's seed (nobody chooses neighbours)
  const config = jobSessionConfig({
    chainId: job.chainId,
    jobMarket: job.jobMarket as Address,
    jobId: job.jobId,
    cohort: list,
    sessionKeys,
    classes,
    attempt: job.attempt,
    graph: { cohortRoot: terms.cohortRoot, jobSeed: await chain.jobSeed(job.jobId) },
  });
  // a DP job: its cost is checked against the owner's budget before any data is read
  const spec = pkg.manifest.privacy;
  let privacy: JobPrivacy | undefined;
  let ledger: PrivacyLedger | undefined;
  const key = predictionJobKey(job);
  if (spec !== undefined) {
    try {
      // n_min from the chain's kMin alone (not the owner's local minCohort): every device, the aggregator and the
      // attestors must agree on the noise each device adds
      privacy = jobPrivacy(spec, classes, config, await chain.kMin());
    } catch (e) {
      throw e instanceof PrivacyError ? privacyRefusal(job, e) : e;
    }
    if (opts.privacyLedger === undefined)
      throw new DeviceError("CONFIG_INVALID", `job ${job.jobId} adds DP noise: no privacy ledger`);
    ledger = new PrivacyLedger(
      opts.privacyLedger,
      opts.consent?.privacyBudget ?? DEFAULT_PRIVACY_BUDGET,
    );
    await ledger.check(key, privacy.rho);
  }
  const dataset = await loadDataset(opts.datasetsDir, schemaId);
  const records = dataset.records.slice(
    0,
    Math.min(MAX_RECORDS_PER_JOB, spec?.maxRecords ?? Infinity),
  );
  // the input is computed while the device advertises and shares its keys (rounds 0–1 need no input), so a slow
  // device does not miss the first round's deadline; the masked input waits for it
  const computeInput = async (): Promise<Float64Array | Uint32Array> => {
    const predictions = await classifyRecords(
      pkg,
      records.map((r) => ({ subject: r.subject, body: r.body })),
    );
    const vector = reduceToResultVector(predictions, classes);
    opts.onVector?.(vector);
    if (privacy === undefined || ledger === undefined) return vector;
    let noisy: Uint32Array;
    try {
      noisy = noisyResultVector(vector, classes, privacy);
    } catch (e) {
      throw e instanceof PrivacyError ? privacyRefusal(job, e) : e;
    }
    // durable before the masked input can leave: a crash from here on keeps the job's ρ counted, once
    await ledger.reserve(key, privacy.rho, { epsilon: privacy.epsilon, delta: privacy.delta });
    opts.log?.info(
      {
        jobId: job.jobId.toString(),
        rho: privacy.rho,
        epsilon: privacy.epsilon,
        delta: privacy.delta,
      },
      "privacy budget reserved",
    );
    return noisy;
  };
  const input = computeInput();
  input.catch(() => undefined); // observed by the session below; never an unhandled rejection
  const secagg = await aggregate({
    baseUrl: job.aggregatorUrl,
    config,
    id: clientId,
    account: opts.account.session,
    input,
    poll: opts.poll,
  });
  if (ledger !== undefined) await ledger.commit(key);
  opts.log?.info(
    {
      jobId: job.jobId.toString(),
      round: secagg.completedRound,
      bytesSent: secagg.bytesSent,
      bytesReceived: secagg.bytesReceived,
    },
    "job done",
  );
  return { clientId, records: records.length, secagg, ...(privacy ? { privacy } : {}) };
}
