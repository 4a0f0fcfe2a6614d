/** Typed failures of the differential-privacy layer. Every rejection carries a stable machine-readable `code`. */
export type PrivacyErrorCode =
  /** A noise parameter is out of range (σ ≤ 0, non-finite, n_min < 1, δ outside (0, 1), …). */
  | "INVALID_NOISE_PARAMS"
  /** A vector whose per-record sensitivity is not bounded by the mechanism (values beyond the DP caps). */
  | "SENSITIVITY_UNDEFINED"
  /** The fixed-point window leaves too little headroom for the noise: decoding could wrap. */
  | "DECODE_HEADROOM";

export class PrivacyError extends Error {
  readonly code: PrivacyErrorCode;
  constructor(code: PrivacyErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = "PrivacyError";
    this.code = code;
  }
}
