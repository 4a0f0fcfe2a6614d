/**
 * sdk/protocol/cohort: the cohort list a distributor publishes (version 2: drawn from a connected set; version 1: a
 * group list) and the check every device and attestor runs on it (`fetchCohort`) against the on-chain root, over a
 * real embedded Helia store.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { keccak256, toHex, type Address } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { buildCohortTree, drawCohort, type CohortCandidate } from "#sdk/chain/cohort.ts";
import { HeliaStore } from "#sdk/ipfs/index.ts";
import {
  COHORT_LIST_VERSION,
  cohortListSchema,
  cohortRoot,
  drawnCohortList,
  encodeCohortList,
  fetchCohort,
  type CohortList,
} from "#sdk/protocol/cohort.ts";
import { ProtocolError, type ProtocolErrorCode } from "#sdk/protocol/errors.ts";

const seed = keccak256(toHex("job seed"));
const candidates: CohortCandidate[] = Array.from({ length: 30 }, (_, i) => ({
  connectedIndex: BigInt(i),
  device: privateKeyToAccount(keccak256(toHex(`cohort-device-${i}`))).address,
}));
const outsider = privateKeyToAccount(keccak256(toHex("outsider"))).address;

const coded = (code: ProtocolErrorCode) => (e: unknown) =>
  e instanceof ProtocolError && e.code === code;

describe("cohort list", () => {
  it("the version-2 cohort list numbers members by position and has the tree's root", () => {
    const drawn = drawCohort(seed, candidates, 8);
    const list = drawnCohortList(7n, 3n, drawn);
    assert.equal(cohortRoot(cohortListSchema.parse(list)), buildCohortTree(drawn).root);
    assert.deepEqual(
      list.members.map((m) => m.id),
      [1, 2, 3, 4, 5, 6, 7, 8],
    );
    // a list whose client ids do not follow the positions is refused
    const shuffled = {
      ...list,
      members: [list.members[1]!, list.members[0]!, ...list.members.slice(2)],
    };
    assert.equal(cohortListSchema.safeParse(shuffled).success, false);
    // and a changed member changes the root
    const changed = {
      ...list,
      members: [{ ...list.members[0]!, connectedIndex: "29" }, ...list.members.slice(1)],
    };
    assert.notEqual(cohortRoot(changed as typeof list), cohortRoot(list));
  });

  describe("fetchCohort (Helia)", () => {
    let dir: string;
    let store: HeliaStore;
    const drawn = drawCohort(seed, candidates, 6);
    const list = drawnCohortList(7n, 3n, drawn);
    const root = cohortRoot(list);
    const me = drawn[2]!.device;
    let cid: string;
    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), "dml-protocol-cohort-"));
      store = await HeliaStore.open({ dir });
      cid = await store.addBytes(encodeCohortList(list));
    });
    after(async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    });

    it("returns the list and the device's client id when schema, job, size and root match the chain", async () => {
      const got = await fetchCohort(store, cid, {
        root,
        jobId: 7n,
        device: me,
        drawn: { deviceCount: 6, kMin: 5 },
      });
      assert.equal(got.clientId, 3);
      assert.deepEqual(got.list, list);
    });

    it("refuses another job, root, size, a short cohort, an outsider and bytes that are not a list", async () => {
      const expect = { root, jobId: 7n, device: me };
      await assert.rejects(
        fetchCohort(store, cid, { ...expect, jobId: 8n }),
        coded("COHORT_INVALID"),
      );
      await assert.rejects(
        fetchCohort(store, cid, { ...expect, root: keccak256(toHex("other")) }),
        coded("COHORT_ROOT_MISMATCH"),
      );
      await assert.rejects(
        fetchCohort(store, cid, { ...expect, drawn: { deviceCount: 7, kMin: 5 } }),
        coded("COHORT_SIZE_MISMATCH"),
      );
      // size and kMin are checked before the root: a short roster is refused as such whatever its root
      await assert.rejects(
        fetchCohort(store, cid, {
          ...expect,
          root: keccak256(toHex("other")),
          drawn: { deviceCount: 6, kMin: 7 },
        }),
        coded("COHORT_TOO_SMALL"),
      );
      await assert.rejects(
        fetchCohort(store, cid, { ...expect, device: outsider }),
        coded("NOT_IN_COHORT"),
      );
      const junk = await store.addBytes(new TextEncoder().encode('{"version":2,"jobId":"7"}'));
      await assert.rejects(fetchCohort(store, junk, expect), coded("COHORT_INVALID"));
    });

    it("a prediction job accepts only a drawn (version-2) list", async () => {
      const group: CohortList = {
        version: COHORT_LIST_VERSION,
        jobId: "7",
        members: drawn.map((m, i) => ({ id: i + 1, address: m.device as Address })),
      };
      const groupCid = await store.addBytes(encodeCohortList(group));
      const expect = { root: cohortRoot(group), jobId: 7n, device: me };
      assert.equal((await fetchCohort(store, groupCid, expect)).clientId, 3);
      await assert.rejects(
        fetchCohort(store, groupCid, { ...expect, drawn: { deviceCount: 6, kMin: 5 } }),
        coded("COHORT_INVALID"),
      );
    });
  });
});
