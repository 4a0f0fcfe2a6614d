/**
 * subgraph/src/mappings/growth-pool.ts against real GrowthPool events on the EDR chain (`hardhat node`), indexed by
 * the local graph host from the `graph build` output. The flow of test/integration/growth-pool.test.ts with a few
 * devices: epoch 0's connected set carries a heartbeat signed for another epoch, a challenger proves it
 * (`challengeSignature`: PostChallenged), nobody reposts and the epoch rolls over (EpochRolledOver); epoch 1's honest
 * set (ProtocolEnv.postConnectedSet) is drawn through Chainlink's mock VRF coordinator (EpochAllocated, DrawRequested,
 * EpochDrawn), all winners but one claim (Claimed), the last draw is swept after the claim window (Swept); then every
 * governance setter, besides the deployment's GrowthPoolInitialized / Initialized / Upgraded / GovernanceTransferred.
 * Every expected value is read from the chain with viem or decoded from its logs; every GrowthPool handler runs.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { getAddress, type Address, type Hex } from "viem";
import { loadArtifact } from "#sdk/chain/artifacts.ts";
import { buildConnectedSet } from "#sdk/chain/connected-set.ts";
import { implementationOf } from "#sdk/chain/governance.ts";
import { signHeartbeatMessage } from "#sdk/protocol/heartbeat.ts";
import {
  ETHER,
  label,
  localAccount,
  Role,
  type ConnectedSet,
} from "../../../bench/fixture/protocol.ts";
import {
  expectEventFields,
  parameterValues,
  startIndexedProtocol,
  type DecodedLog,
  type IndexedProtocol,
} from "../helpers/indexed-protocol.ts";

const SCHEMA = label("email/rfc822-v1");
const DEVICES = 4;
/** IGrowthPool.EpochStatus and IGrowthPool.Fault by index. */
const STATUS = ["None", "Posted", "Voided", "Settled"] as const;
const FAULT = ["UnregisteredDevice", "BadSignature", "DuplicateDevice", "IndexOutOfRange"] as const;

interface EpochInfo {
  posted: boolean;
  drawn: boolean;
  swept: boolean;
  root: Hex;
  n: bigint;
  k: bigint;
  budget: bigint;
  perWinner: bigint;
  requestId: bigint;
  randomWord: bigint;
  claimDeadline: bigint;
  claimedCount: bigint;
  status: number;
  poster: Address;
  challengeDeadline: bigint;
  repostDeadline: bigint;
}

describe("subgraph mapping: GrowthPool", () => {
  let ix: IndexedProtocol;
  let pool: Address;
  let logs: DecodedLog[];
  const devices = Array.from({ length: DEVICES }, (_, i) => localAccount(`sg-growth-device-${i}`));
  let voidedEpoch: bigint;
  let drawn: ConnectedSet;
  let slashedStake: bigint;
  const claimedDraws: bigint[] = [];
  let unclaimedDraw: bigint;

  const ofEvent = (name: string) =>
    logs.filter((l) => l.contract === "GrowthPool" && l.eventName === name);
  const info = (epoch: bigint) => ix.env.read<EpochInfo>("GrowthPool", "epochInfo", [epoch]);

  before(async () => {
    ix = await startIndexedProtocol({
      growthPool: {
        epochLength: 3_600n,
        halvingEpochs: 4n,
        winnersPerEpoch: 3n,
        claimWindow: 3_600n,
        challengeWindow: 1_800n,
      },
    });
    const { env } = ix;
    pool = env.addr("GrowthPool");
    const distributor = env.wallet(1);
    const challenger = env.wallet(2);
    const distributorAddr = getAddress(distributor.account.address);
    await env.stakeNode(distributor, Role.Distributor, 30_000n * ETHER);
    await env.registerDevices(devices, SCHEMA);

    // Epoch 0: one leaf carries the device's heartbeat for the next epoch, a provable BadSignature fault.
    voidedEpoch = await env.read<bigint>("GrowthPool", "nextEpoch");
    await env.warpTo(await env.read<bigint>("GrowthPool", "epochEnd", [voidedEpoch]));
    const domain = { chainId: env.pub.chain!.id, verifyingContract: env.addr("DeviceRegistry") };
    const signatures = await Promise.all(
      devices.map((d, i) => signHeartbeatMessage(d, domain, voidedEpoch + (i === 0 ? 1n : 0n))),
    );
    const faulty = buildConnectedSet(
      devices.map((d, i) => ({ device: d.address, signature: signatures[i]! })),
    );
    await env.send(distributor, "GrowthPool", "postEpoch", [
      voidedEpoch,
      faulty.root,
      BigInt(DEVICES),
      "bafy-faulty-connected-set",
    ]);
    const bad = faulty.leafOf(devices[0]!.address)!;
    const stakeBefore = await env.read<bigint>("NodeStaking", "stakeOf", [
      distributorAddr,
      Role.Distributor,
    ]);
    await env.send(challenger, "GrowthPool", "challengeSignature", [
      voidedEpoch,
      { index: bad.index, device: bad.device, signature: bad.signature },
      bad.proof,
    ]);
    slashedStake =
      stakeBefore -
      (await env.read<bigint>("NodeStaking", "stakeOf", [distributorAddr, Role.Distributor]));
    // Nobody reposts: after the repost window the epoch's emission rolls over (no draw).
    await env.warpTo((await info(voidedEpoch)).repostDeadline + 1n);
    await env.send(challenger, "GrowthPool", "requestDraw", [voidedEpoch]);

    // Epoch 1: an honest set, drawn through the mock coordinator once its challenge window is over.
    drawn = await env.postConnectedSet(distributor, devices, SCHEMA);
    await env.send(challenger, "GrowthPool", "requestDraw", [drawn.epoch]);
    const vrf = env.manifest.vrf;
    assert.ok(vrf?.mock, "a mock VRF coordinator on the dev chain");
    const hash = await env.wallet(0).writeContract({
      address: vrf.coordinator,
      abi: loadArtifact("VRFCoordinatorV2_5Mock").abi,
      functionName: "fulfillRandomWords",
      args: [(await info(drawn.epoch)).requestId, pool],
    });
    assert.equal((await env.pub.waitForTransactionReceipt({ hash })).status, "success");
    const k = (await info(drawn.epoch)).k;
    // every draw but the last is claimed by its winner (a device may win several draws)
    for (let j = 0n; j < k - 1n; j++) {
      const index = await env.read<bigint>("GrowthPool", "winnerIndex", [drawn.epoch, j]);
      const leaf = drawn.tree.leafAt(index)!;
      const device = devices.find((d) => getAddress(d.address) === leaf.device)!;
      await env.send(await env.localWallet(device), "GrowthPool", "claim", [
        drawn.epoch,
        j,
        { index: leaf.index, device: leaf.device, signature: leaf.signature },
        leaf.proof,
      ]);
      claimedDraws.push(j);
    }
    unclaimedDraw = k - 1n;
    await env.warpTo((await info(drawn.epoch)).claimDeadline + 1n);
    await env.send(challenger, "GrowthPool", "sweep", [drawn.epoch]);

    // Governance: every setter.
    const vrfNow = await env.read<{
      coordinator: Address;
      subscriptionId: bigint;
      requestConfirmations: number;
      callbackGasLimit: number;
    }>("GrowthPool", "vrfConfig");
    const challenge = await env.read<{ challengeWindow: bigint; slashAmount: bigint }>(
      "GrowthPool",
      "challengeConfig",
    );
    const config = await env.read<{
      halvingEpochs: number;
      winnersPerEpoch: number;
      claimWindow: bigint;
    }>("GrowthPool", "config");
    await env.asGovernance("GrowthPool", "setChallengeWindow", [challenge.challengeWindow + 60n]);
    await env.asGovernance("GrowthPool", "setSlashAmount", [challenge.slashAmount / 2n]);
    await env.asGovernance("GrowthPool", "setClaimWindow", [config.claimWindow * 2n]);
    await env.asGovernance("GrowthPool", "setWinnersPerEpoch", [config.winnersPerEpoch + 2]);
    await env.asGovernance("GrowthPool", "setHalvingEpochs", [config.halvingEpochs * 2]);
    await env.asGovernance("GrowthPool", "setVrfConfig", [
      {
        coordinator: vrfNow.coordinator,
        keyHash: label("sg-growth new key hash"),
        subscriptionId: vrfNow.subscriptionId,
        requestConfirmations: vrfNow.requestConfirmations + 1,
        callbackGasLimit: vrfNow.callbackGasLimit + 1_000,
      },
    ]);
    await ix.sync();
    logs = await ix.logs();
  });
  after(async () => ix?.stop());

  it("a voided post that nobody reposted: its post, the proven fault, the rollover, as epochInfo reads", async () => {
    const { env } = ix;
    const e = await ix.entity("GrowthPoolEpoch", voidedEpoch.toString());
    assert.ok(e);
    const chain = await info(voidedEpoch);
    assert.equal(e.epoch, voidedEpoch.toString());
    assert.equal(e.status, STATUS[chain.status]);
    assert.equal(e.status, "Settled");
    assert.equal(e.distributor, chain.poster.toLowerCase());
    assert.equal(e.root, chain.root);
    assert.equal(e.heartbeats, chain.n.toString());
    assert.equal(e.challengeDeadline, chain.challengeDeadline.toString());
    assert.equal(e.postCount, 1);
    assert.equal(e.winnersDrawn, null);
    assert.equal(e.requestId, null);
    assert.equal(e.claimCount, 0);

    const [posted] = ofEvent("EpochPosted").filter((l) => l.args.epoch === voidedEpoch);
    assert.ok(posted);
    const post = await ix.eventEntityOf("ConnectedSetPost", posted);
    assert.ok(expectEventFields(post, posted, { n: "heartbeats" }) >= 5);
    assert.deepEqual(post.epoch, { id: voidedEpoch.toString() });
    assert.equal(post.heartbeats, String(DEVICES));
    assert.equal(post.transactionHash, posted.log.transactionHash);

    const [challenged] = ofEvent("PostChallenged");
    assert.ok(challenged);
    const c = await ix.eventEntityOf("ConnectedSetChallenge", challenged);
    // the fault is stored by name (IGrowthPool.Fault)
    assert.ok(
      expectEventFields(c, challenged, { fault: "-" }) >= 4,
      "distributor, challenger, slashed, deadline",
    );
    assert.equal(c.fault, FAULT[Number(challenged.args.fault)]);
    assert.equal(c.fault, "BadSignature");
    assert.equal(c.slashed, slashedStake.toString());
    assert.equal(c.challenger, getAddress(env.wallet(2).account.address).toLowerCase());
    assert.equal(c.repostDeadline, chain.repostDeadline.toString());
    assert.deepEqual(c.epoch, { id: voidedEpoch.toString() });

    const [rolled] = ofEvent("EpochRolledOver");
    assert.ok(rolled);
    assert.equal(rolled.args.epoch, voidedEpoch);
    assert.equal(
      e.owedRolledOver,
      (await env.read<bigint>("GrowthPool", "emission", [voidedEpoch])).toString(),
    );
    assert.equal(e.carry, (rolled.args.carry as bigint).toString());
  });

  it("the drawn epoch: post, allocation, VRF draw, claims and sweep as epochInfo and the pool's totals read", async () => {
    const { env } = ix;
    const epoch = drawn.epoch;
    const e = await ix.entity("GrowthPoolEpoch", epoch.toString());
    assert.ok(e);
    const chain = await info(epoch);
    assert.equal(chain.drawn, true);
    assert.equal(chain.swept, true);
    assert.equal(e.status, STATUS[chain.status]);
    assert.equal(e.distributor, chain.poster.toLowerCase());
    assert.equal(e.root, drawn.tree.root);
    assert.equal(e.root, chain.root);
    assert.equal(e.heartbeats, chain.n.toString());
    assert.equal(e.heartbeats, String(DEVICES));
    const [posted] = ofEvent("EpochPosted").filter((l) => l.args.epoch === epoch);
    assert.ok(posted);
    assert.equal(e.cid, posted.args.cid);
    assert.ok(expectEventFields(await ix.eventEntityOf("ConnectedSetPost", posted), posted) >= 4);
    assert.equal(e.challengeDeadline, chain.challengeDeadline.toString());
    assert.equal(e.challengeDeadline, drawn.finalAt.toString());
    assert.equal(e.postCount, 1);
    assert.equal(e.winnersDrawn, chain.k.toString());
    assert.equal(e.budget, chain.budget.toString());
    assert.equal(e.perWinner, chain.perWinner.toString());
    assert.equal(e.requestId, chain.requestId.toString());
    assert.equal(e.randomWord, chain.randomWord.toString());
    assert.equal(e.claimDeadline, chain.claimDeadline.toString());
    assert.equal(e.claimCount, Number(chain.claimedCount));
    assert.equal(e.claimed, (chain.perWinner * chain.claimedCount).toString());
    assert.equal(e.swept, (await env.read<bigint>("GrowthPool", "totalSwept")).toString());
    assert.equal(e.swept, (chain.perWinner * (chain.k - chain.claimedCount)).toString());
    assert.equal(e.carry, (await env.read<bigint>("GrowthPool", "carry")).toString());

    // the budget is this epoch's emission plus the rolled-over one
    const [rolled] = ofEvent("EpochRolledOver");
    const owed =
      (rolled!.args.owed as bigint) + (await env.read<bigint>("GrowthPool", "emission", [epoch]));
    assert.equal(e.budget, owed.toString());

    const [allocated] = ofEvent("EpochAllocated").filter((l) => l.args.epoch === epoch);
    const [requested] = ofEvent("DrawRequested");
    const [fulfilled] = ofEvent("EpochDrawn");
    assert.ok(allocated && requested && fulfilled);
    assert.equal(e.winnersDrawn, (allocated.args.k as bigint).toString());
    assert.equal(requested.args.requestId, chain.requestId);
    assert.equal(fulfilled.args.randomWord, chain.randomWord);
    const [swept] = ofEvent("Swept");
    assert.ok(swept);
    assert.equal(e.swept, (swept.args.amount as bigint).toString());
  });

  it("each claimed draw is a GrowthPoolWinner with the drawn index; the unclaimed one is not", async () => {
    const { env } = ix;
    const epoch = drawn.epoch;
    const claims = ofEvent("Claimed");
    assert.equal(claims.length, claimedDraws.length);
    const perWinner = (await info(epoch)).perWinner;
    for (const log of claims) {
      const j = log.args.j as bigint;
      const w = await ix.entity("GrowthPoolWinner", `${epoch}-${j}`);
      assert.ok(w, `winner ${epoch}-${j}`);
      assert.ok(expectEventFields(w, log) >= 4, "j, account, index, amount");
      const index = await env.read<bigint>("GrowthPool", "winnerIndex", [epoch, j]);
      assert.equal(w.index, index.toString());
      assert.deepEqual(w.account, { id: drawn.tree.leafAt(index)!.device.toLowerCase() });
      assert.equal(w.amount, perWinner.toString());
      assert.deepEqual(w.epoch, { id: epoch.toString() });
      assert.equal(w.transactionHash, log.log.transactionHash);
      assert.equal(w.blockNumber, String(log.log.blockNumber));
      assert.equal(await env.read("GrowthPool", "isClaimed", [epoch, j]), true);
    }
    assert.equal(await env.read("GrowthPool", "isClaimed", [epoch, unclaimedDraw]), false);
    assert.equal(await ix.entity("GrowthPoolWinner", `${epoch}-${unclaimedDraw}`), null);
    const winners = await ix.entities("GrowthPoolWinner");
    assert.deepEqual(
      winners.map((w) => w.id),
      claimedDraws.map((j) => `${epoch}-${j}`),
    );
  });

  it("the protocol's emission is the pool's totalEmitted, emissionClaimed its totalClaimed", async () => {
    const { env } = ix;
    const p = await ix.entity("Protocol", "1");
    assert.ok(p);
    const emitted = await env.read<bigint>("GrowthPool", "totalEmitted");
    const claimed = await env.read<bigint>("GrowthPool", "totalClaimed");
    // every draw is either claimed or swept back: what stays emitted is what winners claimed
    assert.ok(claimed > 0n);
    assert.equal(p.emission, emitted.toString());
    assert.equal(p.emissionClaimed, claimed.toString());
    // the snapshot of the sweep's day carries the total; the allocation's day counts k × perWinner
    const [swept] = ofEvent("Swept");
    const [allocated] = ofEvent("EpochAllocated").filter((l) => l.args.epoch === drawn.epoch);
    const dayOf = async (log: DecodedLog) =>
      String((await env.pub.getBlock({ blockNumber: log.log.blockNumber! })).timestamp / 86_400n);
    const sweepDay = await ix.entity("DailySnapshot", await dayOf(swept!));
    assert.ok(sweepDay);
    assert.equal(sweepDay.emission, emitted.toString());
    const allocDay = await ix.entity("DailySnapshot", await dayOf(allocated!));
    assert.ok(allocDay);
    const chain = await info(drawn.epoch);
    assert.equal(allocDay.dailyEmission, (chain.k * chain.perWinner).toString());
  });

  it("deployment and governance: initialisation, every setter's ParameterChange, the proxy", async () => {
    const { env } = ix;
    const [init] = ofEvent("GrowthPoolInitialized");
    assert.ok(init);
    const initChange = await ix.eventEntityOf("ParameterChange", init);
    assert.equal(initChange.event, "GrowthPoolInitialized");
    assert.deepEqual(initChange.values, parameterValues(init));
    assert.equal(init.args.cap, await env.read<bigint>("GrowthPool", "cap"));
    assert.equal(init.args.e0, await env.read<bigint>("GrowthPool", "emission", [0n]));

    const config = await env.read<{
      halvingEpochs: number;
      winnersPerEpoch: number;
      claimWindow: bigint;
    }>("GrowthPool", "config");
    const challenge = await env.read<{ challengeWindow: bigint; slashAmount: bigint }>(
      "GrowthPool",
      "challengeConfig",
    );
    const vrf = await env.read<{
      coordinator: Address;
      keyHash: Hex;
      subscriptionId: bigint;
      requestConfirmations: number;
      callbackGasLimit: number;
    }>("GrowthPool", "vrfConfig");
    // the setter's last event, its new value as the pool reads it now; [events at deployment, after]
    const expected: Record<string, [number, string]> = {
      ChallengeWindowUpdated: [2, `newChallengeWindow=${challenge.challengeWindow}`],
      SlashAmountUpdated: [2, `newSlashAmount=${challenge.slashAmount}`],
      ClaimWindowUpdated: [1, `newClaimWindow=${config.claimWindow}`],
      WinnersPerEpochUpdated: [1, `newWinnersPerEpoch=${config.winnersPerEpoch}`],
      HalvingEpochsUpdated: [1, `newHalvingEpochs=${config.halvingEpochs}`],
      VrfConfigUpdated: [2, `keyHash=${vrf.keyHash.toLowerCase()}`],
    };
    for (const [event, [count, value]] of Object.entries(expected)) {
      const events = ofEvent(event);
      assert.equal(events.length, count, event);
      for (const log of events) {
        const change = await ix.eventEntityOf("ParameterChange", log);
        assert.equal(change.event, event);
        assert.deepEqual(change.values, parameterValues(log));
        assert.deepEqual(change.contract, { id: pool.toLowerCase() });
      }
      const last = await ix.eventEntityOf("ParameterChange", events.at(-1)!);
      assert.ok((last.values as string[]).includes(value), `${event}: ${value}`);
    }
    const vrfChange = await ix.eventEntityOf(
      "ParameterChange",
      ofEvent("VrfConfigUpdated").at(-1)!,
    );
    assert.deepEqual(vrfChange.values, [
      `coordinator=${vrf.coordinator.toLowerCase()}`,
      `keyHash=${vrf.keyHash.toLowerCase()}`,
      `subscriptionId=${vrf.subscriptionId}`,
      `requestConfirmations=${vrf.requestConfirmations}`,
      `callbackGasLimit=${vrf.callbackGasLimit}`,
    ]);
    const [halving] = ofEvent("HalvingEpochsUpdated");
    const eras = await env.read<readonly { start: bigint; e0: bigint }[]>("GrowthPool", "eras");
    assert.equal(halving!.args.fromEpoch, eras.at(-1)!.start);
    assert.equal(halving!.args.e0, eras.at(-1)!.e0);

    const c = await ix.entity("ProtocolContract", pool.toLowerCase());
    assert.ok(c);
    assert.equal(c.name, "GrowthPool");
    assert.equal(
      c.implementation,
      (await implementationOf(ix.chain.pub as never, pool)).toLowerCase(),
    );
    assert.equal(c.governance, env.addr("TimelockController").toLowerCase());
    assert.equal(c.initializedVersion, "1");
    assert.equal(c.upgradeCount, ofEvent("Upgraded").length);
    assert.equal(c.upgradeCount, 1);
  });

  it("every GrowthPool handler ran", () => {
    ix.assertHandlersRan(["GrowthPool"]);
  });
});
