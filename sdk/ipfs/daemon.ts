/**
 * The shared IPFS node of a DML deployment on one machine: an embedded {@link HeliaStore} over a
 * directory, served on loopback by {@link IpfsRpcServer} (Kubo's RPC subset), so that separate
 * processes — relayer roles, device runners — exchange content through one node with `KuboStore`.
 * One daemon owns a directory: a lock file (`dml-ipfs.lock`, holding its pid) refuses a second one;
 * a lock left by a dead process is taken over.
 */
import { open, readFile, rm } from "node:fs/promises";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { HeliaStore } from "./helia-store.ts";
import { IpfsRpcServer } from "./rpc-server.ts";

export const IPFS_DAEMON_ERROR_CODES = ["DIR_LOCKED", "LISTEN_FAILED"] as const;
export type IpfsDaemonErrorCode = (typeof IPFS_DAEMON_ERROR_CODES)[number];

export class IpfsDaemonError extends Error {
  override readonly name = "IpfsDaemonError";
  readonly code: IpfsDaemonErrorCode;
  constructor(code: IpfsDaemonErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export interface IpfsDaemonOptions {
  /** Directory of the node's stores (`blocks/`, `datastore/`) and its lock; created when missing. */
  dir: string;
  host?: string;
  port?: number;
  maxBodyBytes?: number;
}

export const DAEMON_LOCK_FILE = "dml-ipfs.lock";

/** True when a process with this pid exists (EPERM: it exists but is not ours). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function lock(dir: string): Promise<string> {
  const file = join(dir, DAEMON_LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(file, "wx");
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      return file;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const pid = Number.parseInt(await readFile(file, "utf8").catch(() => ""), 10);
      if (Number.isSafeInteger(pid) && pid > 0 && alive(pid))
        throw new IpfsDaemonError(
          "DIR_LOCKED",
          `${dir} is in use by process ${pid} (${file}); one daemon per directory`,
        );
      await rm(file, { force: true }); // stale: its process is gone
    }
  }
  throw new IpfsDaemonError("DIR_LOCKED", `could not take the lock ${file}`);
}

export class IpfsDaemon {
  readonly store: HeliaStore;
  readonly server: IpfsRpcServer;
  readonly #lockFile: string;
  #closing: Promise<void> | undefined;

  private constructor(store: HeliaStore, server: IpfsRpcServer, lockFile: string) {
    this.store = store;
    this.server = server;
    this.#lockFile = lockFile;
  }

  /** Locks the directory, opens the store and starts serving. @throws IpfsDaemonError */
  static async start(options: IpfsDaemonOptions): Promise<IpfsDaemon> {
    await mkdir(options.dir, { recursive: true });
    const lockFile = await lock(options.dir);
    let store: HeliaStore | undefined;
    try {
      store = await HeliaStore.open({ dir: options.dir });
      let server: IpfsRpcServer;
      try {
        server = await IpfsRpcServer.start({
          store,
          ...(options.host === undefined ? {} : { host: options.host }),
          ...(options.port === undefined ? {} : { port: options.port }),
          ...(options.maxBodyBytes === undefined ? {} : { maxBodyBytes: options.maxBodyBytes }),
        });
      } catch (e) {
        throw new IpfsDaemonError(
          "LISTEN_FAILED",
          `cannot listen on ${options.host ?? "127.0.0.1"}:${options.port ?? 5001}: ${(e as Error).message}`,
          { cause: e },
        );
      }
      return new IpfsDaemon(store, server, lockFile);
    } catch (e) {
      await store?.close();
      await rm(lockFile, { force: true });
      throw e;
    }
  }

  /** The RPC API URL to give `KuboStore` / `--kubo-url`. */
  get url(): string {
    return this.server.url;
  }

  /** Stops serving, closes the store, releases the lock. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.server.close();
      await this.store.close();
      await rm(this.#lockFile, { force: true });
    })();
    return this.#closing;
  }
}
