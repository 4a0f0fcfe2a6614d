/**
 * A Kubo node over its HTTP RPC API (`kubo-rpc-client`), used when an operator configures one.
 *
 * - Writes go to Kubo (`add` / `addAll`, CIDv1, raw leaves, pinned): the same import parameters as
 *   {@link HeliaStore}.
 * - Reads never trust Kubo: they go through a local, offline Helia node whose only block source is
 *   Kubo's `block/get`. Helia checks every fetched block against its CID before using or caching it,
 *   so a faulty or malicious node cannot substitute content ({@link ContentIntegrityError}).
 */
import type { KuboRPCClient } from "kubo-rpc-client";
import type { CID } from "multiformats/cid";
import type { BlockSource } from "./block-source.ts";
import { HeliaStore } from "./helia-store.ts";
import {
  checkDirectoryFiles,
  DEFAULT_MAX_READ_BYTES,
  type ContentStore,
  type DirectoryFile,
} from "./store.ts";

export interface KuboStoreOptions {
  /** RPC API URL, e.g. `http://127.0.0.1:5001`. */
  url: string;
  /** Directory of the local verified block cache. */
  cacheDir: string;
  /** Per-request timeout in ms (default 30 s). */
  timeoutMs?: number;
  /** Largest single read in bytes (default 64 MiB). */
  maxReadBytes?: number;
}

/**
 * HeliaStore's import parameters, spelled out for Kubo: its default chunker is 256 KiB (Helia's is
 * 1 MiB), so without `chunker` a multi-chunk file would get a different CID on a real Kubo node.
 * (Kubo's balanced layout also caps nodes at 174 links, Helia's at 1024: files above 174 MiB — above
 * the default read limit — would still differ.)
 */
const IMPORT = { cidVersion: 1, rawLeaves: true, pin: true, chunker: "size-1048576" } as const;

/** Kubo's `block/get` as a {@link BlockSource}. */
export function kuboBlockSource(client: KuboRPCClient, timeoutMs = 30_000): BlockSource {
  return {
    name: "kubo-rpc",
    getBlock: (cid: CID, options = {}) =>
      client.block.get(cid, {
        timeout: timeoutMs,
        ...(options.signal ? { signal: options.signal } : {}),
      }),
  };
}

export class KuboStore implements ContentStore {
  readonly #client: KuboRPCClient;
  readonly #reader: HeliaStore;
  readonly #timeout: number;

  private constructor(client: KuboRPCClient, reader: HeliaStore, timeout: number) {
    this.#client = client;
    this.#reader = reader;
    this.#timeout = timeout;
  }

  static async open(options: KuboStoreOptions): Promise<KuboStore> {
    // loaded on open, not at the module's top (as Helia: sdk/ipfs/helia-store.ts)
    const { create } = await import("kubo-rpc-client");
    const client = create({ url: new URL(options.url) });
    const timeout = options.timeoutMs ?? 30_000;
    const reader = await HeliaStore.open({
      dir: options.cacheDir,
      maxReadBytes: options.maxReadBytes ?? DEFAULT_MAX_READ_BYTES,
      blockSource: kuboBlockSource(client, timeout),
    });
    return new KuboStore(client, reader, timeout);
  }

  async addBytes(bytes: Uint8Array): Promise<string> {
    const res = await this.#client.add(bytes, { ...IMPORT, timeout: this.#timeout });
    return res.cid.toString();
  }

  getBytes(cid: string): Promise<Uint8Array> {
    return this.#reader.getBytes(cid);
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

  getFile(cid: string, path: string): Promise<Uint8Array> {
    return this.#reader.getFile(cid, path);
  }

  async close(): Promise<void> {
    await this.#reader.close();
  }
}
