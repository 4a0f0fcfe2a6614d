/**
 * The `dml` bin as a user runs it: real child processes of cli/bin/dml.mjs against the protocol deployed by
 * script/deploy.ts on a `hardhat node` (bench/fixture's ProtocolEnv over HTTP), with encrypted keystores. Each command
 * group's effect is checked on chain with viem reads; `--json` output parses and equals those reads; every command's
 * --help names its flags and an example; bad input exits with one coded line and sends nothing.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, existsSync, statSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import type { Command } from "commander";
import { getAddress, parseEventLogs, type Address, type Hex } from "viem";
import { algorithmMarketplaceAbi } from "#sdk/chain/abi/AlgorithmMarketplace.ts";
import { jobMarketAbi } from "#sdk/chain/abi/JobMarket.ts";
import { proposalInfo } from "#sdk/chain/governance.ts";
import type { ChainPublicClient } from "#sdk/chain/clients.ts";
import { createKeystore, LIGHT_SCRYPT } from "#sdk/crypto/keystore.ts";
import { encryptReport } from "#sdk/crypto/report.ts";
import { schemaHash } from "#sdk/chain/schema.ts";
import { buildProgram } from "../../cli/dml.ts";
import { loadOrCreateReportKey } from "../../cli/report-key.ts";
import { ETHER, JobStatus, ProtocolEnv } from "../../bench/fixture/protocol.ts";
import { sharedNodeChain, type NodeChain } from "../indexer/helpers/hardhat-node.ts";

const run = promisify(execFile);
const BIN = path.resolve("cli/bin/dml.mjs");
const PASSWORD = "correct-horse-battery";
const HOLDER_AMOUNT = 60_000_000n * ETHER; // 6% of supply: above the 5% quorum alone

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** A number or bigint value as the CLI's JSON prints it. */
const j = (v: unknown): unknown =>
  JSON.parse(JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? x.toString() : x)));

describe("dml CLI", { timeout: 240_000 }, () => {
  let chain: NodeChain;
  let env: ProtocolEnv;
  let pub: ChainPublicClient;
  let root: string;
  const ks = { customer: "", developer: "", holder: "" };
  const who = { customer: "" as Address, developer: "" as Address, holder: "" as Address };
  let algorithmId: bigint;

  const dml = async (
    as: keyof typeof ks | undefined,
    args: readonly string[],
    extra: { manifest?: string; env?: Record<string, string> } = {},
  ): Promise<Result> => {
    const globals = [
      "--rpc",
      chain.url,
      "--manifest",
      extra.manifest ?? env.manifestPath,
      "--ipfs-dir",
      path.join(root, "ipfs"),
      ...(as ? ["--keystore", ks[as]] : []),
    ];
    try {
      const r = await run(process.execPath, [BIN, ...globals, ...args], {
        env: { ...process.env, DML_PASSWORD: PASSWORD, DML_HOME: root, ...extra.env },
        maxBuffer: 16 * 1024 * 1024,
      });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (e) {
      const x = e as { code: number; stdout: string; stderr: string };
      return { code: x.code, stdout: x.stdout, stderr: x.stderr };
    }
  };
  const ok = async (as: keyof typeof ks | undefined, args: readonly string[]) => {
    const r = await dml(as, ["--json", ...args]);
    assert.equal(r.code, 0, `dml ${args.join(" ")}: ${r.stderr}`);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  };
  /** Asserts exit `code` with exactly one `dml: error[CODE]: …` line on stderr and nothing on stdout. */
  const refused = (r: Result, code: number, errorCode: string, text?: RegExp) => {
    assert.equal(r.code, code, r.stderr);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, new RegExp(`^dml: error\\[${errorCode}\\]: \\S`));
    if (text) assert.match(lines[0]!, text);
    assert.doesNotMatch(r.stderr, /"code":|^\s*\[/m, "no validation dump");
    assert.equal(r.stdout, "");
  };
  const nonceOf = (a: Address) => pub.getTransactionCount({ address: a });

  before(async () => {
    root = mkdtempSync(path.join(tmpdir(), "dml-cli-"));
    for (const name of Object.keys(ks) as (keyof typeof ks)[]) {
      ks[name] = path.join(root, `${name}.json`);
      const account = await createKeystore(ks[name], PASSWORD, { scrypt: LIGHT_SCRYPT });
      who[name] = getAddress(account.address);
    }
    chain = await sharedNodeChain();
    env = await ProtocolEnv.create(
      { genesis: { allocations: [{ to: who.holder, amount: HOLDER_AMOUNT }] } },
      { url: chain.url },
    );
    pub = env.pub as unknown as ChainPublicClient;
    await env.fund([who.customer, who.developer], 10_000n * ETHER);
    for (const a of Object.values(who)) await env.conn.networkHelpers.setBalance(a, 10n * ETHER);
  });
  after(async () => {
    await env?.conn.close?.();
  });

  it("--help of every command says what it does, lists every flag and gives an example", async () => {
    const program = buildProgram();
    const leaves: Command[] = [];
    const walk = (c: Command) => {
      if (c.commands.length === 0) leaves.push(c);
      for (const s of c.commands) if (s.name() !== "help") walk(s);
    };
    walk(program);
    const names = leaves.map((c) => `${c.parent?.name()} ${c.name()}`);
    for (const want of [
      "algorithm list",
      "algorithm buy",
      "job create",
      "job status",
      "job list",
      "report decrypt",
      "bounty post",
      "bounty fund",
      "bounty status",
      "gov propose",
      "gov vote",
      "gov queue",
      "gov execute",
      "gov status",
      "token balance",
    ])
      assert.ok(names.includes(want), `dml ${want} exists`);
    for (const c of [program, ...leaves]) {
      let text = "";
      c.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
      c.outputHelp();
      assert.ok(c.description().length > 20, `${c.name()} says what it does`);
      for (const o of [...c.options, ...program.options])
        assert.ok(text.includes(o.flags), `${c.name()} --help lists ${o.flags}`);
      assert.match(
        text,
        /\nExamples:\n {2}(DML_PASSWORD=… )?dml /,
        `${c.name()} --help has an example`,
      );
    }
    // and the real bin prints it, exit 0
    const r = await dml(undefined, ["gov", "propose", "--help"]);
    assert.equal(r.code, 0, r.stderr);
    for (const flag of [
      "--description",
      "--call",
      "--upgrade",
      "--target",
      "--calldata",
      "--rpc",
      "--json",
    ])
      assert.ok(r.stdout.includes(flag), flag);
    assert.match(r.stdout, /Examples:\n {2}dml gov propose/);
  });

  it("a short keystore password is one coded line (exit 2), and no keystore is written", async () => {
    const file = path.join(root, "short.json");
    const r = await dml(undefined, ["--keystore", file, "keystore", "create", "--light-kdf"], {
      env: { DML_PASSWORD: "short" },
    });
    refused(r, 2, "WEAK_PASSWORD", /keystore password: must have at least 8 characters/);
    assert.equal(existsSync(file), false);
  });

  it("algorithm publish and list: the developer's listing, as viem reads it", async () => {
    const sha = `0x${"ab".repeat(32)}` as Hex;
    const listed = await ok("developer", [
      "algorithm",
      "publish",
      "--package-cid",
      "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
      "--sha256",
      sha,
      "--use-price",
      "5",
      "--licence-price",
      "100",
    ]);
    algorithmId = BigInt(listed.algorithmId as string);
    const onChain = await pub.readContract({
      address: env.addr("AlgorithmMarketplace"),
      abi: algorithmMarketplaceAbi,
      functionName: "getAlgorithm",
      args: [algorithmId],
    });
    assert.equal(getAddress(onChain.developer), who.developer);
    assert.equal(onChain.modelSha256, sha);
    assert.equal(onChain.licencePrice, 100n * ETHER);
    assert.equal(onChain.schema, schemaHash("email/rfc822-v1"));

    const out = (await ok(undefined, ["algorithm", "list"])) as {
      algorithms: Record<string, unknown>[];
    };
    const count = await pub.readContract({
      address: env.addr("AlgorithmMarketplace"),
      abi: algorithmMarketplaceAbi,
      functionName: "algorithmCount",
    });
    assert.equal(out.algorithms.length, Number(count));
    const mine = out.algorithms.find((a) => a.id === algorithmId.toString());
    assert.deepEqual(
      mine,
      j({ id: algorithmId, ...onChain, developer: getAddress(onChain.developer) }),
    );
  });

  it("algorithm buy: the customer holds the licence, paid once; buying again sends nothing", async () => {
    const market = env.addr("AlgorithmMarketplace");
    const before = await env.balance(who.customer);
    const out = await ok("customer", ["algorithm", "buy", algorithmId.toString()]);
    assert.equal(out.alreadyLicensed, false);
    assert.equal(out.price, (100n * ETHER).toString());
    assert.equal(
      await pub.readContract({
        address: market,
        abi: algorithmMarketplaceAbi,
        functionName: "hasLicence",
        args: [who.customer, algorithmId],
      }),
      true,
    );
    assert.equal(before - (await env.balance(who.customer)), 100n * ETHER);
    const nonce = await nonceOf(who.customer);
    const again = await ok("customer", ["algorithm", "buy", algorithmId.toString()]);
    assert.equal(again.alreadyLicensed, true);
    assert.equal(again.txHash, null);
    assert.equal(await nonceOf(who.customer), nonce);
  });

  it("bad input (unknown algorithm, bad address, wrong network, bad amount) is one line and changes nothing", async () => {
    const nonce = await nonceOf(who.customer);
    const balance = await env.balance(who.customer);
    const other = path.join(root, "other-chain.json");
    writeFileSync(
      other,
      JSON.stringify({ ...JSON.parse(readFileSync(env.manifestPath, "utf8")), chainId: 1 }),
    );
    // independent refusals: run side by side
    const [unknown, badAddress, badAmount, wrongNetwork, wrongPassword] = await Promise.all([
      dml("customer", ["algorithm", "buy", "99"]),
      dml("customer", ["job", "list", "--customer", "0x1234"]),
      dml("customer", ["algorithm", "buy", "1", "--max-price", "lots"]),
      dml("customer", ["algorithm", "buy", "1"], { manifest: other }),
      dml("customer", ["algorithm", "buy", "1"], { env: { DML_PASSWORD: "not-the-password" } }),
    ]);
    refused(unknown, 1, "UNKNOWN_ALGORITHM", /no algorithm 99/);
    refused(badAddress, 2, "USAGE", /not an address: 0x1234/);
    refused(badAmount, 2, "USAGE", /not a DML amount/);
    refused(wrongNetwork, 2, "WRONG_NETWORK", /is for chain 1/);
    refused(wrongPassword, 1, "WRONG_PASSWORD");
    assert.equal(await nonceOf(who.customer), nonce);
    assert.equal(await env.balance(who.customer), balance);
  });

  let jobId: bigint;
  it("job create: the job exists with the given terms and the report key; status and list --json equal viem reads", async () => {
    const keyFile = path.join(root, "job.key");
    const out = await ok("customer", [
      "job",
      "create",
      "--algorithm",
      algorithmId.toString(),
      "--report-key",
      keyFile,
      "--min-devices",
      "5",
      "--max-devices",
      "12",
      "--reward",
      "1.5",
    ]);
    jobId = BigInt(out.jobId as string);
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    const key = await loadOrCreateReportKey(keyFile);
    assert.equal(key.created, false);
    const job = await pub.readContract({
      address: env.addr("JobMarket"),
      abi: jobMarketAbi,
      functionName: "getJob",
      args: [jobId],
    });
    assert.equal(getAddress(job.customer), who.customer);
    assert.equal(job.algorithmId, algorithmId);
    assert.equal(job.maxDevices, 12);
    assert.equal(job.minDevices, 5);
    assert.equal(job.rewardPerDevice, 15n * 10n ** 17n);
    assert.equal(out.usePaid, "0", "a licence holder pays no use price");
    assert.equal(out.escrow, job.escrow.toString());
    const receipt = await pub.getTransactionReceipt({ hash: out.txHash as Hex });
    const [created] = parseEventLogs({
      abi: jobMarketAbi,
      eventName: "JobCreated",
      logs: receipt.logs,
    });
    assert.equal(created?.args.encryptionKey, key.publicKey);

    const status = await ok(undefined, ["job", "status", jobId.toString()]);
    const statusName = Object.keys(JobStatus)[job.status];
    assert.equal(status.status, statusName);
    assert.equal(status.customer, who.customer);
    assert.equal(status.escrow, job.escrow.toString());
    assert.equal(status.maxDevices, job.maxDevices);
    const list = (await ok("customer", ["job", "list", "--mine"])) as { jobs: { id: string }[] };
    assert.deepEqual(
      list.jobs.map((x) => x.id),
      [jobId.toString()],
    );
    // --watch follows the job until it ends; this one does not within a second: exit 1, TIMEOUT
    refused(
      await dml(undefined, [
        "job",
        "status",
        jobId.toString(),
        "--watch",
        "--interval",
        "1",
        "--timeout",
        "1",
      ]),
      1,
      "TIMEOUT",
      new RegExp(`job ${jobId} is still ${statusName}`),
    );
    // and there is no report yet
    refused(
      await dml(undefined, ["report", "decrypt", "--job", jobId.toString(), "--key", keyFile]),
      1,
      "NO_REPORT",
    );
  });

  it("report decrypt: the committed report decrypts with the job's key and refuses another key", async () => {
    const keyFile = path.join(root, "job.key");
    const key = await loadOrCreateReportKey(keyFile);
    const report = { records: 42, predictedShare: [0.7, 0.3], labels: ["ham", "spam"] };
    const { ciphertext, commitment } = encryptReport(key.publicKey, report);
    const { openContentStore } = await import("#sdk/ipfs/open.ts");
    const store = await openContentStore({ heliaDir: path.join(root, "ipfs") });
    const cid = await store.addBytes(ciphertext);
    await store.close();
    const out = await ok(undefined, [
      "report",
      "decrypt",
      "--cid",
      cid,
      "--commitment",
      commitment,
      "--key",
      keyFile,
    ]);
    assert.deepEqual(out.report, report);
    const otherKey = path.join(root, "other.key");
    await loadOrCreateReportKey(otherKey);
    refused(
      await dml(undefined, [
        "report",
        "decrypt",
        "--cid",
        cid,
        "--commitment",
        commitment,
        "--key",
        otherKey,
      ]),
      1,
      "UNDECRYPTABLE",
    );
  });

  it("bounty fund and post: the pool is escrowed in FineTuning with the control group and split root; status equals viem", async () => {
    const fineTuning = env.addr("FineTuning");
    const set = (name: string, n: number) => ({
      version: 1,
      name,
      labels: ["ham", "spam"],
      records: Array.from({ length: n }, (_, i) => ({
        id: `${name}-${i}`,
        subject: `s${i}`,
        body: `b${i}`,
        label: i % 2,
      })),
    });
    const files = ["control", "split:0", "split:1"].map((n) => {
      const f = path.join(root, `${n.replace(":", "-")}.json`);
      writeFileSync(f, JSON.stringify(set(n, 6)));
      return f;
    });
    const funded = await ok("developer", ["bounty", "fund", "--amount", "300"]);
    assert.equal(funded.allowance, (300n * ETHER).toString());
    const held = await env.balance(fineTuning);
    const secrets = path.join(root, "bounty-secrets.json");
    const out = await ok("developer", [
      "bounty",
      "post",
      "--algorithm",
      algorithmId.toString(),
      "--control",
      files[0]!,
      "--split",
      files[1]!,
      "--split",
      files[2]!,
      "--reward",
      "300",
      "--baseline",
      "0.5",
      "--secrets",
      secrets,
    ]);
    const bountyId = BigInt(out.bountyId as string);
    assert.equal((await env.balance(fineTuning)) - held, 300n * ETHER);
    const b = await env.read<{
      poster: Address;
      rewardPool: bigint;
      rounds: number;
      controlCid: string;
      splitRoot: Hex;
    }>("FineTuning", "getBounty", [bountyId]);
    assert.equal(getAddress(b.poster), who.developer);
    assert.equal(b.rewardPool, 300n * ETHER);
    assert.equal(b.rounds, 2);
    assert.equal(b.controlCid, out.controlCid);
    assert.equal(b.splitRoot, out.splitRoot);
    assert.equal(statSync(secrets).mode & 0o777, 0o600);
    const status = await ok(undefined, ["bounty", "status", bountyId.toString()]);
    assert.equal(status.status, "Active");
    assert.equal(status.rewardPool, b.rewardPool.toString());
    assert.equal(status.controlCid, b.controlCid);
    // a second post never overwrites the secrets
    const again = await dml("developer", [
      "bounty",
      "post",
      "--algorithm",
      algorithmId.toString(),
      "--control",
      files[0]!,
      "--split",
      files[1]!,
      "--reward",
      "1",
      "--baseline",
      "0.5",
      "--secrets",
      secrets,
    ]);
    refused(again, 2, "INVALID_ARGUMENT", /exists already/);
  });

  it("gov delegate, propose, vote, queue, execute: the proposal is Executed and its call took effect", async () => {
    const governor = env.addr("DMLGovernor");
    const market = env.addr("AlgorithmMarketplace");
    await ok("holder", ["gov", "delegate"]);
    const bal = await ok("holder", ["token", "balance"]);
    assert.equal(bal.votes, HOLDER_AMOUNT.toString());
    const proposed = await ok("holder", [
      "gov",
      "propose",
      "--description",
      "DIP-9: protocol fee 3%",
      "--call",
      "AlgorithmMarketplace.setProtocolFeeBps",
      "--args",
      "[300]",
    ]);
    const id = BigInt(proposed.proposalId as string);
    assert.equal(proposed.state, "Pending");
    let info = await proposalInfo(pub, governor, id);
    await env.warpTo(info.snapshot + 1n);
    const voted = await ok("holder", ["gov", "vote", id.toString(), "--support", "for"]);
    assert.equal(voted.state, "Active");
    info = await proposalInfo(pub, governor, id);
    assert.equal(info.votes.for, HOLDER_AMOUNT);
    await env.warpTo(info.deadline + 1n);
    const queued = await ok("customer", ["gov", "queue", id.toString()]);
    assert.equal(queued.state, "Queued");
    info = await proposalInfo(pub, governor, id);
    await env.warpTo(info.eta + 1n);
    const executed = await ok("customer", ["gov", "execute", id.toString()]);
    assert.equal(executed.state, "Executed");
    assert.equal(
      await pub.readContract({
        address: market,
        abi: algorithmMarketplaceAbi,
        functionName: "protocolFeeBps",
      }),
      300,
    );
    const status = await ok(undefined, ["gov", "status", id.toString()]);
    info = await proposalInfo(pub, governor, id);
    assert.deepEqual(
      {
        state: status.state,
        votes: status.votes,
        eta: status.eta,
        quorum: status.quorum,
        description: status.description,
      },
      j({
        state: "Executed",
        votes: info.votes,
        eta: info.eta,
        quorum: info.quorum,
        description: "DIP-9: protocol fee 3%",
      }),
    );
    // executing twice is refused by state, one line
    refused(
      await dml("customer", ["gov", "execute", id.toString()]),
      1,
      "PROPOSAL_STATE",
      /it is Executed/,
    );
  });
});
