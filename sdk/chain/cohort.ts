/**
 * Cohort draws (PROTOCOL.md §7.3). A job's cohort is the `deviceCount` eligible devices (`DeviceRegistry.isEligible`,
 * which requires a registered SecAgg session key: a device that cannot sign is never drawn) of a connected set with the
 * lowest draw score `keccak256(abi.encode(jobSeed, device))`, listed in ascending score. The distributor posts the
 * root of an OpenZeppelin StandardMerkleTree over `["uint256", "uint256", "address"]` leaves
 * `(position, connectedIndex, device)`; `ResultAttestation.challengeCohort*` takes the same leaves and proofs, so
 * anyone holding the connected set and the cohort list can check a draw and disprove a wrong one.
 */
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import {
  encodeAbiParameters,
  getAddress,
  hexToBigInt,
  keccak256,
  type Address,
  type Hex,
} from "viem";
import { MerkleInputError } from "./merkle.ts";

export const COHORT_LEAF_ENCODING = ["uint256", "uint256", "address"] as const;

/** One cohort member: its rank in the draw, its index in the connected set, the device. */
export interface CohortMember {
  position: number;
  connectedIndex: bigint;
  device: Address;
}

/** A member with its Merkle proof, shaped as `IResultAttestation.CohortProof`. */
export interface CohortProof {
  member: { position: bigint; connectedIndex: bigint; device: Address };
  proof: Hex[];
}

/** A device of the connected set that may be drawn (the caller has checked it is eligible and unchanged). */
export interface CohortCandidate {
  connectedIndex: bigint;
  device: Address;
}

/** The draw score of `device` for a job: `keccak256(abi.encode(jobSeed, device))` as a number. */
export function cohortScore(jobSeed: Hex, device: Address): bigint {
  return hexToBigInt(
    keccak256(encodeAbiParameters([{ type: "bytes32" }, { type: "address" }], [jobSeed, device])),
  );
}

/**
 * Draws the cohort: the `count` candidates with the lowest score, in ascending score. A device listed twice is
 * drawn once (at its first index). @throws MerkleInputError when fewer than `count` distinct candidates exist.
 */
export function drawCohort(
  jobSeed: Hex,
  candidates: readonly CohortCandidate[],
  count: number,
): CohortMember[] {
  const seen = new Set<string>();
  const scored: { score: bigint; c: CohortCandidate }[] = [];
  for (const c of candidates) {
    const device = getAddress(c.device);
    if (seen.has(device)) continue;
    seen.add(device);
    scored.push({ score: cohortScore(jobSeed, device), c: { ...c, device } });
  }
  if (!Number.isInteger(count) || count < 1 || scored.length < count)
    throw new MerkleInputError(`cannot draw ${count} devices from ${scored.length} candidates`);
  scored.sort((a, b) => (a.score < b.score ? -1 : a.score > b.score ? 1 : 0));
  return scored.slice(0, count).map(({ c }, position) => ({ position, ...c }));
}

export interface CohortTree {
  root: Hex;
  tree: StandardMerkleTree<[string, string, string]>;
  /** The member at `position` with its proof. @throws MerkleInputError when there is none. */
  proofAt(position: number): CohortProof;
}

/** The cohort's Merkle tree, exactly as `ResultAttestation` verifies members. @throws MerkleInputError */
export function buildCohortTree(members: readonly CohortMember[]): CohortTree {
  if (members.length === 0) throw new MerkleInputError("a cohort needs at least one member");
  const values = members.map((m): [string, string, string] => [
    m.position.toString(),
    m.connectedIndex.toString(),
    getAddress(m.device),
  ]);
  const tree = StandardMerkleTree.of(values, [...COHORT_LEAF_ENCODING]);
  const byPosition = new Map<number, number>();
  for (const [i, v] of tree.entries()) byPosition.set(Number(v[0]), i);
  return {
    root: tree.root as Hex,
    tree,
    proofAt(position) {
      const i = byPosition.get(position);
      if (i === undefined) throw new MerkleInputError(`no cohort member at position ${position}`);
      const v = tree.at(i)!;
      return {
        member: { position: BigInt(v[0]), connectedIndex: BigInt(v[1]), device: getAddress(v[2]) },
        proof: tree.getProof(i) as Hex[],
      };
    },
  };
}
