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
  | "TRANSPORT";

export class SecAggError extends Error {
  readonly code: SecAggErrorCode;
  constructor(code: SecAggErrorCode, message: string) {
    super(`${code}: ${message}`);
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
    default:
      return 400;
  }
}
