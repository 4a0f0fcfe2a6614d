/**
 * The local graph host's entity store: block-range versioned tables (see layout.ts) on PGlite or Postgres, plus the
 * latest version of every entity in memory ({@link HeadState}) so the wasm runtime can read it synchronously.
 *
 *   - `commitBlock` writes one block in one transaction: for each changed entity it closes the current version's
 *     range at the block and inserts the new version from the block on (a removal only closes); the deployment's
 *     block pointer moves in the same transaction, so a crash leaves a store consistent with its pointer.
 *   - `revertTo(n)` undoes every block after n (graph-node's `revert_block_operations`): versions born after n are
 *     deleted, ranges closed after n are reopened, later block pointers are dropped and the head is reloaded.
 */
import { z } from "zod";
import type { BlockChanges, BlockPtr, Entity, HeadState, Value } from "../types.ts";
import {
  BLOCK_COLUMN,
  BLOCK_RANGE,
  REGISTRY_DDL,
  REGISTRY_SCHEMA,
  blocksRef,
  deploymentDdl,
  selectList,
  tableRef,
} from "./layout.ts";
import {
  SCHEMA_ERROR_CODES,
  SchemaModelError,
  parseSchemaModel,
  validateEntity,
  type EntityTypeModel,
  type SchemaModel,
} from "./schema-model.ts";
import { openDriver, type Row, type SqlDriver, type SqlExecutor } from "./sql-driver.ts";
import {
  Params,
  bytesToHex,
  columnKind,
  decodeValue,
  hexToBytes,
  ident,
  idString,
  valueExpr,
} from "./sql-values.ts";

export const STORE_ERROR_CODES = {
  blockOrder: "STORE_BLOCK_ORDER",
  schemaMismatch: "STORE_SCHEMA_MISMATCH",
  immutable: "STORE_IMMUTABLE_ENTITY",
  unknownType: "STORE_UNKNOWN_ENTITY_TYPE",
  closed: "STORE_CLOSED",
  options: "STORE_OPTIONS_INVALID",
  badId: "STORE_ID_INVALID",
} as const;
export type StoreErrorCode = (typeof STORE_ERROR_CODES)[keyof typeof STORE_ERROR_CODES];

export class StoreError extends Error {
  override readonly name = "StoreError";
  readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** The deterministic error that stopped indexing, as graph-node records it (`subgraph_error`). */
export interface IndexingError {
  readonly block: number;
  readonly message: string;
}

const openOptions = z.object({
  dataDir: z.string().min(1).optional(),
  databaseUrl: z.string().min(1).optional(),
  memory: z.literal(true).optional(),
  deployment: z
    .string()
    .regex(/^[A-Za-z0-9_\-./]{1,200}$/, "deployment ids are letters, digits and _-./"),
});

export interface StoreOpenOptions {
  /** PGlite data directory (the default driver). */
  readonly dataDir?: string;
  /** A Postgres connection string; when set, `pg` is used instead of PGlite. */
  readonly databaseUrl?: string;
  /** PGlite in memory (tests). */
  readonly memory?: true;
  /** The subgraph's schema.graphql text or its parsed model. */
  readonly schema: SchemaModel | string;
  /** The deployment id (graph-node's `DeploymentHash`, e.g. the build's IPFS hash or a local name). */
  readonly deployment: string;
}

const deploymentRow = z.object({
  id: z.number(),
  schema_name: z.string(),
  schema_sdl: z.string(),
  latest_block_number: z.number().nullable(),
  latest_block_hash: z.string().nullable(),
  latest_block_timestamp: z.string().nullable(),
  first_error_block: z.number().nullable(),
  fatal_error: z.string().nullable(),
});

const DEPLOYMENT_COLUMNS = `id, schema_name, schema_sdl, latest_block_number, latest_block_hash::text as latest_block_hash,
  latest_block_timestamp::text as latest_block_timestamp, first_error_block, fatal_error`;

function blockPtrOf(
  number: number | null,
  hash: string | null,
  timestamp: string | null,
): BlockPtr | null {
  if (number === null || hash === null || timestamp === null) return null;
  return {
    number,
    hash: bytesToHex(hexToBytes(hash.replace(/^\\x/, ""))),
    timestamp: BigInt(timestamp),
  };
}

/** The head, plus the lookup behind graph-ts's `store.loadRelated` (entities pointing back through a derived field). */
export interface StoreHead extends HeadState {
  /**
   * The current entities of the type `entityType.field` is derived from whose back-reference holds `id`, in id order
   * (graph-node's `load_related`). @throws StoreError when `field` is not a `@derivedFrom` field of `entityType`.
   */
  loadRelated(entityType: string, id: string, field: string): Entity[];
}

class MemoryHead implements StoreHead {
  readonly byType = new Map<string, Map<string, Entity>>();
  readonly #model: SchemaModel;
  readonly #canonical: (entityType: string, id: string) => string;
  constructor(model: SchemaModel, canonical: (entityType: string, id: string) => string) {
    this.#model = model;
    this.#canonical = canonical;
  }
  get(entityType: string, id: string): Entity | null {
    return this.byType.get(entityType)?.get(this.#canonical(entityType, id)) ?? null;
  }
  loadRelated(entityType: string, id: string, field: string): Entity[] {
    const f = this.#model.entities.get(entityType)?.field.get(field);
    if (f === undefined || f.derivedFrom === null || f.base.kind !== "entity") {
      throw new StoreError(
        STORE_ERROR_CODES.unknownType,
        `\`${entityType}.${field}\` is not a @derivedFrom field`,
      );
    }
    const target = f.base.name;
    const back = f.derivedFrom;
    const key = this.#canonical(entityType, id);
    const out: [string, Entity][] = [];
    for (const [childId, child] of this.byType.get(target) ?? []) {
      const v = child.get(back);
      if (v === undefined) continue;
      const refs = v.kind === "List" ? v.value : [v];
      if (
        refs.some(
          (r) =>
            (r.kind === "String" || r.kind === "Bytes" || r.kind === "Int8") && idString(r) === key,
        )
      ) {
        out.push([childId, child]);
      }
    }
    return out.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, e]) => e);
  }
  set(entityType: string, id: string, entity: Entity | null): void {
    let table = this.byType.get(entityType);
    if (table === undefined) {
      table = new Map();
      this.byType.set(entityType, table);
    }
    if (entity === null) table.delete(id);
    else table.set(id, entity);
  }
}

/** Drops null fields: a stored entity holds only the fields that have a value, as graph-node loads it. */
function normalise(entity: Entity): Entity {
  const out = new Map<string, Value>();
  for (const [k, v] of entity) if (v.kind !== "Null") out.set(k, v);
  return out;
}

export class Store {
  readonly model: SchemaModel;
  readonly deployment: string;
  readonly schemaName: string;
  readonly #driver: SqlDriver;
  readonly #head: MemoryHead;
  #latest: BlockPtr | null;
  #error: IndexingError | null;
  #closed = false;

  private constructor(
    driver: SqlDriver,
    model: SchemaModel,
    deployment: string,
    row: z.infer<typeof deploymentRow>,
  ) {
    this.#driver = driver;
    this.model = model;
    this.deployment = deployment;
    this.schemaName = row.schema_name;
    this.#head = new MemoryHead(model, (type, id) => {
      const entity = model.entities.get(type);
      try {
        return entity === undefined ? id : canonicalId(entity, id);
      } catch {
        return id; // a malformed id matches nothing
      }
    });
    this.#latest = blockPtrOf(
      row.latest_block_number,
      row.latest_block_hash,
      row.latest_block_timestamp,
    );
    this.#error =
      row.first_error_block === null
        ? null
        : { block: row.first_error_block, message: row.fatal_error ?? "" };
  }

  /** Opens (creating on first use) the deployment's tables and loads the head. @throws StoreError */
  static async open(options: StoreOpenOptions): Promise<Store> {
    const parsed = openOptions.safeParse(options);
    if (!parsed.success)
      throw new StoreError(STORE_ERROR_CODES.options, z.prettifyError(parsed.error));
    const model =
      typeof options.schema === "string" ? parseSchemaModel(options.schema) : options.schema;
    const { dataDir, databaseUrl, memory, deployment } = parsed.data;
    const driver = await openDriver(
      databaseUrl !== undefined
        ? { databaseUrl }
        : dataDir !== undefined
          ? { dataDir }
          : memory === true
            ? { memory: true }
            : (() => {
                throw new StoreError(
                  STORE_ERROR_CODES.options,
                  "Store.open needs dataDir, databaseUrl or memory",
                );
              })(),
    );
    try {
      const row = await driver.transaction(async (tx) => {
        await tx.query(`select pg_advisory_xact_lock(7011301)`);
        await tx.exec(REGISTRY_DDL);
        const found = await tx.query(
          `select ${DEPLOYMENT_COLUMNS} from ${REGISTRY_SCHEMA}.deployments where deployment = $1`,
          [deployment],
        );
        if (found[0] !== undefined) return deploymentRow.parse(found[0]);
        const [{ id } = { id: 0 }] = (await tx.query(
          `select nextval(pg_get_serial_sequence('${REGISTRY_SCHEMA}.deployments', 'id'))::int4 as id`,
        )) as { id: number }[];
        const schemaName = `sgd${id}`;
        await tx.query(
          `insert into ${REGISTRY_SCHEMA}.deployments (id, deployment, schema_name, schema_sdl) values ($1, $2, $3, $4)`,
          [id, deployment, schemaName, model.sdl],
        );
        await tx.exec(deploymentDdl(model, schemaName));
        const created = await tx.query(
          `select ${DEPLOYMENT_COLUMNS} from ${REGISTRY_SCHEMA}.deployments where id = $1`,
          [id],
        );
        return deploymentRow.parse(created[0]);
      });
      if (row.schema_sdl !== model.sdl) {
        throw new StoreError(
          STORE_ERROR_CODES.schemaMismatch,
          `deployment ${deployment} was created with a different schema.graphql; use a new deployment id`,
        );
      }
      const store = new Store(driver, model, deployment, row);
      await store.#loadHead(driver);
      return store;
    } catch (e) {
      await driver.close();
      throw e;
    }
  }

  /** The SQL executor the GraphQL API reads through. */
  get sql(): SqlExecutor {
    return this.#driver;
  }

  get driverKind(): SqlDriver["kind"] {
    return this.#driver.kind;
  }

  /** The latest version of every entity (what the mappings' `store.get` sees). */
  head(): StoreHead {
    return this.#head;
  }

  /** The last committed block, or null before the first. */
  latestBlock(): BlockPtr | null {
    return this.#latest;
  }

  /** The deterministic error that stopped indexing, if any. */
  indexingError(): IndexingError | null {
    return this.#error;
  }

  entityType(name: string): EntityTypeModel {
    const type = this.model.entities.get(name);
    if (type === undefined)
      throw new StoreError(STORE_ERROR_CODES.unknownType, `unknown entity type \`${name}\``);
    return type;
  }

  async #loadHead(sql: SqlExecutor): Promise<void> {
    this.#head.byType.clear();
    for (const type of this.model.entities.values()) {
      const where = type.immutable ? "true" : `upper_inf(${BLOCK_RANGE})`;
      const rows = await sql.query(
        `select ${selectList(this.model, type, "e")} from ${tableRef(this.schemaName, type)} e where ${where}`,
      );
      const table = new Map<string, Entity>();
      for (const row of rows) {
        const entity = this.decodeRow(type, row);
        const id = entity.get("id");
        if (id !== undefined) table.set(idString(id), entity);
      }
      this.#head.byType.set(type.name, table);
    }
  }

  /** Decodes a row read with `selectList` into an entity (null fields omitted). */
  decodeRow(type: EntityTypeModel, row: Row): Entity {
    const entity = new Map<string, Value>();
    for (const f of type.stored) {
      const kind = f.name === "id" ? type.idKind : columnKind(this.model, f);
      const value = decodeValue(kind, f.list, row[f.name]);
      if (value.kind !== "Null") entity.set(f.name, value);
    }
    return entity;
  }

  #checkOpen(): void {
    if (this.#closed) throw new StoreError(STORE_ERROR_CODES.closed, "the store is closed");
  }

  /**
   * Writes one block's changes and moves the block pointer to it, in one transaction. Changes apply in order as
   * graph-node's entity cache does: a `set` merges its fields over the entity as it stands (the head, or an earlier
   * write in this block), a `remove` deletes it. @throws StoreError, SchemaModelError (ENTITY_INVALID)
   */
  async commitBlock(changes: BlockChanges): Promise<void> {
    this.#checkOpen();
    const { block } = changes;
    if (this.#latest !== null && block.number <= this.#latest.number) {
      throw new StoreError(
        STORE_ERROR_CODES.blockOrder,
        `block ${block.number} is not after the latest committed block ${this.#latest.number}; revert first`,
      );
    }
    // Fold the block's writes: key → final state (null = removed) and whether a current version existed.
    const final = new Map<
      string,
      { type: EntityTypeModel; id: string; entity: Entity | null; existed: boolean }
    >();
    for (const change of changes.changes) {
      const type = this.entityType(change.entityType);
      const id = canonicalId(type, change.id);
      const key = `${type.name}\u0000${id}`;
      let slot = final.get(key);
      if (slot === undefined) {
        const current = this.#head.get(type.name, id);
        slot = { type, id, entity: current, existed: current !== null };
        final.set(key, slot);
      }
      if (change.op === "remove") {
        slot.entity = null;
      } else {
        const merged = new Map<string, Value>(slot.entity ?? []);
        for (const [k, v] of change.data) merged.set(k, v);
        // As graph-node's store.set: a missing id is the key; a different one is an error.
        const given = merged.get("id");
        if (given === undefined || given.kind === "Null") {
          merged.set("id", idValueOf(type, id));
        } else if (!["String", "Bytes", "Int8"].includes(given.kind) || idString(given) !== id) {
          throw new SchemaModelError(
            SCHEMA_ERROR_CODES.entityInvalid,
            `Value of ${type.name} attribute 'id' conflicts with ID passed to \`store.set()\`: ${given.kind === "String" || given.kind === "Bytes" || given.kind === "Int8" ? idString(given) : given.kind} != ${id}`,
          );
        }
        slot.entity = normalise(merged);
      }
    }
    for (const slot of final.values()) {
      if (slot.type.immutable && slot.existed) {
        throw new StoreError(
          STORE_ERROR_CODES.immutable,
          `Entity ${slot.type.name}[${slot.id}]: immutable entities can not be updated or removed`,
        );
      }
      if (slot.entity !== null) validateEntity(this.model, slot.type.name, slot.id, slot.entity);
    }
    const byType = new Map<EntityTypeModel, { close: string[]; insert: Entity[] }>();
    for (const slot of final.values()) {
      let ops = byType.get(slot.type);
      if (ops === undefined) {
        ops = { close: [], insert: [] };
        byType.set(slot.type, ops);
      }
      if (slot.existed) ops.close.push(slot.id);
      if (slot.entity !== null) ops.insert.push(slot.entity);
    }
    await this.#driver.transaction(async (tx) => {
      for (const [type, ops] of byType) {
        const t = tableRef(this.schemaName, type);
        if (ops.close.length > 0) {
          const p = new Params();
          const ids = valueExpr(p, type.idKind, true, {
            kind: "List",
            value: ops.close.map((id) => idValueOf(type, id)),
          });
          await tx.query(
            `update ${t} set ${BLOCK_RANGE} = int4range(lower(${BLOCK_RANGE}), ${p.add(block.number)}::int4)
             where id = any(${ids}) and upper_inf(${BLOCK_RANGE})`,
            p.values,
          );
        }
        await this.#insert(tx, type, ops.insert, block.number);
      }
      await tx.query(
        `insert into ${blocksRef(this.schemaName)} (number, hash, timestamp) values ($1, $2::text::bytea, $3::int8)`,
        [block.number, `\\x${block.hash.slice(2)}`, block.timestamp.toString()],
      );
      await tx.query(
        `update ${REGISTRY_SCHEMA}.deployments set latest_block_number = $1, latest_block_hash = $2::text::bytea,
         latest_block_timestamp = $3::int8 where deployment = $4`,
        [block.number, `\\x${block.hash.slice(2)}`, block.timestamp.toString(), this.deployment],
      );
    });
    for (const slot of final.values()) this.#head.set(slot.type.name, slot.id, slot.entity);
    this.#latest = block;
  }

  async #insert(
    tx: SqlExecutor,
    type: EntityTypeModel,
    entities: readonly Entity[],
    block: number,
  ): Promise<void> {
    if (entities.length === 0) return;
    const columns = [
      ...type.stored.map((f) => ident(f.column)),
      type.immutable ? ident(BLOCK_COLUMN) : BLOCK_RANGE,
    ];
    const perRow = columns.length;
    const chunk = Math.max(1, Math.floor(20_000 / perRow));
    for (let start = 0; start < entities.length; start += chunk) {
      const p = new Params();
      const blockParam = p.add(block);
      const rows = entities.slice(start, start + chunk).map((entity) => {
        const cells = type.stored.map((f) => {
          const kind = f.name === "id" ? type.idKind : columnKind(this.model, f);
          return valueExpr(p, kind, f.list, entity.get(f.name) ?? { kind: "Null" });
        });
        cells.push(type.immutable ? `${blockParam}::int4` : `int4range(${blockParam}::int4, null)`);
        return `(${cells.join(", ")})`;
      });
      await tx.query(
        `insert into ${tableRef(this.schemaName, type)} (${columns.join(", ")}) values ${rows.join(", ")}`,
        p.values,
      );
    }
  }

  /**
   * Rolls the deployment back to `blockNumber` (a reorg): versions created after it are deleted, versions closed
   * after it are current again, later block pointers and errors are dropped, and the head is reloaded.
   */
  async revertTo(blockNumber: number): Promise<void> {
    this.#checkOpen();
    const loaded = await this.#driver.transaction(async (tx) => {
      for (const type of this.model.entities.values()) {
        const t = tableRef(this.schemaName, type);
        if (type.immutable) {
          await tx.query(`delete from ${t} where ${ident(BLOCK_COLUMN)} > $1`, [blockNumber]);
        } else {
          await tx.query(`delete from ${t} where lower(${BLOCK_RANGE}) > $1`, [blockNumber]);
          await tx.query(
            `update ${t} set ${BLOCK_RANGE} = int4range(lower(${BLOCK_RANGE}), null)
             where not upper_inf(${BLOCK_RANGE}) and upper(${BLOCK_RANGE}) > $1`,
            [blockNumber],
          );
        }
      }
      await tx.query(`delete from ${blocksRef(this.schemaName)} where number > $1`, [blockNumber]);
      const [last] = await tx.query(
        `select number, hash::text as hash, timestamp::text as timestamp from ${blocksRef(this.schemaName)}
         order by number desc limit 1`,
      );
      const ptr =
        last === undefined
          ? null
          : blockPtrOf(Number(last.number), String(last.hash), String(last.timestamp));
      await tx.query(
        `update ${REGISTRY_SCHEMA}.deployments set latest_block_number = $1, latest_block_hash = $2::text::bytea,
         latest_block_timestamp = $3::int8,
         fatal_error = case when first_error_block > $4 then null else fatal_error end,
         first_error_block = case when first_error_block > $4 then null else first_error_block end
         where deployment = $5`,
        [
          ptr?.number ?? null,
          ptr === null ? null : `\\x${ptr.hash.slice(2)}`,
          ptr?.timestamp.toString() ?? null,
          blockNumber,
          this.deployment,
        ],
      );
      await this.#loadHead(tx);
      return ptr;
    });
    this.#latest = loaded;
    if (this.#error !== null && this.#error.block > blockNumber) this.#error = null;
  }

  /**
   * Records a deterministic indexing error at `block` and stops the deployment there, as graph-node fails a
   * subgraph: the block's entity changes are not written, but the pointer moves to the failed block (graph-node
   * persists that block's proof of indexing), so `_meta.hasIndexingErrors` is true from that block on.
   */
  async setIndexingError(block: BlockPtr, message: string): Promise<void> {
    this.#checkOpen();
    if (this.#latest !== null && block.number < this.#latest.number) {
      throw new StoreError(
        STORE_ERROR_CODES.blockOrder,
        `error block ${block.number} is before the latest block ${this.#latest.number}`,
      );
    }
    const advance = this.#latest === null || block.number > this.#latest.number;
    await this.#driver.transaction(async (tx) => {
      if (advance) {
        await tx.query(
          `insert into ${blocksRef(this.schemaName)} (number, hash, timestamp) values ($1, $2::text::bytea, $3::int8)`,
          [block.number, `\\x${block.hash.slice(2)}`, block.timestamp.toString()],
        );
      }
      await tx.query(
        `update ${REGISTRY_SCHEMA}.deployments set latest_block_number = $1, latest_block_hash = $2::text::bytea,
         latest_block_timestamp = $3::int8, first_error_block = coalesce(least(first_error_block, $1), $1),
         fatal_error = coalesce(fatal_error, $4) where deployment = $5`,
        [
          block.number,
          `\\x${block.hash.slice(2)}`,
          block.timestamp.toString(),
          message,
          this.deployment,
        ],
      );
    });
    if (advance) this.#latest = block;
    if (this.#error === null || block.number < this.#error.block)
      this.#error = { block: block.number, message };
  }

  /** The pointer of a committed block by hash, or null. */
  async blockByHash(hash: string): Promise<BlockPtr | null> {
    const [row] = await this.#driver.query(
      `select number, hash::text as hash, timestamp::text as timestamp from ${blocksRef(this.schemaName)} where hash = $1::text::bytea`,
      [`\\x${hash.replace(/^0x/, "").toLowerCase()}`],
    );
    return row === undefined
      ? null
      : blockPtrOf(Number(row.number), String(row.hash), String(row.timestamp));
  }

  /** The pointer of a committed block by number, or null (blocks without writes may not have been committed). */
  async blockByNumber(number: number): Promise<BlockPtr | null> {
    const [row] = await this.#driver.query(
      `select number, hash::text as hash, timestamp::text as timestamp from ${blocksRef(this.schemaName)} where number = $1`,
      [number],
    );
    return row === undefined
      ? null
      : blockPtrOf(Number(row.number), String(row.hash), String(row.timestamp));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#driver.close();
  }
}

/** The canonical text of an id: Bytes ids in lowercase 0x hex, Int8 ids in decimal. @throws StoreError */
function canonicalId(type: EntityTypeModel, id: string): string {
  if (type.idKind === "String") return id;
  if (type.idKind === "Bytes") {
    const body = id.startsWith("0x") || id.startsWith("0X") ? id.slice(2) : id;
    if (body.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(body)) {
      throw new StoreError(STORE_ERROR_CODES.badId, `${type.name}: \`${id}\` is not a Bytes id`);
    }
    return `0x${body.toLowerCase()}`;
  }
  if (!/^-?\d+$/.test(id))
    throw new StoreError(STORE_ERROR_CODES.badId, `${type.name}: \`${id}\` is not an Int8 id`);
  return BigInt(id).toString();
}

function idValueOf(type: EntityTypeModel, id: string): Value {
  if (type.idKind === "String") return { kind: "String", value: id };
  if (type.idKind === "Bytes") return { kind: "Bytes", value: hexToBytes(id) };
  return { kind: "Int8", value: BigInt(id) };
}
