/**
 * One read cache for the content stores of many clients in one process (`dml-device host`: hundreds of devices, each
 * with its own store). A CID names one content forever, so a file read once can be handed to every other reader: when
 * a job starts, its cohort list and model package are fetched once per process instead of once per device, which is
 * what a local IPFS node's blockstore gives the devices behind it. Concurrent reads of the same content share one
 * fetch; a failed fetch is forgotten (the next reader tries again); the cache holds at most `maxBytes`, evicting the
 * least recently used. Writes and `close` go to the wrapped store. Each reader still verifies what it reads (the
 * cohort root, the model hash) itself.
 */
import type { ContentStore, DirectoryFile } from "./store.ts";

export const DEFAULT_SHARED_READ_BYTES = 64 * 1024 * 1024;

export class SharedReads {
  readonly #maxBytes: number;
  /** key → bytes (or the fetch in flight); Map order is recency (oldest first). */
  readonly #entries = new Map<string, Promise<Uint8Array>>();
  readonly #sizes = new Map<string, number>();
  #bytes = 0;
  #hits = 0;
  #misses = 0;

  constructor(maxBytes = DEFAULT_SHARED_READ_BYTES) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0)
      throw new RangeError(`maxBytes must be a non-negative integer, got ${maxBytes}`);
    this.#maxBytes = maxBytes;
  }

  /** Reads served from the cache and fetched from a store so far. */
  get stats(): { hits: number; misses: number; bytes: number; entries: number } {
    return {
      hits: this.#hits,
      misses: this.#misses,
      bytes: this.#bytes,
      entries: this.#entries.size,
    };
  }

  /** `store` with its reads going through this cache. */
  wrap(store: ContentStore): ContentStore {
    return {
      addBytes: (bytes: Uint8Array) => store.addBytes(bytes),
      addDirectory: (files: readonly DirectoryFile[]) => store.addDirectory(files),
      getBytes: (cid: string) => this.#read(cid, () => store.getBytes(cid)),
      getFile: (cid: string, path: string) =>
        this.#read(`${cid}/${path}`, () => store.getFile(cid, path)),
      close: () => store.close(),
    };
  }

  #read(key: string, fetch: () => Promise<Uint8Array>): Promise<Uint8Array> {
    const hit = this.#entries.get(key);
    if (hit !== undefined) {
      this.#hits++;
      this.#entries.delete(key); // most recently used last
      this.#entries.set(key, hit);
      return hit.then((b) => b.slice()); // every reader gets its own copy to mutate
    }
    this.#misses++;
    const p = fetch();
    this.#entries.set(key, p);
    p.then(
      (bytes) => {
        if (this.#entries.get(key) !== p) return;
        if (bytes.byteLength > this.#maxBytes) {
          this.#entries.delete(key);
          return;
        }
        this.#sizes.set(key, bytes.byteLength);
        this.#bytes += bytes.byteLength;
        this.#evict();
      },
      () => {
        if (this.#entries.get(key) === p) this.#entries.delete(key);
      },
    );
    return p.then((b) => b.slice());
  }

  #evict(): void {
    for (const key of this.#entries.keys()) {
      if (this.#bytes <= this.#maxBytes) return;
      const size = this.#sizes.get(key);
      if (size === undefined) continue; // still in flight
      this.#entries.delete(key);
      this.#sizes.delete(key);
      this.#bytes -= size;
    }
  }
}
