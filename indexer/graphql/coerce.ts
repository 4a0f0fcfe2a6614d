/**
 * Argument coercion as graph-node does it (graphql/src/values/coercion.rs), on the graphql-js types of the API
 * schema: defaults applied, unknown arguments dropped, unknown input-object keys and ill-typed values rejected with
 * `Invalid value provided for argument …`. Scalars follow graph-node's rules: BigInt/ID accept strings and ints,
 * BigDecimal strings, ints and floats, Int only 32-bit ints, Bytes/String/Timestamp strings.
 */
import {
  GraphQLEnumType,
  GraphQLInputObjectType,
  GraphQLList,
  GraphQLNonNull,
  GraphQLScalarType,
  type GraphQLArgument,
  type GraphQLInputType,
} from "graphql";
import { EnumValue, err, type Location, type QueryError } from "./errors.ts";

const FAIL = Symbol("coercion failed");
type Coerced = unknown;

function coerceScalar(name: string, value: unknown): Coerced | typeof FAIL {
  const isInt = typeof value === "number" && Number.isInteger(value);
  switch (name) {
    case "Boolean":
      return typeof value === "boolean" ? value : FAIL;
    case "BigDecimal":
      return typeof value === "string" || typeof value === "number" ? String(value) : FAIL;
    case "Int":
      return isInt && (value as number) >= -2147483648 && (value as number) <= 2147483647
        ? value
        : FAIL;
    case "Int8":
      return isInt || typeof value === "bigint" ? String(value) : FAIL;
    case "Timestamp":
      return typeof value === "string" && /^-?\d+$/.test(value) ? value : FAIL;
    case "String":
    case "Bytes":
      return typeof value === "string" ? value : FAIL;
    case "ID":
    case "BigInt":
      return typeof value === "string"
        ? value
        : isInt || typeof value === "bigint"
          ? String(value)
          : FAIL;
    case "Float":
      return typeof value === "number" ? value : FAIL;
    default:
      return FAIL;
  }
}

export function coerceValue(value: unknown, type: GraphQLInputType): Coerced | typeof FAIL {
  if (type instanceof GraphQLNonNull) {
    if (value === null || value === undefined) return FAIL;
    return coerceValue(value, type.ofType);
  }
  if (value === null || value === undefined) return null;
  if (type instanceof GraphQLList) {
    const items = Array.isArray(value) ? value : [value];
    const out: unknown[] = [];
    for (const item of items) {
      const c = coerceValue(item, type.ofType);
      if (c === FAIL) return FAIL;
      out.push(c);
    }
    return out;
  }
  if (type instanceof GraphQLEnumType) {
    const name = value instanceof EnumValue ? value.name : typeof value === "string" ? value : null;
    return name !== null && type.getValue(name) !== undefined ? name : FAIL;
  }
  if (type instanceof GraphQLScalarType) {
    if (value instanceof EnumValue) return FAIL;
    return coerceScalar(type.name, value);
  }
  if (type instanceof GraphQLInputObjectType) {
    if (typeof value !== "object" || Array.isArray(value) || value instanceof EnumValue)
      return FAIL;
    const fields = type.getFields();
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
      const def = fields[key];
      if (def === undefined) return FAIL;
      const c =
        v === undefined && def.defaultValue !== undefined
          ? def.defaultValue
          : coerceValue(v, def.type);
      if (c === FAIL) return FAIL;
      out[key] = c;
    }
    return out;
  }
  return FAIL;
}

/** Coerces a field's arguments; returns the coerced map or the errors. */
export function coerceArguments(
  defs: readonly GraphQLArgument[],
  given: ReadonlyMap<string, unknown>,
  loc: Location,
): { args: Record<string, unknown>; errors: QueryError[] } {
  const args: Record<string, unknown> = {};
  const errors: QueryError[] = [];
  for (const def of defs) {
    let value = given.get(def.name);
    if (value === undefined) value = def.defaultValue;
    if (value === undefined) {
      if (def.type instanceof GraphQLNonNull) errors.push(err.missingArgument(loc, def.name));
      continue;
    }
    const c = coerceValue(value, def.type);
    if (c === FAIL) errors.push(err.invalidArgument(loc, def.name, value));
    else args[def.name] = c;
  }
  return { args, errors };
}
