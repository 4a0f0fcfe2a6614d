#!/usr/bin/env node
/**
 * `npm test`, on a 2-core machine within 20 minutes:
 * 1. while solc compiles the contracts (the wasm compiler keeps one core busy for minutes), lint (tsc, eslint,
 *    solhint, prettier), then the TypeScript tests that need no compiled contract (PRE_BUILD: the sdk's units, the
 *    command lines' and processes' own tests) run on the other core;
 * 2. the Solidity tests;
 * 3. the remaining TypeScript tests in two lanes: the end-to-end tests (test/e2e: whole networks of processes that
 *    spend much of their time waiting on each other, the chain's clock and their deadlines, with the subgraph's
 *    mapping tests and the `dml` command line's) beside every other file.
 * Stops at the first failing stage with its exit code. A lane's captured output is printed whole once it ends, so the
 * lanes never interleave. `npm run test:ts` still runs every TypeScript test file in one process.
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

/** Stages still running; a failing stage's exit stops them (the pre-build lane may still run when the build fails). */
const running = new Set();
process.on("exit", () => {
  for (const child of running) child.kill("SIGTERM");
});

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
    running.add(child);
    const chunks = [];
    if (capture) {
      child.stdout.on("data", (c) => chunks.push(c));
      child.stderr.on("data", (c) => chunks.push(c));
    }
    child.on("close", (code, signal) => {
      running.delete(child);
      resolve({
        script: label,
        code: code ?? (signal ? 1 : 0),
        seconds: (Date.now() - started) / 1000,
        output: Buffer.concat(chunks).toString(),
      });
    });
  });
}

function report(r) {
  process.stdout.write(
    `\n[npm test] ${r.script}: ${r.code === 0 ? "ok" : `failed (exit ${r.code})`} in ${r.seconds.toFixed(0)} s\n`,
  );
}

/** Every `*.test.ts` under `dir` (or `dir` itself when it is a test file), relative to the repository. */
function testFiles(dir) {
  if (dir.endsWith(".test.ts")) return [dir];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".test.ts"))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

/**
 * Test files that import no compiled contract and deploy nothing (checked on a clean clone before any build: they
 * pass with no artifacts/ folder). A file added here that does need the build fails on CI's clean clone.
 */
const PRE_BUILD = [
  "test/bench",
  "test/crypto",
  "test/dashboard",
  "test/ipfs",
  "test/ml",
  "test/privacy",
  "test/protocol",
  "test/secagg",
  "test/chain/artifacts.test.ts",
  "test/chain/cohort.test.ts",
  "test/chain/finetuning.test.ts",
  "test/chain/payouts.test.ts",
  "test/cli/errors.test.ts",
  "test/device-runner/cli.test.ts",
  "test/device-runner/dp-job.test.ts",
  "test/device-runner/job.test.ts",
  "test/device-runner/ledger.test.ts",
  "test/device-runner/local.test.ts",
  "test/device-runner/session-keys.test.ts",
  "test/indexer/cli.test.ts",
  "test/indexer/dashboard-serve.test.ts",
  "test/indexer/graphql.test.ts",
  "test/indexer/runtime-units.test.ts",
  "test/indexer/store-postgres.test.ts",
  "test/indexer/store.test.ts",
  "test/relayers/action-queue.test.ts",
  "test/relayers/aggregator-cli.test.ts",
  "test/relayers/attestor-round-compose.test.ts",
  "test/relayers/config-telemetry.test.ts",
  "test/relayers/distributor-heartbeats.test.ts",
  "test/relayers/metrics-docs.test.ts",
  "test/relayers/refiner-cli.test.ts",
  "test/relayers/refiner-round-state.test.ts",
  "test/relayers/refiner-updates.test.ts",
  "test/relayers/relayer-process.test.ts",
  "test/relayers/watcher-checks.test.ts",
  "test/toolchain/erasable.test.ts",
].flatMap(testFiles);
// lint, then these tests, on the core the compiler leaves idle (all three at once slowed the compiler by half);
// --no-compile: Hardhat must not start a second compilation beside `npm run build`
const buildRun = run("build");
const lint = await run("lint", true);
// (not after a failed lint: the run stops once the build ends)
const preBuild =
  lint.code === 0
    ? run(
        "test:ts",
        true,
        ["--no-compile", ...PRE_BUILD],
        "test:ts (no compiled contract needed, beside the build)",
      )
    : undefined;
const build = await buildRun;
process.stdout.write(`\n[npm test] lint output:\n${lint.output}`);
report(lint);
report(build);
const failed = [lint, build].find((r) => r.code !== 0);
if (failed) process.exit(failed.code);

const sol = await run("test:sol");
report(sol);
if (sol.code !== 0) process.exit(sol.code);

// the subgraph's mapping tests (one hardhat node for the lot, a deployment each) and the `dml` command line's (a
// process per command against a hardhat node, mostly waiting on it) balance the two lanes' times
const e2e = [
  ...testFiles("test/e2e"),
  ...testFiles("test/subgraph/mappings"),
  ...testFiles("test/cli"),
];
const rest = testFiles("test").filter((f) => !e2e.includes(f) && !PRE_BUILD.includes(f));
// the build above compiled everything: two lanes that each compiled would race on Hardhat's compile cache
const lanes = await Promise.all([
  run("test:ts", false, ["--no-compile", ...rest], "test:ts (the other files that need the build)"),
  run(
    "test:ts",
    true,
    ["--no-compile", ...e2e],
    "test:ts (test/e2e, test/subgraph/mappings, test/cli)",
  ),
]);
process.stdout.write(`\n[npm test] test/e2e + mappings + cli output:\n${lanes[1].output}`);
const pre = await preBuild; // lint passed (else the run stopped above), so the lane ran
process.stdout.write(`\n[npm test] tests beside the build, output:\n${pre.output}`);
for (const r of [pre, ...lanes]) report(r);
const failedLane = [pre, ...lanes].find((r) => r.code !== 0);
if (failedLane) process.exit(failedLane.code);
