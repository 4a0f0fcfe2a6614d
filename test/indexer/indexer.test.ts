/**
 * indexer/indexer.ts + graph-host.ts: the local graph host indexes real DMLToken events of the EDR chain (`hardhat
 * node`) through the fixture subgraph into PGlite, serves them over HTTP GraphQL, resumes after a restart, rolls a
 * reorg (an EDR snapshot revert below the indexed head) back and re-indexes the new chain, refuses a reorg deeper
 * than its threshold, and stops at a deterministic handler error with `hasIndexingErrors`. Every expected value is
 * read from the chain with viem.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { getAddress, keccak256, toHex, type Address } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { loadArtifact } from "#sdk/chain/artifacts.ts";
import { dmlTokenAbi } from "#sdk/chain/abi/index.ts";
import { GraphHost } from "../../indexer/graph-host.ts";
import { IndexerError } from "../../indexer/indexer.ts";
import { buildFixture, deployBuild } from "./helpers/fixture-subgraph.ts";
import { startNodeChain, type NodeChain } from "./helpers/hardhat-node.ts";

const who = (label: string) => privateKeyToAccount(keccak256(toHex(label))).address;
const [alice, bob, carol, dave] = ["ix-alice", "ix-bob", "ix-carol", "ix-dave"].map(who) as [
  Address,
  Address,
  Address,
  Address,
];

describe("local graph host: indexing loop, GraphQL, restart, reorg, handler errors", () => {
  let chain: NodeChain;
  let token: Address;
  let buildDir: string;
  let dataDir: string;
  let host: GraphHost | undefined;

  const send = async (fn: "transfer" | "approve", to: Address, amount: bigint) => {
    const w = chain.wallet(chain.deployer);
    const hash = await w.writeContract({
      address: token,
      abi: dmlTokenAbi,
      functionName: fn,
      args: [to, amount],
      account: chain.deployer,
      chain: w.chain,
    });
    return Number((await chain.pub.waitForTransactionReceipt({ hash })).blockNumber);
  };
  const open = async (reorgThreshold = 50) =>
    GraphHost.open({
      buildDir,
      rpcUrl: chain.url,
      dataDir,
      port: 0,
      tuning: { reorgThreshold, pollMs: 20 },
    });
  const query = async (h: GraphHost, q: string) => {
    const res = await fetch(h.queryUrl!, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: q }),
    });
    return (await res.json()) as { data?: Record<string, unknown>; errors?: { message: string }[] };
  };
  /** Account balances as GraphQL serves them (at `block`, or the head). */
  const served = async (h: GraphHost, block?: number) => {
    const at = block === undefined ? "" : `, block: { number: ${block} }`;
    const r = await query(h, `{ accounts(first: 100, orderBy: id${at}) { id balance } }`);
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    const tracked = new Set([alice, bob, carol, dave].map((a) => a.toLowerCase()));
    const rows = (r.data!.accounts as { id: string; balance: string }[]).filter(
      (a) => tracked.has(a.id) && BigInt(a.balance) !== 0n,
    );
    return new Map(rows.map((a) => [getAddress(a.id), BigInt(a.balance)]));
  };
  /** The same accounts' balances on chain (at `block`), those with a non-zero balance. */
  const onChain = async (accounts: readonly Address[], block?: number) => {
    const out = new Map<Address, bigint>();
    for (const a of accounts) {
      const b = await chain.pub.readContract({
        address: token,
        abi: dmlTokenAbi,
        functionName: "balanceOf",
        args: [a],
        ...(block === undefined ? {} : { blockNumber: BigInt(block) }),
      });
      if (b > 0n) out.set(a, b);
    }
    return out;
  };

  before(async () => {
    chain = await startNodeChain();
    const w = chain.wallet(chain.deployer);
    const hash = await w.deployContract({
      abi: dmlTokenAbi,
      bytecode: loadArtifact("DMLToken").bytecode,
      args: [chain.deployer.address, who("ix-pool")],
      account: chain.deployer,
      chain: w.chain,
    });
    const r = await chain.pub.waitForTransactionReceipt({ hash });
    token = getAddress(r.contractAddress!);
    buildDir = deployBuild(await buildFixture(dmlTokenAbi), token, Number(r.blockNumber));
    dataDir = mkdtempSync(path.join(tmpdir(), "dml-indexer-test-"));
  });
  after(async () => {
    await host?.close();
    await chain?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it("indexes in block order, serves GraphQL, time-travels, and resumes after a restart without re-indexing", async () => {
    host = await open();
    await send("transfer", alice, 10n);
    const b2 = await send("transfer", bob, 20n);
    await send("transfer", alice, 5n);
    const synced = await host.syncToHead();
    assert.equal(synced.kind, "synced");
    assert.deepEqual(await served(host), await onChain([alice, bob]));
    assert.deepEqual(await served(host, b2), await onChain([alice, bob], b2), "time travel to b2");
    const meta = await query(
      host,
      "{ _meta { block { number hash } hasIndexingErrors deployment } }",
    );
    const m = meta.data!._meta as {
      block: { number: number; hash: string };
      hasIndexingErrors: boolean;
    };
    const head = await chain.pub.getBlock();
    assert.equal(m.block.number, Number(head.number));
    assert.equal(m.block.hash, head.hash);
    assert.equal(m.hasIndexingErrors, false);

    // restart on the same directory: the pointer is where it stopped, only new blocks are indexed
    await host.close();
    host = await open();
    assert.equal(host.indexer.latest()?.number, Number(head.number));
    const b4 = await send("transfer", carol, 7n);
    const step = await host.indexer.step();
    assert.deepEqual(step.kind === "indexed" ? [step.from, step.to, step.blocks] : step, [
      b4,
      b4,
      1,
    ]);
    assert.deepEqual(await served(host), await onChain([alice, bob, carol]));
  });

  it("rolls a reorg below the indexed head back and re-indexes the new chain", async () => {
    assert.ok(host);
    const snapshot = (await chain.rpc("evm_snapshot")) as string;
    const fork = Number((await chain.pub.getBlock({ blockTag: "latest" })).number);
    await send("transfer", carol, 3n);
    await send("transfer", alice, 4n);
    assert.equal((await host.syncToHead()).kind, "synced");
    assert.equal((await served(host)).get(carol), 10n, "carol's second transfer indexed");

    assert.equal(await chain.rpc("evm_revert", [snapshot]), true);
    await send("transfer", dave, 6n); // the new chain: same height as the first dropped block, another hash
    const step = await host.indexer.step();
    assert.equal(step.kind, "reverted");
    assert.equal(step.kind === "reverted" ? step.to : -1, fork, "rolled back to the fork point");
    assert.equal((await host.syncToHead()).kind, "synced");
    const want = await onChain([alice, bob, carol, dave]);
    assert.deepEqual(await served(host), want);
    assert.equal(want.get(carol), 7n, "carol's dropped transfer is gone");
    assert.equal(want.get(dave), 6n);
    const latest = await chain.pub.getBlock({ blockTag: "latest" });
    const meta = await query(host, "{ _meta { block { number hash } } }");
    const m = meta.data!._meta as { block: { number: number; hash: string } };
    assert.deepEqual(m.block, { number: Number(latest.number), hash: latest.hash });
  });

  it("refuses a reorg deeper than its threshold and changes nothing", async () => {
    await host!.close();
    host = await open(1);
    const snapshot = (await chain.rpc("evm_snapshot")) as string;
    await send("transfer", bob, 1n);
    await send("transfer", bob, 1n);
    await send("transfer", bob, 1n);
    assert.equal((await host.syncToHead()).kind, "synced");
    const before = await served(host);
    await chain.rpc("evm_revert", [snapshot]);
    await send("transfer", alice, 1n);
    await send("transfer", alice, 1n);
    await send("transfer", alice, 1n);
    await assert.rejects(
      host.indexer.step(),
      (e: unknown) => e instanceof IndexerError && e.code === "REORG_TOO_DEEP",
    );
    assert.deepEqual(await served(host), before, "the store is unchanged");
    // with a deep enough threshold the same reorg rolls back
    await host.close();
    host = await open(50);
    assert.equal((await host.indexer.step()).kind, "reverted");
    assert.equal((await host.syncToHead()).kind, "synced");
    assert.deepEqual(await served(host), await onChain([alice, bob, carol, dave]));
  });

  it("a deterministic handler error stops indexing at its block and sets hasIndexingErrors", async () => {
    assert.ok(host);
    const bad = await send("approve", bob, 57_005n); // 0xdead: the fixture mapping throws
    await send("transfer", bob, 2n);
    const r = await host.syncToHead();
    assert.equal(r.kind, "failed");
    assert.equal(r.kind === "failed" ? r.block : -1, bad);
    assert.match(r.kind === "failed" ? r.message : "", /approval of 0xdead refused/);
    const meta = await query(host, "{ _meta { block { number } hasIndexingErrors } }");
    const m = meta.data!._meta as { block: { number: number }; hasIndexingErrors: boolean };
    assert.equal(m.hasIndexingErrors, true);
    assert.equal(m.block.number, bad, "the pointer stays at the failed block");
    assert.equal((await host.indexer.step()).kind, "failed", "a later step does not go past it");
    const q = await query(host, "{ accounts(first: 1) { id } }");
    assert.match(q.errors?.[0]?.message ?? "", /indexing_error/);
  });
});
