/**
 * The attestor (PROTOCOL.md §7.4): given a job whose aggregator committed, derive on one's own the value to attest —
 * the job's `resultHash`, or the reserved `INVALID` when the transcript is missing, undecryptable or inconsistent.
 *
 *   chain     the job (cohort root and size, payout rule, quality bound), the attestation record (drawn attestors,
 *             transcript CID of `AggregateCommitted`) and the attestor's own registered X25519 key;
 *   cohort    the cohort list (members in position order), checked against the on-chain root and size;
 *   store     the transcript's bytes, fetched with a timeout;
 *   transcript opened with the attestor's X25519 secret, decoded, checked to be this job's session over the cohort,
 *             its survivors and sum recomputed (`transcript-check.ts`);
 *   result    crowd estimate, quality, payout list and `JobResult` (`job-result.ts`), hashed with `resultHash`.
 *
 * The replay itself (fetch, open, verify, recompute, derive) is `replayTranscript`, usable by any recipient of the
 * sealed transcript (an active reporter too); `attestJob` adds the drawn-attestor check and maps every transcript
 * fault (`TranscriptReplayError`) to `INVALID`.
 *
 * Bad aggregator input never throws from `attestJob`: every failure of the transcript maps to `INVALID` with a typed reason. Only the
 * attestor's own situation throws an `AttestorError` (not drawn, nothing committed yet, a cohort list or key that does
 * not match the chain, a chain read failing): there is nothing to attest then, or the caller must retry.
 */
import { x25519 } from "@noble/curves/ed25519.js";
import { bytesToHex, getAddress, type Address, type Hex } from "viem";
import { buildCohortTree, type CohortMember } from "#sdk/chain/cohort.ts";
import { INVALID, resultHash } from "#sdk/chain/result.ts";
import { ContentTooLargeError, type ContentStore } from "#sdk/ipfs/index.ts";
import type { AttestationRecord, AttestedJob, AttestorChainReads } from "./attestor-chain.ts";
import {
  deriveJobResult,
  JobResultError,
  type DerivedJobResult,
  type JobModel,
} from "./job-result.ts";
import { expectedSession, recoverAggregate, type TranscriptFault } from "./transcript-check.ts";

/** Why an attestor attests what it attests: `OK` for a derived `resultHash`, any other code for `INVALID`. */
export type AttestReason =
  "OK" | TranscriptFault | "TRANSCRIPT_UNFETCHABLE" | "TRANSCRIPT_TOO_LARGE";

export interface AttestOutcome {
  /** The value to commit and reveal: the derived `resultHash`, or `INVALID`. */
  value: Hex;
  reason: AttestReason;
  detail: string;
  /** The derivation, when the transcript verified. */
  derived?: DerivedJobResult;
}

export type AttestorErrorCode =
  "NOT_COMMITTED" | "NOT_DRAWN" | "COHORT_MISMATCH" | "KEY_MISMATCH" | "CHAIN_READ";

/** The attestor cannot attest at all (its own situation, never the aggregator's input). */
export class AttestorError extends Error {
  readonly code: AttestorErrorCode;
  constructor(code: AttestorErrorCode, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.name = "AttestorError";
    this.code = code;
  }
}

export interface AttestorDeps {
  chain: AttestorChainReads;
  store: Pick<ContentStore, "getBytes">;
  /** Longest wait for the transcript's bytes (default 30 s); past it the transcript is unfetchable. */
  fetchTimeoutMs?: number;
  /** The job's cohort list, members in position order (client id = position + 1). */
  cohort: readonly CohortMember[];
  /** The attestor: its address and the X25519 secret of its registered `NodeStaking.encryptionKey`. */
  me: { address: Address; x25519SecretKey: Uint8Array };
  /** The job's algorithm as its package manifest describes the result vector. */
  model: JobModel;
  /** The chain and JobMarket the job's SecAgg session is bound to (`session.ts`); the roster's keys
   * and the graph seed are read from the chain. */
  session: { chainId: number; jobMarket: Address };
}

export const DEFAULT_FETCH_TIMEOUT_MS = 30_000;

/** A transcript that yields no job result: why (`TranscriptFault`, unfetchable, too large) and the detail. */
export class TranscriptReplayError extends Error {
  readonly reason: Exclude<AttestReason, "OK">;
  readonly detail: string;
  constructor(reason: Exclude<AttestReason, "OK">, detail: string, options?: { cause?: unknown }) {
    super(`${reason}: ${detail}`, options);
    this.name = "TranscriptReplayError";
    this.reason = reason;
    this.detail = detail;
  }
}

/** What a recipient's replay needs: the attestor's inputs (`me` is any recipient of the sealed transcript). */
export type ReplayDeps = AttestorDeps;

/**
 * Replays the job's sealed transcript as `deps.me`, any recipient the aggregator sealed it to (a drawn attestor, an
 * active reporter): fetches it (CID of `AggregateCommitted`), opens it with `me`'s X25519 secret, verifies it against
 * the cohort (on-chain root and size) and the chain's session keys and graph seed, recomputes survivors and sum, and
 * derives the job's result, estimate and payout tree (`deriveJobResult`).
 * @throws TranscriptReplayError for the aggregator's input (missing, unopenable, inconsistent: an attestor votes
 *   INVALID); AttestorError for the recipient's own situation (nothing committed, a key or cohort list that does not
 *   match the chain, a chain read failing)
 */
export async function replayTranscript(deps: ReplayDeps, jobId: bigint): Promise<DerivedJobResult> {
  const me = getAddress(deps.me.address);
  const [job, record, myKey] = await reads(deps, jobId, me);
  return replayRead(deps, jobId, me, job, record, myKey);
}

/** Derives the value `deps.me` attests for `jobId`. @throws AttestorError (never for the aggregator's input) */
export async function attestJob(deps: AttestorDeps, jobId: bigint): Promise<AttestOutcome> {
  const me = getAddress(deps.me.address);
  const [job, record, myKey] = await reads(deps, jobId, me);
  if (record.transcriptCid === undefined)
    throw new AttestorError("NOT_COMMITTED", `job ${jobId}'s aggregator has not committed`);
  if (!record.attestors.some((a) => getAddress(a) === me))
    throw new AttestorError("NOT_DRAWN", `${me} is not a drawn attestor of job ${jobId}`);
  let derived: DerivedJobResult;
  try {
    derived = await replayRead(deps, jobId, me, job, record, myKey);
  } catch (e) {
    if (e instanceof TranscriptReplayError) return invalid(e.reason, e.detail);
    throw e;
  }
  return {
    value: resultHash(derived.result),
    reason: "OK",
    detail: `${derived.result.participants} participants, quality ${derived.result.qualityMet ? "met" : "failed"}`,
    derived,
  };
}

async function replayRead(
  deps: ReplayDeps,
  jobId: bigint,
  me: Address,
  job: AttestedJob,
  record: AttestationRecord,
  myKey: Hex,
): Promise<DerivedJobResult> {
  if (record.transcriptCid === undefined)
    throw new AttestorError("NOT_COMMITTED", `job ${jobId}'s aggregator has not committed`);
  if (bytesToHex(x25519.getPublicKey(deps.me.x25519SecretKey)) !== myKey.toLowerCase())
    throw new AttestorError("KEY_MISMATCH", `${me}'s secret is not its registered key ${myKey}`);
  checkCohort(deps.cohort, job, jobId);

  const cid = record.transcriptCid;
  let bytes: Uint8Array;
  try {
    bytes = await withTimeout(
      deps.store.getBytes(cid),
      deps.fetchTimeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS,
    );
  } catch (e) {
    throw new TranscriptReplayError(
      e instanceof ContentTooLargeError ? "TRANSCRIPT_TOO_LARGE" : "TRANSCRIPT_UNFETCHABLE",
      `transcript ${cid}: ${message(e)}`,
      { cause: e },
    );
  }
  // the roster's keys and the neighbour graph come from the chain, never from the aggregator
  let sessionKeys: Hex[];
  let seed: Hex;
  try {
    [sessionKeys, seed] = await Promise.all([
      deps.chain.sessionKeysOf(
        jobId,
        deps.cohort.map((m) => m.device),
      ),
      deps.chain.jobSeed(jobId),
    ]);
  } catch (e) {
    throw new AttestorError("CHAIN_READ", `reading job ${jobId}'s session keys: ${message(e)}`, {
      cause: e,
    });
  }
  const session = expectedSession(
    { ...deps.session, graph: { cohortRoot: job.cohortRoot, jobSeed: seed } },
    jobId,
    deps.cohort,
    sessionKeys,
    deps.model.classes,
  );
  const recovered = await recoverAggregate(bytes, { session, me: { ...deps.me, address: me } });
  if (!recovered.ok) throw new TranscriptReplayError(recovered.reason, recovered.detail);
  try {
    return deriveJobResult(recovered.aggregate, {
      members: deps.cohort.map((m) => m.device),
      encoding: session.encoding,
      model: deps.model,
      rule: job,
    });
  } catch (e) {
    if (e instanceof JobResultError) throw new TranscriptReplayError("INCONSISTENT", e.message);
    throw new TranscriptReplayError("INCONSISTENT", `deriving the result: ${message(e)}`, {
      cause: e,
    });
  }
}

async function reads(
  deps: AttestorDeps,
  jobId: bigint,
  me: Address,
): Promise<[AttestedJob, AttestationRecord, Hex]> {
  try {
    return await Promise.all([
      deps.chain.job(jobId),
      deps.chain.attestation(jobId),
      deps.chain.encryptionKey(me),
    ]);
  } catch (e) {
    throw new AttestorError("CHAIN_READ", `reading job ${jobId}: ${message(e)}`, { cause: e });
  }
}

/** The cohort list must be the one the chain committed to: same size, positions 0…n−1 in order, same root. */
function checkCohort(cohort: readonly CohortMember[], job: AttestedJob, jobId: bigint): void {
  if (cohort.length !== job.deviceCount || cohort.some((m, i) => m.position !== i))
    throw new AttestorError(
      "COHORT_MISMATCH",
      `job ${jobId}: a cohort list of ${cohort.length} members in position order is required (the chain assigned ${job.deviceCount})`,
    );
  let root: Hex;
  try {
    root = buildCohortTree(cohort).root;
  } catch (e) {
    throw new AttestorError("COHORT_MISMATCH", `job ${jobId}: ${message(e)}`, { cause: e });
  }
  if (root.toLowerCase() !== job.cohortRoot.toLowerCase())
    throw new AttestorError(
      "COHORT_MISMATCH",
      `job ${jobId}: the cohort list's root ${root} is not the chain's ${job.cohortRoot}`,
    );
}

function invalid(reason: Exclude<AttestReason, "OK">, detail: string): AttestOutcome {
  return { value: INVALID, reason, detail };
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

class FetchTimeoutError extends Error {
  override readonly name = "FetchTimeoutError";
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new FetchTimeoutError(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
