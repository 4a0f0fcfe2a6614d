/** DML token actions every party shares: balances, voting power, and an allowance raised only when it is short. */
import type { Address } from "viem";
import { dmlTokenAbi } from "./abi/DMLToken.ts";
import type { ChainPublicClient } from "./clients.ts";
import type { TxResult, TxSender } from "./tx-sender.ts";

export interface TokenBalance {
  account: Address;
  /** DML wei. */
  balance: bigint;
  /** Votes delegated to the account now (ERC20Votes). */
  votes: bigint;
  /** Who the account delegates its own votes to (the zero address: nobody yet). */
  delegate: Address;
  /** Native currency (gas), wei. */
  eth: bigint;
}

export async function tokenBalance(
  client: ChainPublicClient,
  token: Address,
  account: Address,
): Promise<TokenBalance> {
  const c = { address: token, abi: dmlTokenAbi } as const;
  const [balance, votes, delegate, eth] = await Promise.all([
    client.readContract({ ...c, functionName: "balanceOf", args: [account] }),
    client.readContract({ ...c, functionName: "getVotes", args: [account] }),
    client.readContract({ ...c, functionName: "delegates", args: [account] }),
    client.getBalance({ address: account }),
  ]);
  return { account, balance, votes, delegate, eth };
}

/**
 * Makes sure `spender` may take `amount` of the sender's DML: approves exactly `amount` when the allowance is lower,
 * sends nothing otherwise. Returns the approval's transaction when one was sent.
 */
export async function ensureAllowance(
  sender: TxSender,
  client: ChainPublicClient,
  token: Address,
  spender: Address,
  amount: bigint,
): Promise<TxResult | undefined> {
  const allowance = await client.readContract({
    address: token,
    abi: dmlTokenAbi,
    functionName: "allowance",
    args: [sender.address, spender],
  });
  if (allowance >= amount) return undefined;
  return sender.send({
    address: token,
    abi: dmlTokenAbi,
    functionName: "approve",
    args: [spender, amount],
  });
}
