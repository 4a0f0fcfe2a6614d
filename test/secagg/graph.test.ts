import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { keccak256, toHex } from "viem";
import type { Hex } from "viem";
import {
  SecAggClient,
  SecAggError,
  SecAggServer,
  graphSeed,
  harary,
  resolveSession,
} from "#sdk/secagg/index.ts";
import { accountsFor, makeConfig } from "./helpers.ts";

const root = keccak256(toHex("cohort root")) as Hex;
const jobSeed = keccak256(toHex("job seed")) as Hex;

describe("secagg neighbour graph from the on-chain cohort", () => {
  it("is a deterministic function of (cohortRoot, jobSeed, n): same inputs, same graph; any change, another", () => {
    const accounts = accountsFor(60, 91);
    const a = resolveSession(makeConfig(accounts, 4, { degree: 8, cohort: { root, jobSeed } }));
    // another session id (another attempt, another aggregator) with the same cohort: the same graph
    const b = resolveSession(makeConfig(accounts, 4, { degree: 8, cohort: { root, jobSeed } }));
    assert.notEqual(a.sessionId, b.sessionId);
    assert.deepEqual(a.neighbours, b.neighbours);
    assert.deepEqual(a.graphSeed, graphSeed(root, jobSeed, 60));
    assert.deepEqual(a.neighbours, harary(a.ids, 8, graphSeed(root, jobSeed, 60)));
    const otherRoot = resolveSession(
      makeConfig(accounts, 4, { degree: 8, cohort: { root: jobSeed, jobSeed } }),
    );
    const otherSeed = resolveSession(
      makeConfig(accounts, 4, { degree: 8, cohort: { root, jobSeed: root } }),
    );
    assert.notDeepEqual(a.neighbours, otherRoot.neighbours);
    assert.notDeepEqual(a.neighbours, otherSeed.neighbours);
    assert.notDeepEqual(graphSeed(root, jobSeed, 60), graphSeed(root, jobSeed, 59));
    // a pinned value, so the derivation cannot drift silently between releases
    assert.equal(
      toHex(graphSeed(root, jobSeed, 60)),
      "0xa5ff86081b193ac672f177a55dc223a12909a529f2daa80273afa102c2ab3087",
    );
    assert.throws(
      () => resolveSession(makeConfig(accounts, 4, { cohort: { root: "0x12" as Hex, jobSeed } })),
      (e: unknown) => e instanceof SecAggError && e.code === "INVALID_CONFIG",
    );
  });

  it("the server cannot impose another graph: clients compute theirs and skip keys of non-neighbours", async () => {
    const accounts = accountsFor(40, 92);
    const config = makeConfig(accounts, 4, { degree: 6, cohort: { root, jobSeed } });
    // a server that runs the session on a graph of its choosing (another seed)
    const server = new SecAggServer({ ...config, cohort: { root, jobSeed: root } });
    const clientSession = resolveSession(config);
    const clients = [...accounts].map(
      ([id, account]) => new SecAggClient({ config: clientSession, id, account }),
    );
    for (const c of clients) await server.submit(await c.advertise());
    await server.advance();
    const c = clients[0]!;
    const relayed = server.keysFor(c.id).map((k) => k.body.sender);
    const mine = new Set(clientSession.neighbours.get(c.id)!);
    const foreign = relayed.filter((v) => !mine.has(v));
    assert.ok(foreign.length > 0, "the two graphs differ around this client");
    // here only 2 of the relayed keys are its neighbours' (< t − 1): it refuses, and no share leaves it
    await assert.rejects(
      c.shareKeys(server.keysFor(c.id)),
      (e: unknown) => e instanceof SecAggError && e.code === "TOO_FEW_SURVIVORS",
    );
    assert.deepEqual(
      c.peerFaults.map((f) => f.client).sort((x, y) => x - y),
      [...foreign].sort((x, y) => x - y),
    );
  });
});
