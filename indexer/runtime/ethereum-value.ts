/**
 * `ethereum.Value` (graph-ts) ↔ ABI tokens ↔ viem values: what `ethereum.encode` / `decode` / `call` and the event
 * parameters exchange. Mirrors graph-node's `EthereumValueKind` and its `DynSolValue` conversions: an `int`/`uint`
 * is a BigInt whatever its width; `ethereum.encode` types a token by its kind (int256 / uint256, bytesN by length).
 */
import {
  bytesToHex,
  decodeAbiParameters,
  encodeAbiParameters,
  hexToBytes,
  parseAbiParameter,
  type AbiParameter,
  type Hex,
} from "viem";
import { TypeId, type AscHeap } from "./asc-heap.ts";
import { DeterministicHostError } from "./errors.ts";

export const EthereumValueKind = {
  Address: 0,
  FixedBytes: 1,
  Bytes: 2,
  Int: 3,
  Uint: 4,
  Bool: 5,
  String: 6,
  FixedArray: 7,
  Array: 8,
  Tuple: 9,
  Function: 10,
} as const;

export type EthToken =
  | { readonly kind: "address" | "fixedBytes" | "bytes" | "function"; readonly value: Uint8Array }
  | { readonly kind: "int" | "uint"; readonly value: bigint }
  | { readonly kind: "bool"; readonly value: boolean }
  | { readonly kind: "string"; readonly value: string }
  | { readonly kind: "fixedArray" | "array" | "tuple"; readonly items: readonly EthToken[] };

export function readEthValue(heap: AscHeap, ptr: number): EthToken {
  if (ptr === 0) throw new DeterministicHostError("null ethereum.Value pointer");
  const { kind, payload } = heap.readEnum(ptr);
  const p = Number(payload & 0xffffffffn);
  switch (kind) {
    case EthereumValueKind.Address:
      return { kind: "address", value: heap.readBytes(p) };
    case EthereumValueKind.FixedBytes:
      return { kind: "fixedBytes", value: heap.readBytes(p) };
    case EthereumValueKind.Bytes:
      return { kind: "bytes", value: heap.readBytes(p) };
    case EthereumValueKind.Function:
      return { kind: "function", value: heap.readBytes(p) };
    case EthereumValueKind.Int:
      return { kind: "int", value: heap.readBigInt(p) };
    case EthereumValueKind.Uint:
      return { kind: "uint", value: heap.readBigInt(p) };
    case EthereumValueKind.Bool:
      return { kind: "bool", value: payload !== 0n };
    case EthereumValueKind.String:
      return { kind: "string", value: heap.readString(p) };
    case EthereumValueKind.FixedArray:
      return { kind: "fixedArray", items: heap.readArrayU32(p).map((e) => readEthValue(heap, e)) };
    case EthereumValueKind.Array:
      return { kind: "array", items: heap.readArrayU32(p).map((e) => readEthValue(heap, e)) };
    case EthereumValueKind.Tuple:
      return { kind: "tuple", items: heap.readArrayU32(p).map((e) => readEthValue(heap, e)) };
    default:
      throw new DeterministicHostError(`invalid ethereum.Value kind ${kind}`);
  }
}

export function writeEthValue(heap: AscHeap, t: EthToken): number {
  const e = (kind: number, payload: number) =>
    heap.newEnum(TypeId.EthereumValue, kind, BigInt(payload));
  switch (t.kind) {
    case "address":
      return e(EthereumValueKind.Address, heap.newBytes(t.value));
    case "fixedBytes":
      return e(EthereumValueKind.FixedBytes, heap.newBytes(t.value));
    case "bytes":
      return e(EthereumValueKind.Bytes, heap.newBytes(t.value));
    case "function":
      return e(EthereumValueKind.Function, heap.newBytes(t.value));
    case "int":
      return e(EthereumValueKind.Int, heap.newBigInt(t.value));
    case "uint":
      return e(EthereumValueKind.Uint, heap.newBigInt(t.value));
    case "bool":
      return e(EthereumValueKind.Bool, t.value ? 1 : 0);
    case "string":
      return e(EthereumValueKind.String, heap.newString(t.value));
    case "fixedArray":
    case "array":
    case "tuple": {
      const kind =
        t.kind === "tuple"
          ? EthereumValueKind.Tuple
          : t.kind === "array"
            ? EthereumValueKind.Array
            : EthereumValueKind.FixedArray;
      return e(
        kind,
        heap.newArrayU32(
          TypeId.ArrayEthereumValue,
          t.items.map((i) => writeEthValue(heap, i)),
        ),
      );
    }
  }
}

/** The ABI parameter a token encodes as when no type is given (`ethereum.encode`). */
export function inferParam(t: EthToken): AbiParameter {
  switch (t.kind) {
    case "address":
      return { type: "address" };
    case "fixedBytes":
      return { type: `bytes${t.value.length}` };
    case "bytes":
      return { type: "bytes" };
    case "function":
      return { type: "function" };
    case "int":
      return { type: "int256" };
    case "uint":
      return { type: "uint256" };
    case "bool":
      return { type: "bool" };
    case "string":
      return { type: "string" };
    case "tuple":
      return { type: "tuple", components: t.items.map(inferParam) };
    case "array":
    case "fixedArray": {
      const first = t.items[0];
      const elem: AbiParameter = first ? inferParam(first) : { type: "uint256" };
      const suffix = t.kind === "array" ? "[]" : `[${t.items.length}]`;
      return { ...elem, type: `${elem.type}${suffix}` } as AbiParameter;
    }
  }
}

/** The value viem encodes for a token. */
export function toViem(t: EthToken): unknown {
  switch (t.kind) {
    case "address":
    case "fixedBytes":
    case "bytes":
    case "function":
      return bytesToHex(t.value);
    case "int":
    case "uint":
    case "bool":
    case "string":
      return t.value;
    case "array":
    case "fixedArray":
    case "tuple":
      return t.items.map(toViem);
  }
}

const ARRAY_SUFFIX = /^(.*)\[(\d*)\]$/;

/** The token for a value viem decoded as `param`. */
export function fromViem(param: AbiParameter, v: unknown): EthToken {
  const arr = ARRAY_SUFFIX.exec(param.type);
  if (arr) {
    const elem = { ...param, type: arr[1]! } as AbiParameter;
    const items = (v as readonly unknown[]).map((x) => fromViem(elem, x));
    return { kind: arr[2] === "" ? "array" : "fixedArray", items };
  }
  if (param.type === "tuple") {
    const components = (param as { components: readonly AbiParameter[] }).components;
    const get = (c: AbiParameter, i: number) =>
      Array.isArray(v) ? v[i] : (v as Record<string, unknown>)[c.name ?? String(i)];
    return { kind: "tuple", items: components.map((c, i) => fromViem(c, get(c, i))) };
  }
  if (param.type === "address") return { kind: "address", value: hexToBytes(v as Hex) };
  if (param.type === "bool") return { kind: "bool", value: v as boolean };
  if (param.type === "string") return { kind: "string", value: v as string };
  if (param.type === "bytes") return { kind: "bytes", value: hexToBytes(v as Hex) };
  if (param.type === "function") return { kind: "function", value: hexToBytes(v as Hex) };
  if (/^bytes\d+$/.test(param.type)) return { kind: "fixedBytes", value: hexToBytes(v as Hex) };
  if (/^int\d*$/.test(param.type)) return { kind: "int", value: BigInt(v as bigint) };
  if (/^uint\d*$/.test(param.type)) return { kind: "uint", value: BigInt(v as bigint) };
  throw new DeterministicHostError(`unsupported ABI type ${param.type}`);
}

/** `ethereum.encode`: the token ABI-encoded as one parameter (alloy's `DynSolValue::abi_encode`). */
export function encodeToken(t: EthToken): Uint8Array {
  try {
    return hexToBytes(encodeAbiParameters([inferParam(t)], [toViem(t)]));
  } catch (e) {
    throw new DeterministicHostError(`Failed to encode: ${(e as Error).message}`);
  }
}

/** Parses a Solidity type as `ethereum.decode` takes it: `uint256`, `(address,uint256[])`, `(bool,(string,int8))[]`. */
export function parseType(types: string): AbiParameter {
  return parseAbiParameter(types.replace(/\s+/g, "")) as AbiParameter;
}

/** `ethereum.decode`: null when the data does not decode as `types` (graph-node returns null too). */
export function decodeToken(types: string, data: Uint8Array): EthToken | null {
  let param: AbiParameter;
  try {
    param = parseType(types);
  } catch {
    return null;
  }
  try {
    const [v] = decodeAbiParameters([param], bytesToHex(data));
    return fromViem(param, v);
  } catch {
    return null;
  }
}
