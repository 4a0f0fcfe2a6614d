/**
 * A whole local DML network of real processes for end-to-end tests: the EDR chain (in this process, served over
 * HTTP JSON-RPC on 127.0.0.1), one `dml-ipfs` daemon every party reads and writes through (Kubo's RPC), node
 * operators as `dml-relayer <role>` processes with their own keystores and data directories, and data owners as
 * `dml-device run` processes, each with its own key, inbox of the SpamAssassin corpus and data directory.
 *
 * The test process itself plays only the parties that are not operators or devices: the developer (trains and lists
 * the reference classifier), the customer (creates and bids on the job, decrypts the report), the keeper (reveals
 * the customer's bid, finalizes the auction), Chainlink (fulfils the VRF mock) and the clock (warps chain time).
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { getAddress, keccak256, parseEther, toHex, type Address, type Hex } from "viem";
import { writeManifest } from "#sdk/chain/manifest.ts";
import { KuboStore } from "#sdk/ipfs/index.ts";
import {
  buildReferencePackage,
  prepareWorkload,
  publishPackage,
  referenceManifestFields,
  trainReference,
  type Workload,
} from "#sdk/ml/index.ts";
import { DEFAULT_PRIVACY_SPEC } from "#sdk/privacy/index.ts";
import type { DeviceAccount } from "#sdk/crypto/session-key.ts";
import { JobLifecycle } from "../../bench/fixture/job-run.ts";
import type { DevicePaths } from "../../device-runner/paths.ts";
import { consentToEmailJobs, createDeviceDir } from "../../script/network/devices.ts";
import {
  deviceCommand,
  operatorDir,
  startIpfs,
  startRelayer,
  stopAll,
  type ChildProc,
  type NetworkEndpoints,
  type RelayerProcess,
} from "../../script/network/processes.ts";
import { serveRpc, type RpcServer } from "./rpc.ts";

export {
  DEVICE_CLI,
  PASSWORD,
  spawnTs,
  waitFor,
  type ChildProc,
  type RelayerProcess,
} from "../../script/network/processes.ts";

type Wallet = JobLifecycle["customer"];

/** SIGKILLs every process a test started and left running. */
export function killChildren(): void {
  stopAll("SIGKILL");
}

export interface DeviceNode {
  index: number;
  account: DeviceAccount;
  paths: DevicePaths;
  /** Labelled emails of its inbox (the ground truth the test compares the report with). */
  emails: Workload["split"]["inboxes"][number]["emails"];
}

export interface NetworkOptions {
  dir: string;
  devices: number;
}

export class LocalNetwork {
  readonly dir: string;
  readonly life: JobLifecycle;
  readonly rpc: RpcServer;
  readonly ipfs: { url: string; proc: ChildProc };
  readonly store: KuboStore;
  readonly manifestFile: string;
  readonly workload: Workload;
  readonly devices: DeviceNode[];
  readonly packageCid: string;
  readonly outputLabels: readonly string[];

  private constructor(init: {
    dir: string;
    life: JobLifecycle;
    rpc: RpcServer;
    ipfs: { url: string; proc: ChildProc };
    store: KuboStore;
    manifestFile: string;
    workload: Workload;
    devices: DeviceNode[];
    packageCid: string;
    outputLabels: readonly string[];
  }) {
    this.dir = init.dir;
    this.life = init.life;
    this.rpc = init.rpc;
    this.ipfs = init.ipfs;
    this.store = init.store;
    this.manifestFile = init.manifestFile;
    this.workload = init.workload;
    this.devices = init.devices;
    this.packageCid = init.packageCid;
    this.outputLabels = init.outputLabels;
  }

  /**
   * The chain with the protocol deployed and its operators staked (bench/fixture's lifecycle), the IPFS daemon, the
   * reference classifier trained and listed, and `devices` registered device data directories (not running yet).
   */
  static async start(opts: NetworkOptions): Promise<LocalNetwork> {
    await mkdir(opts.dir, { recursive: true });
    const ipfs = await startIpfs(path.join(opts.dir, "ipfs-daemon"));
    const store = await KuboStore.open({
      url: ipfs.url,
      cacheDir: path.join(opts.dir, "test-ipfs"),
    });
    // developer: the reference classifier with its control-group confusion matrix and DP noise (docs/privacy.md)
    const workload = await prepareWorkload();
    const built = await buildReferencePackage(workload, trainReference(workload), {
      ...referenceManifestFields(),
      privacy: DEFAULT_PRIVACY_SPEC,
    });
    const packageCid = await publishPackage(store, built.manifest, built.model);
    const life = await JobLifecycle.create({
      cid: packageCid,
      modelSha256: `0x${built.manifest.modelSha256}`,
    });
    const rpc = await serveRpc(life.env.conn.provider);
    const manifestFile = path.join(opts.dir, "deployment.json");
    writeManifest(manifestFile, life.env.manifest);
    const net = new LocalNetwork({
      dir: opts.dir,
      life,
      rpc,
      ipfs,
      store,
      manifestFile,
      workload,
      devices: [],
      packageCid,
      outputLabels: built.manifest.outputLabels,
    });
    for (let i = 0; i < opts.devices; i++) net.devices.push(await net.setupDevice(i));
    return net;
  }

  get chainId(): number {
    return this.life.env.pub.chain.id;
  }

  /** Where the network's processes find the chain and IPFS. */
  get endpoints(): NetworkEndpoints {
    return { rpcUrl: this.rpc.url, manifestFile: this.manifestFile, kuboUrl: this.ipfs.url };
  }

  /** The data directory of operator `w` running `role` (created with its keystore on first use). */
  operatorDir(role: string, w: Wallet): Promise<string> {
    return operatorDir(this.dir, role, w.account.address);
  }

  /** Starts `dml-relayer <role>` for operator `w` on its data directory with the network's chain and IPFS. */
  relayer(role: string, w: Wallet, extra: string[] = []): Promise<RelayerProcess> {
    return startRelayer(this.endpoints, this.dir, role, w.account.address, extra);
  }

  /** Starts `dml-device run` for device `i`. */
  device(i: number): ChildProc {
    return deviceCommand(this.devices[i]!.paths.root, ["run"]);
  }

  /** Points operator `w`'s NodeStaking endpoint at `url` (where its relayer serves). */
  async setEndpoint(w: Wallet, url: string): Promise<void> {
    const info = await this.life.env.read<{ encryptionKey: Hex; metadata: string }>(
      "NodeStaking",
      "operatorInfo",
      [getAddress(w.account.address)],
    );
    await this.life.env.send(w, "NodeStaking", "updateOperator", [
      url,
      info.encryptionKey,
      info.metadata,
    ]);
  }

  /** A device's data directory: keystore, device.json, its inbox imported, consent registered on chain. */
  private async setupDevice(i: number): Promise<DeviceNode> {
    const { env } = this.life;
    const emails = this.workload.split.inboxes[i]!.emails;
    const net = { ...this.endpoints, chainId: this.chainId };
    const d = await createDeviceDir(
      net,
      path.join(this.dir, `device-${i}`),
      keccak256(toHex(`dml e2e device ${i}`)),
      emails,
    );
    // the bond and gas, from the treasury and a dev account
    const bond = await env.read<bigint>("DeviceRegistry", "deviceBond");
    await env.fund([d.account.address], bond);
    const gas = await env.wallet(12)!.sendTransaction({
      to: d.account.address,
      value: parseEther("1"),
    });
    await env.pub.waitForTransactionReceipt({ hash: gas });
    await consentToEmailJobs(net, env.addr("DeviceRegistry"), d);
    return { index: i, account: d.account, paths: d.paths, emails };
  }

  addressOf(w: Wallet): Address {
    return getAddress(w.account.address);
  }

  async close(): Promise<void> {
    stopAll("SIGKILL");
    this.rpc.close();
    await this.store.close().catch(() => undefined);
  }
}
