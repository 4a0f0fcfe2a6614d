/** Typed errors of the relayer runtime: every failure an operator can hit at start carries a stable `code`. */
export type RelayerErrorCode =
  | "CONFIG_INVALID"
  | "CONFIG_FILE"
  | "DATA_DIR_LOCKED"
  | "QUEUE"
  | "RPC_UNREACHABLE"
  | "IPFS_UNREACHABLE"
  | "UNKNOWN_ACTION"
  | "KEYSTORE";

export class RelayerError extends Error {
  readonly code: RelayerErrorCode;
  constructor(code: RelayerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "RelayerError";
    this.code = code;
  }
}

/** One line, no stack: what the operator sees when the relayer refuses to start. */
export function describeError(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    const first = e.message.split("\n")[0] ?? e.message;
    return typeof code === "string" ? `${code}: ${first}` : first;
  }
  return String(e);
}
