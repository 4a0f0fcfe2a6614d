/**
 * What the indexer hands the runtime for one block: the block pointer and header fields `ethereum.Block` needs,
 * the block's logs (any superset of what the data sources match: the runtime filters), each log's transaction and,
 * when a handler declares `receipt: true`, its receipt. The shapes are subsets of viem's `Block`, `Transaction`,
 * `Log` and `TransactionReceipt`, so viem's objects can be passed as they are ({@link fetchBlockInput} does).
 */
import type { Address, Hex, PublicClient } from "viem";
import type { BlockPtr } from "../types.ts";

export interface BlockHeaderInput {
  readonly parentHash: Hex;
  readonly sha3Uncles: Hex;
  readonly miner: Address;
  readonly stateRoot: Hex;
  readonly transactionsRoot: Hex;
  readonly receiptsRoot: Hex;
  readonly gasUsed: bigint;
  readonly gasLimit: bigint;
  readonly difficulty: bigint;
  readonly totalDifficulty?: bigint | null;
  readonly size?: bigint | null;
  readonly baseFeePerGas?: bigint | null;
}

export interface LogInput {
  readonly address: Address;
  readonly topics: readonly Hex[];
  readonly data: Hex;
  readonly logIndex: number;
  readonly transactionIndex: number;
  readonly transactionHash: Hex;
  readonly blockHash?: Hex | null;
  readonly blockNumber?: bigint | null;
  readonly removed?: boolean;
}

export interface TransactionInput {
  readonly hash: Hex;
  readonly transactionIndex: number;
  readonly from: Address;
  readonly to: Address | null;
  readonly value: bigint;
  readonly gas: bigint;
  readonly gasPrice?: bigint | null;
  readonly input: Hex;
  readonly nonce: number;
}

export interface ReceiptInput {
  readonly transactionHash: Hex;
  readonly transactionIndex: number;
  readonly blockHash: Hex;
  readonly blockNumber: bigint;
  readonly cumulativeGasUsed: bigint;
  readonly gasUsed: bigint;
  readonly contractAddress?: Address | null;
  readonly logs: readonly LogInput[];
  readonly status: "success" | "reverted";
  readonly logsBloom: Hex;
  readonly root?: Hex | null;
}

export interface BlockInput {
  readonly block: BlockPtr;
  readonly header: BlockHeaderInput;
  /** In (transactionIndex, logIndex) order. */
  readonly logs: readonly LogInput[];
  /** By transaction hash (lower case), for every transaction that emitted one of `logs`. */
  readonly transactions: ReadonlyMap<string, TransactionInput>;
  /** By transaction hash (lower case); needed for the transactions whose logs a `receipt: true` handler takes. */
  readonly receipts?: ReadonlyMap<string, ReceiptInput>;
}

/**
 * Builds a BlockInput from a viem client: the block with its transactions and, when `withReceipts`, the receipts of
 * the transactions that emitted `logs`.
 */
export async function fetchBlockInput(
  client: PublicClient,
  blockNumber: bigint,
  logs: readonly LogInput[],
  withReceipts: boolean,
): Promise<BlockInput> {
  const block = await client.getBlock({ blockNumber, includeTransactions: true });
  if (block.hash === null || block.number === null)
    throw new Error(`block ${blockNumber} is pending`);
  const transactions = new Map<string, TransactionInput>();
  for (const tx of block.transactions)
    transactions.set(tx.hash.toLowerCase(), {
      hash: tx.hash,
      transactionIndex: tx.transactionIndex ?? 0,
      from: tx.from,
      to: tx.to,
      value: tx.value,
      gas: tx.gas,
      gasPrice: tx.gasPrice ?? null,
      input: tx.input,
      nonce: tx.nonce,
    });
  const sorted = [...logs].sort(
    (a, b) => a.transactionIndex - b.transactionIndex || a.logIndex - b.logIndex,
  );
  let receipts: Map<string, ReceiptInput> | undefined;
  if (withReceipts) {
    receipts = new Map();
    for (const hash of new Set(sorted.map((l) => l.transactionHash.toLowerCase()))) {
      const r = await client.getTransactionReceipt({ hash: hash as Hex });
      receipts.set(hash, {
        transactionHash: r.transactionHash,
        transactionIndex: r.transactionIndex,
        blockHash: r.blockHash,
        blockNumber: r.blockNumber,
        cumulativeGasUsed: r.cumulativeGasUsed,
        gasUsed: r.gasUsed,
        contractAddress: r.contractAddress ?? null,
        logs: r.logs.map((l) => ({
          address: l.address,
          topics: l.topics,
          data: l.data,
          logIndex: l.logIndex,
          transactionIndex: l.transactionIndex,
          transactionHash: l.transactionHash,
          blockHash: l.blockHash,
          blockNumber: l.blockNumber,
          removed: l.removed,
        })),
        status: r.status,
        logsBloom: r.logsBloom,
        root: r.root ?? null,
      });
    }
  }
  return {
    block: { number: Number(block.number), hash: block.hash, timestamp: block.timestamp },
    header: {
      parentHash: block.parentHash,
      sha3Uncles: block.sha3Uncles,
      miner: block.miner,
      stateRoot: block.stateRoot,
      transactionsRoot: block.transactionsRoot,
      receiptsRoot: block.receiptsRoot,
      gasUsed: block.gasUsed,
      gasLimit: block.gasLimit,
      difficulty: block.difficulty,
      totalDifficulty: block.totalDifficulty ?? null,
      size: block.size,
      baseFeePerGas: block.baseFeePerGas ?? null,
    },
    logs: sorted,
    transactions,
    ...(receipts ? { receipts } : {}),
  };
}
