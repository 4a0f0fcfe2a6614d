/**
 * Mask PRG: the ChaCha20 (RFC 8439) keystream under a 32-byte seed, zero nonce, read as little-endian uint32 words.
 * Uses the native OpenSSL ChaCha20 of node:crypto when present (≈5× faster), else @noble/ciphers; both produce the
 * identical keystream (tested). Buffers are reused so masking a vector allocates nothing per element.
 */
import { chacha20 } from "@noble/ciphers/chacha.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import * as nodeCrypto from "node:crypto";
import { addKernel } from "./simd-add.ts";
import type { AddKernel } from "./simd-add.ts";

if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
  throw new Error(
    "secagg: big-endian hosts are not supported (masks are little-endian uint32 words)",
  );
}

const hasNativeChacha =
  typeof nodeCrypto.getCiphers === "function" && nodeCrypto.getCiphers().includes("chacha20");
const ZERO_NONCE = new Uint8Array(12);
const ZERO_IV16 = new Uint8Array(16); // node: 4-byte LE block counter (0) ‖ 12-byte nonce (0)
/** Keystream chunk for accumulation: 16,384 words = 64 KiB, under glibc's 128 KiB mmap threshold. */
const CHUNK_WORDS = 16_384;
/** Zero plaintext for one keystream chunk (ChaCha20 "encrypts" zeros into the keystream). */
const ZERO_CHUNK = new Uint8Array(CHUNK_WORDS * 4);

const enc = new TextEncoder();
export const LABEL_SELF_MASK = enc.encode("DML-SecAgg/1 self mask");
export const LABEL_PAIR_MASK = enc.encode("DML-SecAgg/1 pairwise mask");
export const LABEL_SHARE_KEY = enc.encode("DML-SecAgg/1 share encryption");

const hasNativeHmac = typeof nodeCrypto.createHmac === "function";
const BLOCK_1 = new Uint8Array([1]);

/**
 * HKDF-SHA256(ikm, salt = session id, info = label) → 32-byte key (RFC 5869), native when present, else noble. With
 * L = 32 = HashLen the expansion is the single block T(1): PRK = HMAC(salt, ikm), OKM = HMAC(PRK, info ‖ 0x01),
 * written as two native HMACs (≈ 4.7 µs against 9.6 µs for `hkdfSync`, which builds a secret KeyObject per call; a
 * client derives 2k + 1 keys). Byte-identical to noble's hkdf (tested).
 */
export function deriveKey(
  ikm: Uint8Array,
  sessionIdBytes: Uint8Array,
  label: Uint8Array,
  opts: { native?: boolean } = {},
): Uint8Array {
  if ((opts.native ?? true) && hasNativeHmac) {
    const prk = nodeCrypto.createHmac("sha256", sessionIdBytes).update(ikm).digest();
    const okm = nodeCrypto.createHmac("sha256", prk).update(label).update(BLOCK_1).digest();
    prk.fill(0);
    return new Uint8Array(okm.buffer, okm.byteOffset, 32);
  }
  return hkdf(sha256, ikm, sessionIdBytes, label, 32);
}

export class MaskGenerator {
  readonly m: number;
  private readonly zero: Uint8Array;
  private readonly bytes: Uint8Array;
  private readonly words: Uint32Array;
  readonly native: boolean;

  constructor(m: number, opts: { native?: boolean } = {}) {
    this.m = m;
    this.zero = new Uint8Array(m * 4);
    this.bytes = new Uint8Array(m * 4);
    this.words = new Uint32Array(this.bytes.buffer, 0, m);
    this.native = (opts.native ?? true) && hasNativeChacha;
  }

  /**
   * Expands `seed` to m uint32 words. The returned view is only valid until the next call (native: a fresh keystream
   * buffer used in place, without a copy when it is 4-byte aligned; noble: a reused buffer).
   */
  expand(seed: Uint8Array): Uint32Array {
    if (this.native) {
      const r = nodeCrypto.createCipheriv("chacha20", seed, ZERO_IV16).update(this.zero);
      if (r.byteOffset % 4 === 0) return new Uint32Array(r.buffer, r.byteOffset, this.m);
      this.bytes.set(r);
    } else {
      chacha20(seed, ZERO_NONCE, this.zero, this.bytes);
    }
    return this.words;
  }

  /** acc += PRG(seed) (mod 2^32). */
  add(acc: Uint32Array, seed: Uint8Array): void {
    this.accumulate(acc, seed, 1);
  }

  /** acc −= PRG(seed) (mod 2^32). */
  sub(acc: Uint32Array, seed: Uint8Array): void {
    this.accumulate(acc, seed, -1);
  }

  /**
   * acc ± PRG(seed), streaming the native keystream in chunks of {@link CHUNK_WORDS} words. One 4m-byte keystream
   * buffer per call (400 KB at m = 100,000) sits above glibc's mmap threshold, so every expansion would map fresh
   * pages and fault them in (≈ 60% of the expansion's time at m = 100,000); 64 KiB chunks are served from the
   * allocator's free lists instead. Same keystream, same words as {@link expand} (tested).
   */
  private accumulate(acc: Uint32Array, seed: Uint8Array, sign: 1 | -1): void {
    if (!this.native || this.m <= CHUNK_WORDS) {
      if (sign === 1) addWords(acc, this.expand(seed));
      else subWords(acc, this.expand(seed));
      return;
    }
    const cipher = nodeCrypto.createCipheriv("chacha20", seed, ZERO_IV16);
    const a = new Int32Array(acc.buffer, acc.byteOffset, this.m);
    const zero = this.zero.subarray(0, CHUNK_WORDS * 4);
    for (let off = 0; off < this.m; off += CHUNK_WORDS) {
      const len = Math.min(CHUNK_WORDS, this.m - off);
      const r = cipher.update(len === CHUNK_WORDS ? zero : zero.subarray(0, len * 4));
      const b =
        r.byteOffset % 4 === 0
          ? new Int32Array(r.buffer, r.byteOffset, len)
          : new Int32Array(new Uint8Array(r).buffer, 0, len);
      if (sign === 1) for (let i = 0; i < len; i++) a[off + i] = (a[off + i]! + b[i]!) | 0;
      else for (let i = 0; i < len; i++) a[off + i] = (a[off + i]! - b[i]!) | 0;
    }
  }
}

/** acc += w (mod 2^32), on int32 views: V8 keeps the loop in small-integer arithmetic (≈ 25% faster than uint32). */
export function addWords(acc: Uint32Array, w: Uint32Array): void {
  const a = new Int32Array(acc.buffer, acc.byteOffset, acc.length);
  const b = new Int32Array(w.buffer, w.byteOffset, acc.length);
  const n = a.length;
  for (let i = 0; i < n; i++) a[i] = (a[i]! + b[i]!) | 0;
}

/** acc −= w (mod 2^32). */
export function subWords(acc: Uint32Array, w: Uint32Array): void {
  const a = new Int32Array(acc.buffer, acc.byteOffset, acc.length);
  const b = new Int32Array(w.buffer, w.byteOffset, acc.length);
  const n = a.length;
  for (let i = 0; i < n; i++) a[i] = (a[i]! - b[i]!) | 0;
}

const pad16 = (bytes: number) => (bytes + 15) & ~15;

/**
 * A vector of m uint32 words that masks are added to and subtracted from (mod 2^32): the masked input a client
 * builds, the server's running unmasking sum, a worker's partial sum. With native ChaCha20 and WebAssembly SIMD the
 * vector lives in a {@link AddKernel}'s memory: each keystream chunk is copied next to it and added four words per
 * instruction (≈ 0.03 ms per m = 100,000 mask on top of the keystream, against ≈ 0.27 ms for the JavaScript loop of
 * {@link MaskGenerator}). Otherwise it falls back to {@link MaskGenerator}. Same words either way (tested).
 */
export class MaskAccumulator {
  readonly m: number;
  /** The accumulated vector; a view valid for the accumulator's lifetime (copy it out with `slice()`). */
  readonly words: Uint32Array;
  /** True when the SIMD kernel does the additions. */
  readonly simd: boolean;
  private readonly kernel: AddKernel | undefined;
  /** Byte offset of the keystream chunk in the kernel's memory (after the 16-byte padded vector). */
  private readonly chunkAt: number;
  private readonly generator: MaskGenerator | undefined;

  constructor(m: number, opts: { native?: boolean; simd?: boolean } = {}) {
    this.m = m;
    const native = (opts.native ?? true) && hasNativeChacha;
    this.chunkAt = pad16(4 * m);
    this.kernel =
      native && (opts.simd ?? true) ? addKernel(this.chunkAt + 4 * CHUNK_WORDS) : undefined;
    this.simd = this.kernel !== undefined;
    if (this.kernel !== undefined) {
      this.words = new Uint32Array(this.kernel.bytes.buffer, 0, m);
    } else {
      this.words = new Uint32Array(m);
      this.generator = new MaskGenerator(m, { native });
    }
  }

  /** words += PRG(seed). */
  add(seed: Uint8Array): void {
    this.mask(seed, 1);
  }

  /** words −= PRG(seed). */
  sub(seed: Uint8Array): void {
    this.mask(seed, -1);
  }

  /** words += w (w of length m). */
  addVector(w: Uint32Array): void {
    if (w.length !== this.m)
      throw new RangeError(`vector of ${w.length} words, expected ${this.m}`);
    const k = this.kernel;
    if (k === undefined) {
      addWords(this.words, w);
      return;
    }
    const bytes = new Uint8Array(w.buffer, w.byteOffset, 4 * this.m);
    for (let off = 0; off < 4 * this.m; off += 4 * CHUNK_WORDS) {
      const len = Math.min(4 * CHUNK_WORDS, 4 * this.m - off);
      k.bytes.set(bytes.subarray(off, off + len), this.chunkAt);
      k.add(off, this.chunkAt, pad16(len));
    }
  }

  private mask(seed: Uint8Array, sign: 1 | -1): void {
    const k = this.kernel;
    if (k === undefined) {
      if (sign === 1) this.generator!.add(this.words, seed);
      else this.generator!.sub(this.words, seed);
      return;
    }
    const cipher = nodeCrypto.createCipheriv("chacha20", seed, ZERO_IV16);
    for (let off = 0; off < 4 * this.m; off += 4 * CHUNK_WORDS) {
      const len = Math.min(4 * CHUNK_WORDS, 4 * this.m - off);
      k.bytes.set(
        cipher.update(len === ZERO_CHUNK.length ? ZERO_CHUNK : ZERO_CHUNK.subarray(0, len)),
        this.chunkAt,
      );
      // the padded tail (< 16 bytes) lands in the padding between the vector and the chunk, never read
      if (sign === 1) k.add(off, this.chunkAt, pad16(len));
      else k.sub(off, this.chunkAt, pad16(len));
    }
  }
}

const scratch = new Map<number, MaskAccumulator>();

/**
 * A zeroed accumulator of m words reused by this thread, for synchronous use only (never held across an `await`):
 * a client's masked input, a worker's slice. Creating one costs a WebAssembly instance and memory, ≈ 0.05 ms on a
 * small heap but 3–6 ms once the heap is large (the memory's reservation triggers a full GC), which an in-process
 * simulation of 1,000 clients would pay 1,000 times. Up to four lengths are kept.
 */
export function scratchAccumulator(m: number): MaskAccumulator {
  const acc = scratch.get(m);
  if (acc !== undefined) {
    acc.words.fill(0);
    return acc;
  }
  if (scratch.size >= 4) scratch.delete(scratch.keys().next().value!);
  const fresh = new MaskAccumulator(m);
  scratch.set(m, fresh);
  return fresh;
}
