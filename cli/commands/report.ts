/** `dml report decrypt`: the customer reads its job's report. */
import type { Command } from "commander";
import type { Hex } from "viem";
import { postedReport } from "#sdk/chain/jobs.ts";
import { CliError } from "#sdk/cli/errors.ts";
import { withProgress } from "#sdk/cli/progress.ts";
import { decryptReport } from "#sdk/crypto/report.ts";
import * as arg from "../args.ts";
import { action, examples } from "../command.ts";
import { readReportKey } from "../report-key.ts";

export function registerReport(program: Command): void {
  const group = program
    .command("report")
    .summary("read a job's encrypted report")
    .description(
      "Job reports: encrypted to the customer's report key, published on IPFS, committed on chain.",
    );
  const decrypt = group
    .command("decrypt")
    .description(
      "Fetch a job's report from IPFS, check its bytes against the on-chain commitment (Settlement's ReportPosted), " +
        "and decrypt it with your report key. The report (JSON) goes to stdout, or to --out.",
    )
    .requiredOption("--key <file>", "the report key file `dml job create --report-key` wrote")
    .option("--job <id>", "the job whose posted report to read", arg.id)
    .option("--cid <cid>", "a report CID (with --commitment) instead of --job")
    .option("--commitment <hex>", "keccak256 of the report bytes, with --cid", arg.bytes32)
    .option("--out <file>", "write the report there instead of stdout")
    .action(
      action<{ key: string; job?: bigint; cid?: string; commitment?: Hex; out?: string }>(
        async (ctx, o) => {
          if ((o.job === undefined) === (o.cid === undefined))
            throw new CliError(
              "INVALID_ARGUMENT",
              "give exactly one of --job <id> or --cid <cid> --commitment <hex>",
            );
          if (o.cid !== undefined && o.commitment === undefined)
            throw new CliError(
              "INVALID_ARGUMENT",
              "--cid needs --commitment (the on-chain keccak256 of the report)",
            );
          const key = await readReportKey(o.key);
          let cid: string;
          let commitment: Hex;
          let meta: Record<string, unknown> = {};
          if (o.job !== undefined) {
            const posted = await postedReport(
              await ctx.client(),
              await ctx.addr("Settlement"),
              o.job,
              await ctx.fromBlock(),
            );
            cid = posted.reportCid;
            commitment = posted.reportCommitment;
            meta = {
              jobId: o.job,
              participants: posted.participants,
              qualityMet: posted.qualityMet,
              success: posted.success,
            };
          } else {
            cid = o.cid!;
            commitment = o.commitment!;
          }
          const store = await ctx.ipfs();
          const bytes = await withProgress(`fetching ${cid}`, ctx.progress, () =>
            store.getBytes(cid),
          );
          const report = decryptReport(key.secretKey, bytes, commitment);
          const doc = { ...meta, cid, commitment, report };
          if (o.out !== undefined) {
            const { writeFile } = await import("node:fs/promises");
            await writeFile(o.out, `${JSON.stringify(report, null, 2)}\n`, { mode: 0o600 });
            ctx.out.result(
              { ...doc, report: undefined, out: o.out },
              `report of ${cid} written to ${o.out}`,
            );
            return;
          }
          ctx.out.result(doc, JSON.stringify(report, null, 2));
        },
      ),
    );
  examples(decrypt, [
    "dml report decrypt --job 7 --key ./job.key",
    "dml --ipfs http://127.0.0.1:5001 report decrypt --job 7 --key ./job.key --out report.json",
    "dml report decrypt --cid bafy… --commitment 0x… --key ./job.key --json",
  ]);
}
