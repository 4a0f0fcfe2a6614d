/**
 * Typed errors of the wire formats devices and operators share (`sdk/protocol/`): a cohort list or heartbeat that
 * does not parse, does not match the chain or does not include its sender. Every failure carries a stable `code`;
 * the device runner records these codes like its own (`device-runner/errors.ts` `errorCode`).
 */
export type ProtocolErrorCode =
  /** A cohort list that does not parse, is for another job, repeats a client id, or whose roster has the wrong number of session keys. */
  | "COHORT_INVALID"
  /** A drawn cohort with fewer than kMin members. */
  | "COHORT_TOO_SMALL"
  /** A drawn cohort whose size is not the on-chain `deviceCount`. */
  | "COHORT_SIZE_MISMATCH"
  /** A cohort list whose Merkle root is not the on-chain root. */
  | "COHORT_ROOT_MISMATCH"
  /** The device is not a member of the cohort. */
  | "NOT_IN_COHORT"
  /** A heartbeat that is malformed, unsigned, stale, for another epoch, or that the distributor refused. */
  | "HEARTBEAT_INVALID"
  /** Session parameters out of range (chain id, job id, attempt, classes). */
  | "SESSION_INVALID"
  /** A result vector (or sum of them) of the wrong length or with a non-finite coordinate. */
  | "RESULT_VECTOR_INVALID"
  /** A labelled set (control group or acceptance split) that does not parse or does not fit the package. */
  | "LABELLED_SET_INVALID";

export class ProtocolError extends Error {
  readonly code: ProtocolErrorCode;
  constructor(code: ProtocolErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ProtocolError";
    this.code = code;
  }
}
