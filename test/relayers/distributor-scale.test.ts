/**
 * Distributor numbers at scale (opt-in: DML_DISTRIBUTOR_SCALE=<devices>, e.g. 500): heartbeats over HTTP from real
 * device keys (25 in flight), the post of their connected set, the VRF draw request and one job's cohort draw and
 * assignment, on EDR in the same process (the CPU and memory figures include the chain). Reports wall time, CPU time
 * and resident memory per phase and asserts the effects (every heartbeat kept, one post with n devices, one
 * assignment with the `drawCohort` root).
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Hex } from "viem";
import { HeliaStore } from "#sdk/ipfs/index.ts";
import { signHeartbeat } from "#sdk/protocol/heartbeat.ts";
import { ActionQueue } from "../../relayers/common/action-queue.ts";
import { RelayerLoop } from "../../relayers/common/loop.ts";
import { createLogger } from "../../relayers/common/telemetry.ts";
import { Distributor } from "../../relayers/distributor/Distributor.ts";
import { startHeartbeatServer } from "../../relayers/distributor/HeartbeatServer.ts";
import { JOB, JobLifecycle } from "../../bench/fixture/job-run.ts";
import { JobStatus } from "../../bench/fixture/protocol.ts";

const N = Number(process.env.DML_DISTRIBUTOR_SCALE ?? "0");

describe("distributor at scale", { skip: N === 0 ? "set DML_DISTRIBUTOR_SCALE" : false }, () => {
  let life: JobLifecycle;
  let store: HeliaStore;
  let tmp: string;
  const log = createLogger("distributor", "silent");
  before(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), "dml-distributor-scale-"));
    store = await HeliaStore.open({ dir: path.join(tmp, "helia") });
    life = await JobLifecycle.create();
  });
  after(async () => {
    await store.close();
    await rm(tmp, { recursive: true, force: true });
  });

  it(`takes ${N} heartbeats, posts the set, requests the draw, assigns a cohort`, async (t) => {
    const { env } = life;
    const devices = life.poolDevices(N);
    await env.registerDevices(devices, JOB.SCHEMA);
    const d = await Distributor.open({
      publicClient: env.pub,
      wallet: life.distributor,
      contracts: {
        GrowthPool: env.addr("GrowthPool"),
        JobMarket: env.addr("JobMarket"),
        ResultAttestation: env.addr("ResultAttestation"),
        NodeStaking: env.addr("NodeStaking"),
        DeviceRegistry: env.addr("DeviceRegistry"),
        AlgorithmMarketplace: env.addr("AlgorithmMarketplace"),
      },
      chainId: env.pub.chain!.id,
      store,
      dataDir: path.join(tmp, "distributor"),
      fromBlock: 0n,
    });
    const server = await startHeartbeatServer({
      host: "127.0.0.1",
      port: 0,
      maxBodyBytes: 16_384,
      intake: d,
    });
    const queue = await ActionQueue.open(path.join(tmp, "queue"));
    const loop = new RelayerLoop({
      queue,
      role: d,
      log,
      intervalMs: 10,
      maxAttempts: 3,
      retryBaseMs: 0,
      retryMaxMs: 0,
    });
    const phase = async (name: string, f: () => Promise<void>) => {
      const cpu = process.cpuUsage();
      const t0 = performance.now();
      await f();
      const ms = performance.now() - t0;
      const c = process.cpuUsage(cpu);
      t.diagnostic(
        `${name}: ${ms.toFixed(0)} ms wall, ${((c.user + c.system) / 1000).toFixed(0)} ms CPU, RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`,
      );
    };
    try {
      const domain = { chainId: env.pub.chain!.id, verifyingContract: env.addr("DeviceRegistry") };
      const epoch = await env.read<bigint>("GrowthPool", "currentEpoch");
      const now = Number(await env.now());
      const bodies = await Promise.all(
        devices.map(async (dev) =>
          JSON.stringify(
            await signHeartbeat(dev, domain, { epoch: Number(epoch), timestamp: now }),
          ),
        ),
      );
      await phase(`${N} heartbeats over HTTP (25 in flight)`, async () => {
        let next = 0;
        await Promise.all(
          Array.from({ length: 25 }, async () => {
            while (next < bodies.length) {
              const body = bodies[next++]!;
              const r = await fetch(`${server.url}/heartbeats`, {
                method: "POST",
                headers: { "content-type": "application/json" },
                body,
              });
              await r.arrayBuffer();
              assert.equal(r.status, 200);
            }
          }),
        );
      });
      assert.equal(d.book.connected(Number(epoch)).length, N);
      await env.warpTo(await env.read<bigint>("GrowthPool", "epochEnd", [epoch]));
      await phase(`post (epoch end → postEpoch mined, n = ${N})`, () =>
        loop.tick(new AbortController().signal).then(() => undefined),
      );
      assert.equal((await queue.get(`post:${epoch}`))?.status, "succeeded");
      const [root, n, finalAt] = await env.read<readonly [Hex, bigint, bigint]>(
        "GrowthPool",
        "connectedSet",
        [epoch],
      );
      assert.equal(n, BigInt(N));
      await env.warpTo(finalAt + 1n);
      await phase("draw (window end → requestDraw mined)", () =>
        loop.tick(new AbortController().signal).then(() => undefined),
      );
      assert.equal((await queue.get(`draw:${epoch}`))?.status, "succeeded");
      const { buildConnectedSet } = await import("#sdk/chain/connected-set.ts");
      const tree = buildConnectedSet(
        bodies
          .map((b) => JSON.parse(b) as { device: Hex; signature: Hex })
          .map((h) => ({ device: h.device, signature: h.signature }))
          .sort((a, b) => (a.device.toLowerCase() < b.device.toLowerCase() ? -1 : 1)),
      );
      assert.equal(tree.root, root);
      life.connectedSets.push({ epoch, finalAt, tree, devices });
      const size = Math.min(N, 100);
      const jobId = await life.schedule(life.spec(size, { devices: size, participants: 8 }));
      await life.awaitSeedBlock(jobId);
      const want = await life.drawCohortOf(jobId, size);
      await phase(`cohort (seed → assignCohort mined, ${size} of ${N})`, () =>
        loop.tick(new AbortController().signal).then(() => undefined),
      );
      assert.equal((await queue.get(`cohort:${jobId}`))?.status, "succeeded");
      assert.equal(await env.read("JobMarket", "status", [jobId]), JobStatus.Assigned);
      const job = await env.read<{ cohortRoot: Hex }>("JobMarket", "getJob", [jobId]);
      assert.equal(job.cohortRoot, want.tree.root);
      const sent = (await queue.list()).filter((a) => a.status === "succeeded");
      t.diagnostic(`actions succeeded: ${sent.map((a) => a.key).join(", ")}`);
    } finally {
      await queue.close();
      await server.close();
    }
  });
});
