/** IPFS content storage: embedded Helia (default) or a configured Kubo RPC node. */
export { InvalidCidError, isCid, parseCid } from "./cid.ts";
export {
  checkDirectoryFiles,
  checkFileName,
  ContentNotFoundError,
  ContentTooLargeError,
  DEFAULT_MAX_READ_BYTES,
  InvalidDirectoryError,
  type ContentStore,
  type DirectoryFile,
} from "./store.ts";
export {
  HeliaStore,
  type HeliaStoreOptions,
  type ImportEntry,
  type ImportedEntry,
  type ImportSettings,
} from "./helia-store.ts";
export { kuboBlockSource, KuboStore, type KuboStoreOptions } from "./kubo-store.ts";
export { ContentIntegrityError, isHashMismatch, type BlockSource } from "./block-source.ts";
export { DEFAULT_SHARED_READ_BYTES, SharedReads } from "./shared-reads.ts";
export { openContentStore, contentStoreConfigSchema, type ContentStoreConfig } from "./open.ts";
export {
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_RPC_PORT,
  IpfsRpcServer,
  RpcServerError,
  type RpcErrorCode,
  type RpcServerOptions,
} from "./rpc-server.ts";
export { IpfsDaemon, IpfsDaemonError, type IpfsDaemonOptions } from "./daemon.ts";
