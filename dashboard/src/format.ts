/**
 * How numbers are shown. Every number on a page is `num(testid, value, kind)`: the element carries `data-testid`,
 * the raw value in `data-value` and the kind in `data-format`, and its text is `format(kind, value)` — the browser
 * test compares `data-value` with GraphQL and viem reads and the text with this same function.
 */
import { html, type TemplateResult } from "lit";
import { ifDefined } from "lit/directives/if-defined.js";
import { format, type NumberKind } from "./numbers.ts";

export { dml, format, type NumberKind } from "./numbers.ts";

export function num(
  testid: string,
  value: bigint | number | string | null | undefined,
  kind: NumberKind = "int",
): TemplateResult {
  if (value === null || value === undefined)
    return html`<span class="num na" data-testid=${testid}>–</span>`;
  const raw = value.toString();
  return html`<span class="num" data-testid=${testid} data-value=${raw} data-format=${kind}
    >${format(kind, raw)}</span
  >`;
}

/** 0x1234…abcd */
export const short = (hex: string | null | undefined): string =>
  hex ? (hex.length > 14 ? `${hex.slice(0, 6)}…${hex.slice(-4)}` : hex) : "–";

export const addr = (hex: string | null | undefined, testid?: string): TemplateResult =>
  html`<code title=${hex ?? ""} data-testid=${ifDefined(testid)} data-address=${hex ?? ""}
    >${short(hex)}</code
  >`;

/** Seconds since the epoch as a UTC date-time. */
export const when = (s: bigint | null | undefined): string =>
  s === null || s === undefined || s === 0n
    ? "–"
    : new Date(Number(s) * 1000).toISOString().replace("T", " ").replace(".000Z", " UTC");
