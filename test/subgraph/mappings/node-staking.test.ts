/**
 * subgraph/src/mappings/node-staking.ts against real NodeStaking events on the EDR chain (`hardhat node`), indexed by
 * the local graph host from the `graph build` output: three operators register (one updates its registration) and
 * stake in several roles; one unbonds a whole role and withdraws it after the delay, another unbonds part of a role; a
 * test wallet that governance made a slasher locks and unlocks stake one operator at a time and in batches (a batch
 * unlock clamping at zero), slashes bonded-plus-unbonding stake with a challenger's share sent to the treasury, and
 * slashes again burned with the operator as its own challenger; governance raises a minimum stake and
 * `refreshActive` drops an operator from the active set; every governance setter runs. Every expected value is read
 * from NodeStaking with viem (at the event's block where the entity records a value of that moment) or decoded from
 * the chain's logs; every NodeStaking handler runs.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { getAddress, type Address, type Hex } from "viem";
import { implementationOf } from "#sdk/chain/governance.ts";
import { abi, BPS, label, localAccount, Role } from "../../../bench/fixture/protocol.ts";
import {
  expectEventFields,
  makeEventId,
  parameterValues,
  startIndexedProtocol,
  type DecodedLog,
  type IndexedProtocol,
} from "../helpers/indexed-protocol.ts";

const ROLE_NAMES = Object.keys(Role) as (keyof typeof Role)[];
const PARAMETER_EVENTS = [
  "BurnSlashedSet",
  "ChallengerShareSet",
  "MinStakeSet",
  "SlasherSet",
  "TreasurySet",
  "UnbondingDelaySet",
];

interface StakeInfo {
  bonded: bigint;
  unbonding: bigint;
  unbondReadyAt: bigint;
}
interface Operator {
  endpoint: string;
  encryptionKey: Hex;
  metadata: string;
}

const lower = (a: string) => a.toLowerCase();
const stakeId = (operator: string, role: number) => `${lower(operator)}-${role}`;
const sameAddress = (a: unknown, b: string) => getAddress(a as Address) === getAddress(b);

describe("subgraph mapping: NodeStaking", () => {
  let ix: IndexedProtocol;
  let logs: DecodedLog[];
  let staking: Address;
  const alice = localAccount("sg-staking-alice");
  const bob = localAccount("sg-staking-bob");
  const carol = localAccount("sg-staking-carol");
  const slasher = localAccount("sg-staking-slasher");
  const challenger = localAccount("sg-staking-challenger");
  const treasury = localAccount("sg-staking-treasury");
  const operators = [alice, bob, carol];

  /** A NodeStaking view at `blockNumber` (the state an event's entity recorded). */
  const readAt = <T>(fn: string, args: readonly unknown[], blockNumber: bigint) =>
    ix.env.pub.readContract({
      address: staking,
      abi: abi("NodeStaking"),
      functionName: fn,
      args,
      blockNumber,
    }) as Promise<T>;
  const stakingLogs = (...names: string[]) =>
    logs.filter((l) => l.contract === "NodeStaking" && names.includes(l.eventName));

  before(async () => {
    ix = await startIndexedProtocol();
    const { env } = ix;
    staking = env.addr("NodeStaking");
    const min = async (role: number) => env.read<bigint>("NodeStaking", "minStake", [role]);
    const [minD, minAg, minAt] = await Promise.all([
      min(Role.Distributor),
      min(Role.Aggregator),
      min(Role.Attestor),
    ]);
    await env.fund(
      operators.map((o) => o.address),
      10n * (minD! + minAg! + minAt!),
    );
    const [a, b, c] = await Promise.all(operators.map((o) => env.localWallet(o)));
    const s = await env.localWallet(slasher);
    for (const w of [a!, b!, c!])
      await env.send(w, "DMLToken", "approve", [staking, (1n << 255n) - 1n]);

    // registrations (alice updates hers)
    await env.send(a!, "NodeStaking", "register", ["http://a:1", label("key-a"), "{}"]);
    await env.send(a!, "NodeStaking", "updateOperator", [
      "https://alice.example:8443",
      label("key-a2"),
      "ipfs://alice-profile",
    ]);
    await env.send(b!, "NodeStaking", "register", ["http://b:1", label("key-b"), "bob"]);
    await env.send(c!, "NodeStaking", "register", ["http://c:1", label("key-c"), ""]);

    // stakes in several roles (alice twice as Distributor: the second Staked changes no activity)
    await env.send(a!, "NodeStaking", "stake", [Role.Distributor, 2n * minD!]);
    await env.send(a!, "NodeStaking", "stake", [Role.Aggregator, minAg!]);
    await env.send(a!, "NodeStaking", "stake", [Role.Distributor, minD!]);
    await env.send(b!, "NodeStaking", "stake", [Role.Attestor, 3n * minAt!]);
    await env.send(c!, "NodeStaking", "stake", [Role.Distributor, minD!]);

    // governance: every setter (the deployment already emitted each once but SlasherSet for a test wallet)
    const delay = await env.read<bigint>("NodeStaking", "unbondingDelay");
    await env.asGovernance("NodeStaking", "setUnbondingDelay", [
      delay / 2n > 3600n ? delay / 2n : 3600n,
    ]);
    const share = await env.read<number>("NodeStaking", "challengerShareBps");
    await env.asGovernance("NodeStaking", "setChallengerShareBps", [Math.floor(share / 2) + 1]);
    await env.asGovernance("NodeStaking", "setBurnSlashed", [false]);
    await env.asGovernance("NodeStaking", "setTreasury", [treasury.address]);
    await env.asGovernance("NodeStaking", "setSlasher", [slasher.address, true]);

    // alice unbonds her whole Aggregator stake (leaves the active set) and withdraws it after the delay
    await env.send(a!, "NodeStaking", "requestUnbond", [Role.Aggregator, minAg!]);
    const info = await env.read<StakeInfo>("NodeStaking", "stakeInfo", [
      alice.address,
      Role.Aggregator,
    ]);
    await env.warpTo(info.unbondReadyAt);
    await env.send(a!, "NodeStaking", "withdraw", [Role.Aggregator]);
    // bob unbonds a third of his Attestor stake (stays active, the rest is still slashable)
    await env.send(b!, "NodeStaking", "requestUnbond", [Role.Attestor, minAt!]);

    // locks: single, batch, single release, batch release clamping carol's lock (and bob's none) at zero
    const lockD = minD! / 4n;
    const D = Role.Distributor;
    await env.send(s, "NodeStaking", "lock", [alice.address, D, lockD]);
    await env.send(s, "NodeStaking", "lockMany", [[alice.address, carol.address], [D, D], lockD]);
    await env.send(s, "NodeStaking", "lock", [bob.address, Role.Attestor, minAt! / 5n]);
    await env.send(s, "NodeStaking", "unlock", [alice.address, D, lockD / 2n]);
    await env.send(s, "NodeStaking", "unlockMany", [
      [alice.address, carol.address, bob.address, carol.address],
      [D, D, Role.Aggregator, Role.Attestor],
      lockD + lockD / 4n,
    ]);

    // slashes: all of bob's bonded Attestor stake and half his unbonding one, a challenger's share to the treasury;
    // then alice as her own challenger (no reward), burned
    await env.send(s, "NodeStaking", "slash", [
      bob.address,
      Role.Attestor,
      2n * minAt! + minAt! / 2n,
      challenger.address,
    ]);
    await env.asGovernance("NodeStaking", "setBurnSlashed", [true]);
    await env.send(s, "NodeStaking", "slash", [alice.address, D, minD! / 2n, alice.address]);

    // a higher Distributor minimum: refreshActive drops carol (alice keeps 2.5 × the old minimum)
    await env.asGovernance("NodeStaking", "setMinStake", [D, 2n * minD!]);
    await env.send(s, "NodeStaking", "refreshActive", [D, [alice.address, carol.address]]);
    await env.asGovernance("NodeStaking", "setSlasher", [slasher.address, false]);
    await ix.sync();
    logs = await ix.logs();
  });
  after(async () => ix?.stop());

  it("nodes hold their latest endpoint, key and metadata and their registration block", async () => {
    const { env } = ix;
    const registered = stakingLogs("OperatorRegistered");
    assert.equal(registered.length, operators.length);
    for (const log of registered) {
      const who = log.args.operator as Address;
      const n = await ix.entity("Node", lower(who));
      assert.ok(n, `Node ${who}`);
      const op = await env.read<Operator>("NodeStaking", "operatorInfo", [who]);
      assert.equal(n.endpoint, op.endpoint);
      assert.equal(n.encryptionKey, lower(op.encryptionKey));
      assert.equal(
        n.encryptionKey,
        lower(await env.read<Hex>("NodeStaking", "encryptionKey", [who])),
      );
      assert.equal(n.metadata, op.metadata);
      const block = await env.pub.getBlock({ blockNumber: log.log.blockNumber! });
      assert.equal(n.registeredAtBlock, String(block.number));
      assert.equal(n.registeredAt, String(block.timestamp));
      assert.deepEqual(n.account, { id: lower(who) });
      const account = await ix.entity("Account", lower(who));
      assert.deepEqual(account?.node, { id: lower(who) });
    }
    // alice's update reached the entity (her registration's values are gone)
    const update = stakingLogs("OperatorUpdated");
    assert.equal(update.length, 1);
    const a = await ix.entity("Node", lower(alice.address));
    assert.equal(a?.endpoint, update[0]!.args.endpoint);
    assert.notEqual(
      a?.endpoint,
      registered.find((l) => sameAddress(l.args.operator, alice.address))!.args.endpoint,
    );
  });

  it("every stake holds bonded, unbonding, ready time, lock, slashed total and activity as NodeStaking reads them", async () => {
    const { env } = ix;
    const stakes = await ix.entities("Stake");
    const touched = new Set(
      stakingLogs("Staked", "StakeLocked", "StakeUnlocked", "ActiveStatusChanged").map((l) =>
        stakeId(l.args.operator as string, Number(l.args.role)),
      ),
    );
    for (const l of stakingLogs("StakesLocked", "StakesUnlocked"))
      (l.args.operators as string[]).forEach((o, i) =>
        touched.add(stakeId(o, Number((l.args.roles as number[])[i]))),
      );
    assert.deepEqual(stakes.map((s) => s.id).sort(), [...touched].sort());
    // the active sets, as NodeStaking lists them
    const active = new Set<string>();
    for (const role of Object.values(Role)) {
      const n = await env.read<bigint>("NodeStaking", "activeCount", [role]);
      for (let i = 0n; i < n; i++)
        active.add(stakeId(await env.read<Address>("NodeStaking", "activeAt", [role, i]), role));
    }
    assert.ok(active.size >= 1, "some stakes are active");
    assert.ok(stakes.length - active.size >= 2, "some stakes are not");
    for (const s of stakes) {
      const [op, roleIndex] = (s.id as string).split("-");
      const role = Number(roleIndex);
      const info = await env.read<StakeInfo>("NodeStaking", "stakeInfo", [op, role]);
      assert.deepEqual(s.node, { id: op });
      assert.equal(s.role, ROLE_NAMES[role]);
      assert.equal(s.bonded, info.bonded.toString(), `${s.id} bonded`);
      assert.equal(s.unbonding, info.unbonding.toString(), `${s.id} unbonding`);
      assert.equal(s.unbondReadyAt, info.unbondReadyAt.toString(), `${s.id} unbondReadyAt`);
      assert.equal(
        s.locked,
        (await env.read<bigint>("NodeStaking", "lockedOf", [op, role])).toString(),
        `${s.id} locked`,
      );
      assert.equal(s.active, active.has(s.id as string), `${s.id} active`);
      assert.equal(s.active, await env.read<boolean>("NodeStaking", "isActive", [op, role]));
      const slashed = stakingLogs("Slashed")
        .filter((l) => stakeId(l.args.operator as string, Number(l.args.role)) === s.id)
        .reduce((sum, l) => sum + (l.args.amount as bigint), 0n);
      assert.equal(s.slashed, slashed.toString(), `${s.id} slashed`);
    }
    // the scenario reached the cases it means to: a withdrawn role, a partly unbonding and slashed one, a lock
    const bobAt = stakes.find((s) => s.id === stakeId(bob.address, Role.Attestor))!;
    assert.notEqual(bobAt.unbonding, "0");
    assert.notEqual(bobAt.slashed, "0");
    assert.equal(bobAt.bonded, "0");
    const aliceD = stakes.find((s) => s.id === stakeId(alice.address, Role.Distributor))!;
    assert.notEqual(aliceD.locked, "0");
    assert.equal(aliceD.active, true);
    const carolD = stakes.find((s) => s.id === stakeId(carol.address, Role.Distributor))!;
    assert.equal(carolD.active, false, "refreshActive dropped carol");
  });

  it("stake events: Staked, UnbondRequested and Withdrawn with their amounts, totals and ready times", async () => {
    const events = stakingLogs("Staked", "UnbondRequested", "Withdrawn");
    assert.deepEqual([...new Set(events.map((l) => l.eventName))].sort(), [
      "Staked",
      "UnbondRequested",
      "Withdrawn",
    ]);
    assert.equal((await ix.entities("StakeEvent")).length, events.length);
    for (const log of events) {
      const e = await ix.eventEntityOf("StakeEvent", log);
      assert.equal(e.kind, log.eventName);
      assert.deepEqual(e.stake, {
        id: stakeId(log.args.operator as string, Number(log.args.role)),
      });
      assert.equal(e.amount, (log.args.amount as bigint).toString());
      const total =
        log.eventName === "Staked"
          ? log.args.bonded
          : log.eventName === "UnbondRequested"
            ? log.args.unbonding
            : null;
      assert.equal(e.total, total === null ? null : String(total));
      assert.equal(
        e.readyAt,
        log.eventName === "UnbondRequested" ? String(log.args.readyAt) : null,
      );
      // the totals are NodeStaking's state after the event's block
      const info = await readAt<StakeInfo>(
        "stakeInfo",
        [log.args.operator, log.args.role],
        log.log.blockNumber!,
      );
      if (log.eventName === "Staked") assert.equal(e.total, info.bonded.toString());
      if (log.eventName === "UnbondRequested") {
        assert.equal(e.total, info.unbonding.toString());
        assert.equal(e.readyAt, info.unbondReadyAt.toString());
      }
      if (log.eventName === "Withdrawn") assert.equal(info.unbonding, 0n);
      assert.equal(e.transactionHash, log.log.transactionHash);
      assert.equal(e.blockNumber, String(log.log.blockNumber));
    }
  });

  it("locks: one StakeLock per single event and per operator of a batch, with the lock total after it", async () => {
    const single = stakingLogs("StakeLocked", "StakeUnlocked");
    const batches = stakingLogs("StakesLocked", "StakesUnlocked");
    assert.equal(single.length, 3);
    assert.equal(batches.length, 2);
    let rows = 0;
    for (const log of single) {
      const e = await ix.eventEntityOf("StakeLock", log);
      assert.equal(e.kind, log.eventName === "StakeLocked" ? "Lock" : "Unlock");
      assert.ok(expectEventFields(e, log) >= 3, "module, amount and locked compared");
      assert.deepEqual(e.stake, {
        id: stakeId(log.args.operator as string, Number(log.args.role)),
      });
      assert.equal(
        e.locked,
        String(await readAt("lockedOf", [log.args.operator, log.args.role], log.log.blockNumber!)),
      );
      assert.equal(e.transactionHash, log.log.transactionHash);
      rows++;
    }
    let clamped = 0;
    for (const log of batches) {
      const ops = log.args.operators as Address[];
      const roles = log.args.roles as number[];
      const block = log.log.blockNumber!;
      for (const [i, op] of ops.entries()) {
        const e = await ix.entity("StakeLock", makeEventId(log.eventId, i));
        assert.ok(e, `${log.eventName} item ${i}`);
        assert.equal(e.kind, log.eventName === "StakesLocked" ? "Lock" : "Unlock");
        assert.equal(e.module, lower(log.args.module as string));
        assert.deepEqual(e.stake, { id: stakeId(op, Number(roles[i])) });
        const now = await readAt<bigint>("lockedOf", [op, roles[i]], block);
        const was = await readAt<bigint>("lockedOf", [op, roles[i]], block - 1n);
        assert.equal(e.locked, now.toString(), `${log.eventName} item ${i} locked`);
        // what this item locked or released (an unlock releases up to the amount, clamping at zero)
        assert.equal(e.amount, (now > was ? now - was : was - now).toString(), `item ${i} amount`);
        if (log.eventName === "StakesUnlocked" && was - now !== log.args.amount) clamped++;
        rows++;
      }
    }
    assert.ok(clamped >= 2, "the batch release clamped");
    assert.equal((await ix.entities("StakeLock")).length, rows);
  });

  it("slashes: amount taken, challenger's share, remainder to the treasury or burned, as the chain moved tokens", async () => {
    const slashes = stakingLogs("Slashed");
    assert.equal(slashes.length, 2);
    assert.equal((await ix.entities("Slash")).length, slashes.length);
    for (const log of slashes) {
      const e = await ix.eventEntityOf("Slash", log);
      // `operator` is the node; `role` is stored by name (compared below), not as the event's index
      assert.ok(
        expectEventFields(e, log, { operator: "node", role: "roleIndex" }) >= 7,
        "node, slasher, amount, challenger, reward, remainder, burned",
      );
      const op = log.args.operator as Address;
      const role = Number(log.args.role);
      assert.deepEqual(e.node, { id: lower(op) });
      assert.deepEqual(e.stake, { id: stakeId(op, role) });
      assert.equal(e.role, ROLE_NAMES[role]);
      assert.equal(e.slasher, lower(slasher.address));
      const block = log.log.blockNumber!;
      // the stake lost exactly the amount, bonded first then unbonding
      const before = await readAt<StakeInfo>("stakeInfo", [op, role], block - 1n);
      const after = await readAt<StakeInfo>("stakeInfo", [op, role], block);
      assert.equal(
        e.amount,
        String(before.bonded + before.unbonding - after.bonded - after.unbonding),
      );
      const share = await readAt<number>("challengerShareBps", [], block);
      // no reward without a challenger, or when the operator challenged itself (the event says zero then)
      const unpaid = sameAddress(e.challenger, op) || BigInt(e.challenger as string) === 0n;
      assert.equal(
        e.challengerReward,
        unpaid ? "0" : String(((log.args.amount as bigint) * BigInt(share)) / BPS),
      );
      assert.equal(e.burned, await readAt<boolean>("burnSlashed", [], block));
      // the token moves of the slash transaction
      const transfers = logs.filter(
        (l) =>
          l.contract === "DMLToken" &&
          l.eventName === "Transfer" &&
          l.log.transactionHash === log.log.transactionHash &&
          sameAddress(l.args.from, staking),
      );
      const to = (who: string) =>
        transfers
          .filter((t) => BigInt(t.args.to as string) === BigInt(who))
          .reduce((s, t) => s + (t.args.value as bigint), 0n);
      // (an operator that challenged itself is recorded as no challenger: its zero address is where burns go)
      if (BigInt(e.challenger as string) !== 0n)
        assert.equal(e.challengerReward, String(to(e.challenger as string)));
      const treasuryNow = await readAt<Address>("treasury", [], block);
      assert.equal(e.remainder, String(e.burned ? to("0x0") : to(treasuryNow)));
    }
    const [paid, burned] = await Promise.all(slashes.map((l) => ix.eventEntityOf("Slash", l)));
    assert.notEqual(paid!.challengerReward, "0");
    assert.equal(paid!.burned, false);
    assert.equal(burned!.challengerReward, "0");
    assert.equal(burned!.burned, true);
    assert.equal(BigInt(burned!.challenger as string), 0n, "a self-challenge names no challenger");
  });

  it("the protocol's stake totals: staked, locked, slashed and nodes as NodeStaking holds them", async () => {
    const { env } = ix;
    const p = await ix.entity("Protocol", "1");
    assert.ok(p);
    const stakes = await ix.entities("Stake");
    let staked = 0n;
    let locked = 0n;
    for (const s of stakes) {
      const [op, role] = (s.id as string).split("-");
      const info = await env.read<StakeInfo>("NodeStaking", "stakeInfo", [op, Number(role)]);
      staked += info.bonded + info.unbonding;
      locked += await env.read<bigint>("NodeStaking", "lockedOf", [op, Number(role)]);
    }
    assert.equal(p.staked, staked.toString());
    assert.equal(p.staked, (await env.balance(staking)).toString(), "NodeStaking holds the stake");
    assert.equal(p.locked, locked.toString());
    const slashed = stakingLogs("Slashed").reduce((s, l) => s + (l.args.amount as bigint), 0n);
    assert.equal(p.slashed, slashed.toString());
    assert.notEqual(p.slashed, "0");
    let nodes = 0;
    for (const o of operators)
      if (await env.read<boolean>("NodeStaking", "isRegistered", [o.address])) nodes++;
    assert.equal(p.nodes, String(nodes));
    // the daily snapshots: stake added and slashed per day add up; the last day carries the totals
    const days = await ix.entities("DailySnapshot");
    const sum = (f: string) => days.reduce((s, d) => s + BigInt(d[f] as string), 0n);
    const added = stakingLogs("Staked").reduce((s, l) => s + (l.args.amount as bigint), 0n);
    assert.equal(sum("dailyStakeAdded"), added);
    assert.equal(sum("dailySlashed"), slashed);
    const last = days.reduce((a, d) => (BigInt(d.id as string) > BigInt(a.id as string) ? d : a));
    assert.equal(last.staked, p.staked);
    assert.equal(last.slashed, p.slashed);
  });

  it("governance: every setter's ParameterChange, the latest values NodeStaking reads, and the proxy", async () => {
    const { env } = ix;
    const params = stakingLogs(...PARAMETER_EVENTS);
    assert.deepEqual([...new Set(params.map((l) => l.eventName))].sort(), PARAMETER_EVENTS);
    const changes = await ix.entities("ParameterChange", `{ contract: "${lower(staking)}" }`);
    assert.equal(changes.length, params.length);
    for (const log of params) {
      const c = await ix.eventEntityOf("ParameterChange", log);
      assert.equal(c.event, log.eventName);
      assert.deepEqual(c.values, parameterValues(log));
      assert.deepEqual(c.contract, { id: lower(staking) });
      assert.equal(c.transactionHash, log.log.transactionHash);
    }
    // the last change of each parameter is what NodeStaking holds now
    const latest = async (event: string, filter: (l: DecodedLog) => boolean = () => true) => {
      const log = params.filter((l) => l.eventName === event && filter(l)).at(-1);
      assert.ok(log, event);
      return (await ix.eventEntityOf("ParameterChange", log)).values as string[];
    };
    for (const role of Object.values(Role))
      assert.deepEqual(await latest("MinStakeSet", (l) => Number(l.args.role) === role), [
        `role=${role}`,
        `minStake=${await env.read<bigint>("NodeStaking", "minStake", [role])}`,
      ]);
    assert.deepEqual(await latest("UnbondingDelaySet"), [
      `delay=${await env.read<bigint>("NodeStaking", "unbondingDelay")}`,
    ]);
    assert.deepEqual(await latest("ChallengerShareSet"), [
      `shareBps=${await env.read<number>("NodeStaking", "challengerShareBps")}`,
    ]);
    assert.deepEqual(await latest("BurnSlashedSet"), [
      `burnSlashed=${await env.read<boolean>("NodeStaking", "burnSlashed")}`,
    ]);
    assert.deepEqual(await latest("TreasurySet"), [
      `treasury=${lower(await env.read<Address>("NodeStaking", "treasury"))}`,
    ]);
    for (const s of new Set(stakingLogs("SlasherSet").map((l) => lower(l.args.slasher as string))))
      assert.deepEqual(await latest("SlasherSet", (l) => lower(l.args.slasher as string) === s), [
        `slasher=${s}`,
        `allowed=${await env.read<boolean>("NodeStaking", "isSlasher", [s])}`,
      ]);
    assert.deepEqual(await latest("SlasherSet"), [
      `slasher=${lower(slasher.address)}`,
      "allowed=false",
    ]);

    const c = await ix.entity("ProtocolContract", lower(staking));
    assert.ok(c);
    assert.equal(c.name, "NodeStaking");
    assert.equal(c.implementation, lower(await implementationOf(ix.chain.pub as never, staking)));
    assert.equal(c.governance, lower(env.addr("TimelockController")));
    assert.equal(c.initializedVersion, "1");
    assert.equal(c.upgradeCount, stakingLogs("Upgraded").length);
  });

  it("every NodeStaking handler ran", () => {
    ix.assertHandlersRan(["NodeStaking"]);
  });
});
