/**
 * Translates a collection query's `where`, `orderBy`/`orderDirection`, `first`/`skip` and block into SQL, following
 * graph-node's `build_query` (graphql/src/store/query.rs) and `FilterQuery` (store/postgres/src/relational_queries.rs):
 *
 *   - `field: v` → `=`, `_not` → `<>` (or `is null` / `is not null` for null), `_gt`… → comparisons, `_in`/`_not_in`
 *     → `= any(…)`; `_contains` on strings → `like '%v%'` (on Bytes `position(…) > 0`, on lists `@>`, and
 *     `_not_contains` on lists → no overlap `&&`), `_starts_with`/`_ends_with` → `like 'v%'`/`'%v'`, `_nocase` →
 *     `ilike`; like graph-node, the value is not escaped (`%` and `_` keep their LIKE meaning);
 *   - `field_: {…}` → `exists` over the referenced (or deriving) entities visible at the same block;
 *   - `and`/`or` → conjunction/disjunction; `or` mixed with column filters at the same level is an error;
 *   - ordering by a field sorts by it then by `id` in the same direction (nulls last ascending, first descending);
 *     `field__child` sorts by the referenced entity's field; the default order is `id` ascending.
 *
 * Every value is a parameter.
 */
import type { Value } from "../types.ts";
import { BLOCK_COLUMN, BLOCK_RANGE, tableRef, visibleAt } from "../store/layout.ts";
import type { EntityTypeModel, FieldModel, SchemaModel } from "../store/schema-model.ts";
import {
  Params,
  columnKind,
  hexToBytes,
  ident,
  valueExpr,
  type ColumnKind,
} from "../store/sql-values.ts";
import type { ApiSchema, FilterKey, FilterOp } from "./api-schema.ts";
import { err } from "./errors.ts";

export const MAX_FIRST = 1000;
export const MAX_SKIP = 4294967295;
export const DEFAULT_FIRST = 100;

export interface SqlContext {
  readonly api: ApiSchema;
  readonly schemaName: string;
  readonly params: Params;
  /** The `$n` holding the block number the query runs at. */
  readonly block: string;
  aliasCounter: number;
}

function model(ctx: SqlContext): SchemaModel {
  return ctx.api.model;
}

function entity(ctx: SqlContext, name: string): EntityTypeModel {
  const type = model(ctx).entities.get(name);
  if (type === undefined) throw err.namedType(name);
  return type;
}

function nextAlias(ctx: SqlContext): string {
  ctx.aliasCounter += 1;
  return `c${ctx.aliasCounter}`;
}

/** The SQL condition joining rows `child` of `childType` to the parent row `parent` through `field` of the parent. */
export function joinCondition(
  ctx: SqlContext,
  field: FieldModel,
  parent: string,
  child: string,
): string {
  if (field.base.kind !== "entity") throw err.entityField("?", field.name);
  if (field.derivedFrom === null) {
    const col = `${parent}.${ident(field.column)}`;
    return field.list ? `${child}.id = any(${col})` : `${child}.id = ${col}`;
  }
  const childType = entity(ctx, field.base.name);
  const back = childType.field.get(field.derivedFrom);
  if (back === undefined) throw err.entityField(childType.name, field.derivedFrom);
  const col = `${child}.${ident(back.column)}`;
  return back.list ? `${col} @> array[${parent}.id]` : `${col} = ${parent}.id`;
}

/** Converts one filter value (already coerced by the API schema) into a store value of `kind`. */
function toValue(kind: ColumnKind, typeName: string, raw: unknown): Value {
  if (raw === null) return { kind: "Null" };
  const text = String(raw);
  switch (kind) {
    case "String":
      return { kind, value: text };
    case "Int":
      return { kind, value: Number(raw) };
    case "Bool":
      return { kind, value: raw === true };
    case "Int8":
    case "BigInt":
    case "Timestamp":
      if (!/^-?\d+$/.test(text)) throw err.valueParse(typeName, `invalid digit found in string`);
      return { kind, value: BigInt(text) };
    case "BigDecimal":
      if (!/^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text))
        throw err.valueParse("BigDecimal", "failed to parse decimal");
      return { kind, value: text };
    case "Bytes": {
      const body = text.startsWith("0x") ? text.slice(2) : text;
      if (body.length % 2 !== 0) throw err.valueParse("Bytes", "Odd number of digits");
      if (!/^[0-9a-fA-F]*$/.test(body)) throw err.valueParse("Bytes", "Invalid character");
      return { kind, value: hexToBytes(body) };
    }
  }
}

function fieldKind(ctx: SqlContext, type: EntityTypeModel, field: FieldModel): ColumnKind {
  return field.name === "id" ? type.idKind : columnKind(model(ctx), field);
}

function likePattern(op: FilterOp, s: string): string {
  if (op.includes("contains")) return s.startsWith("%") || s.endsWith("%") ? s : `%${s}%`;
  if (op.includes("starts_with")) return `${s}%`;
  return `%${s}`;
}

function fieldFilter(
  ctx: SqlContext,
  type: EntityTypeModel,
  alias: string,
  spec: Extract<FilterKey, { kind: "field" }>,
  raw: unknown,
): string {
  const { field, op } = spec;
  const col = `${alias}.${ident(field.column)}`;
  const kind = fieldKind(ctx, type, field);
  const typeName = field.base.kind === "scalar" ? field.base.scalar : field.base.name;
  const p = ctx.params;
  const scalar = (v: unknown) => valueExpr(p, kind, false, toValue(kind, typeName, v));
  const list = (vs: readonly unknown[]) =>
    valueExpr(p, kind, true, { kind: "List", value: vs.map((v) => toValue(kind, typeName, v)) });
  const key = op === "" ? field.name : `${field.name}_${op}`;

  if (raw === null) {
    if (op === "") return `${col} is null`;
    if (op === "not") return `${col} is not null`;
    throw err.unsupportedFilter(key, "null");
  }
  if (field.list) {
    const items = raw as unknown[];
    switch (op) {
      case "":
        return `${col} = ${list(items)}`;
      case "not":
        return `${col} <> ${list(items)}`;
      case "contains":
        return `${col} @> ${list(items)}`;
      case "not_contains":
        return `not ${col} && ${list(items)}`;
      case "contains_nocase":
      case "not_contains_nocase": {
        const any = `exists (select 1 from unnest(${col}) as elem where elem ilike any(${list(items)}))`;
        return op === "contains_nocase" ? any : `not ${any}`;
      }
      default:
        throw err.unsupportedFilter(key, JSON.stringify(raw));
    }
  }
  switch (op) {
    case "":
      return `${col} = ${scalar(raw)}`;
    case "not":
      return `${col} <> ${scalar(raw)}`;
    case "gt":
      return `${col} > ${scalar(raw)}`;
    case "lt":
      return `${col} < ${scalar(raw)}`;
    case "gte":
      return `${col} >= ${scalar(raw)}`;
    case "lte":
      return `${col} <= ${scalar(raw)}`;
    case "in":
    case "not_in": {
      const items = raw as unknown[];
      const nonNull = items.filter((v) => v !== null);
      const hasNull = nonNull.length < items.length;
      const parts: string[] = [];
      if (nonNull.length > 0) parts.push(`${col} = any(${list(nonNull)})`);
      if (hasNull) parts.push(`${col} is null`);
      const any = parts.length === 0 ? "false" : `(${parts.join(" or ")})`;
      return op === "in" ? any : `not ${any}`;
    }
    default:
      break;
  }
  // The string operators.
  if (kind === "Bytes" && (op === "contains" || op === "not_contains")) {
    const pos = `position(${scalar(raw)} in ${col})`;
    return op === "contains" ? `${pos} > 0` : `${pos} = 0`;
  }
  if (kind !== "String") throw err.unsupportedFilter(key, JSON.stringify(raw));
  const negated = op.startsWith("not_");
  const nocase = op.endsWith("_nocase");
  const pattern = p.add(likePattern(op, String(raw)));
  return `${col} ${negated ? "not " : ""}${nocase ? "ilike" : "like"} ${pattern}`;
}

/** The SQL condition for a `where` object on rows `alias` of `type`. */
export function whereSql(
  ctx: SqlContext,
  type: EntityTypeModel,
  alias: string,
  where: Record<string, unknown>,
): string {
  const keys = ctx.api.filters.get(`${type.name}_filter`);
  if (keys === undefined) throw err.invalidFilter();
  if ("or" in where) {
    const columns = Object.keys(where).filter(
      (k) => k !== "or" && k !== "and" && k !== "_change_block",
    );
    if (columns.length > 0) throw err.invalidOrFilter(columns);
  }
  const parts: string[] = [];
  for (const [key, raw] of Object.entries(where)) {
    const spec = keys.get(key);
    if (spec === undefined) throw err.entityField(type.name, key);
    switch (spec.kind) {
      case "and":
      case "or": {
        if (raw === null) break;
        const subs = (raw as unknown[]).map((item) => {
          if (item === null || typeof item !== "object") throw err.invalidFilter();
          return `(${whereSql(ctx, type, alias, item as Record<string, unknown>)})`;
        });
        if (spec.kind === "and") parts.push(subs.length === 0 ? "true" : subs.join(" and "));
        else parts.push(subs.length === 0 ? "false" : `(${subs.join(" or ")})`);
        break;
      }
      case "change_block": {
        if (raw === null) break;
        const n = ctx.params.add((raw as { number_gte: number }).number_gte);
        parts.push(
          type.immutable
            ? `${alias}.${ident(BLOCK_COLUMN)} >= ${n}::int4`
            : `lower(${alias}.${BLOCK_RANGE}) >= ${n}::int4`,
        );
        break;
      }
      case "child": {
        if (raw === null) break;
        const childType = entity(ctx, spec.child);
        const c = nextAlias(ctx);
        const sub = whereSql(ctx, childType, c, raw as Record<string, unknown>);
        parts.push(
          `exists (select 1 from ${tableRef(ctx.schemaName, childType)} ${c} where ${visibleAt(childType, c, ctx.block)}` +
            ` and ${joinCondition(ctx, spec.field, alias, c)} and (${sub}))`,
        );
        break;
      }
      case "field":
        parts.push(fieldFilter(ctx, type, alias, spec, raw));
        break;
    }
  }
  return parts.length === 0 ? "true" : parts.join(" and ");
}

/** `order by …` for a collection of `type` rows `alias`. */
export function orderSql(
  ctx: SqlContext,
  type: EntityTypeModel,
  alias: string,
  orderBy: string | undefined,
  direction: string | undefined,
): string {
  const dir = direction === "desc" ? " desc" : "";
  // Without orderBy graph-node sorts by id ascending whatever orderDirection says (EntityOrder::Default).
  if (orderBy === undefined || orderBy === null) return `order by ${alias}.id`;
  const [first, second] = orderBy.split("__") as [string, string | undefined];
  const field = type.field.get(first);
  if (field === undefined) throw err.entityField(type.name, first);
  if (second === undefined) {
    if (field.name === "id") return `order by ${alias}.id${dir}`;
    if (field.list || field.derivedFrom !== null) {
      throw err.orderByNotSupported(type.name, field.name);
    }
    // graph-node stores enums as Postgres enum types, which sort in declaration order.
    const key =
      field.base.kind === "enum"
        ? `array_position(${ctx.params.add(field.base.values)}::text[], ${alias}.${ident(field.column)})`
        : `${alias}.${ident(field.column)}`;
    return `order by ${key}${dir}, ${alias}.id${dir}`;
  }
  if (field.base.kind !== "entity" || field.list) throw err.entityField(type.name, first);
  const childType = entity(ctx, field.base.name);
  const childField = childType.field.get(second);
  if (childField === undefined) throw err.entityField(childType.name, second);
  const c = nextAlias(ctx);
  const childCol =
    childField.base.kind === "enum"
      ? `array_position(${ctx.params.add(childField.base.values)}::text[], ${c}.${ident(childField.column)})`
      : `${c}.${ident(childField.column)}`;
  const key =
    `(select ${childCol} from ${tableRef(ctx.schemaName, childType)} ${c}` +
    ` where ${visibleAt(childType, c, ctx.block)} and ${joinCondition(ctx, field, alias, c)} limit 1)`;
  return `order by ${key}${dir}, ${alias}.id${dir}`;
}

/** Validates `first` and `skip` as graph-node's `build_range`. */
export function rangeOf(args: Record<string, unknown>): { first: number; skip: number } {
  const first =
    args.first === undefined || args.first === null ? DEFAULT_FIRST : Number(args.first);
  if (!(first > 0 && first <= MAX_FIRST)) throw err.range("first", MAX_FIRST, first);
  const skip = args.skip === undefined || args.skip === null ? 0 : Number(args.skip);
  if (!(skip >= 0 && skip <= MAX_SKIP)) throw err.range("skip", MAX_SKIP, skip);
  return { first, skip };
}
