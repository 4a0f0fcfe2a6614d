/**
 * subgraph/src/mappings/job-market.ts against real JobMarket events on the EDR chain (`hardhat node`), indexed by
 * the local graph host from the `graph build` output. One auction epoch with K = 2 and at most 4 commitments: five
 * jobs bid, the fifth evicts the smallest deposit and never reveals (forfeited), the two highest are scheduled at the
 * third-highest bid, the third loses; the evicted job is withdrawn; the winners get their cohorts (bench/fixture's
 * JobLifecycle: seed armed and fixed, CohortAssigned), one settles (EscrowPaid, EscrowRefunded) and one fails its
 * quality requirement (JobFailed); the loser expires after its bidding deadline; governance sets the params (new
 * auction timing), the treasury and a module. Every expected value is read from the chain with viem or decoded from
 * the chain's logs; every JobMarket handler runs.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { getAddress, type Address, type Hex } from "viem";
import { implementationOf } from "#sdk/chain/governance.ts";
import { JobStatus } from "#sdk/chain/enums.ts";
import { bidCommitment, ETHER, label } from "../../../bench/fixture/protocol.ts";
import {
  JOB,
  JOB_LIFECYCLE_CONFIG,
  jobResult,
  JobLifecycle,
  who,
} from "../../../bench/fixture/job-run.ts";
import {
  expectEventFields,
  jsonOf,
  parameterValues,
  startIndexedProtocol,
  type DecodedLog,
  type EntityJson,
  type IndexedProtocol,
} from "../helpers/indexed-protocol.ts";

/** IJobMarket.JobStatus names by value (the subgraph stores the name). */
const STATUS = Object.keys(JobStatus) as (keyof typeof JobStatus)[];
/** Deposits (= bids) of jobs 1–4 in commit order; the fifth evicts the fourth with `EVICTING`. */
const DEPOSITS = [5n, 4n, 3n, 1n].map((d) => d * ETHER);
const EVICTING = 2n * ETHER;
const COHORT = 10;

interface ChainJob {
  customer: Address;
  status: number;
  deadline: number;
  escrow: bigint;
  minDevices: number;
  maxDevices: number;
  deviceCount: number;
  algorithmId: bigint;
  rewardPerDevice: bigint;
  minParticipants: number;
  maxStdError: bigint;
  scheduledEpoch: number;
  bidEpoch: number;
  distributor: Address;
  aggregator: Address;
  cohortRoot: Hex;
}

const str = (v: unknown) => String(v);
/** The log with its small integers (decoded as numbers) as bigints, as the entities store every uint. */
const big = (l: DecodedLog): DecodedLog => ({
  ...l,
  args: Object.fromEntries(
    Object.entries(l.args).map(([k, v]) => [k, typeof v === "number" ? BigInt(v) : v]),
  ),
});
const lower = (a: string) => a.toLowerCase();

describe("subgraph mapping: JobMarket", () => {
  let ix: IndexedProtocol;
  let life: JobLifecycle;
  let epoch: bigint;
  /** Jobs 1–5 of the auction: [won and settled, won and failed, lost then expired, evicted then withdrawn, forfeited]. */
  const jobs: bigint[] = [];
  /** AuctionEpoch and chain epochInfo read between the commits and the finalisation. */
  let midEpoch: { entity: EntityJson | null; bidCount: bigint };
  let logs: DecodedLog[];
  const market = () => ix.env.addr("JobMarket");
  const jm = (name: string, jobId?: bigint) =>
    logs.filter(
      (l) =>
        l.contract === "JobMarket" &&
        l.eventName === name &&
        (jobId === undefined || l.args.jobId === jobId),
    );

  before(async () => {
    ix = await startIndexedProtocol({
      ...JOB_LIFECYCLE_CONFIG,
      jobMarket: { ...JOB_LIFECYCLE_CONFIG.jobMarket, maxBidsPerEpoch: 4 },
    });
    const { env } = ix;
    life = await JobLifecycle.on(env);
    const { customer, keeper } = life;
    await life.ensureConnected(COHORT);

    epoch = await env.warpToCommitWindow();
    for (let i = 0; i < 5; i++) {
      await env.send(customer, "JobMarket", "createJob", [life.spec(COHORT)]);
      jobs.push(await env.read<bigint>("JobMarket", "jobCount"));
    }
    const salt = (j: bigint) => label(`sg-bid-${j}`);
    const c = who(customer);
    for (const [i, d] of DEPOSITS.entries())
      await env.send(customer, "JobMarket", "commitBid", [
        jobs[i],
        bidCommitment(jobs[i]!, d, salt(jobs[i]!), c),
        d,
      ]);
    // the epoch is full: job 5 takes job 4's place (the one after job 3, with a smaller deposit)
    await env.send(customer, "JobMarket", "commitBidEvicting", [
      jobs[4],
      bidCommitment(jobs[4]!, EVICTING, salt(jobs[4]!), c),
      EVICTING,
      jobs[3],
      jobs[2],
    ]);
    await ix.sync();
    midEpoch = {
      entity: await ix.entity("AuctionEpoch", str(epoch)),
      bidCount: (await env.read<{ bidCount: bigint }>("JobMarket", "epochInfo", [epoch])).bidCount,
    };

    const [, commitEnd, revealEnd] = await env.epochWindows(epoch);
    await env.warpTo(commitEnd!);
    for (const i of [0, 1, 2])
      await env.send(keeper, "JobMarket", "revealBid", [jobs[i], DEPOSITS[i], salt(jobs[i]!)]);
    await env.warpTo(revealEnd!);
    await env.send(keeper, "JobMarket", "finalizeEpoch", [epoch]);
    await env.send(customer, "JobMarket", "withdrawJob", [jobs[3]]);

    // both winners get their cohorts; one settles, the other reports a failed quality requirement
    const devices = await life.assignDevices(jobs[0]!, COHORT);
    await life.assignDevices(jobs[1]!, COHORT);
    const entries = life.payouts(devices);
    await life.attest(jobs[0]!, jobResult(entries).result, JOB.TRANSCRIPT);
    await life.report(jobs[0]!, entries);
    await life.attest(jobs[1]!, jobResult([], false).result, JOB.TRANSCRIPT);
    await life.report(jobs[1]!, [], false);

    // the loser is not bid again: its bidding deadline passes and anyone expires it
    const lost = await env.read<ChainJob>("JobMarket", "getJob", [jobs[2]]);
    await env.warpTo(BigInt(lost.deadline) + 1n);
    await env.send(keeper, "JobMarket", "timeout", [jobs[2]]);

    // governance: new auction timing (from the next epoch), a new treasury, the attestation module set again
    const params = await env.read<Record<string, unknown> & { epochLength: number }>(
      "JobMarket",
      "params",
    );
    await env.asGovernance("JobMarket", "setParams", [
      { ...params, epochLength: params.epochLength * 2 },
    ]);
    await env.asGovernance("JobMarket", "setTreasury", [who(env.wallet(13))]);
    const role = await env.read<Hex>("JobMarket", "ATTESTATION_MODULE");
    await env.asGovernance("JobMarket", "setModule", [role, env.addr("ResultAttestation")]);
    await ix.sync();
    logs = await ix.logs();
  });
  after(async () => ix?.stop());

  it("the auction went as its rules say: two winners at the third bid, one loser, one forfeit, one eviction", async () => {
    const [won, failed, lost, evicted, forfeited] = jobs as [
      bigint,
      bigint,
      bigint,
      bigint,
      bigint,
    ];
    assert.deepEqual(
      jm("JobScheduled").map((l) => [l.args.jobId, l.args.rank, l.args.price]),
      [
        [won, 0n, DEPOSITS[2]],
        [failed, 1n, DEPOSITS[2]],
      ],
    );
    assert.deepEqual(
      jm("BidLost").map((l) => l.args.jobId),
      [lost],
    );
    assert.deepEqual(
      jm("BidEvicted").map((l) => [l.args.jobId, l.args.byJobId]),
      [[evicted, forfeited]],
    );
    assert.deepEqual(
      jm("BidForfeited").map((l) => l.args.jobId),
      [forfeited],
    );
    assert.deepEqual(
      jm("JobWithdrawn").map((l) => l.args.jobId),
      [evicted],
    );
    assert.deepEqual(
      jm("JobExpired").map((l) => l.args.jobId),
      [lost],
    );
    assert.deepEqual(
      jm("JobFailed").map((l) => l.args.jobId),
      [failed],
    );
    const statuses = await Promise.all(
      jobs.map((j) => ix.env.read<number>("JobMarket", "status", [j])),
    );
    assert.deepEqual(
      statuses.map((s) => STATUS[s]),
      ["Settled", "Failed", "Expired", "Cancelled", "Created"],
    );
  });

  it("every job holds its terms, status, deadline, escrow, cohort and auction result as getJob reads them", async () => {
    const { env } = ix;
    for (const j of jobs) {
      const e = await ix.entity("Job", str(j));
      assert.ok(e, `job ${j}`);
      const c = await env.read<ChainJob>("JobMarket", "getJob", [j]);
      const m = `job ${j}`;
      const [created] = jm("JobCreated", j);
      assert.ok(created);
      assert.equal(e.jobId, str(j), m);
      assert.deepEqual(e.customer, { id: lower(c.customer) }, m);
      assert.deepEqual(e.algorithm, { id: str(c.algorithmId) }, m);
      const alg = await env.read<{ schema: Hex }>("AlgorithmMarketplace", "getAlgorithm", [
        c.algorithmId,
      ]);
      assert.equal(e.schema, lower(alg.schema), m);
      assert.equal(e.status, STATUS[c.status], m);
      assert.equal(e.deadline, str(c.deadline), m);
      assert.equal(e.escrow, str(c.escrow), m);
      assert.equal(e.minDevices, str(c.minDevices), m);
      assert.equal(e.maxDevices, str(c.maxDevices), m);
      assert.equal(e.rewardPerDevice, str(c.rewardPerDevice), m);
      assert.equal(e.minParticipants, str(c.minParticipants), m);
      assert.equal(e.maxStdError, str(c.maxStdError), m);
      assert.equal(
        e.budget,
        str(await env.read("JobMarket", "budgetOf", [c.maxDevices, c.rewardPerDevice])),
        m,
      );
      assert.ok(expectEventFields(e, big(created), { escrow: "budget" }) >= 6, m);
      assert.equal(e.createdAtBlock, str(created.log.blockNumber), m);
      assert.equal(
        e.createdAt,
        str((await env.pub.getBlock({ blockNumber: created.log.blockNumber! })).timestamp),
        m,
      );

      // auction: every commitment, the current bid, the scheduling epoch and price
      const commits = jm("BidCommitted", j);
      assert.equal(e.bidCount, commits.length, m);
      const last = commits.at(-1)!;
      assert.deepEqual(e.currentBid, { id: `${j}-${last.args.epoch}-${commits.length}` }, m);
      assert.equal(BigInt(c.bidEpoch), last.args.epoch, m);
      const [scheduled] = jm("JobScheduled", j);
      if (scheduled) {
        assert.deepEqual(e.scheduledEpoch, { id: str(c.scheduledEpoch) }, m);
        const info = await env.read<{ clearingPrice: bigint }>("JobMarket", "epochInfo", [
          BigInt(c.scheduledEpoch),
        ]);
        assert.equal(e.clearingPrice, str(info.clearingPrice), m);
        assert.equal(e.rank, str(scheduled.args.rank), m);
      } else {
        assert.equal(e.scheduledEpoch, null, m);
        assert.equal(e.clearingPrice, null, m);
        assert.equal(e.rank, null, m);
      }

      // cohort and nodes
      const assigned = c.deviceCount > 0;
      assert.equal(e.deviceCount, assigned ? str(c.deviceCount) : null, m);
      assert.equal(e.distributor, assigned ? lower(c.distributor) : null, m);
      assert.equal(e.aggregator, assigned ? lower(c.aggregator) : null, m);
      assert.deepEqual(e.cohort, assigned ? { id: str(j) } : null, m);

      // money: refunds (withdrawal, expiry, settlement's rest), paid to settlement, fail reason
      const sum = (ls: DecodedLog[], k: string) =>
        ls.reduce((a, l) => a + (l.args[k] as bigint), 0n);
      assert.equal(
        e.refund,
        str(
          sum(jm("JobWithdrawn", j), "refund") +
            sum(jm("JobExpired", j), "refund") +
            sum(jm("EscrowRefunded", j), "amount"),
        ),
        m,
      );
      assert.equal(e.paidToSettlement, str(sum(jm("EscrowPaid", j), "amount")), m);
      const [fail] = jm("JobFailed", j);
      assert.equal(e.failReason, fail ? jsonOf(fail.args.reason) : null, m);
    }
  });

  it("every job records the time and block of each phase it entered (JobStatusChanged), and nothing else", async () => {
    const { env } = ix;
    for (const j of jobs) {
      const e = await ix.entity("Job", str(j));
      assert.ok(e);
      const entered = new Map<string, DecodedLog>();
      for (const l of jm("JobStatusChanged", j)) entered.set(STATUS[Number(l.args.to)]!, l);
      for (const s of STATUS.slice(2)) {
        const field = s.charAt(0).toLowerCase() + s.slice(1);
        const l = entered.get(s);
        if (!l) {
          assert.equal(e[`${field}At`], null, `job ${j} ${s}`);
          assert.equal(e[`${field}AtBlock`], null, `job ${j} ${s}`);
          continue;
        }
        const block = await env.pub.getBlock({ blockNumber: l.log.blockNumber! });
        assert.equal(e[`${field}At`], str(block.timestamp), `job ${j} ${s}`);
        assert.equal(e[`${field}AtBlock`], str(block.number), `job ${j} ${s}`);
      }
    }
    // the settled job passed every phase
    const settled = jm("JobStatusChanged", jobs[0]).map((l) => STATUS[Number(l.args.to)]);
    assert.deepEqual(settled, [
      "Created",
      "Bidding",
      "Scheduled",
      "Assigned",
      "Committed",
      "Attested",
      "Reported",
      "Settled",
    ]);
  });

  it("every JobStatusChanged is a JobStatusChange with the status names and deadline", async () => {
    const changes = jm("JobStatusChanged");
    assert.ok(changes.length >= 25);
    for (const l of changes) {
      const e = await ix.eventEntityOf("JobStatusChange", l);
      assert.deepEqual(e.job, { id: str(l.args.jobId) });
      assert.equal(e.from, STATUS[Number(l.args.from)]);
      assert.equal(e.to, STATUS[Number(l.args.to)]);
      assert.equal(e.deadline, str(l.args.deadline));
      assert.equal(e.blockNumber, str(l.log.blockNumber));
      assert.equal(e.transactionHash, l.log.transactionHash);
    }
  });

  it("every bid holds its commitment, deposit, reveal and outcome (won, lost, forfeited, evicted)", async () => {
    const bids = await ix.entities("Bid");
    assert.equal(bids.length, jm("BidCommitted").length);
    for (const c of jm("BidCommitted")) {
      const j = c.args.jobId as bigint;
      const ep = c.args.epoch as bigint;
      const n = jm("BidCommitted", j).indexOf(c) + 1;
      const b = bids.find((x) => x.id === `${j}-${ep}-${n}`);
      assert.ok(b, `bid of job ${j}`);
      const m = `bid ${b.id}`;
      assert.deepEqual(b.job, { id: str(j) }, m);
      assert.deepEqual(b.epoch, { id: str(ep) }, m);
      assert.equal(expectEventFields(b, c), 4, m); // epoch, commitment, deposit, index
      assert.equal(
        b.committedAt,
        str((await ix.env.pub.getBlock({ blockHash: c.log.blockHash! })).timestamp),
        m,
      );
      const of = (name: string) => jm(name, j).find((l) => l.args.epoch === ep);
      const revealed = of("BidRevealed");
      assert.equal(b.revealed, revealed !== undefined, m);
      assert.equal(b.bid, revealed ? str(revealed.args.bid) : null, m);
      const won = of("JobScheduled");
      const lost = of("BidLost");
      const forfeited = of("BidForfeited");
      const evicted = of("BidEvicted");
      const settledBy = won ?? lost ?? forfeited ?? evicted;
      assert.ok(settledBy, m);
      assert.equal(b.outcome, won ? "Won" : lost ? "Lost" : forfeited ? "Forfeited" : "Evicted", m);
      assert.equal(b.refund, str(settledBy.args.refund), m);
      assert.equal(b.rank, won ? str(won.args.rank) : null, m);
      assert.equal(b.price, won ? str(won.args.price) : null, m);
      assert.equal(b.penalty, forfeited ? str(forfeited.args.penalty) : null, m);
      assert.deepEqual(b.evictedBy, evicted ? { id: str(evicted.args.byJobId) } : null, m);
      const block = await ix.env.pub.getBlock({ blockHash: settledBy.log.blockHash! });
      assert.equal(b.settledAt, str(block.timestamp), m);
      // the chain's rule: a winner pays the clearing price, a forfeit its penalty, the others get all back
      const deposit = c.args.deposit as bigint;
      const kept = won
        ? (won.args.price as bigint)
        : forfeited
          ? (forfeited.args.penalty as bigint)
          : 0n;
      assert.equal(BigInt(b.refund as string), deposit - kept, m);
    }
  });

  it("the auction epoch holds its counts, clearing price, seed block and seed as epochInfo / epochSeed read them", async () => {
    const { env } = ix;
    const info = await env.read<{
      bidCount: bigint;
      finalized: boolean;
      clearingPrice: bigint;
      scheduledCount: number;
      revealedCount: number;
    }>("JobMarket", "epochInfo", [epoch]);
    const e = await ix.entity("AuctionEpoch", str(epoch));
    assert.ok(e);
    assert.equal(e.epoch, str(epoch));
    assert.equal(e.bidCount, str(info.bidCount));
    assert.equal(e.finalized, info.finalized);
    assert.equal(e.finalized, true);
    assert.equal(e.clearingPrice, str(info.clearingPrice));
    assert.equal(e.scheduledCount, str(info.scheduledCount));
    assert.equal(e.revealedCount, str(info.revealedCount));
    const [fin] = jm("EpochFinalized");
    assert.ok(fin);
    assert.equal(
      e.finalizedAt,
      str((await env.pub.getBlock({ blockHash: fin.log.blockHash! })).timestamp),
    );
    const armed = jm("EpochSeedArmed").filter((l) => l.args.epoch === epoch);
    assert.ok(armed.length >= 1);
    assert.equal(e.seedBlock, str(armed.at(-1)!.args.blockNumber));
    const seed = await env.read<Hex>("JobMarket", "epochSeed", [epoch]);
    assert.equal(e.seed, lower(seed));
    const fixed = jm("EpochSeedFixed");
    assert.equal(fixed.length, 1);
    assert.equal(fixed[0]!.args.seed, seed);
    assert.equal(
      seed,
      (await env.pub.getBlock({ blockNumber: armed.at(-1)!.args.blockNumber as bigint })).hash,
    );
    // between the commits and the finalisation the epoch already counted the commitments the chain holds
    assert.ok(midEpoch.entity);
    assert.equal(midEpoch.entity.finalized, false);
    assert.equal(midEpoch.entity.bidCount, str(midEpoch.bidCount));
  });

  it("each assigned cohort holds its root, size, nodes and list CID as getJob and CohortAssigned give them", async () => {
    const { env } = ix;
    const assigned = jm("CohortAssigned");
    assert.deepEqual(
      assigned.map((l) => l.args.jobId),
      [jobs[0], jobs[1]],
    );
    for (const l of assigned) {
      const j = l.args.jobId as bigint;
      const e = await ix.entity("Cohort", str(j));
      assert.ok(e);
      const c = await env.read<ChainJob>("JobMarket", "getJob", [j]);
      assert.deepEqual(e.job, { id: str(j) });
      assert.equal(e.root, lower(c.cohortRoot));
      assert.equal(e.deviceCount, str(c.deviceCount));
      assert.equal(e.distributor, lower(c.distributor));
      assert.equal(e.aggregator, lower(c.aggregator));
      assert.equal(getAddress(c.distributor), who(life.distributor));
      assert.equal(expectEventFields(e, big(l), { cohortRoot: "root", cohortCid: "cid" }), 5);
      assert.equal(e.cid, JOB.COHORT);
      assert.equal(e.assignedAtBlock, str(l.log.blockNumber));
    }
  });

  it("the protocol counts jobs by status, volume, per-use fees and auction revenue as the chain does", async () => {
    const { env } = ix;
    const p = await ix.entity("Protocol", "1");
    assert.ok(p);
    const count = await env.read<bigint>("JobMarket", "jobCount");
    assert.equal(p.jobCount, str(count));
    const byStatus = new Map<string, number>();
    let volume = 0n;
    for (let j = 1n; j <= count; j++) {
      const s = STATUS[await env.read<number>("JobMarket", "status", [j])]!;
      byStatus.set(s, (byStatus.get(s) ?? 0) + 1);
      volume += jm("JobCreated", j)[0]!.args.escrow as bigint;
    }
    for (const s of STATUS.slice(1))
      assert.equal(p[`jobs${s}`], str(byStatus.get(s) ?? 0), `jobs${s}`);
    assert.equal(p.jobVolume, str(volume));
    assert.equal(
      p.usePaid,
      str(jm("JobCreated").reduce((a, l) => a + (l.args.usePaid as bigint), 0n)),
    );
    assert.equal(p.usePaid, str(JOB.USE_PRICE * count));
    const info = await env.read<{ clearingPrice: bigint; scheduledCount: number }>(
      "JobMarket",
      "epochInfo",
      [epoch],
    );
    assert.equal(p.auctionRevenue, str(info.clearingPrice * BigInt(info.scheduledCount)));
  });

  it("governance: params, auction timing, treasury and module changes, the proxy's implementation and governance", async () => {
    const { env } = ix;
    const changes = jm("ParamsUpdated").concat(
      jm("AuctionTimingScheduled"),
      jm("TreasuryUpdated"),
      jm("ModuleSet"),
    );
    // the deployment set each; governance once more each
    for (const n of ["ParamsUpdated", "AuctionTimingScheduled", "TreasuryUpdated", "ModuleSet"])
      assert.ok(jm(n).length >= 2, n);
    for (const l of changes) {
      const e = await ix.eventEntityOf("ParameterChange", l);
      assert.equal(e.event, l.eventName);
      assert.deepEqual(e.contract, { id: lower(market()) });
      assert.deepEqual(e.values, parameterValues(l));
    }
    const timing = jm("AuctionTimingScheduled").at(-1)!;
    const params = await env.read<{ epochLength: number }>("JobMarket", "params");
    assert.equal(Number(timing.args.epochLength), params.epochLength);
    const [, , , end] = await env.epochWindows(timing.args.fromEpoch as bigint);
    assert.equal(
      (timing.args.startTime as bigint) + BigInt(params.epochLength),
      end,
      "the new timing is in force from its epoch",
    );
    const treasury = jm("TreasuryUpdated").at(-1)!;
    assert.equal(treasury.args.newTreasury, await env.read("JobMarket", "treasury"));
    const module = jm("ModuleSet").at(-1)!;
    assert.equal(module.args.module, await env.read("JobMarket", "moduleOf", [module.args.role]));

    const c = await ix.entity("ProtocolContract", lower(market()));
    assert.ok(c);
    assert.equal(c.name, "JobMarket");
    assert.equal(c.implementation, lower(await implementationOf(ix.chain.pub as never, market())));
    assert.equal(c.governance, lower(env.addr("TimelockController")));
    assert.equal(c.initializedVersion, "1");
    assert.equal(c.upgradeCount, 1);
  });

  it("every JobMarket handler ran", () => {
    ix.assertHandlersRan(["JobMarket"]);
  });
});
