/**
 * A WebAssembly SIMD kernel that adds (or subtracts) one region of its memory into another, four uint32 words per
 * instruction (`i32x4.add` / `i32x4.sub`, i.e. mod 2^32). The mask accumulator keeps its vector in this memory and
 * copies each native ChaCha20 keystream chunk next to it, so an m = 100,000 mask costs ≈ 0.03 ms of copy and add
 * instead of ≈ 0.27 ms for the JavaScript add loop (docs/secagg.md, "Faster unmasking"). Absent WebAssembly SIMD the
 * callers keep the JavaScript loop (same words, tested).
 *
 * The module is 180 bytes, assembled from script/wasm/simd-add.wat by script/wasm/assemble.mjs (binaryen):
 *
 *   (module
 *     (memory (export "memory") 1)
 *     (func (export "add") (param $a i32) (param $b i32) (param $n i32)   ;; [a, a+n) += [b, b+n), n a multiple of 16
 *       (local $end i32)
 *       (local.set $end (i32.add (local.get $a) (local.get $n)))
 *       (block $done (loop $next
 *         (br_if $done (i32.ge_u (local.get $a) (local.get $end)))
 *         (v128.store (local.get $a) (i32x4.add (v128.load (local.get $a)) (v128.load (local.get $b))))
 *         (local.set $a (i32.add (local.get $a) (i32.const 16)))
 *         (local.set $b (i32.add (local.get $b) (i32.const 16)))
 *         (br $next))))
 *     (func (export "sub") ...the same with i32x4.sub...))
 */
const WASM_BASE64 =
  "AGFzbQEAAAABBwFgA39/fwADAwIAAAUDAQABBxYDBm1lbW9yeQIAA2FkZAAAA3N1YgABCn8CPgEBfyAAIAJqIQMCQANAIAAgA08NASAAIAD9AAQAIAH9AAQA/a4B/QsEACAAQRBqIQAgAUEQaiEBDAALAAsLPgEBfyAAIAJqIQMCQANAIAAgA08NASAAIAD9AAQAIAH9AAQA/bEB/QsEACAAQRBqIQAgAUEQaiEBDAALAAsL";

export interface AddKernel {
  /** The instance's memory, grown to hold at least the requested bytes; never grown again (views stay valid). */
  readonly bytes: Uint8Array;
  /** [a, a + n) += [b, b + n) as uint32 words mod 2^32; a, b, n multiples of 16 within `bytes`. */
  add(a: number, b: number, n: number): void;
  /** [a, a + n) −= [b, b + n). */
  sub(a: number, b: number, n: number): void;
}

/** The few WebAssembly JS API members used here (the project's `lib` has no DOM/WebAssembly typings). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
}
const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

let compiled: object | null | undefined;

function moduleOrNull(): object | null {
  if (compiled !== undefined) return compiled;
  try {
    const bytes = Buffer.from(WASM_BASE64, "base64");
    compiled = wasm !== undefined && wasm.validate(bytes) ? new wasm.Module(bytes) : null;
  } catch {
    compiled = null;
  }
  return compiled;
}

/** True when this runtime runs the SIMD kernel (Node ≥ 16.4 does). */
export function simdAvailable(): boolean {
  return moduleOrNull() !== null;
}

/** A fresh kernel instance whose memory holds `size` bytes, or undefined without WebAssembly SIMD. */
export function addKernel(size: number): AddKernel | undefined {
  const mod = moduleOrNull();
  if (mod === null || wasm === undefined) return undefined;
  const instance = new wasm.Instance(mod);
  const exports = instance.exports as {
    memory: WasmMemory;
    add: (a: number, b: number, n: number) => void;
    sub: (a: number, b: number, n: number) => void;
  };
  const pages = Math.ceil(size / 65_536);
  if (pages > 1) exports.memory.grow(pages - 1);
  return {
    bytes: new Uint8Array(exports.memory.buffer, 0, size),
    add: exports.add,
    sub: exports.sub,
  };
}
