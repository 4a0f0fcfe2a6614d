import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, describe, it } from "node:test";
import { bytesToHex, hexToBytes } from "viem";
import type { Hex } from "viem";
import { secAggDigestBytes } from "#sdk/crypto/signing.ts";
import { SecAggClient } from "#sdk/secagg/client.ts";
import { envelopeOf, shareDigest } from "#sdk/secagg/messages.ts";
import { signBody } from "#sdk/secagg/messages.ts";
import type { AdvertiseBody, ShareKeysBody, Signed } from "#sdk/secagg/messages.ts";
import { resolveSession } from "#sdk/secagg/params.ts";
import type { ResolvedSession } from "#sdk/secagg/params.ts";
import { SecAggServer } from "#sdk/secagg/server.ts";
import { transcriptV2Of } from "#sdk/secagg/transcript-v2.ts";
import { replayTranscript } from "#sdk/secagg/replay.ts";
import { BatchVerifier, runChecks, sharesDigest } from "#sdk/secagg/signature-batch.ts";
import { simulateSession } from "#sdk/secagg/simulate.ts";
import { UnmaskPool } from "#sdk/secagg/unmask-pool.ts";
import { accountsFor, makeConfig, randomInputs } from "./helpers.ts";

const pool = new UnmaskPool(2);
after(() => pool.close());

/** A session of n clients, their round-0 messages, and their round-1 messages (a server advanced past round 0). */
async function messages(n: number): Promise<{
  session: ResolvedSession;
  adverts: Signed[];
  shares: Signed<ShareKeysBody>[];
}> {
  const accounts = accountsFor(n, 7);
  const session = resolveSession(makeConfig(accounts, 4));
  const server = new SecAggServer(session, { verifyInPool: false });
  const clients = session.ids.map(
    (id) => new SecAggClient({ config: session, id, account: accounts.get(id)! }),
  );
  const adverts: Signed[] = [];
  for (const c of clients) adverts.push(await c.advertise());
  for (const a of adverts) await server.submit(a);
  await server.advance();
  const shares: Signed<ShareKeysBody>[] = [];
  for (const c of clients)
    shares.push((await c.shareKeys(server.keysFor(c.id))) as Signed<ShareKeysBody>);
  return { session, adverts, shares };
}

const rawKey = (s: ResolvedSession, id: number) =>
  hexToBytes(s.config.roster.find((r) => r.id === id)!.sessionKey);

const flip = (b: Uint8Array, at = 0) => {
  const c = b.slice();
  c[at]! ^= 1;
  return c;
};

describe("signature checks in the worker pool (signature-batch.ts)", () => {
  it("test_sharesDigest_anyLayout_equalsCanonicalPayload", () => {
    const domain = { chainId: 31337, verifyingContract: bytesToHex(randomBytes(20)) as Hex };
    // well-formed and malformed lengths alike: the worker must hash exactly what inline verification hashes
    for (const [c, lengths] of [
      [32, [104, 104, 104]],
      [0, []],
      [31, [0, 103, 200]],
      [33, [104]],
    ] as const) {
      const body: ShareKeysBody = {
        sessionId: bytesToHex(randomBytes(32)),
        round: 1,
        sender: 77,
        selfMaskCommitment: randomBytes(c),
        shares: lengths.map((l, i) => ({ to: 1000 + i, ciphertext: randomBytes(l) })),
      };
      const head = new Uint8Array(44 + c + 8 * lengths.length);
      const view = new DataView(head.buffer);
      head.set(hexToBytes(body.sessionId), 0);
      view.setUint32(32, body.sender);
      view.setUint32(36, c);
      head.set(body.selfMaskCommitment, 40);
      view.setUint32(40 + c, lengths.length);
      body.shares.forEach((sh, i) => {
        view.setUint32(44 + c + 8 * i, sh.to);
        view.setUint32(48 + c + 8 * i, sh.ciphertext.length);
      });
      const rest = Buffer.concat([head, ...body.shares.map((sh) => sh.ciphertext)]);
      const got = sharesDigest(rest, domain);
      assert.deepEqual(got.digest, secAggDigestBytes(domain, envelopeOf(body)));
      assert.deepEqual(
        got.digests,
        body.shares.map((sh) => shareDigest(sh)),
      );
      // a layout whose lengths do not add up is refused, never read past
      assert.throws(() => sharesDigest(rest.subarray(0, rest.length - 1), domain), RangeError);
    }
  });

  it("test_batchVerifier_realMessages_validAcceptedTamperedRefused", async () => {
    const { session, adverts, shares } = await messages(8);
    const v = new BatchVerifier(pool, session.domain, { chunkSize: 5 });
    const digestOf = (m: Signed) => secAggDigestBytes(session.domain, envelopeOf(m.body));
    const checks: Promise<unknown>[] = [];
    for (const m of adverts) {
      const key = rawKey(session, m.body.sender);
      const sig = hexToBytes(m.signature);
      checks.push(
        v.verifyDigest(key, digestOf(m), sig).then((ok) => assert.equal(ok, true)),
        v.verifyDigest(key, digestOf(m), flip(sig, 10)).then((ok) => assert.equal(ok, false)),
        v.verifyDigest(key, flip(digestOf(m)), sig).then((ok) => assert.equal(ok, false)),
        v
          .verifyDigest(rawKey(session, (m.body.sender % 8) + 1), digestOf(m), sig)
          .then((ok) => assert.equal(ok, false)),
        // 0xff…ff is no Ed25519 point: nothing verifies against it
        v
          .verifyDigest(new Uint8Array(32).fill(0xff), digestOf(m), sig)
          .then((ok) => assert.equal(ok, false)),
      );
    }
    for (const m of shares) {
      const key = rawKey(session, m.body.sender);
      const sig = hexToBytes(m.signature);
      checks.push(
        v.verifyShares(key, m.body, sig).then((r) => {
          assert.equal(r.ok, true);
          assert.deepEqual(
            r.digests,
            m.body.shares.map((sh) => shareDigest(sh)),
          );
        }),
      );
      const tampered = {
        ...m.body,
        shares: m.body.shares.map((sh, i) =>
          i === 1 ? { ...sh, ciphertext: flip(sh.ciphertext, 50) } : sh,
        ),
      };
      checks.push(v.verifyShares(key, tampered, sig).then((r) => assert.equal(r.ok, false)));
    }
    await Promise.all(checks);
    assert.equal(v.stats.checks, 7 * 8);
    assert.ok(v.stats.chunks >= 56 / 5, `chunks ${v.stats.chunks}`);
    assert.equal(v.stats.fallbacks, 0);
  });

  it("test_runChecks_unreadableShareKeysCheck_contributesNoDigests", async () => {
    const { session, shares } = await messages(5);
    const m = shares[0]!;
    const captured: Uint8Array[] = [];
    const v = new BatchVerifier(
      {
        verify: (b, d) => {
          captured.push(b.slice());
          return Promise.resolve(runChecks(b, d));
        },
      },
      session.domain,
      { chunkSize: 1 },
    );
    const r = await v.verifyShares(rawKey(session, m.body.sender), m.body, hexToBytes(m.signature));
    assert.equal(r.ok, true);
    // a kind-1 check whose body cannot be read (10 bytes), then the valid one: the valid one keeps its own digests
    const bad = new Uint8Array(101 + 10);
    new DataView(bad.buffer).setUint32(0, bad.length);
    bad[100] = 1;
    const answers = runChecks(Buffer.concat([bad, captured[0]!]), session.domain);
    assert.deepEqual([...answers.ok], [0, 1]);
    assert.deepEqual([...answers.counts], [0, m.body.shares.length]);
    assert.deepEqual(
      answers.digests,
      new Uint8Array(Buffer.concat(m.body.shares.map((sh) => shareDigest(sh)))),
    );
  });

  it("test_batchVerifier_poolClosed_checksInlineSameAnswers", async () => {
    const { session, shares } = await messages(6);
    const closed = new UnmaskPool(1);
    await closed.close();
    const v = new BatchVerifier(closed, session.domain);
    const answers = await Promise.all(
      shares.flatMap((m) => {
        const key = rawKey(session, m.body.sender);
        const sig = hexToBytes(m.signature);
        return [v.verifyShares(key, m.body, sig), v.verifyShares(key, m.body, flip(sig, 3))];
      }),
    );
    assert.deepEqual(
      answers.map((a) => a.ok),
      shares.flatMap(() => [true, false]),
    );
    assert.ok(v.stats.fallbacks >= 1);
  });

  it("test_server_verifyInPool_sameResultAndReplayableTranscript", async () => {
    const accounts = accountsFor(12, 8);
    const config = makeConfig(accounts, 9, { degree: 6 });
    const session = resolveSession(config);
    const inputs = randomInputs(session.ids, 9, 5);
    const drops = new Map([[4, 2 as const]]); // one client drops after ShareKeys: its masks are removed
    const run = (verifyInPool: boolean) =>
      simulateSession({
        config: session,
        accounts,
        inputs,
        drops,
        recordTranscript: true,
        verifyInPool,
      });
    const inline = await run(false);
    const pooled = await run(true);
    assert.equal(inline.server.verifierStats, undefined);
    assert.equal(pooled.server.verifierStats?.checks, 12 + 12 + 11 + 11 + 11);
    assert.deepEqual(pooled.result.sum, inline.result.sum);
    assert.deepEqual(pooled.result.survivors, inline.result.survivors);
    // the round-1 messages are recorded with the digests the workers computed: an attestor's replay verifies every
    // signature over them and recomputes the same sum
    const replayed = await replayTranscript(transcriptV2Of(pooled.server), {
      sessionId: config.sessionId,
      roster: config.roster,
      domain: session.domain,
      vectorLength: 9,
    });
    assert.deepEqual([...replayed.sum], [...pooled.result.sum]);
    assert.deepEqual(replayed.survivors, pooled.result.survivors);
  });

  it("test_server_verifyInPool_badSignature_rejectedStateUnchanged", async () => {
    const { session, adverts } = await messages(6);
    const server = new SecAggServer(session, { verifyInPool: true, unmask: { pool } });
    const forged: Signed = {
      body: adverts[0]!.body,
      signature: adverts[1]!.signature, // another client's signature
    };
    await assert.rejects(server.submit(forged), { code: "BAD_SIGNATURE" });
    assert.deepEqual(server.pending(), session.ids);
    // concurrent valid messages all land
    await Promise.all(adverts.map((m) => server.submit(m)));
    assert.deepEqual(server.pending(), []);
    assert.ok((server.verifierStats?.checks ?? 0) >= 7);
  });

  it("test_server_verifyInPool_lowOrderKey_faultLikeInline", async () => {
    // the worker tests the advertised keys for low order with the signature: a validly signed advertisement of a
    // low-order key drops its sender as a signed fault, as the inline check does; a well-formed one is accepted
    const { session, adverts } = await messages(5);
    const accounts = accountsFor(5, 7);
    for (const verifyInPool of [false, true]) {
      const server = new SecAggServer(session, { verifyInPool, unmask: { pool } });
      const base = adverts[0]!.body as AdvertiseBody;
      const lowOrder = await signBody(accounts.get(3)!, session.domain, {
        ...base,
        sender: 3,
        cPk: new Uint8Array(32).fill(0).map((_, i) => (i === 0 ? 1 : 0)), // u = 1
      });
      await assert.rejects(server.submit(lowOrder), { code: "INVALID_MESSAGE" });
      assert.deepEqual(
        server.faults.map((f) => [f.client, f.code]),
        [[3, "INVALID_MESSAGE"]],
        `verifyInPool ${verifyInPool}`,
      );
      await server.submit(adverts[0]!);
      assert.ok(!server.pending().includes(adverts[0]!.body.sender));
      assert.equal((server.verifierStats?.checks ?? 0) > 0, verifyInPool);
    }
  });
});
