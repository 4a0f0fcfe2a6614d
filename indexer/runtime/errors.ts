/**
 * Typed errors of the local graph host's WebAssembly runtime. A deterministic error (the mapping's own fault: an
 * abort, log.critical, an entity the schema refuses…) would fail the same way on every run, so the indexer stops
 * and sets `hasIndexingErrors`, as graph-node does; a non-deterministic one (RPC down, call timeout) is retried.
 */
export const RuntimeErrorCode = {
  /** build/subgraph.yaml, an ABI or the schema cannot be read or parsed. */
  MANIFEST_INVALID: "MANIFEST_INVALID",
  /** The mapping failed deterministically: the indexer must stop at this block. */
  HANDLER_DETERMINISTIC: "HANDLER_DETERMINISTIC",
  /** ethereum.call could not reach the chain (timeout, transport error): retry the block. */
  CALL_FAILED: "CALL_FAILED",
  /** The block input is malformed (wrong order, missing transaction or receipt). */
  INPUT_INVALID: "INPUT_INVALID",
} as const;
export type RuntimeErrorCode = (typeof RuntimeErrorCode)[keyof typeof RuntimeErrorCode];

export class RuntimeError extends Error {
  readonly code: RuntimeErrorCode;
  constructor(code: RuntimeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "RuntimeError";
    this.code = code;
  }
}

/** Where a deterministic handler error happened. */
export interface HandlerErrorContext {
  readonly dataSource: string;
  readonly handler: string;
  readonly blockNumber: number;
  readonly blockHash: string;
  readonly transactionHash?: string;
  readonly logIndex?: number;
}

/** The mapping failed deterministically (graph-node's `DeterministicHostError` / wasm trap). */
export class HandlerError extends RuntimeError {
  readonly context: HandlerErrorContext;
  /** graph-node's message for the failure, without the location prefix. */
  readonly reason: string;
  constructor(reason: string, context: HandlerErrorContext) {
    super(
      RuntimeErrorCode.HANDLER_DETERMINISTIC,
      `${context.dataSource}.${context.handler} failed at block #${context.blockNumber} (${context.blockHash})` +
        `${context.transactionHash ? `, transaction ${context.transactionHash}` : ""}: ${reason}`,
    );
    this.name = "HandlerError";
    this.reason = reason;
    this.context = context;
  }
}

/**
 * Thrown by a host function to fail the handler deterministically; the runtime turns it into a HandlerError.
 * (Thrown through the wasm frames, it unwinds the handler as graph-node's trap does.)
 */
export class DeterministicHostError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DeterministicHostError";
  }
}
