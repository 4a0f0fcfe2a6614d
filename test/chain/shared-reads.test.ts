/**
 * sdk/chain/shared-reads.ts: the chain read cache the devices of one `dml-device host` process share. Each device
 * keeps its own viem client and HTTP transport to a real EDR chain served on 127.0.0.1; the test counts what reaches
 * the chain. A read at a block number is asked once for every device; a read at `latest`, a write, a failed read and
 * an expired answer always go to the chain; every reader gets its own copy.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { network } from "hardhat";
import {
  createPublicClient,
  createWalletClient,
  http,
  numberToHex,
  type Address,
  type Hex,
  type PublicClient,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { hardhat } from "viem/chains";
import { SharedChainReads } from "#sdk/chain/shared-reads.ts";
import { serveRpc, type RpcServer } from "../e2e/rpc.ts";

/** Hardhat's default account #0 (public test key). */
const KEY: Hex = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
/**
 * A one-slot store in raw EVM code: empty calldata returns slot 0, any calldata stores its first word there.
 * Runtime `36600f57 6000546000526020 6000f3 5b 6000356000 55 00` (23 bytes) behind a 12-byte CODECOPY constructor.
 */
const SLOT_STORE: Hex = "0x6017600c60003960176000f336600f5760005460005260206000f35b60003560005500";

describe("SharedChainReads: one chain read per process for reads fixed by their block", () => {
  let rpc: RpcServer;
  const reached = new Map<string, number>();
  const count = (m: string) => reached.get(m) ?? 0;
  let store: Address;
  let admin: PublicClient;

  before(async () => {
    const conn = await network.create();
    rpc = await serveRpc({
      request: (a) => {
        reached.set(a.method, count(a.method) + 1);
        return conn.provider.request(a);
      },
    });
    admin = createPublicClient({ chain: hardhat, transport: http(rpc.url) });
    const hash = await owner().sendTransaction({ data: SLOT_STORE });
    const receipt = await admin.waitForTransactionReceipt({ hash });
    store = receipt.contractAddress!;
    await set(7n);
  });
  after(() => rpc?.close());

  const owner = () =>
    createWalletClient({
      account: privateKeyToAccount(KEY),
      chain: hardhat,
      transport: http(rpc.url),
    });

  async function set(v: bigint): Promise<bigint> {
    const hash = await owner().sendTransaction({ to: store, data: numberToHex(v, { size: 32 }) });
    return (await admin.waitForTransactionReceipt({ hash })).blockNumber;
  }

  /** A device's own client: its own HTTP transport, reads through `cache`. */
  const device = (cache: SharedChainReads) =>
    createPublicClient({ chain: hardhat, transport: cache.wrap(http(rpc.url)) });

  const read = async (c: PublicClient, at?: bigint) =>
    BigInt(
      (await c.call({ to: store, ...(at === undefined ? {} : { blockNumber: at }) })).data ?? "0x0",
    );

  it("identical reads at a block number from many devices reach the chain once and all get the answer", async () => {
    const cache = new SharedChainReads();
    const block = await admin.getBlockNumber({ cacheTime: 0 });
    const devices = Array.from({ length: 20 }, () => device(cache));
    const before = count("eth_call");
    const answers = await Promise.all(devices.map((d) => read(d, block)));
    assert.deepEqual(answers, Array(20).fill(7n));
    assert.equal(count("eth_call") - before, 1);
    // later readers of the same block are answered from the cache too
    assert.equal(await read(device(cache), block), 7n);
    assert.equal(count("eth_call") - before, 1);
    assert.equal(cache.stats.misses, 1);
    assert.equal(cache.stats.hits, 20);
  });

  it("a pinned read keeps its block's state; the next block and `latest` read the chain again", async () => {
    const cache = new SharedChainReads();
    const d = device(cache);
    const old = await admin.getBlockNumber({ cacheTime: 0 });
    assert.equal(await read(d, old), 7n);
    const changed = await set(9n);
    const before = count("eth_call");
    assert.equal(await read(d, old), 7n, "the state at the old block");
    assert.equal(count("eth_call") - before, 0);
    assert.equal(await read(d, changed), 9n);
    assert.equal(await read(d), 9n);
    assert.equal(await read(d), 9n);
    assert.equal(count("eth_call") - before, 3, "one at the new block, two at latest");
    await set(7n);
    assert.equal(await read(d), 7n, "latest is never kept");
  });

  it("answers are shared only between transports to the same endpoint", async () => {
    const cache = new SharedChainReads();
    const block = await admin.getBlockNumber({ cacheTime: 0 });
    const down = createPublicClient({
      chain: hardhat,
      transport: cache.wrap(http("http://127.0.0.1:9", { retryCount: 0 })),
    });
    const before = count("eth_call");
    assert.equal(await read(device(cache), block), 7n);
    await assert.rejects(read(down, block), "another endpoint is asked itself");
    assert.equal(count("eth_call") - before, 1);
  });

  it("a failed read is not kept: the next reader asks the chain again", async () => {
    const cache = new SharedChainReads();
    const d = device(cache);
    const beyond = (await admin.getBlockNumber({ cacheTime: 0 })) + 1_000n;
    const before = count("eth_call");
    await assert.rejects(read(d, beyond));
    await assert.rejects(read(d, beyond));
    assert.equal(count("eth_call") - before, 2);
    assert.equal(cache.stats.entries, 0);
  });

  it("an answer is kept for its TTL only", async () => {
    let now = 1_000_000;
    const cache = new SharedChainReads({ ttlMs: 5_000, now: () => now });
    const d = device(cache);
    const block = await admin.getBlockNumber({ cacheTime: 0 });
    const before = count("eth_call");
    await read(d, block);
    now += 4_999;
    await read(d, block);
    assert.equal(count("eth_call") - before, 1);
    now += 2;
    await read(d, block);
    assert.equal(count("eth_call") - before, 2);
  });

  it("getLogs over a numbered range and block hashes are shared; the chain id is asked once", async () => {
    const cache = new SharedChainReads();
    const a = device(cache);
    const b = device(cache);
    const head = await admin.getBlockNumber({ cacheTime: 0 });
    const logs0 = count("eth_getLogs");
    const blocks0 = count("eth_getBlockByNumber");
    const [la, lb] = await Promise.all(
      [a, b].map((c) => c.getLogs({ address: store, fromBlock: 0n, toBlock: head })),
    );
    assert.deepEqual(la, lb);
    const [ba, bb] = await Promise.all([a, b].map((c) => c.getBlock({ blockNumber: head })));
    assert.equal(ba?.hash, bb?.hash);
    assert.ok(ba?.hash);
    assert.equal(count("eth_getLogs") - logs0, 1);
    assert.equal(count("eth_getBlockByNumber") - blocks0, 1);
    const ids0 = count("eth_chainId");
    await Promise.all([a, b, a].map((c) => c.getChainId()));
    assert.ok(count("eth_chainId") - ids0 <= 1);
  });

  it("writes and unlisted methods always reach the transport; readers get their own copies", async () => {
    const cache = new SharedChainReads();
    let sent = 0;
    const send = async () => {
      sent++;
      return { hash: "0x01", nested: { n: 1 } };
    };
    await Promise.all([
      cache.request("eth_sendRawTransaction", ["0xab"], send),
      cache.request("eth_sendRawTransaction", ["0xab"], send),
    ]);
    assert.equal(sent, 2);
    const first = (await cache.request("eth_getBlockByNumber", ["0x1", false], send)) as {
      nested: { n: number };
    };
    first.nested.n = 99;
    const second = (await cache.request("eth_getBlockByNumber", ["0x1", false], send)) as {
      nested: { n: number };
    };
    assert.equal(sent, 3);
    assert.equal(second.nested.n, 1);
    // a block tag is not a number: only a request in flight is shared, nothing kept
    await cache.request("eth_getBlockByNumber", ["latest", false], send);
    await cache.request("eth_getBlockByNumber", ["latest", false], send);
    assert.equal(sent, 5);
  });

  it("refuses a negative TTL and an empty capacity", () => {
    assert.throws(() => new SharedChainReads({ ttlMs: -1 }), RangeError);
    assert.throws(() => new SharedChainReads({ maxEntries: 0 }), RangeError);
  });
});
