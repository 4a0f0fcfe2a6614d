/**
 * sdk/cli/errors.ts, the one formatter of every DML CLI: whatever is thrown becomes one `error[CODE]: message` line
 * with the documented exit code (2 for bad options and configuration, 1 otherwise), and a zod error is never its issue
 * array.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Command } from "commander";
import { z } from "zod";
import { TxError } from "#sdk/chain/errors.ts";
import { readManifest } from "#sdk/chain/manifest.ts";
import {
  CliError,
  describeCliError,
  formatCliError,
  parseOptions,
  zodOneLine,
} from "#sdk/cli/errors.ts";
import { createKeystore } from "#sdk/crypto/keystore.ts";

const schema = z.object({ rpcUrl: z.url(), password: z.string().min(12), port: z.number().int() });

describe("the shared CLI error formatter", () => {
  it("a zod error is one line naming the flag of its first issue, with a count of the others", () => {
    const r = schema.safeParse({ rpcUrl: "nope", password: "short", port: 1.5 });
    assert.ok(!r.success);
    assert.equal(zodOneLine(r.error), "--rpc-url: Invalid URL (and 2 more problems)");
    const one = schema.safeParse({ rpcUrl: "http://x", password: "short", port: 1 });
    assert.ok(!one.success);
    assert.equal(
      zodOneLine(one.error, (p) => (p[0] === "password" ? "--password" : String(p[0]))),
      "--password: Too small: expected string to have >=12 characters",
    );
    // thrown raw (or as a cause), it is still one line and a usage error
    let thrown: unknown;
    try {
      schema.parse({ rpcUrl: "http://x", password: "a-long-enough-one", port: "x" });
    } catch (e) {
      thrown = e;
    }
    const d = describeCliError(new Error("wrapped", { cause: thrown }));
    assert.deepEqual(d, {
      code: "INVALID_INPUT",
      message: "--port: Invalid input: expected number, received string",
      exitCode: 2,
    });
    assert.throws(
      () => parseOptions(schema, { rpcUrl: "x", password: "p".repeat(12), port: 1 }),
      (e: unknown) => e instanceof CliError && e.code === "INVALID_ARGUMENT" && e.exitCode === 2,
    );
  });

  it("typed errors keep their code; usage codes exit 2, the others 1", async () => {
    assert.equal(
      formatCliError("dml", new CliError("WRONG_NETWORK", "the manifest is for chain 1")),
      "dml: error[WRONG_NETWORK]: the manifest is for chain 1",
    );
    assert.equal(describeCliError(new CliError("WRONG_NETWORK", "x")).exitCode, 2);
    const tx = new TxError("TX_REVERTED", "buyLicence: MarketplacePriceAboveMax");
    assert.deepEqual(describeCliError(tx), {
      code: "TX_REVERTED",
      message: "buyLicence: MarketplacePriceAboveMax",
      exitCode: 1,
    });
    assert.throws(
      () => readManifest("/nonexistent/manifest.json"),
      (e: unknown) => {
        assert.deepEqual(describeCliError(e), {
          code: "MANIFEST",
          message: "cannot read manifest /nonexistent/manifest.json",
          exitCode: 2,
        });
        return true;
      },
    );
    const weak = await createKeystore("/nonexistent/ks.json", "short").catch((e: unknown) => e);
    assert.equal(
      formatCliError("dml-device", weak),
      "dml-device: error[WEAK_PASSWORD]: keystore password: must have at least 8 characters (it has 5)",
    );
    assert.equal(describeCliError(weak).exitCode, 2);
    // a code repeated at the head of the message (BountyError) is not printed twice; only the first line is kept
    const e = Object.assign(new Error("UNKNOWN_BOUNTY: no bounty 9\nstack-ish detail"), {
      code: "UNKNOWN_BOUNTY",
    });
    assert.equal(formatCliError("dml", e), "dml: error[UNKNOWN_BOUNTY]: no bounty 9");
    // an error whose message is a JSON issue array (a zod error rethrown as text) is reduced to its first issue
    const dump = new Error(JSON.stringify([{ path: ["password"], message: "too short" }], null, 2));
    assert.equal(formatCliError("x", dump), "x: error[INTERNAL]: --password: too short");
  });

  it("commander's refusals are USAGE, exit 2, one line", async () => {
    const program = new Command("t")
      .exitOverride()
      .configureOutput({ outputError: () => undefined })
      .option("--port <n>", "port");
    const e = await program.parseAsync(["--nope"], { from: "user" }).catch((x: unknown) => x);
    assert.deepEqual(describeCliError(e), {
      code: "USAGE",
      message: "unknown option '--nope' (see --help)",
      exitCode: 2,
    });
  });
});
