/**
 * The governance step of `npm start` (PROTOCOL.md §7.8): token holders upgrade one protocol contract through the
 * DMLGovernor and its timelock — propose → vote → queue → execute — and the contract's state survives. Wiring only:
 * the actions are sdk/chain/governance.ts.
 *
 *   holders  Hardhat accounts #12–#14, 20,000,000 DML each from the deployment's genesis allocations
 *            (`GOVERNANCE_GENESIS`, 6% of supply against a 5% quorum); each delegates its votes to itself;
 *   upgrade  AlgorithmMarketplace's proxy to a freshly deployed implementation of the same code (a patch release);
 *   clock    the dev chain moves past the voting delay, the voting period and the timelock delay
 *            (`evm_setNextBlockTimestamp`), as the demo job moves it through its windows.
 *
 * It fails (throws) unless the proposal is Executed, the proxy runs the new implementation and every value read
 * before the upgrade (algorithm count, the listed algorithms, the marketplace's token balance, its governance)
 * reads the same after.
 */
import { createTestClient, formatEther, getAddress, http, type Address, type Hex } from "viem";
import { algorithmMarketplaceAbi } from "#sdk/chain/abi/AlgorithmMarketplace.ts";
import { dmlTokenAbi } from "#sdk/chain/abi/DMLToken.ts";
import { loadArtifact } from "#sdk/chain/artifacts.ts";
import { createChainWalletClient, devAccount, type ChainPublicClient } from "#sdk/chain/clients.ts";
import { networkAccount } from "./network/accounts.ts";
import { ChainError } from "#sdk/chain/errors.ts";
import {
  castVote,
  delegateToSelf,
  execute,
  implementationOf,
  propose,
  proposalInfo,
  queue,
  upgradeProposal,
  VoteType,
} from "#sdk/chain/governance.ts";
import type { Manifest } from "#sdk/chain/manifest.ts";
import { TxSender } from "#sdk/chain/tx-sender.ts";

const HOLDERS = [12, 13, 14] as const;
const HOLDER_AMOUNT = 20_000_000n * 10n ** 18n;

/** Genesis allocations `npm start` deploys with: the dev faucet (#1) and the three token holders. */
export const GOVERNANCE_GENESIS = {
  allocations: [
    { to: devAccount(1).address, amount: 1_000_000n * 10n ** 18n },
    ...HOLDERS.map((i) => ({ to: devAccount(i).address, amount: HOLDER_AMOUNT })),
  ],
};

/** `GOVERNANCE_GENESIS` for the accounts in use (the dev mnemonic's, or `npm start -- --keystore DIR`'s). */
export function governanceGenesis() {
  return {
    allocations: [
      { to: networkAccount(1).address, amount: 1_000_000n * 10n ** 18n },
      ...HOLDERS.map((i) => ({ to: networkAccount(i).address, amount: HOLDER_AMOUNT })),
    ],
  };
}

export interface GovernanceDemoContext {
  rpcUrl: string;
  publicClient: ChainPublicClient;
  manifest: Manifest;
  print: (line: string) => void;
}

/** What the upgrade ended with (it throws unless Executed with the state kept). */
export interface GovernanceOutcome {
  proposalId: bigint;
  state: string;
  oldImplementation: Address;
  implementation: Address;
  votesFor: bigint;
}

export async function runGovernanceDemo(ctx: GovernanceDemoContext): Promise<GovernanceOutcome> {
  const { publicClient: pub, manifest, print } = ctx;
  const addr = (name: string): Address => {
    const a = manifest.contracts[name]?.address;
    if (!a) throw new ChainError("START", `${name} is not in the deployment manifest`);
    return a;
  };
  const governor = addr("DMLGovernor");
  const token = addr("DMLToken");
  const market = addr("AlgorithmMarketplace");
  const chainId = await pub.getChainId();
  const clock = createTestClient({ mode: "hardhat", transport: http(ctx.rpcUrl) });
  const warpTo = async (ts: bigint): Promise<void> => {
    if ((await pub.getBlock()).timestamp >= ts) return;
    await clock.setNextBlockTimestamp({ timestamp: ts });
    await clock.mine({ blocks: 1 });
  };
  const wallets = HOLDERS.map((i) =>
    createChainWalletClient(networkAccount(i), ctx.rpcUrl, chainId),
  );
  const senders = await Promise.all(
    wallets.map((walletClient) => TxSender.create({ publicClient: pub, walletClient })),
  );
  for (const s of senders) await delegateToSelf(s, token);

  const snapshot = async () => {
    const count = await pub.readContract({
      address: market,
      abi: algorithmMarketplaceAbi,
      functionName: "algorithmCount",
    });
    const algorithms = [];
    for (let id = 1n; id <= count; id++)
      algorithms.push(
        await pub.readContract({
          address: market,
          abi: algorithmMarketplaceAbi,
          functionName: "getAlgorithm",
          args: [id],
        }),
      );
    return {
      count,
      algorithms,
      balance: await pub.readContract({
        address: token,
        abi: dmlTokenAbi,
        functionName: "balanceOf",
        args: [market],
      }),
      governance: await pub.readContract({
        address: market,
        abi: algorithmMarketplaceAbi,
        functionName: "governance",
      }),
    };
  };
  const before = await snapshot();
  const oldImpl = await implementationOf(pub, market);

  const art = loadArtifact("AlgorithmMarketplace");
  const hash = await wallets[0]!.deployContract({
    abi: art.abi,
    bytecode: art.bytecode as Hex,
    args: [],
  });
  const deployed = (await pub.waitForTransactionReceipt({ hash })).contractAddress;
  if (!deployed) throw new ChainError("START", "the new implementation did not deploy");
  const next = getAddress(deployed);
  const p = upgradeProposal({
    proxy: market,
    implementation: next,
    description: `DIP-1: upgrade AlgorithmMarketplace to ${next} (patch release)`,
  });
  const { id } = await propose(senders[0]!, governor, p);
  let info = await proposalInfo(pub, governor, id);
  print(`proposal ${id.toString().slice(0, 12)}… "${p.description}": ${info.state}`);
  await warpTo(info.snapshot + 1n);
  for (const s of senders) await castVote(s, pub, governor, id, VoteType.For);
  info = await proposalInfo(pub, governor, id);
  print(
    `  voted: for ${formatEther(info.votes.for)} DML, against ${formatEther(info.votes.against)}, quorum ${formatEther(info.quorum)}`,
  );
  await warpTo(info.deadline + 1n);
  await queue(senders[1]!, pub, governor, p);
  info = await proposalInfo(pub, governor, id);
  print(`  ${info.state}; timelock ETA ${new Date(Number(info.eta) * 1000).toISOString()}`);
  await warpTo(info.eta);
  await execute(senders[2]!, pub, governor, p);
  info = await proposalInfo(pub, governor, id);
  const impl = await implementationOf(pub, market);
  const after = await snapshot();
  const same = JSON.stringify(after, replacer) === JSON.stringify(before, replacer);
  print(
    `  ${info.state}: AlgorithmMarketplace implementation ${oldImpl} → ${impl}; state ${same ? "unchanged" : "CHANGED"} (${after.count} algorithms, ${formatEther(after.balance)} DML held)`,
  );
  if (info.state !== "Executed" || impl !== next || !same)
    throw new ChainError(
      "START",
      `governance: the upgrade did not hold (state ${info.state}, implementation ${impl}, state ${same ? "kept" : "changed"})`,
    );
  return {
    proposalId: id,
    state: info.state,
    oldImplementation: oldImpl,
    implementation: impl,
    votesFor: info.votes.for,
  };
}

function replacer(_k: string, v: unknown): unknown {
  return typeof v === "bigint" ? v.toString() : v;
}
