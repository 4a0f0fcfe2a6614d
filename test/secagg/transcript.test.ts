/**
 * The aggregation transcript and aggregate hash (sdk/secagg/transcript.ts): built from a real session with a dropout,
 * round-tripped through its byte encoding, and every field bound by the hash; malformed transcripts are refused.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  SecAggError,
  aggregateHashOf,
  decodeTranscript,
  encodeTranscript,
  simulateSession,
  transcriptOf,
  type AggregationTranscript,
} from "#sdk/secagg/index.ts";
import { accountsFor, makeConfig } from "./helpers.ts";

const code = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof SecAggError, String(e));
    return e.code;
  }
  return "returned";
};

describe("aggregation transcript", () => {
  it("a session's transcript round-trips and its hash binds session, survivors and every coordinate", async () => {
    const accounts = accountsFor(6, 77);
    const config = makeConfig(accounts, 5);
    const inputs = new Map([...accounts.keys()].map((id) => [id, [id, 0.5, -1, 2, id / 8]]));
    const { result } = await simulateSession({
      config,
      accounts,
      inputs,
      drops: new Map([[4, 2]]),
    });
    const t = transcriptOf(result);
    assert.deepEqual(t.survivors, [1, 2, 3, 5, 6]);
    assert.deepEqual(t.sum, [...result.sum]);
    const back = decodeTranscript(encodeTranscript(t));
    assert.deepEqual(back, t);
    const h = aggregateHashOf(back);
    assert.equal(h, aggregateHashOf(t));
    const variants: AggregationTranscript[] = [
      { ...t, sessionId: `0x${"00".repeat(32)}` },
      { ...t, survivors: [1, 2, 3, 4, 5, 6] },
      { ...t, sum: t.sum.map((x, i) => (i === 4 ? (x + 1) >>> 0 : x)) },
    ];
    for (const v of variants) assert.notEqual(aggregateHashOf(v), h);
  });

  it("rejects bytes that are not a version-1 transcript with INVALID_MESSAGE", () => {
    const ok = {
      version: 1,
      sessionId: `0x${"ab".repeat(32)}`,
      survivors: [1, 2],
      sum: [3, 4],
    };
    const enc = (x: unknown) => new TextEncoder().encode(JSON.stringify(x));
    assert.deepEqual(decodeTranscript(enc(ok)), ok);
    for (const bad of [
      { ...ok, version: 2 },
      { ...ok, survivors: [2, 1] },
      { ...ok, survivors: [1, 1] },
      { ...ok, survivors: [] },
      { ...ok, sum: [2 ** 32] },
      { ...ok, sum: [-1] },
      { ...ok, sessionId: "0x12" },
      { ...ok, extra: true },
    ])
      assert.equal(
        code(() => decodeTranscript(enc(bad))),
        "INVALID_MESSAGE",
        JSON.stringify(bad),
      );
    assert.equal(
      code(() => decodeTranscript(new Uint8Array([0xff, 0xfe]))),
      "INVALID_MESSAGE",
    );
    assert.equal(
      code(() => decodeTranscript(enc("not an object"))),
      "INVALID_MESSAGE",
    );
  });
});
