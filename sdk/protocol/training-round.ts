/**
 * A fine-tuning round as every party derives it from the chain (PROTOCOL.md §5, §7.1, §7.7;
 * docs/fine-tuning-rounds.md). Nobody chooses a trainer's group or the round's host:
 *
 *   seed     `deriveSeed(blockHash of the RoundOpened log, "dml.ft.round", bountyId)` — a block fixed before any
 *            trainer trains or any refiner acts in the round;
 *   trainers the bounty's `TrainerEnrolled` accounts up to and including that block, still enrolled;
 *   groups   trainers in ascending `cohortScore(seed, trainer)`, cut into groups of the bounty's `groupSize`
 *            (0 → 8); a last group smaller than `MIN_GROUP` joins the one before it;
 *   host     `NodeStaking.drawActive(Refiner, deriveSeed(seed, "dml.ft.host", round))` read at the opening block: the
 *            refiner that runs the groups' SecAgg sessions at its registered endpoint (stake-weighted, like the
 *            aggregator of a job);
 *   list     each group is a version-1 cohort list (`jobId` = bountyId, client id = position + 1) that the trainer
 *            rebuilds itself, so its root needs no trust in whoever published it.
 *
 * Labelled sets (a bounty's public control group and its hidden per-round acceptance splits) travel as one JSON
 * file on IPFS (`labelledSetSchema`); `accuracyMetric` is the metric `FineTuning` compares: correct predictions of
 * the package run with ONNX Runtime, `correct × 1e18 / total` in integers, so every attestor derives the same value.
 */
import { getAddress, hexToBigInt, type Address, type Hex } from "viem";
import { z } from "zod";
import { fineTuningAbi } from "#sdk/chain/abi/FineTuning.ts";
import { nodeStakingAbi } from "#sdk/chain/abi/NodeStaking.ts";
import type { ChainPublicClient } from "#sdk/chain/clients.ts";
import { cohortScore } from "#sdk/chain/cohort.ts";
import { Role } from "#sdk/chain/enums.ts";
import { deriveSeed } from "#sdk/chain/result.ts";
import type { ContentStore } from "#sdk/ipfs/index.ts";
import { classifyRecords, type LoadedPackage } from "#sdk/ml/index.ts";
import { COHORT_LIST_VERSION, cohortRoot, type CohortList } from "./cohort.ts";
import { ProtocolError } from "./errors.ts";

/** `FineTuning`'s default group size when a bounty says 0. */
export const DEFAULT_GROUP_SIZE = 8;
/** The smallest group a round runs (SecAgg needs a threshold of at least 2 of 3). */
export const MIN_GROUP = 3;
/**
 * Local training settings every trainer of a round uses and the host's session config assumes (the clip norm
 * fixes the SecAgg encoding's range, so host and trainers must agree on it). Measured with `npm run bench:finetune`
 * (docs/fine-tuning-rounds.md, "Local training"): an inbox of ~80 emails trained 30 epochs at rate 3 with the
 * prior-shift correction moves ~7 in L2 (90th percentile ~10): the clip binds for some trainers in the first round
 * only; the encoding's step at clip 10 and groups of 5 is 2^-25.
 */
export const TRAINING_DEFAULTS = { epochs: 30, learningRate: 3, clipNorm: 10 } as const;
const E18 = 10n ** 18n;

// ---------------------------------------------------------------- labelled sets

export const LABELLED_SET_VERSION = 1;
export const MAX_LABELLED_RECORDS = 100_000;

export const labelledSetSchema = z.strictObject({
  version: z.literal(LABELLED_SET_VERSION),
  /** What the set is ("control" or "split:<round>") — informational. */
  name: z.string().max(200),
  /** Labels by index, in the package manifest's `outputLabels` order. */
  labels: z.array(z.string().min(1).max(100)).min(2).max(64),
  records: z
    .array(
      z.strictObject({
        id: z.string().min(1).max(500),
        subject: z.string().max(100_000),
        body: z.string().max(1_000_000),
        label: z.number().int().min(0).max(63),
      }),
    )
    .min(1)
    .max(MAX_LABELLED_RECORDS),
});
export type LabelledSet = z.infer<typeof labelledSetSchema>;

export function encodeLabelledSet(set: LabelledSet): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(labelledSetSchema.parse(set)) + "\n");
}

/**
 * Fetches and checks a labelled set. @throws ProtocolError LABELLED_SET_INVALID (the store's own errors — invalid
 * CID, not found, too large — pass through)
 */
export async function fetchLabelledSet(
  store: Pick<ContentStore, "getBytes">,
  cid: string,
): Promise<LabelledSet> {
  const bytes = await store.getBytes(cid);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (e) {
    throw new ProtocolError("LABELLED_SET_INVALID", `labelled set ${cid}: not UTF-8 JSON`, {
      cause: e,
    });
  }
  const parsed = labelledSetSchema.safeParse(json);
  if (!parsed.success)
    throw new ProtocolError(
      "LABELLED_SET_INVALID",
      `labelled set ${cid}: ${z.prettifyError(parsed.error)}`,
    );
  for (const r of parsed.data.records)
    if (r.label >= parsed.data.labels.length)
      throw new ProtocolError(
        "LABELLED_SET_INVALID",
        `labelled set ${cid}: record ${r.id} has label ${r.label} of ${parsed.data.labels.length}`,
      );
  return parsed.data;
}

/**
 * The package's accuracy on the set as `FineTuning` metrics are expressed: `correct × 1e18 / total` (integer
 * division). The set's labels must be the package's output labels, in order.
 * @throws ProtocolError LABELLED_SET_INVALID when they are not
 */
export async function accuracyMetric(pkg: LoadedPackage, set: LabelledSet): Promise<bigint> {
  const labels = pkg.manifest.outputLabels;
  if (labels.length !== set.labels.length || labels.some((l, i) => l !== set.labels[i]))
    throw new ProtocolError(
      "LABELLED_SET_INVALID",
      `the set's labels [${set.labels.join(", ")}] are not the package's [${labels.join(", ")}]`,
    );
  const predictions = await classifyRecords(
    pkg,
    set.records.map((r) => ({ subject: r.subject, body: r.body })),
  );
  let correct = 0n;
  predictions.forEach((p, i) => {
    if (p.label === set.records[i]!.label) correct++;
  });
  return (correct * E18) / BigInt(set.records.length);
}

// ---------------------------------------------------------------- groups and host

/** The round's seed from the hash of the block holding its `RoundOpened` log. */
export function trainingRoundSeed(openedBlockHash: Hex, bountyId: bigint): Hex {
  return deriveSeed(openedBlockHash, "dml.ft.round", bountyId);
}

/** The seed `NodeStaking.drawActive(Refiner, ·)` picks the round's host with. */
export function trainingHostSeed(seed: Hex, round: bigint): bigint {
  return hexToBigInt(deriveSeed(seed, "dml.ft.host", round));
}

/**
 * The round's groups: distinct trainers in ascending `cohortScore(seed, trainer)`, cut into groups of `groupSize`
 * (0 → `DEFAULT_GROUP_SIZE`); a last group smaller than `MIN_GROUP` joins the previous one. Fewer than `MIN_GROUP`
 * trainers in all → no group.
 */
export function trainingGroups(
  seed: Hex,
  trainers: readonly Address[],
  groupSize: number,
): Address[][] {
  const g = groupSize === 0 ? DEFAULT_GROUP_SIZE : groupSize;
  if (!Number.isInteger(g) || g < MIN_GROUP)
    throw new ProtocolError(
      "SESSION_INVALID",
      `group size ${groupSize}: must be 0 (default) or ≥ ${MIN_GROUP}`,
    );
  const distinct = [...new Set(trainers.map((t) => getAddress(t)))];
  const scored = distinct
    .map((t) => ({ t, s: cohortScore(seed, t) }))
    .sort((a, b) => (a.s < b.s ? -1 : a.s > b.s ? 1 : 0))
    .map((x) => x.t);
  const groups: Address[][] = [];
  for (let i = 0; i < scored.length; i += g) groups.push(scored.slice(i, i + g));
  const last = groups.at(-1);
  if (last !== undefined && last.length < MIN_GROUP) {
    groups.pop();
    const prev = groups.at(-1);
    if (prev !== undefined) prev.push(...last);
  }
  return groups;
}

/** A group's version-1 cohort list (client id = position + 1) and its Merkle root. */
export function trainingGroupList(
  bountyId: bigint,
  members: readonly Address[],
): { list: CohortList; root: Hex } {
  const list: CohortList = {
    version: COHORT_LIST_VERSION,
    jobId: bountyId.toString(),
    members: members.map((address, i) => ({ id: i + 1, address })),
  };
  return { list, root: cohortRoot(list) };
}

/** Everything a trainer and the host derive about one round from the chain. */
export interface TrainingRound {
  bountyId: bigint;
  round: bigint;
  /** The version the round trains from (`RoundOpened.algorithmId`). */
  algorithmId: bigint;
  openedBlock: bigint;
  openedAt: bigint;
  seed: Hex;
  host: Address;
  groupSize: number;
  groups: Address[][];
}

const openedSchema = z.looseObject({
  blockNumber: z.bigint(),
  blockHash: z.string().regex(/^0x[0-9a-fA-F]{64}$/),
  args: z.looseObject({ algorithmId: z.bigint(), openedAt: z.bigint() }),
});
const enrolledSchema = z.looseObject({ args: z.looseObject({ trainer: z.string() }) });
const bountySchema = z.looseObject({ groupSize: z.union([z.number(), z.bigint()]) });

/**
 * Reads the round from the chain: its `RoundOpened` log, the trainers enrolled by then, the groups and the host.
 * Undefined while the round has not opened.
 */
export async function trainingRoundOf(
  client: ChainPublicClient,
  contracts: { FineTuning: Address; NodeStaking: Address },
  bountyId: bigint,
  round: bigint,
  fromBlock = 0n,
): Promise<TrainingRound | undefined> {
  const opened = await client.getContractEvents({
    address: contracts.FineTuning,
    abi: fineTuningAbi,
    eventName: "RoundOpened",
    args: { bountyId, round },
    fromBlock,
  });
  const last = opened.at(-1);
  if (last === undefined) return undefined;
  const log = openedSchema.parse(last);
  const seed = trainingRoundSeed(log.blockHash as Hex, bountyId);
  const [enrolledLogs, bounty, host] = await Promise.all([
    client.getContractEvents({
      address: contracts.FineTuning,
      abi: fineTuningAbi,
      eventName: "TrainerEnrolled",
      args: { bountyId },
      fromBlock,
      toBlock: log.blockNumber,
    }),
    client.readContract({
      address: contracts.FineTuning,
      abi: fineTuningAbi,
      functionName: "getBounty",
      args: [bountyId],
    }),
    client.readContract({
      address: contracts.NodeStaking,
      abi: nodeStakingAbi,
      functionName: "drawActive",
      args: [Role.Refiner, trainingHostSeed(seed, round)],
      // at the opening block: stakes that change during the round cannot make host and trainers disagree (a node
      // must keep that block's state, which every node does for recent blocks and an archive node for all)
      blockNumber: log.blockNumber,
    }),
  ]);
  const groupSize = Number(bountySchema.parse(bounty).groupSize);
  const trainers = enrolledLogs.map((l) => getAddress(enrolledSchema.parse(l).args.trainer));
  return {
    bountyId,
    round,
    algorithmId: log.args.algorithmId,
    openedBlock: log.blockNumber,
    openedAt: log.args.openedAt,
    seed,
    host: getAddress(host as Address),
    groupSize,
    groups: trainingGroups(seed, trainers, groupSize),
  };
}

/** The group index and client id of `trainer` in the round, or undefined when it is in no group. */
export function groupOf(
  r: Pick<TrainingRound, "groups">,
  trainer: Address,
): { group: number; clientId: number } | undefined {
  const t = getAddress(trainer);
  for (let g = 0; g < r.groups.length; g++) {
    const i = r.groups[g]!.indexOf(t);
    if (i >= 0) return { group: g, clientId: i + 1 };
  }
  return undefined;
}
