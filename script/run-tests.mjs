#!/usr/bin/env node
/**
 * `npm test`: lint (tsc, eslint, solhint, prettier) runs while solc compiles the contracts — the wasm compiler uses
 * one core for minutes and lint is single-threaded too — then the Solidity tests, then the TypeScript tests in two
 * lanes: the end-to-end tests (test/e2e: whole networks of processes that spend much of their time waiting on each
 * other, the chain's clock and their deadlines) beside every other test file. Stops at the first failing stage with
 * its exit code. A lane's captured output is printed whole once it ends, so the lanes never interleave.
 * `npm run test:ts` still runs every TypeScript test file in one process.
 */
import { Buffer } from "node:buffer";
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import process from "node:process";

// every Node process of the run (test runners, the processes tests start) shares Node's on-disk cache of compiled
// code: a process that loads the protocol's modules starts with ≈ 25% less CPU once the cache holds them
process.env.NODE_COMPILE_CACHE ??= path.join(tmpdir(), "dml-node-compile-cache");

/** Runs `npm run <script> [-- args]`; `capture` buffers its output instead of streaming it. */
function run(script, capture = false, args = [], label = script) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(
      "npm",
      ["run", "--silent", script, ...(args.length ? ["--", ...args] : [])],
      {
        stdio: capture ? ["ignore", "pipe", "pipe"] : "inherit",
      },
    );
    const chunks = [];
    if (capture) {
      child.stdout.on("data", (c) => chunks.push(c));
      child.stderr.on("data", (c) => chunks.push(c));
    }
    child.on("close", (code, signal) =>
      resolve({
        script: label,
        code: code ?? (signal ? 1 : 0),
        seconds: (Date.now() - started) / 1000,
        output: Buffer.concat(chunks).toString(),
      }),
    );
  });
}

function report(r) {
  process.stdout.write(
    `\n[npm test] ${r.script}: ${r.code === 0 ? "ok" : `failed (exit ${r.code})`} in ${r.seconds.toFixed(0)} s\n`,
  );
}

const [lint, build] = await Promise.all([run("lint", true), run("build")]);
process.stdout.write(`\n[npm test] lint output:\n${lint.output}`);
report(lint);
report(build);
const failed = [lint, build].find((r) => r.code !== 0);
if (failed) process.exit(failed.code);

const sol = await run("test:sol");
report(sol);
if (sol.code !== 0) process.exit(sol.code);

/** Every `*.test.ts` under `dir`, relative to the repository. */
function testFiles(dir) {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".test.ts"))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}
// the subgraph's mapping tests (one hardhat node for the lot, a deployment each) and the `dml` command line's (a
// process per command against a hardhat node, mostly waiting on it) balance the two lanes' times
const e2e = [
  ...testFiles("test/e2e"),
  ...testFiles("test/subgraph/mappings"),
  ...testFiles("test/cli"),
];
const rest = testFiles("test").filter((f) => !e2e.includes(f));
// the build above compiled everything: two lanes that each compiled would race on Hardhat's compile cache
const lanes = await Promise.all([
  run("test:ts", false, ["--no-compile", ...rest], "test:ts (all but test/e2e)"),
  run(
    "test:ts",
    true,
    ["--no-compile", ...e2e],
    "test:ts (test/e2e, test/subgraph/mappings, test/cli)",
  ),
]);
process.stdout.write(`\n[npm test] test/e2e + mappings + cli output:\n${lanes[1].output}`);
for (const r of lanes) report(r);
const failedLane = lanes.find((r) => r.code !== 0);
if (failedLane) process.exit(failedLane.code);
