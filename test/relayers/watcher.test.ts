/**
 * The watcher role on the real contracts (EDR, Helia, real heartbeat signatures): a distributor posts connected sets
 * and assigns cohorts with their lists on Helia; the watcher runs the relayer loop (reconcile → durable queue →
 * handlers). Honest posts and cohorts: nothing is enqueued. A post with a forged heartbeat signature, a post listing a
 * device twice, a cohort out of draw order and a cohort with a non-drawn member: each is challenged exactly once, the
 * poster is slashed, the post voided or the job failed, and the watcher's DML balance rises by the challenger share.
 * A handler re-run with a lost queue (a crash after sending) finds its own challenge on the chain and sends nothing.
 * A list whose root is not the posted one is reported `unprovable`, an unfetchable one `pending`; neither is challenged.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { getAddress, type Address, type Hex } from "viem";
import type { PrivateKeyAccount } from "viem/accounts";
import { buildCohortTree, type CohortMember } from "#sdk/chain/cohort.ts";
import { buildConnectedSet, CONNECTED_SET_LEAF_ENCODING } from "#sdk/chain/connected-set.ts";
import { HeliaStore } from "#sdk/ipfs/index.ts";
import { signHeartbeatMessage } from "#sdk/protocol/heartbeat.ts";
import { drawnCohortList, encodeCohortList } from "../../sdk/protocol/cohort.ts";
import { testLoop } from "./helpers.ts";
import { ActionQueue } from "../../relayers/common/action-queue.ts";
import { createLogger } from "../../relayers/common/telemetry.ts";
import { EpochStatus, Watcher } from "../../relayers/watcher/Watcher.ts";
import { JOB, JobLifecycle, who } from "../../bench/fixture/job-run.ts";
import { abi, ETHER, JobStatus, localAccount, Role } from "../../bench/fixture/protocol.ts";

const N = 8;
const SET = 12;
const BPS = 10_000n;
/** `IGrowthPool.Fault` and `IResultAttestation.CohortFault`. */
const Fault = { BadSignature: 1, DuplicateDevice: 2 } as const;
const CohortFault = { OutOfOrder: 3, Omitted: 4 } as const;

describe("watcher relayer on the real contracts", () => {
  let life: JobLifecycle;
  let store: HeliaStore;
  let tmp: string;
  let devices: PrivateKeyAccount[];
  const log = createLogger("watcher", "silent");
  const env = () => life.env;
  const watcherWallet = () => env().wallet(16);
  const rogue = () => env().wallet(15);
  let queues = 0;

  before(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), "dml-relayer-watcher-"));
    store = await HeliaStore.open({ dir: path.join(tmp, "helia") });
    life = await JobLifecycle.create();
    devices = life.poolDevices(SET);
    await env().registerDevices(devices, JOB.SCHEMA);
  });
  after(async () => {
    await store.close();
    await rm(tmp, { recursive: true, force: true });
  });

  const contracts = () => ({
    GrowthPool: env().addr("GrowthPool"),
    ResultAttestation: env().addr("ResultAttestation"),
    JobMarket: env().addr("JobMarket"),
    DeviceRegistry: env().addr("DeviceRegistry"),
    AlgorithmMarketplace: env().addr("AlgorithmMarketplace"),
  });
  const newWatcher = () =>
    new Watcher({
      publicClient: env().pub,
      wallet: watcherWallet(),
      contracts: contracts(),
      chainId: env().pub.chain!.id,
      store,
      fetchTimeoutMs: 5_000,
    });
  const relayer = async (role: Watcher = newWatcher()) => {
    const queue = await ActionQueue.open(path.join(tmp, `watcher-${queues++}`));
    const loop = testLoop(queue, role, log);
    return { queue, role, tick: () => loop.tick(new AbortController().signal) };
  };
  const nonceOf = (a: Address) => env().pub.getTransactionCount({ address: a });
  const share = async (slashed: bigint) =>
    (slashed * BigInt(await env().read<number>("NodeStaking", "challengerShareBps"))) / BPS;
  const stakeOf = (w: { account: { address: Address } }) =>
    env().read<bigint>("NodeStaking", "stakeOf", [who(w), Role.Distributor]);

  /** Publishes a connected-set dump on Helia and posts it for the growth pool's next epoch. */
  async function post(
    distributor: ReturnType<JobLifecycle["env"]["wallet"]>,
    leaves: (epoch: bigint) => Promise<[string, string, string][]>,
  ) {
    const epoch = await env().read<bigint>("GrowthPool", "nextEpoch");
    await env().warpTo(await env().read<bigint>("GrowthPool", "epochEnd", [epoch]));
    const tree = StandardMerkleTree.of(await leaves(epoch), [...CONNECTED_SET_LEAF_ENCODING]);
    const cid = await store.addBytes(new TextEncoder().encode(JSON.stringify(tree.dump())));
    await env().send(distributor, "GrowthPool", "postEpoch", [
      epoch,
      tree.root,
      BigInt(tree.length),
      cid,
    ]);
    const info = await env().read<{ challengeDeadline: bigint }>("GrowthPool", "epochInfo", [
      epoch,
    ]);
    return { epoch, tree, cid, deadline: info.challengeDeadline };
  }
  const domain = () => ({
    chainId: env().pub.chain!.id,
    verifyingContract: env().addr("DeviceRegistry"),
  });
  const honestLeaves = async (epoch: bigint): Promise<[string, string, string][]> =>
    Promise.all(
      devices.map(async (d, i): Promise<[string, string, string]> => [
        `${i}`,
        d.address,
        await signHeartbeatMessage(d, domain(), epoch),
      ]),
    );

  /** Schedules a job, draws its cohort, lets `shape` alter the members, publishes the list and assigns it. */
  async function assignJob(shape: (drawn: CohortMember[], extra: CohortMember) => CohortMember[]) {
    const jobId = await life.schedule(life.spec(N, { devices: N, participants: N - 2 }));
    const wide = await life.drawCohortOf(jobId, N + 1);
    const members = shape(wide.members.slice(0, N), wide.members[N]!);
    const tree = buildCohortTree(members);
    const cid = await store.addBytes(
      encodeCohortList(drawnCohortList(jobId, wide.connectedEpoch, members)),
    );
    await life.assign(jobId, tree.root, N, cid, wide.connectedEpoch);
    return jobId;
  }

  it("an honest connected-set post and an honest cohort: nothing to challenge", async () => {
    const w = newWatcher();
    const { epoch, tree, deadline } = await post(life.distributor, honestLeaves);
    assert.deepEqual(await w.desired(), []);
    assert.deepEqual(
      w.verdicts().map((v) => [v.subject, v.status]),
      [[`set:${epoch}:${deadline}`, "ok"]],
    );
    assert.deepEqual(w.open(), [`set:${epoch}:${deadline}`]);
    // the set stands after its window; jobs draw from it (the lifecycle's draw uses the same set)
    await env().warpTo(deadline + 1n);
    assert.deepEqual(await w.desired(), []);
    assert.deepEqual(w.open(), [], "a post past its window leaves the open set");
    const set = buildConnectedSet(
      tree
        .dump()
        .values.map((v) => ({ device: v.value[1] as Address, signature: v.value[2] as Hex })),
    );
    assert.equal(set.root, tree.root);
    life.connectedSets.push({ epoch, finalAt: deadline, tree: set, devices });

    const jobId = await assignJob((drawn) => drawn);
    const r = await relayer(w);
    await r.tick();
    assert.deepEqual(await r.queue.list(), [], "an honest cohort: no action");
    assert.equal(
      w.verdicts().find((v) => v.subject === `cohort:${jobId}`)?.status,
      "ok",
      JSON.stringify(w.verdicts()),
    );
    await r.queue.close();
  });

  for (const c of [
    {
      name: "a cohort out of draw order (members 0 and 1 swapped)",
      fault: CohortFault.OutOfOrder,
      kind: "order",
      shape: (d: CohortMember[]) => [
        { ...d[1]!, position: 0 },
        { ...d[0]!, position: 1 },
        ...d.slice(2),
      ],
    },
    {
      name: "a cohort with a non-drawn member (the last drawn device replaced by the next one)",
      fault: CohortFault.Omitted,
      kind: "omission",
      shape: (d: CohortMember[], extra: CohortMember) => [
        ...d.slice(0, N - 1),
        { ...extra, position: N - 1 },
      ],
    },
  ])
    it(`${c.name}: challenged once, the distributor slashed, the watcher paid`, async () => {
      const jobId = await assignJob(c.shape);
      const me = who(watcherWallet());
      const [balance0, stake0] = [await env().balance(me), await stakeOf(life.distributor)];
      const r = await relayer();
      await r.tick();
      const key = `challenge:cohort:${jobId}`;
      const a = await r.queue.get(key);
      assert.equal(a?.status, "succeeded", a?.lastFailure);
      assert.equal((a.payload as { fault: { kind: string } }).fault.kind, c.kind);
      assert.equal(await env().read("JobMarket", "status", [jobId]), JobStatus.Failed);
      const events = await env().pub.getContractEvents({
        address: env().addr("ResultAttestation"),
        abi: abi("ResultAttestation"),
        eventName: "CohortChallenged",
        args: { jobId },
        fromBlock: 0n,
      });
      assert.equal(events.length, 1);
      const ev = (
        events[0] as unknown as { args: { challenger: Address; fault: number; slashed: bigint } }
      ).args;
      assert.equal(getAddress(ev.challenger), me);
      assert.equal(ev.fault, c.fault);
      assert.equal(ev.slashed, JOB.SLASH);
      assert.equal(
        stake0 - (await stakeOf(life.distributor)),
        JOB.SLASH,
        "the distributor is slashed",
      );
      assert.equal(
        (await env().balance(me)) - balance0,
        await share(JOB.SLASH),
        "challenger share paid",
      );
      const gas = (await env().pub.getTransactionReceipt({ hash: events[0]!.transactionHash! }))
        .gasUsed;
      console.log(`    ${c.kind}: challenge gas ${gas}`);

      // a re-run after a crash that lost the queue: the chain shows this watcher's challenge, nothing is sent
      const nonce = await nonceOf(me);
      const lost = await relayer();
      await lost.queue.enqueue({ key, type: "challenge-cohort", payload: a.payload });
      await lost.tick();
      assert.equal((await lost.queue.get(key))?.status, "succeeded");
      assert.equal(await nonceOf(me), nonce, "no transaction sent");
      // a restarted watcher finds nothing to do
      assert.deepEqual(await newWatcher().desired(), []);
      await r.queue.close();
      await lost.queue.close();
      // the distributor tops its stake up to stay active for the next job
      await env().stakeNode(life.distributor, Role.Distributor, JOB.SLASH);
    });

  for (const c of [
    {
      name: "a post with a forged heartbeat signature",
      fault: Fault.BadSignature,
      kind: "signature",
      leaves: async (epoch: bigint) => {
        const l = await honestLeaves(epoch);
        // device 5's leaf carries device 4's signature
        l[5]![2] = await signHeartbeatMessage(devices[4]!, domain(), epoch);
        return l;
      },
    },
    {
      name: "a post listing a device twice",
      fault: Fault.DuplicateDevice,
      kind: "duplicate",
      leaves: async (epoch: bigint) => {
        const l = await honestLeaves(epoch);
        return [...l, [`${l.length}`, l[3]![1], l[3]![2]] as [string, string, string]];
      },
    },
  ])
    it(`${c.name}: challenged once, the poster slashed and the post voided, the watcher paid`, async () => {
      await env().stakeNode(rogue(), Role.Distributor, 10_000n * ETHER);
      const me = who(watcherWallet());
      const r = await relayer();
      await r.tick(); // catches up with the history first
      const [balance0, stake0] = [await env().balance(me), await stakeOf(rogue())];
      const t0 = performance.now();
      const { epoch, deadline } = await post(rogue(), c.leaves);
      await r.tick();
      const ms = performance.now() - t0;
      const key = `challenge:set:${epoch}:${deadline}`;
      const a = await r.queue.get(key);
      assert.equal(a?.status, "succeeded", a?.lastFailure ?? JSON.stringify(r.role.verdicts()));
      assert.equal((a.payload as { fault: { kind: string } }).fault.kind, c.kind);
      const info = await env().read<{ status: number }>("GrowthPool", "epochInfo", [epoch]);
      assert.equal(info.status, EpochStatus.Voided);
      const events = await env().pub.getContractEvents({
        address: env().addr("GrowthPool"),
        abi: abi("GrowthPool"),
        eventName: "PostChallenged",
        args: { epoch },
        fromBlock: 0n,
      });
      assert.equal(events.length, 1);
      const ev = (
        events[0] as unknown as { args: { challenger: Address; fault: number; slashed: bigint } }
      ).args;
      assert.equal(getAddress(ev.challenger), me);
      assert.equal(ev.fault, c.fault);
      assert.ok(ev.slashed > 0n);
      assert.equal(stake0 - (await stakeOf(rogue())), ev.slashed, "the poster is slashed");
      assert.equal(
        (await env().balance(me)) - balance0,
        await share(ev.slashed),
        "challenger share paid",
      );
      const gas = (await env().pub.getTransactionReceipt({ hash: events[0]!.transactionHash! }))
        .gasUsed;
      console.log(
        `    ${c.kind}: post → challenge mined in ${ms.toFixed(0)} ms (one tick, EDR); challenge gas ${gas}`,
      );

      const nonce = await nonceOf(me);
      const lost = await relayer();
      await lost.queue.enqueue({ key, type: "challenge-set", payload: a.payload });
      await lost.tick();
      assert.equal((await lost.queue.get(key))?.status, "succeeded");
      assert.equal(await nonceOf(me), nonce, "no transaction sent");
      assert.deepEqual(await newWatcher().desired(), [], "a restarted watcher finds nothing to do");
      await r.queue.close();
      await lost.queue.close();
    });

  it("a stranger's valid heartbeat: an unregistered device is proven", async () => {
    await env().stakeNode(rogue(), Role.Distributor, 10_000n * ETHER);
    const stranger = localAccount("watcher-stranger");
    const r = await relayer();
    await r.tick();
    const { epoch, deadline } = await post(rogue(), async (epoch) => [
      ...(await honestLeaves(epoch)),
      [`${SET}`, stranger.address, await signHeartbeatMessage(stranger, domain(), epoch)],
    ]);
    await r.tick();
    const a = await r.queue.get(`challenge:set:${epoch}:${deadline}`);
    assert.equal(a?.status, "succeeded", a?.lastFailure);
    assert.equal((a.payload as { fault: { kind: string } }).fault.kind, "unregistered");
    const info = await env().read<{ status: number }>("GrowthPool", "epochInfo", [epoch]);
    assert.equal(info.status, EpochStatus.Voided);
    await r.queue.close();
  });
  it("a list that cannot be fetched, or whose root is not the posted one: reported, never challenged", async () => {
    await env().stakeNode(rogue(), Role.Distributor, 10_000n * ETHER);
    const w = newWatcher();
    await w.desired(); // catches up with the history first
    // the published dump is honest, but the post commits to another root (a forged leaf)
    const epoch = await env().read<bigint>("GrowthPool", "nextEpoch");
    await env().warpTo(await env().read<bigint>("GrowthPool", "epochEnd", [epoch]));
    const honest = StandardMerkleTree.of(await honestLeaves(epoch), [
      ...CONNECTED_SET_LEAF_ENCODING,
    ]);
    const cid = await store.addBytes(new TextEncoder().encode(JSON.stringify(honest.dump())));
    const forged = await honestLeaves(epoch);
    forged[0]![2] = forged[1]![2];
    const posted = StandardMerkleTree.of(forged, [...CONNECTED_SET_LEAF_ENCODING]);
    await env().send(rogue(), "GrowthPool", "postEpoch", [epoch, posted.root, BigInt(SET), cid]);
    // the next epoch's list was never published anywhere
    await env().warpTo(await env().read<bigint>("GrowthPool", "epochEnd", [epoch + 1n]));
    await env().send(rogue(), "GrowthPool", "postEpoch", [
      epoch + 1n,
      posted.root,
      BigInt(SET),
      JOB.TRANSCRIPT,
    ]);

    assert.deepEqual(await w.desired(), [], "nothing on chain proves either");
    const byEpoch = (e: bigint) => w.verdicts().find((v) => v.subject.startsWith(`set:${e}:`));
    assert.equal(byEpoch(epoch)?.status, "unprovable");
    assert.match(byEpoch(epoch)?.reason ?? "", /root/);
    assert.equal(byEpoch(epoch + 1n)?.status, "pending", "retried next tick");
    assert.equal(
      (await env().read<{ status: number }>("GrowthPool", "epochInfo", [epoch])).status,
      EpochStatus.Posted,
    );
  });
});
