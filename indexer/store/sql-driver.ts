/**
 * One SQL layer, two drivers: PGlite (embedded Postgres in a data directory, the default) and a real Postgres
 * through `pg` when a connection string is given. Both take `$n` parameters and return plain row objects; the
 * store casts every value it reads to a type both drivers decode alike (text, int4, bool, text[]).
 */
import type { PGlite } from "@electric-sql/pglite";
import { openPGlite } from "#sdk/db/pglite.ts";
import pg from "pg";

export type Row = Record<string, unknown>;

export interface SqlExecutor {
  query(sql: string, params?: readonly unknown[]): Promise<Row[]>;
  /** Runs several statements without parameters. */
  exec(sql: string): Promise<void>;
}

export interface SqlDriver extends SqlExecutor {
  readonly kind: "pglite" | "postgres";
  /** Runs `fn` in one transaction; a throw rolls it back. Calls are serialised. */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Serialises work on one connection (PGlite has one; the pg driver uses a single client for the same reason). */
class Serial {
  #tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#tail.then(fn, fn);
    this.#tail = next.catch(() => undefined);
    return next;
  }
}

class PgliteDriver implements SqlDriver {
  readonly kind = "pglite" as const;
  readonly #db: PGlite;
  readonly #serial = new Serial();
  constructor(db: PGlite) {
    this.#db = db;
  }
  query(sql: string, params: readonly unknown[] = []): Promise<Row[]> {
    return this.#serial.run(async () => (await this.#db.query<Row>(sql, [...params])).rows);
  }
  exec(sql: string): Promise<void> {
    return this.#serial.run(async () => {
      await this.#db.exec(sql);
    });
  }
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.#serial.run(() =>
      this.#db.transaction(async (tx) =>
        fn({
          query: async (sql, params = []) => (await tx.query<Row>(sql, [...params])).rows,
          exec: async (sql) => {
            await tx.exec(sql);
          },
        }),
      ),
    );
  }
  close(): Promise<void> {
    return this.#serial.run(() => this.#db.close());
  }
}

class PostgresDriver implements SqlDriver {
  readonly kind = "postgres" as const;
  readonly #client: pg.Client;
  readonly #serial = new Serial();
  constructor(client: pg.Client) {
    this.#client = client;
  }
  query(sql: string, params: readonly unknown[] = []): Promise<Row[]> {
    return this.#serial.run(async () => (await this.#client.query<Row>(sql, [...params])).rows);
  }
  exec(sql: string): Promise<void> {
    return this.#serial.run(async () => {
      await this.#client.query(sql);
    });
  }
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.#serial.run(async () => {
      await this.#client.query("begin");
      try {
        const result = await fn({
          query: async (sql, params = []) => (await this.#client.query<Row>(sql, [...params])).rows,
          exec: async (sql) => {
            await this.#client.query(sql);
          },
        });
        await this.#client.query("commit");
        return result;
      } catch (e) {
        await this.#client.query("rollback");
        throw e;
      }
    });
  }
  close(): Promise<void> {
    return this.#serial.run(() => this.#client.end());
  }
}

export type DriverOptions =
  { readonly dataDir: string } | { readonly databaseUrl: string } | { readonly memory: true };

/** Opens PGlite in `dataDir` (or in memory), or connects to `databaseUrl` with `pg`. */
export async function openDriver(options: DriverOptions): Promise<SqlDriver> {
  if ("databaseUrl" in options) {
    const client = new pg.Client({ connectionString: options.databaseUrl });
    await client.connect();
    return new PostgresDriver(client);
  }
  const db = await openPGlite("dataDir" in options ? options.dataDir : undefined);
  return new PgliteDriver(db);
}
