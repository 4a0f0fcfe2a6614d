/**
 * How numbers are shown, as pure functions (the page's `num()` in format.ts and the browser test both use them).
 */
export type NumberKind = "dml" | "int" | "count" | "pct" | "share" | "block";

const group = (digits: string): string => digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");

/** Token wei as DML with up to 4 decimals (truncated), thousands grouped. */
export function dml(wei: bigint): string {
  const neg = wei < 0n;
  const abs = neg ? -wei : wei;
  const whole = abs / 10n ** 18n;
  const frac = ((abs % 10n ** 18n) / 10n ** 14n).toString().padStart(4, "0").replace(/0+$/, "");
  return `${neg ? "-" : ""}${group(whole.toString())}${frac ? `.${frac}` : ""} DML`;
}

export function format(kind: NumberKind, value: string): string {
  switch (kind) {
    case "dml":
      return dml(BigInt(value));
    case "int":
    case "block":
      return group(value);
    case "count":
      // a noisy (DP) count: rounded to a whole number
      return group(Math.round(Number(value)).toString());
    case "pct":
      // a fixed-point 1e18 fraction
      return `${(Number(BigInt(value) / 10n ** 12n) / 1e4).toFixed(2)}%`;
    case "share":
      // a plain number in [0, 1] (the report's estimates)
      return Number(value).toFixed(4);
  }
}
