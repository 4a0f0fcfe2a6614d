/**
 * One prediction job on the protocol deployed by script/deploy.ts, driven through every on-chain step with real
 * signatures: create → sealed bid → reveal → finalise the epoch → cohort (OpenZeppelin Merkle root) →
 * aggregate commitment → 3 attestors commit-reveal → (unanimous reveal finalises) → report with the device payout
 * tree. Shared by test/integration/job-lifecycle.test.ts and bench/job-gas.ts.
 */
import assert from "node:assert/strict";
import { getAddress, type Address, type Hex } from "viem";
import type { PrivateKeyAccount } from "viem/accounts";
import { buildMerkleTree, type MerkleEntry } from "#sdk/chain/merkle.ts";
import { buildPayoutTree, type PayoutTree } from "#sdk/chain/payouts.ts";
import {
  aggregateCommitment,
  bidCommitment,
  ETHER,
  JobStatus,
  label,
  localAccount,
  memberCommitment,
  ProtocolEnv,
  Role,
  type GasRow,
} from "./protocol.ts";

export const JOB = {
  SCHEMA: label("email/rfc822-v1"),
  MODEL_SHA: label("model.onnx"),
  PKG: "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
  TRANSCRIPT: "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
  REPORT: "bafkreie5nuy3b5kzkz5ouyy4v7y2yhqj5qfq2h2zjt7hslzmq3zyqmfgmi",
  PAYOUTS: "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
  COHORT: "bafkreicohortcohortcohortcohortcohortcohortcohortcohortcoh",
  USE_PRICE: 5n * ETHER,
  RESERVE: ETHER,
  BID: 3n * ETHER,
  REWARD: 2n * ETHER,
  QUORUM: 3,
  SLASH: 100n * ETHER,
  AGG: label("aggregate-vector"),
  ATTESTATION_PHASE: 3_600,
} as const;

type Wallet = ProtocolEnv["wallets"][number];

export interface JobRun {
  jobId: bigint;
  /** Gas of every transaction from createJob to the attestation outcome. */
  gas: GasRow[];
  devices: PrivateKeyAccount[];
  attestors: Address[];
}

export interface JobReport {
  tree?: PayoutTree;
  total: bigint;
  gas: GasRow[];
}

export const who = (w: { account: { address: Address } }): Address => getAddress(w.account.address);

/** A deployed protocol with a staked distributor, aggregator, reporter, five attestors and a listed algorithm. */
export class JobLifecycle {
  private constructor(
    readonly env: ProtocolEnv,
    readonly algorithmId: bigint,
    readonly customer: Wallet,
    readonly developer: Wallet,
    readonly distributor: Wallet,
    readonly aggregator: Wallet,
    readonly reporter: Wallet,
    readonly keeper: Wallet,
    readonly attestorWallets: Wallet[],
  ) {}

  /** `pkg`: the listed algorithm's package (default: a placeholder CID and hash nothing fetches). */
  static async create(pkg?: { cid: string; modelSha256: Hex }): Promise<JobLifecycle> {
    const env = await ProtocolEnv.create({
      jobMarket: { capacity: 2, reservePrice: JOB.RESERVE },
      attestation: { resultAttestation: { quorum: JOB.QUORUM, slashAmount: JOB.SLASH } },
    });
    const [customer, developer, distributor, aggregator, reporter, keeper] = [
      1, 2, 3, 4, 5, 11,
    ].map((i) => env.wallet(i)!) as [Wallet, Wallet, Wallet, Wallet, Wallet, Wallet];
    const attestorWallets = [6, 7, 8, 9, 10].map((i) => env.wallet(i)!);
    await env.stakeNode(distributor, Role.Distributor, 10_000n * ETHER);
    await env.stakeNode(aggregator, Role.Aggregator, 10_000n * ETHER);
    await env.stakeNode(reporter, Role.Reporter, 5_000n * ETHER);
    for (const w of attestorWallets) await env.stakeNode(w, Role.Attestor, 5_000n * ETHER);
    await env.send(developer, "AlgorithmMarketplace", "list", [
      pkg?.cid ?? JOB.PKG,
      pkg?.modelSha256 ?? JOB.MODEL_SHA,
      JOB.SCHEMA,
      JOB.USE_PRICE,
      0n,
      0n,
      "",
    ]);
    const algorithmId = await env.read<bigint>("AlgorithmMarketplace", "algorithmCount");
    await env.fund([who(customer)], 1_000_000n * ETHER);
    await env.approve(customer, "JobMarket");
    await env.approve(customer, "AlgorithmMarketplace");
    return new JobLifecycle(
      env,
      algorithmId,
      customer,
      developer,
      distributor,
      aggregator,
      reporter,
      keeper,
      attestorWallets,
    );
  }

  spec(
    maxDevices: number,
    min: { devices: number; participants: number } = { devices: 10, participants: 8 },
  ) {
    return {
      algorithmId: this.algorithmId,
      schema: JOB.SCHEMA,
      minDevices: min.devices,
      maxDevices,
      rewardPerDevice: JOB.REWARD,
      minParticipants: min.participants,
      maxStdError: 5n * 10n ** 16n,
      encryptionKey: `0x02${label("customer-key").slice(2)}` as Hex,
      durations: {
        bidding: 7 * 86_400,
        assignment: 3_600,
        commit: 7_200,
        attestation: JOB.ATTESTATION_PHASE,
        report: 3_600,
        settlement: 3_600,
      },
    };
  }

  private attestorWallet(a: Address): Wallet {
    const w = this.attestorWallets.find((x) => who(x) === a);
    assert.ok(w, `attestor ${a}`);
    return w;
  }

  /** Runs a job up to Attested (or Failed); the attestor at `liarIndex` reveals another value. */
  async runToAttested(nDevices: number, liarIndex?: number): Promise<JobRun> {
    const start = this.env.gasLog.length;
    const jobId = await this.schedule(this.spec(nDevices));
    // The distributor's cohort: a StandardMerkleTree ["address","uint256"] over (device, index).
    const devices = Array.from({ length: nDevices }, (_, i) =>
      localAccount(`job-${jobId}-device-${i}`),
    );
    const cohort = buildMerkleTree(
      devices.map((d, i) => ({ account: d.address, value: BigInt(i) })),
    );
    await this.assign(jobId, cohort.root, nDevices, JOB.COHORT);
    const attestors = await this.attest(jobId, JOB.AGG, JOB.TRANSCRIPT, liarIndex);
    return { jobId, gas: this.env.gasLog.slice(start), devices, attestors };
  }

  /** createJob → sealed bid → reveal → finalizeEpoch: the job is `Scheduled`. */
  async schedule(spec: ReturnType<JobLifecycle["spec"]>): Promise<bigint> {
    const { env, customer, keeper } = this;
    await env.warpToCommitWindow();
    await env.send(customer, "JobMarket", "createJob", [spec]);
    const jobId = await env.read<bigint>("JobMarket", "jobCount");
    const epoch = await env.read<bigint>("JobMarket", "currentEpoch");
    const salt = label(`bid-salt-${jobId}`);
    await env.send(customer, "JobMarket", "commitBid", [
      jobId,
      bidCommitment(jobId, JOB.BID, salt, who(customer)),
      JOB.BID,
    ]);
    const [, commitEnd, revealEnd] = await env.epochWindows(epoch);
    await env.warpTo(commitEnd!);
    await env.send(keeper, "JobMarket", "revealBid", [jobId, JOB.BID, salt]);
    await env.warpTo(revealEnd!);
    await env.send(keeper, "JobMarket", "finalizeEpoch", [epoch]);
    assert.equal(await env.read("JobMarket", "status", [jobId]), JobStatus.Scheduled);
    return jobId;
  }

  /** The distributor assigns the cohort (root, size, list CID) and names this lifecycle's aggregator. */
  async assign(jobId: bigint, root: Hex, count: number, cid: string): Promise<void> {
    await this.env.send(this.distributor, "JobMarket", "assignCohort", [
      jobId,
      root,
      count,
      cid,
      who(this.aggregator),
    ]);
  }

  /**
   * The aggregator commits `aggregate` and the transcript CID, the 3 selected attestors commit and reveal (the one at
   * `liarIndex` another value), the aggregator reveals last; returns the attestors.
   */
  async attest(
    jobId: bigint,
    aggregate: Hex,
    transcriptCid: string,
    liarIndex?: number,
  ): Promise<Address[]> {
    const { env, keeper, aggregator } = this;
    const aggSalt = label(`agg-salt-${jobId}`);
    await env.send(aggregator, "ResultAttestation", "commitAggregate", [
      jobId,
      aggregateCommitment(aggregate, aggSalt),
      transcriptCid,
    ]);
    const att = await env.read<{ attestors: readonly Address[]; commitDeadline: bigint }>(
      "ResultAttestation",
      "attestationOf",
      [jobId],
    );
    const attestors = att.attestors.map((a) => getAddress(a));
    assert.equal(attestors.length, JOB.QUORUM);
    const votes = attestors.map((_, i) => (i === liarIndex ? label("a lie") : aggregate));
    const salts = attestors.map((a) => label(`att-salt-${jobId}-${a}`));
    for (const [i, a] of attestors.entries())
      await env.send(this.attestorWallet(a), "ResultAttestation", "commitAttestation", [
        jobId,
        memberCommitment(votes[i]!, salts[i]!, a),
      ]);
    await env.warpTo(BigInt(att.commitDeadline) + 1n);
    for (const [i, a] of attestors.entries())
      await env.send(this.attestorWallet(a), "ResultAttestation", "revealAttestation", [
        jobId,
        votes[i],
        salts[i],
      ]);
    // The aggregator reveals last: with a unanimous quorum its reveal finalises the job (no finalize tx).
    await env.send(aggregator, "ResultAttestation", "revealAggregate", [jobId, aggregate, aggSalt]);
    if (liarIndex !== undefined) await env.send(keeper, "ResultAttestation", "finalize", [jobId]);
    return attestors;
  }

  /** Payouts: every device but each tenth (dropouts) gets the full reward. */
  payouts(devices: PrivateKeyAccount[]): MerkleEntry[] {
    return devices
      .filter((_, i) => i % 10 !== 9)
      .map((d) => ({ account: getAddress(d.address), value: JOB.REWARD }));
  }

  /**
   * The reporter posts the report; `ok = false` reports a failed quality requirement. `payoutsCid` is the published
   * payout list (a placeholder CID when the test does not publish it).
   */
  async report(
    jobId: bigint,
    entries: MerkleEntry[],
    ok = true,
    payoutsCid: string = JOB.PAYOUTS,
  ): Promise<JobReport> {
    const tree = entries.length > 0 ? buildPayoutTree(entries) : undefined;
    const total = tree?.total ?? 0n;
    await this.env.send(this.reporter, "Settlement", "report", [
      jobId,
      {
        reportCid: JOB.REPORT,
        reportCommitment: label(`encrypted-report-${jobId}`),
        participants: ok ? entries.length : 5,
        payoutRoot: tree?.root ?? `0x${"00".repeat(32)}`,
        payoutTotal: total,
        qualityMet: ok,
        payoutsCid: ok ? payoutsCid : "",
      },
    ]);
    return { tree, total, gas: this.env.gasLog.slice(-1) };
  }

  /** Every device of `tree` claims its own leaf; returns the gas rows of the claims. */
  async claimAll(jobId: bigint, run: JobRun, tree: PayoutTree): Promise<GasRow[]> {
    const rows: GasRow[] = [];
    for (const c of tree.claims()) {
      const d = run.devices.find((x) => getAddress(x.address) === c.account)!;
      const w = await this.env.localWallet(d);
      await this.env.send(
        w,
        "Settlement",
        "claim",
        [jobId, c.index, c.account, c.amount, c.proof],
        "claim",
      );
      rows.push(this.env.gasLog.at(-1)!);
    }
    return rows;
  }
}
