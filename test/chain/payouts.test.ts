/**
 * sdk/chain/payouts: the indexed payout tree devices claim from (leaf = (index, account, amount), exactly as
 * Settlement.claim hashes it) and the published payout list every device loads and checks before claiming.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { encodeAbiParameters, getAddress, keccak256, type Address } from "viem";
import { MerkleInputError } from "#sdk/chain/merkle.ts";
import { buildPayoutTree, loadPayoutList, PAYOUT_LIST_FORMAT } from "#sdk/chain/payouts.ts";

const addr = (i: number): Address => getAddress(`0x${(i + 1).toString(16).padStart(40, "0")}`);
const entries = Array.from({ length: 300 }, (_, i) => ({
  account: addr(i),
  value: BigInt(i + 1) * 10n ** 15n,
}));

/** OpenZeppelin MerkleProof.verify with the double-hashed leaf Settlement computes. */
function verifyLikeSettlement(
  root: string,
  index: bigint,
  account: Address,
  amount: bigint,
  proof: string[],
) {
  const inner = keccak256(
    encodeAbiParameters(
      [{ type: "uint256" }, { type: "address" }, { type: "uint256" }],
      [index, account, amount],
    ),
  );
  let node = keccak256(inner);
  for (const p of proof) {
    const [a, b] = BigInt(node) < BigInt(p) ? [node, p] : [p, node];
    node = keccak256(`0x${a.slice(2)}${b.slice(2)}`);
  }
  return node === root;
}

describe("payout trees (sdk/chain/payouts)", () => {
  const tree = buildPayoutTree(entries);

  it("leaf i is entries[i]; every proof verifies with Settlement's leaf hashing; total is the sum", () => {
    assert.equal(tree.size, 300);
    assert.equal(
      tree.total,
      entries.reduce((s, e) => s + e.value, 0n),
    );
    for (const c of tree.claims()) {
      assert.equal(c.account, entries[Number(c.index)]!.account);
      assert.equal(c.amount, entries[Number(c.index)]!.value);
      assert.ok(
        verifyLikeSettlement(tree.root, c.index, c.account, c.amount, c.proof),
        `leaf ${c.index}`,
      );
    }
    const c = tree.claimOf(addr(7));
    assert.ok(
      !verifyLikeSettlement(tree.root, c.index + 1n, c.account, c.amount, c.proof),
      "another index fails",
    );
    assert.ok(
      !verifyLikeSettlement(tree.root, c.index, c.account, c.amount + 1n, c.proof),
      "another amount fails",
    );
  });

  it("a published list round-trips through JSON and is checked against the root on chain", () => {
    const json = JSON.parse(JSON.stringify(tree.toList()));
    assert.equal(json.format, PAYOUT_LIST_FORMAT);
    const loaded = loadPayoutList(json, tree.root);
    assert.equal(loaded.root, tree.root);
    assert.deepEqual(loaded.claimOf(addr(42)), tree.claimOf(addr(42)));
    assert.throws(() => loadPayoutList(json, keccak256("0x01")), /not the root on chain/);
  });

  it("rejects tampered, malformed and inconsistent lists with MerkleInputError", () => {
    const good = () => JSON.parse(JSON.stringify(tree.toList()));
    const tampered = good();
    tampered.tree.values[3].value[2] = "999"; // an amount changed: the tree no longer hashes to its nodes
    assert.throws(() => loadPayoutList(tampered), MerkleInputError);
    const badTotal = good();
    badTotal.total = "1";
    assert.throws(() => loadPayoutList(badTotal), /total/);
    const badRoot = good();
    badRoot.root = keccak256("0x02");
    assert.throws(() => loadPayoutList(badRoot), /does not match its tree/);
    assert.throws(() => loadPayoutList({ format: "other" }), /malformed payout list/);
    assert.throws(() => loadPayoutList(null), /malformed payout list/);
    // A self-consistent tree whose indices repeat (two leaves could flip the same claim bit).
    const dup = StandardMerkleTree.of(
      [
        ["0", addr(1), "5"],
        ["0", addr(2), "5"],
      ],
      ["uint256", "address", "uint256"],
    );
    assert.throws(
      () =>
        loadPayoutList({
          format: PAYOUT_LIST_FORMAT,
          root: dup.root,
          total: "10",
          tree: dup.dump(),
        }),
      /repeated/,
    );
  });

  it("rejects bad input when building and unknown accounts when claiming", () => {
    assert.throws(() => buildPayoutTree([]), MerkleInputError);
    assert.throws(() => buildPayoutTree([{ account: addr(1), value: -1n }]), /uint256/);
    assert.throws(
      () => buildPayoutTree([{ account: "0x1234" as Address, value: 1n }]),
      /not an address/,
    );
    assert.throws(
      () =>
        buildPayoutTree([
          { account: addr(1), value: 1n },
          { account: addr(1).toLowerCase() as Address, value: 2n },
        ]),
      /duplicate/,
    );
    assert.throws(() => tree.claimOf(addr(1000)), /has no payout/);
  });
});
