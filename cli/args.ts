/**
 * Argument parsers of `dml`: each turns a flag's text into a typed value or throws commander's InvalidArgumentError
 * with one line saying what is expected (the shared formatter prints it as `error[USAGE]`, exit 2).
 */
import { InvalidArgumentError, Option } from "commander";
import { getAddress, isAddress, isHex, parseUnits, type Address, type Hex } from "viem";
import { schemaHash } from "#sdk/chain/schema.ts";

export function address(v: string): Address {
  if (!isAddress(v, { strict: false })) throw new InvalidArgumentError(`not an address: ${v}`);
  return getAddress(v);
}

export function uint(v: string): bigint {
  if (!/^[0-9]+$/.test(v)) throw new InvalidArgumentError(`not a non-negative integer: ${v}`);
  return BigInt(v);
}

export function id(v: string): bigint {
  const n = uint(v);
  if (n === 0n) throw new InvalidArgumentError("ids start at 1");
  return n;
}

export function int32(v: string): number {
  if (!/^[0-9]+$/.test(v) || Number(v) > 0xffff_ffff)
    throw new InvalidArgumentError(`not an integer in 0..4294967295: ${v}`);
  return Number(v);
}

/** A decimal DML amount (`12.5`) in token wei. */
export function dml(v: string): bigint {
  if (!/^[0-9]+(\.[0-9]{1,18})?$/.test(v))
    throw new InvalidArgumentError(`not a DML amount (decimal, at most 18 decimals): ${v}`);
  return parseUnits(v, 18);
}

/** A decimal fraction in [0, 1] (`0.15`) as fixed point 1e18. */
export function fraction(v: string): bigint {
  if (!/^(0(\.[0-9]{1,18})?|1(\.0{1,18})?)$/.test(v))
    throw new InvalidArgumentError(`not a fraction in [0, 1]: ${v}`);
  return parseUnits(v, 18);
}

export function bytes32(v: string): Hex {
  if (!/^0x[0-9a-fA-F]{64}$/.test(v))
    throw new InvalidArgumentError(`not 32 bytes of 0x-hex: ${v}`);
  return v.toLowerCase() as Hex;
}

export function hexData(v: string): Hex {
  if (!isHex(v) || v.length % 2 !== 0) throw new InvalidArgumentError(`not 0x-hex bytes: ${v}`);
  return v.toLowerCase() as Hex;
}

/** A schema id (`email/rfc822-v1`, hashed) or its on-chain bytes32 hash. */
export function schema(v: string): Hex {
  if (v.startsWith("0x")) return bytes32(v);
  if (v.trim() === "") throw new InvalidArgumentError("an empty schema id");
  return schemaHash(v);
}

export function url(v: string): string {
  try {
    const u = new URL(v);
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error("scheme");
    return v;
  } catch {
    throw new InvalidArgumentError(`not an http(s) URL: ${v}`);
  }
}

/** A positive duration in seconds (`3600`, or `90m`, `2h`, `7d`). */
export function seconds(v: string): number {
  const m = /^([0-9]+)(s|m|h|d)?$/.exec(v);
  if (!m) throw new InvalidArgumentError(`not a duration (seconds, or 90m, 2h, 7d): ${v}`);
  const n =
    Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[(m[2] ?? "s") as "s" | "m" | "h" | "d"];
  if (n <= 0 || n > 0xffff_ffff)
    throw new InvalidArgumentError(`a duration in 1..4294967295 s: ${v}`);
  return n;
}

/** Collects a repeatable option. */
export const collect =
  <T>(parse: (v: string) => T) =>
  (v: string, acc: T[] | undefined): T[] => [...(acc ?? []), parse(v)];

/** An option whose default is shown as `shown` in --help (bigint defaults do not serialise). */
export function withDefault<T>(
  flags: string,
  description: string,
  parse: (v: string) => T,
  value: T,
  shown: string,
): Option {
  return new Option(flags, description).argParser(parse).default(value, shown);
}
