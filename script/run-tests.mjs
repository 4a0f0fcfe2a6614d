#!/usr/bin/env node
/**
 * `npm test`: lint (tsc, eslint, solhint, prettier) runs while solc compiles the contracts — the wasm compiler uses
 * one core for minutes and lint is single-threaded too — then the Solidity tests, then the TypeScript tests. Stops at
 * the first failing stage with its exit code. Lint's output is printed whole once it ends, so the two never interleave.
 */
import { Buffer } from "node:buffer";
import { spawn } from "node:child_process";
import process from "node:process";

/** Runs `npm run <script>`; `capture` buffers its output instead of streaming it. */
function run(script, capture = false) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn("npm", ["run", "--silent", script], {
      stdio: capture ? ["ignore", "pipe", "pipe"] : "inherit",
    });
    const chunks = [];
    if (capture) {
      child.stdout.on("data", (c) => chunks.push(c));
      child.stderr.on("data", (c) => chunks.push(c));
    }
    child.on("close", (code, signal) =>
      resolve({
        script,
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

for (const script of ["test:sol", "test:ts"]) {
  const r = await run(script);
  report(r);
  if (r.code !== 0) process.exit(r.code);
}
