/**
 * The poster's side of a fine-tuning bounty (PROTOCOL.md §5, §7.7; docs/fine-tuning-rounds.md "The poster"):
 *
 *   prepare   publish the public control group as a labelled set (`encodeLabelledSet`), encode one hidden
 *             acceptance split per round the same way and compute its CID, draw a secret salt per round, build the
 *             split tree (`buildSplitTree`) and the `createBounty` input. The splits' CIDs and salts are the poster's
 *             secret (`BountySecrets`, keep them with the split bytes) until each round's reveal.
 *   post      `createBounty` (the pool must be approved), returning the bounty id.
 *   reveal    `revealRoundSplit`: once the round's refiner committed its candidate, publish the round's split (when
 *             its bytes are given) and `revealSplit` it with its proof, before the split deadline. Idempotent: the
 *             chain is read first, and a revealed (or closed) round sends nothing.
 *
 * A split's CID is computed by the store the poster prepares with (`splitStore`: a private, offline store keeps the
 * split from being announced before its reveal); `revealRoundSplit` then publishes the same bytes to the public store
 * and checks the CID is the committed one.
 */
import { randomBytes } from "node:crypto";
import { bytesToHex, getAddress, parseEventLogs, type Abi, type Address, type Hex } from "viem";
import { z } from "zod";
import { fineTuningAbi } from "#sdk/chain/abi/FineTuning.ts";
import type { ChainPublicClient, ChainWalletClient } from "#sdk/chain/clients.ts";
import {
  ACCURACY_METRIC_ID,
  BountyStatus,
  buildSplitTree,
  FineTuningRoundStatus,
  type HiddenSplit,
  type SplitTree,
} from "#sdk/chain/finetuning.ts";
import { BountyError } from "#sdk/chain/bounties.ts";
import { TxSender } from "#sdk/chain/tx-sender.ts";
import type { ContentStore } from "#sdk/ipfs/index.ts";
import { encodeLabelledSet, type LabelledSet } from "./training-round.ts";

export { BountyError, type BountyErrorCode } from "#sdk/chain/bounties.ts";

/** `IFineTuning.BountyInput`, as `createBounty` takes it. */
export interface BountyInput {
  algorithmId: bigint;
  controlCid: string;
  metricId: Hex;
  minGainBps: number;
  rewardPool: bigint;
  rounds: number;
  groupSize: number;
  roundDuration: number;
  splitRoot: Hex;
  baselineMetric: bigint;
  splitWindow: number;
}

/** What the poster keeps secret until each round's reveal (with the split bytes, to publish them then). */
export const bountySecretsSchema = z.strictObject({
  splits: z
    .array(
      z.strictObject({
        round: z.number().int().min(0).max(255),
        cid: z.string().min(1).max(512),
        salt: z.string().regex(/^0x[0-9a-fA-F]{64}$/),
      }),
    )
    .min(1),
});
export type BountySecrets = z.infer<typeof bountySecretsSchema>;

export interface PrepareBountyOptions {
  /** Where the public control group is published (the store trainers and attestors read). */
  store: Pick<ContentStore, "addBytes">;
  /** Where each split's CID is computed and kept until its reveal (default: `store`). */
  splitStore?: Pick<ContentStore, "addBytes">;
  control: LabelledSet;
  /** One hidden acceptance split per round, in round order (their labels must be the control group's). */
  splits: readonly LabelledSet[];
  algorithmId: bigint;
  /** Minimum gain per round, in bps of 1e18. */
  minGainBps: number;
  rewardPool: bigint;
  /** Seconds a round stays open for the refiner's candidate. */
  roundDuration: number;
  /** Seconds after a candidate commitment for the split reveal. */
  splitWindow: number;
  /** The base model's metric (fixed point 1e18, e.g. `accuracyMetric(base, splits[0])`): round 0 must beat it. */
  baselineMetric: bigint;
  /** Secure-aggregation group size (0 = the contract's default, 8). */
  groupSize?: number;
  /** Default: `ACCURACY_METRIC_ID`. */
  metricId?: Hex;
  /** Each round's salt (default: 32 random bytes). */
  saltOf?: (round: number) => Hex;
}

export interface PreparedBounty {
  input: BountyInput;
  /** Secret until each round's reveal. */
  secrets: BountySecrets;
  tree: SplitTree;
  /** Each round's encoded split, in round order (publish at its reveal). */
  splitBytes: Uint8Array[];
}

/** Publishes the control group, computes the splits' CIDs and builds the bounty input. @throws BountyError */
export async function prepareBounty(o: PrepareBountyOptions): Promise<PreparedBounty> {
  if (o.splits.length === 0 || o.splits.length > 255)
    throw new BountyError("BOUNTY_INPUT_INVALID", "one hidden split per round (1..255 rounds)");
  const labels = JSON.stringify(o.control.labels);
  for (const [i, s] of o.splits.entries())
    if (JSON.stringify(s.labels) !== labels)
      throw new BountyError(
        "BOUNTY_INPUT_INVALID",
        `split ${i}'s labels are not the control group's (attestors would vote SPLIT_INVALID)`,
      );
  const controlCid = await o.store.addBytes(encodeLabelledSet(o.control));
  const splitStore = o.splitStore ?? o.store;
  const splitBytes = o.splits.map((s) => encodeLabelledSet(s));
  const splits: HiddenSplit[] = [];
  for (const [round, bytes] of splitBytes.entries())
    splits.push({
      round,
      cid: await splitStore.addBytes(bytes),
      salt: o.saltOf?.(round) ?? bytesToHex(randomBytes(32)),
    });
  const tree = buildSplitTree(splits);
  return {
    input: {
      algorithmId: o.algorithmId,
      controlCid,
      metricId: o.metricId ?? ACCURACY_METRIC_ID,
      minGainBps: o.minGainBps,
      rewardPool: o.rewardPool,
      rounds: o.splits.length,
      groupSize: o.groupSize ?? 0,
      roundDuration: o.roundDuration,
      splitRoot: tree.root,
      baselineMetric: o.baselineMetric,
      splitWindow: o.splitWindow,
    },
    secrets: { splits: splits.map((s) => ({ round: s.round, cid: s.cid, salt: s.salt })) },
    tree,
    splitBytes,
  };
}

export interface PosterIo {
  publicClient: ChainPublicClient;
  wallet: ChainWalletClient;
  fineTuning: Address;
  /** First block to read `SplitRevealed` from (the deployment block). */
  fromBlock?: bigint;
}

async function send(io: PosterIo, functionName: string, args: readonly unknown[]) {
  const sender = await TxSender.create({ publicClient: io.publicClient, walletClient: io.wallet });
  return sender.send({ address: io.fineTuning, abi: fineTuningAbi as Abi, functionName, args });
}

/** Sends `createBounty(input)` (the reward pool must be approved); returns the bounty id. @throws TxError, BountyError */
export async function postBounty(io: PosterIo, input: BountyInput): Promise<bigint> {
  const { receipt } = await send(io, "createBounty", [input]);
  const created = parseEventLogs({
    abi: fineTuningAbi,
    eventName: "BountyCreated",
    logs: receipt.logs,
  }).find((l) => getAddress(l.address) === getAddress(io.fineTuning));
  if (created === undefined)
    throw new BountyError("BOUNTY_NOT_CREATED", `no BountyCreated in ${receipt.transactionHash}`);
  return created.args.bountyId;
}

export type RevealOutcome =
  /** `revealSplit` was sent and mined (it draws the attestors when the seed's block is mined). */
  | { status: "sent"; hash: Hex }
  /** The round's split is already revealed on chain (by this poster before, or anyone with the preimage). */
  | { status: "revealed" }
  /** No candidate committed yet: nothing to reveal before it (the split would leak to the refiner). */
  | { status: "waiting" }
  /** The split deadline passed, or the round ended without a reveal: the round stands on the refiner's metric. */
  | { status: "closed"; reason: string };

const u = z.union([z.number(), z.bigint()]).transform((x) => BigInt(x));
const bountySchema = z.looseObject({
  status: u.transform(Number),
  currentRound: u.transform(Number),
  splitRoot: z.string(),
});
const roundSchema = z.looseObject({ status: u.transform(Number), splitDeadline: u });

/**
 * Reveals `round`'s hidden split once its candidate is committed (idempotent: reads the chain first). With
 * `publish`, the split's bytes are added to that store first and must have the committed CID.
 * @throws BountyError (secrets that do not open the bounty's split root, bytes of another CID), TxError
 */
export async function revealRoundSplit(
  io: PosterIo,
  opts: {
    bountyId: bigint;
    round: number;
    secrets: BountySecrets;
    publish?: { store: Pick<ContentStore, "addBytes">; bytes: Uint8Array };
  },
): Promise<RevealOutcome> {
  const { bountyId, round } = opts;
  const parsed = bountySecretsSchema.safeParse(opts.secrets);
  if (!parsed.success)
    throw new BountyError("BOUNTY_INPUT_INVALID", `secrets: ${z.prettifyError(parsed.error)}`);
  const secrets = parsed.data;
  const split = secrets.splits.find((s) => s.round === round);
  if (split === undefined)
    throw new BountyError("BOUNTY_INPUT_INVALID", `no split for round ${round} in the secrets`);
  const [bounty, r] = await Promise.all([
    io.publicClient
      .readContract({
        address: io.fineTuning,
        abi: fineTuningAbi,
        functionName: "getBounty",
        args: [bountyId],
      })
      .then((b) => bountySchema.parse(b)),
    io.publicClient
      .readContract({
        address: io.fineTuning,
        abi: fineTuningAbi,
        functionName: "getRound",
        args: [bountyId, BigInt(round)],
      })
      .then((x) => roundSchema.parse(x)),
  ]);
  if (await splitRevealed(io, bountyId, round)) return { status: "revealed" };
  if (bounty.status !== BountyStatus.Active || bounty.currentRound !== round)
    return bounty.currentRound < round && bounty.status === BountyStatus.Active
      ? { status: "waiting" }
      : { status: "closed", reason: `round ${bountyId}/${round} is over` };
  if (r.status === FineTuningRoundStatus.Open) return { status: "waiting" };
  if (r.status !== FineTuningRoundStatus.Committed)
    return { status: "closed", reason: `round ${bountyId}/${round} has status ${r.status}` };
  const now = (await io.publicClient.getBlock()).timestamp;
  if (now > r.splitDeadline)
    return { status: "closed", reason: `round ${bountyId}/${round}'s split deadline passed` };
  const tree = buildSplitTree(
    secrets.splits.map((s) => ({ round: s.round, cid: s.cid, salt: s.salt as Hex })),
  );
  if (tree.root.toLowerCase() !== bounty.splitRoot.toLowerCase())
    throw new BountyError(
      "SPLIT_ROOT_MISMATCH",
      `the secrets' split root ${tree.root} is not bounty ${bountyId}'s ${bounty.splitRoot}`,
    );
  if (opts.publish !== undefined) {
    const cid = await opts.publish.store.addBytes(opts.publish.bytes);
    if (cid !== split.cid)
      throw new BountyError(
        "SPLIT_CID_MISMATCH",
        `round ${round}'s split bytes have CID ${cid}, the committed one is ${split.cid}`,
      );
  }
  const { hash } = await send(io, "revealSplit", [
    bountyId,
    split.cid,
    split.salt,
    tree.proof(round),
  ]);
  return { status: "sent", hash };
}

/** Whether `SplitRevealed(bountyId, round)` is on chain. */
async function splitRevealed(io: PosterIo, bountyId: bigint, round: number): Promise<boolean> {
  const logs = await io.publicClient.getContractEvents({
    address: io.fineTuning,
    abi: fineTuningAbi,
    eventName: "SplitRevealed",
    args: { bountyId, round: BigInt(round) },
    fromBlock: io.fromBlock ?? 0n,
  });
  return logs.length > 0;
}
