/**
 * sdk/chain/event-cursor on the EDR chain with the real DMLToken's Transfer events: ordered delivery across block
 * ranges (and within a block), confirmations, restart without redelivery from the atomically written state file, a
 * failing handler seeing its block again, and a reorg (evm_snapshot / evm_revert, then different blocks) detected by
 * block hash, reported once, with the new chain's logs delivered once.
 */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { before, describe, it } from "node:test";
import { keccak256, toHex, type Address } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { dmlTokenAbi } from "#sdk/chain/abi/index.ts";
import type { ChainWalletClient } from "#sdk/chain/clients.ts";
import { CursorError } from "#sdk/chain/errors.ts";
import {
  EventCursor,
  type CursorLog,
  type EventCursorOptions,
  type ReorgInfo,
} from "#sdk/chain/event-cursor.ts";
import { TxSender } from "#sdk/chain/tx-sender.ts";
import { tokenChain, type TokenChain } from "./helpers/token-chain.ts";

const to = privateKeyToAccount(keccak256(toHex("cursor-to"))).address;

describe("sdk/chain/event-cursor on EDR", () => {
  let c: TokenChain;
  let sender: TxSender;
  let from: Address;
  let wallet: ChainWalletClient;
  let dir: string;

  before(async () => {
    c = await tokenChain();
    const funded = await c.funded("cursor", 10n ** 24n);
    from = funded.account.address;
    wallet = funded.wallet;
    sender = await TxSender.create({ publicClient: c.pub, walletClient: wallet });
    dir = mkdtempSync(path.join(tmpdir(), "dml-cursor-"));
  });

  /** One Transfer of `amount` (wei of DML) from the funded account, in its own block. */
  const pay = async (amount: bigint) => {
    await sender.send({
      address: c.token,
      abi: dmlTokenAbi,
      functionName: "transfer",
      args: [to, amount],
    });
  };
  const cursor = (
    file: string,
    fromBlock: bigint,
    extra: Partial<EventCursorOptions<typeof dmlTokenAbi>> = {},
  ) =>
    new EventCursor({
      publicClient: c.pub,
      address: c.token,
      abi: dmlTokenAbi,
      eventNames: ["Transfer"],
      stateFile: path.join(dir, file),
      fromBlock,
      ...extra,
    });
  /** The amounts of our transfers among `logs`. */
  const amounts = (logs: CursorLog[]) =>
    logs
      .filter((l) => (l.args as { from?: Address }).from === from)
      .map((l) => (l.args as { value: bigint }).value);

  it("delivers in (block, logIndex) order across ranges, respects confirmations, resumes without redelivery", async () => {
    const start = (await c.pub.getBlockNumber()) + 1n;
    for (const a of [1n, 2n, 3n]) await pay(a);
    // two transfers in one block: logIndex order inside the block
    await c.rpc("evm_setAutomine", [false]);
    try {
      for (const a of [4n, 5n])
        await wallet.writeContract({
          address: c.token,
          abi: dmlTokenAbi,
          functionName: "transfer",
          args: [to, a],
        });
      await c.rpc("evm_mine");
    } finally {
      await c.rpc("evm_setAutomine", [true]);
    }
    await sender.syncNonce();
    for (const a of [6n, 7n]) await pay(a);

    const got: CursorLog[] = [];
    const cur = cursor("ordered.json", start, { maxRange: 2, confirmations: 2 });
    const n = await cur.poll((l) => void got.push(l));
    assert.equal(n, got.length);
    const head = await c.pub.getBlockNumber();
    assert.ok(
      got.every((l) => l.blockNumber <= head - 2n),
      "nothing above head − confirmations",
    );
    assert.deepEqual(amounts(got), [1n, 2n, 3n, 4n, 5n], "the last two are not confirmed yet");
    const ours = got.filter((l) => (l.args as { from?: Address }).from === from);
    assert.equal(ours[3]!.blockNumber, ours[4]!.blockNumber, "4 and 5 share a block");
    assert.equal(new Set(ours.map((l) => l.blockNumber)).size, 4, "1, 2, 3 in blocks of their own");
    for (let i = 1; i < got.length; i++) {
      const [p, q] = [got[i - 1]!, got[i]!];
      assert.ok(
        p.blockNumber < q.blockNumber ||
          (p.blockNumber === q.blockNumber && p.logIndex < q.logIndex),
      );
    }
    assert.equal((await cur.position())?.block, head - 2n);

    // confirmations arrive
    await c.conn.networkHelpers.mine(2);
    const more: CursorLog[] = [];
    await cur.poll((l) => void more.push(l));
    assert.deepEqual(amounts(more), [6n, 7n]);

    // a restarted cursor (same state file) delivers nothing old, then only the new transfer
    const again = cursor("ordered.json", start, { maxRange: 2, confirmations: 2 });
    const none: CursorLog[] = [];
    assert.equal(await again.poll((l) => void none.push(l)), 0);
    await pay(8n);
    await c.conn.networkHelpers.mine(2);
    await again.poll((l) => void none.push(l));
    assert.deepEqual(amounts(none), [8n]);
  });

  it("a handler that fails sees its block again on the next poll (at least once)", async () => {
    const start = (await c.pub.getBlockNumber()) + 1n;
    await pay(11n);
    await pay(12n);
    const cur = cursor("retry.json", start);
    const seen: bigint[] = [];
    await assert.rejects(
      cur.poll((l) => {
        const v = (l.args as { value: bigint }).value;
        seen.push(v);
        if (v === 12n) throw new Error("handler down");
      }),
      /handler down/,
    );
    await cur.poll((l) => void seen.push((l.args as { value: bigint }).value));
    assert.deepEqual(seen, [11n, 12n, 12n]);
  });

  it("detects a reorg (evm_snapshot/evm_revert + different blocks), reports it once and delivers the new logs once", async () => {
    const cur = cursor("reorg.json", (await c.pub.getBlockNumber()) + 1n);
    const reorgs: ReorgInfo[] = [];
    const got: CursorLog[] = [];
    const poll = () =>
      new EventCursor({
        publicClient: c.pub,
        address: c.token,
        abi: dmlTokenAbi,
        eventNames: ["Transfer"],
        stateFile: path.join(dir, "reorg.json"),
        fromBlock: 0n,
        onReorg: (r) => void reorgs.push(r),
      }).poll((l) => void got.push(l));
    await pay(21n); // a block before the fork
    await cur.poll(() => undefined);
    const fork = await c.pub.getBlockNumber();
    const snapshot = await c.rpc("evm_snapshot");
    for (const a of [31n, 32n, 33n]) await pay(a);
    await poll();
    assert.deepEqual(amounts(got), [31n, 32n, 33n]);
    const staleHead = await c.pub.getBlockNumber();

    assert.equal(await c.rpc("evm_revert", [snapshot]), true);
    await sender.syncNonce(); // the reverted transactions never happened
    for (const a of [41n, 42n, 43n, 44n]) await pay(a);
    got.length = 0;
    await poll();
    assert.equal(reorgs.length, 1, "reported once");
    assert.equal(reorgs[0]!.stale.block, staleHead);
    assert.equal(reorgs[0]!.ancestor.block, fork, "walked back to the common ancestor");
    assert.deepEqual(amounts(got), [41n, 42n, 43n, 44n], "the new chain's logs, once");
    got.length = 0;
    await poll();
    assert.equal(got.length, 0);
    assert.equal(reorgs.length, 1);
    const pos = await cur.position(); // the first instance's view is stale in memory; a fresh one reads the file
    assert.ok(pos);
  });

  it("a reorg no deeper than the confirmations is never seen: no reorg callback, only the final chain's logs", async () => {
    const reorgs: ReorgInfo[] = [];
    const got: CursorLog[] = [];
    const cur = cursor("shallow.json", (await c.pub.getBlockNumber()) + 1n, {
      confirmations: 3,
      onReorg: (r) => void reorgs.push(r),
    });
    await cur.poll(() => undefined);
    const snapshot = await c.rpc("evm_snapshot");
    await pay(61n); // one block, not yet confirmed
    await cur.poll((l) => void got.push(l));
    assert.equal(got.length, 0, "unconfirmed: not delivered");
    assert.equal(await c.rpc("evm_revert", [snapshot]), true);
    await sender.syncNonce();
    await pay(62n);
    await c.conn.networkHelpers.mine(3);
    await cur.poll((l) => void got.push(l));
    assert.deepEqual(amounts(got), [62n]);
    assert.equal(reorgs.length, 0);
  });

  it("run() polls until aborted", async () => {
    const start = (await c.pub.getBlockNumber()) + 1n;
    const cur = cursor("run.json", start);
    const seen: bigint[] = [];
    const stop = new AbortController();
    let arrived!: () => void;
    const first = new Promise<void>((r) => (arrived = r));
    const loop = cur.run(
      (l) => {
        if (l.eventName === "Transfer") seen.push(l.args.value);
        arrived();
      },
      { intervalMs: 20, signal: stop.signal },
    );
    await pay(71n);
    await first;
    stop.abort();
    await loop;
    assert.deepEqual(seen, [71n]);
  });

  it("refuses the state file of another contract with CURSOR_STATE", async () => {
    await cursor("mine.json", 0n).poll(() => undefined);
    const other = new EventCursor({
      publicClient: c.pub,
      address: to,
      abi: dmlTokenAbi,
      stateFile: path.join(dir, "mine.json"),
      fromBlock: 0n,
    });
    await assert.rejects(
      other.poll(() => undefined),
      (e: unknown) => e instanceof CursorError && e.code === "CURSOR_STATE",
    );
  });

  it("delivers logs typed by the ABI; an event name the ABI lacks is refused (at compile time too)", async () => {
    const start = (await c.pub.getBlockNumber()) + 1n;
    await pay(51n);
    const values: bigint[] = [];
    await cursor("typed.json", start).poll((l) => {
      if (l.eventName === "Transfer") values.push(l.args.value); // typed: bigint, no cast
    });
    assert.deepEqual(values, [51n]);
    assert.throws(
      () =>
        new EventCursor({
          publicClient: c.pub,
          address: c.token,
          abi: dmlTokenAbi,
          // @ts-expect-error not an event of DMLToken
          eventNames: ["Transferred"],
          stateFile: path.join(dir, "none.json"),
          fromBlock: 0n,
        }),
      (e: unknown) => e instanceof CursorError,
    );
  });

  it("rejects a corrupt state file with CURSOR_STATE", async () => {
    writeFileSync(
      path.join(dir, "bad.json"),
      JSON.stringify({ version: 1, checkpoints: [{ block: "x" }] }),
    );
    await assert.rejects(
      cursor("bad.json", 0n).poll(() => undefined),
      (e: unknown) => e instanceof CursorError && e.code === "CURSOR_STATE",
    );
  });
});
