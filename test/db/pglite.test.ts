/**
 * sdk/db/pglite.ts: a new database starts from the cached template of an empty initdb (a copied data directory on
 * disk, a loaded dump in memory), an existing one opens as it is, and a template PGlite refuses falls back to initdb
 * and is dropped.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { PGlite } from "@electric-sql/pglite";
import { openPGlite, templateDataDir, templateFile } from "#sdk/db/pglite.ts";

/** What a database holds beyond its data: databases, schemas, relations, settings that initdb decides. */
async function catalogue(db: PGlite): Promise<{ databases: unknown[]; [what: string]: unknown }> {
  const rows = async (sql: string) => (await db.query(sql)).rows;
  return {
    databases: await rows("SELECT datname, encoding, datcollate FROM pg_database ORDER BY datname"),
    schemas: await rows("SELECT nspname FROM pg_namespace ORDER BY nspname"),
    relations: await rows(
      "SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE nspname NOT IN ('pg_toast')",
    ),
    public: await rows(
      "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE nspname = 'public'",
    ),
    settings: await rows(
      "SELECT name, setting FROM pg_settings WHERE name IN ('server_version', 'server_encoding', 'lc_collate', 'TimeZone', 'DateStyle') ORDER BY name",
    ),
  };
}

describe("openPGlite: new databases from a template of initdb", () => {
  let root: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), "dml-pglite-"));
    env = { DML_PGLITE_TEMPLATE_DIR: path.join(root, "templates") };
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("makes each template once; databases from them equal one made by initdb less its template databases, the fallback when PGlite refuses a template (which is then dropped)", async () => {
    const dir = await templateDataDir(env);
    const file = await templateFile(env);
    assert.equal(existsSync(dir), false);
    const fromDir = await openPGlite(path.join(root, "a"), env);
    assert.equal(existsSync(dir), true, "the directory template is stored for the next database");
    assert.equal(existsSync(file), false, "an on-disk database needs no dump");
    const fromDump = await openPGlite(undefined, env);
    assert.equal(existsSync(file), true, "the dump is stored for the next in-memory database");
    // another cache whose directory template PGlite refuses (a data directory of another Postgres version): the
    // database is made by initdb instead
    const refused = { DML_PGLITE_TEMPLATE_DIR: path.join(root, "refused") };
    const refusedDir = await templateDataDir(refused);
    await mkdir(refusedDir, { recursive: true });
    await writeFile(path.join(refusedDir, "PG_VERSION"), "99\n");
    const byInitdb = await openPGlite(path.join(root, "c"), refused);
    try {
      assert.equal(existsSync(refusedDir), false, "the refused template is removed");
      // initdb's database, less the template databases the templates drop (only CREATE DATABASE reads them)
      const initdb = await catalogue(byInitdb);
      assert.deepEqual(
        initdb.databases.map((d) => (d as { datname: string }).datname),
        ["postgres", "template0", "template1"],
      );
      const expected = {
        ...initdb,
        databases: initdb.databases.filter(
          (d) => (d as { datname: string }).datname === "postgres",
        ),
      };
      assert.deepEqual(await catalogue(fromDir), expected);
      assert.deepEqual(await catalogue(fromDump), expected);
      await byInitdb.exec("CREATE TABLE t (x int); INSERT INTO t VALUES (1)");
      assert.deepEqual((await byInitdb.query("SELECT count(*)::int AS n FROM t")).rows, [{ n: 1 }]);
      // a database's own writes never reach the template it was copied from
      await fromDir.exec("CREATE TABLE mine (x int)");
      const next = await openPGlite(path.join(root, "d"), env);
      try {
        assert.deepEqual(await catalogue(next), expected);
      } finally {
        await next.close();
      }
    } finally {
      await Promise.all([fromDir.close(), fromDump.close(), byInitdb.close()]);
    }
  });

  it("a database made from the template keeps its data across a reopen; reopening never loads the template", async () => {
    const dir = path.join(root, "b");
    const db = await openPGlite(dir, env);
    await db.exec("CREATE TABLE t (x int); INSERT INTO t VALUES (7)");
    await db.close();
    // a template that would fail to load: an existing database must not touch it
    const template = await templateDataDir(env);
    await rm(template, { recursive: true });
    await mkdir(template);
    await writeFile(path.join(template, "PG_VERSION"), "99\n");
    const again = await openPGlite(dir, env);
    try {
      assert.deepEqual((await again.query("SELECT x FROM t")).rows, [{ x: 7 }]);
    } finally {
      await again.close();
    }
    assert.equal(await readFile(path.join(template, "PG_VERSION"), "utf8"), "99\n");
  });

  it("with a template directory that cannot be written, databases still open, in memory and on disk", async () => {
    const blocked = path.join(root, "blocked");
    await writeFile(blocked, "a file where the directory would be");
    const memEnv = { DML_PGLITE_TEMPLATE_DIR: blocked };
    // in memory, the dump made for it is kept for the process's next in-memory database; on disk, initdb runs
    for (const dir of [undefined, path.join(root, "e")]) {
      const db = await openPGlite(dir, memEnv);
      try {
        assert.deepEqual((await db.query("SELECT 1 AS one")).rows, [{ one: 1 }]);
      } finally {
        await db.close();
      }
    }
    assert.equal(await readFile(blocked, "utf8"), "a file where the directory would be");
  });
});
