/**
 * sdk/ipfs/shared-reads.ts over a real Helia store: many readers of one CID share a single fetch, each gets its own
 * copy, a failed read (content not there yet) is not cached, and the cache stays within its byte bound (least
 * recently used out first). Fetches are counted at the wrapped store.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { HeliaStore, SharedReads, type ContentStore } from "#sdk/ipfs/index.ts";

describe("SharedReads: one fetch per content for many readers in a process", () => {
  let dir: string;
  let helia: HeliaStore;
  const fetched: string[] = [];
  /** The real store, with each read recorded. */
  let counted: ContentStore;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "dml-shared-reads-"));
    helia = await HeliaStore.open({ dir });
    counted = {
      addBytes: (b) => helia.addBytes(b),
      addDirectory: (f) => helia.addDirectory(f),
      getBytes: (cid) => (fetched.push(cid), helia.getBytes(cid)),
      getFile: (cid, p) => (fetched.push(`${cid}/${p}`), helia.getFile(cid, p)),
      close: async () => undefined,
    };
  });
  after(async () => {
    await helia.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("200 concurrent readers of a file and a directory entry: one fetch each, equal bytes, own copies", async () => {
    fetched.length = 0;
    const reads = new SharedReads();
    const content = new TextEncoder().encode("cohort list ".repeat(1000));
    const cid = await helia.addBytes(content);
    const dirCid = await helia.addDirectory([{ path: "model.onnx", content }]);
    const stores = Array.from({ length: 200 }, () => reads.wrap(counted));
    const files = await Promise.all(stores.map((s) => s.getBytes(cid)));
    const entries = await Promise.all(stores.map((s) => s.getFile(dirCid, "model.onnx")));
    assert.deepEqual(fetched, [cid, `${dirCid}/model.onnx`]);
    for (const b of [...files, ...entries]) assert.deepEqual(b, content);
    files[0]![0] = 0;
    assert.notDeepEqual(files[0], files[1], "a reader's copy is its own");
    assert.deepEqual(await stores[7]!.getBytes(cid), content);
    assert.deepEqual(reads.stats, { hits: 399, misses: 2, bytes: 2 * content.length, entries: 2 });
  });

  it("a failed read is not cached: the next reader fetches again", async () => {
    fetched.length = 0;
    const reads = new SharedReads();
    const store = reads.wrap(counted);
    const content = new TextEncoder().encode("not yet there");
    const cid = await helia.addBytes(content);
    await assert.rejects(store.getFile(cid, "missing.json"));
    await assert.rejects(store.getFile(cid, "missing.json"));
    assert.equal(fetched.length, 2);
    assert.equal(reads.stats.entries, 0);
  });

  it("stays within its byte bound, evicting the least recently used", async () => {
    fetched.length = 0;
    const size = 4096;
    const reads = new SharedReads(2 * size);
    const store = reads.wrap(counted);
    const cids = [];
    for (let i = 0; i < 3; i++) cids.push(await helia.addBytes(new Uint8Array(size).fill(i + 1)));
    const [a, b, c] = cids as [string, string, string];
    await store.getBytes(a);
    await store.getBytes(b);
    await store.getBytes(a); // a is now the most recent
    await store.getBytes(c); // evicts b
    assert.ok(reads.stats.bytes <= 2 * size);
    await store.getBytes(a);
    await store.getBytes(b);
    assert.deepEqual(fetched, [a, b, c, b]);
    assert.throws(() => new SharedReads(-1), RangeError);
  });
});
