/** relayers/distributor/HeartbeatBook: real EIP-712 heartbeats, replay refused, bad input rejected with a code. */
import assert from "node:assert/strict";
import { appendFile, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { signHeartbeat } from "#sdk/protocol/heartbeat.ts";
import { HeartbeatBook, HeartbeatError } from "../../relayers/distributor/HeartbeatBook.ts";
import { HeartbeatJournal } from "../../relayers/distributor/HeartbeatJournal.ts";

const domain = {
  chainId: 31337,
  verifyingContract: "0x0000000000000000000000000000000000000dEE" as const,
};
const now = 1_800_000_000;

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof HeartbeatError, `expected HeartbeatError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

describe("distributor heartbeat book", () => {
  it("keeps one signed heartbeat per device and epoch; replay, wrong epoch and garbage are refused", async () => {
    const a = privateKeyToAccount(generatePrivateKey());
    const b = privateKeyToAccount(generatePrivateKey());
    const book = new HeartbeatBook(domain);
    const hbA = JSON.parse(
      JSON.stringify(await signHeartbeat(a, domain, { epoch: 3, timestamp: now })),
    ) as unknown;
    const hbB = JSON.parse(
      JSON.stringify(await signHeartbeat(b, domain, { epoch: 3, timestamp: now })),
    ) as unknown;
    assert.equal(await book.accept(hbA, 3, now + 5), a.address);
    assert.equal(await book.accept(hbB, 3, now + 5), b.address);
    await rejectsWith(book.accept(hbA, 3, now + 6), "HEARTBEAT_REPLAY");
    await rejectsWith(book.accept(hbA, 4, now + 6), "HEARTBEAT_INVALID");
    await rejectsWith(book.accept({ device: "nope" }, 3, now), "HEARTBEAT_INVALID");
    await rejectsWith(
      book.accept({ ...(hbA as object), device: b.address }, 3, now),
      "HEARTBEAT_INVALID",
    );
    const set = book.connected(3);
    assert.deepEqual(
      set.map((d) => d.device),
      [a.address, b.address].sort((x, y) => (x.toLowerCase() < y.toLowerCase() ? -1 : 1)),
    );
    assert.equal(book.connected(4).length, 0);
    book.prune(4);
    assert.equal(book.connected(3).length, 0);
  });

  it("concurrent appends are committed in groups: every acknowledged heartbeat of two epochs is on disk, whole", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "dml-hb-group-"));
    try {
      const book = new HeartbeatBook(domain);
      const journal = await HeartbeatJournal.open(dir, book);
      const beats = await Promise.all(
        Array.from({ length: 60 }, async (_, i) => {
          const acct = privateKeyToAccount(generatePrivateKey());
          const epoch = 5 + (i % 2);
          const hb = await signHeartbeat(acct, domain, { epoch, timestamp: now });
          return { epoch, ...(await book.verify(hb, epoch, now)) };
        }),
      );
      // all at once: the first write runs alone, the other 59 wait and go to disk in the next groups
      await Promise.all(
        beats.map((b) => {
          book.record(b.epoch, b.device, b.signature);
          return journal.append(b.epoch, b.device, b.signature);
        }),
      );
      const lines = (await readFile(journal.file(5), "utf8")).split("\n").filter((l) => l !== "");
      assert.equal(lines.length, 30);
      for (const l of lines) assert.doesNotThrow(() => JSON.parse(l), "a whole line");
      const restarted = new HeartbeatBook(domain);
      await HeartbeatJournal.open(dir, restarted);
      assert.deepEqual(restarted.connected(5), book.connected(5));
      assert.deepEqual(restarted.connected(6), book.connected(6));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("the journal replays every flushed heartbeat after a restart and skips a line torn by a crash", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "dml-hb-journal-"));
    try {
      const a = privateKeyToAccount(generatePrivateKey());
      const b = privateKeyToAccount(generatePrivateKey());
      const book = new HeartbeatBook(domain);
      const journal = await HeartbeatJournal.open(dir, book);
      for (const [acct, epoch] of [
        [a, 3],
        [b, 3],
        [a, 4],
      ] as const) {
        const hb = await signHeartbeat(acct, domain, { epoch, timestamp: now });
        const { device, signature } = await book.verify(hb, epoch, now);
        book.record(epoch, device, signature);
        await journal.append(epoch, device, signature);
      }
      // a crash in the middle of a fourth append
      await appendFile(journal.file(3), '{"device":"0x12');
      const restarted = new HeartbeatBook(domain);
      const reopened = await HeartbeatJournal.open(dir, restarted);
      assert.deepEqual(restarted.connected(3), book.connected(3));
      assert.deepEqual(restarted.connected(4), book.connected(4));
      assert.equal(restarted.connected(3).length, 2);
      await rejectsWith(
        restarted.accept(await signHeartbeat(a, domain, { epoch: 3, timestamp: now }), 3, now),
        "HEARTBEAT_REPLAY",
      );
      // an append after the torn line starts a line of its own and survives the next restart
      const c = privateKeyToAccount(generatePrivateKey());
      const sig = (await signHeartbeat(c, domain, { epoch: 3, timestamp: now }))
        .signature as `0x${string}`;
      restarted.record(3, c.address, sig);
      await reopened.append(3, c.address, sig);
      const third = new HeartbeatBook(domain);
      await HeartbeatJournal.open(dir, third);
      assert.equal(third.connected(3).length, 3);
      assert.ok(third.has(3, c.address));
      // pruning after a post drops the older epochs' files
      await journal.prune(4);
      await assert.rejects(readFile(journal.file(3)));
      assert.ok((await readFile(journal.file(4), "utf8")).includes(a.address));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
