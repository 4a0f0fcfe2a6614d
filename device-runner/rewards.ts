/**
 * Reward claims. Every payout set of the protocol is an OpenZeppelin StandardMerkleTree whose full dump is on IPFS.
 * The device fetches the dump, checks that the tree is internally consistent and that its root equals the on-chain
 * root, finds its own leaf, verifies the proof locally and only then sends the claim transaction:
 *
 * - growth pool wins: `GrowthPool.claim(epoch, j, leaf, proof)`; root and CID from `EpochPosted`, the
 *   connected set's leaves are `(index, device, heartbeat signature)` (`#sdk/chain/connected-set.ts`);
 * - job payouts: `Settlement.claim(jobId, index, account, amount, proof)`; root and list CID (`dml/payouts-v1`,
 *   leaves `(index, device, amount)`) from `ReportPosted`;
 * - trainer payouts: `FineTuning.claim(bountyId, round, account, amount, proof)`; the attested root and the
 *   round list CID (`dml/ft-round-v1`, whose `payouts` is the `(trainer, amount)` tree dump) from `getRound`.
 */
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import type { ContentStore } from "#sdk/ipfs/index.ts";
import { getAddress, type Address, type Hex } from "viem";
import { z } from "zod";
import {
  loadPayoutList,
  PAYOUT_LEAF_ENCODING,
  type PayoutClaim,
  type PayoutTree,
} from "#sdk/chain/payouts.ts";
import { roundListSchema } from "#sdk/chain/finetuning.ts";
import { loadConnectedSet, verifyConnectedLeaf } from "#sdk/chain/connected-set.ts";
import { TxSender, type TxRequest } from "#sdk/chain/tx-sender.ts";
import { abiOf, type DeviceClients } from "./chain.ts";
import { DeviceError } from "./errors.ts";

const dumpSchema = z.looseObject({
  format: z.literal("standard-v1"),
  leafEncoding: z.tuple([z.literal("address"), z.literal("uint256")]),
  tree: z.array(z.string().regex(/^0x[0-9a-fA-F]{64}$/)).min(1),
  values: z
    .array(
      z.strictObject({
        value: z.tuple([z.string(), z.string()]),
        treeIndex: z.number().int().min(0),
      }),
    )
    .min(1),
});

export interface VerifiedLeaf {
  account: Address;
  value: bigint;
  proof: Hex[];
}

/** Fetches a published Merkle list as JSON. @throws DeviceError PROOF_INVALID for missing or non-JSON bytes */
async function fetchJson(store: ContentStore, cid: string): Promise<unknown> {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(await store.getBytes(cid)));
  } catch (e) {
    throw new DeviceError(
      "PROOF_INVALID",
      `Merkle list ${cid}: ${e instanceof Error ? e.message : String(e)}`,
      { cause: e },
    );
  }
}

/** Fetches a payout/connected-set dump, checks it against `root` and returns `account`'s leaf with a verified proof. */
export async function fetchVerifiedLeaf(
  store: ContentStore,
  cid: string,
  root: Hex,
  account: Address,
): Promise<VerifiedLeaf> {
  return verifiedLeafOf(await fetchJson(store, cid), cid, root, account);
}

/** Checks a fetched `(account, uint256)` tree dump against `root` and returns `account`'s verified leaf. */
function verifiedLeafOf(raw: unknown, cid: string, root: Hex, account: Address): VerifiedLeaf {
  let tree: StandardMerkleTree<[string, string]>;
  try {
    const json = dumpSchema.parse(raw);
    tree = StandardMerkleTree.load(json as never);
    tree.validate();
  } catch (e) {
    throw new DeviceError(
      "PROOF_INVALID",
      `Merkle list ${cid}: ${e instanceof Error ? e.message : String(e)}`,
      { cause: e },
    );
  }
  if (tree.root.toLowerCase() !== root.toLowerCase())
    throw new DeviceError(
      "PROOF_INVALID",
      `Merkle list ${cid} has root ${tree.root}, the chain says ${root}`,
    );
  const me = getAddress(account);
  for (const [i, v] of tree.entries()) {
    if (getAddress(v[0]) !== me) continue;
    const proof = tree.getProof(i) as Hex[];
    if (!StandardMerkleTree.verify(root, ["address", "uint256"], v, proof))
      throw new DeviceError("PROOF_INVALID", "the proof does not verify against the on-chain root");
    return { account: me, value: BigInt(v[1]), proof };
  }
  throw new DeviceError("NOT_IN_PAYOUT", `${me} is not in Merkle list ${cid}`);
}

async function send(clients: DeviceClients, call: TxRequest): Promise<Hex> {
  try {
    const sender = await TxSender.create({
      publicClient: clients.publicClient,
      walletClient: clients.walletClient,
    });
    return (await sender.send(call)).hash;
  } catch (e) {
    throw new DeviceError(
      "CHAIN",
      `${call.functionName}: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`,
      { cause: e },
    );
  }
}

const epochPostedSchema = z.object({ root: z.string(), cid: z.string(), n: z.bigint() });

/** Claims every growth-pool draw of `epoch` that this device won. Returns the claimed draw indices `j`. */
export async function claimGrowthWins(
  clients: DeviceClients,
  store: ContentStore,
  pool: Address,
  epoch: bigint,
  opts: { fromBlock?: bigint } = {},
): Promise<{ won: bigint[]; claimed: bigint[]; hashes: Hex[] }> {
  const abi = abiOf("GrowthPool");
  const pub = clients.publicClient;
  const info = (await pub.readContract({
    address: pool,
    abi,
    functionName: "epochInfo",
    args: [epoch],
  })) as {
    drawn: boolean;
    root: Hex;
    k: bigint;
  };
  if (!info.drawn)
    throw new DeviceError("CHAIN", `growth-pool epoch ${epoch} has not been drawn yet`);
  const logs = await pub.getContractEvents({
    address: pool,
    abi,
    eventName: "EpochPosted",
    args: { epoch },
    fromBlock: opts.fromBlock ?? 0n,
  });
  const last = logs[logs.length - 1];
  if (last === undefined) throw new DeviceError("CHAIN", `no EpochPosted event for epoch ${epoch}`);
  const posted = epochPostedSchema.parse((last as unknown as { args: unknown }).args);
  if (posted.root.toLowerCase() !== info.root.toLowerCase())
    throw new DeviceError("PROOF_INVALID", "EpochPosted root differs from epochInfo");
  let leaf;
  try {
    const set = loadConnectedSet(await fetchJson(store, posted.cid), info.root);
    leaf = set.leafOf(clients.walletClient.account.address);
    if (leaf !== undefined && !verifyConnectedLeaf(info.root, leaf))
      throw new Error("the proof does not verify against the on-chain root");
  } catch (e) {
    throw new DeviceError(
      "PROOF_INVALID",
      `connected set ${posted.cid}: ${e instanceof Error ? e.message : String(e)}`,
      { cause: e },
    );
  }
  if (leaf === undefined)
    throw new DeviceError(
      "NOT_IN_PAYOUT",
      `${clients.walletClient.account.address} is not in connected set ${posted.cid}`,
    );
  const won: bigint[] = [];
  const claimed: bigint[] = [];
  const hashes: Hex[] = [];
  for (let j = 0n; j < info.k; j++) {
    const index = (await pub.readContract({
      address: pool,
      abi,
      functionName: "winnerIndex",
      args: [epoch, j],
    })) as bigint;
    if (index !== leaf.index) continue;
    won.push(j);
    if (
      (await pub.readContract({
        address: pool,
        abi,
        functionName: "isClaimed",
        args: [epoch, j],
      })) as boolean
    )
      continue;
    hashes.push(
      await send(clients, {
        address: pool,
        abi: abi as never,
        functionName: "claim",
        args: [
          epoch,
          j,
          { index: leaf.index, device: leaf.device, signature: leaf.signature },
          leaf.proof,
        ],
      }),
    );
    claimed.push(j);
  }
  return { won, claimed, hashes };
}

/** The `Settlement.ReportPosted` fields a claim needs (the attested result's aggregate hash follows the commitment). */
const reportPostedSchema = z.object({
  jobId: z.bigint(),
  aggregateHash: z.string().regex(/^0x[0-9a-fA-F]{64}$/),
  payoutRoot: z.string().regex(/^0x[0-9a-fA-F]{64}$/),
  payoutsCid: z.string(),
  success: z.boolean(),
});

/** A job payout claim as `Settlement.claim` takes it, with the report it came from. */
export interface JobPayoutClaim extends PayoutClaim {
  root: Hex;
  cid: string;
}

/**
 * Finds this device's payout of a settled job from chain data alone: the last `ReportPosted(jobId)` gives the payout
 * root and the payout list CID (`dml/payouts-v1`); the list is fetched, checked (tree integrity, indices, total, the
 * on-chain root) and the device's proof is verified locally.
 */
export async function findJobPayout(
  clients: DeviceClients,
  store: ContentStore,
  opts: { settlement: Address; jobId: bigint; account?: Address; fromBlock?: bigint },
): Promise<JobPayoutClaim> {
  const logs = await clients.publicClient.getContractEvents({
    address: opts.settlement,
    abi: abiOf("Settlement"),
    eventName: "ReportPosted",
    args: { jobId: opts.jobId },
    fromBlock: opts.fromBlock ?? 0n,
  });
  const last = logs[logs.length - 1];
  if (last === undefined)
    throw new DeviceError("CHAIN", `job ${opts.jobId} has no report (no ReportPosted event)`);
  const report = reportPostedSchema.parse((last as unknown as { args: unknown }).args);
  if (!report.success || report.payoutsCid === "")
    throw new DeviceError("NOT_IN_PAYOUT", `job ${opts.jobId} failed: it pays no device`);
  const root = report.payoutRoot as Hex;
  const json = await fetchJson(store, report.payoutsCid);
  let list: PayoutTree;
  try {
    list = loadPayoutList(json, root);
  } catch (e) {
    throw new DeviceError(
      "PROOF_INVALID",
      `payout list ${report.payoutsCid}: ${(e as Error).message}`,
      { cause: e },
    );
  }
  const me = getAddress(opts.account ?? clients.walletClient.account.address);
  const c = list.findClaim(me);
  if (c === undefined)
    throw new DeviceError("NOT_IN_PAYOUT", `${me} is not in payout list ${report.payoutsCid}`);
  if (
    !StandardMerkleTree.verify(
      root,
      [...PAYOUT_LEAF_ENCODING],
      [c.index.toString(), c.account, c.amount.toString()],
      c.proof,
    )
  )
    throw new DeviceError("PROOF_INVALID", "the proof does not verify against the on-chain root");
  return { ...c, root, cid: report.payoutsCid };
}

/**
 * Claims this device's payout of a settled job (root and list CID from `ReportPosted`). A payout already claimed
 * sends nothing and returns `hash: undefined`.
 */
export async function claimJobPayout(
  clients: DeviceClients,
  store: ContentStore,
  opts: { settlement: Address; jobId: bigint; fromBlock?: bigint },
): Promise<{ amount: bigint; index: bigint; hash: Hex | undefined }> {
  const c = await findJobPayout(clients, store, opts);
  const claimed = (await clients.publicClient.readContract({
    address: opts.settlement,
    abi: abiOf("Settlement"),
    functionName: "isClaimed",
    args: [opts.jobId, c.index],
  })) as boolean;
  if (claimed) return { amount: c.amount, index: c.index, hash: undefined };
  const hash = await send(clients, {
    address: opts.settlement,
    abi: abiOf("Settlement") as never,
    functionName: "claim",
    args: [opts.jobId, c.index, c.account, c.amount, c.proof],
  });
  return { amount: c.amount, index: c.index, hash };
}

/** `IFineTuning.RoundStatus.Accepted`. */
const ROUND_ACCEPTED = 2;
const roundInfoSchema = z.looseObject({
  status: z.number().int(),
  listCid: z.string(),
  claim: z.looseObject({ payoutRoot: z.string().regex(/^0x[0-9a-fA-F]{64}$/) }),
});

/**
 * Claims this trainer's payout of an accepted fine-tuning round. The root is the attested one from the chain
 * (`getRound(bountyId, round).claim.payoutRoot`); the list is the refiner's round list (`getRound().listCid`, a
 * `dml/ft-round-v1` document whose `payouts` is the StandardMerkleTree dump over `(trainer, amount)`), or a bare
 * dump at `cid` when given. A payout already claimed sends nothing and returns `hash: undefined`.
 */
export async function claimTrainerPayout(
  clients: DeviceClients,
  store: ContentStore,
  opts: { fineTuning: Address; bountyId: bigint; round: bigint; cid?: string },
): Promise<{ amount: bigint; hash: Hex | undefined }> {
  const abi = abiOf("FineTuning");
  const info = roundInfoSchema.parse(
    await clients.publicClient.readContract({
      address: opts.fineTuning,
      abi,
      functionName: "getRound",
      args: [opts.bountyId, opts.round],
    }),
  );
  const root = info.claim.payoutRoot as Hex;
  if (info.status !== ROUND_ACCEPTED || /^0x0{64}$/.test(root))
    throw new DeviceError(
      "NOT_IN_PAYOUT",
      `bounty ${opts.bountyId} round ${opts.round} is not accepted: it pays no trainer`,
    );
  const cid = opts.cid ?? info.listCid;
  const raw = await fetchJson(store, cid);
  const list = roundListSchema.safeParse(raw);
  const leaf = verifiedLeafOf(
    list.success ? list.data.payouts : raw,
    cid,
    root,
    clients.walletClient.account.address,
  );
  const claimed = (await clients.publicClient.readContract({
    address: opts.fineTuning,
    abi,
    functionName: "isClaimed",
    args: [opts.bountyId, opts.round, leaf.account],
  })) as boolean;
  if (claimed) return { amount: leaf.value, hash: undefined };
  const hash = await send(clients, {
    address: opts.fineTuning,
    abi: abi as never,
    functionName: "claim",
    args: [opts.bountyId, opts.round, leaf.account, leaf.value, leaf.proof],
  });
  return { amount: leaf.value, hash };
}
