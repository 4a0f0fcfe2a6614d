import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CID } from "multiformats/cid";
import {
  ContentIntegrityError,
  ContentNotFoundError,
  HeliaStore,
  KuboStore,
  openContentStore,
  type BlockSource,
} from "#sdk/ipfs/index.ts";

let dir: string;
let origin: HeliaStore;
let fileCid: string;
let dirCid: string;
const big = Uint8Array.from({ length: 2_500_000 }, (_, i) => (i * 7) & 0xff);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "dml-remote-"));
  origin = await HeliaStore.open({ dir: join(dir, "origin") });
  fileCid = await origin.addBytes(big);
  dirCid = await origin.addDirectory([{ path: "data.bin", content: big.subarray(0, 1000) }]);
});
after(async () => {
  await origin.close();
  await rm(dir, { recursive: true, force: true });
});

/** Serves blocks from the origin store, counting requests; `tamper` corrupts every block. */
function source(tamper = false): BlockSource & { requests: number } {
  const s = {
    name: tamper ? "tampering" : "origin",
    requests: 0,
    async getBlock(cid: CID) {
      s.requests += 1;
      const block = await origin.getBlock(cid);
      if (!tamper) return block;
      const bad = Uint8Array.from(block);
      bad[0] = (bad[0] ?? 0) ^ 1;
      return bad;
    },
  };
  return s;
}

describe("HeliaStore with a remote block source", () => {
  it("fetches, verifies and caches remote blocks", async () => {
    const src = source();
    const reader = await HeliaStore.open({ dir: join(dir, "reader"), blockSource: src });
    try {
      assert.deepEqual(await reader.getBytes(fileCid), big);
      assert.deepEqual(await reader.getFile(dirCid, "data.bin"), big.subarray(0, 1000));
      const fetched = src.requests;
      assert.ok(fetched >= 4, `fetched ${fetched} blocks`);
      assert.deepEqual(await reader.getBytes(fileCid), big);
      assert.equal(src.requests, fetched, "second read served from the local cache");
    } finally {
      await reader.close();
    }
  });

  it("rejects blocks that do not hash to their CID with ContentIntegrityError", async () => {
    const reader = await HeliaStore.open({ dir: join(dir, "victim"), blockSource: source(true) });
    try {
      await assert.rejects(reader.getBytes(fileCid), ContentIntegrityError);
      await assert.rejects(reader.getFile(dirCid, "data.bin"), ContentIntegrityError);
    } finally {
      await reader.close();
    }
  });
});

describe("HeliaStore read deadline", () => {
  it("gives up on a block source that never answers", async () => {
    const silent: BlockSource = {
      name: "silent",
      getBlock: (_cid, options = {}) =>
        new Promise<Uint8Array>((_resolve, reject) => {
          options.signal?.addEventListener("abort", () => reject(new Error("aborted")));
        }),
    };
    const reader = await HeliaStore.open({
      dir: join(dir, "patient"),
      blockSource: silent,
      readTimeoutMs: 300,
    });
    try {
      const started = Date.now();
      await assert.rejects(reader.getBytes(fileCid), ContentNotFoundError);
      assert.ok(Date.now() - started < 5000);
    } finally {
      await reader.close();
    }
  });
});

describe("KuboStore", () => {
  it("surfaces an unreachable Kubo RPC endpoint as typed errors", async () => {
    // port 9 (discard) on loopback: nothing listens, the connection is refused at once
    const store = await KuboStore.open({
      url: "http://127.0.0.1:9",
      cacheDir: join(dir, "kubo-cache"),
      timeoutMs: 2000,
    });
    try {
      await assert.rejects(store.getBytes(fileCid), ContentNotFoundError);
      await assert.rejects(store.addBytes(new Uint8Array([1, 2, 3])));
    } finally {
      await store.close();
    }
  });

  it("is what openContentStore returns when a Kubo URL is configured", async () => {
    const store = await openContentStore({
      heliaDir: join(dir, "kubo-cache-2"),
      kuboUrl: "http://127.0.0.1:9",
    });
    try {
      assert.ok(store instanceof KuboStore);
    } finally {
      await store.close();
    }
  });
});
