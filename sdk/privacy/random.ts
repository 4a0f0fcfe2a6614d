/**
 * Sources of uniform random integers for the exact samplers: the device's CSPRNG (`node:crypto`), and a seeded
 * deterministic stream (SHA-256 in counter mode) for tests and benchmarks only — never for noise that leaves a device.
 */
import { randomBytes } from "node:crypto";
import { sha256 } from "@noble/hashes/sha2.js";
import { utf8ToBytes } from "@noble/hashes/utils.js";

export interface RandomSource {
  /** Uniform integer in [0, n), n ≥ 1. */
  uniformBelow(n: bigint): bigint;
}

function bitLength(n: bigint): number {
  return n.toString(2).length;
}

/** Rejection sampling of [0, n) from a byte source: exact, expected < 2 draws. */
function uniformFromBytes(n: bigint, bytes: (count: number) => Uint8Array): bigint {
  if (n < 1n) throw new RangeError("uniformBelow: n must be ≥ 1");
  if (n === 1n) return 0n;
  const bits = bitLength(n - 1n);
  const count = Math.ceil(bits / 8);
  const excess = BigInt(count * 8 - bits);
  for (;;) {
    const b = bytes(count);
    let x = 0n;
    for (const byte of b) x = (x << 8n) | BigInt(byte);
    x >>= excess;
    if (x < n) return x;
  }
}

/** The operating system's CSPRNG, buffered. */
export function cryptoRandom(): RandomSource {
  let pool = randomBytes(0);
  let pos = 0;
  const bytes = (count: number) => {
    if (pos + count > pool.length) {
      pool = randomBytes(Math.max(4096, count));
      pos = 0;
    }
    const out = pool.subarray(pos, pos + count);
    pos += count;
    return out;
  };
  return { uniformBelow: (n) => uniformFromBytes(n, bytes) };
}

/** A deterministic stream for tests and benchmarks: block i = sha256(seed ‖ uint64_be(i)). Not for real noise. */
export function seededRandom(seed: string | Uint8Array): RandomSource {
  const s = typeof seed === "string" ? utf8ToBytes(seed) : Uint8Array.from(seed);
  let counter = 0n;
  let block = new Uint8Array(0);
  let pos = 0;
  const input = new Uint8Array(s.length + 8);
  input.set(s);
  const view = new DataView(input.buffer);
  const bytes = (count: number) => {
    const out = new Uint8Array(count);
    for (let i = 0; i < count; i++) {
      if (pos === block.length) {
        view.setBigUint64(s.length, counter++);
        block = sha256(input);
        pos = 0;
      }
      out[i] = block[pos++]!;
    }
    return out;
  };
  return { uniformBelow: (n) => uniformFromBytes(n, bytes) };
}
