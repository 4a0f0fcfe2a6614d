/**
 * `dml-indexer` through its package bin, as an operator runs it: --help says what it does, lists every flag and shows
 * examples; bad options and an unreadable manifest are one coded line and exit 2 (the shared formatter,
 * sdk/cli/errors.ts).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import path from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { helpText } from "#sdk/cli/help.ts";
import { buildProgram } from "../../indexer/cli.ts";
import { TS_NODE_ARGS } from "../../script/network/processes.ts";

const exec = promisify(execFile);
const BIN = path.resolve(import.meta.dirname, "../../indexer/bin/dml-indexer.mjs");
const run = (args: string[]) =>
  exec(process.execPath, [BIN, ...args]).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );

describe("dml-indexer CLI", () => {
  it("--help lists every flag and shows examples", () => {
    const program = buildProgram();
    const text = helpText(program);
    for (const o of program.options) assert.ok(text.includes(o.flags), o.flags);
    assert.match(text, /\nExamples:\n {2}dml-indexer --rpc /);
  });

  it("bad options and a missing manifest are one coded line, exit 2, nothing dumped", async () => {
    const port = await run([
      "--rpc",
      "http://127.0.0.1:9",
      "--manifest",
      "x.json",
      "--port",
      "http",
    ]);
    assert.equal(port.code, 2);
    assert.equal(
      port.stderr,
      "dml-indexer: error[USAGE]: option '--port <n>' argument 'http' is invalid. a port is an integer in 0..65535 (see --help)\n",
    );
    const missing = await run(["--rpc", "http://127.0.0.1:9", "--manifest", "/nonexistent/m.json"]);
    assert.equal(missing.code, 2);
    assert.equal(
      missing.stderr
        .split("\n")
        .filter((l) => l.startsWith("dml-indexer:"))
        .join("\n"),
      "dml-indexer: error[MANIFEST]: cannot read manifest /nonexistent/m.json",
    );
  });

  it("--once's bar: blocks indexed toward the head on a terminal's stderr, nothing with --json or piped", async () => {
    // the steps a sync of blocks 5..24 makes (batches of 8; the head moves from 20 to 24), fed to the bar
    const script = `
      import { progressEnabled } from "#sdk/cli/progress.ts";
      import { syncProgress } from "./indexer/cli.ts";
      const json = process.argv.includes("--json");
      const on = syncProgress(progressEnabled(json));
      on({ kind: "indexed", from: 5, to: 12, blocks: 8, triggers: 0, head: 20 });
      on({ kind: "indexed", from: 13, to: 20, blocks: 8, triggers: 0, head: 24 });
      on({ kind: "indexed", from: 21, to: 24, blocks: 4, triggers: 0, head: 24 });
      on({ kind: "synced", head: 24 });
      process.stdout.write("done\\n");
    `;
    const root = path.resolve(import.meta.dirname, "../..");
    const cmd = (json: boolean) =>
      `'${process.execPath}' ${TS_NODE_ARGS.join(" ")} --input-type=module -e '${script.replace(/'/g, "'\\''")}' -- ${json ? "--json" : ""}`;
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.CI;
    const tty = await exec("script", ["-qec", cmd(false), "/dev/null"], { cwd: root, env });
    assert.match(tty.stdout, /indexing blocks \[[^\]]*\] 20\/20 block 24 of 24/);
    const json = await exec("script", ["-qec", cmd(true), "/dev/null"], { cwd: root, env });
    assert.equal(json.stdout.replace(/\r/g, ""), "done\n");
    const piped = await exec("sh", ["-c", cmd(false)], { cwd: root, env });
    assert.equal(piped.stderr, "");
    assert.equal(piped.stdout, "done\n");
  });
});
