import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Store, StoreError } from "../../indexer/store/store.ts";
import { SchemaModelError, parseSchemaModel, snakeCase } from "../../indexer/store/schema-model.ts";
import {
  FIXTURE_SDL,
  blockHash,
  generateBlocks,
  stateAt,
  toBlockChanges,
  toEntity,
  type JsBlock,
  type TypeName,
} from "./fixtures/store-fixture.ts";
import { entityText } from "./fixtures/entity-compare.ts";

const blocks = generateBlocks();
const TYPES: readonly TypeName[] = ["Account", "Job", "Bid"];

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "dml-store-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function commitAll(store: Store, list: readonly JsBlock[] = blocks): Promise<void> {
  for (const b of list) await store.commitBlock(toBlockChanges(b));
}

/** The head must hold exactly the fixture's state at `upTo`. */
function assertHead(store: Store, upTo: number): void {
  const expected = stateAt(blocks, upTo);
  for (const type of TYPES) {
    const table = expected.get(type) as Map<string, Record<string, unknown>>;
    for (const [id, rec] of table) {
      assert.equal(
        entityText(store.head().get(type, id)),
        entityText(toEntity(type, rec)),
        `${type} ${id} at ${upTo}`,
      );
    }
  }
  // Entities that existed at some block but not at `upTo` are gone from the head.
  for (const type of TYPES) {
    const everywhere = new Set(
      blocks.flatMap((b) =>
        b.changes.filter((c) => c.type === type).map((c) => (c.op === "remove" ? c.id : c.rec.id)),
      ),
    );
    for (const id of everywhere) {
      if (!(expected.get(type) as Map<string, unknown>).has(id))
        assert.equal(store.head().get(type, id), null, `${type} ${id} absent at ${upTo}`);
    }
  }
}

/** Counts the versions visible at each block straight from the tables. */
async function assertVersionsAt(store: Store, upTo: number): Promise<void> {
  for (let b = 1; b <= upTo; b++) {
    const expected = stateAt(blocks, b);
    for (const type of TYPES) {
      const model = store.model.entities.get(type);
      assert.ok(model);
      const visible = model.immutable ? `"block$" <= $1` : `block_range @> $1::int4`;
      const [row] = await store.sql.query(
        `select count(*)::int4 as n from "${store.schemaName}"."${model.table}" where ${visible}`,
        [b],
      );
      assert.equal(
        row?.n,
        (expected.get(type) as Map<string, unknown>).size,
        `${type} versions visible at block ${b}`,
      );
    }
  }
}

describe("schema model", () => {
  it("reads types, kinds, references, @derivedFrom and immutability from schema.graphql", () => {
    const model = parseSchemaModel(FIXTURE_SDL);
    const job = model.entities.get("Job");
    const bid = model.entities.get("Bid");
    assert.ok(job && bid);
    assert.equal(job.table, "job");
    assert.equal(job.immutable, false);
    assert.equal(bid.immutable, true);
    assert.equal(bid.idKind, "Bytes");
    assert.equal(job.idKind, "String");
    assert.deepEqual(job.field.get("customer")?.base, { kind: "entity", name: "Account" });
    assert.equal(job.field.get("bids")?.derivedFrom, "job");
    assert.equal(job.field.get("createdAt")?.column, "created_at");
    assert.equal(job.field.get("cohort")?.list, true);
    assert.ok(!job.stored.some((f) => f.name === "bids"), "derived fields are not stored");
    assert.equal(snakeCase("AuctionEpoch"), "auction_epoch");
  });

  it("rejects a schema graph-node would reject", () => {
    assert.throws(() => parseSchemaModel(`type A @entity { id: Float! }`), SchemaModelError);
    assert.throws(() => parseSchemaModel(`type A @entity { name: String }`), SchemaModelError);
    assert.throws(
      () =>
        parseSchemaModel(
          `type A @entity { id: ID! bs: [B!]! @derivedFrom(field: "nope") } type B @entity { id: ID! }`,
        ),
      SchemaModelError,
    );
  });
});

describe("Store", () => {
  // One in-memory store for the tests below, which run in order: commit, reject, revert, fail.
  let store: Store;
  before(async () => {
    store = await Store.open({ memory: true, schema: FIXTURE_SDL, deployment: "fixture" });
  });
  after(async () => {
    await store.close();
  });

  it("commits blocks as block-range versions and keeps the head equal to the latest state", async () => {
    assert.equal(store.latestBlock(), null);
    await commitAll(store);
    assert.deepEqual(store.latestBlock(), blocks.at(-1)?.ptr);
    assertHead(store, 9);
    await assertVersionsAt(store, 9);
    // job-002 was written twice in block 9: the second write merged over the first.
    const j2 = store.head().get("Job", "job-002");
    assert.deepEqual(j2?.get("status"), { kind: "String", value: "Failed" });
    assert.deepEqual(j2?.get("devices"), { kind: "Int", value: 7 });
    // loadRelated: the entities pointing back through a @derivedFrom field, in id order.
    const state = stateAt(blocks, 9);
    for (const [acct] of state.get("Account") as Map<string, unknown>) {
      const expected = [...(state.get("Job") as Map<string, Record<string, unknown>>).values()]
        .filter((j) => j.customer === acct)
        .map((j) => String(j.id))
        .sort();
      const got = store
        .head()
        .loadRelated("Account", acct, "jobs")
        .map((e) => (e.get("id") as { value: string }).value);
      assert.deepEqual(got, expected, `jobs of ${acct}`);
    }
    const bidsOf3 = [...(state.get("Bid") as Map<string, Record<string, unknown>>).values()].filter(
      (b) => b.job === "job-003",
    );
    assert.equal(store.head().loadRelated("Job", "job-003", "bids").length, bidsOf3.length);
    assert.throws(() => store.head().loadRelated("Job", "job-003", "title"), StoreError);
    assert.deepEqual(await store.blockByHash(blockHash(4)), blocks[3]?.ptr);
    assert.equal(await store.blockByHash(blockHash(99)), null);
  });

  it("reopens from its data directory with the same head and block pointer", async () => {
    const dataDir = join(dir, "reopen");
    const first = await Store.open({ dataDir, schema: FIXTURE_SDL, deployment: "fixture" });
    await commitAll(first, blocks.slice(0, 7));
    await first.close();
    const again = await Store.open({ dataDir, schema: FIXTURE_SDL, deployment: "fixture" });
    try {
      assert.deepEqual(again.latestBlock(), blocks[6]?.ptr);
      assertHead(again, 7);
      await commitAll(again, blocks.slice(7));
      assertHead(again, 9);
      await assertVersionsAt(again, 9);
      await assert.rejects(
        Store.open({ dataDir: join(dir, "never"), schema: FIXTURE_SDL, deployment: "bad id!" }),
        (e: unknown) => e instanceof StoreError && e.code === "STORE_OPTIONS_INVALID",
      );
    } finally {
      await again.close();
    }
    await assert.rejects(
      Store.open({
        dataDir,
        schema: `${FIXTURE_SDL}\ntype Extra @entity { id: ID! }`,
        deployment: "fixture",
      }),
      (e: unknown) => e instanceof StoreError && e.code === "STORE_SCHEMA_MISMATCH",
    );
  });

  it("reverts to an earlier block, then indexes a different chain from there", async () => {
    await store.revertTo(6);
    assert.deepEqual(store.latestBlock(), blocks[5]?.ptr);
    assertHead(store, 6);
    await assertVersionsAt(store, 6);
    for (const b of [7, 9]) {
      const [row] = await store.sql.query(
        `select count(*)::int4 as n from "${store.schemaName}"."blocks$" where number = $1`,
        [b],
      );
      assert.equal(row?.n, 0, `block ${b} pointer dropped`);
    }
    // The new chain: a different block 7 that removes job-000 and updates an account.
    const acct = [
      ...(stateAt(blocks, 6).get("Account") as Map<string, Record<string, unknown>>).keys(),
    ][0] as string;
    const fork: JsBlock = {
      ptr: { number: 7, hash: `0x${"ee".repeat(32)}`, timestamp: 1n },
      changes: [
        { op: "remove", type: "Job", id: "job-000" },
        { op: "set", type: "Account", rec: { id: acct, stake: 42n } },
      ],
    };
    await store.commitBlock(toBlockChanges(fork));
    assert.equal(store.head().get("Job", "job-000"), null);
    assert.deepEqual(store.head().get("Account", acct)?.get("stake"), {
      kind: "BigInt",
      value: 42n,
    });
    assert.deepEqual(await store.blockByHash(fork.ptr.hash), fork.ptr);
    assert.equal(await store.blockByHash(blockHash(7)), null, "the old block 7 is gone");
    // Bytes ids are canonical lowercase hex; a write without `id` takes the key as its id.
    const upper = `0x${acct.slice(2).toUpperCase()}`;
    await store.commitBlock({
      block: { number: 8, hash: blockHash(8), timestamp: 8n },
      changes: [
        {
          op: "set",
          entityType: "Account",
          id: upper,
          data: new Map([["stake", { kind: "BigInt", value: 7n }]]),
        },
      ],
    });
    const merged = store.head().get("Account", acct);
    assert.deepEqual(merged?.get("stake"), { kind: "BigInt", value: 7n });
    assert.equal(entityText(store.head().get("Account", upper)), entityText(merged ?? null));
    assert.equal(
      Buffer.from((merged?.get("id") as { value: Uint8Array }).value).toString("hex"),
      acct.slice(2),
    );
    // Reverting everything empties the store.
    await store.revertTo(0);
    assert.equal(store.latestBlock(), null);
    assert.equal(store.head().get("Account", acct), null);
  });

  it("rejects out-of-order blocks, immutable updates and invalid entities without writing anything", async () => {
    await commitAll(store, blocks.slice(0, 2));
    const before = store.latestBlock();
    const count = async () =>
      (await store.sql.query(`select count(*)::int4 as n from "${store.schemaName}".job`))[0]?.n;
    const rows = await count();
    const next = { number: 3, hash: blockHash(3), timestamp: 3n } as const;
    await assert.rejects(
      store.commitBlock({ block: blocks[1]!.ptr, changes: [] }),
      (e: unknown) => e instanceof StoreError && e.code === "STORE_BLOCK_ORDER",
    );
    const bid = blocks[1]!.changes.find((c) => c.type === "Bid");
    assert.ok(bid && bid.op === "set");
    await assert.rejects(
      store.commitBlock({
        block: next,
        changes: [{ op: "set", entityType: "Bid", id: bid.rec.id, data: toEntity("Bid", bid.rec) }],
      }),
      (e: unknown) => e instanceof StoreError && e.code === "STORE_IMMUTABLE_ENTITY",
    );
    const jobChange = blocks[1]!.changes.find((c) => c.type === "Job");
    assert.ok(jobChange && jobChange.op === "set");
    const bad = [
      new Map([
        ...toEntity("Job", jobChange.rec),
        ["bogus", { kind: "String", value: "x" } as const],
      ]),
      new Map([
        ...toEntity("Job", jobChange.rec),
        ["devices", { kind: "String", value: "x" } as const],
      ]),
      new Map([
        ...toEntity("Job", jobChange.rec),
        ["status", { kind: "String", value: "Nope" } as const],
      ]),
    ];
    for (const data of bad) {
      await assert.rejects(
        store.commitBlock({
          block: next,
          changes: [{ op: "set", entityType: "Job", id: "job-new", data }],
        }),
        (e: unknown) => e instanceof SchemaModelError && e.code === "ENTITY_INVALID",
      );
    }
    await assert.rejects(
      store.commitBlock({
        block: next,
        changes: [
          {
            op: "set",
            entityType: "Job",
            id: "job-new",
            data: new Map([["id", { kind: "String", value: "job-new" }]]),
          },
        ],
      }),
      (e: unknown) => e instanceof SchemaModelError && /non-nullable field/.test(e.message),
    );
    await assert.rejects(
      store.commitBlock({
        block: next,
        changes: [{ op: "remove", entityType: "Nope", id: "x" }],
      }),
      (e: unknown) => e instanceof StoreError && e.code === "STORE_UNKNOWN_ENTITY_TYPE",
    );
    await assert.rejects(
      store.commitBlock({
        block: next,
        changes: [
          {
            op: "set",
            entityType: "Job",
            id: "job-new",
            data: toEntity("Job", { ...jobChange.rec, id: "job-other" }),
          },
        ],
      }),
      (e: unknown) =>
        e instanceof SchemaModelError &&
        /conflicts with ID passed to `store.set\(\)`/.test(e.message),
    );
    await assert.rejects(
      store.commitBlock({
        block: next,
        changes: [{ op: "remove", entityType: "Account", id: "0xzz" }],
      }),
      (e: unknown) => e instanceof StoreError && e.code === "STORE_ID_INVALID",
    );
    assert.deepEqual(store.latestBlock(), before);
    assert.equal(await count(), rows);
    assert.equal(store.head().get("Job", "job-new"), null);
  });

  it("records a deterministic indexing error at the failed block and forgets it when that block is reverted", async () => {
    await commitAll(store, blocks.slice(2, 3));
    const failed = { number: 4, hash: blockHash(4), timestamp: 4n } as const;
    await store.setIndexingError(failed, "handler panicked");
    assert.deepEqual(store.indexingError(), { block: 4, message: "handler panicked" });
    assert.deepEqual(store.latestBlock(), failed);
    assertHead(store, 3);
    await store.revertTo(3);
    assert.equal(store.indexingError(), null);
    assert.deepEqual(store.latestBlock(), blocks[2]?.ptr);
  });
});
