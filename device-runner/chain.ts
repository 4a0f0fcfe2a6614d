/**
 * Chain access for the device: viem clients for the configured RPC and the device key, and the ABIs the runner uses.
 * ABIs are the generated const ABIs of `sdk/chain/abi` (typed reads and writes); the JobMarket event the watcher
 * polls is the human-readable fragment below, which matches its interface (test/device-runner/real-jobmarket.test.ts
 * checks it).
 */
import { protocolAbis } from "#sdk/chain/abi/index.ts";
import {
  createPublicClient,
  createWalletClient,
  http,
  parseAbi,
  type Account,
  type Chain,
  type PublicClient,
  type Transport,
  type WalletClient,
} from "viem";
import { chainFromId } from "#sdk/chain/clients.ts";

export type DevicePublicClient = PublicClient<Transport, Chain>;
export type DeviceWalletClient = WalletClient<Transport, Chain, Account>;

export interface DeviceClients {
  publicClient: DevicePublicClient;
  walletClient: DeviceWalletClient;
}

export function deviceClients(rpcUrl: string, chainId: number, account: Account): DeviceClients {
  const chain = chainFromId(chainId, rpcUrl);
  return {
    publicClient: createPublicClient({ chain, transport: http(rpcUrl) }) as DevicePublicClient,
    walletClient: createWalletClient({ chain, transport: http(rpcUrl), account }),
  };
}

/** The const-typed ABI of a protocol contract the device talks to. */
export const abiOf = <
  N extends
    | "DeviceRegistry"
    | "GrowthPool"
    | "DMLToken"
    | "AlgorithmMarketplace"
    | "NodeStaking"
    | "Settlement"
    | "FineTuning"
    | "JobMarket"
    | "ResultAttestation",
>(
  name: N,
): (typeof protocolAbis)[N] => protocolAbis[name];

export const JOB_MARKET_EVENTS = parseAbi([
  "event CohortAssigned(uint256 indexed jobId, address indexed distributor, address indexed aggregator, bytes32 cohortRoot, uint32 deviceCount, string cohortCid)",
]);
export const ERC20_ABI = parseAbi([
  "function balanceOf(address) view returns (uint256)",
  "function transfer(address to, uint256 amount) returns (bool)",
  "function decimals() view returns (uint8)",
]);
