/**
 * The Graph's query API over the fixture subgraph: every filter operator, ordering, pagination, time-travel and
 * error case, each expectation computed from the fixture's own JS state (filter/sort/slice here, compare there).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Store } from "../../indexer/store/store.ts";
import { GraphQLApi, type QueryResponse } from "../../indexer/graphql/execute.ts";
import { GraphQLServer } from "../../indexer/graphql/server.ts";
import { queryFieldNames } from "../../indexer/graphql/names.ts";
import {
  FIXTURE_SDL,
  blockHash,
  generateBlocks,
  stateAt,
  toBlockChanges,
  toJson,
} from "./fixtures/store-fixture.ts";

type Rec = Record<string, unknown> & { id: string };

const blocks = generateBlocks();
const LATEST = 9;
let store: Store;
let api: GraphQLApi;

before(async () => {
  store = await Store.open({ memory: true, schema: FIXTURE_SDL, deployment: "QmFixture" });
  for (const b of blocks) await store.commitBlock(toBlockChanges(b));
  api = new GraphQLApi(store);
});
after(async () => {
  await store.close();
});

function table(type: "Account" | "Job" | "Bid", at = LATEST): Rec[] {
  return [...(stateAt(blocks, at).get(type) as Map<string, Rec>).values()];
}
const byId = (a: Rec, b: Rec) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

async function data(
  query: string,
  variables?: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const res = await api.execute({ query, variables });
  assert.equal(res.errors, undefined, `${query}\n${JSON.stringify(res.errors)}`);
  assert.ok(res.data);
  return res.data;
}
async function ids(query: string): Promise<string[]> {
  const d = await data(query);
  const list = Object.values(d)[0] as { id: string }[];
  return list.map((x) => x.id);
}
async function errors(
  query: string,
  variables?: Record<string, unknown>,
): Promise<NonNullable<QueryResponse["errors"]>> {
  const res = await api.execute({ query, variables });
  assert.ok(
    res.errors && res.errors.length > 0,
    `expected errors for ${query}, got ${JSON.stringify(res.data)}`,
  );
  return res.errors;
}

// ---------------------------------------------------------------------------------------------------------------
// Reference semantics (SQL's, as graph-node's queries have them): a null field matches no comparison.

type Kind = "string" | "bigint" | "int8" | "int" | "bool" | "bytes" | "decimal" | "enum";

function decimalScaled(s: string): bigint {
  const [i = "0", f = ""] = s.split(".");
  return BigInt(i) * 1000n + BigInt((f + "000").slice(0, 3)) * (s.startsWith("-") ? -1n : 1n);
}
const ENUM_ORDER = ["Created", "Scheduled", "Settled", "Failed"];
function compare(kind: Kind, a: unknown, b: unknown): number {
  const c = (x: number | bigint | string, y: number | bigint | string) =>
    x < y ? -1 : x > y ? 1 : 0;
  switch (kind) {
    case "decimal":
      return c(decimalScaled(String(a)), decimalScaled(String(b)));
    case "bool":
      return c(Number(a), Number(b));
    case "enum":
      return c(ENUM_ORDER.indexOf(String(a)), ENUM_ORDER.indexOf(String(b)));
    case "bigint":
    case "int8":
      return c(BigInt(a as bigint), BigInt(b as bigint));
    case "int":
      return c(Number(a), Number(b));
    default:
      return c(String(a), String(b));
  }
}
const literal = (kind: Kind, v: unknown): string =>
  kind === "enum" || kind === "int" || kind === "int8" || kind === "bool"
    ? String(v)
    : JSON.stringify(String(v));

interface Case {
  readonly where: string;
  readonly pred: (j: Rec) => boolean;
}

function comparisonCases(field: string, kind: Kind, ops: readonly string[]): Case[] {
  const values = table("Job")
    .map((j) => j[field])
    .filter((v) => v !== null && v !== undefined)
    .sort((a, b) => compare(kind, a, b));
  const pivot = values[Math.floor(values.length / 2)];
  const other = values[Math.floor(values.length / 5)];
  const has = (j: Rec) => j[field] !== null && j[field] !== undefined;
  const cmp = (j: Rec, v: unknown) => compare(kind, j[field], v);
  const inList = `[${literal(kind, pivot)}, ${literal(kind, other)}]`;
  const all: Record<string, Case> = {
    "": { where: `${field}: ${literal(kind, pivot)}`, pred: (j) => has(j) && cmp(j, pivot) === 0 },
    not: {
      where: `${field}_not: ${literal(kind, pivot)}`,
      pred: (j) => has(j) && cmp(j, pivot) !== 0,
    },
    gt: { where: `${field}_gt: ${literal(kind, pivot)}`, pred: (j) => has(j) && cmp(j, pivot) > 0 },
    lt: { where: `${field}_lt: ${literal(kind, pivot)}`, pred: (j) => has(j) && cmp(j, pivot) < 0 },
    gte: {
      where: `${field}_gte: ${literal(kind, pivot)}`,
      pred: (j) => has(j) && cmp(j, pivot) >= 0,
    },
    lte: {
      where: `${field}_lte: ${literal(kind, pivot)}`,
      pred: (j) => has(j) && cmp(j, pivot) <= 0,
    },
    in: {
      where: `${field}_in: ${inList}`,
      pred: (j) => has(j) && (cmp(j, pivot) === 0 || cmp(j, other) === 0),
    },
    not_in: {
      where: `${field}_not_in: ${inList}`,
      pred: (j) => has(j) && cmp(j, pivot) !== 0 && cmp(j, other) !== 0,
    },
  };
  return ops.map((op) => all[op] as Case);
}

const CMP_OPS = ["", "not", "gt", "lt", "gte", "lte", "in", "not_in"] as const;

function stringCases(field: string): Case[] {
  const s = (j: Rec) => j[field] as string | null | undefined;
  const on = (f: (x: string) => boolean) => (j: Rec) => {
    const v = s(j);
    return v !== null && v !== undefined && f(v);
  };
  const lower = (x: string) => x.toLowerCase();
  return [
    { where: `${field}_contains: "eta"`, pred: on((x) => x.includes("eta")) },
    { where: `${field}_contains_nocase: "ETA"`, pred: on((x) => lower(x).includes("eta")) },
    { where: `${field}_not_contains: "eta"`, pred: on((x) => !x.includes("eta")) },
    { where: `${field}_not_contains_nocase: "ETA"`, pred: on((x) => !lower(x).includes("eta")) },
    { where: `${field}_starts_with: "Beta"`, pred: on((x) => x.startsWith("Beta")) },
    { where: `${field}_starts_with_nocase: "beta"`, pred: on((x) => lower(x).startsWith("beta")) },
    { where: `${field}_not_starts_with: "Beta"`, pred: on((x) => !x.startsWith("Beta")) },
    {
      where: `${field}_not_starts_with_nocase: "beta"`,
      pred: on((x) => !lower(x).startsWith("beta")),
    },
    { where: `${field}_ends_with: "renamed"`, pred: on((x) => x.endsWith("renamed")) },
    {
      where: `${field}_ends_with_nocase: "RENAMED"`,
      pred: on((x) => lower(x).endsWith("renamed")),
    },
    { where: `${field}_not_ends_with: " 3"`, pred: on((x) => !x.endsWith(" 3")) },
    {
      where: `${field}_not_ends_with_nocase: "RENAMED"`,
      pred: on((x) => !lower(x).endsWith("renamed")),
    },
  ];
}

async function assertCase(
  c: Case,
  type = "jobs",
  typeName: "Job" | "Account" = "Job",
): Promise<void> {
  const expected = table(typeName)
    .filter(c.pred)
    .sort(byId)
    .map((j) => j.id);
  const got = await ids(`{ ${type}(first: 1000, where: { ${c.where} }) { id } }`);
  assert.deepEqual(got, expected, c.where);
}

describe("GraphQL API schema", () => {
  it("names query fields as graph-node does", () => {
    assert.deepEqual(queryFieldNames("Job"), { singular: "job", plural: "jobs" });
    assert.deepEqual(queryFieldNames("AuctionEpoch"), {
      singular: "auctionEpoch",
      plural: "auctionEpoches",
    });
    assert.deepEqual(queryFieldNames("Status"), { singular: "status", plural: "statuses" });
    assert.deepEqual(queryFieldNames("FineTuningBounty"), {
      singular: "fineTuningBounty",
      plural: "fineTuningBounties",
    });
    assert.deepEqual(queryFieldNames("Stats"), { singular: "stats", plural: "stats_collection" });
    const fields = api.api.schema.getQueryType()?.getFields() ?? {};
    for (const name of ["job", "jobs", "account", "accounts", "bid", "bids", "_meta"])
      assert.ok(fields[name], name);
  });
});

describe("GraphQL filters", () => {
  const cases: Case[] = [
    ...comparisonCases("id", "string", CMP_OPS),
    ...comparisonCases("title", "string", CMP_OPS),
    ...stringCases("title"),
    ...comparisonCases("budget", "bigint", CMP_OPS),
    ...comparisonCases("fee", "decimal", CMP_OPS),
    ...comparisonCases("devices", "int", CMP_OPS),
    ...comparisonCases("nonce", "int8", CMP_OPS),
    ...comparisonCases("createdAt", "bigint", CMP_OPS),
    ...comparisonCases("schemaHash", "bytes", CMP_OPS),
    ...comparisonCases("paid", "bool", ["", "not", "in", "not_in"]),
    ...comparisonCases("status", "enum", ["", "not", "in", "not_in"]),
    ...comparisonCases("customer", "bytes", CMP_OPS),
  ];
  it(`answers every scalar operator as SQL would (${cases.length} cases)`, async () => {
    for (const c of cases) await assertCase(c);
  });

  it("filters nullable fields with null, not-null and the string operators", async () => {
    const note = (j: Rec) => j.note as string | null | undefined;
    await assertCase({
      where: `note: null`,
      pred: (j) => note(j) === null || note(j) === undefined,
    });
    await assertCase({
      where: `note_not: null`,
      pred: (j) => note(j) !== null && note(j) !== undefined,
    });
    await assertCase({
      where: `winner: null`,
      pred: (j) => j.winner === null || j.winner === undefined,
    });
    for (const c of stringCases("note")) await assertCase(c);
  });

  it("filters Bytes with _contains / _not_contains on whole bytes", async () => {
    const sample = (
      table("Job").find((j) => j.schemaHash !== "0x00000000")?.schemaHash as string
    ).slice(4, 6);
    const hasByte = (hex: string) => {
      const body = hex.slice(2);
      for (let i = 0; i < body.length; i += 2) if (body.slice(i, i + 2) === sample) return true;
      return false;
    };
    await assertCase({
      where: `schemaHash_contains: "0x${sample}"`,
      pred: (j) => hasByte(j.schemaHash as string),
    });
    await assertCase({
      where: `schemaHash_not_contains: "0x${sample}"`,
      pred: (j) => !hasByte(j.schemaHash as string),
    });
  });

  it("filters lists: equality, _contains (all), _not_contains (none) and the _nocase forms (any)", async () => {
    const tags = (j: Rec) => j.tags as string[];
    const sample = tags(table("Job").find((j) => tags(j).length === 2) as Rec);
    const eq = (a: readonly string[], b: readonly string[]) =>
      a.length === b.length && a.every((x, i) => x === b[i]);
    const lit = JSON.stringify(sample);
    await assertCase({ where: `tags: ${lit}`, pred: (j) => eq(tags(j), sample) });
    await assertCase({ where: `tags_not: ${lit}`, pred: (j) => !eq(tags(j), sample) });
    await assertCase({
      where: `tags_contains: ${lit}`,
      pred: (j) => sample.every((t) => tags(j).includes(t)),
    });
    await assertCase({
      where: `tags_not_contains: ${lit}`,
      pred: (j) => !sample.some((t) => tags(j).includes(t)),
    });
    const upper = sample.map((t) => t.toUpperCase());
    const anyNocase = (j: Rec) => tags(j).some((t) => upper.includes(t.toUpperCase()));
    await assertCase({ where: `tags_contains_nocase: ${JSON.stringify(upper)}`, pred: anyNocase });
    await assertCase({
      where: `tags_not_contains_nocase: ${JSON.stringify(upper)}`,
      pred: (j) => !anyNocase(j),
    });
    const acct = table("Account")[2]?.id as string;
    const cohort = (j: Rec) => j.cohort as string[];
    await assertCase({
      where: `cohort_contains: ["${acct}"]`,
      pred: (j) => cohort(j).includes(acct),
    });
    await assertCase({
      where: `cohort_not_contains: ["${acct}"]`,
      pred: (j) => !cohort(j).includes(acct),
    });
  });

  it("filters through references, @derivedFrom fields, and/or and _change_block", async () => {
    const accounts = new Map(table("Account").map((a) => [a.id, a]));
    const stakes = [...accounts.values()]
      .map((a) => a.stake as bigint)
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const pivot = stakes[4] as bigint;
    await assertCase({
      where: `customer_: { stake_gt: "${pivot}" }`,
      pred: (j) => (accounts.get(j.customer as string)?.stake as bigint) > pivot,
    });
    await assertCase({
      where: `winner_: { name_starts_with: "a" }`,
      pred: (j) =>
        typeof accounts.get(j.winner as string)?.name === "string" &&
        (accounts.get(j.winner as string)?.name as string).startsWith("a"),
    });
    const bids = table("Bid");
    const amount = 500n * 10n ** 12n;
    await assertCase({
      where: `bids_: { amount_gt: "${amount}" }`,
      pred: (j) => bids.some((b) => b.job === j.id && (b.amount as bigint) > amount),
    });
    const jobs = table("Job");
    await assertCase(
      {
        where: `jobs_: { status: Settled }`,
        pred: (a) => jobs.some((j) => j.customer === a.id && j.status === "Settled"),
      },
      "accounts",
      "Account",
    );
    await assertCase({
      where: `or: [{ status: Settled }, { devices_gt: 400 }]`,
      pred: (j) => j.status === "Settled" || (j.devices as number) > 400,
    });
    await assertCase({
      where: `and: [{ paid: true }, { or: [{ status: Failed }, { budget_lt: "1000000000000000000" }] }]`,
      pred: (j) => j.paid === true && (j.status === "Failed" || (j.budget as bigint) < 10n ** 18n),
    });
    await assertCase({
      where: `paid: true, devices_gte: 0, devices_lte: 250`,
      pred: (j) => j.paid === true && (j.devices as number) >= 0 && (j.devices as number) <= 250,
    });
    // _change_block: the entities whose current version was written at block ≥ 6.
    const lastWrite = new Map<string, number>();
    for (const b of blocks)
      for (const c of b.changes)
        if (c.type === "Job" && c.op === "set") lastWrite.set(c.rec.id, b.ptr.number);
    await assertCase({
      where: `_change_block: { number_gte: 6 }`,
      pred: (j) => (lastWrite.get(j.id) ?? 0) >= 6,
    });
  });
});

describe("GraphQL ordering and pagination", () => {
  const orderings: readonly [string, (j: Rec) => unknown, Kind][] = [
    ["id", (j) => j.id, "string"],
    ["title", (j) => j.title, "string"],
    ["budget", (j) => j.budget, "bigint"],
    ["fee", (j) => j.fee, "decimal"],
    ["devices", (j) => j.devices, "int"],
    ["nonce", (j) => j.nonce, "bigint"],
    ["createdAt", (j) => j.createdAt, "bigint"],
    ["paid", (j) => j.paid, "bool"],
    ["schemaHash", (j) => j.schemaHash, "bytes"],
    ["status", (j) => j.status, "enum"],
    ["note", (j) => j.note, "string"],
    ["customer", (j) => j.customer, "bytes"],
    ["winner", (j) => j.winner, "bytes"],
  ];

  function sortJobs(rows: Rec[], key: (j: Rec) => unknown, kind: Kind, desc: boolean): Rec[] {
    return [...rows].sort((a, b) => {
      const x = key(a);
      const y = key(b);
      const xn = x === null || x === undefined;
      const yn = y === null || y === undefined;
      // Postgres: nulls sort as larger than every value (last ascending, first descending).
      let c = xn && yn ? 0 : xn ? 1 : yn ? -1 : compare(kind, x, y);
      if (c === 0) c = byId(a, b);
      return desc ? -c : c;
    });
  }

  it("orders by every scalar field and reference, both directions, ties broken by id", async () => {
    for (const [field, key, kind] of orderings) {
      for (const dir of ["asc", "desc"] as const) {
        const expected = sortJobs(table("Job"), key, kind, dir === "desc").map((j) => j.id);
        const got = await ids(
          `{ jobs(first: 1000, orderBy: ${field}, orderDirection: ${dir}) { id } }`,
        );
        assert.deepEqual(got, expected, `${field} ${dir}`);
      }
    }
  });

  it("orders by a field of a referenced entity (field__child)", async () => {
    const accounts = new Map(table("Account").map((a) => [a.id, a]));
    const child = (f: string) => (j: Rec) =>
      j.customer === undefined ? null : accounts.get(j.customer as string)?.[f];
    const winnerStake = (j: Rec) =>
      j.winner === null || j.winner === undefined ? null : accounts.get(j.winner as string)?.stake;
    for (const [value, key, kind] of [
      ["customer__stake", child("stake"), "bigint"],
      ["customer__name", child("name"), "string"],
      ["winner__stake", winnerStake, "bigint"],
    ] as const) {
      for (const dir of ["asc", "desc"] as const) {
        const expected = sortJobs(table("Job"), key, kind, dir === "desc").map((j) => j.id);
        assert.deepEqual(
          await ids(`{ jobs(first: 1000, orderBy: ${value}, orderDirection: ${dir}) { id } }`),
          expected,
          `${value} ${dir}`,
        );
      }
    }
  });

  it("pages with first (default 100, max 1000) and skip", async () => {
    const all = table("Job")
      .sort(byId)
      .map((j) => j.id);
    assert.ok(all.length > 100, "the fixture has more than the default page");
    assert.deepEqual(await ids(`{ jobs { id } }`), all.slice(0, 100));
    assert.deepEqual(
      await ids(`{ jobs(first: 5, orderDirection: desc) { id } }`),
      all.slice(0, 5),
      "no orderBy: id ascending",
    );
    for (const [first, skip] of [
      [10, 0],
      [10, 25],
      [1000, 100],
      [7, all.length - 3],
      [5, all.length + 10],
    ] as const) {
      assert.deepEqual(
        await ids(`{ jobs(first: ${first}, skip: ${skip}) { id } }`),
        all.slice(skip, skip + first),
        `first ${first} skip ${skip}`,
      );
    }
    const byBudget = sortJobs(table("Job"), (j) => j.budget, "bigint", true).map((j) => j.id);
    assert.deepEqual(
      await ids(`{ jobs(first: 15, skip: 30, orderBy: budget, orderDirection: desc) { id } }`),
      byBudget.slice(30, 45),
    );
    const vars = await data(`query Q($n: Int, $s: Int) { jobs(first: $n, skip: $s) { id } }`, {
      n: 3,
      s: 4,
    });
    assert.deepEqual(
      (vars.jobs as { id: string }[]).map((x) => x.id),
      all.slice(4, 7),
    );
  });

  it("resolves references, lists of references and @derivedFrom fields with their own arguments", async () => {
    const accounts = table("Account").sort(byId);
    const jobs = table("Job");
    const d = await data(
      `{ accounts(first: 1000) { id stake jobs(first: 3, skip: 1, orderBy: budget, orderDirection: desc, where: { paid: true }) { id budget } } }`,
    );
    const expected = accounts.map((a) => ({
      id: a.id,
      stake: String(a.stake),
      jobs: sortJobs(
        jobs.filter((j) => j.customer === a.id && j.paid === true),
        (j) => j.budget,
        "bigint",
        true,
      )
        .slice(1, 4)
        .map((j) => ({ id: j.id, budget: String(j.budget) })),
    }));
    assert.deepEqual(d.accounts, expected);

    const bids = table("Bid");
    const accountById = new Map(accounts.map((a) => [a.id, a]));
    const d2 = await data(
      `{ jobs(first: 1000) { id customer { id name } winner { id } bids(orderBy: amount, orderDirection: desc) { id amount bidder { id } } cohort(orderBy: stake) { id } } }`,
    );
    const expected2 = jobs.sort(byId).map((j) => ({
      id: j.id,
      customer: { id: j.customer, name: accountById.get(j.customer as string)?.name ?? null },
      winner: j.winner === null || j.winner === undefined ? null : { id: j.winner },
      bids: sortJobs(
        bids.filter((b) => b.job === j.id),
        (b) => b.amount,
        "bigint",
        true,
      ).map((b) => ({
        id: b.id,
        amount: String(b.amount),
        bidder: { id: b.bidder },
      })),
      cohort: sortJobs(
        [...new Set(j.cohort as string[])].map((id) => accountById.get(id) as Rec),
        (a) => a.stake,
        "bigint",
        false,
      ).map((a) => ({ id: a.id })),
    }));
    assert.deepEqual(d2.jobs, expected2);
  });

  it("resolves a single-valued @derivedFrom field, and reports graph-node's error when it is ambiguous", async () => {
    const bids = table("Bid");
    const count = (id: string) => bids.filter((b) => b.job === id).length;
    const jobs = table("Job").sort(byId);
    const none = jobs.find((j) => count(j.id) === 0) as Rec;
    const one = jobs.find((j) => count(j.id) === 1) as Rec;
    const two = jobs.find((j) => count(j.id) === 2) as Rec;
    assert.ok(none && one && two, "the fixture has jobs with 0, 1 and 2 bids");
    const d = await data(
      `{ a: job(id: "${none.id}") { onlyBid { id } } b: job(id: "${one.id}") { onlyBid { id amount } } }`,
    );
    const bid = bids.find((b) => b.job === one.id) as Rec;
    assert.deepEqual(d, {
      a: { onlyBid: null },
      b: { onlyBid: { id: bid.id, amount: String(bid.amount) } },
    });
    const [e] = await errors(`{ job(id: "${two.id}") {\n onlyBid { id } } }`);
    assert.deepEqual(e, {
      message:
        "Ambiguous result for derived field `onlyBid`: Multiple `Bid` entities refer back via `job`",
      locations: [{ line: 2, column: 2 }],
    });
  });

  it("prints every scalar kind as graph-node does, with aliases, fragments, __typename and single lookups", async () => {
    const job = table("Job").sort(byId)[3] as Rec;
    const keys = [
      "id",
      "title",
      "budget",
      "fee",
      "devices",
      "nonce",
      "paid",
      "createdAt",
      "schemaHash",
      "tags",
      "note",
      "status",
    ];
    const d = await data(
      `query One($id: ID!) { theJob: job(id: $id) { ...F kind: __typename } missing: job(id: "nope") { id } } fragment F on Job { ${keys.join(" ")} }`,
      { id: job.id },
    );
    assert.deepEqual(d.theJob, { ...toJson(job, keys), kind: "Job" });
    assert.equal(d.missing, null);
    const acct = table("Account")[0] as Rec;
    const a = await data(`{ account(id: "${acct.id}") { id stake } }`);
    assert.deepEqual(a.account, { id: acct.id, stake: String(acct.stake) });
  });
});

describe("GraphQL time travel and _meta", () => {
  it("answers at every block by number, and by hash, as the fixture was then", async () => {
    for (let b = 1; b <= LATEST; b++) {
      const expected = table("Job", b)
        .sort(byId)
        .map((j) => ({ id: j.id, status: j.status, title: j.title }));
      const d = await data(
        `{ jobs(first: 1000, block: { number: ${b} }) { id status title } _meta(block: { number: ${b} }) { block { number hash } } }`,
      );
      assert.deepEqual(d.jobs, expected, `block ${b}`);
      assert.deepEqual(d._meta, { block: { number: b, hash: null } });
    }
    for (const b of [4, 7]) {
      const expected = table("Job", b)
        .sort(byId)
        .map((j) => j.id);
      const d = await data(
        `{ jobs(first: 1000, block: { hash: "${blockHash(b)}" }) { id } _meta(block: { hash: "${blockHash(b)}" }) { block { number hash timestamp } } }`,
      );
      assert.deepEqual(
        (d.jobs as { id: string }[]).map((j) => j.id),
        expected,
      );
      assert.deepEqual(d._meta, {
        block: { number: b, hash: blockHash(b), timestamp: Number(blocks[b - 1]?.ptr.timestamp) },
      });
    }
    const removed = "job-041";
    assert.equal((await data(`{ job(id: "${removed}") { id } }`)).job, null);
    assert.deepEqual((await data(`{ job(id: "${removed}", block: { number: 6 }) { id } }`)).job, {
      id: removed,
    });
  });

  it("runs number_gte at the latest block once it is reached, and reports the latest block in _meta", async () => {
    const latest = blocks.at(-1)?.ptr;
    assert.ok(latest);
    const d = await data(
      `{ jobs(first: 1000, block: { number_gte: 5 }) { id } _meta { block { number hash timestamp } deployment hasIndexingErrors } }`,
    );
    assert.deepEqual(
      (d.jobs as { id: string }[]).map((j) => j.id),
      table("Job")
        .sort(byId)
        .map((j) => j.id),
    );
    assert.deepEqual(d._meta, {
      block: { number: LATEST, hash: latest.hash, timestamp: Number(latest.timestamp) },
      deployment: "QmFixture",
      hasIndexingErrors: false,
    });
    const [e] = await errors(`{ jobs(block: { number_gte: 10 }) { id } }`);
    assert.equal(
      e?.message,
      "Failed to decode `block.number_gte` value: `subgraph QmFixture has only indexed up to block number 9 and data for block number 10 is therefore not yet available`",
    );
  });
});

describe("GraphQL errors", () => {
  it("reports graph-node's messages for bad queries", async () => {
    const cases: [string, string, boolean][] = [
      [`{ jobs { id nope } }`, "Type `Job` has no field `nope`", true],
      [`{ nothing { id } }`, "Type `Query` has no field `nothing`", true],
      [
        `{ jobs(first: 1001) { id } }`,
        "The `first` argument must be between 0 and 1000, but is 1001",
        false,
      ],
      [
        `{ jobs(first: 0) { id } }`,
        "The `first` argument must be between 0 and 1000, but is 0",
        false,
      ],
      [
        `{ jobs(skip: -1) { id } }`,
        "The `skip` argument must be between 0 and 4294967295, but is -1",
        false,
      ],
      [
        `{ accounts { jobs(first: 5000) { id } } }`,
        "The `first` argument must be between 0 and 1000, but is 5000",
        false,
      ],
      [
        `{ jobs(where: { nope: 1 }) { id } }`,
        'Invalid value provided for argument `where`: Object({"nope": Int(Number(1))})',
        true,
      ],
      [
        `{ jobs(where: { budget_gt: true }) { id } }`,
        'Invalid value provided for argument `where`: Object({"budget_gt": Boolean(true)})',
        true,
      ],
      [
        `{ jobs(where: { status: Unknown }) { id } }`,
        'Invalid value provided for argument `where`: Object({"status": Enum("Unknown")})',
        true,
      ],
      [
        `{ jobs(where: "x") { id } }`,
        'Invalid value provided for argument `where`: String("x")',
        true,
      ],
      [
        `{ jobs(orderBy: nope) { id } }`,
        'Invalid value provided for argument `orderBy`: Enum("nope")',
        true,
      ],
      [
        `{ jobs(block: { number: 10 }) { id } }`,
        "Failed to decode `block.number` value: `subgraph QmFixture has only indexed up to block number 9 and data for block number 10 is therefore not yet available`",
        false,
      ],
      [
        `{ jobs(block: { hash: "0x${"ab".repeat(32)}" }) { id } }`,
        "Failed to decode `block.hash` value: `no block with that hash found`",
        false,
      ],
      [
        `{ jobs(where: { schemaHash: "0xabc" }) { id } }`,
        "Failed to decode `Bytes` value: `Odd number of digits`",
        false,
      ],
      [`{ job { id } }`, "No value provided for required argument: `id`", true],
      [`{ jobs { ...Missing } }`, "fragment `Missing` is not defined", false],
      [`mutation { jobs { id } }`, "Not supported: Mutations are not supported", false],
      [`query A { jobs { id } } query B { jobs { id } }`, "Operation name required", false],
    ];
    for (const [query, message, located] of cases) {
      const [e, ...rest] = await errors(query);
      assert.equal(e?.message, message, query);
      assert.equal(rest.length, 0, query);
      assert.equal(e?.locations !== undefined, located, `locations for ${query}`);
    }
    const [mixed] = await errors(
      `{ jobs(where: { paid: true, or: [{ status: Settled }] }) { id } }`,
    );
    assert.match(
      mixed?.message ?? "",
      /^Cannot mix column filters with 'or' operator at the same level\. Found column filter\(s\) 'paid' alongside 'or' operator\./,
    );
    const [syntax] = await errors(`{ jobs { id }`);
    assert.ok(syntax?.locations?.[0]?.line === 1, "a syntax error is located");
    const located = await errors(`{\n  jobs {\n    id\n    bad1\n  }\n  bad2\n}`);
    assert.deepEqual(
      located.map((e) => [e.message, e.locations]),
      [
        ["Type `Job` has no field `bad1`", [{ line: 4, column: 5 }]],
        ["Type `Query` has no field `bad2`", [{ line: 6, column: 3 }]],
      ],
    );
  });

  it("answers introspection through graphql-js", async () => {
    const d = await data(`{ __type(name: "Job_filter") { inputFields { name } } }`);
    const names = ((d.__type as { inputFields: { name: string }[] }).inputFields ?? []).map(
      (f) => f.name,
    );
    for (const n of [
      "title_not_ends_with_nocase",
      "customer_",
      "bids_",
      "tags_contains_nocase",
      "and",
      "or",
      "_change_block",
    ]) {
      assert.ok(names.includes(n), n);
    }
    assert.ok(!names.includes("bids"), "no scalar filter on a derived field");
  });
});

describe("GraphQL over HTTP", () => {
  it("serves /subgraphs/name and /subgraphs/id with POST and GET, and rejects bad requests", async () => {
    const server = new GraphQLServer({
      subgraphs: [{ name: "dml/fixture", deployment: "QmFixture", api }],
    });
    const url = await server.start();
    try {
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
      const expected = table("Job")
        .sort(byId)
        .slice(0, 2)
        .map((j) => ({ id: j.id }));
      const post = await fetch(`${url}/subgraphs/name/dml/fixture`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          query: "query($n: Int) { jobs(first: $n) { id } }",
          variables: { n: 2 },
        }),
      });
      assert.equal(post.status, 200);
      assert.deepEqual(await post.json(), { data: { jobs: expected } });
      const get = await fetch(
        `${url}/subgraphs/id/QmFixture?query=${encodeURIComponent("{ jobs(first: 2) { id } }")}`,
      );
      assert.deepEqual(await get.json(), { data: { jobs: expected } });
      const bad = await fetch(
        `${url}/subgraphs/id/QmFixture?query=${encodeURIComponent("{ jobs(first: 2000) { id } }")}`,
      );
      assert.equal(bad.status, 200);
      assert.deepEqual(await bad.json(), {
        errors: [{ message: "The `first` argument must be between 0 and 1000, but is 2000" }],
      });
      assert.equal(
        (await fetch(`${url}/subgraphs/name/other`, { method: "POST", body: "{}" })).status,
        404,
      );
      assert.equal(
        (await fetch(`${url}/subgraphs/name/dml/fixture`, { method: "POST", body: "not json" }))
          .status,
        400,
      );
      assert.equal(
        (
          await fetch(`${url}/subgraphs/name/dml/fixture`, {
            method: "POST",
            body: JSON.stringify({ nope: 1 }),
          })
        ).status,
        400,
      );
    } finally {
      await server.stop();
    }
  });
});

describe("GraphQL with an indexing error", () => {
  it("answers indexing_error from the failed block on, with data only for subgraphError: allow", async () => {
    const failed = { number: 10, hash: blockHash(10), timestamp: 10n } as const;
    await store.setIndexingError(failed, "mapping aborted");
    const jobs = table("Job")
      .sort(byId)
      .slice(0, 2)
      .map((j) => ({ id: j.id }));
    assert.deepEqual(
      await api.execute({
        query: `{ jobs(first: 2) { id } _meta { hasIndexingErrors block { number } } }`,
      }),
      {
        data: { _meta: { hasIndexingErrors: true, block: { number: 10 } } },
        errors: [{ message: "indexing_error" }],
      },
    );
    assert.deepEqual(
      await api.execute({ query: `{ jobs(first: 2, subgraphError: allow) { id } }` }),
      {
        data: { jobs },
        errors: [{ message: "indexing_error" }],
      },
    );
    assert.deepEqual(await api.execute({ query: `{ _meta { hasIndexingErrors } }` }), {
      data: { _meta: { hasIndexingErrors: true } },
    });
    assert.deepEqual(
      await api.execute({ query: `{ jobs(first: 2, block: { number: 9 }) { id } }` }),
      { data: { jobs } },
    );
  });
});
