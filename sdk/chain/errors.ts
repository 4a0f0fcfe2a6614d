/** Typed errors raised by the chain helpers, the transaction sender, the event cursor and the deployment script. */
import type { Hex } from "viem";

/** Base class: every chain-helper error carries a stable `code`. */
export class ChainError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A compiled artifact could not be found (run `npx hardhat build`) or is malformed. */
export class ArtifactError extends ChainError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ARTIFACT", message, options);
  }
}

/** A deployment manifest is missing, unreadable or fails schema validation. */
export class ManifestError extends ChainError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("MANIFEST", message, options);
  }
}

/** A deployment configuration (file, flags or env) is invalid. */
export class ConfigError extends ChainError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("CONFIG", message, options);
  }
}

/** A deployment step failed or left the chain in a state the script cannot resume from. */
export class DeploymentError extends ChainError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("DEPLOYMENT", message, options);
  }
}

/** An RPC endpoint did not answer, or answered for an unexpected chain. */
export class RpcError extends ChainError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("RPC", message, options);
  }
}

/** Why a transaction did not take effect. */
export type TxErrorCode =
  | "TX_REVERTED"
  | "TX_TIMEOUT"
  | "TX_UNDERPRICED"
  | "TX_INSUFFICIENT_FUNDS"
  | "NONCE_CONFLICT"
  | "TX_SEND"
  | "TX_INVALID";

/** A transaction failed; `code` says how. Reverts carry the decoded custom error. */
export class TxError extends ChainError {
  declare readonly code: TxErrorCode;
  /** The custom error's name (`Error` for `require` strings, `Panic` for panics) when it could be decoded. */
  readonly errorName: string | undefined;
  /** The custom error's arguments. */
  readonly errorArgs: readonly unknown[];
  /** The nonce used, when a transaction was sent. */
  readonly nonce: number | undefined;
  /** Every hash sent for this transaction (the original and its replacements). */
  readonly hashes: readonly Hex[];
  constructor(
    code: TxErrorCode,
    message: string,
    details: {
      errorName?: string;
      errorArgs?: readonly unknown[];
      nonce?: number;
      hashes?: readonly Hex[];
      cause?: unknown;
    } = {},
  ) {
    super(code, message, { cause: details.cause });
    this.errorName = details.errorName;
    this.errorArgs = details.errorArgs ?? [];
    this.nonce = details.nonce;
    this.hashes = details.hashes ?? [];
  }
}

/** The event cursor's state file is unreadable, or a reorg is deeper than its remembered history. */
export class CursorError extends ChainError {
  constructor(
    code: "CURSOR_STATE" | "REORG_TOO_DEEP" | "CURSOR_RPC",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}
