/**
 * Prediction jobs from the customer's side (PROTOCOL.md §4): create a job with its escrowed budget and report key,
 * read a job and its lifecycle status, list jobs, and find the job's posted report. `action(sender, client, …)` style
 * over one `TxSender`; failures are `TxError`s from the sender or a `JobError` with a code.
 */
import { getAddress, parseEventLogs, type Address, type Hex } from "viem";
import { algorithmMarketplaceAbi } from "./abi/AlgorithmMarketplace.ts";
import { jobMarketAbi } from "./abi/JobMarket.ts";
import { settlementAbi } from "./abi/Settlement.ts";
import type { ChainPublicClient } from "./clients.ts";
import { JobStatus } from "./enums.ts";
import { ensureAllowance } from "./token.ts";
import type { TxResult, TxSender } from "./tx-sender.ts";

export type JobErrorCode = "UNKNOWN_JOB" | "JOB_NOT_CREATED" | "NO_REPORT";

export class JobError extends Error {
  readonly code: JobErrorCode;
  constructor(code: JobErrorCode, message: string) {
    super(message);
    this.name = "JobError";
    this.code = code;
  }
}

export type JobStatusName = keyof typeof JobStatus;
const STATUS_NAMES = Object.keys(JobStatus) as JobStatusName[];
export const jobStatusName = (s: number): JobStatusName | `Unknown(${number})` =>
  STATUS_NAMES[s] ?? `Unknown(${s})`;

/** The happy path of a job, in order: `job status --watch` shows progress along it. */
export const JOB_LIFECYCLE: readonly JobStatusName[] = [
  "Created",
  "Bidding",
  "Scheduled",
  "Assigned",
  "Committed",
  "Attested",
  "Reported",
  "Settled",
];
/** Statuses a job never leaves. */
export const FINAL_JOB_STATUSES: readonly JobStatusName[] = [
  "Settled",
  "Failed",
  "Expired",
  "Cancelled",
];

/** Seconds each phase may last (each has a deadline and a permissionless timeout). */
export interface JobDurations {
  bidding: number;
  assignment: number;
  commit: number;
  attestation: number;
  report: number;
  settlement: number;
}

/** `IJobMarket.JobSpec`. */
export interface JobSpec {
  algorithmId: bigint;
  schema: Hex;
  minDevices: number;
  maxDevices: number;
  /** DML wei per participating device. */
  rewardPerDevice: bigint;
  minParticipants: number;
  /** Largest acceptable standard error of the estimate, fixed point 1e18. */
  maxStdError: bigint;
  /** The customer's 33-byte compressed secp256k1 report key. */
  encryptionKey: Hex;
  durations: JobDurations;
  /** Most the customer pays per use of the algorithm (0 with a licence). */
  maxUsePrice: bigint;
}

export interface CreatedJob {
  jobId: bigint;
  escrow: bigint;
  usePaid: bigint;
  tx: TxResult;
  approvals: TxResult[];
}

/**
 * Creates a job: approves the JobMarket for the escrow (`budgetOf(maxDevices, reward)`) and the marketplace for the
 * use price when the allowances are short, then `createJob`; the id, escrow and use price paid come from `JobCreated`.
 */
export async function createJob(
  sender: TxSender,
  client: ChainPublicClient,
  addrs: { jobMarket: Address; market: Address; token: Address },
  spec: JobSpec,
): Promise<CreatedJob> {
  const budget = await client.readContract({
    address: addrs.jobMarket,
    abi: jobMarketAbi,
    functionName: "budgetOf",
    args: [spec.maxDevices, spec.rewardPerDevice],
  });
  const [, , usePrice] = await client.readContract({
    address: addrs.market,
    abi: algorithmMarketplaceAbi,
    functionName: "useTerms",
    args: [spec.algorithmId, sender.address],
  });
  const approvals: TxResult[] = [];
  const a1 = await ensureAllowance(sender, client, addrs.token, addrs.jobMarket, budget);
  if (a1) approvals.push(a1);
  if (usePrice > 0n) {
    const a2 = await ensureAllowance(sender, client, addrs.token, addrs.market, usePrice);
    if (a2) approvals.push(a2);
  }
  const tx = await sender.send({
    address: addrs.jobMarket,
    abi: jobMarketAbi,
    functionName: "createJob",
    args: [spec],
  });
  const [created] = parseEventLogs({
    abi: jobMarketAbi,
    eventName: "JobCreated",
    logs: tx.receipt.logs,
  });
  if (created === undefined) throw new JobError("JOB_NOT_CREATED", `no JobCreated in ${tx.hash}`);
  return {
    jobId: created.args.jobId,
    escrow: created.args.escrow,
    usePaid: created.args.usePaid,
    tx,
    approvals,
  };
}

/** What a customer reads about a job. */
export interface JobInfo {
  id: bigint;
  status: string;
  statusCode: number;
  customer: Address;
  algorithmId: bigint;
  minDevices: number;
  maxDevices: number;
  deviceCount: number;
  rewardPerDevice: bigint;
  minParticipants: number;
  maxStdError: bigint;
  escrow: bigint;
  /** Deadline of the current phase (unix seconds; 0 when none). */
  deadline: number;
  bidEpoch: number;
  scheduledEpoch: number;
  distributor: Address;
  aggregator: Address;
  cohortRoot: Hex;
}

export async function jobCount(client: ChainPublicClient, jobMarket: Address): Promise<bigint> {
  return client.readContract({ address: jobMarket, abi: jobMarketAbi, functionName: "jobCount" });
}

/** Job `id`. @throws JobError UNKNOWN_JOB */
export async function jobInfo(
  client: ChainPublicClient,
  jobMarket: Address,
  id: bigint,
): Promise<JobInfo> {
  const count = await jobCount(client, jobMarket);
  if (id < 1n || id > count)
    throw new JobError(
      "UNKNOWN_JOB",
      `no job ${id} (the market has ${count === 0n ? "none" : `jobs 1..${count}`})`,
    );
  const j = await client.readContract({
    address: jobMarket,
    abi: jobMarketAbi,
    functionName: "getJob",
    args: [id],
  });
  return {
    id,
    status: jobStatusName(j.status),
    statusCode: j.status,
    customer: getAddress(j.customer),
    algorithmId: j.algorithmId,
    minDevices: j.minDevices,
    maxDevices: j.maxDevices,
    deviceCount: j.deviceCount,
    rewardPerDevice: j.rewardPerDevice,
    minParticipants: j.minParticipants,
    maxStdError: j.maxStdError,
    escrow: j.escrow,
    deadline: Number(j.deadline),
    bidEpoch: j.bidEpoch,
    scheduledEpoch: j.scheduledEpoch,
    distributor: getAddress(j.distributor),
    aggregator: getAddress(j.aggregator),
    cohortRoot: j.cohortRoot,
  };
}

/** Every job (newest first), or the jobs of `customer`; at most `limit`. */
export async function listJobs(
  client: ChainPublicClient,
  jobMarket: Address,
  opts: { customer?: Address; limit?: number } = {},
): Promise<JobInfo[]> {
  const count = await jobCount(client, jobMarket);
  const limit = opts.limit ?? 100;
  const out: JobInfo[] = [];
  for (let id = count; id >= 1n && out.length < limit; id--) {
    const j = await jobInfo(client, jobMarket, id);
    if (opts.customer !== undefined && j.customer !== getAddress(opts.customer)) continue;
    out.push(j);
  }
  return out;
}

/** The report a reporter posted for a job (`Settlement.ReportPosted`). */
export interface PostedReport {
  jobId: bigint;
  reporter: Address;
  reportCid: string;
  reportCommitment: Hex;
  aggregateHash: Hex;
  participants: number;
  qualityMet: boolean;
  success: boolean;
  blockNumber: bigint;
}

/** The last `ReportPosted` of `jobId`. @throws JobError NO_REPORT */
export async function postedReport(
  client: ChainPublicClient,
  settlement: Address,
  jobId: bigint,
  fromBlock: bigint,
): Promise<PostedReport> {
  const logs = await client.getContractEvents({
    address: settlement,
    abi: settlementAbi,
    eventName: "ReportPosted",
    args: { jobId },
    fromBlock,
  });
  const last = logs.at(-1);
  if (last === undefined) throw new JobError("NO_REPORT", `job ${jobId} has no report yet`);
  const a = last.args;
  return {
    jobId,
    reporter: getAddress(a.reporter!),
    reportCid: a.reportCid!,
    reportCommitment: a.reportCommitment!,
    aggregateHash: a.aggregateHash!,
    participants: a.participants!,
    qualityMet: a.qualityMet!,
    success: a.success!,
    blockNumber: last.blockNumber,
  };
}
