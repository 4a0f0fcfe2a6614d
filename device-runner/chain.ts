/**
 * Chain access for the device: viem clients for the configured RPC and the device key, and the ABIs the runner uses.
 * ABIs are the generated const ABIs of `sdk/chain/abi` (typed reads and writes), the JobMarket event the watcher
 * polls included.
 */
import { jobMarketAbi, protocolAbis } from "#sdk/chain/abi/index.ts";
import { ArtifactError } from "#sdk/chain/errors.ts";
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
import type { SharedChainReads } from "#sdk/chain/shared-reads.ts";

export type DevicePublicClient = PublicClient<Transport, Chain>;
export type DeviceWalletClient = WalletClient<Transport, Chain, Account>;

export interface DeviceClients {
  publicClient: DevicePublicClient;
  walletClient: DeviceWalletClient;
}

/**
 * The device's own clients. `reads`: a process-wide read cache shared with the other devices of a `dml-device host`
 * process (sdk/chain/shared-reads.ts); the device still has its own transport and connections.
 */
export function deviceClients(
  rpcUrl: string,
  chainId: number,
  account: Account,
  reads?: SharedChainReads,
): DeviceClients {
  const chain = chainFromId(chainId, rpcUrl);
  const reading = reads === undefined ? http(rpcUrl) : reads.wrap(http(rpcUrl));
  return {
    publicClient: createPublicClient({ chain, transport: reading }) as DevicePublicClient,
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

type JobMarketItem = (typeof jobMarketAbi)[number];
type CohortAssignedEvent = Extract<JobMarketItem, { type: "event"; name: "CohortAssigned" }>;
const cohortAssigned = jobMarketAbi.find(
  (i): i is CohortAssignedEvent => i.type === "event" && i.name === "CohortAssigned",
);
if (!cohortAssigned)
  throw new ArtifactError(
    "the generated JobMarket ABI has no CohortAssigned event: `npm run gen:abis`",
  );
/** The JobMarket events the watcher polls (from the generated ABI). */
export const JOB_MARKET_EVENTS = [cohortAssigned] as const;
export const ERC20_ABI = parseAbi([
  "function balanceOf(address) view returns (uint256)",
  "function transfer(address to, uint256 amount) returns (bool)",
  "function decimals() view returns (uint8)",
]);
