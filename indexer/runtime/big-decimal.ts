/**
 * graph-node's BigDecimal (graph/src/data/store/scalar/bigdecimal.rs): `digits × 10^exp`, normalised after every
 * operation to at most 34 significant digits (bigdecimal's `with_prec`, rounding the dropped digits half up) with
 * trailing zeros removed; division keeps 100 significant digits before that normalisation (old bigdecimal's
 * `impl_division`). Printed in plain notation, as bigdecimal's Display does.
 */
import { DeterministicHostError } from "./errors.ts";

export interface BigDecimal {
  readonly digits: bigint;
  readonly exp: bigint;
}

const MAX_SIGNIFICANT_DIGITS = 34;
const DIVISION_PRECISION = 100;

const abs = (x: bigint) => (x < 0n ? -x : x);
const digitCount = (x: bigint) => (x === 0n ? 1 : abs(x).toString().length);
const pow10 = (n: number | bigint) => 10n ** BigInt(n);

/** Rounds to `prec` significant digits (half up on the magnitude) and strips trailing zeros. */
function withPrec(d: BigDecimal, prec: number): BigDecimal {
  let { digits, exp } = d;
  const count = digitCount(digits);
  if (count > prec) {
    const diff = count - prec;
    const p = pow10(diff);
    const neg = digits < 0n;
    let q = abs(digits) / p;
    const r = abs(digits) % p;
    if (r * 2n >= p) q += 1n;
    digits = neg ? -q : q;
    exp += BigInt(diff);
  }
  return { digits, exp };
}

export function normalize(d: BigDecimal): BigDecimal {
  if (d.digits === 0n) return { digits: 0n, exp: 0n };
  let { digits, exp } = withPrec(d, MAX_SIGNIFICANT_DIGITS);
  while (digits % 10n === 0n) {
    digits /= 10n;
    exp += 1n;
  }
  return { digits, exp };
}

export const fromBigInt = (x: bigint): BigDecimal => normalize({ digits: x, exp: 0n });

/** Aligns both operands to the smaller exponent. */
function align(a: BigDecimal, b: BigDecimal): [bigint, bigint, bigint] {
  const exp = a.exp < b.exp ? a.exp : b.exp;
  return [a.digits * pow10(a.exp - exp), b.digits * pow10(b.exp - exp), exp];
}

export function plus(a: BigDecimal, b: BigDecimal): BigDecimal {
  const [x, y, exp] = align(a, b);
  return normalize({ digits: x + y, exp });
}

export function minus(a: BigDecimal, b: BigDecimal): BigDecimal {
  const [x, y, exp] = align(a, b);
  return normalize({ digits: x - y, exp });
}

export function times(a: BigDecimal, b: BigDecimal): BigDecimal {
  return normalize({ digits: a.digits * b.digits, exp: a.exp + b.exp });
}

export function dividedBy(a: BigDecimal, b: BigDecimal): BigDecimal {
  if (b.digits === 0n)
    throw new DeterministicHostError("Cannot divide by zero-valued `BigDecimal`!");
  if (a.digits === 0n) return { digits: 0n, exp: 0n };
  // scale the numerator so the integer quotient carries DIVISION_PRECISION significant digits, truncating
  const shift = DIVISION_PRECISION - digitCount(a.digits) + digitCount(b.digits);
  const k = shift > 0 ? shift : 0;
  const q = (a.digits * pow10(k)) / b.digits;
  return normalize({ digits: q, exp: a.exp - b.exp - BigInt(k) });
}

export const equals = (a: BigDecimal, b: BigDecimal): boolean => {
  const x = normalize(a);
  const y = normalize(b);
  return x.digits === y.digits && x.exp === y.exp;
};

/** Plain notation, no exponent: `-12.5`, `120000`, `0.001`. */
export function toString(d: BigDecimal): string {
  const { digits, exp } = d;
  const neg = digits < 0n;
  const s = abs(digits).toString();
  let out: string;
  if (exp >= 0n) out = s + "0".repeat(Number(exp));
  else {
    const scale = Number(-exp);
    out =
      s.length > scale
        ? `${s.slice(0, s.length - scale)}.${s.slice(s.length - scale)}`
        : `0.${"0".repeat(scale - s.length)}${s}`;
  }
  return neg && digits !== 0n ? `-${out}` : out;
}

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/** Parses a decimal literal (`1.5`, `-0.25`, `1e18`, `.5`), normalised. */
export function fromString(s: string): BigDecimal {
  const m = DECIMAL.exec(s.trim());
  if (!m || (m[2] === "" && (m[3] ?? "") === ""))
    throw new DeterministicHostError(`failed to parse BigDecimal from string \`${s}\``);
  const intPart = m[2] ?? "";
  const frac = m[3] ?? "";
  const digits = BigInt(`${m[1] === "-" ? "-" : ""}${intPart}${frac}` || "0");
  const exp = BigInt(m[4] ?? "0") - BigInt(frac.length);
  return normalize({ digits, exp });
}
