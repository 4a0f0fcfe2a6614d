/**
 * Issue 4 — one prediction job end to end on the in-process EDR chain, deployed by script/deploy.ts:
 * create → sealed bid → finalise the epoch → distributor assigns a cohort (OpenZeppelin Merkle root) through
 * ResultAttestation, which draws 3 attestors from the job's seed → aggregator commits the job's resultHash →
 * attestors commit-reveal → finalise → reporter presents the attested result preimage (aggregate hash, device
 * payout root and total, participants, quality) with the encrypted report → every device claims with its proof.
 * Exact balances for devices, nodes, developer, treasury and customer; a lying attestor is slashed while the honest
 * majority attests; a failed quality requirement refunds the customer less node fees; a result that is not the
 * attested preimage is refused (PROTOCOL.md §7.5); a transcript the attestors cannot fetch makes them reveal INVALID,
 * which fails the job and slashes the aggregator (§7.4). Gas of the whole lifecycle (device claims excluded) for
 * 10 and 200 devices.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { before, describe, it } from "node:test";
import { BaseError, ContractFunctionRevertedError, getAddress, type Address, type Hex } from "viem";
import { TxError } from "#sdk/chain/errors.ts";
import { HeliaStore } from "#sdk/ipfs/index.ts";
import { INVALID, jobSeed, resultHash } from "#sdk/chain/result.ts";
import { buildCohortTree } from "#sdk/chain/cohort.ts";
import { decodeTranscript } from "#sdk/secagg/index.ts";
import {
  BPS,
  JobStatus,
  printGas,
  ProtocolEnv,
  Role,
  sumGas,
  ETHER,
  type GasRow,
} from "../../bench/fixture/protocol.ts";
import {
  JOB,
  jobResult,
  JobLifecycle,
  swapPositions,
  who,
  type RunOptions,
} from "../../bench/fixture/job-run.ts";

/** The custom error (name and arguments) a transaction reverted with. */
async function revertOf(
  p: Promise<unknown>,
): Promise<{ errorName: string; args: readonly unknown[] }> {
  try {
    await p;
  } catch (err) {
    // env.send goes through the TxSender: its TxError names the custom error
    if (err instanceof TxError && err.errorName)
      return { errorName: err.errorName, args: err.errorArgs };
    if (err instanceof BaseError) {
      const r = err.walk((e) => e instanceof ContractFunctionRevertedError);
      if (r instanceof ContractFunctionRevertedError && r.data)
        return { errorName: r.data.errorName, args: r.data.args ?? [] };
    }
    throw err;
  }
  throw new Error("did not revert");
}

const FEES = {
  distributor: 200n,
  aggregator: 300n,
  attestors: 300n,
  reporter: 200n,
  protocol: 250n,
  royalty: 500n,
};
const { REWARD, USE_PRICE, RESERVE, SLASH } = JOB;

describe("Job lifecycle (issue 4): create → attest → settle → device claims", () => {
  let L: JobLifecycle;
  let env: ProtocolEnv;
  const gasByDevices = new Map<string, { gas: bigint; execution: bigint }>();
  const rowsByDevices = new Map<string, GasRow[]>();
  const freshByDevices = new Map<string, bigint>();
  const budget = (maxDevices: bigint) => maxDevices * REWARD;
  const fee = (maxDevices: bigint, bps: bigint) => (budget(maxDevices) * bps) / BPS;
  const feesOf = (a: Address) => env.read<bigint>("Settlement", "feesOf", [a]);
  const runToAttested = (n: number, opts?: RunOptions) => L.runToAttested(n, opts);
  const report = (jobId: bigint, entries: Parameters<JobLifecycle["report"]>[1], ok = true) =>
    L.report(jobId, entries, ok);
  const payouts = (devices: Parameters<JobLifecycle["payouts"]>[0]) => L.payouts(devices);

  before(async () => {
    L = await JobLifecycle.create();
    env = L.env;
  });

  it("deploys and wires ResultAttestation, Settlement and FineTuning through script/deploy.ts", async () => {
    const jm = env.addr("JobMarket");
    const role = await env.read<Hex>("JobMarket", "ATTESTATION_MODULE");
    const sRole = await env.read<Hex>("JobMarket", "SETTLEMENT_MODULE");
    assert.equal(await env.read("JobMarket", "moduleOf", [role]), env.addr("ResultAttestation"));
    assert.equal(await env.read("JobMarket", "moduleOf", [sRole]), env.addr("Settlement"));
    assert.equal(await env.read("NodeStaking", "isSlasher", [env.addr("ResultAttestation")]), true);
    assert.equal(await env.read("NodeStaking", "isSlasher", [env.addr("FineTuning")]), true);
    assert.equal(
      await env.read("AlgorithmMarketplace", "isPublisher", [env.addr("FineTuning")]),
      true,
    );
    const timelock = env.addr("TimelockController");
    for (const n of ["ResultAttestation", "Settlement", "FineTuning", "JobMarket"])
      assert.equal(await env.read(n, "governance"), timelock, `${n} governed by the timelock`);
    assert.equal(await env.read("ResultAttestation", "jobMarket"), jm);
    const p = await env.read<{ kMin: number }>("ResultAttestation", "params");
    assert.equal(p.kMin, 5, "kMin defaults to 5");
  });

  it("lifecycle gas (create → settled, claims excluded) does not depend on the cohort size", async () => {
    // Two jobs in a row per cohort size: the first on the fresh deployment (every fee-ledger entry, pool
    // counter and node balance cold and zero), the second in steady state (nodes already hold credits).
    // Which attestors the job's seed draws is random (the seed is a block hash), and two costs depend on it, not on
    // the cohort: the draw's probing past attestors already chosen (assignCohort), and an attestor's first fee
    // credit, which writes a fresh slot (report). The comparison removes the latter and bounds the former.
    const FRESH_CREDIT = 17_100n; // SSTORE zero → non-zero (20,000) instead of non-zero → non-zero (2,900)
    for (const n of [10, 200]) {
      const snap = await env.conn.networkHelpers.takeSnapshot();
      const sets = [...L.connectedSets];
      for (const phase of ["first job", "steady state"]) {
        const run = await runToAttested(n);
        assert.equal(await env.read("JobMarket", "status", [run.jobId]), JobStatus.Attested);
        const fresh = (await Promise.all(run.attestors.map((a) => feesOf(a)))).filter(
          (x) => x === 0n,
        ).length;
        const r = await report(run.jobId, payouts(run.devices));
        assert.equal(await env.read("JobMarket", "status", [run.jobId]), JobStatus.Settled);
        const rows = [...run.gas, ...r.gas];
        const total = sumGas(rows);
        gasByDevices.set(`${n}/${phase}`, total);
        rowsByDevices.set(`${n}/${phase}`, rows);
        freshByDevices.set(`${n}/${phase}`, BigInt(fresh));
        printGas(`lifecycle with ${n} devices, 3 attestors (${phase}, ${rows.length} txs)`, [
          ...rows,
          { label: "TOTAL create → settled", ...total },
        ]);
      }
      await snap.restore();
      L.connectedSets.splice(0, L.connectedSets.length, ...sets); // the chain forgot the sets posted since
    }
    const abs = (x: bigint) => (x < 0n ? -x : x);
    for (const phase of ["first job", "steady state"]) {
      const small = gasByDevices.get(`10/${phase}`)!;
      const large = gasByDevices.get(`200/${phase}`)!;
      console.log(
        `    ${phase}: 10 devices ${small.gas} (execution ${small.execution}), 200 devices ${large.gas} (execution ${large.execution}), difference ${abs(small.gas - large.gas)}`,
      );
      const a = rowsByDevices.get(`10/${phase}`)!;
      const b = rowsByDevices.get(`200/${phase}`)!;
      assert.deepEqual(
        a.map((r) => r.label),
        b.map((r) => r.label),
      );
      const freshDiff =
        (freshByDevices.get(`10/${phase}`)! - freshByDevices.get(`200/${phase}`)!) * FRESH_CREDIT;
      let rest = 0n;
      for (const [i, r] of a.entries()) {
        const d = r.gas - b[i]!.gas;
        // Which attestors are drawn decides the probing and how many stake-lock words are written for the first
        // time (≈ 17k each, at most one per attestor): never a function of the cohort size.
        if (r.label === "ResultAttestation.assignCohort")
          assert.ok(abs(d) < 5_000n + 17_100n * 3n, `the draw's probing differs by ${d}`);
        else if (r.label === "Settlement.report") rest += d - freshDiff;
        else rest += d;
      }
      // Devices appear on chain only as roots and counts: the difference is calldata/cold-slot noise.
      assert.ok(abs(rest) < 2_000n, `gas differs by ${rest} (draw-dependent costs removed)`);
    }
    // Issue 4's budget is ≤ 1.5M execution gas for the whole lifecycle with 3 attestors (receipt gas less the
    // 21,000 intrinsic cost and calldata of each tx). In steady state — nodes that served before, a quorum round
    // reused from a closed job, a customer that does not delegate votes — it measures ~1.43–1.47M. An attestor's
    // first job writes two fresh slots (its lock word and its first fee credit, 17,100 more each), so the bound
    // allows for the attestors the seed happened to draw for the first time. The first job on a fresh deployment
    // (every slot created: quorum round, fee ledger, pool counters) measures ~1.83M.
    const steady = gasByDevices.get("200/steady state")!;
    const freshAttestors = freshByDevices.get("200/steady state")!;
    const allowance = freshAttestors * 2n * FRESH_CREDIT;
    console.log(
      `    steady state 200 devices: ${steady.execution} execution gas, ${freshAttestors} first-time attestor(s)`,
    );
    assert.ok(
      steady.execution - allowance <= 1_500_000n,
      `lifecycle execution gas ${steady.execution} (${freshAttestors} first-time attestors)`,
    );
    const first = gasByDevices.get("200/first job")!.execution;
    assert.ok(first <= 1_880_000n, `first job execution gas ${first}`);
  });

  it("happy path with 200 devices: exact fees, royalty, protocol fee, refund; every device claims", async () => {
    const N = 200n;
    const mktBps = BigInt(await env.read<number>("AlgorithmMarketplace", "protocolFeeBps"));
    const customerStart = await env.balance(who(L.customer));
    const run = await runToAttested(Number(N));
    const escrow = await env.read<bigint>("JobMarket", "escrowOf", [run.jobId]);
    assert.equal(escrow, await env.read("JobMarket", "budgetOf", [Number(N), REWARD]));
    const settlement = env.addr("Settlement");
    const roles = {
      distributor: who(L.distributor),
      aggregator: who(L.aggregator),
      reporter: who(L.reporter),
      developer: who(L.developer),
    };
    const credited = async () => ({
      distributor: await feesOf(roles.distributor),
      aggregator: await feesOf(roles.aggregator),
      reporter: await feesOf(roles.reporter),
      developer: await feesOf(roles.developer),
      attestors: await Promise.all(run.attestors.map((a) => feesOf(a))),
      protocol: await env.read<bigint>("Settlement", "protocolFees"),
      held: await env.balance(settlement),
    });
    const before = await credited();
    const entries = payouts(run.devices);
    const { tree, total } = await report(run.jobId, entries);
    assert.ok(tree);
    assert.equal(await env.read("JobMarket", "status", [run.jobId]), JobStatus.Settled);
    assert.equal(await env.read("JobMarket", "escrowOf", [run.jobId]), 0n);
    const after = await credited();
    const f = (bps: bigint) => fee(N, bps);
    assert.equal(after.distributor - before.distributor, f(FEES.distributor));
    assert.equal(after.aggregator - before.aggregator, f(FEES.aggregator));
    assert.equal(after.reporter - before.reporter, f(FEES.reporter));
    for (const [i, a] of after.attestors.entries())
      assert.equal(a - before.attestors[i]!, f(FEES.attestors) / 3n);
    // The royalty is shared like marketplace revenue: the marketplace fee goes to the protocol (own version: no
    // parent share).
    const marketFee = (f(FEES.royalty) * mktBps) / BPS;
    assert.equal(after.developer - before.developer, f(FEES.royalty) - marketFee);
    assert.equal(after.protocol - before.protocol, f(FEES.protocol) + marketFee);
    const nodeFees =
      f(FEES.distributor) + f(FEES.aggregator) + f(FEES.reporter) + (f(FEES.attestors) / 3n) * 3n;
    const paidOut = total + nodeFees + f(FEES.royalty) + f(FEES.protocol);
    assert.equal(
      after.held - before.held,
      paidOut,
      "Settlement holds the pool and the credited fees",
    );
    const ledger =
      after.distributor +
      after.aggregator +
      after.reporter +
      after.developer +
      after.attestors.reduce((a, b) => a + b, 0n) +
      after.protocol;
    assert.equal(before.held, 0n);
    assert.equal(
      after.held,
      ledger + total,
      "the balance is the fee ledger plus the unclaimed pool",
    );
    // Customer paid: per-use price, clearing price (the reserve: one bid, K = 2) and what the split used;
    // the unused budget (dropouts' rewards, attestor rounding) came back.
    assert.equal(
      customerStart - (await env.balance(who(L.customer))),
      USE_PRICE + RESERVE + paidOut,
    );

    // Every device claims its own leaf; a replay of a claimed leaf changes nothing.
    const claimRows: bigint[] = [];
    for (const c of tree.claims()) {
      const d = run.devices.find((x) => getAddress(x.address) === c.account)!;
      const w = await env.localWallet(d);
      await env.send(
        w,
        "Settlement",
        "claim",
        [run.jobId, c.index, c.account, c.amount, c.proof],
        "claim",
      );
      claimRows.push(env.gasLog.at(-1)!.execution);
      assert.equal(await env.balance(c.account), c.amount);
      assert.equal(await env.read("Settlement", "isClaimed", [run.jobId, c.index]), true);
    }
    const first = tree.claims()[0]!;
    await assert.rejects(
      env.send(L.keeper, "Settlement", "claim", [
        run.jobId,
        first.index,
        first.account,
        first.amount,
        first.proof,
      ]),
      /SettlementAlreadyClaimed/,
    );
    for (const [i, d] of run.devices.entries())
      if (i % 10 === 9)
        assert.equal(await env.balance(getAddress(d.address)), 0n, "dropout unpaid");
    assert.equal(await env.balance(settlement), after.held - total);

    // Nodes, the developer and the treasury withdraw their credits whenever they like (anyone may trigger).
    for (const [name, account] of Object.entries(roles)) {
      const owed = await feesOf(account);
      const bal = await env.balance(account);
      await env.send(L.keeper, "Settlement", "withdrawFees", [account]);
      assert.equal((await env.balance(account)) - bal, owed, `${name} withdrew its fees`);
      assert.equal(await feesOf(account), 0n);
    }
    const timelock = env.addr("TimelockController");
    const tBefore = await env.balance(timelock);
    const protocolFees = await env.read<bigint>("Settlement", "protocolFees");
    await env.send(L.keeper, "Settlement", "withdrawProtocolFees", []);
    assert.equal((await env.balance(timelock)) - tBefore, protocolFees);
    const max = claimRows.reduce((a, b) => (a > b ? a : b));
    const min = claimRows.reduce((a, b) => (a < b ? a : b));
    const claimReceipts = env.gasLog.filter((r) => r.label === "claim").map((r) => r.gas);
    console.log(
      `    device claim (${entries.length}-leaf tree): execution gas min ${min}, max ${max}; receipt gas min ${claimReceipts.reduce((a, b) => (a < b ? a : b))}, max ${claimReceipts.reduce((a, b) => (a > b ? a : b))}`,
    );
    assert.ok(max <= 80_000n, `device claim execution gas ${max}`);
  });

  it("a lying attestor is slashed and unpaid; the honest majority attests", async () => {
    const run = await runToAttested(20, { liarIndex: 1 });
    const liar = run.attestors[1]!;
    assert.equal(await env.read("JobMarket", "status", [run.jobId]), JobStatus.Attested);
    assert.equal(
      await env.read("NodeStaking", "stakeOf", [liar, Role.Attestor]),
      5_000n * ETHER - SLASH,
    );
    assert.equal(await env.read("NodeStaking", "isActive", [liar, Role.Attestor]), false);
    const agreeing = await env.read<readonly Address[]>("ResultAttestation", "agreeingAttestors", [
      run.jobId,
    ]);
    assert.equal(agreeing.length, 2);
    assert.ok(!agreeing.map(getAddress).includes(liar));
    const liarBefore = await feesOf(liar);
    const honestBefore = await Promise.all(agreeing.map((a) => feesOf(a)));
    await report(run.jobId, payouts(run.devices));
    assert.equal(await feesOf(liar), liarBefore, "liar unpaid");
    for (const [i, a] of agreeing.entries())
      assert.equal((await feesOf(a)) - honestBefore[i]!, fee(20n, FEES.attestors) / 2n);
  });

  it("a failed quality requirement refunds the customer less node fees", async () => {
    const run = await runToAttested(20, { ok: false });
    assert.equal(run.result.qualityMet, false, "the attested verdict is a failure");
    const escrow = await env.read<bigint>("JobMarket", "escrowOf", [run.jobId]);
    const c = who(L.customer);
    const customerBefore = await env.balance(c);
    const devBefore = await feesOf(who(L.developer));
    const protocolBefore = await env.read<bigint>("Settlement", "protocolFees");
    const settlementBefore = await env.balance(env.addr("Settlement"));
    await report(run.jobId, [], false);
    assert.equal(await env.read("JobMarket", "status", [run.jobId]), JobStatus.Failed);
    const f = (bps: bigint) => fee(20n, bps);
    const nodeFees =
      f(FEES.distributor) + f(FEES.aggregator) + f(FEES.reporter) + (f(FEES.attestors) / 3n) * 3n;
    assert.equal((await env.balance(c)) - customerBefore, escrow - nodeFees);
    assert.equal(await feesOf(who(L.developer)), devBefore, "no royalty");
    assert.equal(await env.read("Settlement", "protocolFees"), protocolBefore, "no protocol fee");
    assert.equal(
      (await env.balance(env.addr("Settlement"))) - settlementBefore,
      nodeFees,
      "only node fees, no device pool",
    );
    const r = await env.read<{ payoutRoot: Hex; payoutTotal: bigint }>("Settlement", "reportOf", [
      run.jobId,
    ]);
    assert.equal(r.payoutRoot, `0x${"00".repeat(32)}`, "no device pool");
    assert.equal(r.payoutTotal, 0n);
  });

  it("assignment draws the attestors from the job's seed, fixed from a block after scheduling", async () => {
    const jobId = await L.schedule(L.spec(10));
    // Right after finalizeEpoch the seed's block does not exist yet: nobody can assign in the arming block's
    // successor (the seed is not fixable), so the helper waits for one block, as a live chain does.
    const epoch = await L.awaitSeedBlock(jobId);
    assert.equal(await env.read("JobMarket", "epochSeed", [epoch]), `0x${"00".repeat(32)}`);
    const drawn = await L.assign(jobId, JOB.AGG, 10, JOB.COHORT, L.connectedSets.at(-1)!.epoch);
    const epochSeed = await env.read<Hex>("JobMarket", "epochSeed", [epoch]);
    assert.notEqual(epochSeed, `0x${"00".repeat(32)}`, "the first assignment fixed the epoch seed");
    assert.equal(drawn.seed, jobSeed(epochSeed, jobId), "AttestorsDrawn carries the job's seed");
    const att = await env.read<{ attestors: readonly Address[]; distributor: Address }>(
      "ResultAttestation",
      "attestationOf",
      [jobId],
    );
    assert.deepEqual(
      att.attestors.map((a) => getAddress(a)),
      drawn.attestors,
    );
    assert.equal(drawn.attestors.length, JOB.QUORUM);
    assert.ok(!drawn.attestors.includes(who(L.aggregator)), "the aggregator is never drawn");
    assert.equal(getAddress(att.distributor), who(L.distributor));
    assert.equal(await env.read("ResultAttestation", "statusOf", [jobId]), 1, "Drawn");
    assert.equal(await env.read("JobMarket", "status", [jobId]), JobStatus.Assigned);
  });

  it("the sdk's drawn cohort stands every order challenge; a reordered one is disproved and the job refunded", async () => {
    const jobId = await L.schedule(L.spec(10));
    const drawn = await L.drawCohortOf(jobId, 10);
    await L.assign(jobId, drawn.tree.root, 10, JOB.COHORT, drawn.connectedEpoch);
    const watcher = env.wallet(13);
    for (let p = 0; p + 1 < 10; p++) {
      const err = await revertOf(
        env.send(watcher, "ResultAttestation", "challengeCohortOrder", [
          jobId,
          drawn.tree.proofAt(p),
          drawn.tree.proofAt(p + 1),
        ]),
      );
      assert.equal(err.errorName, "AttestationNoCohortFault");
    }
    assert.equal(await env.read("JobMarket", "status", [jobId]), JobStatus.Assigned);

    // the distributor swaps two members (say, to seat a chosen device earlier in the SecAgg roster)
    const other = await L.schedule(L.spec(10));
    const fair = await L.drawCohortOf(other, 10);
    const swapped = swapPositions(fair.members, 3, 4);
    const tree = buildCohortTree(swapped);
    await L.assign(other, tree.root, 10, JOB.COHORT, fair.connectedEpoch);
    const customer = who(L.customer);
    const escrow = await env.read<bigint>("JobMarket", "escrowOf", [other]);
    const customerBefore = await env.balance(customer);
    const stakeBefore = await env.read<bigint>("NodeStaking", "stakeOf", [
      who(L.distributor),
      Role.Distributor,
    ]);
    const watcherBefore = await env.balance(who(watcher));
    await env.send(watcher, "ResultAttestation", "challengeCohortOrder", [
      other,
      tree.proofAt(3),
      tree.proofAt(4),
    ]);
    assert.equal(await env.read("JobMarket", "status", [other]), JobStatus.Failed);
    assert.equal(await env.balance(customer), customerBefore + escrow, "full refund");
    assert.equal(
      await env.read("NodeStaking", "stakeOf", [who(L.distributor), Role.Distributor]),
      stakeBefore - JOB.SLASH,
      "the distributor loses its locked stake",
    );
    assert.ok((await env.balance(who(watcher))) > watcherBefore, "the watcher earns the share");
    // the distributor tops its stake up again for the tests that follow
    await env.stakeNode(L.distributor, Role.Distributor, JOB.SLASH);
  });

  it("a cohort smaller than kMin is refused", async () => {
    const jobId = await L.schedule(L.spec(10, { devices: 4, participants: 4 }));
    await L.awaitSeedBlock(jobId);
    await assert.rejects(
      env.send(L.distributor, "ResultAttestation", "assignCohort", [
        jobId,
        JOB.AGG,
        4,
        JOB.COHORT,
        who(L.aggregator),
        L.connectedSets.at(-1)!.epoch,
      ]),
      /AttestationCohortTooSmall/,
    );
    assert.equal(await env.read("JobMarket", "status", [jobId]), JobStatus.Scheduled);
  });

  it("a reporter presenting a result that is not the attested preimage is refused (SettlementResultMismatch)", async () => {
    const run = await runToAttested(20);
    const attested = await env.read<Hex>("ResultAttestation", "resultOf", [run.jobId]);
    assert.equal(attested, resultHash(run.result), "the attested value is the result's hash");
    const honest = payouts(run.devices);
    // Pay the dropouts too (a larger pool, still within participants × reward), or claim a failure to save the
    // node fees' counterpart, or present another aggregate: each is a different preimage.
    const padded = run.devices.map((d) => ({ account: getAddress(d.address), value: REWARD }));
    const escrow = await env.read<bigint>("JobMarket", "escrowOf", [run.jobId]);
    for (const [entries, ok, agg] of [
      [padded, true, JOB.AGG],
      [[], false, JOB.AGG],
      [honest, true, resultHash(run.result)],
    ] as const) {
      const presented = resultHash(jobResult(entries, ok, agg).result);
      assert.notEqual(presented, attested);
      const err = await revertOf(L.report(run.jobId, [...entries], ok, JOB.PAYOUTS, agg));
      assert.equal(err.errorName, "SettlementResultMismatch");
      assert.deepEqual(err.args, [run.jobId, attested, presented]);
    }
    assert.equal(await env.read("JobMarket", "status", [run.jobId]), JobStatus.Attested);
    assert.equal(await env.read("JobMarket", "escrowOf", [run.jobId]), escrow, "nothing moved");
    // The attested preimage settles.
    await report(run.jobId, honest);
    assert.equal(await env.read("JobMarket", "status", [run.jobId]), JobStatus.Settled);
  });

  it("attestors that cannot fetch the transcript reveal INVALID: the job fails, the aggregator is slashed", async () => {
    const tmp = mkdtempSync(path.join(tmpdir(), "dml-invalid-"));
    const store = await HeliaStore.open({ dir: path.join(tmp, "helia") });
    try {
      const jobId = await L.schedule(L.spec(20));
      const devices = await L.assignDevices(jobId, 20);
      const { result } = jobResult(payouts(devices));
      const customer = who(L.customer);
      const aggStake = await env.read<bigint>("NodeStaking", "stakeOf", [
        who(L.aggregator),
        Role.Aggregator,
      ]);
      const escrow = await env.read<bigint>("JobMarket", "escrowOf", [jobId]);
      const customerBefore = await env.balance(customer);
      const attestorStakes = await Promise.all(
        L.attestorWallets.map((w) =>
          env.read<bigint>("NodeStaking", "stakeOf", [who(w), Role.Attestor]),
        ),
      );
      // The aggregator commits a result but its transcript CID is nowhere to be found: each attestor's own
      // derivation (fetch → decode → recompute) fails, so it attests INVALID.
      let attempts = 0;
      const attestors = await L.attest(jobId, result, JOB.TRANSCRIPT, {
        recompute: async (cid) => {
          attempts++;
          decodeTranscript(await store.getBytes(cid));
          throw new Error("unreachable: the transcript is not published");
        },
      });
      assert.equal(attempts, JOB.QUORUM, "every drawn attestor tried the transcript");
      const att = await env.read<{ finalHash: Hex; agreeMask: number }>(
        "ResultAttestation",
        "attestationOf",
        [jobId],
      );
      assert.equal(att.finalHash, INVALID, "the majority value is INVALID");
      assert.equal(await env.read("ResultAttestation", "statusOf", [jobId]), 4, "Failed");
      assert.equal(
        await env.read("ResultAttestation", "resultOf", [jobId]),
        `0x${"00".repeat(32)}`,
      );
      assert.equal(await env.read("JobMarket", "status", [jobId]), JobStatus.Failed);
      assert.equal(
        await env.read("NodeStaking", "stakeOf", [who(L.aggregator), Role.Aggregator]),
        aggStake - SLASH,
        "the aggregator is slashed",
      );
      for (const [i, w] of L.attestorWallets.entries())
        assert.equal(
          await env.read("NodeStaking", "stakeOf", [who(w), Role.Attestor]),
          attestorStakes[i],
          `attestor ${who(w)}${attestors.includes(who(w)) ? " (drawn)" : ""} not slashed`,
        );
      assert.equal(await env.read("JobMarket", "escrowOf", [jobId]), 0n);
      assert.equal(
        (await env.balance(customer)) - customerBefore,
        escrow,
        "the customer is refunded the escrow",
      );
      await assert.rejects(L.report(jobId, payouts(devices)), /Settlement|JobMarket/);
    } finally {
      await store.close();
      await rm(tmp, { recursive: true, force: true });
    }
  });
});
