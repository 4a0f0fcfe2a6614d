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
  encodeFunctionData,
  getAddress,
  keccak256,
  toHex,
  type Abi,
  type Address,
  type Hex,
} from "viem";
import type { PrivateKeyAccount } from "viem/accounts";
import { deviceAccount, type DeviceAccount, type SessionSigner } from "#sdk/crypto/session-key.ts";
import { protocolAbi } from "#sdk/chain/contracts.ts";
import type { ChainPublicClient, ChainWalletClient } from "#sdk/chain/clients.ts";
import { TxError } from "#sdk/chain/errors.ts";
import { TxSender } from "#sdk/chain/tx-sender.ts";
import { buildConnectedSet, type ConnectedSetTree } from "#sdk/chain/connected-set.ts";
import {
  buildCohortTree,
  drawCohort,
  type CohortMember,
  type CohortTree,
} from "#sdk/chain/cohort.ts";
import { jobSeed, ZERO_HASH } from "#sdk/chain/result.ts";
import { deriveOperatorKey, walletSigner } from "#sdk/crypto/operator-key.ts";
import { signHeartbeatMessage } from "../../../device-runner/heartbeat.ts";
export { aggregateCommitment, bidCommitment, memberCommitment } from "#sdk/chain/commitments.ts";
import { readManifest, type Manifest } from "#sdk/chain/manifest.ts";
import type { DeployConfigInput } from "../../../script/lib/config.ts";
import { deployProtocol, type DeployClients } from "../../../script/deploy.ts";
import { traceGas } from "./gas-trace.ts";

export const ETHER = 10n ** 18n;
export const BPS = 10_000n;

export { JobStatus, Role } from "#sdk/chain/enums.ts";

/** The generated ABI of a protocol contract (sdk/chain/abi), widened for calls named at run time. */
export function abi(name: string): Abi {
  return protocolAbi(name);
}

/** The custom error a call reverted with. */
export async function revertName(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof TxError && err.errorName) return err.errorName;
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

/** A deterministic local account (devices, trainers), with its derived SecAgg session signer. */
export const localAccount = (s: string): DeviceAccount => deviceAccount(label(s));

/** A device account, with its session signer when it has one. */
type DeviceLike = PrivateKeyAccount & { readonly session?: SessionSigner };

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

  /** One TxSender per signer (sdk/chain/tx-sender.ts), as every operator uses. */
  private readonly senders = new Map<Address, Promise<TxSender>>();

  /** Sends `fn` from `from` through its TxSender, asserts success, records and returns its gas. */
  async send(
    from: { writeContract: Wallet["writeContract"] } | Wallet,
    contract: string,
    fn: string,
    args: readonly unknown[],
    gasLabel?: string,
  ): Promise<bigint> {
    const wallet = from as unknown as ChainWalletClient;
    assert.ok(wallet.account, "a wallet client with an account");
    let sender = this.senders.get(wallet.account.address);
    if (!sender) {
      sender = TxSender.create({
        publicClient: this.pub as unknown as ChainPublicClient,
        walletClient: wallet,
      });
      this.senders.set(wallet.account.address, sender);
    }
    const { hash, receipt } = await (
      await sender
    ).send({ address: this.addr(contract), abi: abi(contract), functionName: fn, args });
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
      // a real X25519 key, derived from the wallet (sdk/crypto/operator-key.ts): sealed transcripts reach it
      const { publicKey } = await deriveOperatorKey(walletSigner(w));
      await this.send(w, "NodeStaking", "register", [
        `http://127.0.0.1:${9000 + role}`,
        publicKey,
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

  /**
   * Registers every device of `devices` that is not registered yet, each signing its own `approve` (its bond),
   * `register` (serving `schema`, any algorithm of it, no price floor) and `setSessionKey` (its real Ed25519 key when
   * it has a session signer, `deviceAccount`; else a stand-in, for devices that never run SecAgg); the treasury pays
   * the bonds. Transactions are pre-signed and sent in batches, so a thousand devices take seconds.
   */
  async registerDevices(devices: readonly DeviceLike[], schema: Hex): Promise<void> {
    const registry = this.addr("DeviceRegistry");
    const token = this.addr("DMLToken");
    const flags = await Promise.all(
      devices.map((d) => this.read<boolean>("DeviceRegistry", "isRegistered", [d.address])),
    );
    const todo = devices.filter((_, i) => !flags[i]);
    if (todo.length === 0) return;
    const bond = await this.read<bigint>("DeviceRegistry", "deviceBond");
    const faucet = this.wallet(12);
    await this.fund([getAddress(faucet.account.address)], bond * BigInt(todo.length));
    const block = await this.pub.getBlock();
    const fees = {
      maxFeePerGas: (block.baseFeePerGas ?? 10n ** 9n) * 4n + 10n ** 9n,
      maxPriorityFeePerGas: 10n ** 9n,
    };
    const chain = this.pub.chain;
    let nonce = await this.pub.getTransactionCount({ address: faucet.account.address });
    const approve = encodeFunctionData({
      abi: abi("DMLToken"),
      functionName: "approve",
      args: [registry, bond],
    });
    const register = encodeFunctionData({
      abi: abi("DeviceRegistry"),
      functionName: "register",
      args: [[schema], { anyAlgorithmInSchema: true, algorithms: [], priceFloor: 0n }],
    });
    const BATCH = 100;
    for (let start = 0; start < todo.length; start += BATCH) {
      const batch = todo.slice(start, start + BATCH);
      const hashes: Hex[] = [];
      for (const d of batch)
        hashes.push(
          await faucet.writeContract({
            address: token,
            abi: abi("DMLToken"),
            functionName: "transfer",
            args: [d.address, bond],
            nonce: nonce++,
            ...fees,
          } as never),
        );
      await Promise.all(batch.map((d) => this.conn.networkHelpers.setBalance(d.address, ETHER)));
      const setKey = (d: DeviceLike) =>
        encodeFunctionData({
          abi: abi("DeviceRegistry"),
          functionName: "setSessionKey",
          args: [d.session?.sessionKey ?? label(`session key ${d.address}`)],
        });
      for (const [to, dataOf] of [
        [token, () => approve],
        [registry, () => register],
        [registry, setKey],
      ] as const) {
        const sent = await Promise.all(
          batch.map(async (d) => {
            const data = dataOf(d);
            const w = createWalletClient({
              account: d,
              chain,
              transport: custom(this.conn.provider),
            });
            const serializedTransaction = await w.signTransaction({
              to,
              data,
              nonce: await this.pub.getTransactionCount({
                address: d.address,
                blockTag: "pending",
              }),
              gas: 300_000n,
              chain,
              ...fees,
            });
            return w.sendRawTransaction({ serializedTransaction });
          }),
        );
        hashes.push(...sent);
      }
      const receipts = await Promise.all(
        hashes.map((hash) => this.pub.waitForTransactionReceipt({ hash })),
      );
      assert.ok(
        receipts.every((r) => r.status === "success"),
        "every device funded, approved and registered",
      );
    }
  }

  /**
   * Registers the devices that are not registered yet, signs each one's heartbeat for the growth pool's next
   * epoch and has `distributor` post their connected set once that epoch ended; returns when the post stands (its
   * challenge window is over), so jobs scheduled from now on draw their cohorts from it.
   */
  async postConnectedSet(
    distributor: Wallet,
    devices: PrivateKeyAccount[],
    schema: Hex,
  ): Promise<ConnectedSet> {
    await this.registerDevices(devices, schema);
    const epoch = await this.read<bigint>("GrowthPool", "nextEpoch");
    await this.warpTo(await this.read<bigint>("GrowthPool", "epochEnd", [epoch]));
    const domain = { chainId: this.pub.chain!.id, verifyingContract: this.addr("DeviceRegistry") };
    const signatures = await Promise.all(
      devices.map((d) => signHeartbeatMessage(d, domain, epoch)),
    );
    const tree = buildConnectedSet(
      devices.map((d, i) => ({ device: d.address, signature: signatures[i]! })),
    );
    await this.send(distributor, "GrowthPool", "postEpoch", [
      epoch,
      tree.root,
      BigInt(devices.length),
      "bafy-connected-set",
    ]);
    const [, , finalAt] = await this.read<readonly [Hex, bigint, bigint]>(
      "GrowthPool",
      "connectedSet",
      [epoch],
    );
    await this.warpTo(finalAt + 1n);
    return { epoch, finalAt, tree, devices };
  }

  /**
   * Waits until the block whose hash seeds the job's epoch exists (`EpochSeedArmed`): on EDR every transaction is a
   * block, so right after `finalizeEpoch` one more block is mined; a live chain just moves on. Returns the epoch.
   */
  async awaitSeedBlock(jobId: bigint): Promise<bigint> {
    const job = await this.read<{ scheduledEpoch: number }>("JobMarket", "getJob", [jobId]);
    const epoch = BigInt(job.scheduledEpoch);
    if ((await this.read<Hex>("JobMarket", "epochSeed", [epoch])) !== ZERO_HASH) return epoch;
    const seedBlock = await this.seedBlockOf(epoch);
    const head = await this.pub.getBlockNumber({ cacheTime: 0 });
    if (head <= seedBlock) await this.conn.networkHelpers.mine(Number(seedBlock - head + 1n));
    return epoch;
  }

  private async seedBlockOf(epoch: bigint): Promise<bigint> {
    const armed = await this.pub.getContractEvents({
      address: this.addr("JobMarket"),
      abi: abi("JobMarket"),
      eventName: "EpochSeedArmed",
      args: { epoch },
      fromBlock: 0n,
    });
    const seedBlock = (armed.at(-1) as unknown as { args: { blockNumber: bigint } } | undefined)
      ?.args.blockNumber;
    assert.ok(seedBlock !== undefined, `epoch ${epoch} armed a seed`);
    return seedBlock;
  }

  /**
   * The job's seed, computed as the contracts do: the epoch seed is the hash of the block `finalizeEpoch` armed
   * (read from the chain once fixed), the job seed `keccak256(abi.encode(epochSeed, "dml.job", jobId))`.
   */
  async jobSeedOf(jobId: bigint): Promise<Hex> {
    const epoch = await this.awaitSeedBlock(jobId);
    let epochSeed = await this.read<Hex>("JobMarket", "epochSeed", [epoch]);
    if (epochSeed === ZERO_HASH)
      epochSeed = (await this.pub.getBlock({ blockNumber: await this.seedBlockOf(epoch) })).hash!;
    return jobSeed(epochSeed, jobId);
  }

  /**
   * The distributor's draw (PROTOCOL.md §7.3): of `sets` (oldest first), the latest that stood by the end of the
   * job's scheduling epoch's reveal window; its devices that are eligible for the job and unchanged since before
   * now; the `n` lowest draw scores of the job's seed, in ascending order.
   */
  async drawCohortOf(
    jobId: bigint,
    n: number,
    sets: readonly ConnectedSet[],
  ): Promise<DrawnCohort> {
    const job = await this.read<{
      scheduledEpoch: number;
      rewardPerDevice: bigint;
      algorithmId: bigint;
    }>("JobMarket", "getJob", [jobId]);
    const [, , seedTime] = await this.epochWindows(BigInt(job.scheduledEpoch));
    const set = sets.filter((s) => s.finalAt <= seedTime!).at(-1);
    assert.ok(set, `a connected set stood before job ${jobId}'s seed`);
    const seed = await this.jobSeedOf(jobId);
    const schema = (
      await this.read<{ schema: Hex }>("AlgorithmMarketplace", "getAlgorithm", [job.algorithmId])
    ).schema;
    const now = await this.now();
    const eligible = await Promise.all(
      set.devices.map(
        async (d) =>
          (await this.read<boolean>("DeviceRegistry", "isEligible", [
            d.address,
            schema,
            job.algorithmId,
            job.rewardPerDevice,
          ])) && (await this.read<bigint>("DeviceRegistry", "lastChange", [d.address])) < now,
      ),
    );
    const members = drawCohort(
      seed,
      set.devices
        .map((d) => ({ connectedIndex: set.tree.leafOf(d.address)!.index, device: d.address }))
        .filter((_, i) => eligible[i]),
      n,
    );
    const byAddress = new Map(set.devices.map((d) => [getAddress(d.address), d]));
    return {
      connectedEpoch: set.epoch,
      members,
      tree: buildCohortTree(members),
      devices: members.map((m) => byAddress.get(getAddress(m.device))!),
    };
  }

  /** [start, commitEnd, revealEnd, end] of an auction epoch. */
  async epochWindows(epoch: bigint): Promise<readonly bigint[]> {
    return this.read<readonly bigint[]>("JobMarket", "epochWindows", [epoch]);
  }
}

/** A connected set posted to the growth pool: its epoch, when it stood, its tree and devices. */
export interface ConnectedSet {
  epoch: bigint;
  finalAt: bigint;
  tree: ConnectedSetTree;
  devices: PrivateKeyAccount[];
}

/** A job's drawn cohort: its members in ascending draw score, their tree and the set they come from. */
export interface DrawnCohort {
  connectedEpoch: bigint;
  members: CohortMember[];
  tree: CohortTree;
  devices: PrivateKeyAccount[];
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
