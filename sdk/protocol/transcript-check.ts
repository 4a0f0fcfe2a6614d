/**
 * From a sealed transcript's bytes to the aggregate an attestor derives the job's result from, or the typed reason it
 * cannot (PROTOCOL.md §7.4). The expected session is rebuilt from chain data exactly as the devices and the
 * aggregator build it (`jobSessionConfig`): session id from (chain, JobMarket, job), roster = the cohort list with the
 * members' registered session keys, vector
 * length and encoding from the result kind. The transcript must be a v2 transcript (every signed message of the
 * session) sealed to this attestor for this session; its survivors and sum are recomputed by replaying it through a
 * fresh SecAgg server (`replayTranscript`), never read from the aggregator.
 */
import type { Address, Hex } from "viem";
import type { CohortMember } from "#sdk/chain/cohort.ts";
import {
  decodeTranscriptV2,
  openSealedTranscript,
  replayTranscript,
  SecAggError,
  SealedError,
  type SecAggSessionConfig,
} from "#sdk/secagg/index.ts";
import { drawnCohortList } from "./cohort.ts";
import { jobSessionConfig } from "./session.ts";
import type { JobAggregate } from "./job-result.ts";

/** Why a transcript yields no aggregate (each makes the attestor attest `INVALID`). */
export type TranscriptFault =
  | "NOT_A_RECIPIENT"
  | "UNDECRYPTABLE"
  | "MALFORMED"
  | "OTHER_SESSION"
  | "NON_MEMBER"
  | "INCONSISTENT"
  | "TRANSCRIPT_TOO_LARGE";

export type Recovered =
  | { ok: true; aggregate: JobAggregate; dropped: number[] }
  | { ok: false; reason: TranscriptFault; detail: string };

/** The job's session config, as every party derives it from chain data and the cohort list. */
export function expectedSession(
  opts: { chainId: number; jobMarket: Address; graph?: { cohortRoot: Hex; jobSeed: Hex } },
  jobId: bigint,
  cohort: readonly CohortMember[],
  sessionKeys: readonly Hex[],
  classes: number,
): SecAggSessionConfig {
  return jobSessionConfig({
    chainId: opts.chainId,
    jobMarket: opts.jobMarket,
    jobId,
    cohort: drawnCohortList(jobId, 0n, cohort),
    sessionKeys,
    classes,
    ...(opts.graph === undefined ? {} : { graph: opts.graph }),
  });
}

const fault = (reason: TranscriptFault, detail: string): Recovered => ({
  ok: false,
  reason,
  detail,
});

function sealedFault(e: SealedError): Recovered {
  switch (e.code) {
    case "NOT_A_RECIPIENT":
      return fault("NOT_A_RECIPIENT", e.message);
    case "UNDECRYPTABLE":
      return fault("UNDECRYPTABLE", e.message);
    case "WRONG_CONTEXT":
      return fault("OTHER_SESSION", e.message);
    case "TOO_LARGE":
      return fault("TRANSCRIPT_TOO_LARGE", e.message);
    default:
      return fault("MALFORMED", e.message);
  }
}

function replayFault(e: SecAggError): Recovered {
  switch (e.code) {
    case "TRANSCRIPT_OTHER_SESSION":
      return fault("OTHER_SESSION", e.message);
    case "TRANSCRIPT_NON_MEMBER":
      return fault("NON_MEMBER", e.message);
    case "TRANSCRIPT_TOO_LARGE":
      return fault("TRANSCRIPT_TOO_LARGE", e.message);
    case "TRANSCRIPT_TRUNCATED":
      return fault("MALFORMED", e.message);
    default:
      return fault("INCONSISTENT", e.message);
  }
}

/**
 * Opens (as `me`), decodes and replays a sealed transcript v2 of `session`; returns the recomputed aggregate.
 * Never throws for the transcript's content.
 */
export async function recoverAggregate(
  bytes: Uint8Array,
  ctx: { session: SecAggSessionConfig; me: { address: Address; x25519SecretKey: Uint8Array } },
): Promise<Recovered> {
  const { session } = ctx;
  let plain: Uint8Array;
  try {
    plain = openSealedTranscript(bytes, ctx.me, session.sessionId);
  } catch (e) {
    if (e instanceof SealedError) return sealedFault(e);
    return fault("UNDECRYPTABLE", String(e));
  }
  try {
    const transcript = decodeTranscriptV2(plain);
    const replayed = await replayTranscript(transcript, {
      sessionId: session.sessionId,
      roster: session.roster,
      domain: { chainId: session.chainId, verifyingContract: session.verifyingContract },
      ...(session.cohort === undefined ? {} : { cohort: session.cohort }),
      vectorLength: session.vectorLength,
    });
    return {
      ok: true,
      aggregate: {
        sessionId: session.sessionId,
        survivors: [...replayed.survivors].sort((a, b) => a - b),
        sum: replayed.sum,
      },
      dropped: [...replayed.dropped],
    };
  } catch (e) {
    if (e instanceof SecAggError) return replayFault(e);
    return fault("INCONSISTENT", e instanceof Error ? e.message : String(e));
  }
}
