/** Running `dml-relayer` as a real child process (node + tsx hooks, so signals reach the relayer itself), and the loop as in-process tests drive it. */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "pino";
import { TS_NODE_ARGS } from "../../script/network/processes.ts";
import type { ActionQueue } from "../../relayers/common/action-queue.ts";
import { RelayerLoop, type LoopOptions, type RoleRuntime } from "../../relayers/common/loop.ts";

export const FIXTURE_CLI = path.resolve(import.meta.dirname, "fixtures/relayer-cli.mjs");

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

/** A relayer loop as the in-process tests drive it: ticks called by the test, retries at once, three attempts. */
export function testLoop(
  queue: ActionQueue,
  role: RoleRuntime,
  log: Logger,
  extra: Partial<LoopOptions> = {},
): RelayerLoop {
  return new RelayerLoop({
    queue,
    role,
    log,
    intervalMs: 10,
    maxAttempts: 3,
    retryBaseMs: 0,
    retryMaxMs: 0,
    ...extra,
  });
}
