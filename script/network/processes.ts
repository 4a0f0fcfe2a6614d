/**
 * Launching a local DML network's processes (wiring only, no role logic): the `dml-ipfs` daemon every party reads and
 * writes through, node operators as `dml-relayer <role>` processes with their own keystores and data directories,
 * and data owners as `dml-device` processes. Readiness is read from each process's own log lines; `stopAll` ends
 * every process started here (also on the parent's exit), so nothing is left running.
 *
 * Used by `npm start` (script/demo-job.ts) and the end-to-end test (test/e2e/network.ts).
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { bytesToHex, getAddress, type Hex } from "viem";
import { mnemonicToAccount } from "viem/accounts";
import { DEV_MNEMONIC } from "#sdk/chain/clients.ts";
import { createKeystore, LIGHT_SCRYPT } from "#sdk/crypto/keystore.ts";
import { keystoreKeyOf } from "./accounts.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
// the package's bins, which load their CLI's bundle (script/bin/bundle.mjs): ≈ 1 s of CPU less per process start
export const RELAYER_CLI = path.join(ROOT, "relayers/bin/dml-relayer.mjs");
export const DEVICE_CLI = path.join(ROOT, "device-runner/bin/dml-device.mjs");
export const IPFS_CLI = path.join(ROOT, "ipfs/bin/dml-ipfs.mjs");
/** The password of every keystore of a local network (operators' and devices'). */
export const PASSWORD = "local network password";

/** A child process with its output kept and its exit awaited. */
export interface ChildProc {
  child: ChildProcessWithoutNullStreams;
  stderr: () => string;
  stdout: () => string;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>;
}

/** A `dml-relayer` process; `ready` resolves with its metrics URL from the "relayer started" log line. */
export interface RelayerProcess extends ChildProc {
  ready: Promise<string>;
}

const children = new Set<ChildProcessWithoutNullStreams>();
let exitHook = false;

/** A process started here, as an observer sees it: the CLI it runs, its arguments and its handle. */
export interface SpawnedProc {
  cli: string;
  args: readonly string[];
  proc: ChildProc;
}
const observers = new Set<(p: SpawnedProc) => void>();

let extraEnv: ((cli: string, args: readonly string[]) => NodeJS.ProcessEnv) | undefined;

/** Adds `fn(cli, args)` to the environment of every process started here from now on (e.g. a profiler's flags). */
export function setSpawnEnv(
  fn: ((cli: string, args: readonly string[]) => NodeJS.ProcessEnv) | undefined,
): void {
  extraEnv = fn;
}

/** Calls `fn` with every process started here from now on (bench/e2e.ts reads their CPU, memory and logs). */
export function observeSpawns(fn: (p: SpawnedProc) => void): () => void {
  observers.add(fn);
  return () => observers.delete(fn);
}

/**
 * Node's flags to run a TypeScript entry point: none where Node strips types itself (Node ≥ 22.18, which the `node`
 * devDependency provides; every file is erasable TypeScript, test/toolchain/erasable.test.ts), tsx's hooks
 * otherwise. Native stripping starts a CLI ≈ 1.5 s of CPU sooner than tsx (docs/testing.md).
 */
export const TS_NODE_ARGS: readonly string[] = (process.features as { typescript?: string | false })
  .typescript
  ? []
  : ["--import", "tsx"];

/**
 * Node's on-disk cache of compiled code (NODE_COMPILE_CACHE), shared by every process started here: a CLI's start-up
 * costs ≈ 25% less CPU once the cache holds its modules (docs/testing.md).
 */
const COMPILE_CACHE_ENV = {
  NODE_COMPILE_CACHE:
    process.env.NODE_COMPILE_CACHE ?? path.join(tmpdir(), "dml-node-compile-cache"),
};

/** Starts `node <cli> …args` (with TS_NODE_ARGS) with `env` added to this process's environment. */
export function spawnTs(cli: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProc {
  if (!exitHook) {
    exitHook = true;
    process.once("exit", () => stopAll("SIGKILL"));
  }
  const child = spawn(process.execPath, [...TS_NODE_ARGS, cli, ...args], {
    env: { ...process.env, ...COMPILE_CACHE_ENV, ...env, ...extraEnv?.(cli, args) },
    stdio: ["pipe", "pipe", "pipe"],
  });
  children.add(child);
  let err = "";
  let out = "";
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => {
      children.delete(child);
      resolve(code ?? signal ?? -1);
    }),
  );
  const proc = { child, stderr: () => err, stdout: () => out, exited };
  for (const fn of observers) fn({ cli, args, proc });
  return proc;
}

/** Sends `signal` to every process started here that still runs. */
export function stopAll(signal: NodeJS.Signals = "SIGKILL"): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill(signal);
  if (signal === "SIGKILL") children.clear();
}

/** SIGTERMs every running process started here and waits up to `graceMs` for them, then SIGKILLs the rest. */
export async function stopAllGracefully(graceMs = 5_000): Promise<void> {
  const live = [...children].filter((c) => c.exitCode === null && c.signalCode === null);
  const gone = Promise.all(
    live.map(
      (c) => new Promise<void>((r) => (c.exitCode !== null ? r() : c.once("exit", () => r()))),
    ),
  );
  for (const c of live) c.kill("SIGTERM");
  await Promise.race([gone, new Promise((r) => setTimeout(r, graceMs).unref())]);
  stopAll("SIGKILL");
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

/** The kernel's ephemeral port range (Linux), from which it picks the ports of `listen(0)` and outgoing connections. */
function ephemeralPorts(): { low: number; high: number } | undefined {
  try {
    const [low, high] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8")
      .trim()
      .split(/\s+/)
      .map(Number);
    return low !== undefined && high !== undefined && low > 0 ? { low, high } : undefined;
  } catch {
    return undefined;
  }
}

/** Listens on `port` of 127.0.0.1 and closes again: the port (the kernel's choice for 0), or undefined when taken. */
async function probe(port: number): Promise<number | undefined> {
  const s = createServer();
  const bound = await new Promise<boolean>((resolve) => {
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => resolve(true));
  });
  if (!bound) return undefined;
  const chosen = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return chosen;
}

/**
 * A free TCP port on 127.0.0.1, for a process's listening endpoint that is registered on chain before the process
 * starts. The port is drawn below the kernel's ephemeral range: a port `listen(0)` handed out would be free now but
 * could be handed to another process's `listen(0)` or outgoing connection before ours binds it (seen under the
 * parallel test lanes: EADDRINUSE at the aggregator's start). Falls back to `listen(0)` where the range is unknown.
 */
export async function freePort(): Promise<number> {
  const range = ephemeralPorts();
  if (range !== undefined && range.low > 2_048) {
    const low = Math.max(1_024, range.low - 16_384);
    for (let i = 0; i < 64; i++) {
      const port = await probe(low + Math.floor(Math.random() * (range.low - low)));
      if (port !== undefined) return port;
    }
  }
  const port = await probe(0);
  if (port === undefined) throw new Error("no free TCP port on 127.0.0.1");
  return port;
}

/** Starts `dml-ipfs daemon` in `dir` on a free loopback port and waits (up to 3 min: a loaded machine) for its RPC URL. */
export async function startIpfs(dir: string): Promise<{ url: string; proc: ChildProc }> {
  const proc = spawnTs(IPFS_CLI, ["daemon", "--dir", dir, "--port", "0", "--host", "127.0.0.1"]);
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    const m = /(http:\/\/127\.0\.0\.1:\d+)/.exec(proc.stdout() + proc.stderr());
    if (m?.[1] !== undefined) return { url: m[1], proc };
    if (proc.child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`dml-ipfs did not start:\n${proc.stderr()}`);
}

/** The private key of a dev-mnemonic account (what an operator's keystore holds on a dev chain). */
export function devPrivateKey(address: string): Hex {
  const a = getAddress(address);
  const fromKeystore = keystoreKeyOf(a); // `npm start -- --keystore DIR`
  if (fromKeystore !== undefined) return fromKeystore;
  for (let i = 0; i < 40; i++) {
    const acct = mnemonicToAccount(DEV_MNEMONIC, { addressIndex: i });
    if (getAddress(acct.address) === a) return bytesToHex(acct.getHdKey().privateKey!);
  }
  throw new Error(`${a} is not a dev-mnemonic account`);
}

/** Where a local network's processes find the chain and IPFS. */
export interface NetworkEndpoints {
  rpcUrl: string;
  manifestFile: string;
  kuboUrl: string;
}

/** The data directory of operator `address` running `role` under `root`, with its keystore (created on first use). */
export async function operatorDir(root: string, role: string, address: string): Promise<string> {
  const dir = path.join(root, `${role}-${getAddress(address).slice(2, 10)}`);
  await mkdir(dir, { recursive: true });
  await createKeystore(path.join(dir, "keystore.json"), PASSWORD, {
    importKey: devPrivateKey(address),
    scrypt: LIGHT_SCRYPT,
  }).catch((e: unknown) => {
    if (!(e instanceof Error && /exist/i.test(e.message))) throw e;
  });
  return dir;
}

/** Starts a `dml-relayer` process with `args` (its role first). */
export function spawnRelayer(args: string[], env: NodeJS.ProcessEnv = {}): RelayerProcess {
  const proc = spawnTs(RELAYER_CLI, args, env);
  const ready = new Promise<string>((resolve, reject) => {
    const onData = () => {
      const m = /"metricsUrl":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(proc.stderr());
      if (m?.[1] !== undefined) {
        proc.child.stderr.off("data", onData);
        resolve(m[1]);
      }
    };
    proc.child.stderr.on("data", onData);
    void proc.exited.then((code) =>
      reject(new Error(`relayer exited (${code}) before ready:\n${proc.stderr()}`)),
    );
  });
  ready.catch(() => undefined);
  return { ...proc, ready };
}

/**
 * Starts `dml-relayer <role>` for operator `address` on its data directory under `root` (keystore from the dev
 * mnemonic), with the network's chain, deployment manifest and IPFS daemon; `extra` arguments are appended.
 */
export async function startRelayer(
  net: NetworkEndpoints,
  root: string,
  role: string,
  address: string,
  extra: string[] = [],
): Promise<RelayerProcess> {
  const dir = await operatorDir(root, role, address);
  return spawnRelayer(
    [
      role,
      "--data-dir",
      dir,
      "--keystore",
      path.join(dir, "keystore.json"),
      "--rpc-url",
      net.rpcUrl,
      "--manifest",
      net.manifestFile,
      "--kubo-url",
      net.kuboUrl,
      "--metrics-port",
      "0",
      // a tick reads the chain (reconcile) even when nothing changed: at 200 ms the idle network's ten relayers and the
      // chain answering them kept a core busy; 500 ms costs a phase at most half a second per hop
      "--tick-interval-ms",
      "500",
      "--retry-base-ms",
      "200",
      ...extra,
    ],
    { DML_KEYSTORE_PASSWORD: PASSWORD },
  );
}

/** Runs `dml-device --data-dir <dir> …args` (e.g. `run`, or `claim job --job 1`). */
/** `dml-device host <dirs…>`: one worker process running several devices' daemons. */
export function hostCommand(dataDirs: readonly string[]): ChildProc {
  return spawnTs(DEVICE_CLI, ["host", ...dataDirs], { DML_DEVICE_PASSWORD: PASSWORD });
}

export function deviceCommand(dataDir: string, args: string[]): ChildProc {
  return spawnTs(DEVICE_CLI, ["--data-dir", dataDir, ...args], { DML_DEVICE_PASSWORD: PASSWORD });
}

/** Runs `fn` on every item, at most `limit` at a time; rejects with the first failure after the running ones end. */
export async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { e: unknown } | undefined;
  const lane = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (e) {
        failure ??= { e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failure !== undefined) throw failure.e;
}
