/**
 * Shared helpers of the integration tests: deploy the protocol on a fresh in-process EDR chain through
 * script/deploy.ts, fund actors from the treasury (the timelock, impersonated on the dev chain), stake nodes,
 * warp time, build sealed-bid commitments and send transactions while recording their gas.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { network } from "hardhat";
import {
  BaseError,
  ContractFunctionRevertedError,
  createWalletClient,
  custom,
  getAddress,
  keccak256,
  toHex,
  type Abi,
  type Address,
  type Hex,
} from "viem";
import { privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { loadArtifact } from "#sdk/chain/artifacts.ts";
export { aggregateCommitment, bidCommitment, memberCommitment } from "#sdk/chain/commitments.ts";
import { readManifest, type Manifest } from "#sdk/chain/manifest.ts";
import type { DeployConfigInput } from "../../../script/lib/config.ts";
import { deployProtocol, type DeployClients } from "../../../script/deploy.ts";
import { traceGas } from "./gas-trace.ts";

export const ETHER = 10n ** 18n;
export const BPS = 10_000n;

export { JobStatus, Role } from "#sdk/chain/enums.ts";

const abiCache = new Map<string, Abi>();
/** ABI of a compiled contract. */
export function abi(name: string): Abi {
  let a = abiCache.get(name);
  if (!a) {
    a = loadArtifact(name).abi;
    abiCache.set(name, a);
  }
  return a;
}

/** The custom error a call reverted with. */
export async function revertName(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof BaseError) {
      const r = err.walk((e) => e instanceof ContractFunctionRevertedError);
      if (r instanceof ContractFunctionRevertedError && r.data) return r.data.errorName;
    }
    throw err;
  }
  throw new Error("call did not revert");
}

/** A deterministic 32-byte label. */
export const label = (s: string): Hex => keccak256(toHex(s));

/** A deterministic local account (devices, trainers). */
export const localAccount = (s: string): PrivateKeyAccount => privateKeyToAccount(label(s));

type Conn = Awaited<ReturnType<typeof network.create>>;
type Pub = Awaited<ReturnType<Conn["viem"]["getPublicClient"]>>;
type Wallet = Awaited<ReturnType<Conn["viem"]["getWalletClients"]>>[number];

/** A deployed protocol on a fresh chain. */
export class ProtocolEnv {
  /** Gas of every transaction sent through `send`, in order. */
  /** Every transaction sent through `send`: receipt gas and execution gas (receipt − intrinsic − calldata). */
  readonly gasLog: GasRow[] = [];

  private constructor(
    readonly conn: Conn,
    readonly pub: Pub,
    readonly wallets: Wallet[],
    readonly manifest: Manifest,
  ) {}

  /** Deploys with `config` through script/deploy.ts (wallet #0 deploys) on a new EDR chain. */
  static async create(config: DeployConfigInput = {}): Promise<ProtocolEnv> {
    const conn = await network.create();
    const pub = await conn.viem.getPublicClient();
    const wallets = await conn.viem.getWalletClients();
    const manifestPath = path.join(mkdtempSync(path.join(tmpdir(), "dml-integ-")), "manifest.json");
    await deployProtocol({
      clients: { publicClient: pub, walletClient: wallets[0] } as unknown as DeployClients,
      manifestPath,
      config,
    });
    return new ProtocolEnv(conn, pub, wallets, readManifest(manifestPath));
  }

  /** Address of a deployed contract. */
  addr(name: string): Address {
    const a = this.manifest.contracts[name]?.address;
    assert.ok(a, `${name} deployed`);
    return a;
  }

  /** Wallet `i` of Hardhat's default accounts (0 is the deployer). */
  wallet(i: number): Wallet {
    const w = this.wallets[i];
    assert.ok(w, `wallet ${i}`);
    return w;
  }

  /** A wallet client for a local account, given gas money. */
  async localWallet(account: PrivateKeyAccount) {
    await this.conn.networkHelpers.setBalance(account.address, ETHER);
    return createWalletClient({
      account,
      chain: this.pub.chain,
      transport: custom(this.conn.provider),
    });
  }

  async read<T = unknown>(
    contract: string,
    fn: string,
    args: readonly unknown[] = [],
    at?: Address,
  ): Promise<T> {
    return (await this.pub.readContract({
      address: at ?? this.addr(contract),
      abi: abi(contract),
      functionName: fn,
      args,
    })) as T;
  }

  /** Sends `fn` from `from`, asserts success, records and returns its gas. */
  async send(
    from: { writeContract: Wallet["writeContract"] } | Wallet,
    contract: string,
    fn: string,
    args: readonly unknown[],
    gasLabel?: string,
  ): Promise<bigint> {
    const hash = await (from as Wallet).writeContract({
      address: this.addr(contract),
      abi: abi(contract),
      functionName: fn,
      args,
    } as never);
    const receipt = await this.pub.waitForTransactionReceipt({ hash });
    assert.equal(receipt.status, "success", `${contract}.${fn}`);
    const tx = await this.pub.getTransaction({ hash });
    if (process.env.DML_TRACE?.split(",").includes(fn))
      await traceGas(this.pub, hash, `${contract}.${fn}`);
    this.gasLog.push({
      label: gasLabel ?? `${contract}.${fn}`,
      gas: receipt.gasUsed,
      execution: receipt.gasUsed - INTRINSIC_GAS - calldataGas(tx.input),
    });
    return receipt.gasUsed;
  }

  /** Token balance. */
  balance(who: Address): Promise<bigint> {
    return this.read<bigint>("DMLToken", "balanceOf", [who]);
  }

  /** Transfers `amount` DML from the treasury (timelock, impersonated) to each of `to`. */
  async fund(to: readonly Address[], amount: bigint): Promise<void> {
    const timelock = this.addr("TimelockController");
    const h = this.conn.networkHelpers;
    await h.impersonateAccount(timelock);
    await h.setBalance(timelock, ETHER);
    const treasury = await this.conn.viem.getWalletClient(timelock);
    for (const t of to) {
      const hash = await treasury.writeContract({
        address: this.addr("DMLToken"),
        abi: abi("DMLToken"),
        functionName: "transfer",
        args: [t, amount],
      });
      await this.pub.waitForTransactionReceipt({ hash });
    }
    await h.stopImpersonatingAccount(timelock);
  }

  /** Approves `spender` (a contract name) for everything the wallet holds. */
  async approve(w: Wallet, spender: string): Promise<void> {
    await this.send(w, "DMLToken", "approve", [this.addr(spender), (1n << 255n) - 1n], "approve");
  }

  /** Registers (once) and stakes `amount` of the treasury's tokens for `role`. */
  async stakeNode(w: Wallet, role: number, amount: bigint): Promise<void> {
    const who = getAddress(w.account.address);
    await this.fund([who], amount);
    if (!(await this.read<boolean>("NodeStaking", "isRegistered", [who]))) {
      await this.send(w, "NodeStaking", "register", [
        `http://127.0.0.1:${9000 + role}`,
        label(`x25519:${who}`),
        "{}",
      ]);
    }
    await this.approve(w, "NodeStaking");
    await this.send(w, "NodeStaking", "stake", [role, amount]);
    assert.equal(await this.read("NodeStaking", "isActive", [who, role]), true);
  }

  /** Latest block timestamp. */
  async now(): Promise<bigint> {
    return (await this.pub.getBlock()).timestamp;
  }

  /** Moves the chain to `ts` (mines a block there) unless it is already later. */
  async warpTo(ts: bigint): Promise<void> {
    if ((await this.now()) < ts) await this.conn.networkHelpers.time.increaseTo(ts);
  }

  /** Moves the chain to the start of the next auction epoch when the current commit window closed. */
  async warpToCommitWindow(): Promise<bigint> {
    let epoch = await this.read<bigint>("JobMarket", "currentEpoch");
    const [, commitEnd, , epochEnd] = await this.read<readonly bigint[]>(
      "JobMarket",
      "epochWindows",
      [epoch],
    );
    if ((await this.now()) + 5n >= commitEnd!) {
      await this.warpTo(epochEnd!);
      epoch += 1n;
    }
    return epoch;
  }

  /** [start, commitEnd, revealEnd, end] of an auction epoch. */
  async epochWindows(epoch: bigint): Promise<readonly bigint[]> {
    return this.read<readonly bigint[]>("JobMarket", "epochWindows", [epoch]);
  }
}

/** Formats a gas table for the console. */
/** One transaction's gas: `gas` as in the receipt, `execution` without the 21,000 intrinsic and calldata cost. */
export interface GasRow {
  label: string;
  gas: bigint;
  execution: bigint;
}

const INTRINSIC_GAS = 21_000n;

/** EIP-2028 calldata cost: 4 gas per zero byte, 16 per non-zero byte. */
export function calldataGas(input: Hex): bigint {
  let gas = 0n;
  for (let i = 2; i < input.length; i += 2) gas += input.slice(i, i + 2) === "00" ? 4n : 16n;
  return gas;
}

/** Sums receipt and execution gas of `rows`. */
export function sumGas(rows: readonly GasRow[]): { gas: bigint; execution: bigint } {
  return rows.reduce((s, r) => ({ gas: s.gas + r.gas, execution: s.execution + r.execution }), {
    gas: 0n,
    execution: 0n,
  });
}

/** Prints receipt and execution gas per row. */
export function printGas(title: string, rows: readonly GasRow[]): void {
  console.log(`\n  ${title}`);
  console.log(`    ${"".padEnd(48)} ${"receipt".padStart(10)} ${"execution".padStart(10)}`);
  for (const r of rows)
    console.log(
      `    ${r.label.padEnd(48)} ${r.gas.toString().padStart(10)} ${r.execution.toString().padStart(10)}`,
    );
}
