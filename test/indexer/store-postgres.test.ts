/** The same store and query API on a real Postgres (skipped where Debian's postgresql-15 is not installed). */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Store } from "../../indexer/store/store.ts";
import { GraphQLApi } from "../../indexer/graphql/execute.ts";
import {
  FIXTURE_SDL,
  generateBlocks,
  stateAt,
  toBlockChanges,
  toEntity,
} from "./fixtures/store-fixture.ts";
import { entityText } from "./fixtures/entity-compare.ts";
import { postgresAvailable, startCluster } from "./fixtures/postgres-cluster.ts";

const blocks = generateBlocks();

describe(
  "Store on Postgres",
  { skip: postgresAvailable() ? false : "postgresql-15 binaries not installed" },
  () => {
    it("commits, answers queries, reverts and reloads its head like PGlite", async () => {
      const cluster = await startCluster();
      try {
        let store = await Store.open({
          databaseUrl: cluster.url,
          schema: FIXTURE_SDL,
          deployment: "QmPg",
        });
        try {
          assert.equal(store.driverKind, "postgres");
          for (const b of blocks) await store.commitBlock(toBlockChanges(b));
          const api = new GraphQLApi(store);
          const jobs = [
            ...(
              stateAt(blocks, 9).get("Job") as Map<string, Record<string, unknown> & { id: string }>
            ).values(),
          ];
          const expected = jobs
            .filter((j) => j.paid === true && (j.title as string).toLowerCase().includes("eta"))
            .sort((a, b) => {
              const x = BigInt(a.budget as bigint);
              const y = BigInt(b.budget as bigint);
              return x < y ? 1 : x > y ? -1 : a.id < b.id ? 1 : -1;
            })
            .map((j) => ({
              id: j.id,
              budget: String(j.budget),
              createdAt: String(j.createdAt),
              schemaHash: j.schemaHash,
            }));
          const res = await api.execute({
            query: `{ jobs(first: 1000, where: { paid: true, title_contains_nocase: "ETA" }, orderBy: budget, orderDirection: desc) { id budget createdAt schemaHash } }`,
          });
          assert.deepEqual(res, { data: { jobs: expected } });
          const at6 = [
            ...(stateAt(blocks, 6).get("Job") as Map<string, { id: string }>).keys(),
          ].sort();
          const old = await api.execute({
            query: `{ jobs(first: 1000, block: { number: 6 }) { id } }`,
          });
          assert.deepEqual(old, { data: { jobs: at6.map((id) => ({ id })) } });
          await store.revertTo(6);
        } finally {
          await store.close();
        }
        store = await Store.open({
          databaseUrl: cluster.url,
          schema: FIXTURE_SDL,
          deployment: "QmPg",
        });
        try {
          assert.deepEqual(store.latestBlock(), blocks[5]?.ptr);
          for (const [id, rec] of stateAt(blocks, 6).get("Job") as Map<
            string,
            Record<string, unknown>
          >) {
            assert.equal(
              entityText(store.head().get("Job", id)),
              entityText(toEntity("Job", rec)),
              id,
            );
          }
          // job-041 was removed at block 7: the revert brought it back.
          assert.ok(store.head().get("Job", "job-041"));
        } finally {
          await store.close();
        }
      } finally {
        await cluster.stop();
      }
    });
  },
);
