/**
 * How each field is stored and read back, following graph-node's `ColumnType` (store/postgres/src/relational.rs):
 * ID/String/enum → text, Bytes → bytea, BigInt/BigDecimal → numeric, Int → int4, Int8 → int8, Boolean → boolean,
 * Timestamp → timestamptz, lists → arrays, references → the target's id column type.
 *
 * Values go to SQL as parameters with an explicit cast; everything that is not int4, boolean or text is read back as
 * text so PGlite and `pg` decode rows identically.
 */
import type { Value } from "../types.ts";
import { valueKindOf, type FieldModel, type IdKind, type SchemaModel } from "./schema-model.ts";

/** Collects `$n` parameters for one statement. */
export class Params {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/** Double-quotes an SQL identifier. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export type ColumnKind = Exclude<Value["kind"], "List" | "Null">;

const SQL_TYPE: Record<ColumnKind, string> = {
  String: "text",
  Int: "int4",
  Int8: "int8",
  BigDecimal: "numeric",
  BigInt: "numeric",
  Bool: "boolean",
  Bytes: "bytea",
  Timestamp: "timestamptz",
};

export function columnKind(model: SchemaModel, field: FieldModel): ColumnKind {
  return valueKindOf(model, field.base) as ColumnKind;
}

export function idSqlType(idKind: IdKind): string {
  return SQL_TYPE[idKind];
}

export function columnSqlType(model: SchemaModel, field: FieldModel): string {
  const base = SQL_TYPE[columnKind(model, field)];
  return field.list ? `${base}[]` : base;
}

export function bytesToHex(bytes: Uint8Array): `0x${string}` {
  return `0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex")}`;
}

export function hexToBytes(hex: string): Uint8Array {
  const body = hex.startsWith("0x") ? hex.slice(2) : hex;
  return Uint8Array.from(Buffer.from(body, "hex"));
}

/** The text form of one scalar value as its column type parses it. */
function scalarText(value: Value): string | number | boolean {
  switch (value.kind) {
    case "String":
    case "BigDecimal":
      return value.value;
    case "Int":
      return value.value;
    case "Bool":
      return value.value;
    case "Int8":
    case "BigInt":
    case "Timestamp":
      return value.value.toString();
    case "Bytes":
      return `\\x${Buffer.from(value.value.buffer, value.value.byteOffset, value.value.byteLength).toString("hex")}`;
    case "List":
    case "Null":
      throw new Error(`scalarText: ${value.kind} is not a scalar`);
  }
}

const EPOCH = "'1970-01-01 00:00:00+00'::timestamptz";

/** An SQL expression for `value` stored in a column of `kind` (a list column when `list`). */
export function valueExpr(params: Params, kind: ColumnKind, list: boolean, value: Value): string {
  if (value.kind === "Null") return "null";
  if (list) {
    if (value.kind !== "List") throw new Error(`valueExpr: expected a list, got ${value.kind}`);
    const items = value.value.map(scalarText);
    if (kind === "Timestamp") {
      return `array(select ${EPOCH} + x * interval '1 microsecond' from unnest(${params.add(items)}::int8[]) with ordinality as u(x, n) order by n)`;
    }
    if (kind === "Int" || kind === "Bool" || kind === "String")
      return `${params.add(items)}::${SQL_TYPE[kind]}[]`;
    return `${params.add(items)}::text[]::${SQL_TYPE[kind]}[]`;
  }
  const text = scalarText(value);
  if (kind === "Timestamp")
    return `(${EPOCH} + ${params.add(text)}::int8 * interval '1 microsecond')`;
  if (kind === "Int" || kind === "Bool" || kind === "String")
    return `${params.add(text)}::${SQL_TYPE[kind]}`;
  return `${params.add(text)}::text::${SQL_TYPE[kind]}`;
}

/** An SQL expression that reads a column of `kind` in a form both drivers decode alike. */
export function readExpr(column: string, kind: ColumnKind, list: boolean): string {
  if (kind === "String" || kind === "Int" || kind === "Bool") return column;
  if (kind === "Timestamp") {
    const one = (c: string) => `(extract(epoch from ${c}) * 1000000)::int8::text`;
    return list
      ? `(case when ${column} is null then null else array(select ${one("x")} from unnest(${column}) with ordinality as u(x, n) order by n) end)`
      : one(column);
  }
  return list ? `${column}::text[]` : `${column}::text`;
}

/** graph-node prints a BigDecimal without trailing zeros and without an exponent. */
export function canonicalDecimal(text: string): string {
  if (!text.includes(".")) return text === "-0" ? "0" : text;
  const trimmed = text.replace(/0+$/, "").replace(/\.$/, "");
  return trimmed === "-0" || trimmed === "" ? "0" : trimmed;
}

function decodeScalar(kind: ColumnKind, raw: unknown): Value {
  switch (kind) {
    case "String":
      return { kind, value: String(raw) };
    case "Int":
      return { kind, value: Number(raw) };
    case "Bool":
      return { kind, value: raw === true || raw === "t" || raw === "true" };
    case "Int8":
    case "BigInt":
    case "Timestamp":
      return { kind, value: BigInt(String(raw)) };
    case "BigDecimal":
      return { kind, value: canonicalDecimal(String(raw)) };
    case "Bytes": {
      const text = String(raw);
      return { kind, value: hexToBytes(text.startsWith("\\x") ? text.slice(2) : text) };
    }
  }
}

/** Decodes a value read with {@link readExpr}. */
export function decodeValue(kind: ColumnKind, list: boolean, raw: unknown): Value {
  if (raw === null || raw === undefined) return { kind: "Null" };
  if (list) {
    if (!Array.isArray(raw)) throw new Error(`decodeValue: expected an array for a ${kind} list`);
    return { kind: "List", value: raw.map((item: unknown) => decodeScalar(kind, item)) };
  }
  return decodeScalar(kind, raw);
}

/** The id of an entity as the head and the wasm runtime key it: the string, `0x` hex of Bytes, or the Int8 decimal. */
export function idString(value: Value): string {
  switch (value.kind) {
    case "String":
      return value.value;
    case "Bytes":
      return bytesToHex(value.value);
    case "Int8":
      return value.value.toString();
    default:
      throw new Error(`idString: an id cannot be ${value.kind}`);
  }
}

/** Parses an id string back into the id's value. */
export function idValue(kind: IdKind, id: string): Value {
  if (kind === "String") return { kind, value: id };
  if (kind === "Bytes") return { kind, value: hexToBytes(id) };
  return { kind, value: BigInt(id) };
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A value as graph-node's GraphQL API prints it: Int as a number, Int8/BigInt/BigDecimal/Timestamp as strings, Bytes as 0x hex. */
export function valueToJson(value: Value): Json {
  switch (value.kind) {
    case "String":
    case "BigDecimal":
    case "Int":
    case "Bool":
      return value.value;
    case "Int8":
    case "BigInt":
    case "Timestamp":
      return value.value.toString();
    case "Bytes":
      return bytesToHex(value.value);
    case "List":
      return value.value.map(valueToJson);
    case "Null":
      return null;
  }
}
