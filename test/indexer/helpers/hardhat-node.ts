/**
 * Test helper: the EDR chain as `hardhat node` in a child process on a free loopback port. The runtime's
 * `ethereum.call` blocks its thread on Atomics.wait while a worker does the HTTP round trip, so the chain must not
 * live on the test's own thread (an in-process EDR would never get to answer).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, type Socket } from "node:net";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  createPublicClient,
  createWalletClient,
  http,
  type Hex,
  type PublicClient,
  type WalletClient,
} from "viem";
import { privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { hardhat } from "viem/chains";

/** Hardhat's default account #0 (public test key). */
const DEPLOYER_KEY: Hex = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

export interface NodeChain {
  readonly url: string;
  readonly pub: PublicClient;
  readonly deployer: PrivateKeyAccount;
  wallet(account: PrivateKeyAccount): WalletClient;
  rpc(method: string, params?: unknown[]): Promise<unknown>;
  stop(): Promise<void>;
  /** Kills the node at once (synchronous: safe in a process `exit` handler). */
  kill(): void;
  /** Lets the test process exit while the node still runs (its `exit` handler kills it). */
  unref(): void;
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });

export async function startNodeChain(): Promise<NodeChain> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const bin = path.resolve("node_modules", ".bin", "hardhat");
  const child: ChildProcess = spawn(
    bin,
    ["node", "--hostname", "127.0.0.1", "--port", String(port)],
    {
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  let exited: number | null | undefined;
  child.once("exit", (code) => (exited = code));
  const pub = createPublicClient({ chain: hardhat, transport: http(url, { retryCount: 0 }) });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited !== undefined) throw new Error(`hardhat node exited with code ${exited}: ${stderr}`);
    try {
      await pub.getChainId();
      break;
    } catch {
      if (Date.now() > deadline)
        throw new Error(`hardhat node did not answer within 60 s: ${stderr}`);
      await sleep(150);
    }
  }
  return {
    url,
    pub,
    deployer: privateKeyToAccount(DEPLOYER_KEY),
    wallet: (account) => createWalletClient({ account, chain: hardhat, transport: http(url) }),
    rpc: (method, params = []) => pub.request({ method: method as never, params: params as never }),
    kill() {
      if (exited === undefined) child.kill("SIGKILL");
    },
    unref() {
      child.unref();
      (child.stderr as Socket | null)?.unref();
    },
    async stop() {
      if (exited !== undefined) return;
      const done = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await Promise.race([done, sleep(5_000)]);
      if (exited === undefined) child.kill("SIGKILL");
    },
  };
}

let shared: Promise<NodeChain> | undefined;

/**
 * One `hardhat node` for the whole test process (starting one costs ≈ 10 s of CLI start-up): tests that deploy their
 * own contracts on it share only the chain (its clock and block numbers). Its `stop()` does nothing; the child is
 * killed when the process exits.
 */
export function sharedNodeChain(): Promise<NodeChain> {
  shared ??= startNodeChain().then((chain) => {
    process.once("exit", () => chain.kill());
    chain.unref();
    return { ...chain, stop: async () => undefined };
  });
  return shared;
}
