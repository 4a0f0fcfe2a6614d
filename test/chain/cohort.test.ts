/**
 * sdk/chain/cohort: the cohort draw (lowest keccak256(jobSeed, device) first) and the cohort tree whose leaves
 * `ResultAttestation` proves (the version-2 cohort list built on them: test/protocol/cohort.test.ts). The on-chain side
 * (`ResultAttestation.cohortScore`, the challenges) is checked in test/chain/result.test.ts,
 * test/integration/job-lifecycle.test.ts and test/exploits/H4_chosen_cohort.t.sol.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { encodeAbiParameters, getAddress, hexToBigInt, keccak256, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import {
  buildCohortTree,
  COHORT_LEAF_ENCODING,
  cohortScore,
  drawCohort,
  type CohortCandidate,
} from "#sdk/chain/cohort.ts";
import { MerkleInputError } from "#sdk/chain/merkle.ts";

const seed = keccak256(toHex("job seed"));
const candidates: CohortCandidate[] = Array.from({ length: 30 }, (_, i) => ({
  connectedIndex: BigInt(i),
  device: privateKeyToAccount(keccak256(toHex(`cohort-device-${i}`))).address,
}));

describe("sdk/chain/cohort: draw and tree", () => {
  it("cohortScore is keccak256(abi.encode(jobSeed, device))", () => {
    const d = candidates[0]!.device;
    const expected = hexToBigInt(
      keccak256(encodeAbiParameters([{ type: "bytes32" }, { type: "address" }], [seed, d])),
    );
    assert.equal(cohortScore(seed, d), expected);
    assert.notEqual(cohortScore(keccak256(toHex("other seed")), d), expected);
  });

  it("draws the `count` lowest scores in ascending order, positions 0..count-1", () => {
    const drawn = drawCohort(seed, candidates, 10);
    assert.equal(drawn.length, 10);
    assert.deepEqual(
      drawn.map((m) => m.position),
      Array.from({ length: 10 }, (_, i) => i),
    );
    const scores = drawn.map((m) => cohortScore(seed, m.device));
    for (let i = 1; i < scores.length; i++) assert.ok(scores[i - 1]! < scores[i]!, "ascending");
    const cut = scores.at(-1)!;
    const left = candidates.filter((c) => !drawn.some((m) => m.device === getAddress(c.device)));
    assert.equal(left.length, 20);
    for (const c of left)
      assert.ok(cohortScore(seed, c.device) > cut, "nobody left out ranks lower");
    // each member keeps its connected index
    for (const m of drawn)
      assert.equal(m.connectedIndex, candidates.find((c) => c.device === m.device)!.connectedIndex);
    // the order does not depend on the candidates' order, and another seed draws another cohort
    assert.deepEqual(drawCohort(seed, [...candidates].reverse(), 10), drawn);
    assert.notDeepEqual(drawCohort(keccak256(toHex("another")), candidates, 10), drawn);
  });

  it("a device listed twice is drawn once; too few candidates is an error", () => {
    const twice = [...candidates.slice(0, 5), { ...candidates[0]!, connectedIndex: 99n }];
    const drawn = drawCohort(seed, twice, 5);
    assert.equal(new Set(drawn.map((m) => m.device)).size, 5);
    assert.equal(drawn.find((m) => m.device === candidates[0]!.device)!.connectedIndex, 0n);
    assert.throws(() => drawCohort(seed, twice, 6), MerkleInputError);
    assert.throws(() => drawCohort(seed, candidates, 0), MerkleInputError);
  });

  it("the tree's leaves are keccak256(bytes.concat(keccak256(abi.encode(position, index, device))))", () => {
    const drawn = drawCohort(seed, candidates, 12);
    const tree = buildCohortTree(drawn);
    for (const m of drawn) {
      const p = tree.proofAt(m.position);
      assert.deepEqual(p.member, {
        position: BigInt(m.position),
        connectedIndex: m.connectedIndex,
        device: m.device,
      });
      assert.ok(
        StandardMerkleTree.verify(
          tree.root,
          [...COHORT_LEAF_ENCODING],
          [m.position.toString(), m.connectedIndex.toString(), m.device],
          p.proof,
        ),
      );
      const leaf = keccak256(
        keccak256(
          encodeAbiParameters(
            [{ type: "uint256" }, { type: "uint256" }, { type: "address" }],
            [BigInt(m.position), m.connectedIndex, m.device],
          ),
        ),
      );
      assert.equal(
        tree.tree.leafHash([m.position.toString(), m.connectedIndex.toString(), m.device]),
        leaf,
      );
    }
    assert.throws(() => tree.proofAt(12), MerkleInputError);
    assert.throws(() => buildCohortTree([]), MerkleInputError);
  });
});
