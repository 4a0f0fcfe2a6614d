/**
 * The dashboard's routes on dml-indexer's server (indexer/dashboard/serve.ts) beside GraphQL, against a real
 * `dml-ipfs` daemon: the build's files and index.html for the router's paths, config.json, the read-only IPFS proxy
 * (a file, a file inside a directory, refusals with codes), no path outside the build, GraphQL's routes unchanged;
 * and the Vite build is made once per source change (indexer/dashboard/build.ts).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Store } from "../../indexer/store/store.ts";
import { GraphQLApi } from "../../indexer/graphql/execute.ts";
import { GraphQLServer } from "../../indexer/graphql/server.ts";
import { dashboardRoutes } from "../../indexer/dashboard/serve.ts";
import {
  DASHBOARD_DIST,
  dashboardBuildCurrent,
  ensureDashboardBuild,
} from "../../indexer/dashboard/build.ts";
import { IpfsDaemon } from "#sdk/ipfs/daemon.ts";
import { KuboStore } from "#sdk/ipfs/kubo-store.ts";
import { FIXTURE_SDL } from "./fixtures/store-fixture.ts";

let dir: string;
let store: Store;
let daemon: IpfsDaemon;
let kubo: KuboStore;
let server: GraphQLServer;
let url: string;
let fileCid: string;
let dirCid: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "dml-dash-serve-"));
  const dist = join(dir, "dist");
  await mkdir(join(dist, "assets"), { recursive: true });
  await writeFile(join(dist, "index.html"), "<!doctype html><title>dash</title>");
  await writeFile(join(dist, "assets", "app-1.js"), "console.log(1)");
  await writeFile(join(dir, "secret.txt"), "outside");
  store = await Store.open({ memory: true, schema: FIXTURE_SDL, deployment: "QmFixture" });
  daemon = await IpfsDaemon.start({ dir: join(dir, "ipfs"), port: 0 });
  kubo = await KuboStore.open({ url: daemon.url, cacheDir: join(dir, "kubo") });
  fileCid = await kubo.addBytes(new TextEncoder().encode("ciphertext bytes"));
  dirCid = await kubo.addDirectory([
    { path: "manifest.json", content: new TextEncoder().encode('{"v":1}') },
  ]);
  server = new GraphQLServer({
    subgraphs: [{ name: "dml/fixture", deployment: "QmFixture", api: new GraphQLApi(store) }],
    routes: dashboardRoutes({
      distDir: dist,
      graphqlPath: "/subgraphs/name/dml/fixture",
      rpcUrl: "http://127.0.0.1:8545",
      ipfsUrl: daemon.url,
    }),
  });
  url = await server.start();
});

after(async () => {
  await server?.stop();
  await kubo?.close();
  await daemon?.close();
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

const errorCode = async (res: Response): Promise<string> =>
  ((await res.json()) as { error: { code: string } }).error.code;

describe("dashboard routes on the GraphQL server", () => {
  it("serves the build, index.html for the router's paths, and config.json", async () => {
    const root = await fetch(`${url}/`, { redirect: "manual" });
    assert.equal(root.status, 302);
    assert.equal(root.headers.get("location"), "/dashboard/");
    const index = await fetch(`${url}/dashboard/`);
    assert.equal(index.status, 200);
    assert.match(index.headers.get("content-type") ?? "", /text\/html/);
    assert.match(await index.text(), /<title>dash<\/title>/);
    const js = await fetch(`${url}/dashboard/assets/app-1.js`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get("content-type") ?? "", /javascript/);
    assert.match(js.headers.get("cache-control") ?? "", /immutable/);
    assert.equal(
      (await fetch(`${url}/dashboard/jobs/7`)).status,
      200,
      "index.html for other paths",
    );
    assert.equal(await errorCode(await fetch(`${url}/dashboard/assets/missing.js`)), "NOT_FOUND");
    const config = (await (await fetch(`${url}/dashboard/config.json`)).json()) as Record<
      string,
      unknown
    >;
    assert.deepEqual(config, {
      graphql: `${url}/subgraphs/name/dml/fixture`,
      rpc: "http://127.0.0.1:8545",
      ipfs: `${url}/ipfs`,
      pollMs: 3000,
    });
  });

  it("never serves a file outside the build, and is read-only", async () => {
    for (const p of ["/dashboard/..%2Fsecret.txt", "/dashboard/%2e%2e/secret.txt"]) {
      const res = await fetch(`${url}${p}`);
      const text = await res.text();
      assert.doesNotMatch(text, /outside/, p);
    }
    const post = await fetch(`${url}/dashboard/`, { method: "POST", body: "x" });
    assert.equal(post.status, 405);
  });

  it("proxies IPFS reads by CID, with a path inside a directory, and refuses the rest with codes", async () => {
    const file = await fetch(`${url}/ipfs/${fileCid}`);
    assert.equal(file.status, 200);
    assert.equal(await file.text(), "ciphertext bytes");
    const inner = await fetch(`${url}/ipfs/${dirCid}/manifest.json`);
    assert.equal(inner.status, 200);
    assert.deepEqual(await inner.json(), { v: 1 });
    const bad = await fetch(`${url}/ipfs/not-a-cid`);
    assert.equal(bad.status, 400);
    assert.equal(await errorCode(bad), "INVALID_CID");
    const dots = await fetch(`${url}/ipfs/${dirCid}/..%2F..%2Fetc`);
    assert.equal(dots.status, 400);
    assert.equal(await errorCode(dots), "INVALID_PATH");
    const missing = await fetch(`${url}/ipfs/${dirCid}/nothing.json`);
    assert.equal(missing.status, 404, await missing.clone().text());
    assert.equal(await errorCode(missing), "NOT_FOUND");
    const write = await fetch(`${url}/ipfs/${fileCid}`, { method: "POST" });
    assert.equal(write.status, 405);
  });

  it("says when no IPFS is configured", async () => {
    const s = new GraphQLServer({
      subgraphs: [],
      routes: dashboardRoutes({ distDir: dir, graphqlPath: "/x", rpcUrl: null, ipfsUrl: null }),
    });
    const u = await s.start();
    try {
      const res = await fetch(`${u}/ipfs/${fileCid}`);
      assert.equal(res.status, 503);
      assert.equal(await errorCode(res), "IPFS_NOT_CONFIGURED");
    } finally {
      await s.stop();
    }
  });

  it("keeps GraphQL's routes as they were", async () => {
    const res = await fetch(`${url}/subgraphs/name/dml/fixture`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: "{ _meta { deployment } }" }),
    });
    // the query reached the subgraph's API (an empty store answers graph-node's "not started syncing")
    assert.equal(res.status, 200);
    assert.match(JSON.stringify(await res.json()), /QmFixture.*has not started syncing/);
    const unknown = await fetch(`${url}/subgraphs/name/nope`);
    assert.equal(unknown.status, 404);
    const other = await fetch(`${url}/elsewhere`);
    assert.equal(other.status, 404);
    assert.match(await other.text(), /subgraph not found/);
  });
});

describe("dashboard build", () => {
  it("builds dashboard/dist with Vite once per source change", async () => {
    await ensureDashboardBuild();
    assert.ok(dashboardBuildCurrent());
    assert.ok(existsSync(join(DASHBOARD_DIST, "index.html")));
    assert.equal(await ensureDashboardBuild(), false, "a current build is kept");
  });
});
