#!/usr/bin/env node
/**
 * `npm test`, on a 2-core machine within 20 minutes (docs/testing.md):
 * 1. the protocol's contracts compile (≈ 55 s) beside lint (tsc, eslint, solhint, prettier);
 * 2. once the contracts are built (lint runs on beside them: it no longer holds the tests back), side by side:
 *    - the Solidity test suites compile (their own job, without the optimizer: hardhat.config.ts) and run;
 *    - the end-to-end lane: test/e2e (whole networks of processes that spend much of their time waiting on each
 *      other, the chain's clock and their deadlines), the subgraph's mapping tests and the `dml` command line's;
 *    - lane A: the TypeScript tests of FIRST_LANE;
 *    - lane B, once the Solidity tests have ended: every other TypeScript test.
 *    The TypeScript tests need only the contracts' artifacts, not the suites'.
 * Stops at the first failing stage with its exit code (the stages running beside it are stopped). A stage's captured
 * output is printed whole once it ends, so stages never interleave. `npm run test:ts` still runs every TypeScript
 * test file in one process. `npm run test:full` (DML_TEST_PROFILE=full) builds the production profile (the suites
 * optimized too) and asserts the suites' gas budgets (DML_GAS_BUDGETS).
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

const full = process.env.DML_TEST_PROFILE === "full";
/** Hardhat's build profile: production (the Solidity suites optimized, as deployed) for the full profile. */
const PROFILE = full ? ["--build-profile", "production"] : [];
// the suites' gas budgets hold for optimized bytecode only (test/utils/BaseTest.sol assertGasBelow)
if (full) process.env.DML_GAS_BUDGETS ??= "1";

/** Stages still running; a failing stage's exit stops them. */
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
 * Lane A's test files: the sdk's units, the command lines' and processes' own tests, and a few of the heavier files
 * that need the contracts, balancing it against lane B (which starts ≈ 3 minutes later, after the Solidity tests).
 */
const FIRST_LANE = [
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
  "test/relayers/cli.test.ts",
  "test/relayers/watcher.test.ts",
  "test/device-runner/train-cli.test.ts",
  // measured 2026-12-07: lane A ended ≈ 330 s before the Solidity lane's lane B; these move ≈ 150 s of B to A
  "test/relayers/aggregator.test.ts",
  "test/relayers/watcher-process.test.ts",
  "test/device-runner/real-job.test.ts",
  "test/integration/job-lifecycle.test.ts",
  "test/integration/growth-pool.test.ts",
  "test/relayers/attestor-process.test.ts",
  "test/relayers/refiner-hosted.test.ts",
  // measured 2026-12-07 (stop 28): lane A ended ≈ 70 s before the Solidity lane's lane B; this moves ≈ 35 s
  "test/relayers/attestor-round.test.ts",
  // measured 2026-12-08 (stop 29): lane A ended ≈ 65 s before the Solidity lane's lane B; these move ≈ 45 s
  "test/indexer/indexer.test.ts",
  "test/integration/transcript-attestation.test.ts",
].flatMap(testFiles);
// 1. the contracts beside lint; the tests start once the contracts are built, while lint may still run
const lint = run("lint", true);
const contracts = await run("build", true, [...PROFILE, "--no-tests"], "build (contracts)");
/** Prints a stage's captured output and result; a failed stage ends the run (and the stages beside it). */
function settle(r) {
  process.stdout.write(`\n[npm test] ${r.script} output:\n${r.output}`);
  report(r);
  if (r.code !== 0) process.exit(r.code);
  return r;
}
settle(contracts);

// 2. side by side; every TypeScript lane runs with --no-compile (two processes that each compiled would race on
// Hardhat's compile cache), the suites' build with --no-contracts
const e2e = [
  ...testFiles("test/e2e"),
  ...testFiles("test/subgraph/mappings"),
  ...testFiles("test/cli"),
].filter((f) => !FIRST_LANE.includes(f)); // each file runs in one lane only
const laneB = testFiles("test").filter((f) => !e2e.includes(f) && !FIRST_LANE.includes(f));
const solidity = (async () => {
  settle(await run("build", true, [...PROFILE, "--no-contracts"], "build (Solidity test suites)"));
  settle(await run("test:sol", true, [...PROFILE, "--no-compile"]));
  return settle(
    await run("test:ts", true, ["--no-compile", ...laneB], "test:ts (lane B: the other files)"),
  );
})();
await Promise.all([
  lint.then(settle),
  solidity,
  run(
    "test:ts",
    true,
    ["--no-compile", ...e2e],
    "test:ts (test/e2e, test/subgraph/mappings, test/cli)",
  ).then(settle),
  run("test:ts", true, ["--no-compile", ...FIRST_LANE], "test:ts (lane A)").then(settle),
]);
