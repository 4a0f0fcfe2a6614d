/**
 * Gas of every transaction mined in a block range, named by contract and function (the deployment manifest maps
 * addresses to contracts; the generated ABIs decode the calldata). The benchmark reads a job's lifecycle
 * (createJob → settled) and the claims after it this way: every party's transactions, from the chain alone.
 */
import { decodeFunctionData, getAddress, type Address, type Hex } from "viem";
import type { ChainPublicClient } from "#sdk/chain/clients.ts";
import { protocolAbi } from "#sdk/chain/contracts.ts";
import type { Manifest } from "#sdk/chain/manifest.ts";
import { eachLimited } from "../../script/network/processes.ts";

export interface TxGas {
  block: bigint;
  hash: Hex;
  from: Address;
  /** "Contract.function", or "Contract.0x12345678" / "0xabcdef12….0x12345678" when it does not decode. */
  call: string;
  gasUsed: bigint;
}

/** The contract names of the manifest's addresses (proxies by their contract name). */
export function contractNames(manifest: Manifest): Map<Address, string> {
  const out = new Map<Address, string>();
  for (const [name, c] of Object.entries(manifest.contracts)) out.set(getAddress(c.address), name);
  return out;
}

/** "Contract.function" of a call to `to` with `input`. */
export function callName(
  names: ReadonlyMap<Address, string>,
  to: Address | null,
  input: Hex,
): string {
  if (to === null) return "(create)";
  const name = names.get(getAddress(to));
  const selector = input.slice(0, 10);
  if (name === undefined) return input === "0x" ? "(transfer)" : `${to.slice(0, 10)}….${selector}`;
  try {
    const { functionName } = decodeFunctionData({ abi: protocolAbi(name), data: input });
    return `${name}.${functionName}`;
  } catch {
    return `${name}.${selector}`;
  }
}

/** Every transaction in blocks [from, to] with its receipt's gas, in chain order. */
export async function transactionsIn(
  pub: ChainPublicClient,
  manifest: Manifest,
  from: bigint,
  to: bigint,
  concurrency = 8,
): Promise<TxGas[]> {
  const names = contractNames(manifest);
  const blocks: bigint[] = [];
  for (let b = from; b <= to; b++) blocks.push(b);
  const out: TxGas[] = [];
  await eachLimited(blocks, concurrency, async (blockNumber) => {
    const block = await pub.getBlock({ blockNumber, includeTransactions: true });
    for (const tx of block.transactions) {
      const receipt = await pub.getTransactionReceipt({ hash: tx.hash });
      out.push({
        block: blockNumber,
        hash: tx.hash,
        from: getAddress(tx.from),
        call: callName(names, tx.to, tx.input),
        gasUsed: receipt.gasUsed,
      });
    }
  });
  return out.sort((a, b) => (a.block < b.block ? -1 : a.block > b.block ? 1 : 0));
}

export interface GasLine {
  call: string;
  count: number;
  total: bigint;
  mean: bigint;
  max: bigint;
}

/** Transactions grouped by call, largest total first. */
export function gasByCall(txs: readonly TxGas[]): GasLine[] {
  const by = new Map<string, { count: number; total: bigint; max: bigint }>();
  for (const t of txs) {
    const g = by.get(t.call) ?? { count: 0, total: 0n, max: 0n };
    g.count++;
    g.total += t.gasUsed;
    if (t.gasUsed > g.max) g.max = t.gasUsed;
    by.set(t.call, g);
  }
  return [...by.entries()]
    .map(([call, g]) => ({ call, ...g, mean: g.total / BigInt(g.count) }))
    .sort((a, b) => (a.total > b.total ? -1 : a.total < b.total ? 1 : 0));
}
