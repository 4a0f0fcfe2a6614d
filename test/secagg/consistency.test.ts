import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { x25519 } from "@noble/curves/ed25519.js";
import type { Hex } from "viem";
import { selfMaskCommitment } from "#sdk/secagg/client.ts";
import { combineShares } from "#sdk/secagg/shamir.ts";
import {
  SecAggClient,
  SecAggError,
  SecAggServer,
  certificateSigners,
  resolveSession,
  shareGroup,
  signBody,
} from "#sdk/secagg/index.ts";
import type {
  AdvertiseBody,
  ConsistencyBody,
  ResolvedSession,
  ShareKeysBody,
  Signed,
  UnmaskRequest,
} from "#sdk/secagg/index.ts";
import { accountsFor, makeConfig, randomInputs } from "./helpers.ts";

/** Rounds 0–2 run honestly for every client; returns the clients ready for round 3. */
async function maskedSession(n: number, degree: number | undefined, seed: number) {
  const accounts = accountsFor(n, seed);
  const config = makeConfig(accounts, 8, degree === undefined ? {} : { degree });
  const server = new SecAggServer(config, { skipSignatureChecks: true });
  const session = server.session;
  const clients = new Map<number, SecAggClient>();
  for (const [id, account] of accounts)
    clients.set(
      id,
      new SecAggClient({ config: session, id, account, verifyNeighbourSignatures: false }),
    );
  const adverts = new Map<number, Signed<AdvertiseBody>>();
  for (const c of clients.values()) {
    const a = await c.advertise();
    adverts.set(c.id, a);
    await server.submit(a);
  }
  await server.advance();
  const shareMsgs = new Map<number, ShareKeysBody>();
  for (const c of clients.values()) {
    const msg = await c.shareKeys(server.keysFor(c.id));
    shareMsgs.set(c.id, msg.body);
    await server.submit(msg);
  }
  await server.advance();
  const inputs = randomInputs(accounts.keys(), 8, seed);
  for (const c of clients.values())
    await server.submit(await c.maskedInput(server.sharesFor(c.id), inputs.get(c.id)!));
  await server.advance();
  return { accounts, session, server, clients, adverts, shareMsgs };
}

/** A corrupted client's memory: the shares it holds (test-only access to a private field). */
function heldBy(c: SecAggClient): Map<number, [Uint8Array, Uint8Array]> {
  return Reflect.get(c, "held") as Map<number, [Uint8Array, Uint8Array]>;
}

/**
 * The split-view attack on `victim`: a malicious server tells part A of the victim's share group (the victim and
 * `a` honest neighbours) that every client survived (so they reveal shares of b_victim), and the other honest
 * neighbours B that the victim dropped (so they reveal shares of s_victim^SK). `colluders` (neighbours of the victim)
 * sign both sets and hand over both their shares. Generous to the attacker: every client outside the victim's share
 * group is counted as having signed both sets. Returns what the server obtains.
 */
async function splitView(
  ctx: Awaited<ReturnType<typeof maskedSession>>,
  victim: number,
  colluderCount: number,
  sideASize?: number,
) {
  const { session, clients, accounts, adverts, shareMsgs } = ctx;
  const t = session.threshold;
  const T = session.consistencyThreshold;
  const nbrs = session.neighbours.get(victim)!;
  const colluders = nbrs.slice(0, colluderCount);
  const honest = nbrs.slice(colluderCount);
  const a = sideASize ?? Math.max(0, T - 1 - colluderCount);
  const sideA = [victim, ...honest.slice(0, a)];
  const sideB = honest.slice(a);
  const group = new Set(shareGroup(session, victim));
  const S1 = [...session.ids];
  const S2 = S1.filter((id) => id !== victim);
  const sid = session.sessionId;
  const sigs = new Map<string, Signed<ConsistencyBody>[]>([
    ["S1", []],
    ["S2", []],
  ]);
  const forge = async (id: number, survivors: number[]) =>
    signBody(accounts.get(id)!, session.domain, {
      sessionId: sid,
      round: 3,
      sender: id,
      survivors,
    } satisfies ConsistencyBody);
  for (const id of session.ids) {
    if (sideA.includes(id))
      sigs.get("S1")!.push(await clients.get(id)!.consistency({ sessionId: sid, survivors: S1 }));
    else if (sideB.includes(id))
      sigs.get("S2")!.push(await clients.get(id)!.consistency({ sessionId: sid, survivors: S2 }));
    else if (colluders.includes(id) || !group.has(id)) {
      if (id !== victim) {
        sigs.get("S1")!.push(await forge(id, S1));
        sigs.get("S2")!.push(await forge(id, S2));
      }
    }
  }
  const entries = (set: string) =>
    sigs.get(set)!.map((m) => ({ sender: m.body.sender, signature: m.signature }));
  const bShares: Uint8Array[] = [];
  const sShares: Uint8Array[] = [];
  const refused: number[] = [];
  const ask = async (id: number, request: UnmaskRequest) => {
    try {
      const msg = await clients.get(id)!.unmask(request);
      for (const sh of msg.body.selfMaskShares) if (sh.of === victim) bShares.push(sh.share);
      for (const sh of msg.body.keyShares) if (sh.of === victim) sShares.push(sh.share);
    } catch (e) {
      if (!(e instanceof SecAggError && e.code === "CONSISTENCY_FAILED")) throw e;
      refused.push(id);
    }
  };
  for (const id of sideA)
    await ask(id, { sessionId: sid, survivors: S1, dropped: [], certificate: entries("S1") });
  for (const id of sideB)
    await ask(id, {
      sessionId: sid,
      survivors: S2,
      dropped: [victim],
      certificate: entries("S2"),
    });
  for (const id of colluders) {
    const [b, s] = heldBy(clients.get(id)!).get(victim)!;
    bShares.push(b);
    sShares.push(s);
  }
  const commitment = shareMsgs.get(victim)!.selfMaskCommitment;
  const bRecovered =
    bShares.length >= t &&
    Buffer.from(
      selfMaskCommitment(session.sessionIdBytes, victim, combineShares(bShares.slice(0, t))),
    ).equals(Buffer.from(commitment));
  const sRecovered =
    sShares.length >= t &&
    Buffer.from(x25519.getPublicKey(combineShares(sShares.slice(0, t)))).equals(
      Buffer.from(adverts.get(victim)!.body.sPk),
    );
  // before the ConsistencyCheck round, each honest client revealed whatever its own view asked for
  const withoutCheck = {
    b: sideA.length + colluderCount >= t,
    s: sideB.length + colluderCount >= t,
  };
  return { bShares, sShares, bRecovered, sRecovered, refused, withoutCheck, t, T };
}

describe("secagg ConsistencyCheck round", () => {
  for (const [label, sideA] of [
    ["the split that worked before the check (|A| = t − 1)", 8],
    ["a split favouring signatures on A (|A| = T − 1)", 9],
  ] as const) {
    it(`SecAgg+ n = 200 (k = 16), one colluding neighbour, ${label}: the server never gets both secrets of the victim`, async () => {
      const ctx = await maskedSession(200, 16, 71 + sideA);
      assert.equal(ctx.session.mode, "plus");
      assert.equal(ctx.session.threshold, 9);
      assert.equal(ctx.session.consistencyThreshold, 10);
      const r = await splitView(ctx, 1, 1, sideA - 1);
      if (sideA === 8)
        assert.deepEqual(
          r.withoutCheck,
          { b: true, s: true },
          "the attack worked before the check",
        );
      assert.equal(r.bRecovered && r.sRecovered, false, "never both secrets of the victim");
      assert.ok(r.bShares.length < r.t || r.sShares.length < r.t);
      if (sideA === 8) {
        // neither side reaches T = 10 signatures: nobody in the victim's group reveals anything
        assert.equal(r.bRecovered || r.sRecovered, false);
        assert.equal(r.refused.length, 16 - 1 + 1);
      } else {
        // A reaches T (victim + 8 + colluder): b is revealed, as for a survivor; B (7) refuses, s stays secret
        assert.equal(r.sRecovered, false);
        assert.equal(r.refused.length, 7);
      }
    });
  }

  it("SecAgg+ bound is tight: with 2T − 1 − k = 3 colluding neighbours the same attack gets both (harness check)", async () => {
    const ctx = await maskedSession(60, 16, 72);
    const r = await splitView(ctx, 5, 3);
    assert.equal(r.bRecovered && r.sRecovered, true);
  });

  it("full mode (n = 12, t = 9): split view with 2t − n − 1 = 5 colluders never gets both secrets", async () => {
    const ctx = await maskedSession(12, undefined, 73);
    assert.equal(ctx.session.mode, "full");
    assert.equal(ctx.session.consistencyThreshold, ctx.session.threshold);
    const r = await splitView(ctx, 3, 2 * ctx.session.threshold - 12 - 1);
    assert.equal(r.bRecovered && r.sRecovered, false);
  });

  it("a client unmasks only for the set it signed, with enough valid signatures from known keys", async () => {
    const ctx = await maskedSession(12, undefined, 74);
    const { session, server, clients, accounts } = ctx;
    for (const c of clients.values())
      await server.submit(await c.consistency(server.consistencyRequest()));
    await server.advance();
    const c = clients.get(1)!;
    const good = server.unmaskRequest(1);
    assert.equal(good.certificate.length, 12);
    const refuses = (req: UnmaskRequest) =>
      assert.rejects(
        c.unmask(req),
        (e: unknown) => e instanceof SecAggError && e.code === "CONSISTENCY_FAILED",
      );
    // another set than the one we signed
    await refuses({ ...good, survivors: good.survivors.slice(1) });
    // fewer than T signatures
    await refuses({
      ...good,
      certificate: good.certificate.slice(0, session.consistencyThreshold - 2),
    });
    // the same signature repeated counts once
    await refuses({ ...good, certificate: Array(12).fill(good.certificate[4]!) });
    // signatures by keys outside the roster, or one device's key claiming other senders, count for nothing
    const outsider = accountsFor(12, 99).get(1)!;
    const bodyOf = (sender: number): ConsistencyBody => ({
      sessionId: session.sessionId,
      round: 3,
      sender,
      survivors: good.survivors,
    });
    const entry = (m: Signed) => ({ sender: m.body.sender, signature: m.signature });
    const forged = await Promise.all(
      good.certificate.map((e) => signBody(outsider, session.domain, bodyOf(e.sender))),
    );
    await refuses({
      ...good,
      certificate: [...good.certificate.slice(0, 5), ...forged.map(entry)],
    });
    const oneKey = await Promise.all(
      good.certificate.map((e) => signBody(accounts.get(2)!, session.domain, bodyOf(e.sender))),
    );
    await refuses({ ...good, certificate: oneKey.map(entry) });
    // a signature on another set, presented for this one, does not verify
    const otherSet = await Promise.all(
      good.certificate.map((e) =>
        signBody(accounts.get(e.sender)!, session.domain, {
          ...bodyOf(e.sender),
          survivors: good.survivors.slice(1),
        }),
      ),
    );
    await refuses({ ...good, certificate: otherSet.map(entry) });
    // a refusal consumed nothing: the honest certificate still works
    const msg = await c.unmask(good);
    assert.equal(msg.body.round, 4);
  });

  it("signs one set per session, only a set that contains the client; certificate signers are the two-hop group", async () => {
    const ctx = await maskedSession(40, 8, 75);
    const { session, clients } = ctx;
    const c = clients.get(7)!;
    const all = [...session.ids];
    await assert.rejects(
      c.consistency({ sessionId: session.sessionId, survivors: all.filter((x) => x !== 7) }),
    );
    await c.consistency({ sessionId: session.sessionId, survivors: all });
    await assert.rejects(
      c.consistency({ sessionId: session.sessionId, survivors: all }),
      (e: unknown) => e instanceof SecAggError && e.code === "OUT_OF_ROUND",
    );
    const signers = certificateSigners(session, 7);
    const expected = new Set<number>();
    for (const w of shareGroup(session, 7)) for (const x of shareGroup(session, w)) expected.add(x);
    assert.deepEqual(
      signers,
      [...expected].sort((a, b) => a - b),
    );
    assert.ok(signers.length <= 2 * session.degree + 1);
  });

  it("roster session keys: malformed ones are refused, unset or invalid points leave the member unable to sign", async () => {
    const accounts = accountsFor(4, 76);
    const config = makeConfig(accounts, 4);
    const withKey = (i: number, sessionKey: Hex) =>
      config.roster.map((r, j) => (j === i ? { ...r, sessionKey } : r));
    assert.throws(
      () => resolveSession({ ...config, roster: withKey(0, "0x1234") }),
      (e: unknown) => e instanceof SecAggError && e.code === "INVALID_CONFIG",
    );
    const ok: ResolvedSession = resolveSession(config);
    assert.equal(ok.sessionKeyOf.size, 4);
    // unset (zero) key: client 1 stays in the roster and the graph, but nothing it signs verifies
    const keyless = resolveSession({ ...config, roster: withKey(0, `0x${"00".repeat(32)}`) });
    assert.deepEqual(keyless.ids, ok.ids);
    assert.equal(keyless.sessionKeyOf.has(1), false);
    // another device's key registered for client 1: its own messages do not verify either
    const server = new SecAggServer({ ...config, roster: withKey(0, accounts.get(2)!.sessionKey) });
    const c1 = new SecAggClient({ config, id: 1, account: accounts.get(1)! });
    await assert.rejects(
      server.submit(await c1.advertise()),
      (e: unknown) => e instanceof SecAggError && e.code === "BAD_SIGNATURE",
    );
    // a device whose registered key is not its own cannot even build a client
    assert.throws(
      () =>
        new SecAggClient({
          config: { ...config, roster: withKey(0, accounts.get(2)!.sessionKey) },
          id: 1,
          account: accounts.get(1)!,
        }),
      (e: unknown) => e instanceof SecAggError && e.code === "INVALID_CONFIG",
    );
  });
});
