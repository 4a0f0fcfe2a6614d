/**
 * graph-ts `Value` (store values), `Entity` (TypedMap<string, Value>) and `BigDecimal` in AssemblyScript memory,
 * both directions, as graph-node's `runtime/wasm/src/to_from/mod.rs` converts them.
 */
import type { Entity, Value } from "../types.ts";
import { TypeId, type AscHeap } from "./asc-heap.ts";
import * as bd from "./big-decimal.ts";
import { DeterministicHostError } from "./errors.ts";

/** graph-node's `StoreValueKind` discriminants. */
export const StoreValueKind = {
  String: 0,
  Int: 1,
  BigDecimal: 2,
  Bool: 3,
  Array: 4,
  Null: 5,
  Bytes: 6,
  BigInt: 7,
  Int8: 8,
  Timestamp: 9,
} as const;

export function readBigDecimal(heap: AscHeap, ptr: number): bd.BigDecimal {
  if (ptr === 0) throw new DeterministicHostError("null BigDecimal pointer");
  return bd.normalize({
    digits: heap.readBigInt(heap.field(ptr, 0)),
    exp: heap.readBigInt(heap.field(ptr, 1)),
  });
}

export function writeBigDecimal(heap: AscHeap, d: bd.BigDecimal): number {
  const n = bd.normalize(d);
  const digits = heap.newBigInt(n.digits);
  const exp = heap.newBigInt(n.exp);
  return heap.allocStruct(TypeId.BigDecimal, [digits, exp]);
}

export function readStoreValue(heap: AscHeap, ptr: number): Value {
  if (ptr === 0) return { kind: "Null" };
  const { kind, payload } = heap.readEnum(ptr);
  const p = Number(payload & 0xffffffffn);
  switch (kind) {
    case StoreValueKind.String:
      return { kind: "String", value: heap.readString(p) };
    case StoreValueKind.Int:
      return { kind: "Int", value: Number(BigInt.asIntN(32, payload)) };
    case StoreValueKind.BigDecimal:
      return { kind: "BigDecimal", value: bd.toString(readBigDecimal(heap, p)) };
    case StoreValueKind.Bool:
      return { kind: "Bool", value: payload !== 0n };
    case StoreValueKind.Array:
      return { kind: "List", value: heap.readArrayU32(p).map((e) => readStoreValue(heap, e)) };
    case StoreValueKind.Null:
      return { kind: "Null" };
    case StoreValueKind.Bytes:
      return { kind: "Bytes", value: heap.readBytes(p) };
    case StoreValueKind.BigInt:
      return { kind: "BigInt", value: heap.readBigInt(p) };
    case StoreValueKind.Int8:
      return { kind: "Int8", value: BigInt.asIntN(64, payload) };
    case StoreValueKind.Timestamp:
      return { kind: "Timestamp", value: BigInt.asIntN(64, payload) };
    default:
      throw new DeterministicHostError(`invalid store value kind ${kind}`);
  }
}

export function writeStoreValue(heap: AscHeap, v: Value): number {
  const e = (kind: number, payload: bigint | number) =>
    heap.newEnum(TypeId.StoreValue, kind, typeof payload === "bigint" ? payload : BigInt(payload));
  switch (v.kind) {
    case "String":
      return e(StoreValueKind.String, heap.newString(v.value));
    case "Int":
      return e(StoreValueKind.Int, BigInt(v.value));
    case "Int8":
      return e(StoreValueKind.Int8, v.value);
    case "Timestamp":
      return e(StoreValueKind.Timestamp, v.value);
    case "BigDecimal":
      return e(StoreValueKind.BigDecimal, writeBigDecimal(heap, bd.fromString(v.value)));
    case "Bool":
      return e(StoreValueKind.Bool, v.value ? 1 : 0);
    case "List":
      return e(
        StoreValueKind.Array,
        heap.newArrayU32(
          TypeId.ArrayStoreValue,
          v.value.map((x) => writeStoreValue(heap, x)),
        ),
      );
    case "Null":
      return e(StoreValueKind.Null, 0);
    case "Bytes":
      return e(StoreValueKind.Bytes, heap.newBytes(v.value));
    case "BigInt":
      return e(StoreValueKind.BigInt, heap.newBigInt(v.value));
  }
}

/** A `TypedMap<string, Value>` (graph-ts `Entity`, `DataSourceContext`) as field → value, in insertion order. */
export function readEntity(heap: AscHeap, ptr: number): Map<string, Value> {
  if (ptr === 0) throw new DeterministicHostError("null entity pointer");
  const out = new Map<string, Value>();
  for (const entry of heap.readArrayU32(heap.field(ptr, 0)))
    out.set(heap.readString(heap.field(entry, 0)), readStoreValue(heap, heap.field(entry, 1)));
  return out;
}

export function writeEntity(heap: AscHeap, entity: Entity): number {
  const entries = [...entity].map(([k, v]) =>
    heap.allocStruct(TypeId.TypedMapEntryStringStoreValue, [
      heap.newString(k),
      writeStoreValue(heap, v),
    ]),
  );
  const array = heap.newArrayU32(TypeId.ArrayTypedMapEntryStringStoreValue, entries);
  return heap.allocStruct(TypeId.TypedMapStringStoreValue, [array]);
}
