/**
 * Exact sampler of the discrete Gaussian N_Z(0, σ²) (Canonne, Kamath, Steinke 2020, "The Discrete Gaussian for
 * Differential Privacy", Algorithms 1–3): P[X = x] ∝ exp(−x²/(2σ²)) over the integers.
 *
 * Every step is exact rational arithmetic on BigInts (no floating-point exp or log), driven by a uniform integer
 * source, so the output distribution is exactly the discrete Gaussian for the exact rational value of σ² (a float is
 * a dyadic rational, converted without rounding):
 *
 * - Bernoulli(exp(−γ)) for rational γ: for γ ∈ [0, 1], the alternating-series loop (K = 1, 2, …: continue while
 *   Bernoulli(γ/K)), returning 1 when the loop stops at odd K; for γ > 1, ⌊γ⌋ Bernoulli(exp(−1)) trials then one
 *   Bernoulli(exp(−(γ − ⌊γ⌋))).
 * - Discrete Laplace with scale t (integer): U uniform in [0, t) accepted with Bernoulli(exp(−U/t)), V geometric via
 *   Bernoulli(exp(−1)), X = U + t·V, a random sign (rejecting −0).
 * - Discrete Gaussian: t = ⌊σ⌋ + 1, Y ~ DLap(t) accepted with Bernoulli(exp(−(|Y| − σ²/t)²/(2σ²))).
 */
import { PrivacyError } from "./errors.ts";
import type { RandomSource } from "./random.ts";

/** An exact non-negative rational num/den. */
export interface Rational {
  num: bigint;
  den: bigint;
}

/** The exact rational value of a finite positive float (a dyadic rational). */
export function rationalOf(x: number): Rational {
  if (!(x > 0) || !Number.isFinite(x))
    throw new PrivacyError("INVALID_NOISE_PARAMS", `σ² = ${x} must be a positive finite number`);
  let e = 0;
  let y = x;
  while (!Number.isInteger(y)) {
    y *= 2;
    e++;
  }
  return { num: BigInt(y), den: 1n << BigInt(e) };
}

function bernoulli(rng: RandomSource, num: bigint, den: bigint): boolean {
  return rng.uniformBelow(den) < num;
}

/** Bernoulli(exp(−num/den)), num/den ≥ 0. */
export function bernoulliExp(rng: RandomSource, num: bigint, den: bigint): boolean {
  while (num > den) {
    // γ > 1: exp(−γ) = exp(−1)^⌊γ⌋ · exp(−(γ − ⌊γ⌋)), one factor at a time
    if (!bernoulliExp1(rng, 1n, 1n)) return false;
    num -= den;
  }
  return bernoulliExp1(rng, num, den);
}

/** Bernoulli(exp(−γ)) for γ = num/den ∈ [0, 1]. */
function bernoulliExp1(rng: RandomSource, num: bigint, den: bigint): boolean {
  let k = 1n;
  while (bernoulli(rng, num, den * k)) k++;
  return k % 2n === 1n;
}

/** Discrete Laplace with integer scale t ≥ 1: P[X = x] ∝ exp(−|x|/t). */
export function sampleDiscreteLaplace(rng: RandomSource, t: bigint): bigint {
  for (;;) {
    const u = rng.uniformBelow(t);
    if (!bernoulliExp(rng, u, t)) continue;
    let v = 0n;
    while (bernoulliExp(rng, 1n, 1n)) v++;
    const x = u + t * v;
    const negative = rng.uniformBelow(2n) === 1n;
    if (negative && x === 0n) continue;
    return negative ? -x : x;
  }
}

function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = BigInt(Math.floor(Math.sqrt(Number(n))));
  while (x * x > n) x--;
  while ((x + 1n) * (x + 1n) <= n) x++;
  return x;
}

/**
 * A sampler of N_Z(0, σ²) for a fixed σ² (validated: positive, finite). `sample()` returns a bigint; `sampleNumber()`
 * a number (exact for |x| < 2^53, which any σ < 2^45 stays within with overwhelming probability).
 */
export class DiscreteGaussian {
  readonly sigma2: number;
  readonly #a: bigint;
  readonly #b: bigint;
  readonly #t: bigint;
  readonly #rng: RandomSource;

  constructor(sigma2: number, rng: RandomSource) {
    const { num, den } = rationalOf(sigma2);
    this.sigma2 = sigma2;
    this.#a = num;
    this.#b = den;
    this.#t = isqrt(num / den) + 1n;
    this.#rng = rng;
  }

  sample(): bigint {
    const a = this.#a;
    const b = this.#b;
    const t = this.#t;
    for (;;) {
      const y = sampleDiscreteLaplace(this.#rng, t);
      const abs = y < 0n ? -y : y;
      // γ = (|Y| − σ²/t)² / (2σ²) = (|Y|·b·t − a)² / (2·a·b·t²)
      const d = abs * b * t - a;
      if (bernoulliExp(this.#rng, d * d, 2n * a * b * t * t)) return y;
    }
  }

  sampleNumber(): number {
    return Number(this.sample());
  }
}
