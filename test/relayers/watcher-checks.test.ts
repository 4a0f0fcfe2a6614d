/**
 * The watcher's rules (relayers/watcher/checks.ts) on real signatures and real Merkle trees, without a chain: each
 * fault kind is found with evidence whose proof verifies against the root, honest inputs pass, and inputs the
 * contracts would not count as faults (the same leaf twice, a device that changed after the post or the assignment)
 * are not reported. The chain-side behaviour of every kind is exercised in watcher.test.ts.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { getAddress, keccak256, toHex, type Address, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { buildCohortTree, drawCohort, type CohortMember } from "#sdk/chain/cohort.ts";
import {
  buildConnectedSet,
  CONNECTED_SET_LEAF_ENCODING,
  loadConnectedSet,
  verifyConnectedLeaf,
} from "#sdk/chain/connected-set.ts";
import { signHeartbeatMessage } from "#sdk/protocol/heartbeat.ts";
import {
  checkCohort,
  checkConnectedSet,
  type Eligibility,
  type LeafEvidence,
} from "../../relayers/watcher/checks.ts";

const accounts = Array.from({ length: 10 }, (_, i) =>
  privateKeyToAccount(keccak256(toHex(`watcher-checks-${i}`))),
);
const domain = {
  chainId: 31337,
  verifyingContract: getAddress("0x5fbdb2315678afecb367f032d93f642f64180aa3"),
};
const EPOCH = 7n;
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

async function leaves(): Promise<[string, string, string][]> {
  return Promise.all(
    accounts.map(async (a, i): Promise<[string, string, string]> => [
      `${i}`,
      a.address,
      await signHeartbeatMessage(a, domain, EPOCH),
    ]),
  );
}
function setOf(values: [string, string, string][]) {
  const tree = StandardMerkleTree.of(values, [...CONNECTED_SET_LEAF_ENCODING]);
  return loadConnectedSet(tree.dump(), tree.root as Hex);
}
const registered = async (ds: readonly Address[]) =>
  ds.map(() => ({ registered: true, lastChange: 1n }));
const verifies = (root: Hex, l: LeafEvidence) =>
  verifyConnectedLeaf(root, {
    index: BigInt(l.index),
    device: l.device,
    signature: l.signature,
    proof: l.proof,
  });

describe("watcher checks: connected sets", () => {
  const check = (values: [string, string, string][], n = BigInt(values.length)) => {
    const set = setOf(values);
    return {
      set,
      fault: checkConnectedSet({
        epoch: EPOCH,
        n,
        postedAt: 100n,
        set,
        domain,
        registrations: registered,
      }),
    };
  };

  it("an honest set has no fault", async () => {
    assert.equal(await check(await leaves()).fault, undefined);
  });

  it("an index ≥ n, a device twice, an index twice: each with proofs that verify", async () => {
    const l = await leaves();
    const short = check(l, 9n);
    const f1 = await short.fault;
    assert.equal(f1?.kind, "index");
    assert.ok(f1?.kind === "index" && verifies(short.set.root, f1.leaf));
    assert.equal(f1?.kind === "index" && f1.leaf.index, "9");

    const dup = check([...l, ["10", l[2]![1], l[2]![2]]]);
    const f2 = await dup.fault;
    assert.equal(f2?.kind, "duplicate");
    assert.ok(
      f2?.kind === "duplicate" && verifies(dup.set.root, f2.a) && verifies(dup.set.root, f2.b),
    );
    assert.ok(f2?.kind === "duplicate" && f2.a.device === f2.b.device && f2.a.index !== f2.b.index);

    const other = privateKeyToAccount(keccak256(toHex("watcher-checks-other")));
    const sameIndex = check(
      [...l, ["3", other.address, await signHeartbeatMessage(other, domain, EPOCH)]],
      10n,
    );
    const f3 = await sameIndex.fault;
    assert.equal(f3?.kind, "duplicate");
    assert.ok(f3?.kind === "duplicate" && f3.a.index === "3" && f3.b.index === "3");
  });

  it("the same leaf twice is no fault (the contract sees one leaf hash)", async () => {
    const l = await leaves();
    assert.equal(await check([...l, l[4]!], 10n).fault, undefined);
  });

  it("signatures: another device's, another epoch's, a high-s twin and a garbage one are faults", async () => {
    const cases: [string, (l: [string, string, string][]) => Promise<Hex>][] = [
      ["another device's", async () => signHeartbeatMessage(accounts[1]!, domain, EPOCH)],
      ["another epoch's", async () => signHeartbeatMessage(accounts[5]!, domain, EPOCH + 1n)],
      [
        "high s",
        async (l) => {
          // the malleable twin (n − s, v flipped) recovers the same signer; OpenZeppelin's ECDSA refuses it
          const sig = l[5]![2] as Hex;
          const s = BigInt(`0x${sig.slice(66, 130)}`);
          const v = Number.parseInt(sig.slice(130, 132), 16);
          return `${sig.slice(0, 66)}${(SECP256K1_N - s).toString(16).padStart(64, "0")}${(v === 27 ? 28 : 27).toString(16)}` as Hex;
        },
      ],
      ["64 bytes", async (l) => (l[5]![2] as string).slice(0, 130) as Hex],
    ];
    for (const [name, forge] of cases) {
      const l = await leaves();
      l[5] = [l[5]![0], l[5]![1], await forge(l)];
      const f = await check(l).fault;
      assert.equal(f?.kind, "signature", name);
      assert.equal(f?.kind === "signature" && f.leaf.device, accounts[5]!.address, name);
    }
  });

  it("unregistered: a fault unless the device changed after the post", async () => {
    const l = await leaves();
    const set = setOf(l);
    const regs = (lastChange: bigint) => async (ds: readonly Address[]) =>
      ds.map((d) => ({ registered: d !== accounts[8]!.address, lastChange }));
    const base = { epoch: EPOCH, n: 10n, postedAt: 100n, set, domain };
    const f = await checkConnectedSet({ ...base, registrations: regs(100n) });
    assert.equal(f?.kind, "unregistered");
    assert.equal(f?.kind === "unregistered" && f.leaf.device, accounts[8]!.address);
    assert.equal(await checkConnectedSet({ ...base, registrations: regs(101n) }), undefined);
  });
});

describe("watcher checks: cohorts", () => {
  const seed = keccak256(toHex("job seed"));
  async function setup() {
    const set = buildConnectedSet(
      await Promise.all(
        accounts.map(async (a) => ({
          device: a.address,
          signature: await signHeartbeatMessage(a, domain, EPOCH),
        })),
      ),
    );
    const candidates = accounts.map((a, i) => ({ connectedIndex: BigInt(i), device: a.address }));
    return { set: { n: 10n, tree: set }, wide: drawCohort(seed, candidates, 6) };
  }
  const everyone =
    (not: Address[] = [], changed: Address[] = []) =>
    async (ds: readonly Address[]): Promise<Eligibility[]> =>
      ds.map((d) =>
        changed.includes(d) ? "changed" : not.includes(d) ? "ineligible" : "eligible",
      );
  const run = (
    members: CohortMember[],
    set: Awaited<ReturnType<typeof setup>>["set"] | undefined,
    eligibility = everyone(),
    deviceCount = 5,
  ) => checkCohort({ jobId: 1n, seed, deviceCount, members, set, eligibility });

  it("the draw the rules call for has no fault", async () => {
    const { set, wide } = await setup();
    assert.equal(await run(wide.slice(0, 5), set), undefined);
  });

  it("member faults: a position ≥ deviceCount, an index holding another device, an index ≥ n", async () => {
    const { set, wide } = await setup();
    const six = await run(wide, set);
    assert.equal(six?.kind, "member");
    assert.equal(six?.kind === "member" && six.member.position, "5");

    const moved = wide
      .slice(0, 5)
      .map((m, i) => (i === 2 ? { ...m, connectedIndex: (m.connectedIndex + 1n) % 10n } : m));
    const f = await run(moved, set);
    assert.equal(f?.kind, "member");
    assert.ok(f?.kind === "member" && verifies(set.tree.root, f.connected));
    assert.equal(f?.kind === "member" && f.connected.index, `${moved[2]!.connectedIndex}`);
    const root = buildCohortTree(moved).root;
    assert.ok(
      f?.kind === "member" &&
        StandardMerkleTree.verify(
          root,
          ["uint256", "uint256", "address"],
          [f.member.position, f.member.connectedIndex, f.member.device],
          f.member.proof,
        ),
    );

    const far = wide.slice(0, 5).map((m, i) => (i === 0 ? { ...m, connectedIndex: 10n } : m));
    const g = await run(far, set);
    assert.equal(g?.kind === "member" && g.connected.proof.length, 0);
  });

  it("ineligible (unless changed since the assignment), order, omission", async () => {
    const { set, wide } = await setup();
    const five = wide.slice(0, 5);
    const bad = five[3]!.device;
    assert.equal((await run(five, set, everyone([bad])))?.kind, "ineligible");
    // a changed member is no fault; the omission check then finds nothing either
    assert.equal(await run(five, set, everyone([], [bad])), undefined);

    const swapped = [{ ...five[1]!, position: 0 }, { ...five[0]!, position: 1 }, ...five.slice(2)];
    const o = await run(swapped, set);
    assert.equal(o?.kind, "order");
    assert.equal(o?.kind === "order" && `${o.a.position},${o.b.position}`, "0,1");

    // the 3rd drawn device left out, the 6th taken instead
    const skipped = [...five.slice(0, 2), ...wide.slice(3, 6)].map((m, position) => ({
      ...m,
      position,
    }));
    const m = await run(skipped, set);
    assert.equal(m?.kind, "omission");
    assert.ok(m?.kind === "omission" && m.omitted.device === wide[2]!.device);
    assert.ok(m?.kind === "omission" && m.below.position === "1" && m.above.position === "2");
    // the omitted device is ineligible or changed: nothing to prove
    assert.equal(await run(skipped, set, everyone([wide[2]!.device])), undefined);
    assert.equal(await run(skipped, set, everyone([], [wide[2]!.device])), undefined);
    // the lowest-scoring device left out: `above` is position 0
    const first = wide.slice(1, 6).map((x, position) => ({ ...x, position }));
    const z = await run(first, set);
    assert.equal(z?.kind === "omission" && z.above.position, "0");
  });

  it("without the connected set: positions, eligibility and order are still checked", async () => {
    const { wide } = await setup();
    const five = wide.slice(0, 5);
    const swapped = [{ ...five[1]!, position: 0 }, { ...five[0]!, position: 1 }, ...five.slice(2)];
    assert.equal((await run(swapped, undefined))?.kind, "order");
    assert.equal(await run(five, undefined), undefined);
  });
});
