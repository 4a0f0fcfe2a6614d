/**
 * The GraphQL API schema derived from the subgraph's schema as graph-node's `api_schema` (graph/src/schema/api.rs)
 * derives it: for every entity type `T`, the query fields `t(id:, block:, subgraphError:)` and
 * `ts(skip:, first:, orderBy:, orderDirection:, where:, block:, subgraphError:)`, the enum `T_orderBy` (every field,
 * plus `field__child` for the scalar fields of a single referenced entity) and the input `T_filter` (per field the
 * operators its type allows, `field_` child filters, `_change_block`, `and`, `or`); list fields that reference
 * entities take the collection arguments too; `_meta(block:)` gives the block, deployment and error flag.
 *
 * Built as SDL and handed to graphql-js, which gives the schema its types, coercion helpers and introspection.
 * Interfaces are not exposed as query fields (see docs/indexer-store.md).
 */
import { buildSchema, type GraphQLSchema } from "graphql";
import type { EntityTypeModel, FieldModel, SchemaModel } from "../store/schema-model.ts";
import { queryFieldNames } from "./names.ts";

export const FILTER_OPS = [
  "",
  "not",
  "gt",
  "lt",
  "gte",
  "lte",
  "in",
  "not_in",
  "contains",
  "contains_nocase",
  "not_contains",
  "not_contains_nocase",
  "starts_with",
  "starts_with_nocase",
  "not_starts_with",
  "not_starts_with_nocase",
  "ends_with",
  "ends_with_nocase",
  "not_ends_with",
  "not_ends_with_nocase",
] as const;
export type FilterOp = (typeof FILTER_OPS)[number];

const CMP: readonly FilterOp[] = ["", "not", "gt", "lt", "gte", "lte", "in", "not_in"];

/** graph-node's `field_filter_ops` for object types. */
function scalarOps(typeName: string): readonly FilterOp[] {
  switch (typeName) {
    case "Boolean":
      return ["", "not", "in", "not_in"];
    case "Bytes":
      return [...CMP, "contains", "not_contains"];
    case "ID":
    case "BigInt":
    case "BigDecimal":
    case "Int":
    case "Int8":
    case "Timestamp":
      return CMP;
    case "String":
      return FILTER_OPS;
    default:
      return ["", "not"];
  }
}

/** What one key of a `T_filter` input means. */
export type FilterKey =
  | {
      readonly kind: "field";
      readonly field: FieldModel;
      readonly op: FilterOp;
      readonly valueType: string;
    }
  | { readonly kind: "child"; readonly field: FieldModel; readonly child: string }
  | { readonly kind: "and" }
  | { readonly kind: "or" }
  | { readonly kind: "change_block" };

export type QueryField =
  | { readonly kind: "single"; readonly type: EntityTypeModel }
  | { readonly kind: "collection"; readonly type: EntityTypeModel }
  | { readonly kind: "meta" };

export interface ApiSchema {
  readonly model: SchemaModel;
  readonly sdl: string;
  readonly schema: GraphQLSchema;
  readonly queryFields: ReadonlyMap<string, QueryField>;
  /** `T_filter` → key → meaning. */
  readonly filters: ReadonlyMap<string, ReadonlyMap<string, FilterKey>>;
}

const META_SDL = `
"The type for the top-level _meta field"
type _Meta_ {
  block: _Block_!
  deployment: String!
  hasIndexingErrors: Boolean!
}
type _Block_ {
  hash: Bytes
  number: Int!
  timestamp: Int
  parentHash: Bytes
}
input BlockChangedFilter { number_gte: Int! }
input Block_height { hash: Bytes number: Int number_gte: Int }
enum OrderDirection { asc desc }
enum _SubgraphErrorPolicy_ { allow deny }
scalar BigDecimal
scalar Bytes
scalar BigInt
scalar Int8
scalar Timestamp
`;

function idFilterScalar(model: SchemaModel, typeName: string): string {
  const target = model.entities.get(typeName);
  return target?.idKind === "Int8" ? "Int" : "String";
}

function supportsNocase(model: SchemaModel, field: FieldModel): boolean {
  if (field.base.kind === "scalar") return field.base.scalar === "String";
  if (field.base.kind === "entity")
    return (model.entities.get(field.base.name)?.idKind ?? "String") === "String";
  return false;
}

function baseName(field: FieldModel): string {
  return field.base.kind === "scalar" ? field.base.scalar : field.base.name;
}

function filterInputs(model: SchemaModel, type: EntityTypeModel): Map<string, FilterKey> {
  const keys = new Map<string, FilterKey>();
  const add = (field: FieldModel, op: FilterOp, valueType: string) =>
    keys.set(op === "" ? field.name : `${field.name}_${op}`, {
      kind: "field",
      field,
      op,
      valueType,
    });
  for (const field of type.fields) {
    const name = baseName(field);
    if (field.list) {
      if (field.derivedFrom === null) {
        const item = field.base.kind === "entity" ? idFilterScalar(model, field.base.name) : name;
        const ops: readonly FilterOp[] = supportsNocase(model, field)
          ? ["", "not", "contains", "contains_nocase", "not_contains", "not_contains_nocase"]
          : ["", "not", "contains", "not_contains"];
        for (const op of ops) add(field, op, `[${item}!]`);
      }
      if (field.base.kind === "entity")
        keys.set(`${field.name}_`, { kind: "child", field, child: field.base.name });
      continue;
    }
    if (field.base.kind === "entity") {
      if (field.derivedFrom === null) {
        const scalar = idFilterScalar(model, field.base.name);
        for (const op of scalarOps(scalar))
          add(field, op, op === "in" || op === "not_in" ? `[${scalar}!]` : scalar);
      }
      keys.set(`${field.name}_`, { kind: "child", field, child: field.base.name });
      continue;
    }
    const ops =
      field.base.kind === "enum" ? (["", "not", "in", "not_in"] as const) : scalarOps(name);
    for (const op of ops) add(field, op, op === "in" || op === "not_in" ? `[${name}!]` : name);
  }
  keys.set("_change_block", { kind: "change_block" });
  keys.set("and", { kind: "and" });
  keys.set("or", { kind: "or" });
  return keys;
}

function orderByValues(model: SchemaModel, type: EntityTypeModel): string[] {
  const values: string[] = [];
  for (const field of type.fields) {
    values.push(field.name);
    if (field.list || field.base.kind !== "entity") continue;
    const child = model.entities.get(field.base.name);
    if (child === undefined) continue;
    for (const cf of child.fields) {
      if (cf.list || cf.base.kind === "entity") continue;
      values.push(`${field.name}__${cf.name}`);
    }
  }
  return values;
}

const collectionArgs = (typeName: string) =>
  `skip: Int = 0, first: Int = 100, orderBy: ${typeName}_orderBy, orderDirection: OrderDirection, where: ${typeName}_filter`;

/** Derives the API schema. */
export function buildApiSchema(model: SchemaModel): ApiSchema {
  const parts: string[] = [META_SDL];
  const filters = new Map<string, ReadonlyMap<string, FilterKey>>();
  const queryFields = new Map<string, QueryField>();
  const queryLines: string[] = [];
  for (const [name, values] of model.enums) parts.push(`enum ${name} { ${values.join(" ")} }`);
  for (const type of model.entities.values()) {
    const fields = type.fields.map((f) => {
      const args = f.list && f.base.kind === "entity" ? `(${collectionArgs(f.base.name)})` : "";
      return `  ${f.name}${args}: ${f.typeText}`;
    });
    parts.push(`type ${type.name} {\n${fields.join("\n")}\n}`);
    parts.push(`enum ${type.name}_orderBy { ${orderByValues(model, type).join(" ")} }`);
    const keys = filterInputs(model, type);
    filters.set(`${type.name}_filter`, keys);
    const inputs: string[] = [];
    for (const [key, meaning] of keys) {
      switch (meaning.kind) {
        case "field":
          inputs.push(`  ${key}: ${meaning.valueType}`);
          break;
        case "child":
          inputs.push(`  ${key}: ${meaning.child}_filter`);
          break;
        case "change_block":
          inputs.push(`  ${key}: BlockChangedFilter`);
          break;
        case "and":
        case "or":
          inputs.push(`  ${key}: [${type.name}_filter]`);
          break;
      }
    }
    parts.push(`input ${type.name}_filter {\n${inputs.join("\n")}\n}`);
    const { singular, plural } = queryFieldNames(type.name);
    const errorArg = "subgraphError: _SubgraphErrorPolicy_! = deny";
    queryLines.push(`  ${singular}(id: ID!, block: Block_height, ${errorArg}): ${type.name}`);
    queryLines.push(
      `  ${plural}(${collectionArgs(type.name)}, block: Block_height, ${errorArg}): [${type.name}!]!`,
    );
    queryFields.set(singular, { kind: "single", type });
    queryFields.set(plural, { kind: "collection", type });
  }
  queryLines.push(`  "Access to subgraph metadata"\n  _meta(block: Block_height): _Meta_`);
  queryFields.set("_meta", { kind: "meta" });
  parts.push(`type Query {\n${queryLines.join("\n")}\n}`);
  const sdl = parts.join("\n\n");
  return { model, sdl, schema: buildSchema(sdl), queryFields, filters };
}
