/** The `dml-device` CLI as a user runs it (child processes of its package bin): config, wallet, data import, clear errors. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { getAddress } from "viem";
import { helpText, leafCommands } from "#sdk/cli/help.ts";
import { TS_NODE_ARGS } from "../../script/network/processes.ts";

const exec = promisify(execFile);
const CLI = path.resolve(import.meta.dirname, "../../device-runner/bin/dml-device.mjs");
let dir: string;

async function run(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; out: string; err: string }> {
  try {
    const r = await exec(
      process.execPath,
      [...TS_NODE_ARGS, CLI, "--data-dir", path.join(dir, "dev"), ...args],
      {
        env: { ...process.env, DML_DEVICE_PASSWORD: "cli-test-password", ...env },
      },
    );
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "dml-device-cli-"));
});
after(() => rm(dir, { recursive: true, force: true }));

describe("dml-device CLI", () => {
  it("config init, wallet create, data import; a malformed import is a coded error with exit 1", async () => {
    assert.equal(
      (await run(["config", "init", "--max-load", "0.8", "--window", "22:00-07:00"])).code,
      0,
    );
    const config = JSON.parse(await readFile(path.join(dir, "dev", "device.json"), "utf8")) as {
      idle: { maxLoadPerCore: number; windows: string[] };
    };
    assert.deepEqual(config.idle, { maxLoadPerCore: 0.8, windows: ["22:00-07:00"] });
    const created = await run(["wallet", "create", "--light-kdf"]);
    assert.equal(created.code, 0, created.err);
    const address = created.out.trim();
    assert.match(address, /^0x[0-9a-fA-F]{40}$/);
    const ks = JSON.parse(await readFile(path.join(dir, "dev", "keystore.json"), "utf8")) as {
      address: string;
    };
    assert.equal(`0x${ks.address}`, address.toLowerCase());

    const src = path.join(dir, "in.jsonl");
    await writeFile(
      src,
      '{"subject":"hi","text":"hello","label":"ham"}\n{"subject":"win","text":"money"}\n',
    );
    const imported = await run(["data", "import", "--jsonl", src]);
    assert.equal(imported.code, 0, imported.err);
    assert.match(imported.out, /imported 2 records \(1 labelled\) under email\/rfc822-v1/);
    const bad = path.join(dir, "bad.jsonl");
    await writeFile(bad, "{nope\n");
    const rejected = await run(["data", "import", "--jsonl", bad]);
    assert.equal(rejected.code, 1);
    assert.match(
      rejected.err,
      /^dml-device: error\[DATASET_INVALID\]: bad\.jsonl line 1: not JSON/,
    );
    const stored = await readFile(
      path.join(dir, "dev", "datasets", "email_rfc822-v1.jsonl"),
      "utf8",
    );
    assert.equal(
      stored.trim().split("\n").length,
      3,
      "the failed import left the dataset as it was",
    );
  });

  it("--json: one document on stdout equal to what the command reads (address, datasets, config, import)", async () => {
    const doc = async (args: string[]): Promise<unknown> => {
      const r = await run(["--json", ...args]);
      assert.equal(r.code, 0, r.err);
      assert.equal(r.err, "", "nothing on stderr: no bar, no notice");
      return JSON.parse(r.out) as unknown;
    };
    const ks = JSON.parse(await readFile(path.join(dir, "dev", "keystore.json"), "utf8")) as {
      address: string;
    };
    assert.deepEqual(await doc(["wallet", "address"]), { address: getAddress(`0x${ks.address}`) });
    const header = async () =>
      (
        JSON.parse(
          (
            await readFile(path.join(dir, "dev", "datasets", "email_rfc822-v1.jsonl"), "utf8")
          ).split("\n")[0]!,
        ) as { meta: { count: number } }
      ).meta;
    const before = await header();
    assert.equal(before.count, 2);
    assert.deepEqual(await doc(["data", "list"]), { datasets: [before] });
    assert.deepEqual(
      await doc(["config", "show"]),
      JSON.parse(await readFile(path.join(dir, "dev", "device.json"), "utf8")),
    );
    const src = path.join(dir, "three.jsonl");
    await writeFile(
      src,
      ["a", "b", "c"].map((x) => JSON.stringify({ subject: x, text: x })).join("\n"),
    );
    const meta = await doc(["data", "import", "--jsonl", src]);
    assert.deepEqual(meta, await header());
    assert.equal((meta as { count: number }).count, 3);
    assert.deepEqual(await doc(["data", "list"]), { datasets: [meta] });
    // an interactive command refuses --json instead of mixing prompts into the document
    const review = await run([
      "--json",
      "train",
      "review",
      "--package",
      "bafy",
      "--sha256",
      "0x00",
    ]);
    assert.equal(review.code, 2);
    assert.match(review.err, /^dml-device: error\[INVALID_ARGUMENT\]: --json: /);
  });

  it("data import draws a bar on a terminal's stderr only: not with CI set, not with --json, not piped", async () => {
    const src = path.join(dir, "many.jsonl");
    await writeFile(
      src,
      Array.from({ length: 250 }, (_, i) =>
        JSON.stringify({ subject: `s${i}`, text: `t${i}` }),
      ).join("\n"),
    );
    // `script` gives the child a real pseudo-terminal (stdout and stderr both on it)
    const onTty = async (extra: string[], env: Record<string, string> = {}) => {
      const cmd = [
        process.execPath,
        ...TS_NODE_ARGS,
        CLI,
        "--data-dir",
        path.join(dir, "dev"),
        ...extra,
        "data",
        "import",
        "--jsonl",
        src,
      ]
        .map((a) => `'${a}'`)
        .join(" ");
      const childEnv: NodeJS.ProcessEnv = { ...process.env, DML_DEVICE_PASSWORD: "x", ...env };
      if (!("CI" in env)) delete childEnv.CI;
      const r = await exec("script", ["-qec", cmd, "/dev/null"], { env: childEnv });
      return r.stdout;
    };
    const tty = await onTty([]);
    assert.match(tty, /parsing lines \[[^\]]*\] 250\/250/);
    assert.match(tty, /imported 250 records/);
    const ci = await onTty([], { CI: "1" });
    assert.match(ci, /imported 250 records/);
    assert.doesNotMatch(ci, /parsing lines/);
    const asJson = await onTty(["--json"]);
    assert.doesNotMatch(asJson, /parsing lines/);
    assert.equal((JSON.parse(asJson) as { count: number }).count, 250);
    const piped = await run(["data", "import", "--jsonl", src], { CI: "" });
    assert.equal(piped.code, 0, piped.err);
    assert.equal(piped.err, "");
  });

  it("bad input is one coded line naming the flag (exit 2): short password, bad URL, unknown option", async () => {
    const one = (r: { code: number; out: string; err: string }, code: string, text: RegExp) => {
      assert.equal(r.code, 2, r.err);
      assert.equal(r.err.trim().split("\n").length, 1, r.err);
      assert.match(r.err, new RegExp(`^dml-device: error\\[${code}\\]: `));
      assert.match(r.err, text);
      assert.doesNotMatch(r.err, /"code":|^\s*\[/m, "no zod issue array");
    };
    const other = path.join(dir, "other");
    const short = await run(["--data-dir", other, "wallet", "create", "--light-kdf"], {
      DML_DEVICE_PASSWORD: "short",
    });
    one(short, "WEAK_PASSWORD", /keystore password: must have at least 8 characters/);
    one(
      await run(["config", "init", "--rpc", "not-a-url"]),
      "INVALID_ARGUMENT",
      /^[^:]+: error\[INVALID_ARGUMENT\]: --rpc: /,
    );
    one(await run(["wallet", "create", "--bogus"]), "USAGE", /unknown option '--bogus'/);
  });

  it("--help of every command says what it does and shows an example", async () => {
    const { program } = await import("../../device-runner/cli.ts");
    for (const c of [program, ...leafCommands(program)]) {
      const text = helpText(c);
      assert.ok(c.description().length > 15, `${c.name()} says what it does`);
      for (const o of c.options) assert.ok(text.includes(o.flags), `${c.name()} lists ${o.flags}`);
      assert.match(
        text,
        /\nExamples?:\n {2}(DML_DEVICE_PASSWORD=… )?dml-device /,
        `${c.name()} example`,
      );
    }
  });
});
