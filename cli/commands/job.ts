/** `dml job create|status|list`: prediction jobs from the customer's side. */
import type { Command } from "commander";
import { formatUnits, type Address, type Hex } from "viem";
import { algorithmInfo } from "#sdk/chain/marketplace.ts";
import {
  createJob,
  FINAL_JOB_STATUSES,
  jobInfo,
  JOB_LIFECYCLE,
  listJobs,
  type JobInfo,
  type JobStatusName,
} from "#sdk/chain/jobs.ts";
import { CliError } from "#sdk/cli/errors.ts";
import { startProgress, withProgress } from "#sdk/cli/progress.ts";
import * as arg from "../args.ts";
import { action, examples } from "../command.ts";
import { loadOrCreateReportKey } from "../report-key.ts";

const dmlText = (wei: bigint) => `${formatUnits(wei, 18)} DML`;
const summary = (j: JobInfo) =>
  `job ${j.id}: ${j.status}  algorithm #${j.algorithmId}  customer ${j.customer}  devices ${j.deviceCount}/${j.maxDevices} (min ${j.minDevices})  reward ${dmlText(j.rewardPerDevice)}/device  escrow ${dmlText(j.escrow)}${j.deadline ? `  phase deadline ${new Date(j.deadline * 1000).toISOString()}` : ""}`;

interface CreateOptions {
  algorithm: bigint;
  schema: Hex;
  minDevices: number;
  maxDevices: number;
  reward: bigint;
  minParticipants?: number;
  maxStdError: bigint;
  reportKey: string;
  maxUsePrice?: bigint;
  bidding: number;
  assignment: number;
  commit: number;
  attestation: number;
  report: number;
  settlement: number;
}

export function registerJob(program: Command): void {
  const group = program
    .command("job")
    .summary("create prediction jobs and follow them")
    .description(
      "Prediction jobs (JobMarket): the customer escrows a budget and gets an encrypted report.",
    );

  const create = group
    .command("create")
    .description(
      "Create a prediction job: escrows budgetOf(max devices, reward) and pays the algorithm's use price (nothing with " +
        "a licence), approving exactly what is short. The report will be encrypted to the key in --report-key, which " +
        "is created (mode 0600) when the file does not exist. The job then bids in the next auction epoch.",
    )
    .requiredOption("--algorithm <id>", "algorithm id", arg.id)
    .requiredOption(
      "--report-key <file>",
      "report key file (created when absent; keep it: only it decrypts the report)",
    )
    .addOption(
      arg.withDefault(
        "--schema <id>",
        "dataset schema id or bytes32 hash",
        arg.schema,
        arg.schema("email/rfc822-v1"),
        "email/rfc822-v1",
      ),
    )
    .option("--min-devices <n>", "fewest devices in the cohort", arg.int32, 5)
    .option("--max-devices <n>", "most devices in the cohort", arg.int32, 10)
    .addOption(
      arg.withDefault(
        "--reward <dml>",
        "reward per participating device (DML)",
        arg.dml,
        2n * 10n ** 18n,
        "2",
      ),
    )
    .option(
      "--min-participants <n>",
      "fewest surviving devices for the result to count (default: --min-devices)",
      arg.int32,
    )
    .addOption(
      arg.withDefault(
        "--max-std-error <fraction>",
        "largest acceptable standard error of the estimate",
        arg.fraction,
        15n * 10n ** 16n,
        "0.15",
      ),
    )
    .option(
      "--max-use-price <dml>",
      "most you pay per use (default: the algorithm's use price now)",
      arg.dml,
    )
    .option(
      "--bidding <duration>",
      "bidding phase (seconds, or 90m, 2h, 7d)",
      arg.seconds,
      7 * 86_400,
    )
    .option("--assignment <duration>", "assignment phase", arg.seconds, 3_600)
    .option("--commit <duration>", "commit phase", arg.seconds, 7_200)
    .option("--attestation <duration>", "attestation phase", arg.seconds, 3_600)
    .option("--report <duration>", "report phase", arg.seconds, 3_600)
    .option("--settlement <duration>", "settlement phase", arg.seconds, 3_600)
    .action(
      action<CreateOptions>(async (ctx, o) => {
        const client = await ctx.client();
        const market = await ctx.addr("AlgorithmMarketplace");
        const algorithm = await algorithmInfo(client, market, o.algorithm);
        if (o.minDevices > o.maxDevices)
          throw new CliError(
            "INVALID_ARGUMENT",
            `--min-devices ${o.minDevices} is above --max-devices ${o.maxDevices}`,
          );
        const sender = await ctx.sender();
        const key = await loadOrCreateReportKey(o.reportKey);
        if (key.created)
          ctx.out.note(
            `wrote a new report key to ${o.reportKey} (keep it: only it decrypts the report)`,
          );
        const r = await withProgress(
          `creating a job on algorithm ${o.algorithm}`,
          ctx.progress,
          async () =>
            createJob(
              sender,
              client,
              { jobMarket: await ctx.addr("JobMarket"), market, token: await ctx.addr("DMLToken") },
              {
                algorithmId: o.algorithm,
                schema: o.schema,
                minDevices: o.minDevices,
                maxDevices: o.maxDevices,
                rewardPerDevice: o.reward,
                minParticipants: o.minParticipants ?? o.minDevices,
                maxStdError: o.maxStdError,
                encryptionKey: key.publicKey,
                durations: {
                  bidding: o.bidding,
                  assignment: o.assignment,
                  commit: o.commit,
                  attestation: o.attestation,
                  report: o.report,
                  settlement: o.settlement,
                },
                maxUsePrice: o.maxUsePrice ?? algorithm.usePrice,
              },
            ),
        );
        ctx.out.result(
          {
            jobId: r.jobId,
            customer: sender.address,
            escrow: r.escrow,
            usePaid: r.usePaid,
            encryptionKey: key.publicKey,
            reportKey: o.reportKey,
            txHash: r.tx.hash,
            approvalTxHashes: r.approvals.map((a) => a.hash),
          },
          `job ${r.jobId} created: ${dmlText(r.escrow)} escrowed, ${dmlText(r.usePaid)} paid for use: ${r.tx.hash}`,
        );
      }),
    );
  examples(create, [
    "DML_PASSWORD=… dml job create --algorithm 1 --report-key ./job.key --max-devices 100 --reward 2",
    "dml --password-file ./pw --json job create --algorithm 1 --report-key ./job.key | jq .jobId",
  ]);

  const status = group
    .command("status")
    .description(
      "Show a job's status and terms. With --watch, follow it along Created → … → Settled (a progress bar on a " +
        "terminal) until it ends (Settled, Failed, Expired, Cancelled) or --timeout passes.",
    )
    .argument("<id>", "job id", arg.id)
    .option("--watch", "poll until the job ends")
    .option("--interval <duration>", "polling interval with --watch", arg.seconds, 5)
    .option(
      "--timeout <duration>",
      "give up watching after this long (exit 1)",
      arg.seconds,
      86_400,
    )
    .action(
      action<{ watch?: boolean; interval: number; timeout: number }, [bigint]>(
        async (ctx, o, id) => {
          const client = await ctx.client();
          const jobMarket = await ctx.addr("JobMarket");
          let j = await jobInfo(client, jobMarket, id);
          if (o.watch === true) {
            const bar = startProgress(`job ${id}`, JOB_LIFECYCLE.length, ctx.progress);
            const step = (s: string) => JOB_LIFECYCLE.indexOf(s as JobStatusName) + 1;
            const deadline = Date.now() + o.timeout * 1000;
            try {
              for (;;) {
                bar.update(Math.max(step(j.status), 0), j.status);
                if (FINAL_JOB_STATUSES.includes(j.status as JobStatusName)) break;
                if (Date.now() >= deadline)
                  throw new CliError(
                    "TIMEOUT",
                    `job ${id} is still ${j.status} after ${o.timeout} s`,
                  );
                await new Promise((r) => setTimeout(r, o.interval * 1000));
                j = await jobInfo(client, jobMarket, id);
              }
            } finally {
              bar.stop();
            }
          }
          ctx.out.result(j, summary(j));
        },
      ),
    );
  examples(status, [
    "dml job status 7",
    "dml job status 7 --watch --interval 10",
    "dml --json job status 7 | jq -r .status",
  ]);

  const list = group
    .command("list")
    .description("List jobs, newest first: all of them, yours (--mine) or one customer's.")
    .option("--mine", "only the keystore account's jobs")
    .option("--customer <address>", "only this customer's jobs", arg.address)
    .option("--limit <n>", "at most this many", arg.int32, 50)
    .action(
      action<{ mine?: boolean; customer?: Address; limit: number }>(async (ctx, o) => {
        const customer = o.customer ?? (o.mine === true ? await ctx.address() : undefined);
        const jobs = await listJobs(await ctx.client(), await ctx.addr("JobMarket"), {
          ...(customer ? { customer } : {}),
          limit: o.limit,
        });
        ctx.out.result({ jobs }, jobs.length === 0 ? "no jobs" : jobs.map(summary));
      }),
    );
  examples(list, [
    "dml job list --mine",
    "dml job list --customer 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 --json",
  ]);
}
