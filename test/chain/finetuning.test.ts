/**
 * sdk/chain/finetuning: the canonical trainer payout list every attestor recomputes (PROTOCOL.md §7.7), the round
 * list check that turns a tampered list into INVALID, the trainer budget and the split leaves FineTuning verifies.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encodeAbiParameters, getAddress, keccak256, type Address, type Hex } from "viem";
import {
  ATTESTATION_INVALID,
  attestedValue,
  buildRoundList,
  buildSplitTree,
  canonicalTrainerPayouts,
  recomputePayoutRoot,
  trainerBudget,
} from "#sdk/chain/finetuning.ts";
import { MerkleInputError } from "#sdk/chain/merkle.ts";

const addr = (i: number): Address => getAddress(`0x${(0xf0 - i).toString(16).padStart(40, "0")}`);
const E18 = 10n ** 18n;

describe("sdk/chain/finetuning", () => {
  it("the trainer budget is the round reward less the attestors' share", () => {
    assert.equal(trainerBudget(300n * E18, 3, 1_000), 90n * E18);
    assert.equal(trainerBudget(100n, 3, 0), 33n);
  });

  it("canonical payouts: by group samples, equal within a group, summed, zeros dropped, sorted, ≤ budget", () => {
    const budget = 100n;
    const groups = [
      { members: [addr(0), addr(1), addr(2)], samples: 2n },
      { members: [addr(2), addr(3)], samples: 1n },
      { members: [addr(4)], samples: 0n },
    ];
    const list = canonicalTrainerPayouts(budget, groups);
    // group 0: ⌊100·2/(3·3)⌋ = 22 each; group 1: ⌊100·1/(3·2)⌋ = 16 each; addr(2) is in both
    const expected = new Map([
      [addr(0), 22n],
      [addr(1), 22n],
      [addr(2), 38n],
      [addr(3), 16n],
    ]);
    assert.equal(list.length, 4, "the zero-sample member is not listed");
    for (const e of list) assert.equal(e.value, expected.get(e.account));
    const sorted = [...list].sort((a, b) =>
      a.account.toLowerCase() < b.account.toLowerCase() ? -1 : 1,
    );
    assert.deepEqual(list, sorted);
    assert.ok(list.reduce((s, e) => s + e.value, 0n) <= budget);
    assert.deepEqual(canonicalTrainerPayouts(budget, []), []);
    assert.throws(
      () => canonicalTrainerPayouts(budget, [{ members: [], samples: 1n }]),
      MerkleInputError,
    );
  });

  it("an attestor recomputes the root of an honest round list and answers INVALID to a tampered one", () => {
    const budget = 90n * E18;
    const groups = [
      { members: [addr(0), addr(1)], samples: 10n },
      { members: [addr(2)], samples: 30n },
    ];
    const { list, payoutRoot, tree } = buildRoundList({ bountyId: 1n, round: 0, budget, groups });
    const honest: unknown = JSON.parse(JSON.stringify(list));
    assert.equal(recomputePayoutRoot(honest, budget), payoutRoot);
    assert.equal(tree!.root, payoutRoot);
    assert.equal(recomputePayoutRoot(honest, budget + 1n), ATTESTATION_INVALID, "another budget");
    // the refiner swaps in a root paying its own account
    const selfPay = buildRoundList({
      bountyId: 1n,
      round: 0,
      budget,
      groups: [{ members: [addr(9)], samples: 1n }],
    });
    assert.equal(
      recomputePayoutRoot({ ...list, payoutRoot: selfPay.payoutRoot }, budget),
      ATTESTATION_INVALID,
    );
    assert.equal(recomputePayoutRoot({ format: "other" }, budget), ATTESTATION_INVALID);
    const v = attestedValue(keccak256("0x01"), 92n * 10n ** 16n, payoutRoot);
    assert.equal(
      v,
      keccak256(
        encodeAbiParameters(
          [{ type: "bytes32" }, { type: "uint256" }, { type: "bytes32" }],
          [keccak256("0x01"), 92n * 10n ** 16n, payoutRoot],
        ),
      ),
    );
  });

  it("split leaves are (round, cid, salt) and one round's proof does not prove another round", () => {
    const salt = (r: number): Hex => keccak256(`0x0${r}`);
    const splits = buildSplitTree([
      { round: 0, cid: "bafy-split-0", salt: salt(0) },
      { round: 1, cid: "bafy-split-1", salt: salt(1) },
      { round: 2, cid: "bafy-split-2", salt: salt(2) },
    ]);
    const leaf = (round: number, cid: string, s: Hex) =>
      keccak256(
        keccak256(
          encodeAbiParameters(
            [{ type: "uint256" }, { type: "string" }, { type: "bytes32" }],
            [BigInt(round), cid, s],
          ),
        ),
      );
    const process = (l: Hex, proof: Hex[]): Hex =>
      proof.reduce(
        (h, p) =>
          keccak256((h.toLowerCase() < p.toLowerCase() ? h + p.slice(2) : p + h.slice(2)) as Hex),
        l,
      );
    assert.equal(process(leaf(1, "bafy-split-1", salt(1)), splits.proof(1)), splits.root);
    assert.notEqual(process(leaf(0, "bafy-split-1", salt(1)), splits.proof(1)), splits.root);
    assert.throws(() => splits.proof(3), MerkleInputError);
    assert.throws(
      () =>
        buildSplitTree([
          { round: 0, cid: "a", salt: salt(0) },
          { round: 0, cid: "b", salt: salt(1) },
        ]),
      MerkleInputError,
    );
  });
});
