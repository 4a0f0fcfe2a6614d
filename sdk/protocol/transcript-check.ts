/**
 * From a transcript's published bytes to the aggregate an attestor derives the job's result from, or the typed
 * reason it cannot (PROTOCOL.md §7.4). The expected session is rebuilt from chain data exactly as the devices and the
 * aggregator build it (`jobSessionConfig`): session id from (chain, JobMarket, job), roster = the cohort list, vector
 * length and encoding from the result kind.
 */
import type { Address, Hex } from "viem";
import type { CohortMember } from "#sdk/chain/cohort.ts";
import { decodeTranscript, SecAggError, type SecAggSessionConfig } from "#sdk/secagg/index.ts";
import { drawnCohortList } from "../../device-runner/cohort.ts";
import { jobSessionConfig } from "../../device-runner/session.ts";
import type { JobAggregate } from "./job-result.ts";

/** Why a transcript yields no aggregate (each makes the attestor attest `INVALID`). */
export type TranscriptFault =
  | "NOT_A_RECIPIENT"
  | "UNDECRYPTABLE"
  | "MALFORMED"
  | "OTHER_SESSION"
  | "NON_MEMBER"
  | "INCONSISTENT";

export type Recovered =
  { ok: true; aggregate: JobAggregate } | { ok: false; reason: TranscriptFault; detail: string };

/** The job's session config, as every party derives it from chain data and the cohort list. */
export function expectedSession(
  opts: { chainId: number; jobMarket: Address; graph?: { cohortRoot: Hex; jobSeed: Hex } },
  jobId: bigint,
  cohort: readonly CohortMember[],
  classes: number,
): SecAggSessionConfig {
  return jobSessionConfig({
    chainId: opts.chainId,
    jobMarket: opts.jobMarket,
    jobId,
    cohort: drawnCohortList(jobId, 0n, cohort),
    classes,
    ...(opts.graph === undefined ? {} : { graph: opts.graph }),
  });
}

const fault = (reason: TranscriptFault, detail: string): Recovered => ({
  ok: false,
  reason,
  detail,
});

/**
 * Recovers the aggregate from a transcript's bytes. Never throws for the transcript's content.
 * Version 1 (plaintext `{sessionId, survivors, sum}`): decoded, checked to be this session's, survivors in the roster,
 * the sum of the session's vector length.
 */
export async function recoverAggregate(
  bytes: Uint8Array,
  ctx: { session: SecAggSessionConfig; me: { address: Address; x25519SecretKey: Uint8Array } },
): Promise<Recovered> {
  const { session } = ctx;
  let t;
  try {
    t = decodeTranscript(bytes);
  } catch (e) {
    return fault("MALFORMED", e instanceof SecAggError ? e.message : String(e));
  }
  if (t.sessionId !== session.sessionId.toLowerCase())
    return fault("OTHER_SESSION", `transcript of session ${t.sessionId}, not ${session.sessionId}`);
  const roster = new Set(session.roster.map((r) => r.id));
  const outsider = t.survivors.find((id) => !roster.has(id));
  if (outsider !== undefined)
    return fault("NON_MEMBER", `survivor ${outsider} is not in the session's roster`);
  if (t.sum.length !== session.vectorLength)
    return fault(
      "INCONSISTENT",
      `sum of length ${t.sum.length}, the session's vectors have ${session.vectorLength}`,
    );
  return {
    ok: true,
    aggregate: { sessionId: t.sessionId as Hex, survivors: t.survivors, sum: t.sum },
  };
}
