/**
 * The benchmark's own embedded chain: `hardhat node` on 127.0.0.1 at a port of its own (so runs never collide with
 * `npm start` or each other), its log in the run's data directory. Wiring only.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fetchChainId } from "#sdk/chain/clients.ts";
import { RpcError } from "#sdk/chain/errors.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");

export interface ChainNode {
  rpcUrl: string;
  child: ChildProcess;
  stop: () => Promise<void>;
}

/** Starts `hardhat node` on `port` and waits (up to 90 s) until it answers eth_chainId. */
export async function startChainNode(port: number, logFile: string): Promise<ChainNode> {
  const rpcUrl = `http://127.0.0.1:${port}`;
  if (
    await fetchChainId(rpcUrl, 1_000).then(
      () => true,
      () => false,
    )
  )
    throw new RpcError(`something already answers at ${rpcUrl}: choose another --port`);
  const out = createWriteStream(logFile);
  const child = spawn(
    path.join(ROOT, "node_modules", ".bin", "hardhat"),
    ["node", "--hostname", "127.0.0.1", "--port", String(port)],
    { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], detached: true },
  );
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const stop = async () => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        child.kill("SIGTERM");
      }
      await Promise.race([exited, sleep(5_000)]);
    }
    out.end();
  };
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new RpcError(`hardhat node exited; see ${logFile}`);
    if (
      await fetchChainId(rpcUrl, 1_000).then(
        () => true,
        () => false,
      )
    )
      break;
    if (Date.now() > deadline) {
      await stop();
      throw new RpcError(`hardhat node did not answer within 90 s; see ${logFile}`);
    }
    await sleep(250);
  }
  return { rpcUrl, child, stop };
}
