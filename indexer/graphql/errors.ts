/**
 * Query errors with graph-node's messages (`QueryExecutionError` in graph/src/data/query/error.rs) and its response
 * shape: `{ "message": …, "locations": [{ "line", "column" }] }`, locations only for the kinds graph-node locates.
 */

export interface Location {
  readonly line: number;
  readonly column: number;
}

export const QUERY_ERROR_CODES = {
  parse: "PARSE_ERROR",
  operationNameRequired: "OPERATION_NAME_REQUIRED",
  operationNotFound: "OPERATION_NOT_FOUND",
  notSupported: "NOT_SUPPORTED",
  unknownField: "UNKNOWN_FIELD",
  invalidArgument: "INVALID_ARGUMENT",
  missingArgument: "MISSING_ARGUMENT",
  missingVariable: "MISSING_VARIABLE",
  variable: "INVALID_VARIABLE",
  range: "RANGE_ARGUMENTS",
  invalidFilter: "INVALID_FILTER",
  invalidOrFilter: "INVALID_OR_FILTER_STRUCTURE",
  entityField: "ENTITY_FIELD",
  orderBy: "ORDER_BY_NOT_SUPPORTED",
  listTypes: "LIST_TYPES",
  valueParse: "VALUE_PARSE",
  unsupportedFilter: "FILTER_NOT_SUPPORTED",
  ambiguousDerived: "AMBIGUOUS_DERIVED_FROM",
  undefinedFragment: "UNDEFINED_FRAGMENT",
  namedType: "NAMED_TYPE",
  indexing: "INDEXING_ERROR",
  store: "STORE_ERROR",
} as const;
export type QueryErrorCode = (typeof QUERY_ERROR_CODES)[keyof typeof QUERY_ERROR_CODES];

export class QueryError extends Error {
  override readonly name = "QueryError";
  readonly code: QueryErrorCode;
  readonly locations: readonly Location[] | undefined;
  constructor(code: QueryErrorCode, message: string, location?: Location) {
    super(message);
    this.code = code;
    this.locations = location === undefined ? undefined : [location];
  }
  toJSON(): { message: string; locations?: Location[] } {
    return this.locations === undefined
      ? { message: this.message }
      : { message: this.message, locations: [...this.locations] };
  }
}

/** Raised with every error found while preparing a query (graph-node reports them together). */
export class QueryErrors extends Error {
  override readonly name = "QueryErrors";
  readonly errors: readonly QueryError[];
  constructor(errors: readonly QueryError[]) {
    super(errors.map((e) => e.message).join("; "));
    this.errors = errors;
  }
}

/**
 * Prints a query value as Rust's `Debug` prints graph-node's `q::Value`, which is how graph-node shows an invalid
 * argument: `Object({"nme": String("x")})`, `Int(Number(5))`, `List([Boolean(true)])`.
 */
export function rustDebug(value: unknown, isEnum = false): string {
  if (value === null || value === undefined) return "Null";
  if (typeof value === "boolean") return `Boolean(${value})`;
  if (typeof value === "bigint") return `Int(Number(${value}))`;
  if (typeof value === "number")
    return Number.isInteger(value) ? `Int(Number(${value}))` : `Float(${value})`;
  if (typeof value === "string")
    return isEnum ? `Enum(${JSON.stringify(value)})` : `String(${JSON.stringify(value)})`;
  if (value instanceof EnumValue) return `Enum(${JSON.stringify(value.name)})`;
  if (Array.isArray(value)) return `List([${value.map((v) => rustDebug(v)).join(", ")}])`;
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    );
    return `Object({${entries.map(([k, v]) => `${JSON.stringify(k)}: ${rustDebug(v)}`).join(", ")}})`;
  }
  return String(value);
}

/** An enum literal in a query (kept apart from strings, as graph-node's `q::Value::Enum`). */
export class EnumValue {
  readonly name: string;
  constructor(name: string) {
    this.name = name;
  }
}

export const err = {
  unknownField: (loc: Location, type: string, field: string) =>
    new QueryError(
      QUERY_ERROR_CODES.unknownField,
      `Type \`${type}\` has no field \`${field}\``,
      loc,
    ),
  invalidArgument: (loc: Location, arg: string, value: unknown) =>
    new QueryError(
      QUERY_ERROR_CODES.invalidArgument,
      `Invalid value provided for argument \`${arg}\`: ${rustDebug(value)}`,
      loc,
    ),
  missingArgument: (loc: Location, arg: string) =>
    new QueryError(
      QUERY_ERROR_CODES.missingArgument,
      `No value provided for required argument: \`${arg}\``,
      loc,
    ),
  range: (arg: "first" | "skip", max: number, actual: number) =>
    new QueryError(
      QUERY_ERROR_CODES.range,
      `The \`${arg}\` argument must be between 0 and ${max}, but is ${actual}`,
    ),
  invalidFilter: () => new QueryError(QUERY_ERROR_CODES.invalidFilter, "Filter must by an object"),
  invalidOrFilter: (columns: readonly string[]) => {
    const list = columns.map((c) => `'${c}'`).join(", ");
    const example = `Instead of:\nwhere: { ${list}, or: [...] }\n\nUse:\nwhere: { or: [{ ${list}, ... }, { ${list}, ... }] }`;
    return new QueryError(
      QUERY_ERROR_CODES.invalidOrFilter,
      `Cannot mix column filters with 'or' operator at the same level. Found column filter(s) ${list} alongside 'or' operator.\n\n${example}`,
    );
  },
  orderByNotSupported: (entity: string, field: string) =>
    new QueryError(
      QUERY_ERROR_CODES.orderBy,
      `Ordering by \`${field}\` is not supported for type \`${entity}\``,
    ),
  entityField: (entity: string, attr: string) =>
    new QueryError(
      QUERY_ERROR_CODES.entityField,
      `Entity \`${entity}\` has no attribute \`${attr}\``,
    ),
  listTypes: (filter: string, values: readonly string[]) =>
    new QueryError(
      QUERY_ERROR_CODES.listTypes,
      `Values passed to filter \`${filter}\` must be of the same type but are of different types: ${values.join(", ")}`,
    ),
  valueParse: (type: string, message: string) =>
    new QueryError(
      QUERY_ERROR_CODES.valueParse,
      `Failed to decode \`${type}\` value: \`${message}\``,
    ),
  unsupportedFilter: (filter: string, value: string) =>
    new QueryError(
      QUERY_ERROR_CODES.unsupportedFilter,
      `Filter not supported by value \`${value}\`: \`${filter}\``,
    ),
  ambiguousDerived: (loc: Location, field: string, type: string, back: string) =>
    new QueryError(
      QUERY_ERROR_CODES.ambiguousDerived,
      `Ambiguous result for derived field \`${field}\`: Multiple \`${type}\` entities refer back via \`${back}\``,
      loc,
    ),
  notSupported: (what: string) =>
    new QueryError(QUERY_ERROR_CODES.notSupported, `Not supported: ${what}`),
  operationNameRequired: () =>
    new QueryError(QUERY_ERROR_CODES.operationNameRequired, "Operation name required"),
  operationNotFound: (name: string) =>
    new QueryError(QUERY_ERROR_CODES.operationNotFound, `Operation name not found \`${name}\``),
  undefinedFragment: (name: string) =>
    new QueryError(QUERY_ERROR_CODES.undefinedFragment, `fragment \`${name}\` is not defined`),
  namedType: (name: string) =>
    new QueryError(QUERY_ERROR_CODES.namedType, `Failed to resolve named type \`${name}\``),
  /** graph-node's answer when the deployment has a deterministic error at the queried block (policy `deny`). */
  indexing: () => new QueryError(QUERY_ERROR_CODES.indexing, "indexing_error"),
};
