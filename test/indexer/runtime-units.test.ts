/**
 * indexer/runtime's pure parts, without a chain: graph-node's BigDecimal arithmetic and normalisation, the
 * precision-keeping JSON parser, BigInt bytes, ethereum.encode / decode against viem, the call signatures graph-cli
 * emits, and the entity rules of store.set / get / get_in_block / remove.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import {
  bytesToHex,
  decodeAbiParameters,
  encodeAbiParameters,
  hexToBytes,
  keccak256,
  toHex,
} from "viem";
import { bigIntFromSignedLE, bigIntToSignedLE } from "../../indexer/runtime/asc-heap.ts";
import * as bd from "../../indexer/runtime/big-decimal.ts";
import { BlockState } from "../../indexer/runtime/block-state.ts";
import { DeterministicHostError, RuntimeError } from "../../indexer/runtime/errors.ts";
import { loadManifest } from "../../indexer/runtime/manifest.ts";
import { decodeToken, encodeToken, type EthToken } from "../../indexer/runtime/ethereum-value.ts";
import { parseCallSignature } from "../../indexer/runtime/host-functions.ts";
import { JsonSyntaxError, parseJson } from "../../indexer/runtime/json-text.ts";
import { parseSchema } from "../../indexer/runtime/schema.ts";
import type { Value } from "../../indexer/types.ts";
import { MemoryHead } from "./helpers/memory-head.ts";

const d = (s: string) => bd.fromString(s);
const show = (x: bd.BigDecimal) => bd.toString(x);

describe("indexer/runtime BigDecimal (graph-node semantics)", () => {
  it("normalises: trailing zeros go, at most 34 significant digits, plain notation", () => {
    assert.deepEqual(d("1234.5000"), { digits: 12345n, exp: -1n });
    assert.deepEqual(d("1.2e5"), { digits: 12n, exp: 4n });
    assert.equal(show(d("1.2e5")), "120000");
    assert.equal(show(d("-0.00125")), "-0.00125");
    assert.equal(show(d("0.000")), "0");
    assert.equal(show(d(".5")), "0.5");
    // 40 digits → 34, half up
    assert.equal(
      show(d("1234567890123456789012345678901234567890")),
      "1234567890123456789012345678901235000000",
    );
    assert.throws(() => d("1.2.3"), DeterministicHostError);
    assert.throws(() => d(""), DeterministicHostError);
  });

  it("plus, minus, times, dividedBy and equals agree with exact rational arithmetic", () => {
    const cases: [string, string][] = [
      ["12.25", "-0.75"],
      ["1e20", "3"],
      ["-7", "0.001"],
      ["123456789.123456789", "987654321.5"],
    ];
    for (const [a, b] of cases) {
      const x = d(a);
      const y = d(b);
      // exact value as a fraction n / 10^k
      const scale = 40n;
      const asInt = (v: bd.BigDecimal) =>
        v.exp >= -scale ? v.digits * 10n ** (v.exp + scale) : 0n;
      const sum = bd.plus(x, y);
      assert.equal(asInt(sum), asInt(x) + asInt(y), `${a} + ${b}`);
      assert.equal(asInt(bd.minus(x, y)), asInt(x) - asInt(y), `${a} - ${b}`);
      assert.equal(asInt(bd.times(x, y)), (asInt(x) * asInt(y)) / 10n ** scale, `${a} * ${b}`);
      const q = bd.dividedBy(x, y);
      const exact = (asInt(x) * 10n ** scale) / asInt(y);
      const got = asInt(q);
      // 34 significant digits: the error is below one unit of the 34th digit
      const unit = 10n ** BigInt(Math.max(0, (exact < 0n ? -exact : exact).toString().length - 34));
      const err = got - exact;
      assert.ok((err < 0n ? -err : err) <= unit, `${a} / ${b}: ${show(q)}`);
      assert.ok(bd.equals(bd.times(x, d("2")), bd.plus(x, x)));
    }
    assert.equal(show(bd.dividedBy(d("1"), d("3"))), `0.${"3".repeat(34)}`);
    assert.equal(show(bd.dividedBy(d("2"), d("3"))), `0.${"6".repeat(33)}7`);
    assert.throws(() => bd.dividedBy(d("1"), d("0")), /divide by zero/);
  });
});

describe("indexer/runtime value encodings", () => {
  it("BigInt bytes are minimal two's complement, little-endian", () => {
    for (const [v, bytes] of [
      [0n, "0x00"],
      [127n, "0x7f"],
      [128n, "0x8000"],
      [255n, "0xff00"],
      [-1n, "0xff"],
      [-128n, "0x80"],
      [-129n, "0x7fff"],
      [65536n, "0x000001"],
    ] as const) {
      assert.equal(bytesToHex(bigIntToSignedLE(v)), bytes, `${v}`);
      assert.equal(bigIntFromSignedLE(hexToBytes(bytes)), v);
    }
    for (let i = 0; i < 200; i++) {
      const v = (BigInt(Math.floor(Math.random() * 2 ** 52)) << BigInt(i)) * (i % 2 ? -1n : 1n);
      assert.equal(bigIntFromSignedLE(bigIntToSignedLE(v)), v);
    }
  });

  it("ethereum.encode / decode agree with viem's ABI coder", () => {
    const addr = "0x00000000000000000000000000000000000000aa";
    const token: EthToken = {
      kind: "tuple",
      items: [
        { kind: "address", value: hexToBytes(addr) },
        { kind: "int", value: -5n },
        {
          kind: "array",
          items: [
            { kind: "string", value: "a" },
            { kind: "string", value: "bc" },
          ],
        },
        { kind: "fixedBytes", value: hexToBytes("0x0102") },
        { kind: "bytes", value: hexToBytes("0xdeadbeef") },
      ],
    };
    const params = [
      {
        type: "tuple",
        components: [
          { type: "address" },
          { type: "int256" },
          { type: "string[]" },
          { type: "bytes2" },
          { type: "bytes" },
        ],
      },
    ] as const;
    const expected = encodeAbiParameters(params, [
      [addr, -5n, ["a", "bc"], "0x0102", "0xdeadbeef"],
    ]);
    const encoded = encodeToken(token);
    assert.equal(bytesToHex(encoded), expected);
    assert.deepEqual(decodeToken("(address,int256,string[],bytes2,bytes)", encoded), token);
    assert.equal(decodeToken("(address,uint256", encoded), null, "a malformed type is null");
    assert.equal(
      decodeToken("(string,string)", hexToBytes("0x1234")),
      null,
      "undecodable data is null",
    );
    const [u] = decodeAbiParameters(
      [{ type: "uint256" }],
      bytesToHex(encodeToken({ kind: "uint", value: 2n ** 255n })),
    );
    assert.equal(u, 2n ** 255n);
  });

  it("call signatures as graph-cli emits them", () => {
    const f = parseCallSignature(
      "getJob(uint256,(address,bytes32)[]):(uint8,(uint256,string),address[])",
    );
    assert.equal(f.name, "getJob");
    assert.deepEqual(
      f.inputs.map((i) => i.type),
      ["uint256", "tuple[]"],
    );
    assert.deepEqual(
      f.outputs.map((o) => o.type),
      ["uint8", "tuple", "address[]"],
    );
    assert.deepEqual(parseCallSignature("totalSupply():(uint256)").inputs, []);
    // a struct getter as graph-cli binds it (JobMarket.getJob): one tuple output
    const getJob = parseCallSignature(
      "getJob(uint256):((address,uint8,bool,uint40,bytes20,uint96,bytes32))",
    );
    assert.equal(getJob.outputs.length, 1);
    const out = getJob.outputs[0] as { type: string; components: { type: string }[] };
    assert.equal(out.type, "tuple");
    assert.deepEqual(
      out.components.map((c) => c.type),
      ["address", "uint8", "bool", "uint40", "bytes20", "uint96", "bytes32"],
    );
    assert.throws(() => parseCallSignature("broken(uint256"), DeterministicHostError);
  });

  it("JSON keeps number literals and rejects what serde_json rejects", () => {
    assert.deepEqual(
      parseJson(
        '{"a": [1.50, -2e3, 123456789012345678901234567890], "b": "\\u00e9\\n", "c": null}',
      ),
      {
        kind: "object",
        entries: [
          [
            "a",
            {
              kind: "array",
              items: ["1.50", "-2e3", "123456789012345678901234567890"].map((text) => ({
                kind: "number",
                text,
              })),
            },
          ],
          ["b", { kind: "string", value: "\u00e9\n" }],
          ["c", { kind: "null" }],
        ],
      },
    );
    for (const bad of ["{", "[1,]", "01", '{"a" 1}', "tru", '"\u0001"', "1 2", ""])
      assert.throws(() => parseJson(bad), JsonSyntaxError, bad);
  });
});

describe("indexer/runtime entity rules (graph-node's EntityCache and Entity::validate)", () => {
  const schema = parseSchema(`
    type Owner @entity(immutable: false) { id: Bytes!, name: String!, note: String, tags: [String!]!, pets: [Pet!]! @derivedFrom(field: "owner") }
    type Pet @entity(immutable: true) { id: ID!, owner: Owner!, age: Int! }
  `);
  const s = (value: string): Value => ({ kind: "String", value });
  const owner = "0x00aa";
  const fields = (entries: [string, Value][]) => new Map(entries);

  it("reads the schema: id kinds, references, derived and immutable", () => {
    const o = schema.entities.get("Owner")!;
    assert.equal(o.idKind, "Bytes");
    assert.equal(o.immutable, false);
    assert.deepEqual(o.fields.get("pets"), {
      name: "pets",
      kind: "String",
      list: true,
      nonNull: true,
      derived: true,
      derivedFrom: "owner",
      reference: "Pet",
    });
    const p = schema.entities.get("Pet")!;
    assert.equal(p.immutable, true);
    assert.deepEqual(p.fields.get("owner"), {
      name: "owner",
      kind: "Bytes",
      list: false,
      nonNull: true,
      derived: false,
      reference: "Owner",
    });
  });

  it("set merges into the current entity, null removes a field, get sees the block's writes", () => {
    const head = new MemoryHead();
    const st = new BlockState(schema, head);
    st.set(
      "Owner",
      owner,
      fields([
        ["name", s("ann")],
        ["note", s("x")],
        ["tags", { kind: "List", value: [] }],
      ]),
    );
    assert.equal(
      st.get("Owner", owner.toUpperCase().replace("0X", "0x"))?.get("name")?.kind,
      "String",
    );
    st.set(
      "Owner",
      owner,
      fields([
        ["note", { kind: "Null" }],
        ["name", s("bob")],
      ]),
    );
    const e = st.get("Owner", owner)!;
    assert.deepEqual(e.get("name"), s("bob"));
    assert.equal(e.has("note"), false);
    // the store merges a write over its version: the cleared field goes to it as a Null, or the old value would stay
    const [change] = st.changes();
    assert.ok(change?.op === "set");
    assert.deepEqual(change.data.get("note"), { kind: "Null" });
    assert.deepEqual(e.get("id"), { kind: "Bytes", value: hexToBytes(owner) });
    assert.equal(st.getInBlock("Owner", owner)?.get("name")?.kind, "String");
    head.apply({ block: { number: 1, hash: "0x01", timestamp: 0n }, changes: st.changes() });
    const next = new BlockState(schema, head);
    assert.equal(next.getInBlock("Owner", owner), null, "get_in_block only sees this block");
    assert.deepEqual(next.get("Owner", owner)?.get("name"), s("bob"));
    next.remove("Owner", owner);
    assert.equal(next.get("Owner", owner), null);
    assert.deepEqual(next.changes(), [{ op: "remove", entityType: "Owner", id: owner }]);
  });

  it("refuses wrong types, missing non-null fields, derived fields, id conflicts and undefined fields", () => {
    const st = new BlockState(schema, new MemoryHead());
    const ok: [string, Value][] = [
      ["name", s("a")],
      ["tags", { kind: "List", value: [s("t")] }],
    ];
    const refuse = (entries: [string, Value][], re: RegExp, id = owner) =>
      assert.throws(
        () => st.set("Owner", id, fields(entries)),
        (e: unknown) => e instanceof DeterministicHostError && re.test(e.message),
      );
    refuse(
      [["name", { kind: "Int", value: 1 }], ok[1]!],
      /the value `1` for field `name` must have type String! but has type Int/,
    );
    refuse([ok[0]!], /missing value for non-nullable field `tags`/);
    refuse(
      [...ok, ["tags", { kind: "List", value: [{ kind: "Int", value: 2 }] }]],
      /contains a Int at index 0/,
    );
    refuse(
      [...ok, ["pets", { kind: "List", value: [] }]],
      /field `pets` is derived and cannot be set/,
    );
    refuse(
      [...ok, ["id", { kind: "Bytes", value: hexToBytes("0x00bb") }]],
      /conflicts with ID passed to `store.set\(\)`/,
    );
    refuse(
      [...ok, ["id", s(owner)]],
      /Attribute `Owner.id` has wrong type: expected Bytes but got String/,
    );
    refuse(
      [...ok, ["color", s("red")]],
      /Attempted to set undefined fields \[color\] for the entity type `Owner`/,
    );
    refuse(ok, /is not a valid Bytes value/, "not-hex");
    assert.throws(() => st.set("Nope", "1", fields(ok)), /entity type `Nope` is not defined/);
    st.strictFields = false; // apiVersion < 0.0.8 drops undefined fields
    st.set("Owner", owner, fields([...ok, ["color", s("red")]]));
    assert.equal(st.get("Owner", owner)?.has("color"), false);
  });

  it("an immutable entity may be set again in its block, never in a later one", () => {
    const head = new MemoryHead();
    const st = new BlockState(schema, head);
    const pet = (age: number) =>
      fields([
        ["owner", { kind: "Bytes", value: hexToBytes(owner) }],
        ["age", { kind: "Int", value: age }],
      ]);
    st.set("Pet", "p1", pet(1));
    st.set("Pet", "p1", pet(2));
    assert.deepEqual(st.get("Pet", "p1")?.get("age"), { kind: "Int", value: 2 });
    head.apply({ block: { number: 1, hash: "0x01", timestamp: 0n }, changes: st.changes() });
    const next = new BlockState(schema, head);
    assert.throws(
      () => next.set("Pet", "p1", pet(3)),
      /Entity Pet\[p1\]: immutable entities cannot be updated/,
    );
    next.set("Pet", "p2", pet(3));
  });
});

describe("indexer/runtime manifest loading", () => {
  const abi = [
    {
      type: "event",
      name: "Ping",
      inputs: [
        { name: "who", type: "address", indexed: true },
        { name: "n", type: "uint256", indexed: false },
      ],
      anonymous: false,
    },
  ];
  // (module) — the smallest valid wasm; loading the manifest compiles it, instantiation is not tried here
  const wasm = Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  const manifest = (kind: string, startBlock: string, extra = "") => `specVersion: 1.3.0
indexerHints:
  prune: never
schema:
  file: schema.graphql
dataSources:
  - kind: ${kind}
    name: Pinger
    network: hardhat
    source:
      address: "0x00000000000000000000000000000000000000AA"
      abi: Pinger
      startBlock: ${startBlock}
    mapping:
      kind: ethereum/events
      apiVersion: 0.0.9
      language: wasm/assemblyscript
      entities: [Ping]
      abis:
        - name: Pinger
          file: Pinger.json
      eventHandlers:
        - event: Ping(indexed address,uint256)
          handler: handlePing
${extra}      file: m.wasm
`;
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const write = (text: string) => {
    const dir = mkdtempSync(path.join(tmpdir(), "dml-rt-manifest-"));
    dirs.push(dir);
    writeFileSync(path.join(dir, "subgraph.yaml"), text);
    writeFileSync(
      path.join(dir, "schema.graphql"),
      "type Ping @entity(immutable: true) { id: ID!, n: BigInt! }",
    );
    writeFileSync(path.join(dir, "Pinger.json"), JSON.stringify(abi));
    writeFileSync(path.join(dir, "m.wasm"), wasm);
    return dir;
  };

  it("reads both data source kinds, a quoted startBlock, topic0 and the address in lower case", () => {
    for (const [kind, start] of [
      ["ethereum", "7"],
      ["ethereum/contract", '"7"'],
    ]) {
      const m = loadManifest(write(manifest(kind!, start!)));
      const ds = m.dataSources[0]!;
      assert.equal(ds.startBlock, 7);
      assert.equal(ds.address, "0x00000000000000000000000000000000000000aa");
      assert.deepEqual(
        ds.mapping.eventHandlers.map((h) => [h.handler, h.topic0, h.receipt]),
        [["handlePing", keccak256(toHex("Ping(address,uint256)")), false]],
      );
      assert.deepEqual(ds.mapping.apiVersion, [0, 0, 9]);
    }
  });

  it("refuses what the host cannot run, with MANIFEST_INVALID and the reason", () => {
    const refused = (text: string, re: RegExp) =>
      assert.throws(
        () => loadManifest(write(text)),
        (e: unknown) =>
          e instanceof RuntimeError && e.code === "MANIFEST_INVALID" && re.test(e.message),
      );
    refused(
      manifest("ethereum", "7").replace("Ping(indexed address,uint256)", "Pong(uint256)"),
      /event Pong\(uint256\) of handler handlePing is not in ABI Pinger/,
    );
    refused(
      manifest("ethereum", "7", "      blockHandlers:\n        - handler: handleBlock\n"),
      /block and call handlers are not supported/,
    );
    refused(
      manifest("ethereum", "7").replace("apiVersion: 0.0.9", "apiVersion: 0.0.4"),
      /apiVersion 0\.0\.4 is older than 0\.0\.5/,
    );
    refused(manifest("near", "7"), /dataSources/);
    refused(manifest("ethereum", "-1"), /startBlock/);
  });
});
