/**
 * `dml-relayer` through its package bin (relayers/bin/dml-relayer.mjs), as an operator runs it: Foundry-style help for
 * the program and each role, and start failures (unreachable RPC) as one line with a non-zero exit.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { access, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { DEPLOYED_CONTRACTS } from "#sdk/chain/contract-names.ts";
import { helpText, leafCommands } from "#sdk/cli/help.ts";
import { MANIFEST_VERSION, writeManifest, type Manifest } from "#sdk/chain/manifest.ts";
import { createKeystore, LIGHT_SCRYPT } from "#sdk/crypto/keystore.ts";
import { commonFields, flagName } from "../../relayers/common/config.ts";
import { attestorFields } from "../../relayers/attestor/config.ts";
import { ActionQueue } from "../../relayers/common/action-queue.ts";
import { serveRpc } from "../e2e/rpc.ts";

const exec = promisify(execFile);
const BIN = path.resolve(import.meta.dirname, "../../relayers/bin/dml-relayer.mjs");
const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  exec(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );

let root: string;
before(async () => {
  root = await mkdtemp(path.join(tmpdir(), "dml-relayer-cli-"));
});
after(() => rm(root, { recursive: true, force: true }));

describe("dml-relayer CLI", () => {
  it("--help says what it does, lists the roles and shows examples", async () => {
    const r = await run(["--help"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Usage: dml-relayer <role> \[options\]/);
    assert.match(r.stdout, /durable queue/);
    assert.match(
      r.stdout,
      /Roles:\n(?:\s+\S+ \[options\].*\n(?:\s{20,}.*\n)*)*\s+attestor \[options\]\s+recompute each drawn job.s result/,
    );
    assert.match(r.stdout, /Examples:\n\s+DML_KEYSTORE_PASSWORD=… dml-relayer keystore create/);
  });

  it("<role> --help documents every flag with its env variable, and an example", async () => {
    const r = await run(["attestor", "--help"]);
    assert.equal(r.code, 0);
    for (const key of Object.keys({ ...commonFields("attestor"), ...attestorFields }))
      assert.ok(r.stdout.includes(flagName(key)), `${key} in the help`);
    assert.match(r.stdout, /env DML_RPC_URL/);
    assert.match(r.stdout, /Examples:\n\s+DML_KEYSTORE_PASSWORD=… dml-relayer attestor --rpc-url/);
  });

  it("every command's --help says what it does and shows an example (every role, keystore, queue)", async () => {
    const { buildProgram } = await import("../../relayers/cli.ts");
    const { ROLES } = await import("../../relayers/roles.ts");
    const program = buildProgram(ROLES);
    for (const c of leafCommands(program)) {
      const text = helpText(c);
      assert.ok(c.description().length > 15, `${c.name()} says what it does`);
      for (const o of c.options) assert.ok(text.includes(o.flags), `${c.name()} lists ${o.flags}`);
      assert.match(text, /\nExamples:\n {2}(DML_KEYSTORE_PASSWORD=… )?dml-relayer /, `${c.name()}`);
    }
  });

  it("bad options and a short keystore password are one coded line and exit 2", async () => {
    const bogus = await run(["queue", "list", "--bogus"]);
    assert.equal(bogus.code, 2);
    assert.equal(
      bogus.stderr,
      "dml-relayer: error[USAGE]: unknown option '--bogus' (see --help)\n",
    );
    const file = path.join(root, "short.json");
    const short = await run(["keystore", "create", "--keystore", file, "--light-kdf"], {
      DML_KEYSTORE_PASSWORD: "short",
    });
    assert.equal(short.code, 2);
    assert.equal(
      short.stderr,
      "dml-relayer: error[WEAK_PASSWORD]: keystore password: must have at least 8 characters (it has 5)\n",
    );
    await assert.rejects(access(file), "no keystore written");
  });

  it("an unreachable RPC is one line at start and exit 1", async () => {
    const keystore = path.join(root, "ks.json");
    await createKeystore(keystore, "password-1234", { scrypt: LIGHT_SCRYPT });
    const r = await run(
      [
        "attestor",
        "--keystore",
        keystore,
        "--data-dir",
        path.join(root, "data"),
        "--rpc-url",
        "http://127.0.0.1:9",
        "--metrics-port",
        "0",
      ],
      { DML_KEYSTORE_PASSWORD: "password-1234" },
    );
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr
        .split("\n")
        .filter((l) => l.startsWith("dml-relayer:"))
        .join("\n"),
      "dml-relayer: error[RPC_UNREACHABLE]: no JSON-RPC answer from http://127.0.0.1:9",
    );
  });

  it("an unreachable IPFS (Kubo RPC) is one line at start and exit 1", async () => {
    // a chain that answers: the in-process EDR served over HTTP, so the start fails at IPFS, not at the RPC
    const { network } = await import("hardhat");
    const conn = await network.create();
    const rpc = await serveRpc(conn.provider);
    try {
      const keystore = path.join(root, "ks-ipfs.json");
      await createKeystore(keystore, "password-1234", { scrypt: LIGHT_SCRYPT });
      // a manifest naming every contract the watcher reads (it connects to IPFS before reading any of them)
      const manifest = path.join(root, "manifest-ipfs.json");
      const deployed = {
        address: "0x0000000000000000000000000000000000000001",
        txHash: `0x${"11".repeat(32)}`,
        blockNumber: 0,
      };
      writeManifest(manifest, {
        version: MANIFEST_VERSION,
        chainId: 31337,
        deployer: deployed.address,
        startBlock: 0,
        updatedAt: new Date(0).toISOString(),
        contracts: Object.fromEntries(DEPLOYED_CONTRACTS.map((n) => [n, deployed])),
        steps: {},
        predicted: {},
      } as Manifest);
      const r = await run(
        [
          "watcher",
          "--keystore",
          keystore,
          "--data-dir",
          path.join(root, "data-ipfs"),
          "--rpc-url",
          rpc.url,
          "--manifest",
          manifest,
          "--kubo-url",
          "http://127.0.0.1:9",
          "--metrics-port",
          "0",
        ],
        { DML_KEYSTORE_PASSWORD: "password-1234" },
      );
      assert.equal(r.code, 1);
      const lines = r.stderr.split("\n").filter((l) => l.startsWith("dml-relayer:"));
      assert.equal(lines.length, 1, r.stderr);
      assert.match(
        lines[0]!,
        /^dml-relayer: error\[IPFS_UNREACHABLE\]: no Kubo RPC answer from http:\/\/127\.0\.0\.1:9/,
      );
    } finally {
      rpc.close();
      await conn.close();
    }
  });

  it("queue list prints a stopped relayer's actions, filtered by status", async () => {
    const dataDir = path.join(root, "queue");
    const q = await ActionQueue.open(dataDir);
    await q.enqueue({ key: "commit:1", type: "commit", payload: { jobId: "1" } });
    await q.enqueue({ key: "commit:2", type: "commit", payload: { jobId: "2" } });
    const a = await q.claimNext();
    await q.fail(a!.id, "reverted");
    await q.close();
    const all = await run(["queue", "list", "--data-dir", dataDir]);
    assert.equal(all.code, 0, all.stderr);
    const rows = all.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { key: string; status: string });
    assert.deepEqual(
      rows.map((r) => [r.key, r.status]),
      [
        ["commit:1", "failed"],
        ["commit:2", "queued"],
      ],
    );
    const failed = await run(["queue", "list", "--data-dir", dataDir, "--status", "failed"]);
    assert.deepEqual(
      failed.stdout
        .trim()
        .split("\n")
        .map((l) => (JSON.parse(l) as { lastFailure: string }).lastFailure),
      ["reverted"],
    );
    const bad = await run(["queue", "list", "--data-dir", dataDir, "--status", "done"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^dml-relayer: error\[CONFIG_INVALID\]: invalid --status/);
  });
});
