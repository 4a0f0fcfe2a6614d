/**
 * Growth-pool connected sets (PROTOCOL.md §7.2): an OpenZeppelin StandardMerkleTree over
 * `["uint256", "address", "bytes"]` leaves `(index, device, heartbeat signature)`, exactly as `GrowthPool` verifies
 * them: leaf = keccak256(bytes.concat(keccak256(abi.encode(index, device, signature)))). Indices run 0..n-1, each
 * device appears once, and each signature is the device's EIP-712 heartbeat for the epoch.
 */
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { getAddress, isAddress, isHex, type Address, type Hex } from "viem";
import { z } from "zod";
import { MerkleInputError } from "./merkle.ts";

export const CONNECTED_SET_LEAF_ENCODING = ["uint256", "address", "bytes"] as const;

/** One connected device and its heartbeat signature for the epoch. */
export interface ConnectedDevice {
  device: Address;
  signature: Hex;
}

/** A leaf as `GrowthPool.claim` and the `challenge*` functions take it, with its proof. */
export interface ConnectedLeaf {
  index: bigint;
  device: Address;
  signature: Hex;
  proof: Hex[];
}

export interface ConnectedSetTree {
  root: Hex;
  size: number;
  tree: StandardMerkleTree<[string, string, string]>;
  /** The leaf of `device`, with its proof; undefined when it is not in the set. */
  leafOf(device: Address): ConnectedLeaf | undefined;
  /** The leaf with `index`, with its proof; undefined when there is none. */
  leafAt(index: bigint): ConnectedLeaf | undefined;
}

function wrap(tree: StandardMerkleTree<[string, string, string]>): ConnectedSetTree {
  const byDevice = new Map<string, number>();
  const byIndex = new Map<bigint, number>();
  for (const [i, v] of tree.entries()) {
    byDevice.set(getAddress(v[1]), i);
    byIndex.set(BigInt(v[0]), i);
  }
  const leaf = (i: number | undefined): ConnectedLeaf | undefined => {
    if (i === undefined) return undefined;
    const v = tree.at(i);
    if (v === undefined) return undefined;
    return {
      index: BigInt(v[0]),
      device: getAddress(v[1]),
      signature: v[2] as Hex,
      proof: tree.getProof(i) as Hex[],
    };
  };
  return {
    root: tree.root as Hex,
    size: tree.length,
    tree,
    leafOf: (device) => leaf(byDevice.get(getAddress(device))),
    leafAt: (index) => leaf(byIndex.get(index)),
  };
}

/** Builds the connected set in the given order (leaf i = (i, device, signature)). @throws MerkleInputError */
export function buildConnectedSet(devices: readonly ConnectedDevice[]): ConnectedSetTree {
  if (devices.length === 0) throw new MerkleInputError("a connected set needs at least one device");
  const seen = new Set<string>();
  const values = devices.map((d, i): [string, string, string] => {
    if (!isAddress(d.device, { strict: false }))
      throw new MerkleInputError(`entry ${i}: ${d.device} is not an address`);
    const device = getAddress(d.device);
    if (seen.has(device)) throw new MerkleInputError(`entry ${i}: duplicate device ${device}`);
    seen.add(device);
    if (!isHex(d.signature) || d.signature.length !== 132)
      throw new MerkleInputError(`entry ${i}: the signature is not 65 bytes`);
    return [i.toString(), device, d.signature];
  });
  return wrap(StandardMerkleTree.of(values, [...CONNECTED_SET_LEAF_ENCODING]));
}

const dumpSchema = z.looseObject({
  format: z.literal("standard-v1"),
  leafEncoding: z.tuple([z.literal("uint256"), z.literal("address"), z.literal("bytes")]),
  tree: z.array(z.string().regex(/^0x[0-9a-fA-F]{64}$/)).min(1),
  values: z
    .array(
      z.strictObject({
        value: z.tuple([
          z.string().regex(/^\d+$/),
          z.string().regex(/^0x[0-9a-fA-F]{40}$/),
          z.string().regex(/^0x([0-9a-fA-F]{2})*$/),
        ]),
        treeIndex: z.number().int().min(0),
      }),
    )
    .min(1),
});

/**
 * Loads a published connected set (a StandardMerkleTree dump), checks the tree's integrity and that its root is
 * `root`. @throws MerkleInputError
 */
export function loadConnectedSet(json: unknown, root: Hex): ConnectedSetTree {
  const parsed = dumpSchema.safeParse(json);
  if (!parsed.success)
    throw new MerkleInputError(`not a connected-set dump: ${parsed.error.message}`);
  let tree: StandardMerkleTree<[string, string, string]>;
  try {
    tree = StandardMerkleTree.load(parsed.data as never);
    tree.validate();
  } catch (e) {
    throw new MerkleInputError(`invalid connected-set tree: ${(e as Error).message}`);
  }
  if (tree.root.toLowerCase() !== root.toLowerCase())
    throw new MerkleInputError(`the connected set has root ${tree.root}, expected ${root}`);
  return wrap(tree);
}

/** Verifies a leaf's proof against `root` locally. */
export function verifyConnectedLeaf(root: Hex, leaf: ConnectedLeaf): boolean {
  return StandardMerkleTree.verify(
    root,
    [...CONNECTED_SET_LEAF_ENCODING],
    [leaf.index.toString(), leaf.device, leaf.signature],
    leaf.proof,
  );
}
