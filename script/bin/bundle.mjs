// The package bins' bundles: a bin's TypeScript module together with every project module it imports and the
// pure-JavaScript packages most bins load (BUNDLED_PACKAGES), built by esbuild into ESM files; other packages stay
// imports, resolved from the repository's node_modules as before. Node then loads a few files instead of ≈ 1,000: no
// resolution, stat, package-scope lookup or type stripping per module, ≈ 1.8 s of CPU less per relayer start on the
// project's 2-core machine (docs/toolchain.md). Modules a CLI imports only when a command runs (`dml-device`'s) stay
// lazy: esbuild splits them into chunks of their own.
//
// A bundle is a directory `node_modules/.cache/dml-bin/<entry>-<random>/` and a pointer `<entry>.json` naming it and
// listing every input with its size and modification time. It is used only while every input is unchanged (a stat
// each, a few ms for a relayer's ≈ 1,100); otherwise a new directory is built and the pointer replaced atomically,
// so processes starting together never read half a bundle, and a process still running from an older directory
// keeps it (older directories are removed after a day). Each module keeps its own `import.meta.url`, `dirname` and
// `filename` (replaced by its own path at build time), so paths to artifacts, data and workers resolve as they do
// unbundled. Anything that fails (no esbuild, an unwritable cache, a build error) falls back to the TypeScript
// modules. DML_BUNDLE=0 turns bundling off.
import { randomBytes } from "node:crypto";
import {
  existsSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = path.resolve(import.meta.dirname, "..", "..");
/** Where bundles are kept. */
export const BUNDLE_DIR = path.join(ROOT, "node_modules", ".cache", "dml-bin");
/** Bumped when what a bundle holds changes (its options, the pointer's shape), so older bundles are rebuilt. */
const FORMAT = 2;
/** Older bundle directories are removed once this old (a process started from one may still load its chunks). */
const KEEP_MS = 24 * 3600 * 1000;

/** The name of `entry`'s bundle (an absolute path): its path in the repository, `/` as `-`. */
function bundleName(entry) {
  return path.relative(ROOT, entry).replaceAll(path.sep, "-");
}

/** The pointer file of `entry`'s bundle in `dir`. */
export function pointerFile(entry, dir = BUNDLE_DIR) {
  return path.join(dir, `${bundleName(entry)}.json`);
}

/** The pointer's content (null when missing, unreadable or of another format). */
function readPointer(file) {
  try {
    const pointer = JSON.parse(readFileSync(file, "utf8"));
    return pointer.format === FORMAT ? pointer : null;
  } catch {
    return null;
  }
}

/** True when every recorded input still has its recorded size and modification time. */
function fresh(inputs) {
  for (const [file, size, mtimeMs] of inputs) {
    try {
      const s = statSync(file);
      if (s.size !== size || s.mtimeMs !== mtimeMs) return false;
    } catch {
      return false;
    }
  }
  return true;
}

/**
 * Packages bundled with the project's modules: pure JavaScript without files of their own to locate, loaded by most
 * bins (viem alone is ≈ 0.6 s of CPU to load unbundled, one module per file). Every other package stays an import:
 * those with WebAssembly, native or data files found relative to their modules (PGlite, ONNX Runtime), worker files
 * (pino), or large graphs a process loads only when it opens a store (Helia and its multiformats).
 */
const BUNDLED_PACKAGES = new Set([
  "viem",
  "zod",
  "@noble/hashes",
  "@noble/curves",
  "@noble/ciphers",
  "commander",
  "eciesjs",
  "@openzeppelin/merkle-tree",
  "@ethereumjs/wallet",
  "shamir-secret-sharing",
  "prom-client",
]);

/** The package a bare specifier names (`@scope/name` or `name`). */
function packageOf(spec) {
  const parts = spec.split("/");
  return spec.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

/** An esbuild plugin keeping every package outside BUNDLED_PACKAGES an import. */
const externalPackages = {
  name: "dml-external-packages",
  setup(build) {
    build.onResolve({ filter: /^[^./#]/ }, (args) => {
      if (args.path.startsWith("node:") || BUNDLED_PACKAGES.has(packageOf(args.path)))
        return undefined;
      // a bundled package's own dependencies are bundled too (they are not the project's to share)
      if (args.importer.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
      return { path: args.path, external: true };
    });
  },
};

/** An esbuild plugin giving each module its own import.meta.url / dirname / filename. */
const ownImportMeta = {
  name: "dml-own-import-meta",
  setup(build) {
    build.onLoad({ filter: /\.[cm]?[jt]s$/ }, (args) => {
      const source = readFileSync(args.path, "utf8");
      if (!source.includes("import.meta")) return undefined;
      const contents = source
        .replaceAll("import.meta.url", JSON.stringify(pathToFileURL(args.path).href))
        .replaceAll("import.meta.dirname", JSON.stringify(path.dirname(args.path)))
        .replaceAll("import.meta.filename", JSON.stringify(args.path));
      return { contents, loader: args.path.endsWith("ts") ? "ts" : "js" };
    });
  },
};

/** Builds `entry`'s bundle into a new directory of `dir` and points to it; returns its entry file. */
async function build(entry, dir) {
  const name = bundleName(entry);
  const outdir = path.join(dir, `${name}-${randomBytes(6).toString("hex")}`);
  const esbuild = await import("esbuild");
  const result = await esbuild.build({
    entryPoints: [entry],
    absWorkingDir: ROOT,
    bundle: true,
    platform: "node",
    format: "esm",
    splitting: true,
    outdir,
    entryNames: "entry",
    outExtension: { ".js": ".mjs" },
    target: "node22",
    keepNames: true,
    metafile: true,
    logLevel: "silent",
    // the bundled CommonJS packages' `require` of Node's own modules
    banner: {
      js: 'import { createRequire as __dmlCreateRequire } from "node:module"; const require = __dmlCreateRequire(import.meta.url);',
    },
    plugins: [externalPackages, ownImportMeta],
  });
  // this file and esbuild's version are inputs too: a change to how bundles are made remakes them
  const esbuildPackage = path.join(
    path.dirname(fileURLToPath(import.meta.resolve("esbuild"))),
    "..",
    "package.json",
  );
  const files = [
    ...Object.keys(result.metafile.inputs),
    fileURLToPath(import.meta.url),
    esbuildPackage,
  ];
  const inputs = files.map((rel) => {
    const abs = path.resolve(ROOT, rel);
    const s = statSync(abs);
    return [abs, s.size, s.mtimeMs];
  });
  const pointer = pointerFile(entry, dir);
  const tmp = `${pointer}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    writeFileSync(
      tmp,
      JSON.stringify({ format: FORMAT, entry, dir: path.basename(outdir), inputs }),
    );
    renameSync(tmp, pointer);
  } finally {
    rmSync(tmp, { force: true });
  }
  removeOld(dir, name, path.basename(outdir));
  return path.join(outdir, "entry.mjs");
}

/**
 * Removes `name`'s bundle directories other than `keep` that are older than KEEP_MS. Best effort: a directory another
 * process removes meanwhile is skipped, and nothing here fails the build that just succeeded.
 */
function removeOld(dir, name, keep) {
  const own = (n) => n.startsWith(`${name}-`) && /^[0-9a-f]{12}$/.test(n.slice(name.length + 1));
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (!e.isDirectory() || e.name === keep || !own(e.name)) continue;
    const full = path.join(dir, e.name);
    try {
      if (Date.now() - statSync(full).mtimeMs > KEEP_MS)
        rmSync(full, { recursive: true, force: true });
    } catch {
      // removed by another process's build
    }
  }
}

/**
 * The file to import for the TypeScript module `entry` (an absolute path): its bundle, fresh or rebuilt; `entry`
 * itself when bundling is off, the module is not the project's own (an installed copy under node_modules), or the
 * bundle can be neither read nor built.
 */
export async function bundled(entry, { dir = BUNDLE_DIR, env = process.env } = {}) {
  if (env.DML_BUNDLE === "0" || entry.includes(`${path.sep}node_modules${path.sep}`)) return entry;
  const pointer = readPointer(pointerFile(entry, dir));
  if (pointer !== null && pointer.entry === entry && fresh(pointer.inputs)) {
    const file = path.join(dir, pointer.dir, "entry.mjs");
    if (existsSync(file)) return file;
  }
  try {
    return await build(entry, dir);
  } catch {
    return entry;
  }
}

/** `bundled` for a file: URL. */
export async function bundledUrl(url) {
  return pathToFileURL(await bundled(fileURLToPath(url))).href;
}
