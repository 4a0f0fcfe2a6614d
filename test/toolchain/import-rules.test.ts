/**
 * Where code may import from (docs/CONVENTIONS.md "Where code lives"): `sdk/` is the protocol client every other part
 * builds on and imports none of them; `cli/` (the `dml` command line), `relayers/`, `indexer/` (the local graph host)
 * and `dashboard/` (the page) import `sdk/` only; `bench/` never imports test helpers; `device-runner/` imports no
 * script, bench, relayer or test; `script/` imports `device-runner/` only from the files that really run a device.
 * Every `.ts` file's import specifiers (static, `export … from`, dynamic `import()`, as
 * TypeScript's own pre-processor lists them) are resolved to a repository path and checked.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { describe, it } from "node:test";
import ts from "typescript";

const ROOT = path.resolve(import.meta.dirname, "../..");

/** Scripts that run a device (the demo registers, consents, runs daemons and claims for its devices). */
const SCRIPTS_RUNNING_A_DEVICE = new Set(["script/demo-job.ts", "script/network/devices.ts"]);

/** Top-level folders each folder must not import from. */
const FORBIDDEN: Record<string, readonly string[]> = {
  sdk: ["device-runner", "script", "test", "bench", "relayers", "indexer", "cli", "dashboard"],
  cli: ["device-runner", "script", "test", "bench", "relayers", "indexer"],
  indexer: ["device-runner", "script", "test", "bench", "relayers"],
  relayers: ["device-runner", "script", "test", "bench", "indexer", "cli"],
  bench: ["test", "device-runner"],
  "device-runner": ["script", "test", "bench", "relayers", "indexer"],
  script: ["test", "bench", "relayers", "device-runner"],
  // the page bundles browser-safe sdk modules only (docs/dashboard.md)
  dashboard: ["device-runner", "script", "test", "bench", "relayers", "indexer", "cli"],
};

/** The repository path (`sdk/chain/x.ts`) an import specifier of `file` names, or undefined for a package. */
export function resolveSpecifier(file: string, specifier: string): string | undefined {
  if (specifier.startsWith("#sdk/")) return path.posix.join("sdk", specifier.slice("#sdk/".length));
  if (!specifier.startsWith(".")) return undefined;
  return path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier));
}

/** The forbidden imports of one file (repository-relative path, posix separators). */
export function forbiddenImports(file: string, source: string): string[] {
  const top = file.split("/")[0] ?? "";
  const banned = FORBIDDEN[top] ?? [];
  const out: string[] = [];
  for (const { fileName } of ts.preProcessFile(source, true, true).importedFiles) {
    const target = resolveSpecifier(file, fileName);
    if (target === undefined) continue;
    const dest = target.split("/")[0] ?? "";
    if (!banned.includes(dest)) continue;
    if (dest === "device-runner" && SCRIPTS_RUNNING_A_DEVICE.has(file)) continue;
    out.push(`${file} imports ${fileName}`);
  }
  return out;
}

async function filesUnder(dir: string): Promise<string[]> {
  const abs = path.join(ROOT, dir);
  if (!existsSync(abs)) return [];
  return (await readdir(abs, { recursive: true }))
    .filter((f) => f.endsWith(".ts") && !f.split(path.sep).includes("node_modules"))
    .map((f) => path.posix.join(dir, f.split(path.sep).join("/")));
}

describe("import rules", () => {
  it("the checker catches each kind of forbidden import (and passes allowed ones)", () => {
    const src = [
      'import { a } from "../device-runner/x.ts";',
      'export { b } from "../../test/helpers.ts";',
      'const c = await import("../script/deploy.ts");',
      'import type { D } from "#sdk/chain/d.ts";',
      'import { e } from "viem";',
      'import { f } from "./sibling.ts";',
    ].join("\n");
    assert.deepEqual(forbiddenImports("sdk/foo.ts", src), [
      "sdk/foo.ts imports ../device-runner/x.ts",
      "sdk/foo.ts imports ../script/deploy.ts",
    ]);
    assert.deepEqual(forbiddenImports("sdk/protocol/foo.ts", src), [
      "sdk/protocol/foo.ts imports ../../test/helpers.ts",
    ]);
    assert.deepEqual(forbiddenImports("bench/x.ts", 'import { J } from "../test/a/b.ts";'), [
      "bench/x.ts imports ../test/a/b.ts",
    ]);
    assert.deepEqual(
      forbiddenImports("script/demo-job.ts", 'import "../device-runner/daemon.ts";'),
      [],
    );
    assert.deepEqual(forbiddenImports("script/other.ts", 'import "../device-runner/daemon.ts";'), [
      "script/other.ts imports ../device-runner/daemon.ts",
    ]);
  });

  it("no file in sdk/, cli/, relayers/, indexer/, bench/, device-runner/, script/ or dashboard/ imports across a forbidden boundary", async () => {
    const files = (await Promise.all(Object.keys(FORBIDDEN).map(filesUnder))).flat();
    assert.ok(files.length > 100, `found only ${files.length} files`);
    const violations: string[] = [];
    for (const f of files)
      violations.push(...forbiddenImports(f, await readFile(path.join(ROOT, f), "utf8")));
    assert.deepEqual(violations, []);
  });
});
