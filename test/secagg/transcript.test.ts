/**
 * The aggregation transcript and aggregate hash (sdk/secagg/transcript.ts): built from a real session with a dropout,
 * round-tripped through its byte encoding, and every field bound by the hash; malformed transcripts are refused.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Hex } from "viem";
import { signSecAggEnvelope } from "#sdk/crypto/signing.ts";
import {
  MAX_TRANSCRIPT_BYTES,
  SecAggClient,
  SecAggError,
  SecAggHttpServer,
  SecAggServer,
  aggregateHashOf,
  decodeTranscript,
  decodeTranscriptV2,
  encodeTranscript,
  encodeTranscriptV2,
  envelopeOf,
  replayTranscript,
  shareDigest,
  signBody,
  simulateSession,
  transcriptOf,
  transcriptV2Of,
  type AggregationTranscript,
  type ConsistencyBody,
  type DropPlan,
  type ExpectedSession,
  type MaskedInputBody,
  type RecordedMessage,
  type SecAggSessionConfig,
  type SessionTranscript,
  type ShareKeysBody,
} from "#sdk/secagg/index.ts";
import { accountsFor, makeConfig, randomInputs, runHttpClients } from "./helpers.ts";

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

// ---------------------------------------------------------------------------------------------- transcript v2

/** Runs a real session (real EIP-712 keys) with recording on; returns what an attestor would get and know. */
async function recordedSession(opts: {
  n: number;
  m: number;
  seed: number;
  drops?: DropPlan;
  config?: Partial<SecAggSessionConfig>;
}) {
  const accounts = accountsFor(opts.n, opts.seed);
  const config = makeConfig(accounts, opts.m, opts.config ?? {});
  const inputs = randomInputs(accounts.keys(), opts.m, opts.seed);
  const report = await simulateSession({
    config,
    accounts,
    inputs,
    drops: opts.drops ?? new Map(),
    recordTranscript: true,
  });
  const expected: ExpectedSession = {
    sessionId: config.sessionId,
    roster: config.roster,
    domain: { chainId: config.chainId, verifyingContract: config.verifyingContract },
    ...(config.cohort === undefined ? {} : { cohort: config.cohort }),
    vectorLength: opts.m,
  };
  return { accounts, config, report, expected, transcript: transcriptV2Of(report.server) };
}

const rejectsCode = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof SecAggError, String(e));
    return e.code;
  }
  return "resolved";
};

const causeCode = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof SecAggError, String(e));
    assert.equal(e.code, "TRANSCRIPT_INVALID", e.message);
    const cause = e.cause;
    return cause instanceof SecAggError ? cause.code : "none";
  }
  return "resolved";
};

/** A copy of the transcript with its records transformed. */
const withRecords = (
  t: SessionTranscript,
  f: (records: RecordedMessage[]) => RecordedMessage[],
): SessionTranscript => ({ ...t, records: f([...t.records]) });

const roundOf = (r: RecordedMessage) => r.message.body.round;
const senderOf = (r: RecordedMessage) => r.message.body.sender;

describe("transcript v2: record, encode, replay", () => {
  it("an honest transcript round-trips its bytes and replays to the server's survivors, sum and hash", async () => {
    const { report, transcript, expected } = await recordedSession({
      n: 7,
      m: 9,
      seed: 501,
      drops: new Map([[3, 2]]),
    });
    const bytes = encodeTranscriptV2(transcript);
    const back = decodeTranscriptV2(bytes);
    assert.deepEqual(encodeTranscriptV2(back), bytes, "decode ∘ encode is the identity on bytes");
    assert.equal(back.records.length, transcript.records.length);
    // every field of every body survives the codec (a field added to a message body must be added to the codec)
    const plain = (x: unknown): unknown =>
      JSON.parse(
        JSON.stringify(x, (_k, v: unknown) =>
          ArrayBuffer.isView(v)
            ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("hex")
            : v,
        ),
      );
    assert.deepEqual(plain(back), plain(transcript));
    // round-1 records carry digests only
    for (const r of back.records.filter((x) => roundOf(x) === 1)) {
      const b = r.message.body as ShareKeysBody;
      for (const sh of b.shares) {
        assert.equal(sh.ciphertext.length, 0);
        assert.equal(sh.ciphertextDigest?.length, 32);
      }
    }
    const replayed = await replayTranscript(back, expected);
    const { result } = report;
    assert.deepEqual(replayed.survivors, result.survivors);
    assert.deepEqual(replayed.dropped, result.dropped);
    assert.deepEqual([...replayed.sum], [...result.sum]);
    assert.deepEqual(replayed.signers, result.signers);
    assert.equal(replayed.aggregateHash, aggregateHashOf(transcriptOf(result)));
    assert.deepEqual(replayed.survivors, [1, 2, 4, 5, 6, 7]);
  });

  it("with 30% dropout (full mode) the replay reconstructs the dropped keys and matches", async () => {
    // 3 of 10 drop: before sharing keys, before the masked input (its key is reconstructed), before unmasking
    const drops: DropPlan = new Map([
      [2, 1],
      [5, 2],
      [9, 4],
    ]);
    const { report, transcript, expected } = await recordedSession({
      n: 10,
      m: 12,
      seed: 502,
      drops,
    });
    assert.equal(report.server.session.mode, "full");
    const replayed = await replayTranscript(
      decodeTranscriptV2(encodeTranscriptV2(transcript)),
      expected,
    );
    assert.deepEqual(replayed.survivors, report.result.survivors);
    assert.deepEqual(replayed.survivors, [1, 3, 4, 6, 7, 8, 9, 10]);
    assert.deepEqual([...replayed.sum], [...report.result.sum]);
    assert.deepEqual(replayed.unmaskers, report.result.unmaskers);
    assert.equal(replayed.aggregateHash, aggregateHashOf(report.result));
  });

  it("a SecAgg+ session whose graph derives from an on-chain cohort replays with the same cohort", async () => {
    const cohort = { root: `0x${"ab".repeat(32)}` as Hex, jobSeed: `0x${"cd".repeat(32)}` as Hex };
    const drops: DropPlan = new Map([
      [4, 2],
      [11, 4],
    ]);
    const { report, transcript, expected } = await recordedSession({
      n: 16,
      m: 6,
      seed: 514,
      drops,
      config: { degree: 10, cohort },
    });
    assert.equal(report.server.session.mode, "plus");
    const replayed = await replayTranscript(
      decodeTranscriptV2(encodeTranscriptV2(transcript)),
      expected,
    );
    assert.deepEqual([...replayed.sum], [...report.result.sum]);
    assert.deepEqual(replayed.survivors, report.result.survivors);
    assert.equal(replayed.aggregateHash, aggregateHashOf(report.result));
  });

  it("a changed masked input fails its signature", async () => {
    const { transcript, expected } = await recordedSession({ n: 6, m: 5, seed: 503 });
    const t = withRecords(transcript, (rs) =>
      rs.map((r) => {
        if (roundOf(r) !== 2 || senderOf(r) !== 4) return r;
        const body = r.message.body as MaskedInputBody;
        const masked = body.masked.slice();
        masked[2] = (masked[2]! + 1) >>> 0;
        return { ...r, message: { ...r.message, body: { ...body, masked } } };
      }),
    );
    assert.equal(await causeCode(replayTranscript(t, expected)), "BAD_SIGNATURE");
  });

  it("a removed message (a dropped signature) makes the transcript invalid", async () => {
    const { transcript, expected } = await recordedSession({ n: 6, m: 5, seed: 504 });
    for (const round of [1, 2, 3]) {
      const t = withRecords(transcript, (rs) =>
        rs.filter((r) => !(roundOf(r) === round && senderOf(r) === 2)),
      );
      // client 2's next-round message is then from a non-participant, or the others signed a set with 2 in it
      assert.ok(
        ["NOT_PARTICIPANT", "INVALID_MESSAGE"].includes(
          await causeCode(replayTranscript(t, expected)),
        ),
        `round ${round}`,
      );
    }
    // the unmask responses of all but t − 1 clients removed: too few shares / unmaskers
    const t = withRecords(transcript, (rs) =>
      rs.filter((r) => !(roundOf(r) === 4 && senderOf(r) > 2)),
    );
    assert.equal(await causeCode(replayTranscript(t, expected)), "TOO_FEW_SURVIVORS");
  });

  it("a survivor added (a member who never sent its masked input) is refused", async () => {
    const { transcript, expected, accounts, config } = await recordedSession({
      n: 6,
      m: 5,
      seed: 505,
      drops: new Map([[5, 2]]),
    });
    const sample = transcript.records.find((r) => roundOf(r) === 2)!;
    const forgedBody: MaskedInputBody = {
      ...(sample.message.body as MaskedInputBody),
      sender: 5,
    };
    // the aggregator cannot sign for 5: another client's signature, one by another key, one by 5 for another vector
    const other = accountsFor(1, 9999).get(1)!;
    const domain = { chainId: config.chainId, verifyingContract: config.verifyingContract };
    const signature0 = sample.message.signature;
    const flipped =
      `${signature0.slice(0, 10)}${signature0[10] === "0" ? "1" : "0"}${signature0.slice(11)}` as Hex;
    for (const signature of [
      flipped,
      (await signBody(other, domain, forgedBody)).signature,
      (await signBody(accounts.get(5)!, { ...domain, chainId: 1 }, forgedBody)).signature,
    ]) {
      const t = withRecords(transcript, (rs) => {
        const i = rs.findIndex((r) => roundOf(r) === 3);
        rs.splice(i, 0, { fault: false, message: { body: forgedBody, signature } });
        return rs;
      });
      assert.equal(await causeCode(replayTranscript(t, expected)), "BAD_SIGNATURE");
    }
    assert.ok(accounts.has(5));
  });

  it("a survivor removed (all its messages from round 2 on deleted) is refused", async () => {
    const { transcript, expected } = await recordedSession({ n: 6, m: 5, seed: 506 });
    const t = withRecords(transcript, (rs) =>
      rs.filter((r) => !(roundOf(r) >= 2 && senderOf(r) === 3)),
    );
    // the others signed a survivor set with 3 in it (and reveal b_3 shares, of a non-survivor now)
    assert.equal(await causeCode(replayTranscript(t, expected)), "INVALID_MESSAGE");
    // removing their consistency signatures too leaves too few signers
    const t2 = withRecords(t, (rs) => rs.filter((r) => roundOf(r) < 3));
    assert.equal(await causeCode(replayTranscript(t2, expected)), "TOO_FEW_SURVIVORS");
  });

  it("a consistency signature on a different survivor set is refused", async () => {
    const { transcript, expected, accounts, config } = await recordedSession({
      n: 6,
      m: 5,
      seed: 507,
      drops: new Map([[6, 2]]),
    });
    const domain = { chainId: config.chainId, verifyingContract: config.verifyingContract };
    // client 1 really signed another set (a split view shown to it)
    const split = await signBody(accounts.get(1)!, domain, {
      sessionId: config.sessionId.toLowerCase() as Hex,
      round: 3,
      sender: 1,
      survivors: [1, 2, 3, 4, 5, 6],
    } satisfies ConsistencyBody);
    const t = withRecords(transcript, (rs) =>
      rs.map((r) => (roundOf(r) === 3 && senderOf(r) === 1 ? { fault: false, message: split } : r)),
    );
    assert.equal(await causeCode(replayTranscript(t, expected)), "INVALID_MESSAGE");
    // the codec keeps each signed set (a repeated set is stored once, a different one in full)
    const sets = (x: SessionTranscript) =>
      x.records
        .filter((r) => roundOf(r) === 3)
        .map((r) => (r.message.body as ConsistencyBody).survivors);
    assert.deepEqual(sets(decodeTranscriptV2(encodeTranscriptV2(t))), sets(t));
    assert.ok(encodeTranscriptV2(t).length > encodeTranscriptV2(transcript).length);
    // recorded as a fault it is one: 1 is dropped from the signers, which leaves 4 < t = 5 of them
    const asFault = withRecords(transcript, (rs) =>
      rs.map((r) => (roundOf(r) === 3 && senderOf(r) === 1 ? { fault: true, message: split } : r)),
    );
    assert.equal(await causeCode(replayTranscript(asFault, expected)), "TOO_FEW_SURVIVORS");
  });

  it("a valid message recorded as a fault, and records out of round order, are refused", async () => {
    const { transcript, expected } = await recordedSession({ n: 6, m: 5, seed: 508 });
    const t = withRecords(transcript, (rs) =>
      rs.map((r) => (roundOf(r) === 2 && senderOf(r) === 1 ? { ...r, fault: true } : r)),
    );
    assert.equal(await rejectsCode(replayTranscript(t, expected)), "TRANSCRIPT_INVALID");
    const swapped = withRecords(transcript, (rs) => {
      const i = rs.findIndex((r) => roundOf(r) === 1);
      const j = rs.findIndex((r) => roundOf(r) === 2);
      [rs[i], rs[j]] = [rs[j]!, rs[i]!];
      return rs;
    });
    assert.equal(await rejectsCode(replayTranscript(swapped, expected)), "TRANSCRIPT_INVALID");
  });

  it("a signed fault is kept whole and the replay finds the same fault", async () => {
    const accounts = accountsFor(6, 509);
    const config = makeConfig(accounts, 5);
    const server = new SecAggServer(config, { recordTranscript: true });
    const clients = [...accounts].map(
      ([id, account]) => new SecAggClient({ config: server.session, id, account }),
    );
    const inputs = randomInputs(accounts.keys(), 5, 509);
    for (const c of clients) await server.submit(await c.advertise());
    await server.advance();
    for (const c of clients) await server.submit(await c.shareKeys(server.keysFor(c.id)));
    await server.advance();
    const domain = server.session.domain;
    for (const c of clients) {
      const msg = await c.maskedInput(server.sharesFor(c.id), inputs.get(c.id)!);
      if (c.id !== 2) {
        await server.submit(msg);
        continue;
      }
      // client 2 signs a vector of the wrong length: a provable fault
      const body: MaskedInputBody = {
        ...(msg.body as MaskedInputBody),
        masked: new Uint32Array(3),
      };
      const bad = {
        body,
        signature: await signSecAggEnvelope(accounts.get(2)!, domain, envelopeOf(body)),
      };
      await assert.rejects(server.submit(bad), (e: SecAggError) => e.code === "WRONG_LENGTH");
    }
    await server.advance();
    for (const c of clients.filter((x) => x.id !== 2))
      await server.submit(await c.consistency(server.consistencyRequest()));
    await server.advance();
    for (const c of clients.filter((x) => x.id !== 2))
      await server.submit(await c.unmask(server.unmaskRequest(c.id)));
    await server.advance();
    const t = decodeTranscriptV2(encodeTranscriptV2(transcriptV2Of(server)));
    assert.equal(t.records.filter((r) => r.fault).length, 1);
    const replayed = await replayTranscript(t, {
      sessionId: config.sessionId,
      roster: config.roster,
      domain,
    });
    assert.deepEqual(
      replayed.faults.map((f) => [f.client, f.code]),
      [[2, "WRONG_LENGTH"]],
    );
    assert.deepEqual(replayed.survivors, [1, 3, 4, 5, 6]);
    assert.deepEqual([...replayed.sum], [...server.getResult().sum]);
    // the fault dropped as a record: 2 then counts as silent in round 2, same sum (the fault proves nothing more)
    const noFault = withRecords(t, (rs) => rs.filter((r) => !r.fault));
    const r2 = await replayTranscript(noFault, {
      sessionId: config.sessionId,
      roster: config.roster,
      domain,
    });
    assert.deepEqual(r2.faults, []);
    assert.equal(r2.aggregateHash, replayed.aggregateHash);
  });
});

describe("transcript v2: a round-1 fault", () => {
  it("keeps the faulty share message whole (ciphertexts, not digests) and the replay finds BAD_SHARE", async () => {
    const accounts = accountsFor(6, 517);
    const config = makeConfig(accounts, 5);
    const server = new SecAggServer(config, { recordTranscript: true });
    const clients = [...accounts].map(
      ([id, account]) => new SecAggClient({ config: server.session, id, account }),
    );
    const inputs = randomInputs(accounts.keys(), 5, 517);
    for (const c of clients) await server.submit(await c.advertise());
    await server.advance();
    const domain = server.session.domain;
    for (const c of clients) {
      const msg = await c.shareKeys(server.keysFor(c.id));
      if (c.id !== 3) {
        await server.submit(msg);
        continue;
      }
      // client 3 signs a share message with one ciphertext cut short
      const b = msg.body as ShareKeysBody;
      const body: ShareKeysBody = {
        ...b,
        shares: b.shares.map((sh, i) =>
          i === 0 ? { to: sh.to, ciphertext: sh.ciphertext.subarray(0, 10) } : sh,
        ),
      };
      const bad = {
        body,
        signature: await signSecAggEnvelope(accounts.get(3)!, domain, envelopeOf(body)),
      };
      await assert.rejects(server.submit(bad), (e: SecAggError) => e.code === "BAD_SHARE");
    }
    await server.advance();
    const live = clients.filter((c) => c.id !== 3);
    for (const c of live)
      await server.submit(await c.maskedInput(server.sharesFor(c.id), inputs.get(c.id)!));
    await server.advance();
    for (const c of live) await server.submit(await c.consistency(server.consistencyRequest()));
    await server.advance();
    for (const c of live) await server.submit(await c.unmask(server.unmaskRequest(c.id)));
    await server.advance();
    const t = decodeTranscriptV2(encodeTranscriptV2(transcriptV2Of(server)));
    const fault = t.records.find((r) => r.fault)!;
    const shares = (fault.message.body as ShareKeysBody).shares;
    assert.equal(shares[0]!.ciphertext.length, 10, "kept whole");
    assert.equal(shares[0]!.ciphertextDigest, undefined);
    const replayed = await replayTranscript(t, {
      sessionId: config.sessionId,
      roster: config.roster,
      domain,
    });
    assert.deepEqual(
      replayed.faults.map((f) => [f.client, f.round, f.code]),
      [[3, 1, "BAD_SHARE"]],
    );
    assert.deepEqual(replayed.survivors, [1, 2, 4, 5, 6]);
    assert.deepEqual([...replayed.sum], [...server.getResult().sum]);
  });
});

describe("transcript v2: bad input", () => {
  it("truncated bytes → TRANSCRIPT_TRUNCATED; trailing or foreign bytes → TRANSCRIPT_INVALID", async () => {
    const { transcript } = await recordedSession({ n: 5, m: 4, seed: 510 });
    const bytes = encodeTranscriptV2(transcript);
    for (const cut of [0, 3, 5, 9, 40, Math.floor(bytes.length / 2), bytes.length - 1]) {
      assert.equal(
        code(() => decodeTranscriptV2(bytes.subarray(0, cut))),
        "TRANSCRIPT_TRUNCATED",
        `cut ${cut}`,
      );
    }
    const extra = new Uint8Array(bytes.length + 1);
    extra.set(bytes);
    assert.equal(
      code(() => decodeTranscriptV2(extra)),
      "TRANSCRIPT_INVALID",
    );
    const magic = bytes.slice();
    magic[0] = 0x41;
    assert.equal(
      code(() => decodeTranscriptV2(magic)),
      "TRANSCRIPT_INVALID",
    );
    const version = bytes.slice();
    version[4] = 1;
    assert.equal(
      code(() => decodeTranscriptV2(version)),
      "TRANSCRIPT_INVALID",
    );
    // the v1 JSON form is not a v2 transcript
    assert.equal(
      code(() => decodeTranscriptV2(new TextEncoder().encode("{}"))),
      "TRANSCRIPT_TRUNCATED",
    );
  });

  it("a huge declared count or length is refused before allocating; oversized input before parsing", async () => {
    const { transcript } = await recordedSession({ n: 5, m: 4, seed: 511 });
    const bytes = encodeTranscriptV2(transcript);
    const headerLen = new DataView(bytes.buffer, bytes.byteOffset).getUint32(5, false);
    const countAt = 9 + headerLen;
    const huge = bytes.slice();
    new DataView(huge.buffer).setUint32(countAt, 0xffffffff, false);
    assert.equal(
      code(() => decodeTranscriptV2(huge)),
      "TRANSCRIPT_TRUNCATED",
    );
    const hugeHeader = bytes.slice();
    new DataView(hugeHeader.buffer).setUint32(5, 0xfffffff0, false);
    assert.equal(
      code(() => decodeTranscriptV2(hugeHeader)),
      "TRANSCRIPT_INVALID",
    );
    assert.equal(
      code(() => decodeTranscriptV2(bytes, { maxBytes: bytes.length - 1 })),
      "TRANSCRIPT_TOO_LARGE",
    );
    assert.ok(MAX_TRANSCRIPT_BYTES >= 400_000_000, "n = 1,000 at m = 100k fits");
  });

  it("another session's transcript → TRANSCRIPT_OTHER_SESSION; a non-member → TRANSCRIPT_NON_MEMBER", async () => {
    const { transcript, expected } = await recordedSession({ n: 5, m: 4, seed: 512 });
    const other = await recordedSession({ n: 5, m: 4, seed: 512 });
    assert.equal(
      await rejectsCode(replayTranscript(other.transcript, expected)),
      "TRANSCRIPT_OTHER_SESSION",
    );
    assert.equal(
      await rejectsCode(
        replayTranscript(transcript, { ...expected, domain: { ...expected.domain, chainId: 1 } }),
      ),
      "TRANSCRIPT_OTHER_SESSION",
    );
    assert.equal(
      await rejectsCode(
        replayTranscript(transcript, {
          ...expected,
          cohort: { root: `0x${"11".repeat(32)}`, jobSeed: `0x${"22".repeat(32)}` },
        }),
      ),
      "TRANSCRIPT_OTHER_SESSION",
    );
    // the cohort on chain has another device in slot 5: the transcript's roster names a non-member
    const stranger = accountsFor(1, 7777).get(1)!;
    const roster = expected.roster.map((r) =>
      r.id === 5 ? { ...r, address: stranger.address } : r,
    );
    assert.equal(
      await rejectsCode(replayTranscript(transcript, { ...expected, roster })),
      "TRANSCRIPT_NON_MEMBER",
    );
    // a record from an id outside the roster
    const sample = transcript.records[0]!;
    const t = withRecords(transcript, (rs) => [
      {
        fault: false,
        message: { ...sample.message, body: { ...sample.message.body, sender: 99 } },
      },
      ...rs,
    ]);
    assert.equal(await rejectsCode(replayTranscript(t, expected)), "TRANSCRIPT_NON_MEMBER");
    // a record of another session inside this one
    const foreign = withRecords(transcript, (rs) => [other.transcript.records[0]!, ...rs]);
    assert.equal(
      await rejectsCode(replayTranscript(foreign, expected)),
      "TRANSCRIPT_OTHER_SESSION",
    );
  });

  it("a server that does not record has no transcript (NOT_READY)", () => {
    const accounts = accountsFor(4, 516);
    const server = new SecAggServer(makeConfig(accounts, 4));
    assert.equal(
      code(() => transcriptV2Of(server)),
      "NOT_READY",
    );
    assert.equal(
      code(() => transcriptOf(server)),
      "NOT_READY",
    );
  });

  it("a live server refuses digest-form shares as a signed fault", async () => {
    const accounts = accountsFor(5, 513);
    const config = makeConfig(accounts, 4);
    const server = new SecAggServer(config);
    const clients = [...accounts].map(
      ([id, account]) => new SecAggClient({ config: server.session, id, account }),
    );
    for (const c of clients) await server.submit(await c.advertise());
    await server.advance();
    const msg = await clients[0]!.shareKeys(server.keysFor(1));
    const body = msg.body as ShareKeysBody;
    const digested: ShareKeysBody = {
      ...body,
      shares: body.shares.map((s) => ({
        to: s.to,
        ciphertext: new Uint8Array(0),
        ciphertextDigest: shareDigest(s),
      })),
    };
    // same payload hash: the signature still verifies, so the fault is attributable
    const signed = { body: digested, signature: msg.signature };
    await assert.rejects(server.submit(signed), (e: SecAggError) => e.code === "INVALID_MESSAGE");
    assert.deepEqual(
      server.faults.map((f) => f.client),
      [1],
    );
  });
});

describe("transcript v2 over HTTP", () => {
  it("SecAggHttpServer records a session whose transcript replays to the served result", async () => {
    const http = new SecAggHttpServer();
    const url = await http.listen();
    try {
      const n = 8;
      const m = 16;
      const accounts = accountsFor(n, 515);
      const config = makeConfig(accounts, m);
      const server = http.addSession(config, { roundTimeoutMs: 4_000, recordTranscript: true });
      const inputs = randomInputs(accounts.keys(), m, 515);
      const stopBefore = new Map<number, 0 | 1 | 2 | 3 | 4>([[6, 2]]);
      await runHttpClients({
        baseUrl: url,
        config,
        accounts,
        inputs,
        poll: { initialDelayMs: 20, maxDelayMs: 300, roundTimeoutMs: 60_000 },
        stopBefore,
      });
      const result = await http.result(config.sessionId);
      const t = http.transcript(config.sessionId);
      assert.deepEqual(transcriptOf(server), t, "transcriptOf(server) is v2");
      // messages came as JSON over HTTP: the round-1 digests are of the relayed ciphertexts
      const replayed = await replayTranscript(decodeTranscriptV2(encodeTranscriptV2(t)), {
        sessionId: config.sessionId,
        roster: config.roster,
        domain: { chainId: config.chainId, verifyingContract: config.verifyingContract },
      });
      assert.deepEqual(replayed.survivors, [1, 2, 3, 4, 5, 7, 8]);
      assert.deepEqual([...replayed.sum], [...result.sum]);
      assert.equal(replayed.aggregateHash, aggregateHashOf(transcriptOf(result)));
      assert.throws(
        () => http.transcript(`0x${"00".repeat(32)}`),
        (e: SecAggError) => e.code === "UNKNOWN_SESSION",
      );
    } finally {
      await http.close();
    }
  });
});
