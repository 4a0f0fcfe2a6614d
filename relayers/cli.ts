#!/usr/bin/env node
/**
 * `dml-relayer` — the node operator's command line (docs/relayers.md).
 *
 *   dml-relayer <role> [options]     run one role (each role registers itself in relayers/<role>/index.ts)
 *   dml-relayer keystore create      write the operator keystore
 *
 * Exit codes: 0 stopped cleanly (drained), 1 runtime or start failure, 2 invalid options or configuration. A failure
 * is one line on stderr, `dml-relayer: error[CODE]: message` (the formatter all four CLIs share, sdk/cli/errors.ts).
 */
import { Command } from "commander";
import { pathToFileURL } from "node:url";
import { createKeystore, LIGHT_SCRYPT } from "#sdk/crypto/keystore.ts";
import { parsePrivateKey } from "#sdk/chain/clients.ts";
import {
  addConfigOptions,
  commonFields,
  keystorePassword,
  keystorePath,
  loadConfig,
} from "./common/config.ts";
import { z } from "zod";
import { ACTION_STATUSES, ActionQueue } from "./common/action-queue.ts";
import { RelayerError } from "./common/errors.ts";
import { reportCliError } from "#sdk/cli/errors.ts";
import { roleFields, runRelayer, type RoleDefinition } from "./common/relayer.ts";
import type { FieldSpecs } from "./common/config.ts";
import { ROLES } from "./roles.ts";

/** Every role, for the `dml-relayer` bin (which loads this module alone: script/bin/load-ts.mjs). */
export { ROLES };

const PROGRAM_DESCRIPTION = [
  "DML relayer: run a node operator's role of the DML protocol.",
  "",
  "Each role is a loop: every tick it reads the chain, derives what should be on it, enqueues one action per " +
    "missing effect in a durable queue (PGlite, in the data directory), then runs the queued actions. A crashed " +
    "relayer re-checks the chain before re-sending, so a restart never makes a transaction's effect happen twice. " +
    "Health and Prometheus metrics are served on 127.0.0.1 (/healthz, /metrics).",
  "",
  "Configuration: flags > environment (DML_<FIELD>, e.g. DML_RPC_URL) > JSON file (--config, DML_CONFIG) > " +
    "defaults. The keystore password comes from DML_KEYSTORE_PASSWORD or --password-file, never from a flag.",
].join("\n");

/** The whole command tree for `roles` (tests add their own fixture roles). */
export function buildProgram(roles: readonly RoleDefinition<FieldSpecs>[]): Command {
  const program = new Command("dml-relayer")
    .description(PROGRAM_DESCRIPTION)
    .usage("<role> [options]")
    .exitOverride()
    .configureOutput({ outputError: () => undefined })
    .configureHelp({ sortSubcommands: true });
  program.commandsGroup("Roles:");
  for (const role of roles) addRole(program, role);
  program.commandsGroup("Tools:");
  addKeystore(program);
  addQueue(program);
  program.addHelpText(
    "after",
    `
Examples:
  DML_KEYSTORE_PASSWORD=… dml-relayer keystore create --data-dir ~/.dml-relayer/attestor
  DML_KEYSTORE_PASSWORD=… dml-relayer attestor --rpc-url http://127.0.0.1:8545 --metrics-port 9464
  dml-relayer attestor --help`,
  );
  return program;
}

function addRole(program: Command, role: RoleDefinition<FieldSpecs>): void {
  const cmd = program
    .command(role.name)
    .summary(role.summary)
    .description(role.description)
    .option(
      "--config <file>",
      "JSON config file (keys are the flags in camelCase); env DML_CONFIG",
    );
  addConfigOptions(cmd, role.fields, `${role.name} options:`);
  addConfigOptions(cmd, commonFields(role.name), "Relayer options:");
  cmd.addHelpText("after", `\nExamples:\n${role.examples.map((e) => `  ${e}`).join("\n")}`);
  cmd.action(async (flags: Record<string, unknown>) => {
    const config = await loadConfig(roleFields(role), { flags, env: process.env });
    process.exitCode = await runRelayer(role, config, { env: process.env });
  });
}

function addKeystore(program: Command): void {
  const ks = program.command("keystore").description("the operator key (Web3 Secret Storage v3)");
  const fields = {
    dataDir: commonFields("relayer").dataDir,
    keystore: commonFields("relayer").keystore,
    passwordFile: commonFields("relayer").passwordFile,
  };
  const create = ks
    .command("create")
    .description(
      "Write a new encrypted keystore (fresh random key, or --import-key-file); never overwrites one.",
    )
    .option("--import-key-file <file>", "file holding a 32-byte hex private key to import")
    .option("--light-kdf", "cheap scrypt parameters (tests and throwaway keys only)");
  addConfigOptions(create, fields, "Options:");
  create.addHelpText(
    "after",
    `
Examples:
  DML_KEYSTORE_PASSWORD=… dml-relayer keystore create --keystore ./operator.json
  dml-relayer keystore create --password-file ./pw --import-key-file ./key.hex --data-dir ./attestor`,
  );
  create.action(async (flags: Record<string, unknown>) => {
    const config = await loadConfig(fields, { flags, env: process.env });
    const file = keystorePath(config);
    const password = await keystorePassword(config);
    const keyFile = flags.importKeyFile;
    let importKey: `0x${string}` | undefined;
    if (typeof keyFile === "string") {
      const { readFile } = await import("node:fs/promises");
      importKey = parsePrivateKey(await readFile(keyFile, "utf8"), `the key in ${keyFile}`);
    }
    const account = await createKeystore(file, password, {
      ...(importKey === undefined ? {} : { importKey }),
      ...(flags.lightKdf === true ? { scrypt: LIGHT_SCRYPT } : {}),
    });
    console.log(`${account.address} ${file}`);
  });
}

function addQueue(program: Command): void {
  const fields = { dataDir: commonFields("relayer").dataDir };
  const list = program
    .command("queue")
    .description("inspect a stopped relayer's action queue")
    .command("list")
    .description(
      "Print every action of the queue in <data-dir> as JSON lines (key, type, status, attempts, recoveries, last " +
        "failure, timestamps). The relayer must be stopped: one process owns a data directory.",
    )
    .option("--status <status>", `only this status: ${ACTION_STATUSES.join(", ")}`);
  addConfigOptions(list, fields, "Options:");
  list.addHelpText(
    "after",
    "\nExamples:\n  dml-relayer queue list --data-dir ~/.dml-relayer/attestor --status failed",
  );
  list.action(async (flags: Record<string, unknown>) => {
    const config = await loadConfig(fields, { flags, env: process.env });
    const status = z.enum(ACTION_STATUSES).optional().safeParse(flags.status);
    if (!status.success)
      throw new RelayerError(
        "CONFIG_INVALID",
        `invalid --status: expected one of ${ACTION_STATUSES.join(", ")}`,
      );
    const queue = await ActionQueue.open(config.dataDir);
    try {
      for (const a of await queue.list(status.data === undefined ? {} : { status: status.data }))
        console.log(JSON.stringify(a));
    } finally {
      await queue.close();
    }
  });
}

/**
 * Parses `argv` and runs; a failure is one line on stderr, `dml-relayer: error[CODE]: message` (sdk/cli/errors.ts),
 * and exit 1, or 2 for bad options and configuration.
 */
export async function main(
  roles: readonly RoleDefinition<FieldSpecs>[],
  argv: string[] = process.argv,
): Promise<void> {
  try {
    await buildProgram(roles).parseAsync(argv);
  } catch (e) {
    // --help and --version end by throwing with exit code 0 under exitOverride
    if ((e as { exitCode?: unknown }).exitCode === 0) return;
    reportCliError("dml-relayer", e);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await main(ROLES);
