/**
 * Builds the dashboard (`dashboard/`, Vite) into `dashboard/dist` when it is missing or stale: the build carries a
 * stamp, the SHA-256 of its sources (index.html, src/, the sdk modules the page bundles) and of Vite's version, and is
 * rebuilt only when that changes. Processes asking at once (`npm start` and `dml-indexer --dashboard`) take turns on
 * a lock directory; the build goes to a temporary directory renamed into place, so a server never reads half a build.
 *
 * `npm run dashboard:build` runs this file (`--force` rebuilds regardless of the stamp).
 */
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";

const ROOT = path.resolve(import.meta.dirname, "..", "..");
export const DASHBOARD_DIR = path.join(ROOT, "dashboard");
export const DASHBOARD_DIST = path.join(DASHBOARD_DIR, "dist");
const STAMP = ".sources-sha256";
const LOCK = path.join(DASHBOARD_DIR, ".build.lock");
/** A lock older than this was left by a killed build (one takes well under a minute). */
const STALE_LOCK_MS = 5 * 60_000;
/** sdk modules bundled into the page (the report decryption). */
const SDK_SOURCES = ["sdk/crypto/report.ts"];

export class DashboardBuildError extends Error {
  readonly code = "DASHBOARD_BUILD";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DashboardBuildError";
  }
}

/** The hash the stamp records: the dashboard's sources, the sdk modules it bundles and Vite's version. */
export function dashboardSourcesHash(): string {
  const h = createHash("sha256");
  const walk = (p: string): void => {
    if (!existsSync(p)) return;
    if (statSync(p).isDirectory()) for (const n of readdirSync(p).sort()) walk(path.join(p, n));
    else h.update(path.relative(ROOT, p)).update(readFileSync(p));
  };
  walk(path.join(DASHBOARD_DIR, "index.html"));
  walk(path.join(DASHBOARD_DIR, "src"));
  for (const f of SDK_SOURCES) walk(path.join(ROOT, f));
  const vite = path.join(ROOT, "node_modules", "vite", "package.json");
  if (existsSync(vite)) h.update(readFileSync(vite));
  return h.digest("hex");
}

/** Whether `dist` holds a build of the current sources. */
export function dashboardBuildCurrent(dist = DASHBOARD_DIST): boolean {
  const stamp = path.join(dist, STAMP);
  return existsSync(stamp) && readFileSync(stamp, "utf8") === dashboardSourcesHash();
}

async function viteBuild(outDir: string): Promise<void> {
  let vite: typeof import("vite");
  try {
    vite = await import("vite");
  } catch (e) {
    throw new DashboardBuildError(
      "the dashboard is not built and Vite is not installed (a dev dependency): run `npm run dashboard:build` where it is",
      { cause: e },
    );
  }
  await vite.build({
    root: DASHBOARD_DIR,
    base: "./",
    configFile: false,
    logLevel: "warn",
    build: { outDir, emptyOutDir: true, sourcemap: true, chunkSizeWarningLimit: 2048 },
  });
}

/**
 * Builds `dashboard/dist` unless a build of the same sources is there. Returns whether it built.
 */
export async function ensureDashboardBuild(opts: { force?: boolean } = {}): Promise<boolean> {
  if (!opts.force && dashboardBuildCurrent()) return false;
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const since = statSync(LOCK, { throwIfNoEntry: false })?.mtimeMs;
      if (since !== undefined && Date.now() - since > STALE_LOCK_MS)
        rmSync(LOCK, { recursive: true, force: true });
      else await sleep(250);
    }
  }
  const tmp = path.join(DASHBOARD_DIR, `.dist-${process.pid}`);
  try {
    if (!opts.force && dashboardBuildCurrent()) return false;
    const want = dashboardSourcesHash();
    try {
      await viteBuild(tmp);
    } catch (e) {
      if (e instanceof DashboardBuildError) throw e;
      throw new DashboardBuildError(`vite build failed: ${(e as Error).message}`, { cause: e });
    }
    writeFileSync(path.join(tmp, STAMP), want);
    rmSync(DASHBOARD_DIST, { recursive: true, force: true });
    renameSync(tmp, DASHBOARD_DIST);
    return true;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    rmSync(LOCK, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const t0 = Date.now();
  ensureDashboardBuild({ force: process.argv.includes("--force") }).then(
    (built) =>
      console.log(
        built
          ? `built ${path.relative(ROOT, DASHBOARD_DIST)} in ${((Date.now() - t0) / 1000).toFixed(1)} s`
          : `${path.relative(ROOT, DASHBOARD_DIST)} is up to date`,
      ),
    (e: unknown) => {
      console.error(`dashboard:build: ${(e as Error).message}`);
      process.exit(1);
    },
  );
}
