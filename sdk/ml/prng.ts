/**
 * Deterministic, seedable pseudo-random generator: SHA-256 in counter mode.
 *
 * Block `i` is `sha256(seed || uint64_be(i))`; its 32 bytes are consumed as eight big-endian uint32
 * words. A double in [0, 1) takes 53 bits from two consecutive words. The stream is fully defined by the
 * seed, so every split and every training run can be reproduced bit-for-bit on any machine.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { utf8ToBytes } from "@noble/hashes/utils.js";

export class Prng {
  readonly #seed: Uint8Array;
  #counter = 0n;
  #block = new Uint32Array(8);
  #pos = 8;
  #spareNormal: number | undefined;

  /** @param seed a string (UTF-8 encoded) or raw bytes; the same seed always yields the same stream. */
  constructor(seed: string | Uint8Array) {
    this.#seed = typeof seed === "string" ? utf8ToBytes(seed) : Uint8Array.from(seed);
  }

  /** A child generator whose stream depends on this generator's seed and `label` only. */
  fork(label: string): Prng {
    return new Prng(sha256(concat(this.#seed, utf8ToBytes(`/${label}`))));
  }

  /** Next uniformly distributed uint32. */
  nextUint32(): number {
    if (this.#pos === 8) this.#refill();
    const v = this.#block[this.#pos];
    this.#pos += 1;
    return v ?? 0;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  next(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n), without modulo bias. */
  nextInt(n: number): number {
    if (!Number.isSafeInteger(n) || n <= 0 || n > 0x1_0000_0000) {
      throw new RangeError(`Prng.nextInt: n must be an integer in [1, 2^32], got ${n}`);
    }
    const limit = 0x1_0000_0000 - (0x1_0000_0000 % n);
    for (;;) {
      const v = this.nextUint32();
      if (v < limit) return v % n;
    }
  }

  /** Standard normal deviate (Marsaglia polar method). */
  normal(): number {
    if (this.#spareNormal !== undefined) {
      const s = this.#spareNormal;
      this.#spareNormal = undefined;
      return s;
    }
    for (;;) {
      const u = 2 * this.next() - 1;
      const v = 2 * this.next() - 1;
      const s = u * u + v * v;
      if (s > 0 && s < 1) {
        const m = Math.sqrt((-2 * Math.log(s)) / s);
        this.#spareNormal = v * m;
        return u * m;
      }
    }
  }

  /**
   * Gamma(shape, 1) deviate, Marsaglia & Tsang (2000). For shape < 1 it uses the boost
   * `Gamma(a) = Gamma(a + 1) * U^(1/a)`.
   */
  gamma(shape: number): number {
    if (!(shape > 0) || !Number.isFinite(shape)) {
      throw new RangeError(`Prng.gamma: shape must be a positive finite number, got ${shape}`);
    }
    if (shape < 1) {
      const u = this.next();
      return this.gamma(shape + 1) * Math.pow(u === 0 ? Number.MIN_VALUE : u, 1 / shape);
    }
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.next();
      if (u < 1 - 0.0331 * x * x * x * x) return d * v;
      if (u > 0 && Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
    }
  }

  /** Beta(alpha, beta) deviate as X / (X + Y) with X ~ Gamma(alpha), Y ~ Gamma(beta). */
  beta(alpha: number, beta: number): number {
    const x = this.gamma(alpha);
    const y = this.gamma(beta);
    return x / (x + y);
  }

  /** In-place Fisher–Yates shuffle; returns the same array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const a = items[i] as T;
      items[i] = items[j] as T;
      items[j] = a;
    }
    return items;
  }

  #refill(): void {
    const ctr = new Uint8Array(8);
    new DataView(ctr.buffer).setBigUint64(0, this.#counter);
    this.#counter += 1n;
    const digest = sha256(concat(this.#seed, ctr));
    const view = new DataView(digest.buffer, digest.byteOffset, digest.byteLength);
    for (let i = 0; i < 8; i++) this.#block[i] = view.getUint32(i * 4);
    this.#pos = 0;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
