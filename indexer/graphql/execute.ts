/**
 * Executes GraphQL queries against the store as graph-node's query pipeline does (graphql/src/execution): parse with
 * graphql-js, pick the operation, coerce variables, check every selected field exists (`Type \`X\` has no field
 * \`y\``), coerce arguments, locate the block of each top-level field (`block: { number | hash | number_gte }`),
 * then resolve level by level: one SQL query per top-level field and one per nested entity field for all parents at
 * once (a lateral join per parent, so each parent gets its own `first`/`skip`/`where`/`orderBy`), all at the
 * located block. `_meta` reports the block, deployment and `hasIndexingErrors`; when the deployment has a
 * deterministic error at the queried block the response carries graph-node's `indexing_error` and, unless
 * `subgraphError: allow`, only `_meta`. Introspection (`__schema`, `__type`) is answered by graphql-js.
 */
import {
  GraphQLError,
  GraphQLObjectType,
  execute as executeGraphQL,
  getNamedType,
  getVariableValues,
  isLeafType,
  parse,
  type DocumentNode,
  type FragmentDefinitionNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
  type ASTNode,
} from "graphql";
import { z } from "zod";
import type { BlockPtr } from "../types.ts";
import { tableRef, selectList, visibleAt } from "../store/layout.ts";
import type { EntityTypeModel } from "../store/schema-model.ts";
import { Params, hexToBytes, valueExpr, valueToJson, type Json } from "../store/sql-values.ts";
import type { Row } from "../store/sql-driver.ts";
import type { Store } from "../store/store.ts";
import { buildApiSchema, type ApiSchema } from "./api-schema.ts";
import { coerceArguments } from "./coerce.ts";
import {
  EnumValue,
  QUERY_ERROR_CODES,
  QueryError,
  QueryErrors,
  err,
  type Location,
} from "./errors.ts";
import { joinCondition, orderSql, rangeOf, whereSql, type SqlContext } from "./sql-query.ts";

export const queryRequest = z.object({
  query: z.string().min(1),
  variables: z.record(z.string(), z.unknown()).nullish(),
  operationName: z.string().nullish(),
});
export type QueryRequest = z.infer<typeof queryRequest>;

export interface QueryResponse {
  data?: Record<string, Json>;
  errors?: { message: string; locations?: Location[] }[];
}

interface PlannedField {
  readonly key: string;
  readonly name: string;
  readonly loc: Location;
  readonly args: Record<string, unknown>;
  readonly children: PlannedField[];
}

/** The block a top-level field runs at; `hash`/`timestamp` are null when asked by number, as in graph-node. */
interface QueryBlock {
  readonly number: number;
  readonly hash: string | null;
  readonly timestamp: bigint | null;
}

const VID = "vid$";
const PARENT = "parent$";

function locOf(node: ASTNode): Location {
  const token = node.loc?.startToken;
  return { line: token?.line ?? 0, column: token?.column ?? 0 };
}

/** An AST value with variables substituted; enum literals stay {@link EnumValue}s. */
function astValue(node: ValueNode, variables: Record<string, unknown>): unknown {
  switch (node.kind) {
    case "Variable":
      return variables[node.name.value] ?? null;
    case "IntValue": {
      const n = Number(node.value);
      return Number.isSafeInteger(n) ? n : BigInt(node.value);
    }
    case "FloatValue":
      return Number(node.value);
    case "StringValue":
      return node.value;
    case "BooleanValue":
      return node.value;
    case "NullValue":
      return null;
    case "EnumValue":
      return new EnumValue(node.value);
    case "ListValue":
      return node.values.map((v) => astValue(v, variables));
    case "ObjectValue":
      return Object.fromEntries(
        node.fields.map((f) => [f.name.value, astValue(f.value, variables)]),
      );
  }
}

export class GraphQLApi {
  readonly api: ApiSchema;
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
    this.api = buildApiSchema(store.model);
  }

  /** Runs one request; never throws for a bad query (errors are in the response). */
  async execute(request: QueryRequest): Promise<QueryResponse> {
    try {
      return await this.#execute(request);
    } catch (e) {
      if (e instanceof QueryErrors) return { errors: e.errors.map((x) => x.toJSON()) };
      if (e instanceof QueryError) return { errors: [e.toJSON()] };
      if (e instanceof GraphQLError) {
        return {
          errors: [{ message: e.message, ...(e.locations ? { locations: [...e.locations] } : {}) }],
        };
      }
      return { errors: [{ message: `Store error: ${(e as Error).message}` }] };
    }
  }

  async #execute(request: QueryRequest): Promise<QueryResponse> {
    const document = parse(request.query);
    const operation = this.#operation(document, request.operationName ?? null);
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const d of document.definitions)
      if (d.kind === "FragmentDefinition") fragments.set(d.name.value, d);

    const coerced = getVariableValues(
      this.api.schema,
      operation.variableDefinitions ?? [],
      request.variables ?? {},
    );
    if (coerced.errors !== undefined) {
      throw new QueryErrors(
        coerced.errors.map((e) => new QueryError(QUERY_ERROR_CODES.variable, e.message)),
      );
    }
    const variables = coerced.coerced;
    const errors: QueryError[] = [];
    const introspection = operation.selectionSet.selections.some(
      (s) => s.kind === "Field" && (s.name.value === "__schema" || s.name.value === "__type"),
    );
    const plan = this.#plan("Query", operation.selectionSet, fragments, variables, errors);
    if (errors.length > 0) throw new QueryErrors(errors);

    let introspected: Record<string, unknown> = {};
    if (introspection) {
      const result = await executeGraphQL({
        schema: this.api.schema,
        document,
        variableValues: variables,
        operationName: request.operationName ?? undefined,
        fieldResolver: () => null,
      });
      introspected = (result.data ?? {}) as Record<string, unknown>;
    }

    const firstError = this.#store.indexingError()?.block ?? null;
    let sawErrors = false;
    let deny = false;
    const data: Record<string, Json> = {};
    for (const field of plan) {
      if (field.name === "__typename") {
        data[field.key] = "Query";
        continue;
      }
      if (field.name === "__schema" || field.name === "__type") {
        data[field.key] = (introspected[field.key] ?? null) as Json;
        continue;
      }
      const block = await this.#locateBlock(field);
      if (firstError !== null && firstError <= block.number) sawErrors = true;
      if (field.args.subgraphError !== "allow") deny = true;
      data[field.key] = await this.#resolveTop(field, block);
    }
    if (!sawErrors) return { data };
    const onlyMeta = plan.every((f) => f.name === "_meta");
    if (onlyMeta) return { data };
    if (!deny) return { data, errors: [err.indexing().toJSON()] };
    const kept: Record<string, Json> = {};
    for (const f of plan)
      if (["_meta", "__schema", "__type"].includes(f.name)) kept[f.key] = data[f.key] ?? null;
    return {
      ...(Object.keys(kept).length > 0 ? { data: kept } : {}),
      errors: [err.indexing().toJSON()],
    };
  }

  #operation(document: DocumentNode, name: string | null): OperationDefinitionNode {
    const ops = document.definitions.filter(
      (d): d is OperationDefinitionNode => d.kind === "OperationDefinition",
    );
    let op: OperationDefinitionNode | undefined;
    if (name !== null) {
      op = ops.find((o) => o.name?.value === name);
      if (op === undefined) throw err.operationNotFound(name);
    } else {
      if (ops.length !== 1) throw err.operationNameRequired();
      op = ops[0];
    }
    if (op === undefined) throw err.operationNameRequired();
    if (op.operation === "mutation") throw err.notSupported("Mutations are not supported");
    if (op.operation === "subscription") throw err.notSupported("Subscriptions are not supported");
    return op;
  }

  /** Expands fragments, checks fields and coerces arguments (graph-node's `validate_fields` and `Transform`). */
  #plan(
    typeName: string,
    selectionSet: SelectionSetNode,
    fragments: ReadonlyMap<string, FragmentDefinitionNode>,
    variables: Record<string, unknown>,
    errors: QueryError[],
  ): PlannedField[] {
    const out: PlannedField[] = [];
    const type = this.api.schema.getType(typeName);
    if (!(type instanceof GraphQLObjectType)) {
      errors.push(err.namedType(typeName));
      return out;
    }
    const skipped = (node: {
      directives?: readonly {
        name: { value: string };
        arguments?: readonly { name: { value: string }; value: ValueNode }[];
      }[];
    }) => {
      for (const d of node.directives ?? []) {
        const arg = d.arguments?.find((a) => a.name.value === "if");
        const cond = arg === undefined ? null : astValue(arg.value, variables);
        if (d.name.value === "skip" && cond === true) return true;
        if (d.name.value === "include" && cond === false) return true;
      }
      return false;
    };
    const push = (field: PlannedField) => {
      const existing = out.find((f) => f.key === field.key);
      if (existing === undefined) out.push(field);
      else
        existing.children.push(
          ...field.children.filter((c) => !existing.children.some((e) => e.key === c.key)),
        );
    };
    const visit = (set: SelectionSetNode) => {
      for (const sel of set.selections) {
        if (skipped(sel)) continue;
        if (sel.kind === "Field") {
          const name = sel.name.value;
          const key = sel.alias?.value ?? name;
          const loc = locOf(sel);
          if (name === "__typename") {
            push({ key, name, loc, args: {}, children: [] });
            continue;
          }
          const def = type.getFields()[name];
          if (def === undefined) {
            if (typeName === "Query" && (name === "__schema" || name === "__type")) {
              push({ key, name, loc, args: {}, children: [] });
            } else {
              errors.push(err.unknownField(loc, typeName, name));
            }
            continue;
          }
          const given = new Map(
            (sel.arguments ?? []).map((a) => [a.name.value, astValue(a.value, variables)]),
          );
          const { args, errors: argErrors } = coerceArguments(def.args, given, loc);
          errors.push(...argErrors);
          const named = getNamedType(def.type);
          if (isLeafType(named)) {
            push({ key, name, loc, args, children: [] });
          } else if (sel.selectionSet !== undefined) {
            push({
              key,
              name,
              loc,
              args,
              children: this.#plan(named.name, sel.selectionSet, fragments, variables, errors),
            });
          }
        } else if (sel.kind === "FragmentSpread") {
          const frag = fragments.get(sel.name.value);
          if (frag === undefined) {
            errors.push(err.undefinedFragment(sel.name.value));
            continue;
          }
          const on = frag.typeCondition.name.value;
          if (this.api.schema.getType(on) === undefined) errors.push(err.namedType(on));
          else if (on === typeName) visit(frag.selectionSet);
        } else {
          const on = sel.typeCondition?.name.value ?? typeName;
          if (this.api.schema.getType(on) === undefined) errors.push(err.namedType(on));
          else if (on === typeName) visit(sel.selectionSet);
        }
      }
    };
    visit(selectionSet);
    return out;
  }

  /** graph-node's `locate_blocks` for one top-level field. */
  async #locateBlock(field: PlannedField): Promise<QueryBlock> {
    const latest = this.#store.latestBlock();
    const deployment = this.#store.deployment;
    if (latest === null) {
      throw new QueryError(
        QUERY_ERROR_CODES.store,
        `Store error: Subgraph \`${deployment}\` has not started syncing yet. Wait for it to ingest a few blocks before querying it`,
      );
    }
    const queryable = (n: number) => {
      if (n > latest.number) {
        throw err.valueParse(
          "block.number",
          `subgraph ${deployment} has only indexed up to block number ${latest.number} and data for block number ${n} is therefore not yet available`,
        );
      }
    };
    const fromPtr = (p: BlockPtr): QueryBlock => ({
      number: p.number,
      hash: p.hash,
      timestamp: p.timestamp,
    });
    const bc = field.args.block as
      | { hash?: string | null; number?: number | null; number_gte?: number | null }
      | null
      | undefined;
    if (bc === undefined || bc === null) return fromPtr(latest);
    if (typeof bc.hash === "string") {
      const ptr = await this.#store.blockByHash(bc.hash);
      if (ptr === null) throw err.valueParse("block.hash", "no block with that hash found");
      queryable(ptr.number);
      return fromPtr(ptr);
    }
    if (typeof bc.number_gte === "number") {
      if (latest.number < bc.number_gte) {
        throw err.valueParse(
          "block.number_gte",
          `subgraph ${deployment} has only indexed up to block number ${latest.number} and data for block number ${bc.number_gte} is therefore not yet available`,
        );
      }
      return fromPtr(latest);
    }
    if (typeof bc.number === "number") {
      queryable(bc.number);
      return { number: bc.number, hash: null, timestamp: null };
    }
    throw err.invalidArgument(field.loc, "block", bc);
  }

  #ctx(block: QueryBlock): SqlContext {
    const params = new Params();
    return {
      api: this.api,
      schemaName: this.#store.schemaName,
      params,
      block: params.add(block.number),
      aliasCounter: 0,
    };
  }

  async #resolveTop(field: PlannedField, block: QueryBlock): Promise<Json> {
    const q = this.api.queryFields.get(field.name);
    if (q === undefined) throw err.unknownField(field.loc, "Query", field.name);
    if (q.kind === "meta") return this.#meta(field, block);
    const type = q.type;
    const ctx = this.#ctx(block);
    const t = tableRef(this.#store.schemaName, type);
    let sql: string;
    if (q.kind === "single") {
      const id = this.#idExpr(ctx, type, String(field.args.id));
      sql = `select ${selectList(this.api.model, type, "e")}, e.vid::text as "${VID}" from ${t} e
             where ${visibleAt(type, "e", ctx.block)} and e.id = ${id}`;
    } else {
      const { first, skip } = rangeOf(field.args);
      const where = field.args.where as Record<string, unknown> | null | undefined;
      const cond = where === undefined || where === null ? "true" : whereSql(ctx, type, "e", where);
      const order = orderSql(
        ctx,
        type,
        "e",
        field.args.orderBy as string | undefined,
        field.args.orderDirection as string | undefined,
      );
      sql = `select ${selectList(this.api.model, type, "e")}, e.vid::text as "${VID}" from ${t} e
             where ${visibleAt(type, "e", ctx.block)} and (${cond}) ${order}
             limit ${ctx.params.add(first)} offset ${ctx.params.add(skip)}`;
    }
    const rows = await this.#store.sql.query(sql, ctx.params.values);
    const objects = await this.#materialize(block, type, rows, field.children);
    return q.kind === "single" ? (objects[0] ?? null) : objects;
  }

  #idExpr(ctx: SqlContext, type: EntityTypeModel, id: string): string {
    if (type.idKind === "String")
      return valueExpr(ctx.params, "String", false, { kind: "String", value: id });
    if (type.idKind === "Int8") {
      if (!/^-?\d+$/.test(id)) throw err.valueParse("Int8", "invalid digit found in string");
      return valueExpr(ctx.params, "Int8", false, { kind: "Int8", value: BigInt(id) });
    }
    const body = id.startsWith("0x") ? id.slice(2) : id;
    if (body.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(body))
      throw err.valueParse("Bytes", "Invalid character or odd number of digits");
    return valueExpr(ctx.params, "Bytes", false, { kind: "Bytes", value: hexToBytes(body) });
  }

  #meta(field: PlannedField, block: QueryBlock): Json {
    const out: Record<string, Json> = {};
    const error = this.#store.indexingError();
    for (const f of field.children) {
      if (f.name === "__typename") out[f.key] = "_Meta_";
      else if (f.name === "deployment") out[f.key] = this.#store.deployment;
      else if (f.name === "hasIndexingErrors")
        out[f.key] = error !== null && error.block <= block.number;
      else if (f.name === "block") {
        const b: Record<string, Json> = {};
        for (const g of f.children) {
          if (g.name === "__typename") b[g.key] = "_Block_";
          else if (g.name === "number") b[g.key] = block.number;
          else if (g.name === "hash") b[g.key] = block.hash;
          else if (g.name === "timestamp")
            b[g.key] = block.timestamp === null ? null : Number(block.timestamp);
          else b[g.key] = null;
        }
        out[f.key] = b;
      }
    }
    return out;
  }

  /** Turns rows of `type` into response objects, resolving nested entity fields one batched query per field. */
  async #materialize(
    block: QueryBlock,
    type: EntityTypeModel,
    rows: readonly Row[],
    fields: readonly PlannedField[],
  ): Promise<Record<string, Json>[]> {
    const entities = rows.map((r) => this.#store.decodeRow(type, r));
    const out = rows.map(() => ({}) as Record<string, Json>);
    for (const f of fields) {
      if (f.name === "__typename") {
        for (const o of out) o[f.key] = type.name;
        continue;
      }
      const field = type.field.get(f.name);
      if (field === undefined) throw err.unknownField(f.loc, type.name, f.name);
      if (field.base.kind !== "entity") {
        entities.forEach((e, i) => {
          (out[i] as Record<string, Json>)[f.key] = valueToJson(e.get(f.name) ?? { kind: "Null" });
        });
        continue;
      }
      const childType = this.api.model.entities.get(field.base.name);
      if (childType === undefined) throw err.namedType(field.base.name);
      if (rows.length === 0) continue;
      const ctx = this.#ctx(block);
      const vids = ctx.params.add(rows.map((r) => String(r[VID])));
      const c = "c0";
      let inner = `select ${selectList(this.api.model, childType, c)}, ${c}.vid::text as "${VID}"
        from ${tableRef(this.#store.schemaName, childType)} ${c}
        where ${visibleAt(childType, c, ctx.block)} and ${joinCondition(ctx, field, "pt", c)}`;
      if (field.list) {
        const { first, skip } = rangeOf(f.args);
        const where = f.args.where as Record<string, unknown> | null | undefined;
        if (where !== undefined && where !== null)
          inner += ` and (${whereSql(ctx, childType, c, where)})`;
        inner += ` ${orderSql(ctx, childType, c, f.args.orderBy as string | undefined, f.args.orderDirection as string | undefined)}`;
        inner += ` limit ${ctx.params.add(first)} offset ${ctx.params.add(skip)}`;
      } else {
        inner += ` order by ${c}.id limit 2`;
      }
      const sql = `select p.vid::text as "${PARENT}", x.* from unnest(${vids}::text[]::int8[]) with ordinality as p(vid, n)
        join ${tableRef(this.#store.schemaName, type)} pt on pt.vid = p.vid
        cross join lateral (select y.*, row_number() over () as "rn$" from (${inner}) y) x
        order by p.n, x."rn$"`;
      const childRows = await this.#store.sql.query(sql, ctx.params.values);
      const children = await this.#materialize(block, childType, childRows, f.children);
      const byParent = new Map<string, Record<string, Json>[]>();
      childRows.forEach((r, i) => {
        const key = String(r[PARENT]);
        let list = byParent.get(key);
        if (list === undefined) {
          list = [];
          byParent.set(key, list);
        }
        list.push(children[i] as Record<string, Json>);
      });
      rows.forEach((r, i) => {
        const mine = byParent.get(String(r[VID])) ?? [];
        const o = out[i] as Record<string, Json>;
        if (field.list) {
          o[f.key] = mine;
        } else {
          if (mine.length > 1 && field.derivedFrom !== null) {
            throw err.ambiguousDerived(f.loc, f.name, childType.name, field.derivedFrom);
          }
          o[f.key] = mine[0] ?? null;
        }
      });
    }
    return out;
  }
}
