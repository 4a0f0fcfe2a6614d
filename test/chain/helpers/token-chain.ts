/**
 * Test fixture of the sdk/chain tests: a fresh EDR chain with the real DMLToken deployed from its artifact
 * (treasury = Hardhat account #0), and funded local accounts that sign their own transactions.
 */
import { network } from "hardhat";
import { createWalletClient, custom, keccak256, toHex, type Address } from "viem";
import { privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { loadArtifact } from "#sdk/chain/artifacts.ts";
import { dmlTokenAbi } from "#sdk/chain/abi/index.ts";
import type { ChainPublicClient, ChainWalletClient } from "#sdk/chain/clients.ts";

export type Conn = Awaited<ReturnType<typeof network.create>>;

export interface TokenChain {
  conn: Conn;
  pub: ChainPublicClient;
  token: Address;
  /** A local account holding `tokens` DML and 10 ETH, and its wallet client. */
  funded(
    label: string,
    tokens: bigint,
  ): Promise<{ account: PrivateKeyAccount; wallet: ChainWalletClient }>;
  rpc(method: string, params?: unknown[]): Promise<unknown>;
}

export async function tokenChain(): Promise<TokenChain> {
  const conn = await network.create();
  const pub = (await conn.viem.getPublicClient()) as unknown as ChainPublicClient;
  const [deployer] = await conn.viem.getWalletClients();
  const hash = await deployer!.deployContract({
    abi: dmlTokenAbi,
    bytecode: loadArtifact("DMLToken").bytecode,
    args: [deployer!.account.address, privateKeyToAccount(keccak256(toHex("pool"))).address],
  });
  const receipt = await pub.waitForTransactionReceipt({ hash });
  const token = receipt.contractAddress as Address;
  const rpc = (method: string, params: unknown[] = []) => conn.provider.request({ method, params });
  return {
    conn,
    pub,
    token,
    rpc,
    async funded(label, tokens) {
      const account = privateKeyToAccount(keccak256(toHex(label)));
      await conn.networkHelpers.setBalance(account.address, 10n * 10n ** 18n);
      if (tokens > 0n) {
        const h = await deployer!.writeContract({
          address: token,
          abi: dmlTokenAbi,
          functionName: "transfer",
          args: [account.address, tokens],
        });
        await pub.waitForTransactionReceipt({ hash: h });
      }
      const wallet = createWalletClient({
        account,
        chain: pub.chain,
        transport: custom(conn.provider),
      }) as ChainWalletClient;
      return { account, wallet };
    },
  };
}
