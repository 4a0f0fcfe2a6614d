/**
 * Deploys the DML protocol with viem and writes a deployment manifest.
 *
 * Library: `deployProtocol({ rpcUrl | clients, deployerKey, config, manifestPath, force })`.
 * CLI:     `npm run deploy -- [--rpc URL] [--config FILE] [--manifest FILE] [--force]` (key from DEPLOYER_KEY).
 *
 * Every protocol contract is an ERC1967 proxy initialised in its constructor (nobody can front-run
 * `initialize`). Proxies start governed by the deployer so the script can wire them, then governance is
 * handed to the timelock; the timelock's admin role is renounced. The manifest is written after every step
 * and the script is idempotent: what the manifest records and the chain confirms is never redeployed.
 */
import path from "node:path";
import { Command } from "commander";
import pino from "pino";
import {
  encodeFunctionData,
  getAddress,
  getContractAddress,
  keccak256,
  parseEventLogs,
  toHex,
  zeroAddress,
  zeroHash,
  type Abi,
  type Account,
  type Address,
  type Chain,
  type Hex,
  type PublicClient,
  type TransactionReceipt,
  type Transport,
  type WalletClient,
} from "viem";
import {
  DEFAULT_ARTIFACTS_DIR,
  hasArtifact,
  linkBytecode,
  loadArtifact,
  requiredLibraries,
} from "#sdk/chain/artifacts.ts";
import {
  createChainPublicClient,
  createChainWalletClient,
  DEFAULT_RPC_URL,
  DEV_CHAIN_ID,
  devAccount,
  parsePrivateKey,
  type ChainPublicClient,
  type ChainWalletClient,
} from "#sdk/chain/clients.ts";
import {
  ChainError,
  ConfigError,
  DeploymentError,
  ManifestError,
  TxError,
} from "#sdk/chain/errors.ts";
import { TxSender } from "#sdk/chain/tx-sender.ts";
import {
  defaultManifestPath,
  MANIFEST_VERSION,
  toJson,
  tryReadManifest,
  writeManifest,
  type DeployedContract,
  type Manifest,
} from "#sdk/chain/manifest.ts";
import {
  assertConfigForChain,
  parseDeployConfig,
  readDeployConfig,
  type DeployConfig,
  type DeployConfigInput,
} from "./lib/config.ts";
import { deployAttestationStep } from "./deploy-steps/attestation.ts";

/** ERC-1967 implementation slot: bytes32(uint256(keccak256("eip1967.proxy.implementation")) - 1). */
export const IMPLEMENTATION_SLOT =
  "0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc" as const;

const DEFAULT_ADMIN_ROLE = `0x${"00".repeat(32)}` as Hex;
const PROPOSER_ROLE = keccak256(toHex("PROPOSER_ROLE"));
const CANCELLER_ROLE = keccak256(toHex("CANCELLER_ROLE"));
const EXECUTOR_ROLE = keccak256(toHex("EXECUTOR_ROLE"));

/** Upgradeable protocol contracts, in deployment order after the token. */
export const PROXY_CONTRACTS = [
  "NodeStaking",
  "GrowthPool",
  "DeviceRegistry",
  "AlgorithmMarketplace",
  "PaymentChannels",
  "JobMarket",
] as const;

type AnyPublicClient = PublicClient<Transport, Chain | undefined>;
type AnyWalletClient = WalletClient<Transport, Chain | undefined, Account | undefined>;

export interface DeployClients {
  publicClient: AnyPublicClient;
  walletClient: AnyWalletClient;
}

export interface DeployOptions {
  /** JSON-RPC endpoint (default 127.0.0.1:8545). Ignored when `clients` is given. */
  rpcUrl?: string;
  /** Ready viem clients (e.g. Hardhat's in-process EDR clients); the wallet client's account deploys. */
  clients?: DeployClients;
  /** Deployer private key; default DEPLOYER_KEY, or Hardhat's account #0 on the dev chain. */
  deployerKey?: string;
  /** Configuration (validated; defaults fill the rest). */
  config?: DeployConfigInput | DeployConfig;
  /** Manifest file (default deployments/<chainId>.local.json). */
  manifestPath?: string;
  /** Ignore the manifest and deploy everything again. */
  force?: boolean;
  artifactsDir?: string;
  log?: (msg: string, data?: Record<string, unknown>) => void;
}

export interface DeployResult {
  manifest: Manifest;
  manifestPath: string;
  /** Contracts and steps executed by this run. */
  executed: string[];
  /** Contracts and steps found complete and skipped. */
  skipped: string[];
  /** Transactions sent by this run. */
  txCount: number;
}

interface Ctx {
  pub: AnyPublicClient;
  wallet: AnyWalletClient;
  account: Account;
  chain: Chain | undefined;
  deployer: Address;
  chainId: number;
  dev: boolean;
  config: DeployConfig;
  manifest: Manifest;
  manifestPath: string;
  artifactsDir: string;
  log: (msg: string, data?: Record<string, unknown>) => void;
  result: DeployResult;
  /** The deployer's transaction sender, made on the first call. */
  sender?: Promise<TxSender>;
}

// ------------------------------------------------------------------------------------------ helpers

function save(ctx: Ctx): void {
  ctx.manifest.updatedAt = new Date().toISOString();
  writeManifest(ctx.manifestPath, ctx.manifest);
}

function noteBlock(ctx: Ctx, block: number): void {
  if (ctx.manifest.startBlock === 0 || block < ctx.manifest.startBlock)
    ctx.manifest.startBlock = block;
}

async function hasCode(ctx: Ctx, address: Address): Promise<boolean> {
  const code = await ctx.pub.getCode({ address });
  return code !== undefined && code !== "0x";
}

async function implementationOf(ctx: Ctx, proxy: Address): Promise<Address> {
  const raw = await ctx.pub.getStorageAt({ address: proxy, slot: IMPLEMENTATION_SLOT });
  return getAddress(`0x${(raw ?? "0x").slice(-40).padStart(40, "0")}`);
}

async function confirm(ctx: Ctx, hash: Hex, what: string): Promise<TransactionReceipt> {
  ctx.result.txCount += 1;
  // On an automining chain the receipt exists already; otherwise wait for it.
  const receipt = await ctx.pub
    .getTransactionReceipt({ hash })
    .catch(() => ctx.pub.waitForTransactionReceipt({ hash }));
  if (receipt.status !== "success")
    throw new DeploymentError(`${what}: transaction ${hash} reverted`);
  return receipt;
}

async function deployRaw(
  ctx: Ctx,
  artifactName: string,
  args: readonly unknown[],
  value?: bigint,
): Promise<{ address: Address; txHash: Hex; blockNumber: number }> {
  const art = loadArtifact(artifactName, ctx.artifactsDir);
  if (art.bytecode.length <= 2)
    throw new DeploymentError(`${artifactName} is abstract or an interface`);
  // External libraries are deployed once (recorded in the manifest like contracts) and linked in.
  const libraries: Record<string, Address> = {};
  for (const [, lib] of requiredLibraries(art)) {
    libraries[lib] = await ensureContract(ctx, lib, lib, () => []);
  }
  const bytecode = Object.keys(libraries).length > 0 ? linkBytecode(art, libraries) : art.bytecode;
  const txHash = await ctx.wallet.deployContract({
    abi: art.abi,
    bytecode,
    args,
    account: ctx.account,
    chain: ctx.chain,
    ...(value === undefined ? {} : { value }),
  });
  const receipt = await confirm(ctx, txHash, `deploy ${artifactName}`);
  if (!receipt.contractAddress)
    throw new DeploymentError(`deploy ${artifactName}: no contract address in receipt`);
  const blockNumber = Number(receipt.blockNumber);
  noteBlock(ctx, blockNumber);
  return { address: getAddress(receipt.contractAddress), txHash, blockNumber };
}

async function send(
  ctx: Ctx,
  what: string,
  address: Address,
  abi: Abi,
  functionName: string,
  args: readonly unknown[],
  value?: bigint,
): Promise<TransactionReceipt> {
  ctx.result.txCount += 1;
  // Every call goes through the deployer's TxSender (sdk/chain/tx-sender.ts): nonce from the chain, simulated
  // first, the revert named, a stuck transaction replaced at the same nonce.
  ctx.sender ??= TxSender.create({
    publicClient: ctx.pub as unknown as ChainPublicClient,
    walletClient: ctx.wallet as unknown as ChainWalletClient,
    account: ctx.account,
  });
  try {
    const { receipt } = await (
      await ctx.sender
    ).send({ address, abi, functionName, args, ...(value === undefined ? {} : { value }) });
    return receipt;
  } catch (err) {
    if (err instanceof TxError)
      throw new DeploymentError(`${what}: ${err.code} ${err.message}`, { cause: err });
    throw err;
  }
}

async function read(
  ctx: Ctx,
  address: Address,
  artifactName: string,
  functionName: string,
  args: readonly unknown[] = [],
) {
  return ctx.pub.readContract({
    address,
    abi: loadArtifact(artifactName, ctx.artifactsDir).abi,
    functionName,
    args,
  });
}

/** A non-upgradeable contract: deployed unless the manifest has it and code is there. */
async function ensureContract(
  ctx: Ctx,
  name: string,
  artifactName: string,
  args: () => readonly unknown[],
): Promise<Address> {
  const rec = ctx.manifest.contracts[name];
  if (rec && (await hasCode(ctx, rec.address))) {
    ctx.result.skipped.push(name);
    return rec.address;
  }
  const d = await deployRaw(ctx, artifactName, args());
  ctx.manifest.contracts[name] = {
    address: d.address,
    txHash: d.txHash,
    blockNumber: d.blockNumber,
  };
  save(ctx);
  ctx.result.executed.push(name);
  ctx.log(`deployed ${name}`, { address: d.address });
  return d.address;
}

/** Implementation of `name`, deployed on its own (before its proxy) and recorded under "<name>Implementation". */
async function ensureImplementation(
  ctx: Ctx,
  name: string,
  implArgs: readonly unknown[] = [],
): Promise<DeployedContract> {
  const proxyRec = ctx.manifest.contracts[name];
  if (
    proxyRec?.implementation &&
    proxyRec.implementationTxHash &&
    (await hasCode(ctx, proxyRec.implementation))
  ) {
    return {
      address: proxyRec.implementation,
      txHash: proxyRec.implementationTxHash,
      blockNumber: proxyRec.blockNumber,
    };
  }
  const key = `${name}Implementation`;
  const rec = ctx.manifest.contracts[key];
  if (rec && (await hasCode(ctx, rec.address))) return rec;
  const d = await deployRaw(ctx, name, implArgs);
  const out = { address: d.address, txHash: d.txHash, blockNumber: d.blockNumber };
  ctx.manifest.contracts[key] = out;
  save(ctx);
  ctx.log(`deployed ${name} implementation`, { address: d.address });
  return out;
}

/** Is the recorded proxy live: code at the address and its ERC-1967 slot pointing at the recorded implementation? */
async function proxyIsLive(ctx: Ctx, rec: DeployedContract | undefined): Promise<boolean> {
  if (!rec?.implementation) return false;
  if (!(await hasCode(ctx, rec.address))) return false;
  return (
    (await implementationOf(ctx, rec.address)) === rec.implementation &&
    (await hasCode(ctx, rec.implementation))
  );
}

/** An ERC1967 proxy over `name`'s implementation, initialised in the constructor with `initArgs`. */
async function ensureProxy(
  ctx: Ctx,
  name: string,
  initArgs: () => readonly unknown[],
  expectedAddress?: Address,
  implArgs: readonly unknown[] = [],
): Promise<Address> {
  const rec = ctx.manifest.contracts[name];
  if (await proxyIsLive(ctx, rec)) {
    ctx.result.skipped.push(name);
    return (rec as DeployedContract).address;
  }
  const impl = await ensureImplementation(ctx, name, implArgs);
  const initData = encodeFunctionData({
    abi: loadArtifact(name, ctx.artifactsDir).abi,
    functionName: "initialize",
    args: initArgs(),
  });
  if (expectedAddress) {
    const nonce = await ctx.pub.getTransactionCount({ address: ctx.deployer, blockTag: "pending" });
    const next = getContractAddress({ from: ctx.deployer, nonce: BigInt(nonce) });
    if (next !== expectedAddress) {
      throw new DeploymentError(
        `${name} must be deployed at ${expectedAddress} (the token minted to it) but the deployer's next ` +
          `contract address is ${next}: the deployer sent other transactions mid-deployment; rerun with --force`,
      );
    }
  }
  const d = await deployRaw(ctx, "ERC1967Proxy", [impl.address, initData]);
  ctx.manifest.contracts[name] = {
    address: d.address,
    implementation: impl.address,
    txHash: d.txHash,
    implementationTxHash: impl.txHash,
    blockNumber: d.blockNumber,
  };
  delete ctx.manifest.contracts[`${name}Implementation`];
  save(ctx);
  ctx.result.executed.push(name);
  ctx.log(`deployed ${name}`, { proxy: d.address, implementation: impl.address });
  return d.address;
}

/** A wiring step: skipped when `isDone` (read from the chain) holds; otherwise `run` sends its transactions. */
async function step(
  ctx: Ctx,
  name: string,
  isDone: () => Promise<boolean>,
  run: () => Promise<TransactionReceipt[]>,
): Promise<void> {
  if (await isDone()) {
    ctx.result.skipped.push(name);
    return;
  }
  const receipts = await run();
  const last = receipts.at(-1);
  ctx.manifest.steps[name] = {
    txHashes: receipts.map((r) => r.transactionHash),
    blockNumber: last ? Number(last.blockNumber) : 0,
  };
  save(ctx);
  ctx.result.executed.push(name);
  ctx.log(`step ${name}`, { txs: receipts.length });
}

function emptyManifest(chainId: number, deployer: Address): Manifest {
  return {
    version: MANIFEST_VERSION,
    chainId,
    deployer,
    startBlock: 0,
    updatedAt: new Date().toISOString(),
    contracts: {},
    steps: {},
    predicted: {},
  };
}

/**
 * Loads the manifest for this chain and checks it against the chain. A manifest whose contracts have all
 * vanished (a restarted dev chain) is discarded; one that is only partly on chain is refused.
 */
async function loadState(ctx: Omit<Ctx, "manifest">, force: boolean): Promise<Manifest> {
  const fresh = emptyManifest(ctx.chainId, ctx.deployer);
  if (force) return fresh;
  const existing = tryReadManifest(ctx.manifestPath);
  if (!existing) return fresh;
  if (existing.chainId !== ctx.chainId) {
    throw new ManifestError(
      `${ctx.manifestPath} is for chain ${existing.chainId}, not ${ctx.chainId}: pass another --manifest or --force`,
    );
  }
  if (existing.deployer !== ctx.deployer) {
    throw new ManifestError(
      `${ctx.manifestPath} was deployed by ${existing.deployer}, not ${ctx.deployer}: pass another --manifest or --force`,
    );
  }
  const entries = Object.entries(existing.contracts);
  const live = await Promise.all(
    entries.map(async ([, c]) => {
      const code = await ctx.pub.getCode({ address: c.address });
      return code !== undefined && code !== "0x";
    }),
  );
  if (entries.length > 0 && live.every((l) => !l)) {
    ctx.log("manifest contracts are not on this chain (restarted dev chain?): deploying afresh");
    return fresh;
  }
  const missing = entries.filter((_, i) => !live[i]).map(([n]) => n);
  if (missing.length > 0) {
    throw new ManifestError(
      `${ctx.manifestPath} records ${missing.join(", ")} but the chain has no code there: ` +
        `the manifest does not describe this chain; rerun with --force`,
    );
  }
  return existing;
}

function configForManifest(config: DeployConfig): Record<string, unknown> {
  return JSON.parse(toJson(config)) as Record<string, unknown>;
}

/** Genesis of epoch 0: from the config, else the latest block's timestamp (recorded in the manifest). */
async function resolveGenesis(ctx: Ctx): Promise<bigint> {
  const recorded = ctx.manifest.config?.growthPool as { genesis?: string } | undefined;
  if (recorded?.genesis !== undefined) return BigInt(recorded.genesis);
  const genesis =
    ctx.config.growthPool.genesis ?? (await ctx.pub.getBlock({ blockTag: "latest" })).timestamp;
  const cfg = (ctx.manifest.config ??= configForManifest(ctx.config));
  cfg.growthPool = { ...(cfg.growthPool as Record<string, unknown>), genesis: genesis.toString() };
  save(ctx);
  return genesis;
}

/**
 * A proxy exists at `address` but the manifest lost it (a crash between the transaction and the manifest
 * write): find its creation transaction in the blocks after the token and record it.
 */
async function adoptProxy(ctx: Ctx, name: string, address: Address): Promise<void> {
  const from = ctx.manifest.contracts.DMLToken?.blockNumber ?? ctx.manifest.startBlock;
  const latest = Number(await ctx.pub.getBlockNumber());
  for (let b = from; b <= Math.min(latest, from + 64); b++) {
    const block = await ctx.pub.getBlock({ blockNumber: BigInt(b), includeTransactions: true });
    for (const tx of block.transactions) {
      if (tx.to !== null || getAddress(tx.from) !== ctx.deployer) continue;
      const receipt = await ctx.pub.getTransactionReceipt({ hash: tx.hash });
      if (receipt.contractAddress && getAddress(receipt.contractAddress) === address) {
        const implementation = await implementationOf(ctx, address);
        const implRec = ctx.manifest.contracts[`${name}Implementation`];
        ctx.manifest.contracts[name] = {
          address,
          implementation,
          txHash: tx.hash,
          ...(implRec && implRec.address === implementation
            ? { implementationTxHash: implRec.txHash }
            : {}),
          blockNumber: b,
        };
        save(ctx);
        ctx.log(`recovered ${name} from the chain`, { address });
        return;
      }
    }
  }
  throw new DeploymentError(
    `${name} has code at ${address} but its creation was not found; rerun with --force`,
  );
}

/** The VRF coordinator and subscription: from the config, or Chainlink's mock on the dev chain. */
async function ensureVrf(ctx: Ctx): Promise<void> {
  const { vrf } = ctx.config;
  if (vrf.coordinator) {
    if (vrf.subscriptionId === undefined)
      throw new ConfigError("vrf.coordinator needs vrf.subscriptionId");
    ctx.manifest.vrf = {
      coordinator: vrf.coordinator,
      keyHash: vrf.keyHash,
      subscriptionId: vrf.subscriptionId,
      mock: false,
    };
    save(ctx);
    return;
  }
  if (!ctx.dev) throw new ConfigError("a non-dev chain needs vrf.coordinator");
  const coordinator = await ensureContract(ctx, "VRFCoordinator", "VRFCoordinatorV2_5Mock", () => [
    vrf.mock.baseFee,
    vrf.mock.gasPrice,
    vrf.mock.weiPerUnitLink,
  ]);
  const abi = loadArtifact("VRFCoordinatorV2_5Mock", ctx.artifactsDir).abi;
  await step(
    ctx,
    "vrf.subscription",
    async () => {
      const rec = ctx.manifest.vrf;
      if (!rec || rec.coordinator !== coordinator) return false;
      try {
        await ctx.pub.readContract({
          address: coordinator,
          abi,
          functionName: "getSubscription",
          args: [rec.subscriptionId],
        });
        return true;
      } catch {
        return false;
      }
    },
    async () => {
      const created = await send(
        ctx,
        "createSubscription",
        coordinator,
        abi,
        "createSubscription",
        [],
      );
      const logs = parseEventLogs({ abi, logs: created.logs, eventName: "SubscriptionCreated" });
      const subId = (logs[0]?.args as { subId?: bigint } | undefined)?.subId;
      if (subId === undefined)
        throw new DeploymentError("createSubscription emitted no SubscriptionCreated");
      ctx.manifest.vrf = { coordinator, keyHash: vrf.keyHash, subscriptionId: subId, mock: true };
      const funded = await send(ctx, "fundSubscription", coordinator, abi, "fundSubscription", [
        subId,
        vrf.mock.fundLink,
      ]);
      const native = await send(
        ctx,
        "fundSubscriptionWithNative",
        coordinator,
        abi,
        "fundSubscriptionWithNative",
        [subId],
        vrf.mock.fundNative,
      );
      return [created, funded, native];
    },
  );
}

/** Registers `consumer` on the dev subscription (idempotent). */
async function ensureVrfConsumer(
  ctx: Ctx,
  coordinator: Address,
  subId: bigint,
  consumer: Address,
): Promise<void> {
  const abi = loadArtifact("VRFCoordinatorV2_5Mock", ctx.artifactsDir).abi;
  await step(
    ctx,
    "vrf.consumer.GrowthPool",
    async () =>
      (await ctx.pub.readContract({
        address: coordinator,
        abi,
        functionName: "consumerIsAdded",
        args: [subId, consumer],
      })) === true,
    async () => [
      await send(ctx, "addConsumer", coordinator, abi, "addConsumer", [subId, consumer]),
    ],
  );
}

/** Salt of the genesis batch (same as test/utils/ProtocolFixture.sol). */
export const GENESIS_SALT = keccak256(toHex("dml.genesis"));

/** Genesis allocations: from the config, or on the dev chain 1,000,000 DML to Hardhat account #1 (a faucet). */
export function genesisAllocations(
  config: DeployConfig,
  dev: boolean,
): { to: Address; amount: bigint }[] {
  if (config.genesis.allocations) return config.genesis.allocations;
  return dev ? [{ to: getAddress(devAccount(1).address), amount: 1_000_000n * 10n ** 18n }] : [];
}

/**
 * Schedules and executes (delay 0) the timelock batch that pays the genesis allocations from the treasury
 * (`DMLToken.allocate`: each holder is delegated to itself and votes from day one) and sets the real delay. Idempotent: a done operation is skipped, a scheduled one is only executed.
 */
async function genesis(ctx: Ctx, timelock: Address, token: Address): Promise<void> {
  const tl = loadArtifact("TimelockController", ctx.artifactsDir).abi;
  const erc20 = loadArtifact("DMLToken", ctx.artifactsDir).abi;
  const allocations = genesisAllocations(ctx.config, ctx.dev);
  const targets: Address[] = [];
  const payloads: Hex[] = [];
  for (const a of allocations) {
    targets.push(token);
    payloads.push(
      // `allocate` self-delegates the holder: genesis allocations vote from day one (PROTOCOL.md §7.8)
      encodeFunctionData({ abi: erc20, functionName: "allocate", args: [a.to, a.amount] }),
    );
  }
  targets.push(timelock);
  payloads.push(
    encodeFunctionData({
      abi: tl,
      functionName: "updateDelay",
      args: [ctx.config.timelock.minDelay],
    }),
  );
  const values = targets.map(() => 0n);
  const args = [targets, values, payloads, zeroHash, GENESIS_SALT] as const;
  const id = (await read(ctx, timelock, "TimelockController", "hashOperationBatch", args)) as Hex;
  await step(
    ctx,
    "timelock.genesis",
    async () => (await read(ctx, timelock, "TimelockController", "isOperationDone", [id])) === true,
    async () => {
      const out: TransactionReceipt[] = [];
      if ((await read(ctx, timelock, "TimelockController", "isOperation", [id])) !== true) {
        out.push(await send(ctx, "schedule genesis", timelock, tl, "scheduleBatch", [...args, 0n]));
      }
      out.push(await send(ctx, "execute genesis", timelock, tl, "executeBatch", args));
      return out;
    },
  );
}

// ------------------------------------------------------------------------------------------ deployment

/** Deploys (or resumes deploying) the protocol. Safe to run repeatedly. */
export async function deployProtocol(opts: DeployOptions = {}): Promise<DeployResult> {
  const log = opts.log ?? (() => {});
  const artifactsDir = opts.artifactsDir ?? DEFAULT_ARTIFACTS_DIR;
  let pub: AnyPublicClient;
  let wallet: AnyWalletClient;
  if (opts.clients) {
    pub = opts.clients.publicClient;
    wallet = opts.clients.walletClient;
  } else {
    const rpcUrl = opts.rpcUrl ?? DEFAULT_RPC_URL;
    const p = await createChainPublicClient(rpcUrl);
    const key = opts.deployerKey ?? process.env.DEPLOYER_KEY;
    let account: Hex | Account;
    if (key) account = parsePrivateKey(key, "deployer key");
    else if (p.chain.id === DEV_CHAIN_ID) account = devAccount(0);
    else throw new ConfigError(`chain ${p.chain.id} is not the dev chain: set DEPLOYER_KEY`);
    pub = p;
    wallet = createChainWalletClient(account, rpcUrl, p.chain.id);
  }
  const account = wallet.account;
  if (!account) throw new ConfigError("the wallet client has no account");
  const chainId = await pub.getChainId();
  const dev = chainId === DEV_CHAIN_ID;
  const config = parseDeployConfig(opts.config ?? {});
  assertConfigForChain(config, dev);
  const manifestPath = path.resolve(opts.manifestPath ?? defaultManifestPath(chainId));
  const base = {
    pub,
    wallet,
    account,
    chain: wallet.chain ?? pub.chain,
    deployer: getAddress(account.address),
    chainId,
    dev,
    config,
    manifestPath,
    artifactsDir,
    log,
    result: {
      manifest: undefined as unknown as Manifest,
      manifestPath,
      executed: [],
      skipped: [],
      txCount: 0,
    },
  };
  const manifest = await loadState(base, opts.force ?? false);
  const ctx: Ctx = { ...base, manifest };
  ctx.result.manifest = manifest;
  if (!manifest.config) manifest.config = configForManifest(config);
  try {
    await run(ctx);
  } catch (err) {
    if (err instanceof ChainError) throw err;
    throw new DeploymentError(`deployment failed: ${(err as Error).message}`, { cause: err });
  }
  return ctx.result;
}

async function run(ctx: Ctx): Promise<void> {
  const has = (name: string): boolean => hasArtifact(name, ctx.artifactsDir);
  const { config } = ctx;
  const withStaking = has("NodeStaking");
  const withRegistry = has("DeviceRegistry");
  const withPool = has("GrowthPool") && withStaking && withRegistry;

  // 1. Implementations that must exist before the token (only the token and proxies may follow it).
  if (withStaking) await ensureImplementation(ctx, "NodeStaking");
  if (withRegistry) await ensureImplementation(ctx, "DeviceRegistry");
  if (withPool) await ensureImplementation(ctx, "GrowthPool");

  // 2. Timelock: the treasury and the protocol's governance. Anyone may execute a ready operation.
  // Zero delay and the deployer as bootstrap proposer so the genesis batch runs during deployment; the
  // batch itself raises the delay to `config.timelock.minDelay` and the deployer's roles are removed below.
  const timelock = await ensureContract(ctx, "TimelockController", "TimelockController", () => [
    0n,
    [ctx.deployer],
    [zeroAddress],
    ctx.deployer,
  ]);

  // 3. VRF: Chainlink's mock coordinator and a funded subscription on the dev chain.
  if (withPool) await ensureVrf(ctx);

  // 4. Token, then (back to back) the staking, device-registry and growth-pool proxies: the token mints 9% to
  //    the pool's proxy address, predicted from the deployer's nonce; the pool needs the registry (fraud proofs).
  let predictedPool = ctx.manifest.predicted.GrowthPool;
  const tokenRec = ctx.manifest.contracts.DMLToken;
  const tokenLive = tokenRec !== undefined && (await hasCode(ctx, tokenRec.address));
  if (!tokenLive) {
    const nonce = await ctx.pub.getTransactionCount({ address: ctx.deployer, blockTag: "pending" });
    const stakingPending =
      withStaking && !(await proxyIsLive(ctx, ctx.manifest.contracts.NodeStaking));
    const registryPending =
      withRegistry && !(await proxyIsLive(ctx, ctx.manifest.contracts.DeviceRegistry));
    predictedPool = getContractAddress({
      from: ctx.deployer,
      nonce: BigInt(nonce + 1 + (stakingPending ? 1 : 0) + (registryPending ? 1 : 0)),
    });
    ctx.manifest.predicted.GrowthPool = predictedPool;
  }
  if (!predictedPool)
    throw new DeploymentError("manifest has a token but no predicted GrowthPool address");
  const pool = predictedPool;
  const token = await ensureContract(ctx, "DMLToken", "DMLToken", () => [timelock, pool]);

  let staking: Address | undefined;
  if (withStaking) {
    staking = await ensureProxy(ctx, "NodeStaking", () => [
      ctx.deployer,
      token,
      timelock,
      config.staking.minStake,
      config.staking.unbondingDelay,
      config.staking.challengerShareBps,
      config.staking.burnSlashed,
    ]);
  }
  const registry = withRegistry
    ? await ensureProxy(ctx, "DeviceRegistry", () => [
        ctx.deployer,
        token,
        config.deviceRegistry.deviceBond,
      ])
    : undefined;
  if (withPool && staking && registry) {
    const stakingAddr = staking;
    const registryAddr = registry;
    const vrf = ctx.manifest.vrf;
    if (!vrf) throw new DeploymentError("VRF step did not record a coordinator");
    const genesis = await resolveGenesis(ctx);
    if (!ctx.manifest.contracts.GrowthPool && (await hasCode(ctx, pool))) {
      await adoptProxy(ctx, "GrowthPool", pool);
    }
    await ensureProxy(
      ctx,
      "GrowthPool",
      () => [
        ctx.deployer,
        token,
        stakingAddr,
        registryAddr,
        {
          genesis,
          epochLength: config.growthPool.epochLength,
          halvingEpochs: config.growthPool.halvingEpochs,
          winnersPerEpoch: config.growthPool.winnersPerEpoch,
          claimWindow: config.growthPool.claimWindow,
        },
        {
          coordinator: vrf.coordinator,
          keyHash: vrf.keyHash,
          subscriptionId: vrf.subscriptionId,
          requestConfirmations: config.vrf.requestConfirmations,
          callbackGasLimit: config.vrf.callbackGasLimit,
        },
        {
          challengeWindow: config.growthPool.challengeWindow,
          slashAmount: config.growthPool.slashAmount,
        },
      ],
      pool,
    );
    if (vrf.mock) await ensureVrfConsumer(ctx, vrf.coordinator, vrf.subscriptionId, pool);
    // The pool slashes distributors whose posts are proven faulty (PROTOCOL.md §7.2).
    const stakingAbi = loadArtifact("NodeStaking", ctx.artifactsDir).abi;
    await step(
      ctx,
      "NodeStaking.setSlasher.GrowthPool",
      async () => (await read(ctx, stakingAddr, "NodeStaking", "isSlasher", [pool])) === true,
      async () => [
        await send(ctx, "setSlasher(GrowthPool)", stakingAddr, stakingAbi, "setSlasher", [
          pool,
          true,
        ]),
      ],
    );
  }

  // 5. Governor.
  const governor = has("DMLGovernor")
    ? await ensureContract(ctx, "DMLGovernor", "DMLGovernor", () => [
        token,
        timelock,
        config.governor.votingDelay,
        config.governor.votingPeriod,
        config.governor.proposalThreshold,
        config.governor.quorumPercent,
      ])
    : undefined;

  // 6. The other protocol contracts.
  const marketplace = has("AlgorithmMarketplace")
    ? await ensureProxy(ctx, "AlgorithmMarketplace", () => [
        ctx.deployer,
        token,
        timelock,
        config.marketplace.protocolFeeBps,
        config.marketplace.parentShareBps,
      ])
    : undefined;
  if (has("PaymentChannels"))
    await ensureProxy(ctx, "PaymentChannels", () => [ctx.deployer, token]);
  if (has("JobMarket") && registry && marketplace && staking) {
    const jm = config.jobMarket;
    await ensureProxy(ctx, "JobMarket", () => [
      ctx.deployer,
      token,
      marketplace,
      staking,
      registry,
      timelock,
      {
        epochLength: jm.epochLength,
        commitWindow: jm.commitWindow,
        revealWindow: jm.revealWindow,
        capacity: jm.capacity,
        maxBidsPerEpoch: jm.maxBidsPerEpoch,
        reservePrice: jm.reservePrice,
        unrevealedPenaltyBps: jm.unrevealedPenaltyBps,
        fees: jm.fees,
        minPhaseDuration: jm.minPhaseDuration,
        maxPhaseDuration: jm.maxPhaseDuration,
      },
    ]);
  }

  // 6a. ResultAttestation, Settlement, FineTuning and their wiring (script/deploy-steps/attestation.ts).
  await deployAttestationStep({
    deployer: ctx.deployer,
    timelock,
    config: config.attestation,
    artifactsDir: ctx.artifactsDir,
    has,
    addressOf: (name) => ctx.manifest.contracts[name]?.address,
    ensureProxy: (name, initArgs, implArgs) =>
      ensureProxy(ctx, name, initArgs, undefined, implArgs),
    read: (address, artifact, fn, args) => read(ctx, address, artifact, fn, args),
    send: (what, address, abi, fn, args) => send(ctx, what, address, abi, fn, args),
    step: (name, isDone, run) => step(ctx, name, isDone, run),
  });

  // 6b. Genesis: the timelock (treasury) pays the genesis allocations and raises its own delay.
  await genesis(ctx, timelock, token);

  // 7. Timelock roles: the governor proposes and cancels, anyone executes, the deployer keeps nothing.
  if (governor) {
    const tl = loadArtifact("TimelockController", ctx.artifactsDir).abi;
    const hasRole = async (role: Hex, who: Address) =>
      (await read(ctx, timelock, "TimelockController", "hasRole", [role, who])) === true;
    await step(
      ctx,
      "timelock.governorRoles",
      async () =>
        (await hasRole(PROPOSER_ROLE, governor)) && (await hasRole(CANCELLER_ROLE, governor)),
      async () => {
        const out: TransactionReceipt[] = [];
        if (!(await hasRole(PROPOSER_ROLE, governor)))
          out.push(
            await send(ctx, "grant proposer", timelock, tl, "grantRole", [PROPOSER_ROLE, governor]),
          );
        if (!(await hasRole(CANCELLER_ROLE, governor)))
          out.push(
            await send(ctx, "grant canceller", timelock, tl, "grantRole", [
              CANCELLER_ROLE,
              governor,
            ]),
          );
        return out;
      },
    );
    if (!(await hasRole(EXECUTOR_ROLE, zeroAddress))) {
      throw new DeploymentError("timelock executor role is not open to everyone");
    }
  }

  // 8. Hand every proxy's governance to the timelock.
  const gov = loadArtifact("IGovernedUUPS", ctx.artifactsDir).abi;
  for (const name of PROXY_CONTRACTS) {
    const rec = ctx.manifest.contracts[name];
    if (!rec) continue;
    const current = async () =>
      getAddress(
        (await ctx.pub.readContract({
          address: rec.address,
          abi: gov,
          functionName: "governance",
        })) as string,
      );
    await step(
      ctx,
      `${name}.governance`,
      async () => (await current()) === timelock,
      async () => {
        const who = await current();
        if (who !== ctx.deployer)
          throw new DeploymentError(`${name} is governed by ${who}, not the deployer`);
        return [
          await send(ctx, `${name}.transferGovernance`, rec.address, gov, "transferGovernance", [
            timelock,
          ]),
        ];
      },
    );
  }

  // 9. Finally the deployer renounces the timelock admin role (only once the governor can propose).
  if (governor) {
    const tl = loadArtifact("TimelockController", ctx.artifactsDir).abi;
    await step(
      ctx,
      "timelock.renounceAdmin",
      async () => {
        for (const role of [PROPOSER_ROLE, CANCELLER_ROLE, DEFAULT_ADMIN_ROLE]) {
          if (
            (await read(ctx, timelock, "TimelockController", "hasRole", [role, ctx.deployer])) ===
            true
          )
            return false;
        }
        return true;
      },
      async () => {
        const out: TransactionReceipt[] = [];
        for (const role of [PROPOSER_ROLE, CANCELLER_ROLE]) {
          if (
            (await read(ctx, timelock, "TimelockController", "hasRole", [role, ctx.deployer])) ===
            true
          )
            out.push(
              await send(ctx, "revoke bootstrap role", timelock, tl, "revokeRole", [
                role,
                ctx.deployer,
              ]),
            );
        }
        out.push(
          await send(ctx, "renounce admin", timelock, tl, "renounceRole", [
            DEFAULT_ADMIN_ROLE,
            ctx.deployer,
          ]),
        );
        return out;
      },
    );
  }
  save(ctx);
}

// ------------------------------------------------------------------------------------------ CLI

async function main(argv: string[]): Promise<void> {
  const program = new Command()
    .name("deploy")
    .description(
      "Deploy the DML protocol and write its manifest (idempotent; resumes a partial deployment)",
    )
    .option("--rpc <url>", "JSON-RPC endpoint", DEFAULT_RPC_URL)
    .option("--config <file>", "deployment configuration (JSON)")
    .option("--manifest <file>", "manifest path (default deployments/<chainId>.local.json)")
    .option("--force", "ignore the manifest and deploy everything again", false)
    .parse(argv);
  const opts = program.opts<{ rpc: string; config?: string; manifest?: string; force: boolean }>();
  const logger = pino({ name: "deploy" });
  const config = opts.config ? readDeployConfig(opts.config) : undefined;
  const result = await deployProtocol({
    rpcUrl: opts.rpc,
    ...(config ? { config } : {}),
    ...(opts.manifest ? { manifestPath: opts.manifest } : {}),
    force: opts.force,
    log: (msg, data) => logger.info(data ?? {}, msg),
  });
  logger.info(
    {
      manifest: result.manifestPath,
      executed: result.executed.length,
      skipped: result.skipped.length,
      txs: result.txCount,
    },
    "deployment complete",
  );
  for (const [name, c] of Object.entries(result.manifest.contracts)) {
    console.log(
      `${name.padEnd(22)} ${c.address}${c.implementation ? `  (implementation ${c.implementation})` : ""}`,
    );
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv).catch((err: unknown) => {
    const msg = err instanceof ChainError ? `${err.name}: ${err.message}` : String(err);
    console.error(msg);
    process.exitCode = 1;
  });
}
