/**
 * Issue 4 — one prediction job end to end on the in-process EDR chain, deployed by script/deploy.ts:
 * create → sealed bid → finalise the epoch → distributor assigns a cohort (OpenZeppelin Merkle root) →
 * aggregator commits → 3 attestors commit-reveal → finalise → reporter posts the report and the device payout
 * root → every device claims with its proof. Exact balances for devices, nodes, developer, treasury and
 * customer; a lying attestor is slashed while the honest majority attests; a failed quality requirement refunds
 * the customer less node fees. Gas of the whole lifecycle (device claims excluded) for 10 and 200 devices.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { getAddress, type Address, type Hex } from "viem";
import type { PrivateKeyAccount } from "viem/accounts";
import { buildMerkleTree, type MerkleEntry } from "#sdk/chain/merkle.ts";
import { buildPayoutTree } from "#sdk/chain/payouts.ts";
import {
  aggregateCommitment,
  bidCommitment,
  BPS,
  ETHER,
  JobStatus,
  label,
  localAccount,
  memberCommitment,
  printGas,
  ProtocolEnv,
  Role,
  sumGas,
  type GasRow,
} from "./helpers/protocol.ts";

const SCHEMA = label("email/rfc822-v1");
const MODEL_SHA = label("model.onnx");
const PKG = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";
const TRANSCRIPT = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
const REPORT = "bafkreie5nuy3b5kzkz5ouyy4v7y2yhqj5qfq2h2zjt7hslzmq3zyqmfgmi";
const PAYOUTS = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";
const USE_PRICE = 5n * ETHER;
const RESERVE = ETHER;
const BID = 3n * ETHER;
const REWARD = 2n * ETHER;
const QUORUM = 3;
const SLASH = 100n * ETHER;
const FEES = {
  distributor: 200n,
  aggregator: 300n,
  attestors: 300n,
  reporter: 200n,
  protocol: 250n,
  royalty: 500n,
};
const AGG = label("aggregate-vector");
const ATTESTATION_PHASE = 3_600;

interface JobRun {
  jobId: bigint;
  gas: GasRow[];
  devices: PrivateKeyAccount[];
  attestors: Address[];
}

describe("Job lifecycle (issue 4): create → attest → settle → device claims", () => {
  let env: ProtocolEnv;
  let customer: ProtocolEnv["wallets"][number];
  let developer: ProtocolEnv["wallets"][number];
  let distributor: ProtocolEnv["wallets"][number];
  let aggregator: ProtocolEnv["wallets"][number];
  let reporter: ProtocolEnv["wallets"][number];
  let keeper: ProtocolEnv["wallets"][number];
  let attestorWallets: ProtocolEnv["wallets"];
  let algorithmId: bigint;
  const gasByDevices = new Map<string, { gas: bigint; execution: bigint }>();

  const who = (w: { account: { address: Address } }): Address => getAddress(w.account.address);
  const attestorWallet = (a: Address) => {
    const w = attestorWallets.find((x) => who(x) === a);
    assert.ok(w, `attestor ${a}`);
    return w;
  };
  const budget = (maxDevices: bigint) => maxDevices * REWARD;
  const fee = (maxDevices: bigint, bps: bigint) => (budget(maxDevices) * bps) / BPS;

  before(async () => {
    env = await ProtocolEnv.create({
      jobMarket: { capacity: 2, reservePrice: RESERVE },
      attestation: { resultAttestation: { quorum: QUORUM, slashAmount: SLASH } },
    });
    customer = env.wallet(1);
    developer = env.wallet(2);
    distributor = env.wallet(3);
    aggregator = env.wallet(4);
    reporter = env.wallet(5);
    keeper = env.wallet(11);
    attestorWallets = [6, 7, 8, 9, 10].map((i) => env.wallet(i));
    await env.stakeNode(distributor!, Role.Distributor, 10_000n * ETHER);
    await env.stakeNode(aggregator!, Role.Aggregator, 10_000n * ETHER);
    await env.stakeNode(reporter!, Role.Reporter, 5_000n * ETHER);
    for (const w of attestorWallets) await env.stakeNode(w, Role.Attestor, 5_000n * ETHER);
    await env.send(developer!, "AlgorithmMarketplace", "list", [
      PKG,
      MODEL_SHA,
      SCHEMA,
      USE_PRICE,
      0n,
      0n,
      "",
    ]);
    algorithmId = await env.read<bigint>("AlgorithmMarketplace", "algorithmCount");
    await env.fund([who(customer!)], 1_000_000n * ETHER);
    await env.approve(customer!, "JobMarket");
    await env.approve(customer!, "AlgorithmMarketplace");
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
  });

  function spec(maxDevices: number) {
    return {
      algorithmId,
      schema: SCHEMA,
      minDevices: 10,
      maxDevices,
      rewardPerDevice: REWARD,
      minParticipants: 8,
      maxStdError: 5n * 10n ** 16n,
      encryptionKey: `0x02${label("customer-key").slice(2)}` as Hex,
      durations: {
        bidding: 7 * 86_400,
        assignment: 3_600,
        commit: 7_200,
        attestation: ATTESTATION_PHASE,
        report: 3_600,
        settlement: 3_600,
      },
    };
  }

  /** Runs a job up to Attested (or Failed); `lie[i]` makes the i-th selected attestor reveal another value. */
  async function runToAttested(nDevices: number, liarIndex?: number): Promise<JobRun> {
    const start = env.gasLog.length;
    const c = who(customer!);
    await env.warpToCommitWindow();
    await env.send(customer!, "JobMarket", "createJob", [spec(nDevices)]);
    const jobId = await env.read<bigint>("JobMarket", "jobCount");
    const epoch = await env.read<bigint>("JobMarket", "currentEpoch");
    const salt = label(`bid-salt-${jobId}`);
    await env.send(customer!, "JobMarket", "commitBid", [
      jobId,
      bidCommitment(jobId, BID, salt, c),
      BID,
    ]);
    const [, commitEnd, revealEnd] = await env.epochWindows(epoch);
    await env.warpTo(commitEnd!);
    await env.send(keeper, "JobMarket", "revealBid", [jobId, BID, salt]);
    await env.warpTo(revealEnd!);
    await env.send(keeper, "JobMarket", "finalizeEpoch", [epoch]);
    assert.equal(await env.read("JobMarket", "status", [jobId]), JobStatus.Scheduled);

    // The distributor's cohort: a StandardMerkleTree ["address","uint256"] over (device, index).
    const devices = Array.from({ length: nDevices }, (_, i) =>
      localAccount(`job-${jobId}-device-${i}`),
    );
    const cohort = buildMerkleTree(
      devices.map((d, i) => ({ account: d.address, value: BigInt(i) })),
    );
    await env.send(distributor!, "JobMarket", "assignCohort", [
      jobId,
      cohort.root,
      nDevices,
      "bafkreicohortcohortcohortcohortcohortcohortcohortcohortcoh",
      who(aggregator!),
    ]);

    const aggSalt = label(`agg-salt-${jobId}`);
    await env.send(aggregator!, "ResultAttestation", "commitAggregate", [
      jobId,
      aggregateCommitment(AGG, aggSalt),
      TRANSCRIPT,
    ]);
    const att = await env.read<{ attestors: readonly Address[]; commitDeadline: bigint }>(
      "ResultAttestation",
      "attestationOf",
      [jobId],
    );
    const attestors = att.attestors.map((a) => getAddress(a));
    assert.equal(attestors.length, QUORUM);
    const votes = attestors.map((_, i) => (i === liarIndex ? label("a lie") : AGG));
    const salts = attestors.map((a) => label(`att-salt-${jobId}-${a}`));
    for (const [i, a] of attestors.entries())
      await env.send(attestorWallet(a), "ResultAttestation", "commitAttestation", [
        jobId,
        memberCommitment(votes[i]!, salts[i]!, a),
      ]);
    await env.warpTo(BigInt(att.commitDeadline) + 1n);
    for (const [i, a] of attestors.entries())
      await env.send(attestorWallet(a), "ResultAttestation", "revealAttestation", [
        jobId,
        votes[i],
        salts[i],
      ]);
    // The aggregator reveals last: with a unanimous quorum its reveal finalises the job (no finalize tx).
    await env.send(aggregator!, "ResultAttestation", "revealAggregate", [jobId, AGG, aggSalt]);
    if (liarIndex !== undefined) await env.send(keeper, "ResultAttestation", "finalize", [jobId]);
    return { jobId, gas: env.gasLog.slice(start), devices, attestors };
  }

  /** Payouts: every device but each tenth (dropouts) gets the full reward. */
  function payouts(devices: PrivateKeyAccount[]): MerkleEntry[] {
    return devices
      .filter((_, i) => i % 10 !== 9)
      .map((d) => ({ account: getAddress(d.address), value: REWARD }));
  }

  async function report(jobId: bigint, entries: MerkleEntry[], ok = true) {
    const tree = entries.length > 0 ? buildPayoutTree(entries) : undefined;
    const total = tree?.total ?? 0n;
    await env.send(reporter!, "Settlement", "report", [
      jobId,
      {
        reportCid: REPORT,
        reportCommitment: label(`encrypted-report-${jobId}`),
        participants: ok ? entries.length : 5,
        payoutRoot: tree?.root ?? `0x${"00".repeat(32)}`,
        payoutTotal: total,
        qualityMet: ok,
        payoutsCid: ok ? PAYOUTS : "",
      },
    ]);
    return { tree, total, gas: env.gasLog.slice(-1) };
  }

  /** Fees credited to each role by one job with `n` max devices and `agreeing` agreeing attestors. */
  const feesOf = (a: Address) => env.read<bigint>("Settlement", "feesOf", [a]);

  it("lifecycle gas (create → settled, claims excluded) does not depend on the cohort size", async () => {
    // Two jobs in a row per cohort size: the first on the fresh deployment (every fee-ledger entry, pool
    // counter and node balance cold and zero), the second in steady state (nodes already hold credits).
    for (const n of [10, 200]) {
      const snap = await env.conn.networkHelpers.takeSnapshot();
      for (const phase of ["first job", "steady state"]) {
        const run = await runToAttested(n);
        assert.equal(await env.read("JobMarket", "status", [run.jobId]), JobStatus.Attested);
        const r = await report(run.jobId, payouts(run.devices));
        assert.equal(await env.read("JobMarket", "status", [run.jobId]), JobStatus.Settled);
        const rows = [...run.gas, ...r.gas];
        const total = sumGas(rows);
        gasByDevices.set(`${n}/${phase}`, total);
        printGas(`lifecycle with ${n} devices, 3 attestors (${phase}, ${rows.length} txs)`, [
          ...rows,
          { label: "TOTAL create → settled", ...total },
        ]);
      }
      await snap.restore();
    }
    for (const phase of ["first job", "steady state"]) {
      const small = gasByDevices.get(`10/${phase}`)!;
      const large = gasByDevices.get(`200/${phase}`)!;
      const diff = small.gas > large.gas ? small.gas - large.gas : large.gas - small.gas;
      console.log(
        `    ${phase}: 10 devices ${small.gas} (execution ${small.execution}), 200 devices ${large.gas} (execution ${large.execution}), difference ${diff}`,
      );
      // Devices appear on chain only as roots and counts: the difference is calldata/cold-slot noise.
      assert.ok(diff < 2_000n, `gas differs by ${diff}`);
    }
    // Issue 4's budget: ≤ 1.5M gas for the whole lifecycle with 3 attestors, measured as execution gas
    // (what a gas report counts: receipt gas less the 21,000 intrinsic cost and calldata of each tx).
    const steady = gasByDevices.get("200/steady state")!;
    assert.ok(steady.execution <= 1_500_000n, `lifecycle execution gas ${steady.execution}`);
    assert.ok(
      gasByDevices.get("200/first job")!.execution <= 1_500_000n,
      "first job within budget",
    );
  });

  it("happy path with 200 devices: exact fees, royalty, protocol fee, refund; every device claims", async () => {
    const N = 200n;
    const customerStart = await env.balance(who(customer!));
    const run = await runToAttested(Number(N));
    const escrow = await env.read<bigint>("JobMarket", "escrowOf", [run.jobId]);
    assert.equal(escrow, await env.read("JobMarket", "budgetOf", [Number(N), REWARD]));
    const settlement = env.addr("Settlement");
    const roles = {
      distributor: who(distributor!),
      aggregator: who(aggregator!),
      reporter: who(reporter!),
      developer: who(developer!),
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
    assert.equal(after.developer - before.developer, f(FEES.royalty));
    assert.equal(after.protocol - before.protocol, f(FEES.protocol));
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
      customerStart - (await env.balance(who(customer!))),
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
      env.send(keeper, "Settlement", "claim", [
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
      await env.send(keeper, "Settlement", "withdrawFees", [account]);
      assert.equal((await env.balance(account)) - bal, owed, `${name} withdrew its fees`);
      assert.equal(await feesOf(account), 0n);
    }
    const timelock = env.addr("TimelockController");
    const tBefore = await env.balance(timelock);
    const protocolFees = await env.read<bigint>("Settlement", "protocolFees");
    await env.send(keeper, "Settlement", "withdrawProtocolFees", []);
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
    const run = await runToAttested(20, 1);
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
    const run = await runToAttested(20);
    const escrow = await env.read<bigint>("JobMarket", "escrowOf", [run.jobId]);
    const c = who(customer!);
    const customerBefore = await env.balance(c);
    const devBefore = await feesOf(who(developer!));
    const protocolBefore = await env.read<bigint>("Settlement", "protocolFees");
    const settlementBefore = await env.balance(env.addr("Settlement"));
    await report(run.jobId, [], false);
    assert.equal(await env.read("JobMarket", "status", [run.jobId]), JobStatus.Failed);
    const f = (bps: bigint) => fee(20n, bps);
    const nodeFees =
      f(FEES.distributor) + f(FEES.aggregator) + f(FEES.reporter) + (f(FEES.attestors) / 3n) * 3n;
    assert.equal((await env.balance(c)) - customerBefore, escrow - nodeFees);
    assert.equal(await feesOf(who(developer!)), devBefore, "no royalty");
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
});
