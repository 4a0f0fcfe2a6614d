/**
 * A Kubo node over its HTTP RPC API (`kubo-rpc-client`), used when an operator configures one.
 * Same import parameters as {@link HeliaStore} (CIDv1, raw leaves, sha2-256), so both stores give the
 * same CID for the same content. Kubo verifies every block against its CID when it fetches it;
 * callers still validate what they read (e.g. `loadPackage` re-hashes the model).
 */
import { create, type KuboRPCClient } from "kubo-rpc-client";
import { parseCid } from "./cid.ts";
import {
  checkDirectoryFiles,
  checkFileName,
  collect,
  ContentNotFoundError,
  ContentTooLargeError,
  DEFAULT_MAX_READ_BYTES,
  type ContentStore,
  type DirectoryFile,
} from "./store.ts";

export interface KuboStoreOptions {
  /** RPC API URL, e.g. `http://127.0.0.1:5001`. */
  url: string;
  /** Per-request timeout in ms (default 30 s). */
  timeoutMs?: number;
  /** Largest single read in bytes (default 64 MiB). */
  maxReadBytes?: number;
}

const IMPORT = { cidVersion: 1, rawLeaves: true, pin: true } as const;

export class KuboStore implements ContentStore {
  readonly #client: KuboRPCClient;
  readonly #timeout: number;
  readonly #limit: number;

  constructor(options: KuboStoreOptions) {
    this.#client = create({ url: new URL(options.url) });
    this.#timeout = options.timeoutMs ?? 30_000;
    this.#limit = options.maxReadBytes ?? DEFAULT_MAX_READ_BYTES;
  }

  async addBytes(bytes: Uint8Array): Promise<string> {
    const res = await this.#client.add(bytes, { ...IMPORT, timeout: this.#timeout });
    return res.cid.toString();
  }

  async getBytes(cid: string): Promise<Uint8Array> {
    return this.#read(cid, undefined);
  }

  async addDirectory(files: readonly DirectoryFile[]): Promise<string> {
    checkDirectoryFiles(files);
    let root: string | undefined;
    const entries = files.map((f) => ({ path: f.path, content: f.content }));
    for await (const r of this.#client.addAll(entries, {
      ...IMPORT,
      wrapWithDirectory: true,
      timeout: this.#timeout,
    })) {
      if (r.path === "") root = r.cid.toString();
    }
    if (root === undefined) throw new Error("KuboStore: node returned no directory root");
    return root;
  }

  async getFile(cid: string, path: string): Promise<Uint8Array> {
    checkFileName(path);
    return this.#read(cid, path);
  }

  async close(): Promise<void> {
    // HTTP client: nothing to release.
  }

  async #read(cid: string, path: string | undefined): Promise<Uint8Array> {
    const parsed = parseCid(cid);
    const target = path === undefined ? parsed : `/ipfs/${parsed.toString()}/${path}`;
    try {
      return await collect(this.#client.cat(target, { timeout: this.#timeout }), cid, this.#limit);
    } catch (e) {
      if (e instanceof ContentTooLargeError) throw e;
      throw new ContentNotFoundError(cid, path, e);
    }
  }
}
