/**
 * The watcher's checks (PROTOCOL.md §7.2–7.3): the rules of a connected-set post and of a drawn cohort, each fault
 * returned with the exact evidence the contract's `challenge*` function takes. Pure except for the registry reads
 * the caller passes in, so the checks run the same in the relayer, in a tool or in a test.
 *
 *   connected set  every leaf of the published StandardMerkleTree dump (whose root is the posted one): index < n,
 *                  no device twice and no index twice, the signature is the device's EIP-712 heartbeat for the epoch
 *                  (checked as OpenZeppelin's `ECDSA.tryRecover` does: 65 bytes, low s, v ∈ {27, 28}), the device is
 *                  registered (or changed after the post: then it is no provable fault). First fault wins: one proven
 *                  fault voids the whole post.
 *   cohort         every member of the published list (whose root is the job's): position < deviceCount, the
 *                  connected set's leaf at its index holds it, it is eligible and unchanged since the assignment,
 *                  adjacent members rank strictly ascending by `keccak256(seed, device)`, and no eligible unchanged
 *                  device of the set that is not a member scores below the last member.
 *
 * These are the same rules `GrowthPool` and `ResultAttestation` verify; the contracts remain the judge (a challenge
 * the chain refuses with `…NoFault` means this module and the chain disagree: the handler fails it permanently).
 */
import type { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import {
  getAddress,
  hashTypedData,
  hexToBigInt,
  recoverAddress,
  size,
  zeroAddress,
  type Address,
  type Hex,
} from "viem";
import { buildCohortTree, cohortScore, type CohortMember } from "#sdk/chain/cohort.ts";
import type { ConnectedSetTree } from "#sdk/chain/connected-set.ts";
import {
  HEARTBEAT_DOMAIN_NAME,
  HEARTBEAT_DOMAIN_VERSION,
  HEARTBEAT_TYPES,
  type HeartbeatDomain,
} from "#sdk/protocol/heartbeat.ts";

/** `IGrowthPool.Leaf` with its proof, JSON-safe (index as a decimal string): what a challenge action stores. */
export interface LeafEvidence {
  index: string;
  device: Address;
  signature: Hex;
  proof: Hex[];
}

/** A provable fault of a connected-set post and its evidence (`GrowthPool.challenge*`). */
export type SetFault =
  | { kind: "unregistered"; leaf: LeafEvidence; reason: string }
  | { kind: "signature"; leaf: LeafEvidence; reason: string }
  | { kind: "index"; leaf: LeafEvidence; reason: string }
  | { kind: "duplicate"; a: LeafEvidence; b: LeafEvidence; reason: string };

/** `IResultAttestation.CohortProof`, JSON-safe. */
export interface MemberEvidence {
  position: string;
  connectedIndex: string;
  device: Address;
  proof: Hex[];
}

/** A provable fault of a cohort and its evidence (`ResultAttestation.challengeCohort*`). */
export type CohortFault =
  | { kind: "member"; member: MemberEvidence; connected: LeafEvidence; reason: string }
  | { kind: "ineligible"; member: MemberEvidence; reason: string }
  | { kind: "order"; a: MemberEvidence; b: MemberEvidence; reason: string }
  | {
      kind: "omission";
      omitted: LeafEvidence;
      below: MemberEvidence;
      above: MemberEvidence;
      reason: string;
    };

/** Where a device stands for the registry: registered, and the time of its last registration change. */
export interface Registration {
  registered: boolean;
  lastChange: bigint;
}

/** A device's eligibility for a job as the contract judges it (`_eligibleSinceAssignment`). */
export type Eligibility = "eligible" | "ineligible" | "changed";

/** secp256k1 n / 2: OpenZeppelin's ECDSA refuses a larger s (malleable signatures). */
const HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;

/** The EIP-712 heartbeat digest `DeviceRegistry.heartbeatDigest(device, epoch)` computes. */
export function heartbeatDigest(domain: HeartbeatDomain, device: Address, epoch: bigint): Hex {
  return hashTypedData({
    domain: {
      name: HEARTBEAT_DOMAIN_NAME,
      version: HEARTBEAT_DOMAIN_VERSION,
      chainId: domain.chainId,
      verifyingContract: getAddress(domain.verifyingContract),
    },
    types: HEARTBEAT_TYPES,
    primaryType: "Heartbeat",
    message: { device, epoch },
  });
}

/** Whether `signature` recovers to `device` for `digest` under OpenZeppelin `ECDSA.tryRecover`'s rules. */
export async function recoversTo(digest: Hex, signature: Hex, device: Address): Promise<boolean> {
  if (size(signature) !== 65) return false;
  const s = hexToBigInt(`0x${signature.slice(66, 130)}`);
  const v = Number.parseInt(signature.slice(130, 132), 16);
  if (s > HALF_N || (v !== 27 && v !== 28)) return false;
  try {
    return getAddress(await recoverAddress({ hash: digest, signature })) === getAddress(device);
  } catch {
    return false; // not a point on the curve: ecrecover returns 0
  }
}

type Tree3 = StandardMerkleTree<[string, string, string]>;

function leafEvidence(tree: Tree3, i: number): LeafEvidence {
  const v = tree.at(i);
  if (v === undefined) throw new Error(`no leaf ${i}`);
  return {
    index: BigInt(v[0]).toString(),
    device: getAddress(v[1]),
    signature: v[2] as Hex,
    proof: tree.getProof(i) as Hex[],
  };
}

export interface SetCheckInput {
  epoch: bigint;
  /** The posted device count. */
  n: bigint;
  /** The post's timestamp (a device that changed its registration after it cannot frame the poster). */
  postedAt: bigint;
  /** The published list, already checked against the posted root (`loadConnectedSet`). */
  set: ConnectedSetTree;
  domain: HeartbeatDomain;
  /** Registry reads, in the order of `devices`. */
  registrations(devices: readonly Address[]): Promise<Registration[]>;
}

/** The first provable fault of a connected-set post, or undefined when every leaf holds. */
export async function checkConnectedSet(input: SetCheckInput): Promise<SetFault | undefined> {
  const tree = input.set.tree;
  const rows = [...tree.entries()].map(([i, v]) => ({
    i,
    index: BigInt(v[0]),
    device: getAddress(v[1]),
    signature: v[2] as Hex,
  }));
  // 1. an index out of range (no RPC)
  for (const r of rows)
    if (r.index >= input.n)
      return {
        kind: "index",
        leaf: leafEvidence(tree, r.i),
        reason: `leaf ${r.i} has index ${r.index} ≥ n = ${input.n}`,
      };
  // 2. a device twice, or two different leaves at one index
  const byDevice = new Map<Address, number>();
  const byIndex = new Map<bigint, number>();
  const seen = new Set<string>();
  for (const r of rows) {
    // the very same leaf twice proves nothing (the contract sees one leaf hash)
    const id = `${r.index}:${r.device}:${r.signature.toLowerCase()}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const d = byDevice.get(r.device);
    if (d !== undefined)
      return {
        kind: "duplicate",
        a: leafEvidence(tree, d),
        b: leafEvidence(tree, r.i),
        reason: `device ${r.device} is listed twice`,
      };
    const x = byIndex.get(r.index);
    if (x !== undefined)
      return {
        kind: "duplicate",
        a: leafEvidence(tree, x),
        b: leafEvidence(tree, r.i),
        reason: `index ${r.index} is listed twice`,
      };
    byDevice.set(r.device, r.i);
    byIndex.set(r.index, r.i);
  }
  // 3. a signature that is not the device's heartbeat for the epoch (local crypto)
  for (const r of rows)
    if (
      !(await recoversTo(
        heartbeatDigest(input.domain, r.device, input.epoch),
        r.signature,
        r.device,
      ))
    )
      return {
        kind: "signature",
        leaf: leafEvidence(tree, r.i),
        reason: `leaf ${r.i}: the signature is not ${r.device}'s heartbeat for epoch ${input.epoch}`,
      };
  // 4. an unregistered device that did not change after the post (registry reads)
  const regs = await input.registrations(rows.map((r) => r.device));
  for (const [k, r] of rows.entries()) {
    const reg = regs[k];
    if (reg === undefined) throw new Error("a registration per device");
    if (!reg.registered && reg.lastChange <= input.postedAt)
      return {
        kind: "unregistered",
        leaf: leafEvidence(tree, r.i),
        reason: `leaf ${r.i}: ${r.device} is not registered`,
      };
  }
  return undefined;
}

export interface CohortCheckInput {
  jobId: bigint;
  /** The job's seed (`keccak256(abi.encode(epochSeed, "dml.job", jobId))`). */
  seed: Hex;
  deviceCount: number;
  /** The published list's members (position order), already checked against the job's cohort root. */
  members: readonly CohortMember[];
  /** The connected set the cohort is drawn from (checked against its posted root), when its list is available. */
  set: { n: bigint; tree: ConnectedSetTree } | undefined;
  /** Eligibility reads, in the order of `devices`. */
  eligibility(devices: readonly Address[]): Promise<Eligibility[]>;
}

const NO_LEAF: Omit<LeafEvidence, "proof"> = { index: "0", device: zeroAddress, signature: "0x" };

/** The first provable fault of a cohort, or undefined when it is the draw the rules call for. */
export async function checkCohort(input: CohortCheckInput): Promise<CohortFault | undefined> {
  const tree = buildCohortTree(input.members);
  const ev = (position: number): MemberEvidence => {
    const p = tree.proofAt(position);
    return {
      position: p.member.position.toString(),
      connectedIndex: p.member.connectedIndex.toString(),
      device: p.member.device,
      proof: p.proof,
    };
  };
  const members = [...input.members].sort((a, b) => a.position - b.position);
  // 1. a member at a position ≥ deviceCount, or not the device at its connected index
  for (const m of members) {
    if (m.position >= input.deviceCount)
      return {
        kind: "member",
        member: ev(m.position),
        connected: { ...NO_LEAF, proof: [] },
        reason: `position ${m.position} ≥ deviceCount ${input.deviceCount}`,
      };
    if (input.set === undefined) continue;
    if (m.connectedIndex >= input.set.n)
      return {
        kind: "member",
        member: ev(m.position),
        connected: { ...NO_LEAF, proof: [] },
        reason: `member ${m.device}'s connected index ${m.connectedIndex} ≥ n = ${input.set.n}`,
      };
    const leaf = input.set.tree.leafAt(m.connectedIndex);
    if (leaf !== undefined && leaf.device !== getAddress(m.device))
      return {
        kind: "member",
        member: ev(m.position),
        connected: {
          index: leaf.index.toString(),
          device: leaf.device,
          signature: leaf.signature,
          proof: leaf.proof,
        },
        reason: `connected index ${m.connectedIndex} holds ${leaf.device}, not ${m.device}`,
      };
  }
  // 2. a member that is not eligible (and did not change since the assignment)
  const eligibility = await input.eligibility(members.map((m) => m.device));
  for (const [k, m] of members.entries())
    if (eligibility[k] === "ineligible")
      return {
        kind: "ineligible",
        member: ev(m.position),
        reason: `member ${m.device} is not eligible for job ${input.jobId}`,
      };
  // 3. two adjacent members out of ascending score
  const scores = members.map((m) => cohortScore(input.seed, getAddress(m.device)));
  for (let k = 1; k < members.length; k++) {
    const a = members[k - 1]!;
    const b = members[k]!;
    if (b.position === a.position + 1 && scores[k]! <= scores[k - 1]!)
      return {
        kind: "order",
        a: ev(a.position),
        b: ev(b.position),
        reason: `position ${b.position} (${b.device}) does not score above position ${a.position} (${a.device})`,
      };
  }
  // 4. an eligible unchanged device of the set left out although it scores below a member
  if (input.set === undefined || members.length === 0) return undefined;
  const inCohort = new Set(members.map((m) => getAddress(m.device)));
  const last = scores.at(-1)!;
  const candidates: { leaf: LeafEvidence; score: bigint }[] = [];
  for (const [i, v] of input.set.tree.tree.entries()) {
    const device = getAddress(v[1]);
    if (inCohort.has(device) || BigInt(v[0]) >= input.set.n) continue;
    const score = cohortScore(input.seed, device);
    if (score < last) candidates.push({ leaf: leafEvidence(input.set.tree.tree, i), score });
  }
  candidates.sort((x, y) => (x.score < y.score ? -1 : x.score > y.score ? 1 : 0));
  if (candidates.length === 0) return undefined;
  const elig = await input.eligibility(candidates.map((c) => c.leaf.device));
  for (const [k, c] of candidates.entries()) {
    if (elig[k] !== "eligible") continue;
    // `above`: the first member scoring above it; `below`: the member just before (ignored at position 0)
    const j = scores.findIndex((s) => s > c.score);
    const above = members[j]!;
    const below = j === 0 ? above : members[j - 1]!;
    if (j > 0 && !(below.position + 1 === above.position && scores[j - 1]! < c.score)) continue;
    return {
      kind: "omission",
      omitted: c.leaf,
      below: ev(below.position),
      above: ev(above.position),
      reason: `eligible ${c.leaf.device} (connected index ${c.leaf.index}) scores below member ${above.device} at position ${above.position} but is not in the cohort`,
    };
  }
  return undefined;
}
