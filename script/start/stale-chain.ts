/**
 * The embedded chain's pid file (`<data dir>/chain.pid`): written when `npm start` starts `hardhat node`, removed
 * when it stops it. A run that was killed before it could stop its chain (SIGKILL, a closed terminal) leaves the
 * file behind; the next run on the same data directory ends that chain first, so its port is free again. Only a
 * live process whose command line is `hardhat node` is signalled (a recycled pid is left alone).
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

/** Whether `pid` runs (a zombie, exited but not yet reaped by its new parent, does not). */
export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return true;
  }
};

const isHardhatNode = (pid: number): boolean => {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    return argv.some((a) => a.includes("hardhat")) && argv.includes("node");
  } catch {
    return false;
  }
};

export function writeChainPid(file: string, pid: number): void {
  writeFileSync(file, `${pid}\n`);
}

export function removeChainPid(file: string): void {
  rmSync(file, { force: true });
}

/**
 * Ends the chain an earlier run left (its process group, SIGTERM then SIGKILL after `graceMs`); returns its pid, or
 * undefined when there was none.
 */
export async function stopStaleChain(file: string, graceMs = 5_000): Promise<number | undefined> {
  let pid: number;
  try {
    pid = Number(readFileSync(file, "utf8").trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 1 || !alive(pid) || !isHardhatNode(pid)) {
    removeChainPid(file);
    return undefined;
  }
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(-pid, s);
    } catch {
      try {
        process.kill(pid, s);
      } catch {
        // gone already
      }
    }
  };
  signal("SIGTERM");
  const end = Date.now() + graceMs;
  while (alive(pid) && Date.now() < end) await sleep(100);
  // the group's other members (the node hardhat's launcher runs) go with the leader
  signal("SIGKILL");
  removeChainPid(file);
  return pid;
}
