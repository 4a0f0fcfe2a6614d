/**
 * Every TypeScript file is erasable syntax only (`erasableSyntaxOnly` in tsconfig.json), so each script and bin runs
 * alike under tsx, ts-node (ESM) and Node's own type stripping. Each runner is a real child process on the project's
 * Node 22 (`node_modules/.bin/node`); see docs/toolchain.md.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { stripTypeScriptTypes } from "node:module";
import path from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";

const exec = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, "../..");
const NODE = path.join(ROOT, "node_modules/.bin/node");
const TSX = path.join(ROOT, "node_modules/tsx/dist/cli.mjs");
const TS_NODE = path.join(ROOT, "node_modules/ts-node/dist/bin.js");
const SOURCE_DIRS = ["sdk", "device-runner", "script", "bench", "relayers", "test"];

/** The ways a user may run a `.ts` file, each as argv after the Node binary. */
const RUNNERS: Record<string, (file: string) => string[]> = {
  "node (type stripping)": (file) => [file],
  // on by default since Node 22.18; the flag is accepted and changes nothing
  "node --experimental-strip-types": (file) => ["--experimental-strip-types", file],
  "ts-node --esm": (file) => [TS_NODE, "--esm", file],
  tsx: (file) => [TSX, file],
};

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  // PATH first names Node 22: ts-node --esm re-spawns itself with process.execPath, tsx with `node`.
  const env = {
    ...process.env,
    PATH: `${path.dirname(NODE)}${path.delimiter}${process.env.PATH ?? ""}`,
  };
  try {
    const r = await exec(NODE, argv, { cwd: ROOT, env, timeout: 120_000 });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}

async function typeScriptFiles(): Promise<string[]> {
  const files: string[] = [];
  for (const dir of SOURCE_DIRS) {
    const abs = path.join(ROOT, dir);
    if (!existsSync(abs)) continue;
    for (const f of await readdir(abs, { recursive: true })) {
      if (f.endsWith(".ts") && !f.endsWith(".d.ts") && !f.split(path.sep).includes("node_modules"))
        files.push(path.join(dir, f));
    }
  }
  return [...files, "hardhat.config.ts"].sort();
}

describe("erasable TypeScript", () => {
  it("Node's strip-only transform accepts every .ts file (and rejects a parameter property)", async () => {
    assert.throws(
      () => stripTypeScriptTypes("class A { constructor(private x: number) {} }"),
      (e: NodeJS.ErrnoException) => e.code === "ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX",
    );
    const files = await typeScriptFiles();
    assert.ok(files.length > 100, `found only ${files.length} files`);
    const rejected: string[] = [];
    for (const f of files) {
      try {
        stripTypeScriptTypes(await readFile(path.join(ROOT, f), "utf8"), { mode: "strip" });
      } catch (e) {
        rejected.push(`${f}: ${(e as Error).message}`);
      }
    }
    assert.deepEqual(rejected, []);
  });

  for (const [name, argv] of Object.entries(RUNNERS)) {
    it(`dml-device --help exits 0 under ${name}`, async () => {
      const r = await run([...argv("device-runner/cli.ts"), "--help"]);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /^Usage: dml-device \[options\] \[command\]/);
      assert.match(r.out, /run \[options\] +watch the chain for cohorts/);
      assert.doesNotMatch(r.err, /ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX/);
    });
  }

  it("a script prints the same output under every runner", async () => {
    const outs = await Promise.all(
      Object.values(RUNNERS).map((argv) =>
        run([...argv("script/erc7201-slot.ts"), "dml.storage.NodeStaking"]),
      ),
    );
    for (const r of outs) assert.equal(r.code, 0, r.err);
    const first = outs[0]?.out;
    assert.match(first ?? "", /^dml\.storage\.NodeStaking 0x[0-9a-f]{62}00\n$/);
    for (const r of outs) assert.equal(r.out, first);
  });
});
