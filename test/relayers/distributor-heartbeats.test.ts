/** relayers/distributor/HeartbeatBook: real EIP-712 heartbeats, replay refused, bad input rejected with a code. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { signHeartbeat } from "#sdk/protocol/heartbeat.ts";
import { HeartbeatBook, HeartbeatError } from "../../relayers/distributor/HeartbeatBook.ts";

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
});
