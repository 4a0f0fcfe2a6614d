/**
 * AssemblyScript memory layout for mapping apiVersion ≥ 0.0.5 (AssemblyScript ≥ 0.19), as graph-node's
 * `graph/src/runtime/asc_ptr.rs` and `runtime/wasm/src/asc_abi/v0_0_5.rs` read and write it.
 *
 * Every managed object is preceded by a 20-byte header: mmInfo (u32), gcInfo (u32), gcInfo2 (u32), rtId (u32, the
 * class id that the module's `id_of_type` export returns for a graph-ts `TypeId`) and rtSize (u32, the payload
 * size). A pointer points at the payload. Strings are UTF-16LE code units (length = rtSize / 2); an ArrayBuffer is
 * raw bytes; a typed array (`Uint8Array`: Bytes, BigInt, Address) and an `Array<T>` are views
 * `{ buffer, dataStart, byteLength[, length] }` over an ArrayBuffer; a BigInt is its two's-complement value as
 * little-endian bytes; an enum (`Value`, `ethereum.Value`, `JSONValue`) is `{ kind: u32, _padding: u32,
 * payload: u64 }`, the payload holding a scalar or a pointer. The host allocates through the module's `allocate`
 * export (AssemblyScript's `__alloc`) in arenas, writes the header itself and keeps every object 16-byte aligned,
 * as graph-node's `raw_new` does (or, for a module without `allocate`, through `__new`, which writes the header).
 */

/** graph-ts `TypeId` (global/global.ts), the same discriminants as graph-node's `IndexForAscTypeId`. */
export const TypeId = {
  String: 0,
  ArrayBuffer: 1,
  Uint8Array: 6,
  BigDecimal: 12,
  ArrayBool: 13,
  ArrayUint8Array: 14,
  ArrayEthereumValue: 15,
  ArrayStoreValue: 16,
  ArrayJsonValue: 17,
  ArrayString: 18,
  ArrayEventParam: 19,
  ArrayTypedMapEntryStringJsonValue: 20,
  ArrayTypedMapEntryStringStoreValue: 21,
  SmartContractCall: 22,
  EventParam: 23,
  EthereumTransaction: 24,
  EthereumBlock: 25,
  EthereumCall: 26,
  WrappedTypedMapStringJsonValue: 27,
  WrappedBool: 28,
  WrappedJsonValue: 29,
  EthereumValue: 30,
  StoreValue: 31,
  JsonValue: 32,
  EthereumEvent: 33,
  TypedMapEntryStringStoreValue: 34,
  TypedMapEntryStringJsonValue: 35,
  TypedMapStringStoreValue: 36,
  TypedMapStringJsonValue: 37,
  ResultJsonValueBool: 40,
  TransactionReceipt: 1000,
  Log: 1001,
  ArrayH256: 1002,
  ArrayLog: 1003,
  ArrayTypedMapStringStoreValue: 1004,
} as const;
export type TypeId = (typeof TypeId)[keyof typeof TypeId];

export const HEADER_SIZE = 20;

/** Big-endian-free conversions between a JS bigint and graph-node's BigInt bytes (signed, little-endian). */
export function bigIntFromSignedLE(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  let x = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) x = (x << 8n) | BigInt(bytes[i]!);
  if ((bytes[bytes.length - 1]! & 0x80) !== 0) x -= 1n << BigInt(8 * bytes.length);
  return x;
}

/** Minimal two's-complement little-endian bytes, as num-bigint's `to_signed_bytes_le` (0 → [0]). */
export function bigIntToSignedLE(v: bigint): Uint8Array {
  const out: number[] = [];
  let x = v;
  for (;;) {
    const byte = Number(x & 0xffn);
    out.push(byte);
    x >>= 8n;
    if ((x === 0n && (byte & 0x80) === 0) || (x === -1n && (byte & 0x80) !== 0)) break;
  }
  return Uint8Array.from(out);
}

/** Padding after a payload so that header + payload fill whole 16-byte units (graph-node's `padding_to_16`). */
const pad16 = (n: number) => (16 - ((HEADER_SIZE + n) % 16)) % 16;

/** graph-node's MIN_ARENA_SIZE: the host takes memory from `allocate` in chunks at least this big. */
const MIN_ARENA_SIZE = 10_000;

export interface AscExports {
  readonly memory: WebAssembly.Memory;
  /** graph-ts's `allocate` export (AssemblyScript's `__alloc`): raw memory, the host writes the header. */
  readonly allocate?: (size: number) => number;
  /** AssemblyScript's `__new(size, classId)`, used when `allocate` is not exported: it writes the header. */
  readonly newObject?: (size: number, classId: number) => number;
  readonly idOfType: (typeId: number) => number;
}

/** Typed reads and writes of AssemblyScript objects in one instance's linear memory. */
export class AscHeap {
  readonly #exports: AscExports;
  readonly #classIds = new Map<number, number>();
  #buffer: ArrayBuffer | null = null;
  #view: DataView = new DataView(new ArrayBuffer(0));
  #bytes: Uint8Array = new Uint8Array(0);
  #arenaPtr = 0;
  #arenaFree = 0;

  constructor(exports: AscExports) {
    this.#exports = exports;
  }

  #refresh(): void {
    const buf = this.#exports.memory.buffer;
    if (buf !== this.#buffer) {
      this.#buffer = buf;
      this.#view = new DataView(buf);
      this.#bytes = new Uint8Array(buf);
    }
  }

  #check(ptr: number, len: number): void {
    if (ptr < 0 || ptr + len > this.#bytes.length)
      throw new RangeError(`pointer ${ptr}+${len} is outside the module's memory`);
  }

  u32(ptr: number): number {
    this.#refresh();
    this.#check(ptr, 4);
    return this.#view.getUint32(ptr, true);
  }

  u64(ptr: number): bigint {
    this.#refresh();
    this.#check(ptr, 8);
    return this.#view.getBigUint64(ptr, true);
  }

  u8(ptr: number): number {
    this.#refresh();
    this.#check(ptr, 1);
    return this.#bytes[ptr]!;
  }

  /** A copy of `len` bytes at `ptr`. */
  slice(ptr: number, len: number): Uint8Array {
    this.#refresh();
    this.#check(ptr, len);
    return this.#bytes.slice(ptr, ptr + len);
  }

  /** The payload size recorded in an object's header. */
  rtSize(ptr: number): number {
    return this.u32(ptr - 4);
  }

  classId(typeId: TypeId): number {
    let id = this.#classIds.get(typeId);
    if (id === undefined) {
      id = this.#exports.idOfType(typeId) >>> 0;
      this.#classIds.set(typeId, id);
    }
    return id;
  }

  /** Allocates an object of class `typeId` holding `payload` (rtSize = `size`, default its length). */
  alloc(typeId: TypeId, payload: Uint8Array, size = payload.length): number {
    const rtId = this.classId(typeId);
    const { allocate, newObject } = this.#exports;
    if (!allocate && newObject) {
      const ptr = newObject(payload.length, rtId) >>> 0;
      if (ptr === 0) throw new RangeError("__new returned a null pointer");
      this.#refresh();
      this.#check(ptr, payload.length);
      this.#bytes.set(payload, ptr);
      return ptr;
    }
    if (!allocate) throw new RangeError("the module exports neither allocate nor __new");
    const total = HEADER_SIZE + payload.length + pad16(payload.length);
    if (total > this.#arenaFree) {
      // graph-node's raw_new: a new arena from `allocate` (the rest of the old one is left unused). `allocate`
      // returns a 16-aligned block without an object header; starting 12 bytes in puts each object 32 bytes in,
      // so objects stay 16-aligned as AssemblyScript's own (its `__realloc` asserts it).
      const size = Math.max(total, MIN_ARENA_SIZE) + 12;
      const start = allocate(size) >>> 0;
      if (start === 0) throw new RangeError("allocate returned a null pointer");
      this.#arenaPtr = start + 12;
      this.#arenaFree = size - 12;
    }
    const base = this.#arenaPtr;
    this.#arenaPtr += total;
    this.#arenaFree -= total;
    this.#refresh();
    this.#check(base, total);
    const v = this.#view;
    v.setUint32(base, total - 4, true); // mmInfo: everything after the mmInfo word
    v.setUint32(base + 4, 0, true);
    v.setUint32(base + 8, 0, true);
    v.setUint32(base + 12, rtId, true);
    v.setUint32(base + 16, size, true);
    this.#bytes.set(payload, base + HEADER_SIZE);
    this.#bytes.fill(0, base + HEADER_SIZE + payload.length, base + total);
    return base + HEADER_SIZE;
  }

  /** An object whose payload is a sequence of u32 fields (pointers or scalars). */
  allocStruct(typeId: TypeId, fields: readonly number[]): number {
    const payload = new Uint8Array(fields.length * 4);
    const v = new DataView(payload.buffer);
    fields.forEach((f, i) => v.setUint32(i * 4, f >>> 0, true));
    return this.alloc(typeId, payload);
  }

  /** The i-th u32 field of a struct. */
  field(ptr: number, index: number): number {
    return this.u32(ptr + index * 4);
  }

  // ── strings ────────────────────────────────────────────────────────────────────────────────────────────────

  readString(ptr: number): string {
    if (ptr === 0) throw new TypeError("null string pointer");
    const len = this.rtSize(ptr);
    const raw = this.slice(ptr, len);
    const units = new Uint16Array(raw.buffer, raw.byteOffset, len >>> 1);
    let s = "";
    for (let i = 0; i < units.length; i += 8192)
      s += String.fromCharCode(...units.subarray(i, i + 8192));
    return s;
  }

  newString(s: string): number {
    const payload = new Uint8Array(s.length * 2);
    const v = new DataView(payload.buffer);
    for (let i = 0; i < s.length; i++) v.setUint16(i * 2, s.charCodeAt(i), true);
    return this.alloc(TypeId.String, payload);
  }

  // ── ArrayBuffer, Uint8Array (Bytes, BigInt, Address) ──────────────────────────────────────────────────────

  readBytes(ptr: number): Uint8Array {
    if (ptr === 0) throw new TypeError("null Bytes pointer");
    const buffer = this.u32(ptr);
    const dataStart = this.u32(ptr + 4);
    const byteLength = this.u32(ptr + 8);
    if (buffer === 0) throw new TypeError("typed array without a buffer");
    return this.slice(dataStart, byteLength);
  }

  newBytes(bytes: Uint8Array, typeId: TypeId = TypeId.Uint8Array): number {
    const buffer = this.alloc(TypeId.ArrayBuffer, bytes);
    return this.allocStruct(typeId, [buffer, buffer, bytes.length]);
  }

  readBigInt(ptr: number): bigint {
    return bigIntFromSignedLE(this.readBytes(ptr));
  }

  newBigInt(v: bigint): number {
    return this.newBytes(bigIntToSignedLE(v));
  }

  // ── Array<T> ──────────────────────────────────────────────────────────────────────────────────────────────

  #arrayData(ptr: number): { dataStart: number; length: number } {
    if (ptr === 0) throw new TypeError("null array pointer");
    if (this.u32(ptr) === 0) throw new TypeError("array without a buffer");
    return { dataStart: this.u32(ptr + 4), length: this.u32(ptr + 12) };
  }

  /** The elements of an `Array<T>` whose elements are pointers (or other u32s). */
  readArrayU32(ptr: number): number[] {
    const { dataStart, length } = this.#arrayData(ptr);
    const out: number[] = [];
    for (let i = 0; i < length; i++) out.push(this.u32(dataStart + i * 4));
    return out;
  }

  /** The elements of an `Array<bool>` (one byte each). */
  readArrayBool(ptr: number): boolean[] {
    const { dataStart, length } = this.#arrayData(ptr);
    const raw = this.slice(dataStart, length);
    return [...raw].map((b) => b !== 0);
  }

  newArrayU32(typeId: TypeId, elements: readonly number[]): number {
    const data = new Uint8Array(elements.length * 4);
    const v = new DataView(data.buffer);
    elements.forEach((e, i) => v.setUint32(i * 4, e >>> 0, true));
    const buffer = this.alloc(TypeId.ArrayBuffer, data);
    return this.allocStruct(typeId, [buffer, buffer, data.length, elements.length]);
  }

  // ── enums: { kind: u32, _padding: u32, payload: u64 } ────────────────────────────────────────────────────

  readEnum(ptr: number): { kind: number; payload: bigint } {
    if (ptr === 0) throw new TypeError("null enum pointer");
    return { kind: this.u32(ptr), payload: this.u64(ptr + 8) };
  }

  newEnum(typeId: TypeId, kind: number, payload: bigint): number {
    const data = new Uint8Array(16);
    const v = new DataView(data.buffer);
    v.setUint32(0, kind, true);
    v.setBigUint64(8, BigInt.asUintN(64, payload), true);
    return this.alloc(typeId, data);
  }

  /** `Wrapped<bool>` (one byte) */
  newWrappedBool(b: boolean): number {
    return this.alloc(TypeId.WrappedBool, Uint8Array.of(b ? 1 : 0));
  }
}
