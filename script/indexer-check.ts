/**
 * Checks the local graph host against the chain after `npm start`'s scenario: every job, payout claim, stake, slash,
 * growth-pool epoch, fine-tuning bounty and round the subgraph serves over GraphQL must equal what the contracts
 * report through viem, field by field, both as of one block (GraphQL's `block: { number }` beside `eth_call` at that
 * block: the relayers keep sending transactions while the check runs), and the subgraph must hold exactly the entities the chain's events imply
 * (no job, claim or slash missing or extra). Returns one line per mismatch (empty when they agree) and the counts.
 *
 * The enum names are the Solidity declarations' (contracts/interfaces), written out here independently of the
 * subgraph's own tables so a wrong mapping shows up as a mismatch.
 */
import type { Address, Hex } from "viem";
import { getAddress } from "viem";
import { protocolAbi } from "#sdk/chain/contracts.ts";
import type { ChainPublicClient } from "#sdk/chain/clients.ts";
import type { Manifest } from "#sdk/chain/manifest.ts";

const JOB_STATUS = [
  "None",
  "Created",
  "Bidding",
  "Scheduled",
  "Assigned",
  "Committed",
  "Attested",
  "Reported",
  "Settled",
  "Failed",
  "Expired",
  "Cancelled",
];
const ROLES = ["Distributor", "Aggregator", "Attestor", "Reporter", "Refiner"];
const EPOCH_STATUS = ["None", "Posted", "Voided", "Settled"];
const BOUNTY_STATUS = ["None", "Active", "Finalized"];
const ROUND_STATUS = ["Open", "Committed", "Accepted", "Rejected", "Attesting"];

export interface IndexerCheck {
  mismatches: string[];
  counts: {
    jobs: number;
    payoutClaims: number;
    stakes: number;
    slashes: number;
    growthEpochs: number;
    bounties: number;
    rounds: number;
  };
}

type Json = Record<string, unknown>;

/**
 * Everything the check compares, as of `block`, in one query (graph-node's plural of `GrowthPoolEpoch` is
 * `growthPoolEpoches`; nested fields are read at the same block).
 */
export const checkQuery = (block: number): string => {
  const at = `{ number: ${block} }`;
  return `
      {
        jobs(first: 1000, orderBy: jobId, block: ${at}) {
          jobId
          status
          escrow
          deviceCount
          aggregator
          distributor
          customer {
            id
          }
          algorithm {
            id
          }
          payoutClaimCount
          payoutsClaimed
        }
        payoutClaims(first: 1000, block: ${at}) {
          job {
            jobId
          }
          index
          account {
            id
          }
          amount
        }
        stakes(first: 1000, block: ${at}) {
          node {
            id
          }
          role
          bonded
          unbonding
          unbondReadyAt
        }
        slashes(first: 1000, block: ${at}) {
          node {
            id
          }
          role
          amount
        }
        growthPoolEpoches(first: 1000, orderBy: epoch, block: ${at}) {
          epoch
          status
          root
          perWinner
          budget
          claimCount
        }
        bounties(first: 1000, orderBy: bountyId, block: ${at}) {
          bountyId
          status
          trainerCount
          rewardPool
          currentAlgorithm {
            id
          }
          roundList(first: 100, orderBy: round) {
            round
            status
            refiner
            finalHash
            childAlgorithm {
              id
            }
          }
        }
      }
    `;
};

/** POSTs one query; throws with graph-node's error messages when the response has errors. */
export async function graphql(url: string, query: string): Promise<Json> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query }),
  });
  const body = (await res.json()) as { data?: Json; errors?: { message: string }[] };
  if (body.errors?.length)
    throw new Error(`GraphQL: ${body.errors.map((e) => e.message).join("; ")}`);
  if (!body.data) throw new Error(`GraphQL: no data (HTTP ${res.status})`);
  return body.data;
}

const list = (data: Json, key: string): Json[] => (data[key] as Json[] | undefined) ?? [];
const str = (v: unknown): string => (v === null || v === undefined ? "null" : String(v));
const addr = (v: unknown): string =>
  typeof v === "string" && v.startsWith("0x") && v.length === 42 ? getAddress(v) : str(v);

export async function checkIndexerAgainstChain(
  pub: ChainPublicClient,
  manifest: Manifest,
  url: string,
  block: number,
): Promise<IndexerCheck> {
  const mismatches: string[] = [];
  const c = (name: string): Address => {
    const a = manifest.contracts[name]?.address;
    if (!a) throw new Error(`the manifest has no ${name}`);
    return a;
  };
  const read = <T>(name: string, functionName: string, args: readonly unknown[]): Promise<T> =>
    pub.readContract({
      address: c(name),
      abi: protocolAbi(name),
      functionName,
      args,
    }) as Promise<T>;
  const events = (name: string, eventName: string) =>
    pub.getContractEvents({
      address: c(name),
      abi: protocolAbi(name),
      eventName,
      fromBlock: BigInt(manifest.startBlock),
      toBlock: BigInt(block),
    });
  const expect = (what: string, got: unknown, want: unknown): void => {
    if (str(got) !== str(want)) mismatches.push(`${what}: GraphQL ${str(got)}, chain ${str(want)}`);
  };

  // ---------------------------------------------------------------- jobs
  const data = await graphql(url, checkQuery(block));
  const jobCount = Number(await read<bigint>("JobMarket", "jobCount", []));
  const jobs = list(data, "jobs");
  expect("job count", jobs.length, jobCount);
  const claimed = await events("Settlement", "PayoutClaimed");
  for (const j of jobs) {
    const id = BigInt(str(j.jobId));
    const w = await read<{
      customer: Address;
      status: number;
      escrow: bigint;
      deviceCount: number;
      aggregator: Address;
      distributor: Address;
      algorithmId: bigint;
    }>("JobMarket", "getJob", [id]);
    const at = `job ${id}`;
    expect(`${at} status`, j.status, JOB_STATUS[w.status]);
    expect(`${at} escrow`, j.escrow, w.escrow);
    expect(`${at} customer`, addr((j.customer as Json).id), getAddress(w.customer));
    expect(`${at} algorithm`, (j.algorithm as Json).id, w.algorithmId);
    if (w.deviceCount > 0) expect(`${at} deviceCount`, j.deviceCount, w.deviceCount);
    const zero = "0x0000000000000000000000000000000000000000";
    if (w.aggregator !== zero)
      expect(`${at} aggregator`, addr(j.aggregator), getAddress(w.aggregator));
    if (w.distributor !== zero)
      expect(`${at} distributor`, addr(j.distributor), getAddress(w.distributor));
    const mine = claimed.filter((e) => (e.args as { jobId: bigint }).jobId === id);
    expect(`${at} payoutClaimCount`, j.payoutClaimCount, mine.length);
    expect(
      `${at} payoutsClaimed`,
      j.payoutsClaimed,
      mine.reduce((s, e) => s + (e.args as { amount: bigint }).amount, 0n),
    );
  }

  // ---------------------------------------------------------------- payout claims
  const claims = list(data, "payoutClaims");
  expect("payout claim count", claims.length, claimed.length);
  const key = (job: unknown, index: unknown, account: unknown, amount: unknown) =>
    `${str(job)}/${str(index)}/${addr(account)}/${str(amount)}`;
  const onChain = new Set(
    claimed.map((e) => {
      const a = e.args as { jobId: bigint; index: bigint; account: Address; amount: bigint };
      return key(a.jobId, a.index, a.account, a.amount);
    }),
  );
  for (const p of claims) {
    const k = key((p.job as Json).jobId, p.index, (p.account as Json).id, p.amount);
    if (!onChain.has(k))
      mismatches.push(`payout claim ${k}: in GraphQL, not among PayoutClaimed events`);
    const isClaimed = await read<boolean>("Settlement", "isClaimed", [
      BigInt(str((p.job as Json).jobId)),
      BigInt(str(p.index)),
    ]);
    if (!isClaimed) mismatches.push(`payout claim ${k}: Settlement.isClaimed is false`);
  }

  // ---------------------------------------------------------------- stakes and slashes
  const stakes = list(data, "stakes");
  for (const s of stakes) {
    const operator = getAddress(str((s.node as Json).id));
    const role = ROLES.indexOf(str(s.role));
    if (role < 0) {
      mismatches.push(`stake of ${operator}: unknown role ${str(s.role)}`);
      continue;
    }
    const w = await read<{ bonded: bigint; unbonding: bigint; unbondReadyAt: bigint }>(
      "NodeStaking",
      "stakeInfo",
      [operator, role],
    );
    const at = `stake ${operator}/${str(s.role)}`;
    expect(`${at} bonded`, s.bonded, w.bonded);
    expect(`${at} unbonding`, s.unbonding, w.unbonding);
    expect(`${at} unbondReadyAt`, s.unbondReadyAt, w.unbondReadyAt);
  }
  const bondedEvents = await events("NodeStaking", "Staked");
  const stakedPairs = new Set(
    bondedEvents.map((e) => {
      const a = e.args as { operator: Address; role: number };
      return `${getAddress(a.operator)}/${ROLES[a.role]}`;
    }),
  );
  expect("stake count", stakes.length, stakedPairs.size);
  const slashEvents = await events("NodeStaking", "Slashed");
  const slashes = list(data, "slashes");
  expect("slash count", slashes.length, slashEvents.length);
  const slashKey = (op: unknown, role: unknown, amount: unknown) =>
    `${addr(op)}/${str(role)}/${str(amount)}`;
  const wantSlashes = slashEvents
    .map((e) => {
      const a = e.args as { operator: Address; role: number; amount: bigint };
      return slashKey(a.operator, ROLES[a.role], a.amount);
    })
    .sort();
  const gotSlashes = slashes.map((s) => slashKey((s.node as Json).id, s.role, s.amount)).sort();
  expect("slashes", gotSlashes.join(","), wantSlashes.join(","));

  // ---------------------------------------------------------------- growth-pool epochs
  const epochs = list(data, "growthPoolEpoches");
  for (const e of epochs) {
    const epoch = BigInt(str(e.epoch));
    const w = await read<{
      status: number;
      root: Hex;
      perWinner: bigint;
      budget: bigint;
      claimedCount: bigint;
    }>("GrowthPool", "epochInfo", [epoch]);
    const at = `growth epoch ${epoch}`;
    expect(`${at} status`, e.status, EPOCH_STATUS[w.status]);
    if (w.status !== 0) expect(`${at} root`, e.root, w.root);
    if (w.perWinner > 0n) expect(`${at} perWinner`, e.perWinner, w.perWinner);
    if (w.budget > 0n) expect(`${at} budget`, e.budget, w.budget);
    expect(`${at} claimCount`, e.claimCount, w.claimedCount);
  }
  const posted = await events("GrowthPool", "EpochPosted");
  if (mismatches.some((m) => m.startsWith("growth epoch"))) {
    // where the chain changed the epochs (for the failure report)
    const allocated = await events("GrowthPool", "EpochAllocated");
    const where = (list: typeof posted) =>
      list.map((e) => `${String((e.args as { epoch: bigint }).epoch)}@${e.blockNumber}`).join(",");
    mismatches.push(
      `(growth-pool events up to block ${block}: posted ${where(posted)}; allocated ${where(allocated)})`,
    );
  }
  const postedEpochs = new Set(posted.map((e) => String((e.args as { epoch: bigint }).epoch)));
  for (const p of postedEpochs)
    if (!epochs.some((e) => str(e.epoch) === p))
      mismatches.push(`growth epoch ${p}: posted on chain, not in GraphQL`);

  // ---------------------------------------------------------------- bounties and rounds
  const bountyCount = Number(await read<bigint>("FineTuning", "bountyCount", []));
  const bounties = list(data, "bounties");
  expect("bounty count", bounties.length, bountyCount);
  let rounds = 0;
  for (const b of bounties) {
    const id = BigInt(str(b.bountyId));
    const w = await read<{
      status: number;
      trainerCount: number;
      rewardPool: bigint;
      currentRound: number;
      currentAlgorithmId: bigint;
    }>("FineTuning", "getBounty", [id]);
    const at = `bounty ${id}`;
    expect(`${at} status`, b.status, BOUNTY_STATUS[w.status]);
    expect(`${at} trainerCount`, b.trainerCount, w.trainerCount);
    expect(`${at} rewardPool`, b.rewardPool, w.rewardPool);
    expect(`${at} currentAlgorithm`, (b.currentAlgorithm as Json).id, w.currentAlgorithmId);
    for (const r of list(b, "roundList")) {
      rounds++;
      const round = BigInt(str(r.round));
      const wr = await read<{
        status: number;
        refiner: Address;
        finalHash: Hex;
        childAlgorithmId: bigint;
      }>("FineTuning", "getRound", [id, round]);
      const rat = `${at} round ${round}`;
      expect(`${rat} status`, r.status, ROUND_STATUS[wr.status]);
      const zero = "0x0000000000000000000000000000000000000000";
      if (wr.refiner !== zero) expect(`${rat} refiner`, addr(r.refiner), getAddress(wr.refiner));
      if (wr.finalHash !== `0x${"0".repeat(64)}`)
        expect(`${rat} finalHash`, r.finalHash, wr.finalHash);
      if (wr.childAlgorithmId > 0n)
        expect(`${rat} childAlgorithm`, (r.childAlgorithm as Json | null)?.id, wr.childAlgorithmId);
    }
  }
  return {
    mismatches,
    counts: {
      jobs: jobs.length,
      payoutClaims: claims.length,
      stakes: stakes.length,
      slashes: slashes.length,
      growthEpochs: epochs.length,
      bounties: bounties.length,
      rounds,
    },
  };
}
