/**
 * The global options of `dml` turned into what commands use: the chain (checked against the manifest), the
 * deployment's contracts, the unlocked signer with its one TxSender, the IPFS store, and the output. Everything is
 * made on first use, so `dml algorithm list` never asks for a password and `dml job status` never opens IPFS.
 */
import { readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { getAddress, type Address } from "viem";
import { CliError } from "#sdk/cli/errors.ts";
import { progressEnabled } from "#sdk/cli/progress.ts";
import {
  createChainPublicClient,
  createChainWalletClient,
  DEFAULT_RPC_URL,
  fetchChainId,
  type ChainPublicClient,
  type ChainWalletClient,
} from "#sdk/chain/clients.ts";
import type { DeployedContractName } from "#sdk/chain/contract-names.ts";
import { contractAddress, readManifest, type Manifest } from "#sdk/chain/manifest.ts";
import { TxSender } from "#sdk/chain/tx-sender.ts";
import type * as Keystore from "#sdk/crypto/keystore.ts";
import type { DeviceAccount } from "#sdk/crypto/session-key.ts";
import type { ContentStore } from "#sdk/ipfs/index.ts";
import { makeOutput, type Output } from "#sdk/cli/output.ts";

/** Global options as commander gives them (`optsWithGlobals`). */
export interface GlobalOptions {
  rpc: string;
  manifest?: string;
  keystore: string;
  passwordFile?: string;
  ipfs?: string;
  ipfsDir: string;
  json?: boolean;
  txTimeout: number;
}

export const DML_HOME = process.env.DML_HOME ?? path.join(os.homedir(), ".dml");
export const DEFAULTS = {
  rpc: process.env.DML_RPC_URL ?? DEFAULT_RPC_URL,
  keystore: process.env.DML_KEYSTORE ?? path.join(DML_HOME, "keystore.json"),
  ipfsDir: process.env.DML_IPFS_DIR ?? path.join(DML_HOME, "ipfs"),
};

/** The keystore module (`@ethereumjs/wallet`, scrypt), loaded when a command needs the key. */
const keystore = (): Promise<typeof Keystore> => import("#sdk/crypto/keystore.ts");

export class Context {
  readonly opts: GlobalOptions;
  readonly out: Output;
  /** Whether progress bars are drawn (stderr is a TTY and not --json). */
  readonly progress: boolean;
  private chain?: Promise<{ client: ChainPublicClient; manifest: Manifest }>;
  private signerP?: Promise<{
    account: DeviceAccount;
    sender: TxSender;
    wallet: ChainWalletClient;
  }>;
  private store?: Promise<ContentStore>;

  constructor(opts: GlobalOptions) {
    this.opts = opts;
    this.out = makeOutput(opts.json === true);
    this.progress = progressEnabled(opts.json === true);
  }

  /** The public client and the deployment manifest, checked to be of the same chain. */
  async connect(): Promise<{ client: ChainPublicClient; manifest: Manifest }> {
    this.chain ??= (async () => {
      const chainId = await fetchChainId(this.opts.rpc);
      const file = this.opts.manifest ?? path.join("deployments", `${chainId}.local.json`);
      const manifest = readManifest(file);
      if (manifest.chainId !== chainId)
        throw new CliError(
          "WRONG_NETWORK",
          `the manifest ${file} is for chain ${manifest.chainId}, but ${this.opts.rpc} is chain ${chainId}`,
        );
      const client = await createChainPublicClient(this.opts.rpc, chainId);
      // the same chain id is not the same chain (a restarted dev chain): the token must have code there
      const token = contractAddress(manifest, "DMLToken");
      const code = await client.getCode({ address: token });
      if (code === undefined || code === "0x")
        throw new CliError(
          "WRONG_NETWORK",
          `the manifest ${file} does not describe the chain at ${this.opts.rpc}: no contract at DMLToken ${token}`,
        );
      return { client, manifest };
    })();
    return this.chain;
  }

  async client(): Promise<ChainPublicClient> {
    return (await this.connect()).client;
  }

  async manifest(): Promise<Manifest> {
    return (await this.connect()).manifest;
  }

  async addr(name: DeployedContractName): Promise<Address> {
    return contractAddress(await this.manifest(), name);
  }

  /** First block of the deployment (event scans start there). */
  async fromBlock(): Promise<bigint> {
    return BigInt((await this.manifest()).startBlock);
  }

  /** The keystore's address, without asking for the password. */
  async address(): Promise<Address> {
    return getAddress(await (await keystore()).keystoreAddress(this.opts.keystore));
  }

  /** The keystore password: DML_PASSWORD, else --password-file (one trailing newline dropped). */
  async password(): Promise<string> {
    const env = process.env.DML_PASSWORD;
    if (env !== undefined && env !== "") return env;
    if (this.opts.passwordFile !== undefined) {
      try {
        return (await readFile(this.opts.passwordFile, "utf8")).replace(/\r?\n$/, "");
      } catch (e) {
        throw new CliError("CONFIG", `cannot read the password file ${this.opts.passwordFile}`, {
          cause: e,
        });
      }
    }
    throw new CliError(
      "CONFIG",
      "no keystore password: set DML_PASSWORD or pass --password-file <file>",
    );
  }

  /** The unlocked signer and its transaction sender (one transaction in flight, reverts decoded). */
  async signer(): Promise<{ account: DeviceAccount; sender: TxSender; wallet: ChainWalletClient }> {
    this.signerP ??= (async () => {
      const { client, manifest } = await this.connect();
      const { unlockKeystore, KeystoreError } = await keystore();
      let account: DeviceAccount;
      try {
        account = await unlockKeystore(this.opts.keystore, await this.password());
      } catch (e) {
        if (e instanceof KeystoreError && e.code === "WRONG_PASSWORD")
          throw new KeystoreError(
            "WRONG_PASSWORD",
            `wrong password for the keystore ${this.opts.keystore}`,
          );
        throw e;
      }
      const walletClient = createChainWalletClient(account, this.opts.rpc, manifest.chainId);
      const sender = await TxSender.create({
        publicClient: client,
        walletClient,
        receiptTimeoutMs: this.opts.txTimeout * 1000,
        onEvent: (ev) => {
          if (ev.type !== "mined") this.out.note(`${ev.type} ${ev.hash} (nonce ${ev.nonce})`);
        },
      });
      return { account, sender, wallet: walletClient };
    })();
    return this.signerP;
  }

  async sender(): Promise<TxSender> {
    return (await this.signer()).sender;
  }

  /** The IPFS store: Kubo at --ipfs, else an embedded Helia node in --ipfs-dir. */
  async ipfs(): Promise<ContentStore> {
    // loaded on first use: the IPFS stack (Helia, libp2p) costs a second of start-up every other command skips
    this.store ??= import("#sdk/ipfs/open.ts").then(({ openContentStore }) =>
      openContentStore({
        heliaDir: this.opts.ipfsDir,
        ...(this.opts.ipfs !== undefined ? { kuboUrl: this.opts.ipfs } : {}),
      }),
    );
    return this.store;
  }

  async close(): Promise<void> {
    if (this.store !== undefined) await (await this.store.catch(() => undefined))?.close();
  }
}
