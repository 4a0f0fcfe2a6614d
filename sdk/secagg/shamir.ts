/**
 * Shamir reconstruction compatible with the `shamir-secret-sharing` package (shares are `y bytes ‖ x`, GF(2^8) with
 * the AES polynomial x^8 + x^4 + x^3 + x + 1 and generator 0xe5, the field of that package's log/exp tables).
 *
 * The package's `combine` re-derives the Lagrange basis for every byte (O(len · t²)); the server reconstructs up to
 * n + |dropped| secrets per session, so here the basis at x = 0 is computed once per share set (O(t²)) and applied to
 * every byte (O(len · t)). Equivalence with its `combine` is tested.
 *
 * Splitting (`splitSecret`) is the package's `split` with the same share layout and field, minus its per-multiplication
 * argument checks and `% 255` at the client's 223 shares of threshold 112 (two 32-byte secrets per
 * session were ≈ 10 ms of a client's ≈ 100 ms). Coefficients and x coordinates come from node:crypto's CSPRNG (x: an
 * unbiased Fisher–Yates shuffle of 1..255). Its shares combine with the package's `combine` and with `combineShares`
 * (tested), so shares made by either are interchangeable.
 */
import { randomBytes, randomInt } from "node:crypto";
import { SecAggError } from "./errors.ts";

const EXP = new Uint8Array(510);
const LOG = new Uint8Array(256);
{
  const aesMul = (a: number, b: number): number => {
    let r = 0;
    while (b > 0) {
      if (b & 1) r ^= a;
      a = a & 0x80 ? ((a << 1) ^ 0x11b) & 0xff : a << 1;
      b >>= 1;
    }
    return r;
  };
  let x = 1;
  for (let i = 0; i < 255; i++) {
    EXP[i] = x;
    EXP[i + 255] = x;
    LOG[x] = i;
    x = aesMul(x, 0xe5);
  }
}

const mul = (a: number, b: number): number => (a === 0 || b === 0 ? 0 : EXP[LOG[a]! + LOG[b]!]!);
const div = (a: number, b: number): number => (a === 0 ? 0 : EXP[LOG[a]! + 255 - LOG[b]!]!);

/** Reconstructs the secret from ≥ threshold shares (all from one split). */
export function combineShares(shares: readonly Uint8Array[]): Uint8Array {
  if (shares.length < 2) throw new SecAggError("TOO_FEW_SHARES", "at least two shares are needed");
  const len = shares[0]!.length - 1;
  const xs = shares.map((s) => {
    if (s.length !== len + 1) throw new SecAggError("BAD_SHARE", "shares of different lengths");
    return s[len]!;
  });
  if (new Set(xs).size !== xs.length || xs.includes(0))
    throw new SecAggError("BAD_SHARE", "repeated x coordinate");
  // basis_i(0) = Π_{j≠i} x_j / (x_i ⊕ x_j)
  const basis = xs.map((xi, i) => {
    let b = 1;
    for (let j = 0; j < xs.length; j++) if (j !== i) b = mul(b, div(xs[j]!, xi ^ xs[j]!));
    return b;
  });
  const out = new Uint8Array(len);
  for (let i = 0; i < shares.length; i++) {
    const bi = basis[i]!;
    if (bi === 0) continue;
    const logB = LOG[bi]!;
    const y = shares[i]!;
    for (let k = 0; k < len; k++) {
      const v = y[k]!;
      if (v !== 0) out[k] = out[k]! ^ EXP[LOG[v]! + logB]!;
    }
  }
  return out;
}

/**
 * Splits `secret` into `count` shares (`y bytes ‖ x`, distinct random x ∈ [1, 255]) of a random polynomial of degree
 * `threshold − 1` per byte with the secret byte as intercept; any `threshold` shares reconstruct it.
 * @throws SecAggError INVALID_CONFIG when the secret is empty or not 2 ≤ threshold ≤ count ≤ 255
 */
export function splitSecret(secret: Uint8Array, count: number, threshold: number): Uint8Array[] {
  if (
    secret.length < 1 ||
    !Number.isInteger(count) ||
    !Number.isInteger(threshold) ||
    threshold < 2 ||
    count < threshold ||
    count > 255
  ) {
    throw new SecAggError(
      "INVALID_CONFIG",
      `cannot split into ${count} shares of threshold ${threshold}`,
    );
  }
  const xs = new Uint8Array(255);
  for (let i = 0; i < 255; i++) xs[i] = i + 1;
  for (let i = 254; i > 0; i--) {
    const j = randomInt(i + 1);
    const t = xs[i]!;
    xs[i] = xs[j]!;
    xs[j] = t;
  }
  const len = secret.length;
  const degree = threshold - 1;
  const coeffs = new Uint8Array(randomBytes(len * degree)); // byte i: coefficients of x^1..x^degree
  const logX = new Uint8Array(count);
  const shares: Uint8Array[] = [];
  for (let j = 0; j < count; j++) {
    const share = new Uint8Array(len + 1);
    share[len] = xs[j]!;
    logX[j] = LOG[xs[j]!]!;
    shares.push(share);
  }
  for (let i = 0; i < len; i++) {
    const base = i * degree;
    for (let j = 0; j < count; j++) {
      // Horner: y = ((c_d · x + c_{d−1}) · x + …) · x + secret
      const lx = logX[j]!;
      let y = coeffs[base + degree - 1]!;
      for (let d = degree - 2; d >= 0; d--)
        y = (y === 0 ? 0 : EXP[LOG[y]! + lx]!) ^ coeffs[base + d]!;
      y = (y === 0 ? 0 : EXP[LOG[y]! + lx]!) ^ secret[i]!;
      shares[j]![i] = y;
    }
  }
  coeffs.fill(0);
  return shares;
}
