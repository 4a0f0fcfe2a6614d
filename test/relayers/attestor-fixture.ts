/**
 * A job ready for its attestors, on the real contracts: scheduled, cohort drawn and assigned (list on Helia), a real
 * SecAgg session run with the drawn devices' keys (client N drops), the transcript v2 sealed to the drawn attestors
 * (and `extraRecipients`, e.g. reporters) and published. Returns what the aggregator commits (`value`, `cid`) — the
 * caller commits it. With `fromPackage` the job's model is the listed package's (`jobModelOf`: control-group
 * confusion, DP noise that each device adds to its vector), as the aggregator derives it.
 */
import { getAddress, type Address, type Hex } from "viem";
import type { PrivateKeyAccount } from "viem/accounts";
import { resultHash } from "#sdk/chain/result.ts";
import type { HeliaStore } from "#sdk/ipfs/index.ts";
import type { Prediction } from "#sdk/ml/index.ts";
import type { DeviceAccount, SessionSigner } from "#sdk/crypto/session-key.ts";
import { chainAttestorReads } from "#sdk/protocol/attestor-chain.ts";
import { deriveJobResult, type DerivedJobResult, type JobModel } from "#sdk/protocol/job-result.ts";
import { attestorRecipients, publishSealedTranscript } from "#sdk/protocol/transcript-publish.ts";
import {
  simulateSession,
  transcriptV2Of,
  type SealRecipient,
  type SessionTranscript,
} from "#sdk/secagg/index.ts";
import {
  buildReferencePackage,
  prepareWorkload,
  publishPackage,
  referenceManifestFields,
  trainReference,
} from "#sdk/ml/index.ts";
import { DEFAULT_PRIVACY_SPEC, seededRandom } from "#sdk/privacy/index.ts";
import { chainJobModelReads, jobModelOf } from "#sdk/protocol/job-model.ts";
import { noisyResultVector } from "#sdk/protocol/result-privacy.ts";
import { drawnCohortList, encodeCohortList } from "../../sdk/protocol/cohort.ts";
import { reduceToResultVector } from "../../sdk/protocol/result-vector.ts";
import { jobSessionConfig } from "../../sdk/protocol/session.ts";
import { rng } from "../secagg/helpers.ts";
import type { JobLifecycle } from "../../bench/fixture/job-run.ts";
import type { DrawnCohort } from "../../bench/fixture/protocol.ts";

export const MODEL: JobModel = { classes: 2, qualityClass: 1 };

function deviceVector(id: number, records = 20): Float64Array {
  const r = rng(2_000 + id);
  const preds: Prediction[] = Array.from({ length: records }, () => {
    const p = r();
    return { probabilities: Float32Array.from([1 - p, p]), label: p >= 0.5 ? 1 : 0 };
  });
  return reduceToResultVector(preds, MODEL.classes);
}

export function attestorContracts(life: JobLifecycle) {
  return {
    JobMarket: life.env.addr("JobMarket"),
    ResultAttestation: life.env.addr("ResultAttestation"),
    NodeStaking: life.env.addr("NodeStaking"),
    DeviceRegistry: life.env.addr("DeviceRegistry"),
    AlgorithmMarketplace: life.env.addr("AlgorithmMarketplace"),
  };
}

let trained: Promise<Parameters<typeof buildReferencePackage>> | undefined;

/**
 * The reference spam classifier's package (trained once per process, ~7 s) with its control-group confusion matrix
 * and, unless `privacy` is false, the default DP spec; published on `store`. Pass it to `JobLifecycle.create`.
 */
export async function referencePackage(
  store: HeliaStore,
  opts: { privacy?: boolean } = {},
): Promise<{ cid: string; modelSha256: Hex }> {
  trained ??= prepareWorkload().then((w) => [w, trainReference(w)]);
  const [workload, weights] = await trained;
  const built = await buildReferencePackage(workload, weights, {
    ...referenceManifestFields(),
    ...(opts.privacy === false ? {} : { privacy: DEFAULT_PRIVACY_SPEC }),
  });
  const cid = await publishPackage(store, built.manifest, built.model);
  return { cid, modelSha256: `0x${built.manifest.modelSha256}` };
}

export interface PreparedJob {
  jobId: bigint;
  drawn: DrawnCohort;
  /** The job's resultHash as the honest aggregator derives it. */
  value: Hex;
  /** The sealed transcript's CID. */
  cid: string;
  attestors: Address[];
  /** The aggregator's derivation (result, estimate, payout tree) and the model it used. */
  derived: DerivedJobResult;
  model: JobModel;
  transcript: SessionTranscript;
}

export interface PrepareOptions {
  /** The job's model is its listed package's (`jobModelOf`), DP noise included (default: `MODEL`). */
  fromPackage?: boolean;
  /** Sealed to these too (e.g. active reporters), after the drawn attestors. */
  extraRecipients?: readonly SealRecipient[];
  /** The customer's report key (default: the lifecycle spec's placeholder). */
  encryptionKey?: Hex;
  /** The job's quality bound, 1e18 fixed point (default: the lifecycle spec's 0.15). */
  maxStdError?: bigint;
}

export async function prepareJob(
  life: JobLifecycle,
  store: HeliaStore,
  n: number,
  opts: PrepareOptions = {},
): Promise<PreparedJob> {
  const { env } = life;
  const reads = chainAttestorReads(env.pub, attestorContracts(life));
  const spec = life.spec(n, { devices: n, participants: n - 2 });
  const jobId = await life.schedule({
    ...spec,
    ...(opts.encryptionKey === undefined ? {} : { encryptionKey: opts.encryptionKey }),
    ...(opts.maxStdError === undefined ? {} : { maxStdError: opts.maxStdError }),
  });
  const drawn = await life.drawCohortOf(jobId, n);
  const list = drawnCohortList(jobId, drawn.connectedEpoch, drawn.members);
  await life.assign(
    jobId,
    drawn.tree.root,
    n,
    await store.addBytes(encodeCohortList(list)),
    drawn.connectedEpoch,
  );
  const session = jobSessionConfig({
    chainId: env.pub.chain!.id,
    jobMarket: env.addr("JobMarket"),
    jobId,
    cohort: list,
    sessionKeys: await reads.sessionKeysOf(
      jobId,
      drawn.members.map((m) => m.device),
    ),
    graph: { cohortRoot: drawn.tree.root, jobSeed: await reads.jobSeed(jobId) },
    classes: MODEL.classes,
  });
  const model = opts.fromPackage
    ? (
        await jobModelOf(
          {
            chain: chainJobModelReads(env.pub, attestorContracts(life)),
            store,
            cohort: drawn.members,
            session: { chainId: env.pub.chain!.id, jobMarket: env.addr("JobMarket") },
          },
          jobId,
        )
      ).model
    : MODEL;
  const { privacy } = model;
  const report = await simulateSession({
    config: session,
    accounts: new Map(
      drawn.devices.map((d: PrivateKeyAccount, i: number) => [
        i + 1,
        (d as Partial<DeviceAccount>).session as SessionSigner,
      ]),
    ),
    inputs: (id) =>
      privacy === undefined
        ? deviceVector(id)
        : noisyResultVector(
            deviceVector(id),
            model.classes,
            privacy,
            seededRandom(`fixture device noise ${jobId} ${id}`),
          ),
    drops: new Map([[n, 0]]),
    recordTranscript: true,
  });
  const survivors = [...report.result.survivors].sort((a, b) => a - b);
  const derived = deriveJobResult(
    { sessionId: session.sessionId, survivors, sum: report.result.sum },
    {
      members: drawn.members.map((m) => m.device),
      encoding: session.encoding,
      model,
      rule: await env.read("JobMarket", "getJob", [jobId]),
    },
  );
  const transcript = transcriptV2Of(report.server);
  const cid = await publishSealedTranscript(store, transcript, [
    ...(await attestorRecipients(reads, jobId)),
    ...(opts.extraRecipients ?? []),
  ]);
  const attestors = (await reads.attestation(jobId)).attestors.map((a) => getAddress(a));
  return {
    jobId,
    drawn,
    value: resultHash(derived.result),
    cid,
    attestors,
    derived,
    model,
    transcript,
  };
}
