/**
 * `dml-relayer aggregator` through the package bin: its help documents every flag with its env variable and shows
 * examples; the top-level help lists the role; an out-of-range --listen-port is a one-line config error naming the
 * field, before any chain or queue work.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import path from "node:path";
import { describe, it } from "node:test";
import { commonFields, flagName } from "../../relayers/common/config.ts";
import { aggregatorFields } from "../../relayers/aggregator/config.ts";

const exec = promisify(execFile);
const BIN = path.resolve(import.meta.dirname, "../../relayers/bin/dml-relayer.mjs");
const run = (args: string[]) =>
  exec(process.execPath, [BIN, ...args]).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );

describe("dml-relayer aggregator CLI", () => {
  it("aggregator --help documents every flag with its env variable, and examples", async () => {
    const r = await run(["aggregator", "--help"]);
    assert.equal(r.code, 0, r.stderr);
    for (const key of Object.keys({ ...commonFields("aggregator"), ...aggregatorFields }))
      assert.ok(r.stdout.includes(flagName(key)), `${key} in the help`);
    assert.match(r.stdout, /env\s+DML_LISTEN_PORT/);
    assert.match(r.stdout, /SecAgg\s+session/);
    assert.match(
      r.stdout,
      /Examples:\n\s+DML_KEYSTORE_PASSWORD=… dml-relayer aggregator --rpc-url/,
    );
  });

  it("the top-level help lists the aggregator role", async () => {
    const r = await run(["--help"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Roles:\n\s+aggregator \[options\]\s+serve the SecAgg session/);
  });

  it("a bad --listen-port is a config error naming the field", async () => {
    const r = await run([
      "aggregator",
      "--listen-port",
      "70000",
      "--rpc-url",
      "http://127.0.0.1:1",
    ]);
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      /error\[CONFIG_INVALID\]: invalid config: listenPort \(flag --listen-port = "70000"\)/,
    );
  });
});
