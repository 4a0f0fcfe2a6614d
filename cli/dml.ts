#!/usr/bin/env node
/**
 * `dml` — the customer's, developer's and token holder's command line (docs/cli.md): algorithms, jobs, reports,
 * fine-tuning bounties, governance, all through the sdk client (sdk/chain, sdk/protocol).
 *
 * Exit codes: 0 success, 1 runtime failure, 2 bad options or configuration (sdk/cli/errors.ts).
 */
import { pathToFileURL } from "node:url";
import { Command, Option } from "commander";
import { reportCliError } from "#sdk/cli/errors.ts";
import * as arg from "./args.ts";
import { examples } from "./command.ts";
import { DEFAULTS } from "./context.ts";
import { registerAlgorithm } from "./commands/algorithm.ts";
import { registerBounty } from "./commands/bounty.ts";
import { registerGov } from "./commands/gov.ts";
import { registerJob } from "./commands/job.ts";
import { registerReport } from "./commands/report.ts";
import { registerToken } from "./commands/token.ts";

const DESCRIPTION = [
  "dml: use the DML protocol from a terminal or a script — buy and publish algorithms, run prediction jobs and " +
    "read their encrypted reports, post fine-tuning bounties, and govern the protocol.",
  "Every command reads the chain at --rpc through the deployment manifest (--manifest); commands that send " +
    "transactions sign with the encrypted keystore (--keystore), whose password comes from DML_PASSWORD or " +
    "--password-file. --json prints exactly one JSON document on stdout. A failure is one line on stderr, " +
    "`dml: error[CODE]: message`; exit 0 success, 1 runtime failure, 2 bad options or configuration.",
].join("\n\n");

export function buildProgram(): Command {
  const program = new Command("dml")
    .description(DESCRIPTION)
    .usage("[global options] <command> [options]")
    .exitOverride()
    .configureOutput({ outputError: () => undefined })
    .configureHelp({ sortSubcommands: false, showGlobalOptions: true })
    .addOption(
      new Option("--rpc <url>", "JSON-RPC endpoint (env DML_RPC_URL)")
        .default(DEFAULTS.rpc)
        .argParser(arg.url),
    )
    .addOption(
      new Option(
        "--manifest <file>",
        "deployment manifest (script/deploy.ts output; env DML_MANIFEST)",
      ).default(process.env.DML_MANIFEST, "deployments/<chain id>.local.json"),
    )
    .addOption(
      new Option(
        "--keystore <file>",
        "encrypted v3 keystore of your key (env DML_KEYSTORE)",
      ).default(DEFAULTS.keystore),
    )
    .addOption(
      new Option(
        "--password-file <file>",
        "file holding the keystore password (else env DML_PASSWORD)",
      ),
    )
    .addOption(
      new Option(
        "--ipfs <url>",
        "Kubo RPC API URL (env DML_IPFS_URL; default: embedded Helia in --ipfs-dir)",
      )
        .default(process.env.DML_IPFS_URL)
        .argParser(arg.url),
    )
    .addOption(
      new Option("--ipfs-dir <dir>", "embedded IPFS node's directory (env DML_IPFS_DIR)").default(
        DEFAULTS.ipfsDir,
      ),
    )
    .addOption(
      new Option(
        "--tx-timeout <seconds>",
        "wait this long for a receipt before re-sending with higher fees",
      )
        .default(120)
        .argParser((v) => arg.int32(v)),
    )
    .option("--json", "print one JSON document on stdout (bigints as decimal strings)");
  program.commandsGroup("Customer and developer:");
  registerAlgorithm(program);
  registerJob(program);
  registerReport(program);
  registerBounty(program);
  program.commandsGroup("Governance and account:");
  registerGov(program);
  registerToken(program);
  examples(program, [
    "dml algorithm list",
    "DML_PASSWORD=… dml algorithm buy 1",
    "dml job create --algorithm 1 --report-key ./job.key --max-devices 100 --reward 2",
    "dml job status 7 --watch",
    "dml report decrypt --job 7 --key ./job.key",
    "dml --json gov status 4242… | jq -r .state",
    "dml <command> --help",
  ]);
  return program;
}

/** Parses `argv` (user arguments) and runs; a failure is one line on stderr and exit 1 or 2. */
export async function main(argv: readonly string[]): Promise<void> {
  try {
    await buildProgram().parseAsync([...argv], { from: "user" });
  } catch (e) {
    const exit = (e as { exitCode?: unknown; code?: unknown }).exitCode;
    const code = (e as { code?: unknown }).code;
    // --help and --version end by throwing with exit code 0 under exitOverride
    if (exit === 0 || code === "commander.helpDisplayed" || code === "commander.help") {
      process.exitCode = 0;
      return;
    }
    reportCliError("dml", e);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href)
  await main(process.argv.slice(2));
