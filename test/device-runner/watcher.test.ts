/**
 * The chain watcher on the EDR chain: `CohortAssigned` logs (emitted by a 31-byte raw-EVM log emitter standing in for
 * JobMarket) are read through the sdk's event cursor; the position persists across restarts and failed handlers,
 * respects confirmations and range limits, is bound to its chain and contract, and survives a reorg (EDR
 * snapshot/revert) by re-scanning from the common ancestor.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
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
import { CohortWatcher, type CohortEvent } from "../../device-runner/watcher.ts";

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

/** Polls once and returns the delivered events' job ids. */
async function ids(w: CohortWatcher): Promise<bigint[]> {
  const out: bigint[] = [];
  await w.poll(async (e) => void out.push(e.jobId));
  return out;
}

describe("CohortWatcher (the sdk event cursor: getLogs polling, persisted position, reorgs)", () => {
  it("delivers events once, again after a failed handler, resumes after a restart, waits for confirmations and pages", async () => {
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
    // a handler that fails on job 2 (e.g. the device is busy): job 1's block is passed, job 2's is not
    const seen: CohortEvent[] = [];
    await assert.rejects(
      make().poll(async (e) => {
        if (e.jobId === 2n) throw new Error("busy");
        seen.push(e);
      }),
      /busy/,
    );
    assert.equal(seen[0]!.cohortCid, "bafy-cohort-1");
    assert.equal(seen[0]!.aggregator.toLowerCase(), "0x00000000000000000000000000000000000000a9");
    assert.equal(seen[0]!.blockNumber, b1);
    // a restart delivers job 2 again, never job 1
    const w = make();
    assert.deepEqual(await ids(w), [2n]);
    assert.deepEqual(await ids(make()), [], "nothing old after a restart");
    await send(3n);
    assert.deepEqual(await ids(w), [3n]);

    // confirmations: an event is only delivered once it is `confirmations` blocks deep
    const deep = make(2n);
    await send(4n);
    assert.deepEqual(await ids(deep), []);
    await conn.networkHelpers.mine(2);
    assert.deepEqual(await ids(deep), [4n]);

    // paging: with maxRange 1 a poll still covers every block, one getLogs per block
    const pagedFile = path.join(tmp, "cursor-paged.json");
    const paged = new CohortWatcher({
      publicClient: pub,
      chainId,
      jobMarket: emitter,
      cursorFile: pagedFile,
      startBlock: start,
      maxRange: 1n,
    });
    assert.deepEqual(await ids(paged), [1n, 2n, 3n, 4n]);
    assert.equal(await paged.position(), await pub.getBlockNumber());
  });

  it("converts a cursor file of the earlier format, skips undecodable logs and refuses another chain's cursor", async () => {
    const cursorFile = path.join(tmp, "cursor2.json");
    const chainId = await pub.getChainId();
    const start = (await pub.getBlockNumber()) + 1n;
    const old = await send(8n);
    await send(9n, "0x1234");
    await send(10n);
    // the earlier runner handled everything up to job 8's block
    await writeFile(
      cursorFile,
      JSON.stringify({ chainId, jobMarket: emitter, block: old.toString() }),
    );
    const w = new CohortWatcher({
      publicClient: pub,
      chainId,
      jobMarket: emitter,
      cursorFile,
      startBlock: start,
    });
    assert.deepEqual(await ids(w), [10n]);
    assert.equal(JSON.parse(await readFile(cursorFile, "utf8")).version, 1, "converted");
    const other = path.join(tmp, "cursor-other.json");
    await writeFile(other, JSON.stringify({ chainId: 1, jobMarket: emitter, block: "5" }));
    const wrong = new CohortWatcher({
      publicClient: pub,
      chainId,
      jobMarket: emitter,
      cursorFile: other,
      startBlock: start,
    });
    await assert.rejects(
      ids(wrong),
      (e) => e instanceof DeviceError && e.code === "CONFIG_INVALID",
    );
  });

  it("re-scans after a reorg: an event on the abandoned branch is replaced by the new chain's", async () => {
    const cursorFile = path.join(tmp, "cursor-reorg.json");
    const chainId = await pub.getChainId();
    const start = (await pub.getBlockNumber()) + 1n;
    const w = new CohortWatcher({
      publicClient: pub,
      chainId,
      jobMarket: emitter,
      cursorFile,
      startBlock: start,
    });
    await send(20n);
    assert.deepEqual(await ids(w), [20n]);
    const snapshot = (await conn.provider.request({ method: "evm_snapshot" })) as string;
    await send(21n); // seen, then reorganised away
    assert.deepEqual(await ids(w), [21n]);
    await conn.provider.request({ method: "evm_revert", params: [snapshot] });
    // job 22 lands at job 21's height: a cursor keeping only the block number (the runner's earlier one) would
    // count that height as handled and never deliver it
    const b22 = await send(22n);
    assert.equal(b22, start + 1n, "same height as the abandoned block");
    assert.deepEqual(await ids(w), [22n], "the new chain's event, once");
    assert.deepEqual(await ids(w), []);
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
    const got: [bigint, bigint][] = [];
    await w.poll(async (e) => void got.push([e.jobId, e.blockNumber]));
    assert.deepEqual(got, [[11n, block]], "the watcher read the live head");
  });
});
