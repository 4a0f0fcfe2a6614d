/**
 * A job ready for its attestors, on the real contracts: scheduled, cohort drawn and assigned (list on Helia), a real
 * SecAgg session run with the drawn devices' keys (client N drops), the transcript v2 sealed to the drawn attestors
 * and published. Returns what the aggregator commits (`value`, `cid`) — the caller commits it.
 */
import { getAddress, type Address, type Hex } from "viem";
import type { PrivateKeyAccount } from "viem/accounts";
import { resultHash } from "#sdk/chain/result.ts";
import type { HeliaStore } from "#sdk/ipfs/index.ts";
import type { Prediction } from "#sdk/ml/index.ts";
import type { DeviceAccount, SessionSigner } from "#sdk/crypto/session-key.ts";
import { chainAttestorReads } from "#sdk/protocol/attestor-chain.ts";
import { deriveJobResult, type JobModel } from "#sdk/protocol/job-result.ts";
import { attestorRecipients, publishSealedTranscript } from "#sdk/protocol/transcript-publish.ts";
import { simulateSession, transcriptV2Of } from "#sdk/secagg/index.ts";
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
  };
}

export interface PreparedJob {
  jobId: bigint;
  drawn: DrawnCohort;
  /** The job's resultHash as the honest aggregator derives it. */
  value: Hex;
  /** The sealed transcript's CID. */
  cid: string;
  attestors: Address[];
}

export async function prepareJob(
  life: JobLifecycle,
  store: HeliaStore,
  n: number,
): Promise<PreparedJob> {
  const { env } = life;
  const reads = chainAttestorReads(env.pub, attestorContracts(life));
  const jobId = await life.schedule(life.spec(n, { devices: n, participants: n - 2 }));
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
  const report = await simulateSession({
    config: session,
    accounts: new Map(
      drawn.devices.map((d: PrivateKeyAccount, i: number) => [
        i + 1,
        (d as Partial<DeviceAccount>).session as SessionSigner,
      ]),
    ),
    inputs: (id) => deviceVector(id),
    drops: new Map([[n, 0]]),
    recordTranscript: true,
  });
  const survivors = [...report.result.survivors].sort((a, b) => a - b);
  const result = deriveJobResult(
    { sessionId: session.sessionId, survivors, sum: report.result.sum },
    {
      members: drawn.members.map((m) => m.device),
      encoding: session.encoding,
      model: MODEL,
      rule: await env.read("JobMarket", "getJob", [jobId]),
    },
  ).result;
  const cid = await publishSealedTranscript(
    store,
    transcriptV2Of(report.server),
    await attestorRecipients(reads, jobId),
  );
  const attestors = (await reads.attestation(jobId)).attestors.map((a) => getAddress(a));
  return { jobId, drawn, value: resultHash(result), cid, attestors };
}
