/**
 * The chain watcher on the EDR chain: `CohortAssigned` logs (emitted by a 31-byte raw-EVM log emitter standing in for
 * JobMarket, which is not merged into this branch) are read with getLogs polling; the cursor persists across restarts,
 * respects confirmations and range limits, and is bound to its chain and contract.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { network } from "hardhat";
import {
  concat,
  createPublicClient,
  custom,
  encodeAbiParameters,
  pad,
  toEventSelector,
  toHex,
  type Address,
  type Hex,
} from "viem";
import type { DevicePublicClient } from "../../device-runner/chain.ts";
import { DeviceError } from "../../device-runner/errors.ts";
import { CohortWatcher } from "../../device-runner/watcher.ts";

/** Runtime: LOG4(topics = calldata[0..128), data = calldata[128..]). Init code copies and returns it. */
const EMITTER_INIT = ("0x601f600c600039601f6000f3" +
  "36608090038060806000376060359060403590602035906000359060" +
  "00a400") as Hex;

const SIG = "CohortAssigned(uint256,address,address,bytes32,uint32,string)";

let conn: Awaited<ReturnType<typeof network.create>>;
let pub: DevicePublicClient;
let emitter: Address;
let tmp: string;
let send: (jobId: bigint, data?: Hex) => Promise<bigint>;

before(async () => {
  conn = await network.create();
  pub = (await conn.viem.getPublicClient()) as unknown as DevicePublicClient;
  const [w] = await conn.viem.getWalletClients();
  const receipt = await pub.waitForTransactionReceipt({
    hash: await w!.sendTransaction({ data: EMITTER_INIT, to: null }),
  });
  emitter = receipt.contractAddress!;
  assert.ok(emitter);
  tmp = mkdtempSync(path.join(tmpdir(), "dml-device-watch-"));
  send = async (jobId, data) => {
    const body =
      data ??
      encodeAbiParameters(
        [{ type: "bytes32" }, { type: "uint32" }, { type: "string" }],
        [pad(toHex(jobId), { size: 32 }), 5, `bafy-cohort-${jobId}`],
      );
    const calldata = concat([
      toEventSelector(SIG),
      pad(toHex(jobId), { size: 32 }),
      pad("0x00000000000000000000000000000000000000d1", { size: 32 }),
      pad("0x00000000000000000000000000000000000000a9", { size: 32 }),
      body,
    ]);
    const r = await pub.waitForTransactionReceipt({
      hash: await w!.sendTransaction({ to: emitter, data: calldata }),
    });
    assert.equal(r.logs.length, 1);
    return r.blockNumber;
  };
});
after(() => rm(tmp, { recursive: true, force: true }));

describe("CohortWatcher (getLogs polling, persisted cursor)", () => {
  it("reads events once, resumes after a restart, waits for confirmations and pages long ranges", async () => {
    const cursorFile = path.join(tmp, "cursor.json");
    const chainId = await pub.getChainId();
    const start = (await pub.getBlockNumber()) + 1n;
    const make = (confirmations = 0n, maxRange = 5_000n) =>
      new CohortWatcher({
        publicClient: pub,
        chainId,
        jobMarket: emitter,
        cursorFile,
        startBlock: start,
        confirmations,
        maxRange,
      });

    const b1 = await send(1n);
    await send(2n);
    const w = make();
    const first = await w.poll();
    assert.ok(first);
    assert.deepEqual(
      first.events.map((e) => e.jobId),
      [1n, 2n],
    );
    assert.equal(first.events[0]!.cohortCid, "bafy-cohort-1");
    assert.equal(
      first.events[0]!.aggregator.toLowerCase(),
      "0x00000000000000000000000000000000000000a9",
    );
    assert.equal(first.events[0]!.blockNumber, b1);
    // not committed yet: a restart sees the same events again
    assert.deepEqual(
      (await make().poll())!.events.map((e) => e.jobId),
      [1n, 2n],
    );
    await w.commit(first.toBlock);
    // after the commit, a restarted watcher sees nothing old
    const restarted = make();
    assert.equal(await restarted.poll(), undefined);
    await send(3n);
    assert.deepEqual(
      (await restarted.poll())!.events.map((e) => e.jobId),
      [3n],
    );

    // confirmations: an event is only returned once it is `confirmations` blocks deep
    const deep = make(2n);
    const c = await deep.cursor();
    await deep.commit(await pub.getBlockNumber());
    await send(4n);
    const shallow = await deep.poll();
    assert.ok(shallow === undefined || shallow.events.length === 0);
    await conn.networkHelpers.mine(2);
    assert.deepEqual(
      (await deep.poll())!.events.map((e) => e.jobId),
      [4n],
    );
    assert.ok(c >= start - 1n);

    // paging: with maxRange 1 each poll covers one block
    const paged = make(0n, 1n);
    await paged.commit(start - 1n);
    const seen: bigint[] = [];
    for (let i = 0; i < 50; i++) {
      const r = await paged.poll();
      if (r === undefined) break;
      assert.ok(r.toBlock - ((await paged.cursor()) + 1n) < 1n);
      seen.push(...r.events.map((e) => e.jobId));
      await paged.commit(r.toBlock);
    }
    assert.deepEqual(seen, [1n, 2n, 3n, 4n]);
  });

  it("skips undecodable logs and refuses a cursor of another chain or contract", async () => {
    const cursorFile = path.join(tmp, "cursor2.json");
    const chainId = await pub.getChainId();
    const start = (await pub.getBlockNumber()) + 1n;
    await send(9n, "0x1234");
    await send(10n);
    const w = new CohortWatcher({
      publicClient: pub,
      chainId,
      jobMarket: emitter,
      cursorFile,
      startBlock: start,
    });
    assert.deepEqual(
      (await w.poll())!.events.map((e) => e.jobId),
      [10n],
    );
    await writeFile(cursorFile, JSON.stringify({ chainId: 1, jobMarket: emitter, block: "5" }));
    await assert.rejects(w.poll(), (e) => e instanceof DeviceError && e.code === "CONFIG_INVALID");
  });

  it("sees a block mined right after the client cached the block number (viem cacheTime)", async () => {
    // an HTTP client caches eth_blockNumber for its polling interval; the watcher must not read a stale head
    const cached = createPublicClient({
      transport: custom(conn.provider),
      cacheTime: 60_000,
    }) as unknown as DevicePublicClient;
    const start = (await cached.getBlockNumber()) + 1n; // primes the cache
    const block = await send(11n);
    assert.equal(await cached.getBlockNumber(), start - 1n, "the client's cached head is stale");
    const w = new CohortWatcher({
      publicClient: cached,
      chainId: await pub.getChainId(),
      jobMarket: emitter,
      cursorFile: path.join(tmp, "cursor3.json"),
      startBlock: start,
      confirmations: 0n,
    });
    const batch = await w.poll();
    assert.ok(batch, "the watcher read the live head");
    assert.deepEqual(
      batch.events.map((e) => [e.jobId, e.blockNumber]),
      [[11n, block]],
    );
  });
});
