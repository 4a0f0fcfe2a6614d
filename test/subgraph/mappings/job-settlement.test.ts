/**
 * subgraph/src/mappings/result-attestation.ts and settlement.ts against real ResultAttestation and Settlement events
 * on the EDR chain (`hardhat node`), indexed by the local graph host from the `graph build` output. One scenario
 * (bench/fixture/job-run.ts's JobLifecycle) drives both: a settled job whose devices claim all leaves but one (swept
 * after the claim window), a job whose lying attestor is slashed (finalised by a keeper), a reordered cohort disproved
 * by an order challenge (the distributor slashed), node and protocol fee withdrawals, and governance's ParamsUpdated
 * and ClaimWindowUpdated; the deployment's own Initialized / Upgraded / GovernanceTransferred. Every expected value
 * is read from the chain with viem or decoded from the chain's logs; every handler of both data sources runs.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { getAddress, type Address, type Hex } from "viem";
import { buildCohortTree } from "#sdk/chain/cohort.ts";
import { implementationOf } from "#sdk/chain/governance.ts";
import { Role } from "#sdk/chain/enums.ts";
import type { PayoutTree } from "#sdk/chain/payouts.ts";
import { JobStatus, type ProtocolEnv } from "../../../bench/fixture/protocol.ts";
import {
  JOB,
  JOB_LIFECYCLE_CONFIG,
  JobLifecycle,
  swapPositions,
  who,
  type JobRun,
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

const lower = (a: string) => a.toLowerCase();
const statusName = (i: number) => Object.entries(JobStatus).find(([, v]) => v === i)![0];
const roleName = (i: number) => Object.entries(Role).find(([, v]) => v === i)![0];
const ATTESTATION_STATUS = ["None", "Drawn", "Committed", "Attested", "Failed"];

interface AttestationRead {
  status: number;
  aggregator: Address;
  commitDeadline: bigint;
  revealDeadline: bigint;
  agreeMask: number;
  aggregateHash: Hex;
  finalHash: Hex;
  aggregatorCommitment: Hex;
  attestors: readonly Address[];
  distributor: Address;
  connectedEpoch: bigint;
}
interface ReportRead {
  payoutRoot: Hex;
  payoutTotal: bigint;
  claimed: bigint;
  claimDeadline: bigint;
  swept: boolean;
}

describe("subgraph mapping: ResultAttestation and Settlement (a job's attestation and settlement)", () => {
  let ix: IndexedProtocol;
  let env: ProtocolEnv;
  let L: JobLifecycle;
  /** Settled; every device but the last leaf claims; the rest is swept. */
  let honest: JobRun;
  let tree: PayoutTree;
  /** Settled; the attestor at index 1 lied and was slashed. */
  let lied: JobRun;
  /** Failed: its reordered cohort was disproved. */
  let challenged: bigint;
  let distributorFees: bigint;
  let protocolFees: bigint;
  let logs: DecodedLog[];

  const ofJob = (name: string, jobId: bigint, contract?: string) =>
    logs.filter(
      (l) =>
        l.eventName === name &&
        (contract === undefined || l.contract === contract) &&
        l.args.jobId === jobId,
    );
  const timestampOf = async (l: DecodedLog) =>
    String((await env.pub.getBlock({ blockNumber: l.log.blockNumber! })).timestamp);

  before(async () => {
    ix = await startIndexedProtocol(JOB_LIFECYCLE_CONFIG);
    env = ix.env;
    L = await JobLifecycle.on(env);

    honest = await L.runToAttested(10);
    tree = (await L.report(honest.jobId, L.payouts(honest.devices))).tree!;
    const claims = tree.claims();
    for (const c of claims.slice(0, -1)) {
      const d = honest.devices.find((x) => getAddress(x.address) === c.account)!;
      await env.send(await env.localWallet(d), "Settlement", "claim", [
        honest.jobId,
        c.index,
        c.account,
        c.amount,
        c.proof,
      ]);
    }

    lied = await L.runToAttested(10, { liarIndex: 1 });
    await L.report(lied.jobId, L.payouts(lied.devices));

    // the distributor swaps two members of a fair draw; a watcher proves it
    challenged = await L.schedule(L.spec(10));
    const fair = await L.drawCohortOf(challenged, 10);
    const swapped = swapPositions(fair.members, 3, 4);
    const bad = buildCohortTree(swapped);
    await L.assign(challenged, bad.root, 10, JOB.COHORT, fair.connectedEpoch);
    await env.send(env.wallet(13), "ResultAttestation", "challengeCohortOrder", [
      challenged,
      bad.proofAt(3),
      bad.proofAt(4),
    ]);

    distributorFees = await env.read<bigint>("Settlement", "feesOf", [who(L.distributor)]);
    await env.send(L.keeper, "Settlement", "withdrawFees", [who(L.distributor)]);
    protocolFees = await env.read<bigint>("Settlement", "protocolFees");
    await env.send(L.keeper, "Settlement", "withdrawProtocolFees", []);

    const pool = await env.read<ReportRead>("Settlement", "reportOf", [honest.jobId]);
    await env.warpTo(BigInt(pool.claimDeadline) + 1n);
    await env.send(L.keeper, "Settlement", "sweep", [honest.jobId]);

    const window = await env.read<bigint>("Settlement", "claimWindow");
    await env.asGovernance("Settlement", "setClaimWindow", [window + 86_400n]);
    const params = await env.read<{
      quorum: number;
      commitWindowBps: number;
      revealWindowBps: number;
      slashAmount: bigint;
      kMin: number;
    }>("ResultAttestation", "params");
    await env.asGovernance("ResultAttestation", "setParams", [
      { ...params, slashAmount: params.slashAmount * 2n },
    ]);
    await ix.sync();
    logs = await ix.logs();
  });
  after(async () => ix?.stop());

  /**
   * The drawn attestors (as `attestationOf` read them while the job was open: its round is cleared once the job
   * closes) whose bit is set in the job's agree mask (lower-case).
   */
  function agreeingOf(run: JobRun): string[] {
    const [fin] = ofJob("AttestationFinalized", run.jobId);
    assert.ok(fin);
    const mask = Number(fin.args.agreeMask);
    return run.attestors.filter((_, i) => (mask >> i) & 1).map(lower);
  }

  /** The job's votes, in the order of its drawn attestors, through the Attestation's derived `votes`. */
  async function votesOf(run: JobRun): Promise<EntityJson[]> {
    const { jobId } = run;
    const r = await ix.query<{ attestation: { votes: { id: string }[] } | null }>(
      `{ attestation(id: "${jobId}") { votes { id } } }`,
    );
    assert.ok(r.attestation);
    const ids = run.attestors.map((a) => `${jobId}-${lower(a)}`);
    assert.deepEqual(r.attestation.votes.map((v) => v.id).sort(), [...ids].sort());
    return Promise.all(
      ids.map(async (id) => {
        const v = await ix.entity("AttestorVote", id);
        assert.ok(v, `AttestorVote ${id}`);
        return v;
      }),
    );
  }

  async function expectAttestation(run: JobRun): Promise<EntityJson> {
    const a = await ix.entity("Attestation", String(run.jobId));
    assert.ok(a, `Attestation ${run.jobId}`);
    const read = await env.read<AttestationRead>("ResultAttestation", "attestationOf", [run.jobId]);
    assert.equal(a.status, ATTESTATION_STATUS[read.status]);
    assert.deepEqual(a.job, { id: String(run.jobId) });
    assert.equal(a.distributor, lower(read.distributor));
    assert.equal(a.aggregator, lower(read.aggregator));
    assert.deepEqual(a.attestors, run.attestors.map(lower));
    assert.equal(a.connectedEpoch, String(read.connectedEpoch));
    // the round's windows, attestors and masks are gone once a later job reuses the round: the logs keep them
    assert.equal(a.aggregateHash, read.aggregateHash);
    assert.equal(a.finalHash, read.finalHash);
    const [drawn] = ofJob("AttestorsDrawn", run.jobId);
    assert.ok(drawn);
    assert.equal(expectEventFields(a, drawn), 4, "distributor, seed, connectedEpoch, attestors");
    assert.equal(a.drawnAt, await timestampOf(drawn));
    const [committed] = ofJob("AggregateCommitted", run.jobId);
    assert.ok(committed);
    // the read zeroes the commitment once revealed: the event keeps it
    assert.equal(read.aggregatorCommitment, `0x${"00".repeat(32)}`);
    assert.equal(expectEventFields(a, committed), 5);
    assert.equal(a.transcriptCid, JOB.TRANSCRIPT);
    const [revealed] = ofJob("AggregateRevealed", run.jobId);
    assert.ok(revealed);
    assert.equal(expectEventFields(a, revealed), 2, "aggregator, aggregateHash");
    const [fin] = ofJob("AttestationFinalized", run.jobId);
    assert.ok(fin);
    assert.equal(expectEventFields(a, fin), 6);
    assert.equal(a.finalizedAt, await timestampOf(fin));
    assert.equal(a.attested, true);

    const votes = await votesOf(run);
    assert.deepEqual(
      votes.map((v) => v.attestor),
      run.attestors.map(lower),
      "one vote per drawn attestor",
    );
    for (const v of votes) {
      assert.deepEqual(v.attestation, { id: String(run.jobId) });
      assert.equal(v.id, `${run.jobId}-${v.attestor as string}`);
      const mine = (l: DecodedLog) => lower(l.args.attestor as string) === v.attestor;
      const c = ofJob("AttestationCommitted", run.jobId).find(mine);
      const r = ofJob("AttestationRevealed", run.jobId).find(mine);
      assert.ok(c && r);
      assert.equal(expectEventFields(v, c), 2, "attestor, commitment");
      assert.equal(expectEventFields(v, r), 2, "attestor, aggregateHash");
      assert.equal(v.committedAt, await timestampOf(c));
      assert.equal(v.revealedAt, await timestampOf(r));
    }
    return a;
  }

  it("an attested job: the Attestation and each attestor's vote as attestationOf and the logs give them", async () => {
    const a = await expectAttestation(honest);
    assert.equal(a.finalHash, await env.read("ResultAttestation", "resultOf", [honest.jobId]));
    assert.equal(a.faultMask, 0);
    assert.equal(a.majority, true);
    const votes = await votesOf(honest);
    for (const v of votes) assert.equal(v.aggregateHash, a.finalHash, "unanimous");
  });

  it("a lying attestor: its vote differs, its fault is in the mask, a JobSlash and a NodeStaking Slash record it", async () => {
    const a = await expectAttestation(lied);
    const liar = lied.attestors[1]!;
    // agreeingAttestors is cleared once the job closes: the agree mask keeps who agreed
    const agreeing = agreeingOf(lied);
    assert.equal(agreeing.length, 2);
    assert.ok(!agreeing.includes(lower(liar)));
    assert.equal(a.faultMask, 1 << 1, "the fault mask names the attestor at index 1");
    const vote = await ix.entity("AttestorVote", `${lied.jobId}-${lower(liar)}`);
    assert.ok(vote);
    assert.notEqual(vote.aggregateHash, a.finalHash);

    const slashes = ofJob("NodeSlashed", lied.jobId, "ResultAttestation");
    assert.equal(slashes.length, 1);
    const log = slashes[0]!;
    assert.equal(getAddress(log.args.node as Address), liar);
    const s = await ix.eventEntityOf("JobSlash", log);
    assert.equal(expectEventFields(s, log, { role: "-" }), 3, "node, amount, challenger");
    assert.deepEqual(s.job, { id: String(lied.jobId) });
    assert.equal(s.role, roleName(Number(log.args.role)));
    assert.equal(s.role, "Attestor");
    assert.equal(s.transactionHash, log.log.transactionHash);
    assert.equal(s.blockNumber, String(log.log.blockNumber));
    const stake = await env.read<bigint>("NodeStaking", "stakeOf", [liar, Role.Attestor]);
    const staked = logs.find(
      (l) =>
        l.contract === "NodeStaking" &&
        l.eventName === "Slashed" &&
        l.log.transactionHash === log.log.transactionHash,
    );
    assert.ok(staked, "NodeStaking.Slashed in the same transaction");
    const slash = await ix.eventEntityOf("Slash", staked);
    assert.equal(slash.amount, s.amount);
    assert.deepEqual(slash.node, { id: lower(liar) });
    const stakeEntity = await ix.entity("Stake", `${lower(liar)}-${Role.Attestor}`);
    assert.ok(stakeEntity);
    assert.deepEqual(slash.stake, { id: stakeEntity.id });
    assert.equal(stakeEntity.bonded, String(stake));
    assert.equal(stakeEntity.slashed, s.amount);
  });

  it("an order challenge: the CohortChallenge, the distributor's JobSlash, the job failed", async () => {
    const [log] = ofJob("CohortChallenged", challenged);
    assert.ok(log);
    const c = await ix.eventEntityOf("CohortChallenge", log);
    // the entity names the fault: the index is compared below
    assert.equal(expectEventFields(c, log, { fault: "-" }), 3, "distributor, challenger, slashed");
    assert.equal(log.args.fault, 3, "IResultAttestation.CohortFault.OutOfOrder");
    assert.deepEqual(c.cohort, { id: String(challenged) });
    assert.equal(c.distributor, lower(who(L.distributor)));
    assert.equal(c.challenger, lower(who(env.wallet(13))));
    assert.equal(c.fault, "OutOfOrder");
    assert.equal(c.transactionHash, log.log.transactionHash);
    const [slashLog] = ofJob("NodeSlashed", challenged, "ResultAttestation");
    assert.ok(slashLog);
    assert.equal(slashLog.args.amount, log.args.slashed);
    const s = await ix.eventEntityOf("JobSlash", slashLog);
    assert.equal(s.role, "Distributor");
    assert.equal(s.node, lower(who(L.distributor)));
    assert.equal(s.amount, jsonOf(log.args.slashed));
    const job = await ix.entity("Job", String(challenged));
    assert.ok(job);
    assert.equal(
      job.status,
      statusName(await env.read<number>("JobMarket", "status", [challenged])),
    );
    assert.equal(job.status, "Failed");
    const a = await ix.entity("Attestation", String(challenged));
    assert.ok(a);
    assert.equal(
      a.status,
      ATTESTATION_STATUS[await env.read<number>("ResultAttestation", "statusOf", [challenged])],
    );
  });

  it("reports and splits: Report and JobSplit as the logs and reportOf give them; the Job's phases", async () => {
    for (const run of [honest, lied]) {
      const [posted] = ofJob("ReportPosted", run.jobId);
      assert.ok(posted);
      const r = await ix.entity("Report", String(run.jobId));
      assert.ok(r);
      assert.equal(expectEventFields(r, posted, { participants: "-" }), 9);
      assert.equal(r.participants, String(posted.args.participants));
      const read = await env.read<ReportRead>("Settlement", "reportOf", [run.jobId]);
      assert.equal(r.payoutRoot, read.payoutRoot);
      assert.equal(r.payoutTotal, String(read.payoutTotal));
      assert.equal(r.payoutTotal, String(run.result.payoutTotal));
      assert.equal(r.participants, String(run.result.participants));
      assert.equal(r.success, true);
      assert.equal(r.reporter, lower(who(L.reporter)));

      const [splitLog] = ofJob("JobSplit", run.jobId);
      assert.ok(splitLog);
      const s = await ix.entity("JobSplit", String(run.jobId));
      assert.ok(s);
      expectEventFields(s, splitLog);
      for (const [k, v] of Object.entries(splitLog.args.split as Record<string, unknown>))
        assert.deepEqual(s[k], jsonOf(v), `split.${k}`);
      const agreeing = agreeingOf(run);
      assert.deepEqual(s.attestors, agreeing);
      assert.equal(s.attestorCount, String(agreeing.length));
      assert.equal(s.devicePool, String(read.payoutTotal));

      const job = await ix.entity("Job", String(run.jobId));
      assert.ok(job);
      assert.equal(
        job.status,
        statusName(await env.read<number>("JobMarket", "status", [run.jobId])),
      );
      assert.deepEqual(job.attestation, { id: String(run.jobId) });
      assert.deepEqual(job.report, { id: String(run.jobId) });
      assert.deepEqual(job.split, { id: String(run.jobId) });
      const [fin] = ofJob("AttestationFinalized", run.jobId);
      assert.ok(fin);
      assert.equal(job.attestedAt, await timestampOf(fin));
      assert.equal(job.settledAt, await timestampOf(posted));
      assert.equal(job.settledAtBlock, String(posted.log.blockNumber));
      // every status the job entered is stamped with its block
      for (const l of ofJob("JobStatusChanged", run.jobId)) {
        const to = statusName(Number(l.args.to));
        if (to === "Created") continue;
        const field = `${to.charAt(0).toLowerCase()}${to.slice(1)}At`;
        assert.equal(job[`${field}Block`], String(l.log.blockNumber), field);
      }
      if (
        !ofJob("JobStatusChanged", run.jobId).some((l) => Number(l.args.to) === JobStatus.Reported)
      )
        assert.equal(job.reportedAt, null, "settled in the report's transaction");
    }
  });

  it("device claims and the sweep: PayoutClaim per leaf claimed, the job's claimed total, the PayoutSweep", async () => {
    const read = await env.read<ReportRead>("Settlement", "reportOf", [honest.jobId]);
    const claimLogs = ofJob("PayoutClaimed", honest.jobId);
    assert.equal(claimLogs.length, tree.claims().length - 1);
    for (const log of claimLogs) {
      const c = await ix.entity("PayoutClaim", `${honest.jobId}-${log.args.index as bigint}`);
      assert.ok(c);
      assert.equal(expectEventFields(c, log), 3, "index, account, amount");
      assert.deepEqual(c.job, { id: String(honest.jobId) });
      assert.deepEqual(c.device, c.account, "the claimant is a registered device");
      assert.equal(c.transactionHash, log.log.transactionHash);
      assert.equal(await env.read("Settlement", "isClaimed", [honest.jobId, log.args.index]), true);
    }
    // the unclaimed leaf has no PayoutClaim
    const unclaimed = tree.claims().at(-1)!;
    assert.equal(await env.read("Settlement", "isClaimed", [honest.jobId, unclaimed.index]), false);
    assert.equal(await ix.entity("PayoutClaim", `${honest.jobId}-${unclaimed.index}`), null);
    const job = await ix.entity("Job", String(honest.jobId));
    assert.ok(job);
    assert.equal(job.payoutsClaimed, String(read.claimed));
    assert.equal(job.payoutClaimCount, claimLogs.length);

    assert.equal(read.swept, true);
    const [sweptLog] = ofJob("PayoutSwept", honest.jobId);
    assert.ok(sweptLog);
    const sw = await ix.eventEntityOf("PayoutSweep", sweptLog);
    assert.equal(expectEventFields(sw, sweptLog), 2, "treasury, amount");
    assert.deepEqual(sw.job, { id: String(honest.jobId) });
    assert.equal(sw.amount, String(read.payoutTotal - read.claimed));
    assert.notEqual(sw.amount, "0");
    assert.equal(sw.treasury, lower(await env.read<Address>("JobMarket", "treasury")));
  });

  it("fee withdrawals: a node's and the treasury's FeeWithdrawal", async () => {
    const ofSettlement = (name: string) =>
      logs.filter((l) => l.contract === "Settlement" && l.eventName === name);
    const [nodeLog] = ofSettlement("FeesWithdrawn");
    const [treasuryLog] = ofSettlement("ProtocolFeesWithdrawn");
    assert.ok(nodeLog && treasuryLog);
    const w = await ix.eventEntityOf("FeeWithdrawal", nodeLog);
    assert.equal(expectEventFields(w, nodeLog), 2);
    assert.equal(w.account, lower(who(L.distributor)));
    assert.equal(w.amount, String(distributorFees));
    assert.equal(w.protocol, false);
    assert.equal(await env.read("Settlement", "feesOf", [who(L.distributor)]), 0n);
    const t = await ix.eventEntityOf("FeeWithdrawal", treasuryLog);
    assert.equal(t.account, lower(await env.read<Address>("JobMarket", "treasury")));
    assert.equal(t.amount, String(protocolFees));
    assert.equal(t.protocol, true);
    assert.equal(await env.read("Settlement", "protocolFees"), 0n);
  });

  it("the Protocol totals: fees, protocol fees, device payouts and claims, slashed", async () => {
    const p = await ix.entity("Protocol", "1");
    assert.ok(p);
    // every fee credited is still on the ledger or was withdrawn
    const splits = logs.filter((l) => l.eventName === "JobSplit");
    assert.equal(splits.length, 2);
    const accounts = new Set<Address>();
    for (const l of splits) {
      const s = l.args.split as Record<string, unknown>;
      for (const k of ["distributor", "aggregator", "reporter", "developer", "parentDeveloper"])
        accounts.add(getAddress(s[k] as Address));
      for (const a of l.args.attestors as Address[]) accounts.add(getAddress(a));
    }
    let ledger = await env.read<bigint>("Settlement", "protocolFees");
    for (const a of accounts) ledger += await env.read<bigint>("Settlement", "feesOf", [a]);
    const withdrawn = (name: string) =>
      logs
        .filter((l) => l.contract === "Settlement" && l.eventName === name)
        .reduce((sum, l) => sum + (l.args.amount as bigint), 0n);
    // the marketplace's protocol fee on each job's per-use payment goes to the treasury directly
    const marketFees = logs
      .filter((l) => l.contract === "AlgorithmMarketplace" && "protocolFee" in l.args)
      .reduce((sum, l) => sum + (l.args.protocolFee as bigint), 0n);
    assert.ok(marketFees > 0n);
    assert.equal(
      p.fees,
      String(ledger + withdrawn("FeesWithdrawn") + withdrawn("ProtocolFeesWithdrawn") + marketFees),
    );
    assert.equal(
      p.protocolFees,
      String((await env.read<bigint>("Settlement", "protocolFees")) + protocolFees + marketFees),
    );
    let pools = 0n;
    let claimed = 0n;
    for (const run of [honest, lied]) {
      const r = await env.read<ReportRead>("Settlement", "reportOf", [run.jobId]);
      pools += r.payoutTotal;
      claimed += r.claimed;
    }
    assert.equal(p.devicePayouts, String(pools));
    assert.equal(p.devicePayoutsClaimed, String(claimed));
    assert.notEqual(p.devicePayoutsClaimed, "0");
    // the liar's stake lost what the slash took; the distributor's what the challenge took
    const slashed = logs.filter(
      (l) => l.contract === "ResultAttestation" && l.eventName === "NodeSlashed",
    );
    assert.equal(slashed.length, 2);
    const staking = logs.filter((l) => l.contract === "NodeStaking" && l.eventName === "Slashed");
    const liar = lied.attestors[1]!;
    const liarSlash = slashed.find((l) => getAddress(l.args.node as Address) === liar)!;
    const stakedLogs = logs.filter(
      (l) =>
        l.contract === "NodeStaking" &&
        l.eventName === "Staked" &&
        getAddress(l.args.operator as Address) === liar &&
        Number(l.args.role) === Role.Attestor,
    );
    const liarStaked = stakedLogs.reduce((s, l) => s + (l.args.amount as bigint), 0n);
    assert.equal(
      liarStaked - (await env.read<bigint>("NodeStaking", "stakeOf", [liar, Role.Attestor])),
      liarSlash.args.amount,
    );
    const total = (ls: DecodedLog[]) => ls.reduce((s, l) => s + (l.args.amount as bigint), 0n);
    assert.equal(
      total(staking),
      total(slashed),
      "NodeStaking slashed what ResultAttestation asked",
    );
    assert.equal(p.slashed, String(total(staking)));
  });

  it("governance: ParamsUpdated and ClaimWindowUpdated as ParameterChange; both ProtocolContracts", async () => {
    const params = logs.filter(
      (l) => l.contract === "ResultAttestation" && l.eventName === "ParamsUpdated",
    );
    assert.equal(params.length, 2, "the deployment's and governance's");
    const pLog = params.at(-1)!;
    const pc = await ix.eventEntityOf("ParameterChange", pLog);
    assert.equal(pc.event, "ParamsUpdated");
    assert.deepEqual(pc.values, parameterValues(pLog));
    const read = await env.read<{ slashAmount: bigint }>("ResultAttestation", "params");
    assert.ok((pc.values as string[]).includes(`params.3=${read.slashAmount}`));
    const windows = logs.filter(
      (l) => l.contract === "Settlement" && l.eventName === "ClaimWindowUpdated",
    );
    assert.equal(windows.length, 2);
    const wLog = windows.at(-1)!;
    const wc = await ix.eventEntityOf("ParameterChange", wLog);
    assert.equal(wc.event, "ClaimWindowUpdated");
    assert.deepEqual(wc.values, [
      `claimWindow=${await env.read<bigint>("Settlement", "claimWindow")}`,
    ]);
    for (const name of ["ResultAttestation", "Settlement"]) {
      const address = env.addr(name);
      const c = await ix.entity("ProtocolContract", lower(address));
      assert.ok(c, name);
      assert.equal(c.name, name);
      assert.equal(c.implementation, lower(await implementationOf(ix.chain.pub as never, address)));
      assert.equal(c.governance, lower(env.addr("TimelockController")));
      assert.equal(c.initializedVersion, "1");
      assert.equal(c.upgradeCount, 1);
    }
  });

  it("every ResultAttestation and Settlement handler ran", () => {
    ix.assertHandlersRan(["ResultAttestation", "Settlement"]);
  });
});
