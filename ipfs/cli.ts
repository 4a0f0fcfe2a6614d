#!/usr/bin/env node
/**
 * `dml-ipfs` — the shared IPFS node of a machine running DML processes (docs/ml.md, "The IPFS daemon").
 *
 *   dml-ipfs daemon --dir <dir> [--host 127.0.0.1] [--port 5001]
 *
 * Prints `RPC API server listening on <url>` then `Daemon is ready` once it serves; SIGTERM or SIGINT
 * close it cleanly. Exit codes: 0 stopped cleanly, 1 runtime or start failure, 2 invalid options.
 */
import { Command } from "commander";
import { homedir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { z } from "zod";
import { reportCliError } from "#sdk/cli/errors.ts";
import { IpfsDaemon } from "#sdk/ipfs/daemon.ts";
import { DEFAULT_MAX_BODY_BYTES, DEFAULT_RPC_PORT } from "#sdk/ipfs/rpc-server.ts";

class CliConfigError extends Error {
  override readonly name = "CliConfigError";
  readonly code = "CONFIG_INVALID";
}

const intArg = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, "expected a decimal integer")
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const daemonFlags = z.object({
  dir: z.string().min(1),
  host: z.union([z.ipv4(), z.ipv6(), z.literal("localhost")]),
  port: intArg(0, 65_535),
  maxBodyBytes: intArg(1024, 2 ** 32),
});
export type DaemonFlags = z.infer<typeof daemonFlags>;

export const DEFAULT_DIR = join(homedir(), ".dml-ipfs");

/** Validates commander's flags for `daemon`. @throws CliConfigError */
export function parseDaemonFlags(flags: Record<string, unknown>): DaemonFlags {
  const r = daemonFlags.safeParse(flags);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const flag = String(issue?.path[0] ?? "").replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  throw new CliConfigError(`invalid --${flag}: ${issue?.message ?? "invalid"}`);
}

export function buildProgram(out: (line: string) => void = (l) => console.log(l)): Command {
  const program = new Command("dml-ipfs")
    .description(
      [
        "DML IPFS node: one embedded Helia node per machine, shared by the DML processes on it.",
        "",
        "Serves the subset of Kubo's RPC API that DML's KuboStore uses (add, block/get, block/put, cat, " +
          "version) on loopback, so relayer roles and device runners in separate processes exchange content " +
          "by pointing --kubo-url at it. No networking: the node never dials out. Readers verify every block " +
          "against its CID, so they need not trust this node.",
      ].join("\n"),
    )
    .usage("<command> [options]")
    .exitOverride()
    .configureOutput({ outputError: () => undefined });
  const daemon = program
    .command("daemon")
    .summary("run the node and its RPC API")
    .description(
      "Open (or create) the node's stores in --dir, serve the RPC API on --host:--port, print " +
        "`RPC API server listening on <url>` and `Daemon is ready`, and run until SIGTERM or SIGINT. One " +
        "daemon per directory (lock file dml-ipfs.lock).",
    );
  daemon.optionsGroup("Daemon options:");
  daemon
    .option("--dir <dir>", "directory of the node's blocks, datastore and lock", DEFAULT_DIR)
    .option("--host <ip>", "interface to listen on (keep it loopback)", "127.0.0.1")
    .option("--port <port>", "RPC API port; 0 picks a free one", String(DEFAULT_RPC_PORT))
    .option(
      "--max-body-bytes <n>",
      "largest request body (an add of one object)",
      String(DEFAULT_MAX_BODY_BYTES),
    );
  daemon.addHelpText(
    "after",
    `
Examples:
  dml-ipfs daemon --dir ~/.dml-ipfs
  dml-ipfs daemon --dir ./.data/ipfs --port 0        # free port, printed when ready
  dml-relayer attestor --kubo-url http://127.0.0.1:5001 ...`,
  );
  daemon.action(async (flags: Record<string, unknown>) => {
    const config = parseDaemonFlags(flags);
    const node = await IpfsDaemon.start(config);
    out(`RPC API server listening on ${node.url}`);
    out("Daemon is ready");
    await new Promise<void>((resolve) => {
      const stop = (signal: NodeJS.Signals) => {
        process.off("SIGTERM", stop);
        process.off("SIGINT", stop);
        out(`Received ${signal}, shutting down`);
        resolve();
      };
      process.on("SIGTERM", stop);
      process.on("SIGINT", stop);
    });
    await node.close();
    out("Daemon stopped");
  });
  program.addHelpText(
    "after",
    `
Examples:
  dml-ipfs daemon --dir ~/.dml-ipfs --port 5001
  dml-ipfs daemon --help`,
  );
  return program;
}

/**
 * Parses `argv` and runs; a failure is one line on stderr, `dml-ipfs: error[CODE]: message`, and exit 1 (2 for invalid
 * options), as every DML CLI does (sdk/cli/errors.ts).
 */
export async function main(argv: string[] = process.argv): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (e) {
    if ((e as { exitCode?: unknown }).exitCode === 0) return;
    reportCliError("dml-ipfs", e);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await main();
