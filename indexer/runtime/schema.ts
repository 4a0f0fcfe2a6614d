/**
 * The subgraph's entity types, read from schema.graphql with graphql-js `buildASTSchema` once graph-node's
 * directives and scalars are declared. Each field gets the store value kind graph-node's `ValueType` gives it: a
 * reference to another entity (or interface) holds that entity's id type, an enum holds a String, `ID` is a String.
 */
import {
  buildASTSchema,
  getNamedType,
  GraphQLEnumType,
  GraphQLInterfaceType,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLScalarType,
  parse,
  type GraphQLField,
  type GraphQLOutputType,
} from "graphql";
import { RuntimeError, RuntimeErrorCode } from "./errors.ts";

/** A store value kind a field can hold (graph-node's `ValueType`, named after `Value`'s variants). */
export type ScalarKind =
  "String" | "Int" | "Int8" | "BigInt" | "BigDecimal" | "Bool" | "Bytes" | "Timestamp";

export interface FieldDef {
  readonly name: string;
  readonly kind: ScalarKind;
  readonly list: boolean;
  readonly nonNull: boolean;
  /** `@derivedFrom`: never stored, computed from the other side. */
  readonly derived: boolean;
  /** The field of the referencing entity that `@derivedFrom(field:)` names. */
  readonly derivedFrom?: string;
  /** The referenced entity type or interface, for relationship fields. */
  readonly reference?: string;
}

export interface EntityDef {
  readonly name: string;
  readonly immutable: boolean;
  readonly idKind: "String" | "Bytes" | "Int8";
  readonly fields: ReadonlyMap<string, FieldDef>;
}

export interface SubgraphSchema {
  readonly entities: ReadonlyMap<string, EntityDef>;
}

/** graph-node's schema prelude (graph/src/schema/…): the directives and scalars a subgraph schema may use. */
export const GRAPH_NODE_PRELUDE = `
directive @entity(immutable: Boolean = false, timeseries: Boolean = false) on OBJECT
directive @derivedFrom(field: String!) on FIELD_DEFINITION
directive @fulltext(name: String!, language: String, algorithm: String, include: [_FulltextInclude_!]!) repeatable on OBJECT
directive @aggregation(intervals: [String!]!, source: String!) on OBJECT
directive @aggregate(fn: String!, arg: String, cumulative: Boolean = false) on FIELD_DEFINITION
directive @subgraphId(id: String!) on OBJECT
directive @import(types: [_ImportType_!], from: _ImportFrom_!) repeatable on OBJECT
input _FulltextInclude_ { entity: String!, fields: [_FulltextField_!]! }
input _FulltextField_ { name: String! }
input _ImportType_ { name: String, as: String }
input _ImportFrom_ { id: String, name: String }
scalar BigDecimal
scalar BigInt
scalar Bytes
scalar Int8
scalar Timestamp
`;

const SCALARS: Record<string, ScalarKind> = {
  ID: "String",
  String: "String",
  Int: "Int",
  Int8: "Int8",
  BigInt: "BigInt",
  BigDecimal: "BigDecimal",
  Boolean: "Bool",
  Bytes: "Bytes",
  Timestamp: "Timestamp",
};

function unwrap(t: GraphQLOutputType): { nonNull: boolean; list: boolean } {
  let nonNull = false;
  let inner = t;
  if (inner instanceof GraphQLNonNull) {
    nonNull = true;
    inner = inner.ofType;
  }
  return { nonNull, list: inner instanceof GraphQLList };
}

export function parseSchema(sdl: string): SubgraphSchema {
  let schema;
  try {
    schema = buildASTSchema(parse(`${GRAPH_NODE_PRELUDE}\n${sdl}`), { assumeValidSDL: false });
  } catch (e) {
    throw new RuntimeError(
      RuntimeErrorCode.MANIFEST_INVALID,
      `schema.graphql: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
  const objects = Object.values(schema.getTypeMap()).filter(
    (t): t is GraphQLObjectType =>
      t instanceof GraphQLObjectType &&
      !t.name.startsWith("_") &&
      t.astNode?.directives?.some((d) => d.name.value === "entity") === true,
  );
  const idKindOf = (o: GraphQLObjectType | GraphQLInterfaceType): EntityDef["idKind"] => {
    const id = o.getFields().id;
    const name = id ? getNamedType(id.type).name : "ID";
    return name === "Bytes" ? "Bytes" : name === "Int8" ? "Int8" : "String";
  };
  const fieldDef = (f: GraphQLField<unknown, unknown>): FieldDef => {
    const named = getNamedType(f.type);
    const { nonNull, list } = unwrap(f.type);
    const derivedDirective = f.astNode?.directives?.find((d) => d.name.value === "derivedFrom");
    const derived = derivedDirective !== undefined;
    const fieldArg = derivedDirective?.arguments?.find((a) => a.name.value === "field")?.value;
    const derivedFrom = fieldArg?.kind === "StringValue" ? fieldArg.value : undefined;
    let kind: ScalarKind;
    let reference: string | undefined;
    if (named instanceof GraphQLScalarType) {
      const k = SCALARS[named.name];
      if (!k)
        throw new RuntimeError(RuntimeErrorCode.MANIFEST_INVALID, `unknown scalar ${named.name}`);
      kind = k;
    } else if (named instanceof GraphQLEnumType) kind = "String";
    else if (named instanceof GraphQLObjectType || named instanceof GraphQLInterfaceType) {
      kind = idKindOf(named);
      reference = named.name;
    } else
      throw new RuntimeError(
        RuntimeErrorCode.MANIFEST_INVALID,
        `field ${f.name} has unsupported type ${named.name}`,
      );
    return {
      name: f.name,
      kind,
      list,
      nonNull,
      derived,
      ...(derivedFrom !== undefined ? { derivedFrom } : {}),
      ...(reference ? { reference } : {}),
    };
  };
  const entities = new Map<string, EntityDef>();
  for (const o of objects) {
    const entityDirective = o.astNode?.directives?.find((d) => d.name.value === "entity");
    const immutableArg = entityDirective?.arguments?.find((a) => a.name.value === "immutable");
    const immutable = immutableArg?.value.kind === "BooleanValue" && immutableArg.value.value;
    if (!o.getFields().id)
      throw new RuntimeError(RuntimeErrorCode.MANIFEST_INVALID, `entity ${o.name} has no id field`);
    entities.set(o.name, {
      name: o.name,
      immutable,
      idKind: idKindOf(o),
      fields: new Map(Object.values(o.getFields()).map((f) => [f.name, fieldDef(f)])),
    });
  }
  return { entities };
}
