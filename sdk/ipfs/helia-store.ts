/**
 * Embedded IPFS: a Helia node built with `createHeliaLight` — no libp2p, no routers, no block
 * brokers, so it never dials out — over `blockstore-fs` and `datastore-fs` stores in a directory.
 * Blocks are imported and exported by `@helia/unixfs` (CIDv1, raw leaves, sha2-256); reads are
 * `offline`, i.e. served only from the local blockstore — unless a {@link BlockSource} is configured:
 * then missing blocks are fetched from it, verified against their CIDs by Helia, and cached locally.
 */
import { join } from "node:path";
import { mkdir } from "node:fs/promises";
import type { Helia } from "helia";
import type { UnixFS } from "@helia/unixfs";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { ContentIntegrityError, isHashMismatch, type BlockSource } from "./block-source.ts";
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

export interface HeliaStoreOptions {
  /** Directory holding `blocks/` and `datastore/`; created when missing. */
  dir: string;
  /** Largest single read in bytes (default 64 MiB). */
  maxReadBytes?: number;
  /** Where to fetch blocks that are not stored locally (verified on arrival). Default: none. */
  blockSource?: BlockSource;
  /** With a block source: deadline of one whole read in ms (default 120 s). */
  readTimeoutMs?: number;
}

const IMPORT = { cidVersion: 1, rawLeaves: true } as const;

/** One entry of {@link HeliaStore.importEntries}: a file (with `content`) or an empty directory. */
export interface ImportEntry {
  /** `/`-separated relative path; omitted for a lone unnamed file. */
  path?: string;
  content?: Uint8Array;
}

/** Importer settings {@link HeliaStore.importEntries} accepts (defaults: those of `addBytes`). */
export interface ImportSettings {
  cidVersion?: 0 | 1;
  rawLeaves?: boolean;
  wrapWithDirectory?: boolean;
}

/** One imported node: its path (`""` for a wrapping directory), CID and cumulative DAG size. */
export interface ImportedEntry {
  path: string;
  cid: CID;
  /** Cumulative size of the node's DAG in bytes (Kubo's `Size`, a link's `Tsize`). */
  size: bigint;
}

/** Multicodec codes {@link HeliaStore.putBlock} accepts. */
export const BLOCK_CODECS = { raw: 0x55, "dag-pb": 0x70 } as const;
export type BlockCodec = keyof typeof BLOCK_CODECS;

export class HeliaStore implements ContentStore {
  readonly #helia: Helia;
  readonly #fs: UnixFS;
  readonly #limit: number;
  /** `undefined`: offline (local blocks only); otherwise the deadline of a read that may fetch. */
  readonly #readTimeoutMs: number | undefined;
  #closed = false;

  private constructor(helia: Helia, fs: UnixFS, limit: number, readTimeoutMs: number | undefined) {
    this.#helia = helia;
    this.#fs = fs;
    this.#limit = limit;
    this.#readTimeoutMs = readTimeoutMs;
  }

  /** Opens (or creates) the stores under `options.dir` and starts the node. */
  static async open(options: HeliaStoreOptions): Promise<HeliaStore> {
    await mkdir(options.dir, { recursive: true });
    const source = options.blockSource;
    // loaded here, not at the module's top: ≈ 0.6 s of CPU (≈ 2 s with `helia`'s index: helia-light.ts) that a
    // process importing the sdk pays only once it opens a store (a CLI's --help, or a command that never reads
    // IPFS, does not)
    const [{ createHeliaLight }, { unixfs }, { FsBlockstore }, { FsDatastore }] = await Promise.all(
      [
        import("./helia-light.ts"),
        import("@helia/unixfs"),
        import("blockstore-fs"),
        import("datastore-fs"),
      ],
    );
    const helia = await createHeliaLight({
      blockstore: new FsBlockstore(join(options.dir, "blocks")),
      datastore: new FsDatastore(join(options.dir, "datastore")),
      blockBrokers: source
        ? [
            {
              name: source.name,
              retrieve: (cid: CID, opts?: { signal?: AbortSignal }) =>
                source.getBlock(cid, opts?.signal ? { signal: opts.signal } : {}),
            },
          ]
        : [],
    });
    await helia.start();
    return new HeliaStore(
      helia,
      unixfs(helia),
      options.maxReadBytes ?? DEFAULT_MAX_READ_BYTES,
      source ? (options.readTimeoutMs ?? 120_000) : undefined,
    );
  }

  async addBytes(bytes: Uint8Array): Promise<string> {
    this.#assertOpen();
    const cid = await this.#fs.addBytes(bytes, IMPORT);
    return cid.toString();
  }

  async getBytes(cid: string): Promise<Uint8Array> {
    return this.#read(cid, undefined);
  }

  async addDirectory(files: readonly DirectoryFile[]): Promise<string> {
    this.#assertOpen();
    checkDirectoryFiles(files);
    let root: string | undefined;
    const entries = files.map((f) => ({ path: f.path, content: f.content }));
    for await (const entry of this.#fs.addAll(entries, { ...IMPORT, wrapWithDirectory: true })) {
      if (entry.path === "") root = entry.cid.toString();
    }
    if (root === undefined) throw new Error("HeliaStore: importer returned no directory root");
    return root;
  }

  async getFile(cid: string, path: string): Promise<Uint8Array> {
    checkFileName(path);
    return this.#read(cid, path);
  }

  /**
   * Imports files and directories with explicit UnixFS settings, yielding every node the importer
   * emits (files, then directories, the wrapping root last); chunking and layout are Helia's defaults
   * (1 MiB chunks, balanced, 1024 links per node). With the default settings the CIDs are
   * exactly those of {@link addBytes} / {@link addDirectory}; the RPC server's `add` runs on this.
   */
  async *importEntries(
    entries: readonly ImportEntry[],
    settings: ImportSettings = {},
  ): AsyncGenerator<ImportedEntry> {
    this.#assertOpen();
    const options = {
      cidVersion: settings.cidVersion ?? IMPORT.cidVersion,
      rawLeaves: settings.rawLeaves ?? IMPORT.rawLeaves,
      wrapWithDirectory: settings.wrapWithDirectory ?? false,
    };
    const candidates = entries.map((e) =>
      e.content === undefined
        ? { path: e.path ?? "" }
        : { content: e.content, ...(e.path === undefined ? {} : { path: e.path }) },
    );
    for await (const e of this.#fs.addAll(candidates, options)) {
      yield { path: e.path ?? e.cid.toString(), cid: e.cid, size: e.size };
    }
  }

  /** Stores one block under its sha2-256 CIDv1 with `codec` (`block/put`); returns the CID. */
  async putBlock(bytes: Uint8Array, codec: BlockCodec = "raw"): Promise<CID> {
    this.#assertOpen();
    const cid = CID.createV1(BLOCK_CODECS[codec], await sha256.digest(bytes));
    await this.#helia.blockstore.put(cid, bytes);
    return cid;
  }

  /** The raw bytes of one locally stored block (for serving blocks to other stores). */
  async getBlock(cid: CID, options: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
    this.#assertOpen();
    try {
      return await collect(
        this.#helia.blockstore.get(cid, { offline: true, ...options }),
        cid.toString(),
        Number.MAX_SAFE_INTEGER,
      );
    } catch (e) {
      throw new ContentNotFoundError(cid.toString(), undefined, e);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#helia.stop();
  }

  async #read(cid: string, path: string | undefined): Promise<Uint8Array> {
    this.#assertOpen();
    const parsed = parseCid(cid);
    // A referenced timer (unlike AbortSignal.timeout) keeps the process alive until the deadline.
    const deadline = new AbortController();
    const timer =
      this.#readTimeoutMs === undefined
        ? undefined
        : setTimeout(() => deadline.abort(new Error("read deadline passed")), this.#readTimeoutMs);
    try {
      const chunks = this.#fs.cat(parsed, {
        ...(timer === undefined ? { offline: true } : { signal: deadline.signal }),
        ...(path === undefined ? {} : { path }),
      });
      return await collect(chunks, cid, this.#limit);
    } catch (e) {
      if (e instanceof ContentTooLargeError) throw e;
      if (isHashMismatch(e)) throw new ContentIntegrityError(cid, e);
      throw new ContentNotFoundError(cid, path, e);
    } finally {
      clearTimeout(timer);
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error("HeliaStore is closed");
  }
}
