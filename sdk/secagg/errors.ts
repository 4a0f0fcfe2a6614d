/** Typed failures of the secure-aggregation protocol. Every rejection carries a stable machine-readable `code`. */
export type SecAggErrorCode =
  | "INVALID_CONFIG"
  | "INVALID_MESSAGE"
  | "WRONG_SESSION"
  | "UNKNOWN_CLIENT"
  | "BAD_SIGNATURE"
  | "REPLAY"
  | "DUPLICATE"
  | "OUT_OF_ROUND"
  | "NOT_PARTICIPANT"
  | "WRONG_LENGTH"
  | "BAD_SHARE"
  | "NOT_NEIGHBOUR"
  | "BOTH_SHARES_REQUESTED"
  | "CONSISTENCY_FAILED"
  | "TOO_FEW_SURVIVORS"
  | "TOO_FEW_SHARES"
  | "RECONSTRUCTION_FAILED"
  | "NOT_READY"
  | "SESSION_FAILED"
  | "UNKNOWN_SESSION"
  | "TRANSPORT"
  /** A session journal (journal.ts) that does not parse or does not replay into its session. */
  | "JOURNAL_INVALID"
  /** Transcript v2 (transcript-v2.ts, replay.ts): inconsistent, unverifiable or not replayable. */
  | "TRANSCRIPT_INVALID"
  /** Transcript v2 of another session (session id, chain, contract or cohort differ from the expected ones). */
  | "TRANSCRIPT_OTHER_SESSION"
  /** Transcript v2 names a client or sender that is not in the expected roster. */
  | "TRANSCRIPT_NON_MEMBER"
  /** Transcript v2 bytes over MAX_TRANSCRIPT_BYTES (refused before decoding). */
  | "TRANSCRIPT_TOO_LARGE"
  /** Transcript v2 bytes end inside a field. */
  | "TRANSCRIPT_TRUNCATED"
  /** An unmasking worker thread crashed, exited or answered garbage with a task in flight (unmask-pool.ts). */
  | "UNMASK_WORKER_FAILED";

export class SecAggError extends Error {
  readonly code: SecAggErrorCode;
  constructor(code: SecAggErrorCode, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.name = "SecAggError";
    this.code = code;
  }
}

/** HTTP status used by the HTTP server module for each error code. */
export function httpStatusOf(code: SecAggErrorCode): number {
  switch (code) {
    case "UNKNOWN_SESSION":
      return 404;
    case "BAD_SIGNATURE":
    case "UNKNOWN_CLIENT":
      return 403;
    case "REPLAY":
    case "DUPLICATE":
    case "OUT_OF_ROUND":
    case "NOT_READY":
    case "NOT_PARTICIPANT":
    case "SESSION_FAILED":
      return 409;
    case "CONSISTENCY_FAILED":
    case "TOO_FEW_SURVIVORS":
    case "TOO_FEW_SHARES":
    case "RECONSTRUCTION_FAILED":
      return 409;
    case "TRANSPORT":
      return 502;
    case "TRANSCRIPT_TOO_LARGE":
      return 413;
    case "UNMASK_WORKER_FAILED":
      return 500;
    default:
      return 400;
  }
}
