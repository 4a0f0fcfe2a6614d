/**
 * The distributor role on the real contracts (EDR, Helia, real device keys): devices POST signed heartbeats over
 * HTTP; a bad signature, an unregistered device, a replay, garbage and an oversized body are refused with 4xx and
 * never enter the set; a distributor killed between building and posting the connected set is restarted on the same
 * data directory (heartbeat journal, recovered queue) and posts it once, with the root of the devices' heartbeats;
 * the VRF draw is requested once the challenge window is over; a scheduled job gets the cohort `drawCohort` gives,
 * assigned once — also after a restart with a lost queue.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fullProfileOnly } from "../profile.ts";
import { getAddress, type Address, type Hex } from "viem";
import type { PrivateKeyAccount } from "viem/accounts";
import { loadArtifact } from "#sdk/chain/artifacts.ts";
import { buildConnectedSet, loadConnectedSet } from "#sdk/chain/connected-set.ts";
import { HeliaStore } from "#sdk/ipfs/index.ts";
import { signHeartbeat, signHeartbeatMessage } from "#sdk/protocol/heartbeat.ts";
import { cohortListSchema } from "../../sdk/protocol/cohort.ts";
import { ActionQueue } from "../../relayers/common/action-queue.ts";
import { testLoop } from "./helpers.ts";
import { RelayerLoop } from "../../relayers/common/loop.ts";
import { createLogger } from "../../relayers/common/telemetry.ts";
import {
  Distributor,
  EpochStatus,
  type DistributorOptions,
} from "../../relayers/distributor/Distributor.ts";
import {
  startHeartbeatServer,
  type HeartbeatServer,
} from "../../relayers/distributor/HeartbeatServer.ts";
import { JOB, JobLifecycle, who } from "../../bench/fixture/job-run.ts";
import { abi, JobStatus, localAccount } from "../../bench/fixture/protocol.ts";

const N = 12;
const COHORT = 10;

class Killed extends Error {}

describe(
  "distributor relayer on the real contracts",
  {
    skip: fullProfileOnly(
      "the e2e test's distributor process, killed after its post, draw request and assignment",
    ),
  },
  () => {
    let life: JobLifecycle;
    let store: HeliaStore;
    let tmp: string;
    const log = createLogger("distributor", "silent");

    before(async () => {
      tmp = mkdtempSync(path.join(tmpdir(), "dml-relayer-distributor-"));
      store = await HeliaStore.open({ dir: path.join(tmp, "helia") });
      life = await JobLifecycle.create();
    });
    after(async () => {
      await store.close();
      await rm(tmp, { recursive: true, force: true });
    });

    const options = (extra: Partial<DistributorOptions> = {}): DistributorOptions => ({
      publicClient: life.env.pub,
      wallet: life.distributor,
      contracts: {
        GrowthPool: life.env.addr("GrowthPool"),
        JobMarket: life.env.addr("JobMarket"),
        ResultAttestation: life.env.addr("ResultAttestation"),
        NodeStaking: life.env.addr("NodeStaking"),
        DeviceRegistry: life.env.addr("DeviceRegistry"),
        AlgorithmMarketplace: life.env.addr("AlgorithmMarketplace"),
      },
      chainId: life.env.pub.chain!.id,
      store,
      dataDir: path.join(tmp, "distributor"),
      fromBlock: 0n,
      ...extra,
    });
    const loopOf = (queue: ActionQueue, role: Distributor) => testLoop(queue, role, log);
    const tick = (loop: RelayerLoop) => loop.tick(new AbortController().signal);
    const post = (url: string, body: string, headers: Record<string, string> = {}) =>
      fetch(`${url}/heartbeats`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body,
      }).then(async (r) => ({
        status: r.status,
        body: (await r.json()) as Record<string, unknown>,
      }));
    const events = async (contract: string, eventName: string, args: Record<string, unknown>) =>
      (
        await life.env.pub.getContractEvents({
          address: life.env.addr(contract),
          abi: abi(contract),
          eventName,
          args,
          fromBlock: 0n,
        })
      ).map((e) => (e as unknown as { args: Record<string, unknown> }).args);

    it("collects heartbeats over HTTP, posts the connected set once across a kill, requests the draw, assigns the cohort once", async (t) => {
      const { env } = life;
      const devices: PrivateKeyAccount[] = life.poolDevices(N);
      await env.registerDevices(devices, JOB.SCHEMA);
      const stranger = localAccount("unregistered-device");
      const domain = { chainId: env.pub.chain!.id, verifyingContract: env.addr("DeviceRegistry") };
      const epoch = await env.read<bigint>("GrowthPool", "currentEpoch");
      assert.equal(await env.read<bigint>("GrowthPool", "nextEpoch"), epoch);
      const now = Number(await env.now());
      const body = async (d: PrivateKeyAccount, e = epoch) =>
        JSON.stringify(await signHeartbeat(d, domain, { epoch: Number(e), timestamp: now }));

      // ---------------------------------------------------------------- heartbeats over HTTP (first process)
      let built: Hex | undefined;
      const d1 = await Distributor.open(
        options({
          beforePostTx: async (_e, tree) => {
            built = tree?.root;
            throw new Killed("SIGKILL between building and posting");
          },
        }),
      );
      const server1: HeartbeatServer = await startHeartbeatServer({
        host: "127.0.0.1",
        port: 0,
        maxBodyBytes: 2_048,
        intake: d1,
        log,
      });
      try {
        for (const d of devices) {
          const r = await post(server1.url, await body(d));
          assert.equal(r.status, 200, JSON.stringify(r.body));
          assert.equal(r.body.device, getAddress(d.address));
        }
        // refusals: 4xx with a code, nothing stored
        const forged = JSON.parse(await body(devices[0]!)) as Record<string, unknown>;
        forged.signature = await signHeartbeatMessage(devices[1]!, domain, epoch);
        const refused = [
          [await post(server1.url, JSON.stringify(forged)), 400, "HEARTBEAT_INVALID"],
          [await post(server1.url, await body(stranger)), 403, "DEVICE_UNREGISTERED"],
          [await post(server1.url, await body(devices[2]!)), 409, "HEARTBEAT_REPLAY"],
          [await post(server1.url, await body(devices[3]!, epoch + 1n)), 400, "HEARTBEAT_INVALID"],
          [await post(server1.url, "{not json"), 400, "HEARTBEAT_INVALID"],
          [await post(server1.url, "x".repeat(4_096)), 413, "BODY_TOO_LARGE"],
        ] as const;
        for (const [r, status, code] of refused) {
          assert.equal(r.status, status, JSON.stringify(r.body));
          assert.equal(r.body.error, code);
        }
        const get = await fetch(`${server1.url}/heartbeats`);
        assert.equal(get.status, 405);
        await get.arrayBuffer();
        assert.equal(d1.book.connected(Number(epoch)).length, N, "only the valid heartbeats");
        assert.ok(!d1.book.has(Number(epoch), getAddress(stranger.address)));

        // nothing to post before the epoch ends
        assert.deepEqual(
          (await d1.desired()).filter((a) => a.type === "post"),
          [],
        );
        await env.warpTo(await env.read<bigint>("GrowthPool", "epochEnd", [epoch]));
        assert.deepEqual(
          (await d1.desired()).filter((a) => a.type === "post").map((a) => a.key),
          [`post:${epoch}`],
        );

        // the process dies inside the post handler, after building and publishing the set, before the transaction:
        // the action is left `running` in the queue
        const q1 = await ActionQueue.open(path.join(tmp, "queue"));
        await q1.enqueue({ key: `post:${epoch}`, type: "post", payload: { epoch: `${epoch}` } });
        const claimed = await q1.claimNext();
        assert.equal(claimed?.key, `post:${epoch}`);
        await assert.rejects(
          d1.handlers.post(claimed!, { signal: new AbortController().signal, log }),
          Killed,
        );
        assert.equal((await q1.get(`post:${epoch}`))?.status, "running");
        await q1.close();
      } finally {
        await server1.close();
      }
      assert.ok(built, "the set was built before the kill");
      assert.equal((await events("GrowthPool", "EpochPosted", { epoch })).length, 0);

      // ---------------------------------------------------------------- restart: journal replayed, the post runs once
      const d2 = await Distributor.open(options());
      assert.equal(d2.book.connected(Number(epoch)).length, N, "heartbeats survived the restart");
      const queue = await ActionQueue.open(path.join(tmp, "queue"));
      const loop = loopOf(queue, d2);
      try {
        const recovered = await queue.get(`post:${epoch}`);
        assert.equal(recovered?.status, "queued");
        assert.equal(recovered.recoveries, 1);
        const t0 = performance.now();
        await tick(loop);
        const postMs = performance.now() - t0;
        const p = await queue.get(`post:${epoch}`);
        assert.equal(p?.status, "succeeded", p?.lastFailure);
        const expected = buildConnectedSet(
          await Promise.all(
            [...devices]
              .sort((a, b) => (a.address.toLowerCase() < b.address.toLowerCase() ? -1 : 1))
              .map(async (d) => ({
                device: d.address,
                signature: await signHeartbeatMessage(d, domain, epoch),
              })),
          ),
        );
        const posted = await events("GrowthPool", "EpochPosted", { epoch });
        assert.equal(posted.length, 1, "posted exactly once");
        assert.equal(posted[0]!.root, expected.root);
        assert.equal(
          built,
          expected.root,
          "the restarted distributor posted the set the first one built",
        );
        assert.equal(posted[0]!.n, BigInt(N));
        assert.equal(getAddress(posted[0]!.distributor as Address), who(life.distributor));
        const dump = loadConnectedSet(
          JSON.parse(new TextDecoder().decode(await store.getBytes(posted[0]!.cid as string))),
          expected.root,
        );
        assert.equal(
          dump.leafOf(stranger.address),
          undefined,
          "the unregistered device is not in the set",
        );
        // a re-run with a lost queue finds the post on chain and sends nothing
        const lost = await ActionQueue.open(path.join(tmp, "lost-post"));
        await lost.enqueue({ key: `post:${epoch}`, type: "post", payload: { epoch: `${epoch}` } });
        await tick(loopOf(lost, d2));
        assert.equal((await lost.get(`post:${epoch}`))?.status, "succeeded");
        await lost.close();
        assert.equal((await events("GrowthPool", "EpochPosted", { epoch })).length, 1);

        // ---------------------------------------------------------------- the draw after the challenge window
        const [, , finalAt] = await env.read<readonly [Hex, bigint, bigint]>(
          "GrowthPool",
          "connectedSet",
          [epoch],
        );
        assert.deepEqual(
          (await d2.desired()).filter((a) => a.type === "draw"),
          [],
          "no draw while the post is challengeable",
        );
        await env.warpTo(finalAt + 1n);
        const t1 = performance.now();
        await tick(loop);
        const drawMs = performance.now() - t1;
        const dr = await queue.get(`draw:${epoch}`);
        assert.equal(dr?.status, "succeeded", dr?.lastFailure);
        const info = await env.read<{ status: number; requestId: bigint }>(
          "GrowthPool",
          "epochInfo",
          [epoch],
        );
        assert.equal(info.status, EpochStatus.Settled);
        assert.ok(info.requestId > 0n);
        assert.equal((await events("GrowthPool", "DrawRequested", { epoch })).length, 1);
        // the mock coordinator answers; the epoch then leaves the draw scan
        const vrf = env.manifest.vrf!;
        await env.wallet(0).writeContract({
          address: vrf.coordinator,
          abi: loadArtifact("VRFCoordinatorV2_5Mock").abi,
          functionName: "fulfillRandomWords",
          args: [info.requestId, env.addr("GrowthPool")],
        });
        assert.deepEqual(
          (await d2.desired()).filter((a) => a.type === "draw" || a.type === "retry"),
          [],
        );

        // ---------------------------------------------------------------- a scheduled job's cohort
        life.connectedSets.push({ epoch, finalAt, tree: expected, devices });
        const jobId = await life.schedule(life.spec(COHORT, { devices: COHORT, participants: 8 }));
        assert.equal(await env.read("JobMarket", "status", [jobId]), JobStatus.Scheduled);
        const cohortKeys = async () =>
          (await d2.desired()).filter((a) => a.type === "cohort").map((a) => a.key);
        assert.deepEqual(await cohortKeys(), [], "no cohort before the seed block exists");
        await life.awaitSeedBlock(jobId);
        assert.deepEqual(await cohortKeys(), [`cohort:${jobId}`]);
        const want = await life.drawCohortOf(jobId, COHORT);
        const mine = await d2.drawFor(jobId);
        assert.deepEqual(mine.members, want.members, "the distributor draws what drawCohort gives");
        assert.equal(mine.root, want.tree.root);
        assert.equal(mine.aggregator, who(life.aggregator), "the only active aggregator is drawn");
        const t2 = performance.now();
        await tick(loop);
        const cohortMs = performance.now() - t2;
        const c = await queue.get(`cohort:${jobId}`);
        assert.equal(c?.status, "succeeded", c?.lastFailure);
        assert.equal(await env.read("JobMarket", "status", [jobId]), JobStatus.Assigned);
        const assigned = await events("JobMarket", "CohortAssigned", { jobId });
        assert.equal(assigned.length, 1);
        assert.equal(assigned[0]!.cohortRoot, want.tree.root);
        assert.equal(Number(assigned[0]!.deviceCount), COHORT);
        const list = cohortListSchema.parse(
          JSON.parse(
            new TextDecoder().decode(await store.getBytes(assigned[0]!.cohortCid as string)),
          ),
        );
        assert.deepEqual(
          list.members.map((m) => getAddress(m.address)),
          want.members.map((m) => m.device),
        );
        const drawn = await events("ResultAttestation", "AttestorsDrawn", { jobId });
        assert.equal(drawn.length, 1);
        assert.equal(Number(drawn[0]!.connectedEpoch), Number(epoch));

        // a restarted distributor (new object, lost queue) wants nothing for the job and sends nothing
        const d3 = await Distributor.open(options());
        assert.deepEqual(
          (await d3.desired()).filter((a) => a.type === "cohort"),
          [],
        );
        assert.ok(!d3.watchedJobs().includes(jobId), "an assigned job leaves the watch list");
        const lostC = await ActionQueue.open(path.join(tmp, "lost-cohort"));
        await lostC.enqueue({
          key: `cohort:${jobId}`,
          type: "cohort",
          payload: { jobId: `${jobId}` },
        });
        await tick(loopOf(lostC, d3));
        assert.equal((await lostC.get(`cohort:${jobId}`))?.status, "succeeded");
        await lostC.close();
        assert.equal(
          (await events("JobMarket", "CohortAssigned", { jobId })).length,
          1,
          "assigned once",
        );

        t.diagnostic(
          `trigger → tx succeeded (one tick, EDR): post ${postMs.toFixed(0)} ms (n = ${N}), draw ${drawMs.toFixed(0)} ms, cohort ${cohortMs.toFixed(0)} ms (${COHORT} of ${N})`,
        );
        const gas = async (fn: string) => {
          const ev =
            fn === "postEpoch"
              ? await events("GrowthPool", "EpochPosted", { epoch })
              : fn === "requestDraw"
                ? await events("GrowthPool", "DrawRequested", { epoch })
                : await events("JobMarket", "CohortAssigned", { jobId });
          return ev.length;
        };
        t.diagnostic(
          `tx: postEpoch ${await gas("postEpoch")}, requestDraw ${await gas("requestDraw")} per epoch; assignCohort ${await gas("assignCohort")} per job`,
        );
      } finally {
        await queue.close();
      }
    });
  },
);
