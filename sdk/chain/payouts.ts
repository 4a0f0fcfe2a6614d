/**
 * Job payout lists: the reporter publishes every device's payout as an OpenZeppelin StandardMerkleTree over
 * `["uint256", "address", "uint256"]` leaves `(index, account, amount)`; `index` is the leaf's claim-bitmap
 * position (0 … n−1), so a claim flips one bit instead of writing a fresh per-account slot.
 * leaf = keccak256(bytes.concat(keccak256(abi.encode(index, account, amount)))), as `Settlement.claim` checks.
 *
 * The list itself goes to IPFS as the tree's JSON dump (`PayoutList`); its CID is in `Settlement.ReportPosted`.
 */
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";

type StandardMerkleTreeData<T extends unknown[]> = ReturnType<StandardMerkleTree<T>["dump"]>;
import { getAddress, isAddress, type Address, type Hex } from "viem";
import { z } from "zod";
import { checkedEntries, MerkleInputError, type MerkleEntry } from "./merkle.ts";

export const PAYOUT_LEAF_ENCODING = ["uint256", "address", "uint256"] as const;
/** Format tag of a published payout list. */
export const PAYOUT_LIST_FORMAT = "dml/payouts-v1";

/** One device's payout with its proof. */
export interface PayoutClaim {
  index: bigint;
  account: Address;
  amount: bigint;
  proof: Hex[];
}

export interface PayoutTree {
  root: Hex;
  /** Sum of all amounts (the report's `payoutTotal`). */
  total: bigint;
  size: number;
  tree: StandardMerkleTree<[string, string, string]>;
  /** The claim of `account`. @throws MerkleInputError when it has no payout. */
  claimOf(account: Address): PayoutClaim;
  /** The claim of `account`, or undefined when it has no payout. */
  findClaim(account: Address): PayoutClaim | undefined;
  /** Every claim, in index order. */
  claims(): PayoutClaim[];
  /** The JSON document published on IPFS. */
  toList(): PayoutList;
}

/** Builds the payout tree; leaf `i` is `entries[i]`. Accounts must be unique. @throws MerkleInputError */
export function buildPayoutTree(entries: readonly MerkleEntry[]): PayoutTree {
  const values = checkedEntries(entries).map((e, i): [string, string, string] => [
    String(i),
    e.account,
    e.value.toString(),
  ]);
  return wrap(StandardMerkleTree.of(values, [...PAYOUT_LEAF_ENCODING]));
}

const listSchema = z.object({
  format: z.literal(PAYOUT_LIST_FORMAT),
  root: z.string().regex(/^0x[0-9a-fA-F]{64}$/),
  total: z.string().regex(/^\d+$/),
  tree: z.object({
    format: z.literal("standard-v1"),
    leafEncoding: z.tuple([z.literal("uint256"), z.literal("address"), z.literal("uint256")]),
    tree: z.array(z.string()),
    values: z.array(
      z.object({ value: z.tuple([z.string(), z.string(), z.string()]), treeIndex: z.number() }),
    ),
  }),
});
export type PayoutList = z.infer<typeof listSchema>;

/**
 * Loads a published payout list and checks it: schema, tree integrity, indices 0 … n−1 each once, unique
 * accounts, the stated total, and (when given) the root posted on chain. @throws MerkleInputError
 */
export function loadPayoutList(json: unknown, expectedRoot?: Hex): PayoutTree {
  const parsed = listSchema.safeParse(json);
  if (!parsed.success) throw new MerkleInputError(`malformed payout list: ${parsed.error.message}`);
  const doc = parsed.data;
  let tree: StandardMerkleTree<[string, string, string]>;
  try {
    tree = StandardMerkleTree.load<[string, string, string]>(
      doc.tree as StandardMerkleTreeData<[string, string, string]>,
    );
    tree.validate();
  } catch (e) {
    throw new MerkleInputError(`payout list tree is invalid: ${(e as Error).message}`);
  }
  const n = doc.tree.values.length;
  const indices = new Set<string>();
  const accounts = new Set<string>();
  for (const [, [index, account]] of tree.entries()) {
    const i = BigInt(index);
    if (i < 0n || i >= BigInt(n) || indices.has(index))
      throw new MerkleInputError(`payout list index ${index} out of range or repeated`);
    if (!isAddress(account, { strict: false }) || accounts.has(getAddress(account)))
      throw new MerkleInputError(`payout list account ${account} invalid or repeated`);
    indices.add(index);
    accounts.add(getAddress(account));
  }
  const wrapped = wrap(tree);
  if (wrapped.root.toLowerCase() !== doc.root.toLowerCase())
    throw new MerkleInputError(
      `payout list root ${doc.root} does not match its tree ${wrapped.root}`,
    );
  if (wrapped.total !== BigInt(doc.total))
    throw new MerkleInputError(
      `payout list total ${doc.total} does not match its leaves ${wrapped.total}`,
    );
  if (expectedRoot !== undefined && wrapped.root.toLowerCase() !== expectedRoot.toLowerCase())
    throw new MerkleInputError(
      `payout list root ${wrapped.root} is not the root on chain ${expectedRoot}`,
    );
  return wrapped;
}

function wrap(tree: StandardMerkleTree<[string, string, string]>): PayoutTree {
  const byAccount = new Map<string, number>();
  let total = 0n;
  for (const [i, v] of tree.entries()) {
    byAccount.set(getAddress(v[1]), i);
    total += BigInt(v[2]);
  }
  const claimAt = (i: number): PayoutClaim => {
    const v = tree.at(i)!;
    return {
      index: BigInt(v[0]),
      account: getAddress(v[1]),
      amount: BigInt(v[2]),
      proof: tree.getProof(i) as Hex[],
    };
  };
  return {
    root: tree.root as Hex,
    total,
    size: byAccount.size,
    tree,
    claimOf(account: Address): PayoutClaim {
      const i = byAccount.get(getAddress(account));
      if (i === undefined) throw new MerkleInputError(`${account} has no payout in this list`);
      return claimAt(i);
    },
    findClaim(account: Address): PayoutClaim | undefined {
      const i = byAccount.get(getAddress(account));
      return i === undefined ? undefined : claimAt(i);
    },
    claims(): PayoutClaim[] {
      return [...byAccount.values()].map(claimAt).sort((a, b) => (a.index < b.index ? -1 : 1));
    },
    toList(): PayoutList {
      return {
        format: PAYOUT_LIST_FORMAT,
        root: tree.root,
        total: total.toString(),
        tree: tree.dump() as PayoutList["tree"],
      };
    },
  };
}
