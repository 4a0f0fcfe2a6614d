/**
 * Typed errors of the device runner: every failure a data owner can hit carries a stable `code`. The wire formats'
 * own failures (cohort list, heartbeat) are `ProtocolError`s from `#sdk/protocol/errors.ts`; their codes are part of
 * `DeviceErrorCode`, and `errorCode` reads the code of either.
 */
import { ProtocolError, type ProtocolErrorCode } from "#sdk/protocol/errors.ts";

export type DeviceErrorCode =
  | ProtocolErrorCode
  | "KEYSTORE_MISSING"
  | "KEYSTORE_EXISTS"
  | "KEYSTORE_INVALID"
  | "WRONG_PASSWORD"
  | "DATASET_INVALID"
  | "DATASET_MISSING"
  | "UNKNOWN_SCHEMA"
  | "CONFIG_INVALID"
  | "PACKAGE_INVALID"
  | "SCHEMA_MISMATCH"
  | "AGGREGATOR_UNREACHABLE"
  | "SECAGG_FAILED"
  | "NOT_IDLE"
  | "PROOF_INVALID"
  | "NOT_IN_PAYOUT"
  | "CORRECTIONS_INVALID"
  | "CHAIN"
  // fine-tuning enrolment (enrol.ts)
  | "BOUNTY_NOT_ACTIVE"
  | "NOT_REGISTERED"
  // refusals: the device decides not to serve a job (admission.ts); recorded as `refused`, never retried
  | "CONSENT_DENIED"
  | "BELOW_PRICE_FLOOR"
  | "NOT_ELIGIBLE"
  | "MODEL_OUT_OF_BOUNDS"
  | "SESSION_KEY_MISMATCH"
  // differential privacy (privacy-ledger.ts, result-privacy.ts): also refusals, nothing is sent
  | "PRIVACY_BUDGET_EXCEEDED"
  | "PRIVACY_LEDGER_CORRUPT"
  | "NOISE_PARAMS_INVALID";

/** Codes by which the device refuses a job it could run (consent, price, eligibility, cohort, model bounds). */
export const REFUSAL_CODES: ReadonlySet<DeviceErrorCode> = new Set<DeviceErrorCode>([
  "CONSENT_DENIED",
  "BELOW_PRICE_FLOOR",
  "NOT_ELIGIBLE",
  "COHORT_TOO_SMALL",
  "COHORT_SIZE_MISMATCH",
  "MODEL_OUT_OF_BOUNDS",
  "SESSION_KEY_MISMATCH",
  "PRIVACY_BUDGET_EXCEEDED",
  "PRIVACY_LEDGER_CORRUPT",
  "NOISE_PARAMS_INVALID",
]);

export class DeviceError extends Error {
  readonly code: DeviceErrorCode;
  constructor(code: DeviceErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DeviceError";
    this.code = code;
  }
}

/** The code of a `DeviceError` or `ProtocolError`; undefined for any other thrown value. */
export function errorCode(e: unknown): DeviceErrorCode | undefined {
  return e instanceof DeviceError || e instanceof ProtocolError ? e.code : undefined;
}

/** A short human-readable description of any thrown value. */
export function describeError(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return typeof code === "string" ? `${code}: ${e.message}` : e.message;
  }
  return String(e);
}
