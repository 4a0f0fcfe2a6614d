/**
 * Merkle trees over `[address, uint256]` leaves, exactly as the contracts verify them:
 * leaf = keccak256(bytes.concat(keccak256(abi.encode(account, amount)))) (OpenZeppelin StandardMerkleTree).
 */
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { getAddress, isAddress, type Address, type Hex } from "viem";
import { ChainError } from "./errors.ts";

export const LEAF_ENCODING = ["address", "uint256"] as const;

/** One leaf: an account and a uint256 (an amount, or an index for connected-device sets). */
export interface MerkleEntry {
  account: Address;
  value: bigint;
}

/** Invalid Merkle input (bad address, negative or oversized value, duplicate account, empty set). */
export class MerkleInputError extends ChainError {
  constructor(message: string) {
    super("MERKLE_INPUT", message);
  }
}

export interface AddressMerkleTree {
  root: Hex;
  /** The underlying OpenZeppelin tree (serialisable with `.dump()`). */
  tree: StandardMerkleTree<[string, string]>;
  /** Proof for `account`. @throws MerkleInputError when it is not a leaf. */
  proof(account: Address): Hex[];
  /** Number of leaves. */
  size: number;
}

const MAX_UINT256 = (1n << 256n) - 1n;

/**
 * Validates Merkle input: at least one entry, every account an address (checksummed in the result), every value
 * in uint256 range, no account twice. @throws MerkleInputError
 */
export function checkedEntries(entries: readonly MerkleEntry[]): MerkleEntry[] {
  if (entries.length === 0) throw new MerkleInputError("a Merkle tree needs at least one entry");
  const seen = new Set<string>();
  return entries.map((e, i) => {
    if (!isAddress(e.account, { strict: false }))
      throw new MerkleInputError(`entry ${i}: ${e.account} is not an address`);
    if (e.value < 0n || e.value > MAX_UINT256)
      throw new MerkleInputError(`entry ${i}: value out of uint256 range`);
    const account = getAddress(e.account);
    if (seen.has(account)) throw new MerkleInputError(`entry ${i}: duplicate account ${account}`);
    seen.add(account);
    return { account, value: e.value };
  });
}

/** Builds a tree over `entries`. Accounts must be unique. @throws MerkleInputError */
export function buildMerkleTree(entries: readonly MerkleEntry[]): AddressMerkleTree {
  const values = checkedEntries(entries).map((e): [string, string] => [
    e.account,
    e.value.toString(),
  ]);
  const tree = StandardMerkleTree.of(values, [...LEAF_ENCODING]);
  // The tree sorts leaves; map each account to its position in the tree, not in the input.
  const treeIndex = new Map<string, number>();
  for (const [i, v] of tree.entries()) treeIndex.set(v[0], i);
  return {
    root: tree.root as Hex,
    tree,
    size: entries.length,
    proof(account: Address): Hex[] {
      const i = treeIndex.get(getAddress(account));
      if (i === undefined) throw new MerkleInputError(`${account} is not in the tree`);
      return tree.getProof(i) as Hex[];
    },
  };
}
