/**
 * Fine-tuning rounds as `FineTuning` checks them (PROTOCOL.md §7.7, docs/attestation-settlement-finetuning.md):
 *
 * - the poster's hidden acceptance splits: one StandardMerkleTree `["uint256", "string", "bytes32"]` leaf
 *   `(round, splitCid, salt)` per round; the bounty stores the root, each round's leaf is revealed only after the
 *   refiner committed that round's candidate;
 * - the refiner's hidden commitment `keccak256(abi.encode(modelSha256, payoutRoot, salt))`;
 * - the value attestors (and the refiner) reveal, `keccak256(abi.encode(modelSha256, metric, payoutRoot))`, or
 *   `ATTESTATION_INVALID` when the candidate or the round list cannot be fetched or verified (the refiner's fault),
 *   `SPLIT_INVALID` when the poster's revealed split cannot be fetched or parsed (the poster's fault: the round then
 *   stands on the refiner's own metric and nobody is slashed);
 * - the canonical trainer payout list every attestor recomputes from the accepted groups' sample counts, and the
 *   round list document (`dml/ft-round-v1`) the refiner publishes under the candidate's `listCid`.
 */
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { encodeAbiParameters, getAddress, keccak256, toHex, type Address, type Hex } from "viem";
import { z } from "zod";
import { buildMerkleTree, MerkleInputError, type AddressMerkleTree } from "./merkle.ts";

/** `AttestationQuorum.INVALID`: the reserved value of an attestor that could not fetch or verify its input. */
export const ATTESTATION_INVALID: Hex = keccak256(toHex("dml.attestation.INVALID"));

/** `FineTuning`'s reserved value for a revealed split nobody can fetch or parse (the poster withheld it). */
export const SPLIT_INVALID: Hex = keccak256(toHex("dml.finetuning.SPLIT_INVALID"));
/** Format tag of a published round list. */
export const ROUND_LIST_FORMAT = "dml/ft-round-v1";
/** Leaf encoding of the hidden split tree. */
export const SPLIT_LEAF_ENCODING = ["uint256", "string", "bytes32"] as const;
const BPS = 10_000n;

/** The refiner's commitment to a candidate: keccak256(abi.encode(modelSha256, payoutRoot, salt)). */
export function candidateCommitment(modelSha256: Hex, payoutRoot: Hex, salt: Hex): Hex {
  return keccak256(
    encodeAbiParameters(
      [{ type: "bytes32" }, { type: "bytes32" }, { type: "bytes32" }],
      [modelSha256, payoutRoot, salt],
    ),
  );
}

/** The attested value: keccak256(abi.encode(modelSha256, metric, payoutRoot)); `metric` is fixed point 1e18. */
export function attestedValue(modelSha256: Hex, metric: bigint, payoutRoot: Hex): Hex {
  return keccak256(
    encodeAbiParameters(
      [{ type: "bytes32" }, { type: "uint256" }, { type: "bytes32" }],
      [modelSha256, metric, payoutRoot],
    ),
  );
}

/** One round's hidden acceptance split: the labelled set's CID and a secret salt. */
export interface HiddenSplit {
  round: number;
  cid: string;
  salt: Hex;
}

export interface SplitTree {
  /** The bounty's `splitRoot`. */
  root: Hex;
  /** The proof `revealSplit` takes for `round`. @throws MerkleInputError when the round has no split */
  proof(round: number): Hex[];
  tree: StandardMerkleTree<[string, string, string]>;
}

/** Builds the poster's split tree (keep it private until each round's reveal). @throws MerkleInputError */
export function buildSplitTree(splits: readonly HiddenSplit[]): SplitTree {
  if (splits.length === 0) throw new MerkleInputError("a bounty needs one hidden split per round");
  const rounds = new Set(splits.map((s) => s.round));
  if (rounds.size !== splits.length) throw new MerkleInputError("one split per round");
  const tree = StandardMerkleTree.of(
    splits.map((s): [string, string, string] => [String(s.round), s.cid, s.salt]),
    [...SPLIT_LEAF_ENCODING],
  );
  const index = new Map<string, number>();
  for (const [i, v] of tree.entries()) index.set(v[0], i);
  return {
    root: tree.root as Hex,
    tree,
    proof(round: number): Hex[] {
      const i = index.get(String(round));
      if (i === undefined) throw new MerkleInputError(`no split for round ${round}`);
      return tree.getProof(i) as Hex[];
    },
  };
}

/**
 * A round's trainer budget as `FineTuning.finalizeRound` reserves it: the round reward `rewardPool / rounds` less
 * the attestors' share `attestorShareBps`.
 */
export function trainerBudget(
  rewardPool: bigint,
  rounds: number,
  attestorShareBps: number,
): bigint {
  const reward = rewardPool / BigInt(rounds);
  return reward - (reward * BigInt(attestorShareBps)) / BPS;
}

/** An accepted secure-aggregation group: its surviving members and its aggregate sample count. */
export interface AcceptedGroup {
  members: readonly Address[];
  samples: bigint;
}

/**
 * The canonical trainer payout list (what every attestor recomputes): with `S` the accepted groups' total sample
 * count, each surviving member of group `g` receives `floor(budget × samples_g / (S × |members_g|))` (per-device
 * counts are private: only the group's sum leaves secure aggregation); a trainer in several groups receives the
 * sum; zero amounts are dropped; entries sorted by address (ascending, case-insensitive). The total never exceeds
 * `budget`; the rounding dust returns to the poster with the round's sweep. @throws MerkleInputError
 */
export function canonicalTrainerPayouts(
  budget: bigint,
  groups: readonly AcceptedGroup[],
): { account: Address; value: bigint }[] {
  const total = groups.reduce((s, g) => s + g.samples, 0n);
  if (total === 0n) return [];
  const amounts = new Map<Address, bigint>();
  for (const [i, g] of groups.entries()) {
    if (g.samples < 0n || g.members.length === 0)
      throw new MerkleInputError(`group ${i}: no members or negative samples`);
    const each = (budget * g.samples) / (total * BigInt(g.members.length));
    for (const m of g.members) {
      const a = getAddress(m);
      amounts.set(a, (amounts.get(a) ?? 0n) + each);
    }
  }
  return [...amounts]
    .filter(([, v]) => v > 0n)
    .map(([account, value]) => ({ account, value }))
    .sort((x, y) => (x.account.toLowerCase() < y.account.toLowerCase() ? -1 : 1));
}

/** The canonical payout tree, or undefined when nobody is paid (the round's payout root is then zero). */
export function canonicalPayoutTree(
  budget: bigint,
  groups: readonly AcceptedGroup[],
): AddressMerkleTree | undefined {
  const entries = canonicalTrainerPayouts(budget, groups);
  return entries.length === 0 ? undefined : buildMerkleTree(entries);
}

const hex32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/);

/** The round list the refiner publishes under `listCid`. */
export const roundListSchema = z.object({
  format: z.literal(ROUND_LIST_FORMAT),
  bountyId: z.string().regex(/^\d+$/),
  round: z.number().int().min(0),
  budget: z.string().regex(/^\d+$/),
  groups: z.array(
    z.object({
      members: z.array(z.string().regex(/^0x[0-9a-fA-F]{40}$/)).min(1),
      samples: z.string().regex(/^\d+$/),
    }),
  ),
  payoutRoot: hex32,
  /** The payout tree's StandardMerkleTree dump (what trainers claim with). */
  payouts: z.unknown(),
});
export type RoundList = z.infer<typeof roundListSchema>;

/** Builds the round list document for `groups` (the refiner's). @throws MerkleInputError */
export function buildRoundList(opts: {
  bountyId: bigint;
  round: number;
  budget: bigint;
  groups: readonly AcceptedGroup[];
}): { list: RoundList; tree: AddressMerkleTree | undefined; payoutRoot: Hex } {
  const tree = canonicalPayoutTree(opts.budget, opts.groups);
  const payoutRoot = (tree?.root ?? `0x${"0".repeat(64)}`) as Hex;
  return {
    tree,
    payoutRoot,
    list: {
      format: ROUND_LIST_FORMAT,
      bountyId: opts.bountyId.toString(),
      round: opts.round,
      budget: opts.budget.toString(),
      groups: opts.groups.map((g) => ({
        members: g.members.map((m) => getAddress(m)),
        samples: g.samples.toString(),
      })),
      payoutRoot,
      payouts: tree?.tree.dump() ?? null,
    },
  };
}

/**
 * An attestor's check of a round list: recomputes the canonical payouts from the groups with the on-chain
 * `budget` and returns their root, or `ATTESTATION_INVALID` when the document is malformed or its payout tree is
 * not the canonical one.
 */
export function recomputePayoutRoot(raw: unknown, budget: bigint): Hex {
  const parsed = roundListSchema.safeParse(raw);
  if (!parsed.success || BigInt(parsed.data.budget) !== budget) return ATTESTATION_INVALID;
  try {
    const groups = parsed.data.groups.map((g) => ({
      members: g.members as Address[],
      samples: BigInt(g.samples),
    }));
    const { payoutRoot } = buildRoundList({
      bountyId: BigInt(parsed.data.bountyId),
      round: parsed.data.round,
      budget,
      groups,
    });
    return payoutRoot === parsed.data.payoutRoot ? payoutRoot : ATTESTATION_INVALID;
  } catch {
    return ATTESTATION_INVALID;
  }
}

// ---------------------------------------------------------------- additions for the round attestor and the poster

/** `IFineTuning.RoundStatus`. */
export const FineTuningRoundStatus = {
  Open: 0,
  Committed: 1,
  Accepted: 2,
  Rejected: 3,
  Attesting: 4,
} as const;
/** `IFineTuning.BountyStatus`. */
export const BountyStatus = { None: 0, Active: 1, Finalized: 2 } as const;

/** The `metricId` of an accuracy bounty (`accuracyMetric` of sdk/protocol/training-round.ts). */
export const ACCURACY_METRIC_ID: Hex = keccak256(toHex("accuracy"));

/**
 * The values a drawn round attestor may have committed besides a recomputed one: `ATTESTATION_INVALID` (candidate
 * or round list unusable) and `SPLIT_INVALID` (the revealed split unusable).
 */
export const RESERVED_ROUND_VALUES: readonly Hex[] = [ATTESTATION_INVALID, SPLIT_INVALID];

/**
 * A round list as an attestor checks it for `(bountyId, round)`: the canonical payout root it recomputes with the
 * on-chain `budget`, or `ATTESTATION_INVALID` when the document is malformed, names another bounty or round, or its
 * payout tree is not the canonical one (`recomputePayoutRoot` plus the round's identity).
 */
export function checkRoundList(raw: unknown, bountyId: bigint, round: number, budget: bigint): Hex {
  const parsed = roundListSchema.safeParse(raw);
  if (
    !parsed.success ||
    parsed.data.bountyId !== bountyId.toString() ||
    parsed.data.round !== round
  )
    return ATTESTATION_INVALID;
  return recomputePayoutRoot(raw, budget);
}
