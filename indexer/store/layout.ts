/**
 * The relational layout of a deployment, following graph-node's `Layout` (store/postgres/src/relational.rs and
 * relational/ddl.rs): one schema per deployment (`sgd<N>`), one table per entity type named after the type in
 * snake_case, columns named after the fields in snake_case, and for every row a `vid` plus its validity:
 *
 *   - mutable types: `block_range int4range` — the version is visible at block b iff `block_range @> b`;
 *     the current version has an open upper bound; a GiST index on `block_range` serves time travel;
 *   - immutable types (`@entity(immutable: true)`): `block$ int4`, the block the entity was created at; it is
 *     visible at b iff `block$ <= b`.
 *
 * The registry `dml_indexer.deployments` maps a deployment to its schema and holds its block pointer and error
 * state (graph-node's `subgraphs.subgraph_deployment`); `sgd<N>."blocks$"` keeps the pointer of every committed block
 * so a query can time-travel by hash and a revert knows where it lands.
 */
import type { EntityTypeModel, SchemaModel } from "./schema-model.ts";
import { columnSqlType, ident, idSqlType, readExpr, columnKind } from "./sql-values.ts";

export const REGISTRY_SCHEMA = "dml_indexer";
export const BLOCKS_TABLE = "blocks$";
export const BLOCK_RANGE = "block_range";
export const BLOCK_COLUMN = "block$";

export const REGISTRY_DDL = `
create schema if not exists ${REGISTRY_SCHEMA};
create table if not exists ${REGISTRY_SCHEMA}.deployments (
  id serial primary key,
  deployment text not null unique,
  schema_name text not null unique,
  schema_sdl text not null,
  latest_block_number int4,
  latest_block_hash bytea,
  latest_block_timestamp int8,
  first_error_block int4,
  fatal_error text
);`;

/** `"sgd1"."job"` */
export function tableRef(schemaName: string, type: EntityTypeModel): string {
  return `${ident(schemaName)}.${ident(type.table)}`;
}

export function blocksRef(schemaName: string): string {
  return `${ident(schemaName)}.${ident(BLOCKS_TABLE)}`;
}

/** The DDL that creates a deployment's schema, its block table and one table per entity type. */
export function deploymentDdl(model: SchemaModel, schemaName: string): string {
  const s = ident(schemaName);
  const out: string[] = [
    `create schema ${s};`,
    `create table ${blocksRef(schemaName)} (number int4 primary key, hash bytea not null, timestamp int8 not null);`,
    `create index ${ident("blocks$_hash")} on ${blocksRef(schemaName)} (hash);`,
  ];
  for (const type of model.entities.values()) {
    const t = tableRef(schemaName, type);
    const columns = [`vid bigserial primary key`];
    for (const f of type.stored) {
      const sqlType = f.name === "id" ? idSqlType(type.idKind) : columnSqlType(model, f);
      columns.push(`${ident(f.column)} ${sqlType}${f.nonNull ? " not null" : ""}`);
    }
    columns.push(
      type.immutable ? `${ident(BLOCK_COLUMN)} int4 not null` : `${BLOCK_RANGE} int4range not null`,
    );
    out.push(`create table ${t} (\n  ${columns.join(",\n  ")}\n);`);
    const idx = (suffix: string) => ident(`${type.table}_${suffix}`);
    if (type.immutable) {
      out.push(`create unique index ${idx("id")} on ${t} (id);`);
      out.push(`create index ${idx("block")} on ${t} (${ident(BLOCK_COLUMN)});`);
    } else {
      out.push(`create index ${idx("block_range")} on ${t} using gist (${BLOCK_RANGE});`);
      out.push(`create index ${idx("id_lower")} on ${t} (id, lower(${BLOCK_RANGE}));`);
      out.push(
        `create unique index ${idx("id_current")} on ${t} (id) where upper_inf(${BLOCK_RANGE});`,
      );
    }
    for (const f of type.stored) {
      if (f.name === "id" || f.base.kind !== "entity") continue;
      out.push(
        `create index ${idx(`${f.column}_ref`)} on ${t} ${f.list ? "using gin " : ""}(${ident(f.column)});`,
      );
    }
  }
  return out.join("\n");
}

/** `alias.col1::text as "field1", …` for every stored field of `type`. */
export function selectList(model: SchemaModel, type: EntityTypeModel, alias: string): string {
  return type.stored
    .map((f) => {
      const kind = f.name === "id" ? type.idKind : columnKind(model, f);
      return `${readExpr(`${alias}.${ident(f.column)}`, kind, f.list)} as ${ident(f.name)}`;
    })
    .join(", ");
}

/** The predicate "this row is the version visible at block `blockParam`". */
export function visibleAt(type: EntityTypeModel, alias: string, blockParam: string): string {
  return type.immutable
    ? `${alias}.${ident(BLOCK_COLUMN)} <= ${blockParam}`
    : `${alias}.${BLOCK_RANGE} @> ${blockParam}::int4`;
}
