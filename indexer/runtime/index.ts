/** The local graph host's WebAssembly runtime: what the indexer loop imports. */
export {
  SubgraphRuntime,
  type BlockResult,
  type CreatedDataSource,
  type SubgraphRuntimeOptions,
} from "./runtime.ts";
export { fetchBlockInput, type BlockInput, type LogInput } from "./block-input.ts";
export {
  HandlerError,
  RuntimeError,
  RuntimeErrorCode,
  type HandlerErrorContext,
} from "./errors.ts";
export type { RelatedHeadState } from "./block-state.ts";
export type { HostLogger } from "./host-functions.ts";
export { loadManifest, type SubgraphManifest } from "./manifest.ts";
export { parseSchema, type SubgraphSchema } from "./schema.ts";
