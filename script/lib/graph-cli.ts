/**
 * Runs graph-cli (`@graphprotocol/graph-cli`, bin `graph`) as a child process on the project's Node, for the
 * subgraph scripts (script/subgraph-build.ts, script/subgraph-deploy.ts). Nothing here downloads anything:
 * `graph codegen` and `graph build` work offline; `graph create` / `graph deploy` talk to the graph-node and IPFS
 * endpoints the user names.
 */
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";

/** Why a subgraph step failed. */
export type SubgraphErrorCode =
  | "SUBGRAPH_MANIFEST"
  | "SUBGRAPH_TEMPLATE"
  | "SUBGRAPH_CODEGEN"
  | "SUBGRAPH_BUILD"
  | "SUBGRAPH_CREATE"
  | "SUBGRAPH_DEPLOY"
  | "SUBGRAPH_OPTIONS"
  | "SUBGRAPH_UNREACHABLE";

export class SubgraphError extends Error {
  readonly code: SubgraphErrorCode;
  constructor(code: SubgraphErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SubgraphError";
    this.code = code;
  }
}

/** The subgraph's directory (schema, template, mappings; generated files beside them). */
export const SUBGRAPH_DIR = path.resolve(import.meta.dirname, "..", "..", "subgraph");

/** graph-cli's entry script, resolved from this package's node_modules. */
export function graphCliBin(): string {
  const require = createRequire(import.meta.url);
  const pkg = require.resolve("@graphprotocol/graph-cli/package.json");
  return path.join(path.dirname(pkg), "bin", "run.js");
}

export interface GraphRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `graph <args>` in `cwd`; resolves with its exit code and output (never rejects on a non-zero exit). */
export function runGraph(
  args: readonly string[],
  cwd: string,
  opts: { echo?: boolean } = {},
): Promise<GraphRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [graphCliBin(), ...args], {
      cwd,
      env: { ...process.env, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      if (opts.echo) process.stdout.write(d);
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      if (opts.echo) process.stderr.write(d);
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** Runs `graph <args>` and throws a SubgraphError with its output when it fails. */
export async function graph(
  code: SubgraphErrorCode,
  args: readonly string[],
  cwd: string,
  opts: { echo?: boolean } = {},
): Promise<GraphRun> {
  const r = await runGraph(args, cwd, opts);
  if (r.code !== 0) {
    const out = `${r.stdout}\n${r.stderr}`.trim().split("\n").slice(-40).join("\n");
    throw new SubgraphError(code, `graph ${args[0] ?? ""} failed (exit ${r.code}):\n${out}`);
  }
  return r;
}

/**
 * Fails fast (before a minute of compiling) when an endpoint does not answer at all; any HTTP answer, even an error
 * status, means something listens there.
 */
export async function assertReachable(what: string, url: string, timeoutMs = 5000): Promise<void> {
  try {
    await fetch(url, { method: "POST", signal: AbortSignal.timeout(timeoutMs) });
  } catch (cause) {
    throw new SubgraphError("SUBGRAPH_UNREACHABLE", `${what} at ${url} does not answer`, { cause });
  }
}
