import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ContentNotFoundError,
  ContentTooLargeError,
  HeliaStore,
  InvalidCidError,
  InvalidDirectoryError,
  isCid,
  openContentStore,
  parseCid,
} from "#sdk/ipfs/index.ts";

let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "dml-helia-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const bytes = (n: number, seed: number) =>
  Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

describe("parseCid", () => {
  it("accepts v0 and v1 CIDs and rejects malformed input", () => {
    assert.equal(parseCid("QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n").version, 0);
    assert.equal(
      parseCid("bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy").version,
      1,
    );
    for (const bad of [
      "",
      "hello",
      "bafy!!!",
      " QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n",
      42,
      null,
    ]) {
      assert.throws(() => parseCid(bad), InvalidCidError);
      assert.equal(isCid(bad), false);
    }
  });
});

describe("HeliaStore (embedded, offline, filesystem)", () => {
  it("round-trips bytes and multi-block files, with content-derived CIDs", async () => {
    const store = await HeliaStore.open({ dir });
    try {
      const small = bytes(100, 1);
      const big = bytes(3 * 1024 * 1024 + 17, 2); // several 1 MiB chunks
      const a = await store.addBytes(small);
      const b = await store.addBytes(big);
      assert.equal(await store.addBytes(Uint8Array.from(small)), a);
      assert.notEqual(a, b);
      assert.deepEqual(await store.getBytes(a), small);
      assert.deepEqual(await store.getBytes(b), big);
    } finally {
      await store.close();
    }
  });

  it("stores flat directories and persists across restarts", async () => {
    const first = await HeliaStore.open({ dir });
    const cid = await first.addDirectory([
      { path: "a.json", content: bytes(10, 3) },
      { path: "b.bin", content: bytes(5000, 4) },
    ]);
    await first.close();
    await first.close(); // idempotent
    const second = await HeliaStore.open({ dir });
    try {
      assert.deepEqual(await second.getFile(cid, "b.bin"), bytes(5000, 4));
      assert.deepEqual(await second.getFile(cid, "a.json"), bytes(10, 3));
      await assert.rejects(second.getFile(cid, "c.txt"), ContentNotFoundError);
    } finally {
      await second.close();
    }
  });

  it("fails fast, without network, on content it does not hold", async () => {
    const store = await openContentStore({ heliaDir: join(dir, "other") });
    try {
      const started = Date.now();
      await assert.rejects(
        store.getBytes("bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"),
        ContentNotFoundError,
      );
      assert.ok(Date.now() - started < 5000);
      await assert.rejects(store.getBytes("definitely not a cid"), InvalidCidError);
    } finally {
      await store.close();
    }
  });

  it("enforces the read limit and safe file names", async () => {
    const store = await HeliaStore.open({ dir, maxReadBytes: 1000 });
    try {
      const cid = await store.addBytes(bytes(1001, 5));
      await assert.rejects(store.getBytes(cid), ContentTooLargeError);
      for (const path of ["", "..", "a/b", "x\\y"]) {
        await assert.rejects(
          store.addDirectory([{ path, content: bytes(1, 0) }]),
          InvalidDirectoryError,
        );
      }
      await assert.rejects(
        store.addDirectory([
          { path: "same", content: bytes(1, 0) },
          { path: "same", content: bytes(2, 0) },
        ]),
        InvalidDirectoryError,
      );
      await assert.rejects(store.addDirectory([]), InvalidDirectoryError);
      await assert.rejects(store.getFile(cid, "../x"), InvalidDirectoryError);
    } finally {
      await store.close();
    }
  });

  it("config rejects a non-http Kubo URL", async () => {
    await assert.rejects(openContentStore({ heliaDir: dir, kuboUrl: "ftp://127.0.0.1:5001" }));
  });
});
