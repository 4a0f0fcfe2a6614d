/**
 * Writes the `ethereum.Event` a handler receives, with the layouts of graph-node's
 * `chain/ethereum/src/runtime/abi.rs` for the mapping's apiVersion: 0.0.5 → Event<Transaction_0_0_2, Block>,
 * 0.0.6 → Event<Transaction_0_0_6, Block_0_0_6> (nonce, baseFeePerGas), ≥ 0.0.7 → Event_0_0_7 (… and `receipt`,
 * null unless the handler declares `receipt: true`).
 */
import { decodeEventLog, hexToBytes, type AbiEvent, type AbiParameter, type Hex } from "viem";
import type { BlockPtr } from "../types.ts";
import { TypeId, type AscHeap } from "./asc-heap.ts";
import type { BlockHeaderInput, LogInput, ReceiptInput, TransactionInput } from "./block-input.ts";
import { fromViem, writeEthValue, type EthToken } from "./ethereum-value.ts";
import { apiVersionAtLeast } from "./manifest.ts";

export interface EventParam {
  readonly name: string;
  readonly value: EthToken;
}

const DYNAMIC = /^(string|bytes|tuple)$|\[\d*\]$/;

/** Decodes a log with its ABI event; indexed dynamic values stay their topic hash (FixedBytes), as graph-node. */
export function decodeEventParams(abiEvent: AbiEvent, log: LogInput): EventParam[] {
  const decoded = decodeEventLog({
    abi: [abiEvent],
    data: log.data,
    topics: log.topics as [Hex, ...Hex[]],
    strict: true,
  });
  const args = decoded.args as unknown;
  let topic = 1;
  return abiEvent.inputs.map((input: AbiParameter & { indexed?: boolean }, i) => {
    const raw = Array.isArray(args)
      ? args[i]
      : (args as Record<string, unknown>)[input.name ?? String(i)];
    if (input.indexed) {
      const t = log.topics[topic++];
      if (DYNAMIC.test(input.type) && t !== undefined)
        return { name: input.name ?? "", value: { kind: "fixedBytes", value: hexToBytes(t) } };
    }
    return { name: input.name ?? "", value: fromViem(input, raw) };
  });
}

const b = (heap: AscHeap, hex: Hex) => heap.newBytes(hexToBytes(hex));
const big = (heap: AscHeap, v: bigint | number) => heap.newBigInt(BigInt(v));
const bigOrNull = (heap: AscHeap, v: bigint | number | null | undefined) =>
  v === null || v === undefined ? 0 : big(heap, v);

function writeBlock(
  heap: AscHeap,
  apiVersion: readonly [number, number, number],
  ptr: BlockPtr,
  h: BlockHeaderInput,
): number {
  const fields = [
    b(heap, ptr.hash),
    b(heap, h.parentHash),
    b(heap, h.sha3Uncles),
    b(heap, h.miner),
    b(heap, h.stateRoot),
    b(heap, h.transactionsRoot),
    b(heap, h.receiptsRoot),
    big(heap, ptr.number),
    big(heap, h.gasUsed),
    big(heap, h.gasLimit),
    big(heap, ptr.timestamp),
    big(heap, h.difficulty),
    big(heap, h.totalDifficulty ?? 0n),
    bigOrNull(heap, h.size),
  ];
  if (apiVersionAtLeast(apiVersion, "0.0.6")) fields.push(bigOrNull(heap, h.baseFeePerGas));
  return heap.allocStruct(TypeId.EthereumBlock, fields);
}

function writeTransaction(
  heap: AscHeap,
  apiVersion: readonly [number, number, number],
  tx: TransactionInput,
): number {
  const fields = [
    b(heap, tx.hash),
    big(heap, tx.transactionIndex),
    b(heap, tx.from),
    tx.to ? b(heap, tx.to) : 0,
    big(heap, tx.value),
    big(heap, tx.gas),
    big(heap, tx.gasPrice ?? 0n),
    b(heap, tx.input),
  ];
  if (apiVersionAtLeast(apiVersion, "0.0.6")) fields.push(big(heap, tx.nonce));
  return heap.allocStruct(TypeId.EthereumTransaction, fields);
}

function writeLog(heap: AscHeap, log: LogInput): number {
  return heap.allocStruct(TypeId.Log, [
    b(heap, log.address),
    heap.newArrayU32(
      TypeId.ArrayH256,
      log.topics.map((t) => b(heap, t)),
    ),
    b(heap, log.data),
    log.blockHash ? b(heap, log.blockHash) : 0,
    bigOrNull(heap, log.blockNumber),
    b(heap, log.transactionHash),
    big(heap, log.transactionIndex),
    big(heap, log.logIndex),
    0, // transactionLogIndex: not in alloy's log either
    0, // logType
    heap.newWrappedBool(log.removed ?? false),
  ]);
}

function writeReceipt(heap: AscHeap, r: ReceiptInput): number {
  return heap.allocStruct(TypeId.TransactionReceipt, [
    b(heap, r.transactionHash),
    big(heap, r.transactionIndex),
    b(heap, r.blockHash),
    big(heap, r.blockNumber),
    big(heap, r.cumulativeGasUsed),
    big(heap, r.gasUsed),
    r.contractAddress ? b(heap, r.contractAddress) : 0,
    heap.newArrayU32(
      TypeId.ArrayLog,
      r.logs.map((l) => writeLog(heap, l)),
    ),
    big(heap, r.status === "success" ? 1n : 0n),
    r.root ? b(heap, r.root) : 0,
    b(heap, r.logsBloom),
  ]);
}

export interface EventTrigger {
  readonly block: BlockPtr;
  readonly header: BlockHeaderInput;
  readonly log: LogInput;
  readonly transaction: TransactionInput;
  readonly receipt: ReceiptInput | null;
  readonly params: readonly EventParam[];
}

/** Allocates the handler's `ethereum.Event` and returns its pointer. */
export function writeEvent(
  heap: AscHeap,
  apiVersion: readonly [number, number, number],
  t: EventTrigger,
): number {
  const params = heap.newArrayU32(
    TypeId.ArrayEventParam,
    t.params.map((p) =>
      heap.allocStruct(TypeId.EventParam, [heap.newString(p.name), writeEthValue(heap, p.value)]),
    ),
  );
  const fields = [
    b(heap, t.log.address),
    big(heap, t.log.logIndex),
    big(heap, t.log.logIndex),
    0, // logType
    writeBlock(heap, apiVersion, t.block, t.header),
    writeTransaction(heap, apiVersion, t.transaction),
    params,
  ];
  if (apiVersionAtLeast(apiVersion, "0.0.7"))
    fields.push(t.receipt ? writeReceipt(heap, t.receipt) : 0);
  return heap.allocStruct(TypeId.EthereumEvent, fields);
}
