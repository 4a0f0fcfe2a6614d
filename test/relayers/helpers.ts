/** Running `dml-relayer` as a real child process (node + tsx hooks, so signals reach the relayer itself). */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { TS_NODE_ARGS } from "../../script/network/processes.ts";

export const FIXTURE_CLI = path.resolve(import.meta.dirname, "fixtures/relayer-cli.ts");

export interface RelayerProcess {
  child: ChildProcessWithoutNullStreams;
  stderr: () => string;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>;
  /** The metrics URL from the "relayer started" log line. */
  ready: Promise<string>;
}

const running = new Set<ChildProcessWithoutNullStreams>();

/** SIGKILLs every relayer a test started and left running (call from `after`), so a failed test cannot hang. */
export function killAll(): void {
  for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  running.clear();
}

export function startRelayer(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  cli = FIXTURE_CLI,
): RelayerProcess {
  const child = spawn(process.execPath, [...TS_NODE_ARGS, cli, ...args], {
    env: { ...process.env, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  running.add(child);
  let err = "";
  let resolveReady: (url: string) => void = () => undefined;
  let rejectReady: (e: Error) => void = () => undefined;
  const ready = new Promise<string>((res, rej) => {
    resolveReady = res;
    rejectReady = rej;
  });
  ready.catch(() => undefined);
  child.stderr.on("data", (d: Buffer) => {
    err += d.toString();
    const m = /"metricsUrl":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(err);
    if (m?.[1] !== undefined) resolveReady(m[1]);
  });
  child.stdout.on("data", () => undefined);
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => {
      rejectReady(new Error(`relayer exited (${code ?? signal}) before ready:\n${err}`));
      resolve(code ?? signal ?? -1);
    }),
  );
  return { child, stderr: () => err, exited, ready };
}

/** Polls `check` every 50 ms until it returns true, or fails after `timeoutMs`. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 30_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export async function fileLines(file: string): Promise<string[]> {
  try {
    return (await readFile(file, "utf8")).split("\n").filter((l) => l.length > 0);
  } catch {
    return [];
  }
}
