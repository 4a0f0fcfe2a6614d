/**
 * One prediction job on the protocol deployed by script/deploy.ts, driven through every on-chain step with real
 * signatures: registered devices sign heartbeats and the distributor posts their connected set to the growth pool,
 * which stands after its challenge window → create → sealed bid → reveal → finalise the epoch → the distributor
 * draws the cohort from that set by the job's seed (`sdk/chain/cohort.ts`) and assigns its Merkle root through
 * `ResultAttestation.assignCohort`, which draws 3 attestors from the job's seed → the aggregator
 * commits the job's `resultHash` → the attestors derive it on their own and commit-reveal it (or `INVALID`) →
 * (unanimous reveal finalises) → the reporter presents the attested preimage with the encrypted report. Shared by
 * test/integration/job-lifecycle.test.ts, the device-runner tests and bench/job-gas.ts.
 */
import assert from "node:assert/strict";
import { getAddress, type Address, type Hex } from "viem";
import type { PrivateKeyAccount } from "viem/accounts";
import type { CohortMember } from "#sdk/chain/cohort.ts";
import type { MerkleEntry } from "#sdk/chain/merkle.ts";
import { deriveOperatorKey, walletSigner } from "#sdk/crypto/operator-key.ts";
import type { ContentStore } from "#sdk/ipfs/index.ts";
import { attestJob, type AttestOutcome } from "#sdk/protocol/attestor.ts";
import { chainAttestorReads } from "#sdk/protocol/attestor-chain.ts";
import type { JobModel } from "#sdk/protocol/job-result.ts";
import { buildPayoutTree, type PayoutTree } from "#sdk/chain/payouts.ts";
import { INVALID, resultHash, ZERO_HASH, type JobResult } from "#sdk/chain/result.ts";
import {
  abi,
  aggregateCommitment,
  bidCommitment,
  ETHER,
  JobStatus,
  label,
  localAccount,
  memberCommitment,
  ProtocolEnv,
  Role,
  type ConnectedSet,
  type DrawnCohort,
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

/** How a job of `runToAttested` ends: what the attestors derive from the transcript. */
export interface RunOptions {
  /** The attestor at this index of the drawn quorum reveals another value. */
  liarIndex?: number;
  /** The quality requirement held (default true); a failed job pays no device. */
  ok?: boolean;
  /** The payout list the transcript yields (default: `payouts(devices)`). */
  entries?: (devices: PrivateKeyAccount[]) => MerkleEntry[];
}

export interface JobRun {
  jobId: bigint;
  /** Gas of every transaction from createJob to the attestation outcome. */
  gas: GasRow[];
  devices: PrivateKeyAccount[];
  attestors: Address[];
  /** The attested result (the preimage the reporter presents). */
  result: JobResult;
}

export interface JobReport {
  tree?: PayoutTree;
  total: bigint;
  gas: GasRow[];
}

/** Per attestor: how it derives the job's result from the transcript CID (a rejection means it could not). */
export type Recompute = (transcriptCid: string) => Promise<JobResult>;

/** Per attestor: the value it attests (e.g. `attestJob(...).value`, sdk/protocol/attestor.ts). */
export type Vote = (attestor: Address) => Promise<Hex>;

export interface AttestOptions {
  /** The attestor at this index of the drawn quorum reveals another value. */
  liarIndex?: number;
  /** The attestors' own derivation (default: they arrive at the aggregator's result). */
  recompute?: Recompute;
  /** Each attestor's own value (takes precedence over `recompute`). */
  vote?: Vote;
}

export const who = (w: { account: { address: Address } }): Address => getAddress(w.account.address);

/**
 * The result a transcript yields: on success the payout tree of `entries` and their count as participants; on a
 * failed quality requirement no payout and 5 participants (below the specs' minimum of 8).
 */
export function jobResult(
  entries: readonly MerkleEntry[],
  ok = true,
  aggregateHash: Hex = JOB.AGG,
): { result: JobResult; tree?: PayoutTree } {
  if (!ok || entries.length === 0)
    return {
      result: {
        aggregateHash,
        payoutRoot: ZERO_HASH,
        payoutTotal: 0n,
        participants: 5,
        qualityMet: false,
      },
    };
  const tree = buildPayoutTree([...entries]);
  return {
    result: {
      aggregateHash,
      payoutRoot: tree.root,
      payoutTotal: tree.total,
      participants: entries.length,
      qualityMet: true,
    },
    tree,
  };
}

/** A deployed protocol with a staked distributor, aggregator, reporter, five attestors and a listed algorithm. */
export class JobLifecycle {
  /** Connected sets this lifecycle posted, oldest first. */
  readonly connectedSets: ConnectedSet[] = [];

  readonly env: ProtocolEnv;
  readonly algorithmId: bigint;
  readonly customer: Wallet;
  readonly developer: Wallet;
  readonly distributor: Wallet;
  readonly aggregator: Wallet;
  readonly reporter: Wallet;
  readonly keeper: Wallet;
  readonly attestorWallets: Wallet[];
  private constructor(
    env: ProtocolEnv,
    algorithmId: bigint,
    customer: Wallet,
    developer: Wallet,
    distributor: Wallet,
    aggregator: Wallet,
    reporter: Wallet,
    keeper: Wallet,
    attestorWallets: Wallet[],
  ) {
    this.env = env;
    this.algorithmId = algorithmId;
    this.customer = customer;
    this.developer = developer;
    this.distributor = distributor;
    this.aggregator = aggregator;
    this.reporter = reporter;
    this.keeper = keeper;
    this.attestorWallets = attestorWallets;
  }

  /** `pkg`: the listed algorithm's package (default: a placeholder CID and hash nothing fetches). */
  static async create(pkg?: { cid: string; modelSha256: Hex }): Promise<JobLifecycle> {
    const env = await ProtocolEnv.create({
      jobMarket: { capacity: 2, reservePrice: JOB.RESERVE },
      attestation: { resultAttestation: { quorum: JOB.QUORUM, slashAmount: JOB.SLASH } },
    });
    // The customer is not account #1, the dev chain's genesis holder: a holder that delegated its votes pays
    // ERC20Votes checkpoints (a fresh slot per block) on every transfer, ~27k per transfer and ~110k per job, which is
    // the token's price of voting, not the protocol's (docs/integration-tests.md gives both figures).
    const [customer, developer, distributor, aggregator, reporter, keeper] = [
      14, 2, 3, 4, 5, 11,
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
      maxStdError: 15n * 10n ** 16n, // 0.15 on the honest (adjusted or cluster-robust) standard error
      encryptionKey: `0x02${label("customer-key").slice(2)}` as Hex,
      durations: {
        bidding: 7 * 86_400,
        assignment: 3_600,
        commit: 7_200,
        attestation: JOB.ATTESTATION_PHASE,
        report: 3_600,
        settlement: 3_600,
      },
      maxUsePrice: JOB.USE_PRICE,
    };
  }

  attestorWallet(a: Address): Wallet {
    const w = this.attestorWallets.find((x) => who(x) === a);
    assert.ok(w, `attestor ${a}`);
    return w;
  }

  /** The first `n` devices of this lifecycle's device pool (deterministic keys). */
  poolDevices(n: number): PrivateKeyAccount[] {
    return Array.from({ length: n }, (_, i) => localAccount(`pool-device-${i}`));
  }

  /**
   * Registers the devices that are not registered yet and has the distributor post their connected set for the
   * growth pool's next epoch (`ProtocolEnv.postConnectedSet`); jobs scheduled from now on draw from it.
   */
  async connect(devices: PrivateKeyAccount[]): Promise<ConnectedSet> {
    const set = await this.env.postConnectedSet(this.distributor, devices, JOB.SCHEMA);
    this.connectedSets.push(set);
    return set;
  }

  /** Makes sure the latest standing connected set holds at least `n` devices of the pool. */
  async ensureConnected(n: number): Promise<ConnectedSet> {
    const latest = this.connectedSets.at(-1);
    if (latest && latest.devices.length >= n) return latest;
    return this.connect(this.poolDevices(n));
  }

  /** The distributor's draw of the job's `n` devices from the sets this lifecycle posted. */
  async drawCohortOf(jobId: bigint, n: number): Promise<DrawnCohort> {
    return this.env.drawCohortOf(jobId, n, this.connectedSets);
  }

  /** Runs a job up to Attested (or Failed): the attestors derive the result `opts` describes. */
  async runToAttested(nDevices: number, opts: RunOptions = {}): Promise<JobRun> {
    await this.ensureConnected(nDevices);
    const start = this.env.gasLog.length;
    const jobId = await this.schedule(this.spec(nDevices));
    const devices = await this.assignDevices(jobId, nDevices);
    const entries = (opts.entries ?? ((d) => this.payouts(d)))(devices);
    const { result } = jobResult(entries, opts.ok ?? true);
    const attestors = await this.attest(jobId, result, JOB.TRANSCRIPT, {
      liarIndex: opts.liarIndex,
    });
    return { jobId, gas: this.env.gasLog.slice(start), devices, attestors, result };
  }

  /** The distributor draws the job's cohort of `n` devices and assigns it; returns the devices by position. */
  async assignDevices(jobId: bigint, n: number): Promise<PrivateKeyAccount[]> {
    const cohort = await this.drawCohortOf(jobId, n);
    await this.assign(jobId, cohort.tree.root, n, JOB.COHORT, cohort.connectedEpoch);
    return cohort.devices;
  }

  /**
   * createJob → sealed bid → reveal → finalizeEpoch: the job is `Scheduled`. First makes sure a connected set of at
   * least `spec.maxDevices` pool devices stands (unless a larger one already does) to draw the cohort from.
   */
  async schedule(spec: ReturnType<JobLifecycle["spec"]>): Promise<bigint> {
    const { env, customer, keeper } = this;
    await this.ensureConnected(spec.maxDevices);
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

  /** Waits until the block whose hash seeds the job's epoch exists (`ProtocolEnv.awaitSeedBlock`). */
  awaitSeedBlock(jobId: bigint): Promise<bigint> {
    return this.env.awaitSeedBlock(jobId);
  }

  /**
   * The distributor assigns the cohort (root, size, list CID) and names this lifecycle's aggregator through
   * `ResultAttestation.assignCohort`, which fixes the epoch seed and draws the attestors; returns the
   * `AttestorsDrawn` event's seed and attestors.
   */
  async assign(
    jobId: bigint,
    root: Hex,
    count: number,
    cid: string,
    connectedEpoch: bigint,
  ): Promise<{ seed: Hex; attestors: Address[] }> {
    const { env } = this;
    await this.awaitSeedBlock(jobId);
    await env.send(this.distributor, "ResultAttestation", "assignCohort", [
      jobId,
      root,
      count,
      cid,
      who(this.aggregator),
      connectedEpoch,
    ]);
    const [drawn] = await env.pub.getContractEvents({
      address: env.addr("ResultAttestation"),
      abi: abi("ResultAttestation"),
      eventName: "AttestorsDrawn",
      args: { jobId },
      fromBlock: 0n,
    });
    const args = (drawn as unknown as { args: { seed: Hex; attestors: readonly Address[] } }).args;
    return { seed: args.seed, attestors: args.attestors.map((a) => getAddress(a)) };
  }

  /**
   * The aggregator commits `resultHash(result)` and the transcript CID; the drawn attestors (read from
   * `attestationOf`) derive the result on their own (`opts.recompute`, `INVALID` when that fails; the one at
   * `liarIndex` another value) and commit-reveal it; the aggregator reveals last; the job is finalised unless the
   * unanimous reveal already did. Returns the attestors.
   */
  async attest(
    jobId: bigint,
    result: JobResult,
    transcriptCid: string,
    opts: AttestOptions = {},
  ): Promise<Address[]> {
    const { env, keeper, aggregator } = this;
    const value = resultHash(result);
    const aggSalt = label(`agg-salt-${jobId}`);
    await env.send(aggregator, "ResultAttestation", "commitAggregate", [
      jobId,
      aggregateCommitment(value, aggSalt),
      transcriptCid,
    ]);
    const att = await env.read<{ attestors: readonly Address[]; commitDeadline: bigint }>(
      "ResultAttestation",
      "attestationOf",
      [jobId],
    );
    const attestors = att.attestors.map((a) => getAddress(a));
    assert.equal(attestors.length, JOB.QUORUM);
    const votes: Hex[] = [];
    for (const [i] of attestors.entries()) {
      if (i === opts.liarIndex) votes.push(label("a lie"));
      else if (opts.vote) votes.push(await opts.vote(attestors[i]!));
      else if (!opts.recompute) votes.push(value);
      else
        votes.push(
          await opts.recompute(transcriptCid).then(
            (r) => resultHash(r),
            () => INVALID,
          ),
        );
    }
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
    await env.send(aggregator, "ResultAttestation", "revealAggregate", [jobId, value, aggSalt]);
    if ((await env.read("JobMarket", "status", [jobId])) === JobStatus.Committed)
      await env.send(keeper, "ResultAttestation", "finalize", [jobId]);
    return attestors;
  }

  /**
   * The drawn attestors' own derivation (sdk/protocol/attestor.ts): each runs `attestJob` with its wallet-derived
   * X25519 key, the cohort list and the job's model; each outcome is recorded in `outcomes` (by attestor).
   */
  attestorVotes(opts: {
    jobId: bigint;
    store: Pick<ContentStore, "getBytes">;
    cohort: readonly CohortMember[];
    model: JobModel;
    fetchTimeoutMs?: number;
    outcomes?: Map<Address, AttestOutcome>;
  }): Vote {
    const { env } = this;
    const reads = chainAttestorReads(env.pub, {
      JobMarket: env.addr("JobMarket"),
      ResultAttestation: env.addr("ResultAttestation"),
      NodeStaking: env.addr("NodeStaking"),
      DeviceRegistry: env.addr("DeviceRegistry"),
    });
    return async (a) => {
      const key = await deriveOperatorKey(walletSigner(this.attestorWallet(a)));
      const outcome = await attestJob(
        {
          chain: reads,
          store: opts.store,
          ...(opts.fetchTimeoutMs === undefined ? {} : { fetchTimeoutMs: opts.fetchTimeoutMs }),
          cohort: opts.cohort,
          me: { address: a, x25519SecretKey: key.secretKey },
          model: opts.model,
          session: { chainId: env.pub.chain!.id, jobMarket: env.addr("JobMarket") },
        },
        opts.jobId,
      );
      opts.outcomes?.set(a, outcome);
      return outcome.value;
    };
  }

  /** Payouts: every device but each tenth (dropouts) gets the full reward. */
  payouts(devices: PrivateKeyAccount[]): MerkleEntry[] {
    return devices
      .filter((_, i) => i % 10 !== 9)
      .map((d) => ({ account: getAddress(d.address), value: JOB.REWARD }));
  }

  /**
   * The reporter posts the report with the result preimage `jobResult(entries, ok, aggregateHash)` (it must be the
   * attested one); `ok = false` presents a failed quality requirement. `payoutsCid` is the published payout list (a
   * placeholder CID when the test does not publish it).
   */
  async report(
    jobId: bigint,
    entries: MerkleEntry[],
    ok = true,
    payoutsCid: string = JOB.PAYOUTS,
    aggregateHash: Hex = JOB.AGG,
  ): Promise<JobReport> {
    const { result, tree } = jobResult(entries, ok, aggregateHash);
    await this.env.send(this.reporter, "Settlement", "report", [
      jobId,
      {
        reportCid: JOB.REPORT,
        reportCommitment: label(`encrypted-report-${jobId}`),
        payoutsCid: result.qualityMet ? payoutsCid : "",
        result,
      },
    ]);
    return { tree, total: result.payoutTotal, gas: this.env.gasLog.slice(-1) };
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
