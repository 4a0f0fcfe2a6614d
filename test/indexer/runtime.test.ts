/**
 * indexer/runtime: the fixture subgraph (test/indexer/fixtures/token-subgraph, built by the real `graph build`)
 * runs on real DMLToken Transfer / Approval events of the EDR chain (`hardhat node`). Every stored value is checked
 * against an independent computation (JS bigint math, viem's ABI encoder, @noble/hashes keccak, the chain's state
 * read with viem); each deterministic failure surfaces as a HandlerError with graph-node's message.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import assert from "node:assert/strict";
import { pino } from "pino";
import { createServer, type Server } from "node:net";
import { after, before, describe, it } from "node:test";
import {
  bytesToHex,
  encodeAbiParameters,
  getAddress,
  hexToBytes,
  keccak256,
  parseEventLogs,
  toHex,
  type Address,
  type Hex,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { fetchBlockInput, type LogInput } from "../../indexer/runtime/block-input.ts";
import { HandlerError, RuntimeError } from "../../indexer/runtime/errors.ts";
import { hostImports, type HostContext } from "../../indexer/runtime/host-functions.ts";
import { AscHeap, TypeId } from "../../indexer/runtime/asc-heap.ts";
import { BlockState } from "../../indexer/runtime/block-state.ts";
import { readEntity, writeEntity } from "../../indexer/runtime/store-value.ts";
import { parseSchema } from "../../indexer/runtime/schema.ts";
import { SubgraphRuntime, type BlockResult } from "../../indexer/runtime/runtime.ts";
import type { Entity, Value } from "../../indexer/types.ts";
import { loadArtifact } from "#sdk/chain/artifacts.ts";
import { dmlTokenAbi } from "#sdk/chain/abi/index.ts";
import { buildFixture, deployBuild, removeBuildCopies } from "./helpers/fixture-subgraph.ts";
import { startNodeChain, type NodeChain } from "./helpers/hardhat-node.ts";
import { MemoryHead } from "./helpers/memory-head.ts";

const who = (label: string) => privateKeyToAccount(keccak256(toHex(label))).address;
const alice = who("rt-alice");
const bob = who("rt-bob");
const carol = who("rt-carol");
const dave = who("rt-dave");
const pool = who("rt-pool");
const V = 1234567n * 10n ** 15n;
const B1 = 5n * 10n ** 18n;
const B2 = 7n * 10n ** 18n;

const val = (e: Entity | null, field: string): Value => {
  assert.ok(e, "entity exists");
  const v = e.get(field);
  assert.ok(v, `field ${field} is set`);
  return v;
};
const big = (e: Entity | null, f: string) => {
  const v = val(e, f);
  assert.equal(v.kind, "BigInt", `${f} is a BigInt`);
  return (v as { value: bigint }).value;
};
const str = (e: Entity | null, f: string) => {
  const v = val(e, f);
  assert.equal(v.kind, "String", `${f} is a String`);
  return (v as { value: string }).value;
};
const dec = (e: Entity | null, f: string) => {
  const v = val(e, f);
  assert.equal(v.kind, "BigDecimal", `${f} is a BigDecimal`);
  return (v as { value: string }).value;
};
const hex = (e: Entity | null, f: string) => {
  const v = val(e, f);
  assert.equal(v.kind, "Bytes", `${f} is Bytes`);
  return bytesToHex((v as { value: Uint8Array }).value);
};

/** Bitcoin-alphabet base58, written out here to check typeConversion.bytesToBase58 independently. */
function base58(bytes: Uint8Array): string {
  const alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
  let n = BigInt(bytesToHex(bytes.length ? bytes : new Uint8Array(1)));
  let out = "";
  while (n > 0n) {
    out = alphabet[Number(n % 58n)]! + out;
    n /= 58n;
  }
  for (const b of bytes) {
    if (b !== 0) break;
    out = "1" + out;
  }
  return out;
}

/** `a / b` to 34 significant digits in plain notation (the digits after the 34th are below 5 in our cases). */
function decimalRatio(a: bigint, b: bigint): string {
  const scaled = (a * 10n ** 60n) / b;
  const digits = scaled.toString();
  const intLen = digits.length - 60;
  const sig = digits.slice(0, 34);
  const s =
    intLen >= 34 ? sig + "0".repeat(intLen - 34) : `${sig.slice(0, intLen)}.${sig.slice(intLen)}`;
  return s.includes(".") ? s.replace(/0+$/, "").replace(/\.$/, "") : s;
}

describe("indexer/runtime on the fixture subgraph", () => {
  let chain: NodeChain;
  let token: Address;
  let token2: Address;
  let startBlock: number;
  let buildDir: string;
  let rt: SubgraphRuntime;
  const head = new MemoryHead();
  const results = new Map<number, BlockResult>();
  const blocks: Record<string, number> = {};
  const errorBlocks: Record<string, number> = {};
  const hashes: Record<string, Hex> = {};

  const deploy = async () => {
    const w = chain.wallet(chain.deployer);
    const hash = await w.deployContract({
      abi: dmlTokenAbi,
      bytecode: loadArtifact("DMLToken").bytecode,
      args: [chain.deployer.address, pool],
      account: chain.deployer,
      chain: w.chain,
    });
    const r = await chain.pub.waitForTransactionReceipt({ hash });
    return { address: getAddress(r.contractAddress!), block: Number(r.blockNumber) };
  };
  const send = async (address: Address, fn: "transfer" | "approve", args: [Address, bigint]) => {
    const w = chain.wallet(chain.deployer);
    const hash = await w.writeContract({
      address,
      abi: dmlTokenAbi,
      functionName: fn,
      args,
      account: chain.deployer,
      chain: w.chain,
    });
    const r = await chain.pub.waitForTransactionReceipt({ hash });
    return { hash, block: Number(r.blockNumber) };
  };

  /** The runtime's view of one block: its logs under the runtime's current filter. */
  const inputFor = async (runtime: SubgraphRuntime, n: number) => {
    const f = runtime.logFilter();
    const raw = (await chain.rpc("eth_getLogs", [
      {
        fromBlock: toHex(n),
        toBlock: toHex(n),
        ...(f.addresses ? { address: f.addresses } : {}),
        topics: [f.topics0],
      },
    ])) as {
      address: Address;
      topics: Hex[];
      data: Hex;
      logIndex: Hex;
      transactionIndex: Hex;
      transactionHash: Hex;
      blockHash: Hex;
      blockNumber: Hex;
    }[];
    const logs: LogInput[] = raw.map((l) => ({
      address: l.address,
      topics: l.topics,
      data: l.data,
      logIndex: Number(l.logIndex),
      transactionIndex: Number(l.transactionIndex),
      transactionHash: l.transactionHash,
      blockHash: l.blockHash,
      blockNumber: BigInt(l.blockNumber),
    }));
    return fetchBlockInput(chain.pub, BigInt(n), logs, runtime.needsReceipts());
  };

  before(async () => {
    const t0 = performance.now();
    const [c, build] = await Promise.allSettled([
      startNodeChain().then(
        (x) => (console.log(`  chain up in ${((performance.now() - t0) / 1000).toFixed(1)} s`), x),
      ),
      buildFixture(dmlTokenAbi).then(
        (x) => (
          console.log(`  fixture built in ${((performance.now() - t0) / 1000).toFixed(1)} s`),
          x
        ),
      ),
    ]);
    // keep the chain even if the build failed, so that after() stops it
    if (c.status === "fulfilled") chain = c.value;
    if (c.status === "rejected") throw c.reason;
    if (build.status === "rejected") throw build.reason;
    buildDir = build.value;
    const t1 = await deploy();
    token = t1.address;
    startBlock = t1.block;
    token2 = (await deploy()).address;
    const x1 = await send(token, "transfer", [alice, V]);
    blocks.single = x1.block;
    hashes.single = x1.hash;
    // two transfers in one block: store.get must see the first one's writes
    await chain.rpc("evm_setAutomine", [false]);
    const w = chain.wallet(chain.deployer);
    for (const [to, v] of [
      [bob, B1],
      [carol, B2],
    ] as const)
      await w.writeContract({
        address: token,
        abi: dmlTokenAbi,
        functionName: "transfer",
        args: [to, v],
        account: chain.deployer,
        chain: w.chain,
      });
    await chain.rpc("evm_mine");
    await chain.rpc("evm_setAutomine", [true]);
    blocks.pair = Number(await chain.pub.getBlockNumber({ cacheTime: 0 }));
    // T2's transfer comes first in the block that creates T2's data source: graph-node re-matches the block's
    // logs against the new data source, so it is handled too
    await chain.rpc("evm_setAutomine", [false]);
    await w.writeContract({
      address: token2,
      abi: dmlTokenAbi,
      functionName: "transfer",
      args: [carol, 3n],
      account: chain.deployer,
      chain: w.chain,
    });
    await w.writeContract({
      address: token,
      abi: dmlTokenAbi,
      functionName: "approve",
      args: [token2, 777n],
      account: chain.deployer,
      chain: w.chain,
    });
    await chain.rpc("evm_mine");
    await chain.rpc("evm_setAutomine", [true]);
    blocks.create = Number(await chain.pub.getBlockNumber({ cacheTime: 0 }));
    blocks.clone = (await send(token2, "transfer", [bob, 5n])).block;
    const probe = await send(token, "approve", [dave, 1n]);
    blocks.probe = probe.block;
    hashes.probe = probe.hash;
    blocks.stamp = (await send(token, "approve", [dave, 4242n])).block;
    for (const [name, v] of [
      ["abort", 57005n],
      ["critical", 48879n],
      ["wrongType", 4343n],
      ["missing", 4444n],
      ["immutable", 4242n],
    ] as const)
      errorBlocks[name] = (await send(token, "approve", [dave, v])).block;

    console.log(`  scenario sent in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    rt = SubgraphRuntime.load(deployBuild(buildDir, token, startBlock), {
      rpcUrl: chain.url,
      head,
      logger: pino({ level: "silent" }),
    });
    for (let n = startBlock; n <= blocks.stamp!; n++) {
      const r = rt.handleBlock(await inputFor(rt, n));
      head.apply(r);
      results.set(n, r);
    }
    console.log(`  indexed in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  });

  after(async () => {
    await rt?.close();
    await chain?.stop();
    removeBuildCopies();
  });

  it("the wasm graph build emitted imports the host functions graph-ts declares and exports the handlers", () => {
    const ds = rt.manifest.dataSources[0]!;
    const mod = ds.mapping.wasm;
    const exports = WebAssembly.Module.exports(mod).map((e) => e.name);
    for (const name of [
      "handleTransfer",
      "handleApproval",
      "allocate",
      "id_of_type",
      "memory",
      "_start",
    ])
      assert.ok(exports.includes(name), `exports ${name}`);
    const imports = WebAssembly.Module.imports(mod)
      .map((i) => `${i.module}/${i.name}`)
      .sort();
    for (const expected of [
      "env/abort",
      "index/store.get",
      "index/store.set",
      "index/store.remove",
      "index/log.log",
      "index/crypto.keccak256",
      "numbers/bigInt.plus",
      "numbers/bigInt.pow",
      "numbers/bigDecimal.dividedBy",
      "numbers/bigInt.dividedByDecimal",
      "conversion/typeConversion.bytesToBase58",
      "conversion/typeConversion.stringToH160",
      "json/json.fromBytes",
      "json/json.try_fromBytes",
      "json/json.toBigInt",
      "json/json.toI64",
      "json/json.toU64",
      "json/json.toF64",
      "ethereum/ethereum.call",
      "ethereum/ethereum.encode",
      "ethereum/ethereum.decode",
      "datasource/dataSource.address",
      "datasource/dataSource.network",
      "datasource/dataSource.context",
      "datasource/dataSource.createWithContext",
    ])
      assert.ok(imports.includes(expected), `imports ${expected} (got ${imports.join(", ")})`);
    assert.deepEqual(
      ds.mapping.eventHandlers.map((h) => [h.handler, h.topic0, h.receipt]),
      [
        ["handleTransfer", keccak256(toHex("Transfer(address,address,uint256)")), true],
        ["handleApproval", keccak256(toHex("Approval(address,address,uint256)")), false],
      ],
    );
    assert.equal(ds.address, token.toLowerCase());
    assert.equal(ds.startBlock, startBlock);
    assert.deepEqual(
      rt.manifest.templates.map((t) => t.name),
      ["TokenClone"],
    );
  });

  it("bigInt, bigDecimal, typeConversion, crypto, ethereum.encode/decode and ethereum.call values equal independent computations", async () => {
    const r = results.get(blocks.single!)!;
    const tx = await chain.pub.getTransactionReceipt({ hash: hashes.single! });
    const block = await chain.pub.getBlock({ blockNumber: BigInt(blocks.single!) });
    const log = parseEventLogs({ abi: dmlTokenAbi, logs: tx.logs, eventName: "Transfer" })[0]!;
    const id = `${tx.transactionHash}-${log.logIndex}`;
    const t = head.get("TransferEvent", id);
    assert.ok(r.changes.some((c) => c.entityType === "TransferEvent" && c.id === id));
    assert.equal(hex(t, "from"), chain.deployer.address.toLowerCase());
    assert.equal(hex(t, "to"), alice.toLowerCase());
    assert.equal(big(t, "value"), V);
    assert.equal(big(t, "blockNumber"), BigInt(blocks.single!));
    assert.equal(hex(t, "blockHash"), block.hash);
    assert.equal(big(t, "timestamp"), block.timestamp);
    assert.equal(hex(t, "txHash"), tx.transactionHash);
    assert.equal(hex(t, "txFrom"), chain.deployer.address.toLowerCase());
    assert.equal(big(t, "txIndex"), BigInt(tx.transactionIndex));
    assert.equal(big(t, "logIndex"), BigInt(log.logIndex));
    assert.equal(big(t, "gasUsed"), tx.gasUsed);
    assert.equal(big(t, "receiptStatus"), 1n);
    assert.deepEqual(val(t, "receiptLogs"), { kind: "Int", value: tx.logs.length });
    assert.deepEqual(val(t, "topicCount"), { kind: "Int", value: tx.logs[0]!.topics.length + 1 });
    // bigInt.*
    assert.equal(big(t, "sum"), V + 7n);
    assert.equal(big(t, "diff"), 7n - V);
    assert.equal(big(t, "product"), V * V);
    assert.equal(big(t, "quotient"), V / 7n);
    assert.equal(big(t, "remainder"), V % 1000003n);
    assert.equal(big(t, "power"), V ** 3n);
    assert.equal(big(t, "orBits"), V | 0x0f0fn);
    assert.equal(big(t, "andBits"), V & 0xff00ffn);
    assert.equal(big(t, "shiftedLeft"), V << 9n);
    assert.equal(big(t, "shiftedRight"), V >> 5n);
    assert.equal(big(t, "parsed"), -123456789012345678901234567890n);
    assert.equal(big(t, "negative"), -300n * V);
    // bigDecimal.*
    assert.equal(dec(t, "ratio"), decimalRatio(V, 3n));
    assert.equal(dec(t, "decSum"), `${V}.25`);
    assert.equal(dec(t, "decDiff"), `-${V - 2n}.5`);
    assert.equal(dec(t, "decProduct"), `-${V / 8n}`);
    assert.equal(dec(t, "decParsed"), "1234.5");
    assert.equal(str(t, "decString"), "1234.5");
    assert.deepEqual(val(t, "decEquals"), { kind: "Bool", value: true });
    assert.equal(dec(t, "intByDecimal"), (V / 8n).toString());
    // typeConversion.*
    assert.equal(str(t, "valueString"), V.toString());
    assert.equal(str(t, "valueHex"), `0x${V.toString(16)}`);
    assert.equal(str(t, "toHex"), alice.toLowerCase());
    assert.equal(str(t, "toBase58"), base58(hexToBytes(alice)));
    assert.equal(str(t, "utf8"), "h\u00e9llo \u{1F600}");
    assert.equal(hex(t, "parsedAddress"), alice.toLowerCase());
    // ethereum.encode / crypto.keccak256 / ethereum.decode
    const encoded = encodeAbiParameters(
      [
        {
          type: "tuple",
          components: [
            { type: "address" },
            { type: "uint256" },
            { type: "bool[]" },
            { type: "string" },
          ],
        },
      ],
      [[alice, V, [true, false, true], "dml"]],
    );
    assert.equal(hex(t, "encoded"), encoded);
    assert.equal(hex(t, "digest"), bytesToHex(keccak_256(hexToBytes(encoded))));
    assert.equal(hex(t, "decodedTo"), alice.toLowerCase());
    assert.equal(big(t, "decodedValue"), V);
    assert.deepEqual(val(t, "decodedFlags"), {
      kind: "List",
      value: [true, false, true].map((value) => ({ kind: "Bool", value })),
    });
    // ethereum.call at the trigger's block, and a reverted try_ call
    const balance = await chain.pub.readContract({
      address: token,
      abi: dmlTokenAbi,
      functionName: "balanceOf",
      args: [alice],
      blockNumber: BigInt(blocks.single!),
    });
    assert.equal(big(t, "balanceAfter"), balance);
    assert.equal(
      str(t, "symbol"),
      await chain.pub.readContract({ address: token, abi: dmlTokenAbi, functionName: "symbol" }),
    );
    assert.deepEqual(val(t, "transferReverted"), { kind: "Bool", value: true });
    // dataSource.*
    assert.equal(hex(t, "source"), token.toLowerCase());
    assert.equal(str(t, "network"), "hardhat");
    assert.equal(str(t, "contextTag"), "main");
  });

  it("store.get sees the block's earlier writes; store.remove in the same block leaves nothing; balances add up", async () => {
    const r = results.get(blocks.pair!)!;
    assert.equal(r.triggers, 2);
    const block = await chain.pub.getBlock({ blockNumber: BigInt(blocks.pair!) });
    const tally = head.get("BlockTally", String(blocks.pair));
    assert.deepEqual(val(tally, "transfers"), { kind: "Int", value: 2 });
    assert.equal(big(tally, "volume"), B1 + B2);
    assert.deepEqual(val(tally, "labels"), {
      kind: "List",
      value: [`main:${B1}`, `main:${B2}`].map((value) => ({ kind: "String", value })),
    });
    assert.deepEqual(val(tally, "at"), { kind: "Timestamp", value: block.timestamp * 1_000_000n });
    // Scratch entities were set then removed within their trigger: the block's changes carry a remove, the head none
    assert.ok(r.changes.some((c) => c.entityType === "Scratch" && c.op === "remove"));
    assert.equal(head.all("Scratch").length, 0);
    // Account balances: every indexed transfer of both tokens, from the chain's own logs
    const expected = new Map<string, bigint>();
    const counts = new Map<string, number>();
    for (const [address, from] of [
      [token, startBlock],
      [token2, blocks.create!],
    ] as const) {
      const logs = await chain.pub.getContractEvents({
        address,
        abi: dmlTokenAbi,
        eventName: "Transfer",
        fromBlock: BigInt(from),
        toBlock: BigInt(blocks.stamp!),
      });
      for (const l of logs) {
        const { from: f, to, value } = l.args as { from: Address; to: Address; value: bigint };
        expected.set(f.toLowerCase(), (expected.get(f.toLowerCase()) ?? 0n) - value);
        expected.set(to.toLowerCase(), (expected.get(to.toLowerCase()) ?? 0n) + value);
        counts.set(f.toLowerCase(), (counts.get(f.toLowerCase()) ?? 0) + 1);
        counts.set(to.toLowerCase(), (counts.get(to.toLowerCase()) ?? 0) + 1);
      }
    }
    assert.equal(head.all("Account").length, expected.size);
    for (const [account, balance] of expected) {
      const a = head.get("Account", account);
      assert.equal(big(a, "balance"), balance, `balance of ${account}`);
      assert.deepEqual(val(a, "transferCount"), { kind: "Int", value: counts.get(account) });
      assert.equal(a!.has("sent"), false, "the derived field is not stored");
    }
    for (const a of [alice, pool])
      assert.equal(
        big(head.get("Account", a.toLowerCase()), "balance"),
        await chain.pub.readContract({
          address: token,
          abi: dmlTokenAbi,
          functionName: "balanceOf",
          args: [a],
        }),
      );
  });

  it("dataSource.createWithContext starts a template that indexes the new address with its own context", () => {
    const created = results.get(blocks.create!)!.createdDataSources;
    assert.deepEqual(
      created.map((c) => ({
        template: c.template,
        address: c.address,
        startBlock: c.startBlock,
        tag: c.context?.get("tag"),
      })),
      [
        {
          template: "TokenClone",
          address: token2.toLowerCase(),
          startBlock: blocks.create,
          tag: { kind: "String", value: "clone" },
        },
      ],
    );
    assert.deepEqual(
      rt.createdDataSources().map((c) => c.address),
      [token2.toLowerCase()],
    );
    assert.equal(rt.logFilter().addresses, null, "templates: any address");
    const clone = head
      .all("TransferEvent")
      .filter((t) => hex(t, "source") === token2.toLowerCase())
      .map((t) => [big(t, "blockNumber"), hex(t, "to"), big(t, "value"), str(t, "contextTag")]);
    assert.deepEqual(
      clone.sort((a, b) => Number((a[0] as bigint) - (b[0] as bigint))),
      [
        [BigInt(blocks.create!), carol.toLowerCase(), 3n, "clone"],
        [BigInt(blocks.clone!), bob.toLowerCase(), 5n, "clone"],
      ],
    );
    // the same-block transfer ran after the block's own triggers (graph-node's order), one more trigger
    assert.equal(results.get(blocks.create!)!.triggers, 2);
  });

  it("rollbackTo forgets the data sources created above the fork point; re-indexing creates them again", async () => {
    const other = SubgraphRuntime.load(deployBuild(buildDir, token, startBlock), {
      rpcUrl: chain.url,
      head: new MemoryHead(),
    });
    try {
      const r = other.handleBlock(await inputFor(other, blocks.create!));
      assert.equal(r.createdDataSources.length, 1);
      assert.equal(other.createdDataSources().length, 1);
      other.rollbackTo(blocks.create! - 1);
      assert.deepEqual(other.createdDataSources(), []);
      assert.equal(
        other.handleBlock(await inputFor(other, blocks.create!)).createdDataSources.length,
        1,
      );
      other.rollbackTo(blocks.create!);
      assert.equal(
        other.createdDataSources().length,
        1,
        "a data source created at the fork point stays",
      );
    } finally {
      await other.close();
    }
  });

  it("json.* keeps big numbers exact and try_fromBytes reports bad JSON as an error", () => {
    const p = head.get("JsonProbe", hashes.probe!);
    assert.equal(big(p, "big"), 123456789012345678901234567890n);
    assert.deepEqual(val(p, "i64"), { kind: "Int8", value: -42n });
    assert.equal(big(p, "u64"), 18446744073709551615n);
    assert.equal(dec(p, "f64"), "2.5");
    assert.equal(str(p, "text"), "caf\u00e9");
    assert.deepEqual(val(p, "flags"), {
      kind: "List",
      value: [
        { kind: "Bool", value: true },
        { kind: "Bool", value: false },
      ],
    });
    assert.equal(str(p, "nested"), "deep");
    assert.deepEqual(val(p, "badIsError"), { kind: "Bool", value: true });
  });

  it("deterministic failures throw HandlerError with graph-node's message, data source, handler and block", async () => {
    const cases: [string, RegExp][] = [
      [
        "abort",
        /^Mapping aborted at src\/mapping\.ts, line \d+, column \d+, with message: approval of 0xdead refused$/,
      ],
      [
        "critical",
        new RegExp(
          `^Critical error logged in mapping with log message: approval of 0xbeef is critical: ${dave.toLowerCase()}$`,
        ),
      ],
      [
        "wrongType",
        /^Entity Scratch\[typed\]: the value `1` for field `note` must have type String! but has type Int$/,
      ],
      ["missing", /^Entity Scratch\[missing\]: missing value for non-nullable field `note`$/],
      ["immutable", /^Entity Stamp\[fixed\]: immutable entities cannot be updated/],
    ];
    assert.ok(head.get("Stamp", "fixed"), "the first Stamp was stored");
    for (const [name, reason] of cases) {
      const n = errorBlocks[name]!;
      const input = await inputFor(rt, n);
      assert.throws(
        () => rt.handleBlock(input),
        (e: unknown) => {
          assert.ok(e instanceof HandlerError, `${name}: ${String(e)}`);
          assert.equal(e.code, "HANDLER_DETERMINISTIC");
          assert.match(e.reason, reason);
          assert.equal(e.context.dataSource, "Token");
          assert.equal(e.context.handler, "handleApproval");
          assert.equal(e.context.blockNumber, n);
          assert.equal(e.context.blockHash, input.block.hash);
          return true;
        },
      );
    }
  });

  it("a fresh instance per trigger and a reused instance give the same changes (timings printed)", async () => {
    const input = await inputFor(rt, blocks.pair!);
    // over an empty head: re-running an indexed block would rewrite its immutable TransferEvents
    const load = (instancePerTrigger: boolean) =>
      SubgraphRuntime.load(deployBuild(buildDir, token, startBlock), {
        rpcUrl: chain.url,
        head: new MemoryHead(),
        instancePerTrigger,
      });
    const fresh = load(true);
    const reuse = load(false);
    try {
      const norm = (r: BlockResult) =>
        JSON.stringify(r.changes, (_k, v: unknown) =>
          typeof v === "bigint"
            ? `${v}n`
            : v instanceof Map
              ? [...v]
              : v instanceof Uint8Array
                ? bytesToHex(v)
                : v,
        );
      const expected = norm(fresh.handleBlock(input));
      assert.match(expected, /TransferEvent/);
      assert.equal(norm(reuse.handleBlock(input)), expected);
      const time = (r: SubgraphRuntime) => {
        const n = 20;
        const t0 = performance.now();
        for (let i = 0; i < n; i++) r.handleBlock(input);
        return (performance.now() - t0) / (n * 2);
      };
      const perFresh = time(fresh);
      const perReused = time(reuse);
      console.log(
        `  runtime: ${perFresh.toFixed(2)} ms per trigger with a fresh instance, ${perReused.toFixed(2)} ms reusing one (ethereum.call cached)`,
      );
    } finally {
      await fresh.close();
      await reuse.close();
    }
  });

  it("ethereum.call to an endpoint that never answers fails with CALL_FAILED, not a hang", async () => {
    const silentServer: Server = createServer(() => {});
    await new Promise<void>((r) => silentServer.listen(0, "127.0.0.1", r));
    const port = (silentServer.address() as { port: number }).port;
    const stuck = SubgraphRuntime.load(deployBuild(buildDir, token, startBlock), {
      rpcUrl: `http://127.0.0.1:${port}`,
      head: new MemoryHead(),
      callTimeoutMs: 400,
    });
    try {
      const input = await inputFor(stuck, blocks.single!);
      const t0 = Date.now();
      assert.throws(
        () => stuck.handleBlock(input),
        (e: unknown) =>
          e instanceof RuntimeError && e.code === "CALL_FAILED" && /eth_call/.test(e.message),
      );
      assert.ok(Date.now() - t0 < 5_000);
    } finally {
      await stuck.close();
      silentServer.close();
    }
  });

  it("values written into the real module's memory read back the same, through allocate and through __new", () => {
    const mod = rt.manifest.dataSources[0]!.mapping.wasm;
    const ctx = {
      state: new BlockState(rt.manifest.schema, new MemoryHead()),
    } as unknown as HostContext;
    const entity: Entity = new Map<string, Value>([
      ["id", { kind: "String", value: "x\u00e9\u{1F600}" }],
      ["n", { kind: "Int", value: -7 }],
      ["i8", { kind: "Int8", value: -(2n ** 62n) }],
      ["big", { kind: "BigInt", value: -(10n ** 40n) - 1n }],
      ["dec", { kind: "BigDecimal", value: "-12.0625" }],
      ["ok", { kind: "Bool", value: true }],
      ["b", { kind: "Bytes", value: hexToBytes("0x00ff10") }],
      ["ts", { kind: "Timestamp", value: 1_700_000_000_000_000n }],
      ["none", { kind: "Null" }],
      [
        "list",
        {
          kind: "List",
          value: [
            { kind: "String", value: "a" },
            { kind: "List", value: [] },
          ],
        },
      ],
    ]);
    for (const via of ["allocate", "__new"] as const) {
      const instance = new WebAssembly.Instance(mod, hostImports(mod, ctx));
      const ex = instance.exports;
      (ex._start as () => void)();
      const heap = new AscHeap({
        memory: ex.memory as WebAssembly.Memory,
        ...(via === "allocate"
          ? { allocate: ex.allocate as (n: number) => number }
          : { newObject: ex.__new as (n: number, id: number) => number }),
        idOfType: ex.id_of_type as (n: number) => number,
      });
      const ptr = writeEntity(heap, entity);
      assert.equal(ptr % 16, 0, `${via}: objects are 16-byte aligned as AssemblyScript's`);
      assert.deepEqual(readEntity(heap, ptr), entity, via);
      // the class id in the header is the module's own id for TypedMap<string, Value>
      assert.equal(
        heap.u32(ptr - 8),
        (ex.id_of_type as (n: number) => number)(TypeId.TypedMapStringStoreValue),
      );
      const s = heap.newString("h\u00e9llo");
      assert.equal(heap.rtSize(s), 10);
      assert.equal(heap.readString(s), "h\u00e9llo");
    }
  });

  it("an import graph-ts declares but the host lacks links, and fails deterministically when called", () => {
    // (module (import "index" "ipfs.cat" (func (param i32) (result i32))) (func (export "f") (drop (call 0 (i32.const 0)))))
    const bytes = Uint8Array.from([
      0x00,
      0x61,
      0x73,
      0x6d,
      0x01,
      0x00,
      0x00,
      0x00,
      0x01,
      0x09,
      0x02,
      0x60,
      0x01,
      0x7f,
      0x01,
      0x7f,
      0x60,
      0x00,
      0x00,
      0x02,
      0x12,
      0x01,
      0x05,
      ...Buffer.from("index"),
      0x08,
      ...Buffer.from("ipfs.cat"),
      0x00,
      0x00,
      0x03,
      0x02,
      0x01,
      0x01,
      0x07,
      0x05,
      0x01,
      0x01,
      0x66,
      0x00,
      0x01,
      0x0a,
      0x09,
      0x01,
      0x07,
      0x00,
      0x41,
      0x00,
      0x10,
      0x00,
      0x1a,
      0x0b,
    ]);
    const mod = new WebAssembly.Module(bytes);
    const ctx = {
      state: new BlockState(
        parseSchema("type A @entity(immutable: true) { id: ID! }"),
        new MemoryHead(),
      ),
    } as unknown as HostContext;
    const instance = new WebAssembly.Instance(mod, hostImports(mod, ctx));
    assert.throws(
      () => (instance.exports.f as () => void)(),
      /unsupported host function `ipfs\.cat`/,
    );
  });
});
