/** viem client factories. Loopback (the embedded EDR chain on 127.0.0.1:8545) is the default endpoint. */
import {
  createPublicClient,
  createWalletClient,
  defineChain,
  http,
  type Account,
  type Chain,
  type Hex,
  type PublicClient,
  type Transport,
  type WalletClient,
} from "viem";
import { mnemonicToAccount, privateKeyToAccount } from "viem/accounts";
import { z } from "zod";
import { ConfigError, RpcError } from "./errors.ts";

/** The embedded chain started by `npm start`. */
export const DEFAULT_RPC_URL = "http://127.0.0.1:8545";
/** Chain id of Hardhat's EDR simulated network. */
export const DEV_CHAIN_ID = 31337;
/** Hardhat's default (public, unsafe) mnemonic: its accounts are funded on the dev chain only. */
export const DEV_MNEMONIC = "test test test test test test test test test test test junk";

export type ChainPublicClient = PublicClient<Transport, Chain>;
export type ChainWalletClient = WalletClient<Transport, Chain, Account>;

/** A chain definition for `chainId` served at `rpcUrl`. */
export function chainFromId(chainId: number, rpcUrl = DEFAULT_RPC_URL): Chain {
  return defineChain({
    id: chainId,
    name: chainId === DEV_CHAIN_ID ? "DML dev chain (EDR)" : `chain-${chainId}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
}

/** Block polling interval: fast on a loopback chain (automine), gentle on remote endpoints. */
export function pollingIntervalFor(rpcUrl: string): number {
  return /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:|\/|$)/.test(rpcUrl) ? 50 : 2_000;
}

/** Asks `rpcUrl` for its chain id. @throws RpcError when it does not answer. */
export async function fetchChainId(rpcUrl = DEFAULT_RPC_URL, timeoutMs = 5_000): Promise<number> {
  const client = createPublicClient({
    transport: http(rpcUrl, { timeout: timeoutMs, retryCount: 0 }),
  });
  try {
    return await client.getChainId();
  } catch (cause) {
    throw new RpcError(`no JSON-RPC answer from ${rpcUrl}`, { cause });
  }
}

/** Public client for `rpcUrl`; the chain id is asked from the endpoint when not given. */
export async function createChainPublicClient(
  rpcUrl = DEFAULT_RPC_URL,
  chainId?: number,
): Promise<ChainPublicClient> {
  const id = chainId ?? (await fetchChainId(rpcUrl));
  return createPublicClient({
    chain: chainFromId(id, rpcUrl),
    transport: http(rpcUrl),
    pollingInterval: pollingIntervalFor(rpcUrl),
  });
}

const privateKeySchema = z
  .string()
  .trim()
  .regex(/^(0x)?[0-9a-fA-F]{64}$/, "a private key is 32 bytes of hex")
  .transform((k) => (k.startsWith("0x") ? k : `0x${k}`) as Hex);

/** Parses a private key (with or without 0x). The key itself never appears in the error. */
export function parsePrivateKey(key: string, what = "private key"): Hex {
  const r = privateKeySchema.safeParse(key);
  if (!r.success) throw new ConfigError(`${what} is not a 32-byte hex string`);
  return r.data;
}

/** Account `index` of Hardhat's default mnemonic (dev chain only). */
export function devAccount(index = 0): Account {
  return mnemonicToAccount(DEV_MNEMONIC, { addressIndex: index });
}

/** Wallet client signing locally with `account` (a private key or a viem account). */
export function createChainWalletClient(
  account: Hex | Account,
  rpcUrl: string,
  chainId: number,
): ChainWalletClient {
  const acct =
    typeof account === "string" ? privateKeyToAccount(parsePrivateKey(account)) : account;
  return createWalletClient({
    account: acct,
    chain: chainFromId(chainId, rpcUrl),
    transport: http(rpcUrl),
  });
}
