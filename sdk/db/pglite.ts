/**
 * Opening PGlite (Postgres in WebAssembly) without paying initdb each time.
 *
 * A new PGlite database runs Postgres's initdb inside WebAssembly: ≈ 6.5 s of CPU on this project's 2-core machine,
 * against ≈ 1.6 s to open an existing database. Every relayer's action queue and every indexer store starts as a new
 * database, so initdb was the largest single start-up cost of a relayer process. A new database is instead unpacked
 * from a template (≈ 2 s): the data directory of an empty, freshly initialised database of the same PGlite version,
 * dumped once per machine with PGlite's own `dumpDataDir` and loaded with its `loadDataDir` option. That is the
 * directory initdb would have produced, so the database is the same; only the CPU differs.
 *
 * The template lives in the user's cache directory (`DML_PGLITE_TEMPLATE_DIR`, else `$XDG_CACHE_HOME/dml`, else
 * `~/.cache/dml`; mode 0700, written atomically), named after the PGlite version, so an upgrade makes a new one.
 * Processes that start together may each make it once; the rename keeps whichever finished last. A template that
 * cannot be stored (a read-only cache) serves the process that made it from memory; one that cannot be made, or that
 * PGlite refuses, falls back to initdb: the database opens either way.
 */
import { readFile, readdir, rm } from "node:fs/promises";
import { existsSync } from "node:fs";
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

/** The template file for the installed PGlite. */
export async function templateFile(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return path.join(templateDir(env), `pglite-${await pgliteVersion()}-datadir.tar`);
}

/** Templates this process is making, by file (databases opened together make one). */
const making = new Map<string, Promise<Uint8Array | undefined>>();
/** Templates this process made but could not store (a read-only cache directory), kept for its next databases. */
const unstored = new Map<string, Uint8Array>();

/** Makes the template from a fresh in-memory database and stores it; undefined when PGlite cannot dump one. */
function makeTemplate(file: string): Promise<Uint8Array | undefined> {
  let made = making.get(file);
  if (made === undefined) {
    made = (async () => {
      try {
        const db = await PGlite.create();
        const dump = await db.dumpDataDir("none");
        await db.close();
        const bytes = new Uint8Array(await dump.arrayBuffer());
        // a read-only cache directory: this process still uses the bytes, for every database it opens
        await writeFileAtomic(file, bytes).catch(() => unstored.set(file, bytes));
        return bytes;
      } catch {
        return undefined;
      } finally {
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
 * Opens the PGlite database in `dataDir` (in memory without one), creating it from the template when the directory
 * is missing or empty. An existing database opens as it is. `env` locates the template (`templateDir`).
 */
export async function openPGlite(
  dataDir?: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<PGlite> {
  if (dataDir !== undefined && !(await vacant(dataDir))) return PGlite.create(dataDir);
  const file = await templateFile(env);
  const blob = await template(file);
  if (blob !== undefined) {
    try {
      return dataDir === undefined
        ? await PGlite.create({ loadDataDir: blob })
        : await PGlite.create(dataDir, { loadDataDir: blob });
    } catch {
      // a template PGlite refuses: forget it, and start over with initdb (the directory held nothing before)
      unstored.delete(file);
      await rm(file, { force: true });
      if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
    }
  }
  return dataDir === undefined ? PGlite.create() : PGlite.create(dataDir);
}
