/**
 * Many devices in one process (`dml-device host <dir…>`): a simulation or a fleet operator hosts several device
 * data directories in one Node process, to spare one runtime (and one ONNX Runtime) per device. Nothing is shared
 * between the devices but the process and two read caches — of content-addressed files (sdk/ipfs/shared-reads.ts: a
 * job's cohort list and model package are fetched once per process, not once per device, as a local IPFS node's
 * blockstore would serve them; each device still verifies them itself) and of chain reads fixed by their block number
 * (sdk/chain/shared-reads.ts: the cohort's terms and session keys at the assignment block, the head's logs and
 * hashes). Each device keeps its own keystore and key, data directory, chain and IPFS clients, cursor, job queue
 * and heartbeats — exactly what `dml-device run` does for one directory.
 *
 * A device whose directory does not open (no config, wrong password) fails the whole start with its directory
 * named, before any device runs; a device whose loop fails later stops alone and is reported, the others go on.
 */
import type { Logger } from "pino";
import { openContentStore, SharedReads } from "#sdk/ipfs/index.ts";
import { SharedChainReads } from "#sdk/chain/shared-reads.ts";
import { unlockKeystore } from "#sdk/crypto/keystore.ts";
import { deviceClients } from "./chain.ts";
import { loadConfig } from "./config.ts";
import { runDaemon } from "./daemon.ts";
import { DeviceError } from "./errors.ts";
import { devicePaths } from "./paths.ts";

export interface HostOptions {
  dirs: readonly string[];
  password: string;
  log: Logger;
  signal?: AbortSignal;
  once?: boolean;
}

/** Runs every device's daemon until `signal` aborts; resolves with the devices whose loop failed. */
export async function hostDevices(opts: HostOptions): Promise<{ failed: string[] }> {
  if (opts.dirs.length === 0)
    throw new DeviceError("CONFIG_INVALID", "no device directory to host");
  if (new Set(opts.dirs).size !== opts.dirs.length)
    throw new DeviceError("CONFIG_INVALID", "a device directory is listed twice");
  const devices = [];
  for (const dir of opts.dirs) {
    const paths = devicePaths(dir);
    try {
      const config = await loadConfig(paths.config);
      const account = await unlockKeystore(paths.keystore, opts.password);
      devices.push({ dir, paths, config, account });
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      throw new DeviceError(
        code === "WRONG_PASSWORD" || code === "KEYSTORE_MISSING" || code === "KEYSTORE_INVALID"
          ? code
          : "CONFIG_INVALID",
        `${dir}: ${e instanceof Error ? e.message : String(e)}`,
        { cause: e },
      );
    }
  }
  const failed: string[] = [];
  const reads = new SharedReads();
  const chainReads = new SharedChainReads();
  await Promise.all(
    devices.map(async ({ dir, paths, config, account }) => {
      const log = opts.log.child({ device: account.address });
      const store = reads.wrap(
        await openContentStore({
          heliaDir: paths.helia,
          ...(config.kuboUrl ? { kuboUrl: config.kuboUrl } : {}),
        }),
      );
      try {
        await runDaemon({
          config,
          paths,
          account,
          publicClient: deviceClients(config.rpcUrl, config.chainId, account, chainReads)
            .publicClient,
          store,
          log,
          once: opts.once ?? false,
          ...(opts.signal ? { signal: opts.signal } : {}),
        });
      } catch (e) {
        failed.push(dir);
        log.error({ err: e instanceof Error ? e.message : String(e) }, "device stopped");
      } finally {
        await store.close();
      }
    }),
  );
  return { failed };
}
