/**
 * Shamir reconstruction compatible with the `shamir-secret-sharing` package (shares are `y bytes ‖ x`, GF(2^8) with
 * the AES polynomial x^8 + x^4 + x^3 + x + 1 and generator 0xe5, the field of that package's log/exp tables).
 *
 * The package's `combine` re-derives the Lagrange basis for every byte (O(len · t²)); the server reconstructs up to
 * n + |dropped| secrets per session, so here the basis at x = 0 is computed once per share set (O(t²)) and applied to
 * every byte (O(len · t)). Splitting stays with the package. Equivalence with its `combine` is tested.
 */
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
