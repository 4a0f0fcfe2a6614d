/**
 * script/bin/bundle.mjs: a bin's TypeScript module is loaded from an esbuild bundle that is rebuilt whenever one of
 * its inputs changes, keeps each module's own import.meta paths, keeps lazily imported modules lazy, and falls back
 * to the TypeScript module when it cannot be built or is turned off.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, describe, it } from "node:test";
import { bundled } from "../../script/bin/bundle.mjs";

interface Fixture {
  value: number;
  here: string;
  loadLazy: () => Promise<{ lazy: string }>;
}

describe("bundled: the bins' bundles", () => {
  let root: string;
  let src: string;
  let out: string;
  let entry: string;
  const env = {};

  const writeDep = (value: number) =>
    writeFile(
      path.join(src, "dep.ts"),
      `export const value: number = ${value};\nexport const here: string = import.meta.dirname;\n`,
    );

  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), "dml-bundle-"));
    src = path.join(root, "src");
    out = path.join(root, "out");
    entry = path.join(src, "entry.ts");
    await mkdir(src);
    await writeDep(1);
    await writeFile(
      path.join(src, "lazy.ts"),
      `export const lazy: string = "loaded " + import.meta.filename;\n`,
    );
    await writeFile(
      entry,
      `export { value, here } from "./dep.ts";\nexport const loadLazy = () => import("./lazy.ts");\n`,
    );
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("builds once, keeps each module's own import.meta paths and lazy modules in a chunk, reuses an unchanged bundle", async () => {
    const file = await bundled(entry, { dir: out, env });
    assert.notEqual(file, entry);
    assert.ok(file.startsWith(out + path.sep), file);
    const m = (await import(pathToFileURL(file).href)) as Fixture;
    assert.equal(m.value, 1);
    assert.equal(m.here, src, "import.meta.dirname is the module's own, not the bundle's");
    assert.equal((await m.loadLazy()).lazy, `loaded ${path.join(src, "lazy.ts")}`);
    const files = await readdir(path.dirname(file));
    assert.ok(files.length >= 2, `the lazy module is a chunk of its own: ${files.join(", ")}`);
    assert.equal(await bundled(entry, { dir: out, env }), file, "an unchanged bundle is reused");
  });

  it("rebuilds when an input changes; falls back to the module itself when the build fails or bundling is off", async () => {
    const first = await bundled(entry, { dir: out, env });
    await writeDep(22);
    const second = await bundled(entry, { dir: out, env });
    assert.notEqual(second, first);
    assert.equal(((await import(pathToFileURL(second).href)) as Fixture).value, 22);
    // the older directory stays for processes still running from it
    assert.ok((await readdir(path.dirname(first))).includes("entry.mjs"));

    await writeFile(path.join(src, "dep.ts"), "export const value: number = ;\n");
    assert.equal(await bundled(entry, { dir: out, env }), entry, "a failed build falls back");
    await writeDep(3);
    assert.equal(await bundled(entry, { dir: out, env: { DML_BUNDLE: "0" } }), entry);
  });
});
