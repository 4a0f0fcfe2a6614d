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
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { bytesToHex, getAddress, keccak256, parseEther, toHex, type Address, type Hex } from "viem";
import { mnemonicToAccount } from "viem/accounts";
import { DEV_MNEMONIC } from "#sdk/chain/clients.ts";
import { writeManifest } from "#sdk/chain/manifest.ts";
import { deviceAccount, type DeviceAccount } from "#sdk/crypto/session-key.ts";
import { createKeystore, LIGHT_SCRYPT } from "#sdk/crypto/keystore.ts";
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
import { JobLifecycle } from "../../bench/fixture/job-run.ts";
import { deviceClients } from "../../device-runner/chain.ts";
import { deviceConfigSchema, saveConfig } from "../../device-runner/config.ts";
import { registerConsent, saveLocalConsent } from "../../device-runner/consent.ts";
import { EMAIL_SCHEMA_ID, importDataset } from "../../device-runner/dataset.ts";
import { devicePaths, type DevicePaths } from "../../device-runner/paths.ts";
import { killAll, startRelayer, type RelayerProcess } from "../relayers/helpers.ts";
import { serveRpc, type RpcServer } from "./rpc.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
export const RELAYER_CLI = path.join(ROOT, "relayers/cli.ts");
export const DEVICE_CLI = path.join(ROOT, "device-runner/cli.ts");
export const IPFS_CLI = path.join(ROOT, "ipfs/cli.ts");
export const PASSWORD = "e2e operator password";

type Wallet = JobLifecycle["customer"];

/** A child process with its stderr kept and its exit awaited. */
export interface ChildProc {
  child: ChildProcessWithoutNullStreams;
  stderr: () => string;
  stdout: () => string;
  exited: Promise<number | string>;
}

const children = new Set<ChildProcessWithoutNullStreams>();

/** Starts `node --import tsx <cli> …args` with `env`. */
export function spawnTs(cli: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProc {
  const child = spawn(process.execPath, ["--import", "tsx", cli, ...args], {
    env: { ...process.env, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  children.add(child);
  let err = "";
  let out = "";
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? signal ?? -1)),
  );
  return { child, stderr: () => err, stdout: () => out, exited };
}

/** SIGKILLs every child (relayers included) a test started and left running. */
export function killChildren(): void {
  killAll();
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  children.clear();
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

  /** A dev-chain wallet's private key (the keystore a relayer process unlocks). */
  private keyOf(w: Wallet): Hex {
    const a = getAddress(w.account.address);
    for (let i = 0; i < 40; i++) {
      const acct = mnemonicToAccount(DEV_MNEMONIC, { addressIndex: i });
      if (getAddress(acct.address) === a) return bytesToHex(acct.getHdKey().privateKey!);
    }
    throw new Error(`${a} is not a dev-mnemonic account`);
  }

  /** The data directory of operator `w` running `role` (created with its keystore on first use). */
  async operatorDir(role: string, w: Wallet): Promise<string> {
    const dir = path.join(this.dir, `${role}-${getAddress(w.account.address).slice(2, 10)}`);
    await mkdir(dir, { recursive: true });
    await createKeystore(path.join(dir, "keystore.json"), PASSWORD, {
      importKey: this.keyOf(w),
      scrypt: LIGHT_SCRYPT,
    }).catch((e: unknown) => {
      if (!(e instanceof Error && /exist/i.test(e.message))) throw e;
    });
    return dir;
  }

  /** Starts `dml-relayer <role>` for operator `w` on its data directory with the network's chain and IPFS. */
  async relayer(role: string, w: Wallet, extra: string[] = []): Promise<RelayerProcess> {
    const dir = await this.operatorDir(role, w);
    return startRelayer(
      [
        role,
        "--data-dir",
        dir,
        "--keystore",
        path.join(dir, "keystore.json"),
        "--rpc-url",
        this.rpc.url,
        "--manifest",
        this.manifestFile,
        "--kubo-url",
        this.ipfs.url,
        "--metrics-port",
        "0",
        "--tick-interval-ms",
        "200",
        "--retry-base-ms",
        "200",
        ...extra,
      ],
      { DML_KEYSTORE_PASSWORD: PASSWORD },
      RELAYER_CLI,
    );
  }

  /** Starts `dml-device run` for device `i`. */
  device(i: number): ChildProc {
    const d = this.devices[i]!;
    return spawnTs(DEVICE_CLI, ["--data-dir", d.paths.root, "run"], {
      DML_DEVICE_PASSWORD: PASSWORD,
    });
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
    const key = keccak256(toHex(`dml e2e device ${i}`));
    const account = deviceAccount(key);
    const paths = devicePaths(path.join(this.dir, `device-${i}`));
    await mkdir(paths.root, { recursive: true });
    await createKeystore(paths.keystore, PASSWORD, {
      importKey: key,
      scrypt: LIGHT_SCRYPT,
    });
    await saveConfig(
      paths.config,
      deviceConfigSchema.parse({
        rpcUrl: this.rpc.url,
        chainId: this.chainId,
        manifest: this.manifestFile,
        kuboUrl: this.ipfs.url,
        confirmations: 0,
        pollIntervalSec: 1,
        heartbeatIntervalSec: 10,
        idle: { maxLoadPerCore: 64, windows: [] },
      }),
    );
    const emails = this.workload.split.inboxes[i]!.emails;
    const src = path.join(this.dir, `inbox-${i}.jsonl`);
    await writeFile(
      src,
      emails.map((e) => JSON.stringify({ id: e.id, subject: e.subject, text: e.body })).join("\n"),
    );
    await importDataset(paths.datasets, EMAIL_SCHEMA_ID, "jsonl", src);
    await rm(src);
    // the bond and gas, from the treasury and a dev account
    const bond = await env.read<bigint>("DeviceRegistry", "deviceBond");
    await env.fund([account.address], bond);
    const gas = await env.wallet(12)!.sendTransaction({
      to: account.address,
      value: parseEther("1"),
    });
    await env.pub.waitForTransactionReceipt({ hash: gas });
    const consent = {
      schemas: [EMAIL_SCHEMA_ID],
      anyAlgorithmInSchema: true,
      algorithms: [],
      priceFloor: 0n,
    };
    await saveLocalConsent(paths.consent, consent);
    await registerConsent(
      deviceClients(this.rpc.url, this.chainId, account),
      env.addr("DeviceRegistry"),
      consent,
      account.session.sessionKey,
    );
    return { index: i, account, paths, emails };
  }

  addressOf(w: Wallet): Address {
    return getAddress(w.account.address);
  }

  async close(): Promise<void> {
    killChildren();
    this.rpc.close();
    await this.store.close().catch(() => undefined);
  }
}

/** Starts `dml-ipfs daemon` on a free loopback port and waits for its RPC URL. */
async function startIpfs(dir: string): Promise<{ url: string; proc: ChildProc }> {
  const proc = spawnTs(IPFS_CLI, ["daemon", "--dir", dir, "--port", "0", "--host", "127.0.0.1"]);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const m = /(http:\/\/127\.0\.0\.1:\d+)/.exec(proc.stdout() + proc.stderr());
    if (m?.[1] !== undefined) return { url: m[1], proc };
    if (proc.child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`dml-ipfs did not start:\n${proc.stderr()}`);
}
