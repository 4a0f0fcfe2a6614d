/**
 * sdk/ipfs/helia-light.ts: Helia's light node, loaded from its own module rather than `helia`'s index (which also
 * imports the libp2p stack `createHelia` needs, ≈ 1.5 s of CPU per process).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, it } from "node:test";
import { MemoryBlockstore } from "blockstore-core";
import { MemoryDatastore } from "datastore-core";
import { createHeliaLight as fromIndex } from "helia";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { sha256 } from "multiformats/hashes/sha2";
import { createHeliaLight } from "#sdk/ipfs/helia-light.ts";

const stores = () => ({ blockstore: new MemoryBlockstore(), datastore: new MemoryDatastore() });

describe("createHeliaLight", () => {
  it("makes the node helia's index makes: same class, name and version; a block put is held", async () => {
    const node = await createHeliaLight(stores());
    const reference = fromIndex(stores());
    assert.equal(node.constructor, reference.constructor);
    assert.deepEqual(node.info, reference.info);
    assert.equal(node.info.name, "helia");
    await node.start();
    try {
      const bytes = new TextEncoder().encode("a block");
      const cid = CID.createV1(raw.code, await sha256.digest(bytes));
      const other = CID.createV1(raw.code, await sha256.digest(new Uint8Array([1])));
      await node.blockstore.put(cid, bytes);
      assert.equal(await node.blockstore.has(cid), true);
      assert.equal(await node.blockstore.has(other), false);
    } finally {
      await node.stop();
    }
  });

  it("never loads helia's index or its libp2p stack", async () => {
    // a child process records every module it loads, then opens a light node (resolving `helia` loads nothing)
    const module = fileURLToPath(new URL("../../sdk/ipfs/helia-light.ts", import.meta.url));
    const script = `
      import { registerHooks } from "node:module";
      const seen = [];
      registerHooks({ load(url, ctx, next) { seen.push(url); return next(url, ctx); } });
      const { createHeliaLight } = await import(${JSON.stringify(module)});
      const { MemoryBlockstore } = await import("blockstore-core");
      const { MemoryDatastore } = await import("datastore-core");
      const node = await createHeliaLight({ blockstore: new MemoryBlockstore(), datastore: new MemoryDatastore() });
      await node.start(); await node.stop();
      console.log(JSON.stringify(seen));`;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--input-type=module", "-e", script],
      { cwd: fileURLToPath(new URL("../..", import.meta.url)) },
    );
    const seen = JSON.parse(stdout) as string[];
    assert.ok(
      seen.some((u) => u.endsWith("/helia/dist/src/helia.js")),
      "the light module",
    );
    for (const heavy of [
      "/helia/dist/src/index.js",
      "/@helia/libp2p/",
      "/@helia/bitswap/",
      "/libp2p/",
    ])
      assert.ok(!seen.some((u) => u.includes(heavy)), `${heavy} was loaded`);
  });
});
