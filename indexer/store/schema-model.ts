/**
 * The subgraph's schema.graphql as the local graph host sees it: entity types, their fields and how each field is
 * stored, following graph-node's `InputSchema` (graph/src/schema/input). Parsed with graphql-js after declaring
 * graph-node's directives and scalars, so a schema `graph build` accepts is accepted here.
 *
 * Shared by the store (tables and columns), the GraphQL API (filters, ordering) and the wasm runtime (entity
 * validation before `store.set`).
 */
import {
  GraphQLEnumType,
  GraphQLInterfaceType,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLScalarType,
  buildSchema,
  getNamedType,
  type GraphQLField,
  type GraphQLOutputType,
} from "graphql";
import type { Entity, Value } from "../types.ts";

/** graph-node's directives and scalars (graph/src/schema/meta.graphql), declared before the subgraph's types. */
export const GRAPH_NODE_PRELUDE = `
directive @entity(immutable: Boolean, timeseries: Boolean) on OBJECT
directive @derivedFrom(field: String!) on FIELD_DEFINITION
directive @subgraphId(id: String!) on OBJECT
directive @fulltext(name: String!, language: String, algorithm: String, include: [FulltextInclude!]!) on OBJECT
directive @aggregation(intervals: [String!]!, source: String!) on OBJECT
directive @aggregate(fn: String!, arg: String, cumulative: Boolean) on FIELD_DEFINITION
input FulltextInclude { entity: String!, fields: [FulltextField!]! }
input FulltextField { name: String! }
scalar BigDecimal
scalar Bytes
scalar BigInt
scalar Int8
scalar Timestamp
`;

export const SCALAR_KINDS = [
  "ID",
  "String",
  "Bytes",
  "BigInt",
  "BigDecimal",
  "Int",
  "Int8",
  "Boolean",
  "Timestamp",
] as const;
export type ScalarKind = (typeof SCALAR_KINDS)[number];

/** The type an entity's `id` may have (graph-node's `IdType`). */
export type IdKind = "String" | "Bytes" | "Int8";

/** A field's base type: a scalar, an enum (stored as text), or a reference to another entity type (by id). */
export type BaseType =
  | { readonly kind: "scalar"; readonly scalar: ScalarKind }
  | { readonly kind: "enum"; readonly name: string; readonly values: readonly string[] }
  | { readonly kind: "entity"; readonly name: string };

export interface FieldModel {
  readonly name: string;
  /** Column name: the field name in snake_case, as graph-node's `SqlName`. */
  readonly column: string;
  readonly base: BaseType;
  readonly list: boolean;
  readonly nonNull: boolean;
  /** The field on the referenced type this one is derived from (`@derivedFrom(field:)`); derived fields are not stored. */
  readonly derivedFrom: string | null;
  /** The field's GraphQL type as written, e.g. `[Job!]!`. */
  readonly typeText: string;
}

export interface EntityTypeModel {
  readonly name: string;
  /** Table name: the type name in snake_case. */
  readonly table: string;
  readonly immutable: boolean;
  readonly idKind: IdKind;
  /** Every field, in declaration order (including `id` and derived fields). */
  readonly fields: readonly FieldModel[];
  readonly field: ReadonlyMap<string, FieldModel>;
  /** Stored fields (not derived), `id` first. */
  readonly stored: readonly FieldModel[];
  readonly interfaces: readonly string[];
}

export interface InterfaceModel {
  readonly name: string;
  readonly fields: readonly FieldModel[];
  readonly implementers: readonly string[];
}

export interface SchemaModel {
  /** The subgraph's schema text as given. */
  readonly sdl: string;
  readonly entities: ReadonlyMap<string, EntityTypeModel>;
  readonly interfaces: ReadonlyMap<string, InterfaceModel>;
  readonly enums: ReadonlyMap<string, readonly string[]>;
}

export const SCHEMA_ERROR_CODES = {
  invalid: "SCHEMA_INVALID",
  entityInvalid: "ENTITY_INVALID",
} as const;
export type SchemaErrorCode = (typeof SCHEMA_ERROR_CODES)[keyof typeof SCHEMA_ERROR_CODES];

export class SchemaModelError extends Error {
  override readonly name = "SchemaModelError";
  readonly code: SchemaErrorCode;
  constructor(code: SchemaErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** `fooBarBaz` → `foo_bar_baz`, `AuctionEpoch` → `auction_epoch` (graph-node's `SqlName::from`, via Inflector). */
export function snakeCase(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1_$2")
    .toLowerCase();
}

const SCALARS: ReadonlySet<string> = new Set(SCALAR_KINDS);

function fieldModel(
  field: GraphQLField<unknown, unknown>,
  entityNames: ReadonlySet<string>,
): FieldModel {
  let type: GraphQLOutputType = field.type;
  let nonNull = false;
  if (type instanceof GraphQLNonNull) {
    nonNull = true;
    type = type.ofType;
  }
  let list = false;
  if (type instanceof GraphQLList) {
    list = true;
    let inner: GraphQLOutputType = type.ofType;
    if (inner instanceof GraphQLNonNull) inner = inner.ofType;
    if (inner instanceof GraphQLList) {
      throw new SchemaModelError(
        SCHEMA_ERROR_CODES.invalid,
        `field ${field.name}: nested lists are not supported`,
      );
    }
  }
  const named = getNamedType(field.type);
  let base: BaseType;
  if (named instanceof GraphQLScalarType) {
    if (!SCALARS.has(named.name)) {
      throw new SchemaModelError(
        SCHEMA_ERROR_CODES.invalid,
        `field ${field.name}: unsupported scalar ${named.name}`,
      );
    }
    base = { kind: "scalar", scalar: named.name as ScalarKind };
  } else if (named instanceof GraphQLEnumType) {
    base = { kind: "enum", name: named.name, values: named.getValues().map((v) => v.name) };
  } else if (entityNames.has(named.name)) {
    base = { kind: "entity", name: named.name };
  } else {
    throw new SchemaModelError(
      SCHEMA_ERROR_CODES.invalid,
      `field ${field.name}: unsupported type ${named.name}`,
    );
  }
  const derived = field.astNode?.directives?.find((d) => d.name.value === "derivedFrom");
  let derivedFrom: string | null = null;
  if (derived !== undefined) {
    const arg = derived.arguments?.find((a) => a.name.value === "field");
    if (arg === undefined || arg.value.kind !== "StringValue" || base.kind !== "entity") {
      throw new SchemaModelError(
        SCHEMA_ERROR_CODES.invalid,
        `field ${field.name}: @derivedFrom needs an entity type and a field name`,
      );
    }
    derivedFrom = arg.value.value;
  }
  return {
    name: field.name,
    column: snakeCase(field.name),
    base,
    list,
    nonNull,
    derivedFrom,
    typeText: String(field.type),
  };
}

function idKindOf(fields: readonly FieldModel[], typeName: string): IdKind {
  const id = fields.find((f) => f.name === "id");
  if (id === undefined || id.list || !id.nonNull || id.base.kind !== "scalar") {
    throw new SchemaModelError(
      SCHEMA_ERROR_CODES.invalid,
      `type ${typeName}: needs an \`id\` field of type ID!, Bytes! or Int8!`,
    );
  }
  switch (id.base.scalar) {
    case "ID":
    case "String":
      return "String";
    case "Bytes":
      return "Bytes";
    case "Int8":
      return "Int8";
    default:
      throw new SchemaModelError(
        SCHEMA_ERROR_CODES.invalid,
        `type ${typeName}: illegal type for \`id\`: ${id.base.scalar}`,
      );
  }
}

/** Parses a subgraph schema into its model. @throws SchemaModelError */
export function parseSchemaModel(sdl: string): SchemaModel {
  let schema;
  try {
    schema = buildSchema(GRAPH_NODE_PRELUDE + sdl);
  } catch (e) {
    throw new SchemaModelError(
      SCHEMA_ERROR_CODES.invalid,
      `schema.graphql: ${(e as Error).message}`,
    );
  }
  const objects: GraphQLObjectType[] = [];
  const interfaceTypes: GraphQLInterfaceType[] = [];
  const enums = new Map<string, readonly string[]>();
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith("__")) continue;
    if (type instanceof GraphQLObjectType) {
      const isEntity = type.astNode?.directives?.some((d) => d.name.value === "entity") ?? false;
      if (isEntity) objects.push(type);
    } else if (type instanceof GraphQLInterfaceType) {
      interfaceTypes.push(type);
    } else if (type instanceof GraphQLEnumType) {
      enums.set(
        type.name,
        type.getValues().map((v) => v.name),
      );
    }
  }
  const entityNames = new Set(objects.map((o) => o.name));
  for (const i of interfaceTypes) entityNames.add(i.name);

  const entities = new Map<string, EntityTypeModel>();
  for (const object of objects) {
    const fields = Object.values(object.getFields()).map((f) => fieldModel(f, entityNames));
    const directive = object.astNode?.directives?.find((d) => d.name.value === "entity");
    const immutableArg = directive?.arguments?.find((a) => a.name.value === "immutable");
    const timeseriesArg = directive?.arguments?.find((a) => a.name.value === "timeseries");
    const flag = (arg: typeof immutableArg) =>
      arg !== undefined && arg.value.kind === "BooleanValue" && arg.value.value;
    entities.set(object.name, {
      name: object.name,
      table: snakeCase(object.name),
      immutable: flag(immutableArg) || flag(timeseriesArg),
      idKind: idKindOf(fields, object.name),
      fields,
      field: new Map(fields.map((f) => [f.name, f])),
      stored: [
        ...fields.filter((f) => f.name === "id"),
        ...fields.filter((f) => f.name !== "id" && f.derivedFrom === null),
      ],
      interfaces: object.getInterfaces().map((i) => i.name),
    });
  }
  const interfaces = new Map<string, InterfaceModel>();
  for (const i of interfaceTypes) {
    interfaces.set(i.name, {
      name: i.name,
      fields: Object.values(i.getFields()).map((f) => fieldModel(f, entityNames)),
      implementers: schema.getPossibleTypes(i).map((t) => t.name),
    });
  }
  for (const entity of entities.values()) {
    for (const f of entity.fields) {
      if (f.derivedFrom === null || f.base.kind !== "entity") continue;
      const target = entities.get(f.base.name);
      const back = target?.field.get(f.derivedFrom);
      if (back === undefined || back.base.kind !== "entity" || back.derivedFrom !== null) {
        throw new SchemaModelError(
          SCHEMA_ERROR_CODES.invalid,
          `${entity.name}.${f.name}: @derivedFrom(field: "${f.derivedFrom}") must name a stored reference field of ${f.base.name}`,
        );
      }
    }
  }
  return { sdl, entities, interfaces, enums };
}

/** The `Value` kind a stored field of this base type holds (references hold the target's id kind). */
export function valueKindOf(model: SchemaModel, base: BaseType): Value["kind"] {
  if (base.kind === "enum") return "String";
  if (base.kind === "entity") {
    const target = model.entities.get(base.name);
    const idKind = target?.idKind ?? "String";
    return idKind;
  }
  switch (base.scalar) {
    case "ID":
    case "String":
      return "String";
    case "Boolean":
      return "Bool";
    default:
      return base.scalar;
  }
}

function checkValue(model: SchemaModel, field: FieldModel, value: Value, where: string): void {
  const kind = valueKindOf(model, field.base);
  const check = (v: Value) => {
    if (v.kind === "Null") {
      if (field.list)
        throw new SchemaModelError(
          SCHEMA_ERROR_CODES.entityInvalid,
          `${where}: list \`${field.name}\` holds a null`,
        );
      return;
    }
    if (v.kind !== kind) {
      throw new SchemaModelError(
        SCHEMA_ERROR_CODES.entityInvalid,
        `${where}: value for field \`${field.name}\` has kind ${v.kind}, expected ${kind}`,
      );
    }
    if (field.base.kind === "enum" && v.kind === "String" && !field.base.values.includes(v.value)) {
      throw new SchemaModelError(
        SCHEMA_ERROR_CODES.entityInvalid,
        `${where}: \`${v.value}\` is not a value of enum ${field.base.name} (field \`${field.name}\`)`,
      );
    }
  };
  if (value.kind === "Null") return;
  if (field.list) {
    if (value.kind !== "List") {
      throw new SchemaModelError(
        SCHEMA_ERROR_CODES.entityInvalid,
        `${where}: field \`${field.name}\` needs a list, got ${value.kind}`,
      );
    }
    for (const v of value.value) check(v);
  } else {
    check(value);
  }
}

/**
 * Checks an entity against its type as graph-node does before writing it: every key is a stored field, every value
 * has the field's kind, and every non-null field has a value. @throws SchemaModelError (code ENTITY_INVALID)
 */
export function validateEntity(
  model: SchemaModel,
  entityType: string,
  id: string,
  data: Entity,
): void {
  const type = model.entities.get(entityType);
  const where = `Entity ${entityType}[${id}]`;
  if (type === undefined) {
    throw new SchemaModelError(
      SCHEMA_ERROR_CODES.entityInvalid,
      `${where}: unknown entity type \`${entityType}\``,
    );
  }
  for (const [key, value] of data) {
    const field = type.field.get(key);
    if (field === undefined) {
      throw new SchemaModelError(
        SCHEMA_ERROR_CODES.entityInvalid,
        `${where}: unknown key \`${key}\`. It probably is not part of the schema`,
      );
    }
    if (field.derivedFrom !== null) {
      if (value.kind === "Null") continue;
      throw new SchemaModelError(
        SCHEMA_ERROR_CODES.entityInvalid,
        `${where}: field \`${key}\` is derived and cannot be set`,
      );
    }
    checkValue(model, field, value, where);
  }
  for (const field of type.stored) {
    const value = data.get(field.name);
    if (field.nonNull && (value === undefined || value.kind === "Null")) {
      throw new SchemaModelError(
        SCHEMA_ERROR_CODES.entityInvalid,
        `${where}: missing value for non-nullable field \`${field.name}\``,
      );
    }
  }
}
