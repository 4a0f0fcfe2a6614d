/**
 * Opening PGlite (Postgres in WebAssembly) without paying initdb each time.
 *
 * A new PGlite database runs Postgres's initdb inside WebAssembly: ≈ 6.5 s of CPU on this project's 2-core machine,
 * against ≈ 0.9 s to open an existing database. Every relayer's action queue and every indexer store starts as a new
 * database, so initdb was the largest single start-up cost of a relayer process. A new database instead starts from a
 * template: the data directory of an empty, freshly initialised and cleanly closed database of the same PGlite
 * version, made once per machine. That is the directory initdb would have produced, less the template databases
 * `template0` and `template1`, which only `CREATE DATABASE` reads and nothing here runs: the database PGlite connects
 * to (`postgres`) is the same, and the copy has ≈ 370 files instead of ≈ 970 (≈ 0.35 s of CPU less per new database).
 * - On disk, the template is that directory, copied (a copy-on-write clone where the file system has them) into the
 *   new database's: ≈ 1.1 s of CPU to a first query, against ≈ 2 s for unpacking a dump into it.
 * - In memory, where there is no directory to copy into, it is PGlite's own dump of the directory (`dumpDataDir`),
 *   loaded with its `loadDataDir` option.
 *
 * Both live in the user's cache directory (`DML_PGLITE_TEMPLATE_DIR`, else `$XDG_CACHE_HOME/dml`, else
 * `~/.cache/dml`; mode 0700), named after the PGlite version, so an upgrade makes new ones. Each appears whole or not
 * at all: made beside its final name and renamed into place. Processes that start together may each make one; the
 * first rename wins (the dump's rename keeps whichever finished last). A dump that cannot be stored (a read-only
 * cache) serves the process that made it from memory, and a directory that cannot be stored leaves the database to
 * initdb; a template that cannot be made, or that PGlite refuses, falls back to initdb: the database opens either way.
 */
import { mkdir, readFile, readdir, rename, rm } from "node:fs/promises";
import { constants, cpSync, existsSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { homedir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { writeFileAtomic } from "../fs/atomic.ts";

/** Where templates are kept (see the module's comment). */
export function templateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.DML_PGLITE_TEMPLATE_DIR) return env.DML_PGLITE_TEMPLATE_DIR;
  const cache = env.XDG_CACHE_HOME || path.join(homedir(), ".cache");
  return path.join(cache, "dml");
}

/** The installed PGlite's version (its package.json next to the resolved entry point). */
async function pgliteVersion(): Promise<string> {
  const entry = fileURLToPath(import.meta.resolve("@electric-sql/pglite"));
  let dir = path.dirname(entry);
  while (!existsSync(path.join(dir, "package.json"))) dir = path.dirname(dir);
  const pkg = JSON.parse(await readFile(path.join(dir, "package.json"), "utf8")) as {
    version?: unknown;
  };
  if (typeof pkg.version !== "string") throw new Error("PGlite's package.json has no version");
  return pkg.version;
}

/** What a template holds: 2 = initdb's data directory without `template0` / `template1` (1 had them). */
const TEMPLATE_FORMAT = 2;

/** The in-memory databases' template (a dump of the data directory) for the installed PGlite. */
export async function templateFile(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return `${await templateDataDir(env)}.tar`;
}

/** The on-disk databases' template (a data directory) for the installed PGlite. */
export async function templateDataDir(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return path.join(templateDir(env), `pglite-${await pgliteVersion()}-datadir-${TEMPLATE_FORMAT}`);
}

/**
 * A new database as the templates hold it: initdb's, less the template databases (a template database cannot be
 * dropped; each statement on its own, `DROP DATABASE` refuses a transaction block), checkpointed.
 */
async function newTemplateDatabase(dataDir?: string): Promise<PGlite> {
  const db = await PGlite.create(dataDir);
  try {
    for (const name of ["template0", "template1"]) {
      await db.exec(`ALTER DATABASE ${name} IS_TEMPLATE false`);
      await db.exec(`DROP DATABASE ${name}`);
    }
    await db.exec("CHECKPOINT");
    return db;
  } catch (e) {
    await db.close().catch(() => undefined);
    throw e;
  }
}

/** Directory templates this process is making, by path. */
const makingDir = new Map<string, Promise<boolean>>();

/**
 * Makes the directory template `dir`: initdb into a sibling, closed cleanly, renamed into place. True when `dir` holds
 * a template afterwards (made here or by a process that got there first).
 */
function makeTemplateDataDir(dir: string): Promise<boolean> {
  let made = makingDir.get(dir);
  if (made === undefined) {
    made = (async () => {
      const tmp = `${dir}.${randomBytes(6).toString("hex")}.tmp`;
      try {
        await mkdir(path.dirname(dir), { recursive: true, mode: 0o700 });
        const db = await newTemplateDatabase(tmp);
        await db.close();
        await rename(tmp, dir).catch((e: unknown) => {
          // another process renamed its template first (a non-empty directory cannot be replaced)
          if (!existsSync(dir)) throw e;
        });
        return true;
      } catch {
        return false;
      } finally {
        await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
        makingDir.delete(dir);
      }
    })();
    makingDir.set(dir, made);
  }
  return made;
}

/**
 * Copies the directory template into the vacant `dataDir`, through a sibling renamed into place (a crash leaves the
 * directory vacant, never half a database); false when there is no template and none can be made.
 */
async function copyTemplate(dataDir: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  const dir = await templateDataDir(env);
  if (!existsSync(dir) && !(await makeTemplateDataDir(dir))) return false;
  const tmp = `${dataDir}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    // Node's synchronous copy runs natively: ≈ 1 s of CPU less than fs/promises' cp over the template's ≈ 1,000 files
    cpSync(dir, tmp, { recursive: true, mode: constants.COPYFILE_FICLONE });
    await rm(dataDir, { recursive: true, force: true });
    await rename(tmp, dataDir);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return true;
}

/** Templates this process is making, by file (databases opened together make one). */
const making = new Map<string, Promise<Uint8Array | undefined>>();
/** Templates this process made but could not store (a read-only cache directory), kept for its next databases. */
const unstored = new Map<string, Uint8Array>();

/**
 * Makes the dump template and stores it; undefined when PGlite cannot dump one. It dumps a copy of the directory
 * template when there is one (≈ 1.5 s of CPU), else a new database made by initdb in memory (≈ 7 s).
 */
function makeTemplate(file: string): Promise<Uint8Array | undefined> {
  let made = making.get(file);
  if (made === undefined) {
    made = (async () => {
      const dir = file.slice(0, -".tar".length); // templateFile is templateDataDir's path + .tar
      const copy = `${file}.${randomBytes(6).toString("hex")}.tmp`;
      try {
        let db: PGlite;
        try {
          cpSync(dir, copy, { recursive: true, mode: constants.COPYFILE_FICLONE });
          db = await PGlite.create(copy);
        } catch {
          db = await newTemplateDatabase(); // no directory template (or none PGlite opens)
        }
        const dump = await db.dumpDataDir("none");
        await db.close();
        const bytes = new Uint8Array(await dump.arrayBuffer());
        // a read-only cache directory: this process still uses the bytes, for every database it opens
        await writeFileAtomic(file, bytes).catch(() => unstored.set(file, bytes));
        return bytes;
      } catch {
        return undefined;
      } finally {
        await rm(copy, { recursive: true, force: true }).catch(() => undefined);
        making.delete(file);
      }
    })();
    making.set(file, made);
  }
  return made;
}

/** The template's bytes: read, else made (and stored); undefined when it can be neither. */
async function template(file: string): Promise<Blob | undefined> {
  let bytes = unstored.get(file);
  if (bytes === undefined)
    try {
      bytes = await readFile(file);
    } catch {
      bytes = await makeTemplate(file);
    }
  return bytes === undefined ? undefined : new Blob([bytes]);
}

/** True when `dir` is missing or empty: nothing a template could overwrite. */
async function vacant(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return true;
    throw e;
  }
}

/**
 * Opens the PGlite database in `dataDir` (in memory without one), creating it from a template when the directory
 * is missing or empty. An existing database opens as it is. `env` locates the templates (`templateDir`).
 */
export async function openPGlite(
  dataDir?: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<PGlite> {
  if (dataDir !== undefined) {
    if (!(await vacant(dataDir))) return PGlite.create(dataDir);
    try {
      if (await copyTemplate(dataDir, env)) return await PGlite.create(dataDir);
    } catch {
      // a template PGlite refuses (or one that could not be copied): forget it, and start over with initdb
      await rm(await templateDataDir(env), { recursive: true, force: true });
      await rm(dataDir, { recursive: true, force: true });
    }
    return PGlite.create(dataDir);
  }
  const file = await templateFile(env);
  const blob = await template(file);
  if (blob !== undefined) {
    try {
      return await PGlite.create({ loadDataDir: blob });
    } catch {
      // a template PGlite refuses: forget it, and start over with initdb
      unstored.delete(file);
      await rm(file, { force: true });
    }
  }
  return PGlite.create();
}
