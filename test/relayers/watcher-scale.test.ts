/**
 * What a check costs the watcher at size, on the real contracts (EDR, Helia): an honest connected set of `SET`
 * registered devices (every signature recovered, every registration read) and an honest cohort of `COHORT` members
 * drawn from it (membership, eligibility, order, omission candidates). Asserts both verdicts are `ok` and prints wall
 * time, CPU time and heap growth per check, and the RPC reads each made.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { getAddress, type Address } from "viem";
import { buildConnectedSet } from "#sdk/chain/connected-set.ts";
import type { ChainPublicClient } from "#sdk/chain/clients.ts";
import { HeliaStore } from "#sdk/ipfs/index.ts";
import { signHeartbeatMessage } from "#sdk/protocol/heartbeat.ts";
import { drawnCohortList, encodeCohortList } from "../../sdk/protocol/cohort.ts";
import { Watcher } from "../../relayers/watcher/Watcher.ts";
import { JOB, JobLifecycle } from "../../bench/fixture/job-run.ts";

const SET = Number(process.env.DML_WATCHER_SET ?? 500);
const COHORT = Number(process.env.DML_WATCHER_COHORT ?? 50);

describe(`watcher check cost (set ${SET}, cohort ${COHORT})`, () => {
  let life: JobLifecycle;
  let store: HeliaStore;
  let tmp: string;

  before(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), "dml-watcher-scale-"));
    store = await HeliaStore.open({ dir: path.join(tmp, "helia") });
    life = await JobLifecycle.create();
  });
  after(async () => {
    await store.close();
    await rm(tmp, { recursive: true, force: true });
  });

  it("checks an honest post and an honest cohort: both ok", async () => {
    const { env } = life;
    const devices = life.poolDevices(SET);
    await env.registerDevices(devices, JOB.SCHEMA);
    const epoch = await env.read<bigint>("GrowthPool", "nextEpoch");
    await env.warpTo(await env.read<bigint>("GrowthPool", "epochEnd", [epoch]));
    const domain = { chainId: env.pub.chain!.id, verifyingContract: env.addr("DeviceRegistry") };
    const set = buildConnectedSet(
      await Promise.all(
        devices.map(async (d) => ({
          device: d.address,
          signature: await signHeartbeatMessage(d, domain, epoch),
        })),
      ),
    );
    const cid = await store.addBytes(new TextEncoder().encode(JSON.stringify(set.tree.dump())));
    await env.send(life.distributor, "GrowthPool", "postEpoch", [
      epoch,
      set.root,
      BigInt(SET),
      cid,
    ]);

    // count the watcher's eth_call reads
    let reads = 0;
    const counted = new Proxy(env.pub, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (prop === "readContract" && typeof v === "function")
          return (...args: unknown[]) => {
            reads++;
            return (v as (...a: unknown[]) => unknown).apply(target, args);
          };
        return v;
      },
    }) as unknown as ChainPublicClient;
    const w = new Watcher({
      publicClient: counted,
      wallet: env.wallet(16),
      contracts: {
        GrowthPool: env.addr("GrowthPool"),
        ResultAttestation: env.addr("ResultAttestation"),
        JobMarket: env.addr("JobMarket"),
        DeviceRegistry: env.addr("DeviceRegistry"),
        AlgorithmMarketplace: env.addr("AlgorithmMarketplace"),
      },
      chainId: env.pub.chain!.id,
      store,
    });
    const measure = async () => {
      global.gc?.();
      const heap0 = process.memoryUsage().heapUsed;
      const cpu0 = process.cpuUsage();
      const reads0 = reads;
      assert.deepEqual(await w.desired(), []);
      const cpu = process.cpuUsage(cpu0);
      return {
        cpuMs: Math.round((cpu.user + cpu.system) / 1000),
        heapMiB: +((process.memoryUsage().heapUsed - heap0) / 2 ** 20).toFixed(1),
        reads: reads - reads0,
      };
    };
    const post = await measure();
    const sv = w.verdicts().find((v) => v.subject.startsWith(`set:${epoch}:`));
    assert.equal(sv?.status, "ok", sv?.reason);
    console.log(
      `    post of ${SET} devices: ${JSON.stringify({ wallMs: Math.round(sv.checkMs ?? NaN), ...post })}`,
    );

    const info = await env.read<{ challengeDeadline: bigint }>("GrowthPool", "epochInfo", [epoch]);
    await env.warpTo(info.challengeDeadline + 1n);
    life.connectedSets.push({ epoch, finalAt: info.challengeDeadline, tree: set, devices });
    const jobId = await life.schedule(
      life.spec(COHORT, { devices: COHORT, participants: COHORT - 2 }),
    );
    const drawn = await life.drawCohortOf(jobId, COHORT);
    const listCid = await store.addBytes(
      encodeCohortList(drawnCohortList(jobId, drawn.connectedEpoch, drawn.members)),
    );
    await life.assign(jobId, drawn.tree.root, COHORT, listCid, drawn.connectedEpoch);
    const cohort = await measure();
    const cv = w.verdicts().find((v) => v.subject === `cohort:${jobId}`);
    assert.equal(cv?.status, "ok", cv?.reason);
    console.log(
      `    cohort of ${COHORT} from ${SET}: ${JSON.stringify({ wallMs: Math.round(cv.checkMs ?? NaN), ...cohort })}`,
    );
    // the members really are the set's devices
    const inSet = new Set(devices.map((d) => getAddress(d.address)));
    assert.ok(drawn.members.every((m) => inSet.has(getAddress(m.device as Address))));
  });
});
