import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hkdfSync as nodeHkdf } from "node:crypto";
import { chacha20, chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { x25519 } from "@noble/curves/ed25519.js";
import { combine, split } from "shamir-secret-sharing";
import { combineShares } from "#sdk/secagg/shamir.ts";
import { LABEL_PAIR_MASK, deriveKey } from "#sdk/secagg/prg.ts";
import { X25519Secret } from "#sdk/secagg/x25519.ts";
import { openShare, sealShare } from "#sdk/secagg/share-cipher.ts";
import { sessionSignerOf } from "#sdk/crypto/session-key.ts";
import {
  MaskGenerator,
  SecAggClient,
  SecAggError,
  SecAggServer,
  decodeSum,
  encodeVector,
  fromJson,
  makeEncoding,
  resolveSession,
  signBody,
  simulateSession,
  toJson,
} from "#sdk/secagg/index.ts";
import type { SecAggSessionConfig, ShareKeysBody, Signed } from "#sdk/secagg/index.ts";
import { accountsFor, makeConfig, randomInputs, rng } from "./helpers.ts";

/** Σ encode(x_u) mod 2^32 over `ids`: the exact value the protocol must output. */
function plainSum(
  config: SecAggSessionConfig,
  inputs: Map<number, Float64Array>,
  ids: Iterable<number>,
): Uint32Array {
  const sum = new Uint32Array(config.vectorLength);
  for (const id of ids) {
    const e = encodeVector(inputs.get(id)!, config.encoding);
    for (let i = 0; i < sum.length; i++) sum[i] = sum[i]! + e[i]!;
  }
  return sum;
}

async function rejectsWith(p: Promise<unknown> | (() => unknown), code: string): Promise<void> {
  await assert.rejects(
    async () => (typeof p === "function" ? p() : p),
    (e: unknown) => e instanceof SecAggError && e.code === code,
  );
}

/** Drives clients and server by hand through the first rounds; returns everything for tampering tests. */
async function toRound(n: number, m: number, upTo: 1 | 2 | 3 | 4) {
  const accounts = accountsFor(n, 7);
  const config = makeConfig(accounts, m);
  const server = new SecAggServer(config);
  const clients = [...accounts.entries()].map(
    ([id, account]) => new SecAggClient({ config: server.session, id, account }),
  );
  const inputs = randomInputs(accounts.keys(), m, 99);
  const adverts: Signed[] = [];
  for (const c of clients) adverts.push(await c.advertise());
  for (const a of adverts) await server.submit(a);
  await server.advance();
  const shares: Signed[] = [];
  if (upTo >= 2) {
    for (const c of clients) shares.push(await c.shareKeys(server.keysFor(c.id)));
    for (const s of shares) await server.submit(s);
    await server.advance();
  }
  const masked: Signed[] = [];
  if (upTo >= 3) {
    for (const c of clients)
      masked.push(await c.maskedInput(server.sharesFor(c.id), inputs.get(c.id)!));
    for (const s of masked) await server.submit(s);
    await server.advance();
  }
  const checks: Signed[] = [];
  if (upTo >= 4) {
    for (const c of clients) checks.push(await c.consistency(server.consistencyRequest()));
    for (const s of checks) await server.submit(s);
    await server.advance();
  }
  return { accounts, config, server, clients, inputs, adverts, shares, masked, checks };
}

describe("secagg building blocks", () => {
  it("native and @noble ChaCha20 mask streams and HKDF-SHA256 are identical", () => {
    const seed = new Uint8Array(32).map((_, i) => i * 7 + 1);
    const a = new Uint32Array(new MaskGenerator(1000, { native: true }).expand(seed));
    const b = new Uint32Array(new MaskGenerator(1000, { native: false }).expand(seed));
    const ref = chacha20(seed, new Uint8Array(12), new Uint8Array(4000));
    assert.deepEqual(a, b);
    assert.deepEqual(new Uint8Array(a.buffer), ref);
    const ikm = new Uint8Array(32).fill(5);
    const salt = new Uint8Array(32).fill(6);
    assert.deepEqual(
      deriveKey(ikm, salt, LABEL_PAIR_MASK, { native: true }),
      deriveKey(ikm, salt, LABEL_PAIR_MASK, { native: false }),
    );
    const r = rng(3);
    for (const len of [0, 1, 32, 65]) {
      const bytes = (l: number) => new Uint8Array(l).map(() => Math.floor(r() * 256));
      const [k, sa, info] = [bytes(len), bytes(32), bytes(len % 40)];
      const native = deriveKey(k, sa, info, { native: true });
      assert.equal(native.length, 32);
      assert.deepEqual(native, deriveKey(k, sa, info, { native: false }));
      assert.deepEqual(native, new Uint8Array(nodeHkdf("sha256", k, sa, info, 32)));
    }
  });

  it("native and @noble X25519 agree (including on unclamped secrets) and low-order keys are refused", () => {
    for (let i = 0; i < 5; i++) {
      const a = x25519.utils.randomSecretKey();
      const b = x25519.utils.randomSecretKey();
      const pb = x25519.getPublicKey(b);
      const native = new X25519Secret(a, { native: true }).agree(pb);
      assert.deepEqual(native, x25519.getSharedSecret(a, pb));
      assert.deepEqual(new X25519Secret(a, { native: false }).agree(pb), native);
      assert.deepEqual(new X25519Secret(b).agree(x25519.getPublicKey(a)), native);
    }
    assert.throws(() =>
      new X25519Secret(x25519.utils.randomSecretKey(), { native: false }).agree(new Uint8Array(32)),
    );
  });

  it("native X25519 public keys equal @noble's (clamping included)", () => {
    const secrets = [
      new Uint8Array(32).fill(0xff),
      new Uint8Array(32),
      ...Array.from({ length: 5 }, () => x25519.utils.randomSecretKey()),
    ];
    for (const sk of secrets) {
      const native = new X25519Secret(sk, { native: true }).publicKey();
      assert.deepEqual(native, x25519.getPublicKey(sk));
      assert.deepEqual(new X25519Secret(sk, { native: false }).publicKey(), native);
    }
  });

  it("native and @noble ChaCha20-Poly1305 share ciphertexts are byte-identical and both refuse tampering", () => {
    const r = rng(17);
    const bytes = (len: number) => new Uint8Array(len).map(() => Math.floor(r() * 256));
    for (const len of [0, 1, 80, 81, 200]) {
      const [key, nonce, aad, pt] = [bytes(32), bytes(12), bytes(len % 60), bytes(len)];
      const native = sealShare(key, nonce, aad, pt, { native: true });
      const noble = sealShare(key, nonce, aad, pt, { native: false });
      assert.deepEqual(native, noble);
      assert.deepEqual(native, chacha20poly1305(key, nonce, aad).encrypt(pt));
      for (const opt of [true, false]) {
        assert.deepEqual(openShare(key, nonce, aad, native, { native: opt }), pt);
        const flipped: Uint8Array = new Uint8Array(native);
        const at = Math.floor(r() * flipped.length);
        flipped[at] = flipped[at]! ^ 1;
        assert.equal(openShare(key, nonce, aad, flipped, { native: opt }), undefined);
        const otherAad = new Uint8Array([...aad, 1]);
        assert.equal(openShare(key, nonce, otherAad, native, { native: opt }), undefined);
        assert.equal(
          openShare(key, nonce, aad, native.subarray(0, 15), { native: opt }),
          undefined,
        );
      }
    }
  });

  it("fast Shamir reconstruction matches shamir-secret-sharing's combine", async () => {
    for (const [n, t] of [
      [2, 2],
      [5, 3],
      [40, 27],
      [255, 128],
    ] as const) {
      const secret = new Uint8Array(32).map(() => Math.floor(Math.random() * 256));
      const shares = await split(secret, n, t);
      const subset = shares.slice(n - t);
      assert.deepEqual(combineShares(subset), secret);
      assert.deepEqual(combineShares(subset), await combine(subset));
      if (t > 2)
        assert.notDeepEqual(combineShares(subset.slice(1)), secret, "t − 1 shares do not suffice");
    }
    assert.throws(() => combineShares([new Uint8Array(33)]), SecAggError);
  });

  it("fixed-point encoding clips, offsets and decodes sums of maxClients without wrapping", () => {
    const enc = makeEncoding({ clip: 4, maxClients: 1000 });
    assert.ok(2 * enc.offset * 1000 <= 0xffffffff);
    assert.equal(Math.log2(enc.scale) % 1, 0, "default scale is a power of two");
    const x = [0, 1.5, -1.5, 100, -100, Number.NaN, 0.25];
    const e = encodeVector(x, enc);
    assert.deepEqual([...decodeSum(e, 1, enc)], [0, 1.5, -1.5, 4, -4, 0, 0.25]);
    const sum = new Uint32Array(x.length);
    for (let i = 0; i < 1000; i++) for (let j = 0; j < x.length; j++) sum[j] = sum[j]! + e[j]!;
    assert.deepEqual([...decodeSum(sum, 1000, enc)], [0, 1500, -1500, 4000, -4000, 0, 250]);
    assert.throws(() => makeEncoding({ clip: 4, maxClients: 10, scale: 2 ** 30 }), SecAggError);
  });

  it("SecAgg+ graph is regular, symmetric, session-seeded; defaults are documented values", () => {
    const accounts = accountsFor(200, 3);
    const config = makeConfig(accounts, 4, { degree: 16 });
    const s = resolveSession(config);
    assert.equal(s.mode, "plus");
    assert.equal(s.threshold, 9);
    for (const [u, nb] of s.neighbours) {
      assert.equal(nb.length, 16);
      assert.ok(!nb.includes(u));
      for (const v of nb) assert.ok(s.neighbours.get(v)!.includes(u));
    }
    const again = resolveSession(config);
    assert.deepEqual(again.neighbours.get(1), s.neighbours.get(1));
    const other = resolveSession({ ...config, sessionId: `0x${"ab".repeat(32)}` });
    assert.notDeepEqual(other.neighbours.get(1), s.neighbours.get(1));
    const full = resolveSession(makeConfig(accountsFor(20, 3), 4));
    assert.equal(full.mode, "full");
    assert.equal(full.threshold, 14);
    assert.throws(() => resolveSession(makeConfig(accountsFor(2, 3), 4)), SecAggError);
  });

  it("JSON codec round-trips every message kind and rejects malformed input", async () => {
    const { shares, masked, checks, server, clients } = await toRound(4, 9, 4);
    const unmask = await clients[0]!.unmask(server.unmaskRequest(1));
    for (const msg of [shares[0]!, masked[1]!, checks[2]!, unmask]) {
      const back = fromJson(JSON.parse(JSON.stringify(toJson(msg))));
      assert.deepEqual(toJson(back), toJson(msg));
    }
    await rejectsWith(() => fromJson({ body: { round: 2 } }), "INVALID_MESSAGE");
  });
});

describe("secagg exact sums", () => {
  for (const [n, m, seed] of [
    [3, 1, 1],
    [5, 33, 2],
    [10, 257, 3],
    [16, 1000, 4],
  ] as const) {
    it(`n=${n} m=${m}: unmasked sum equals the plaintext fixed-point sum exactly`, async () => {
      const accounts = accountsFor(n, seed);
      const config = makeConfig(accounts, m);
      const inputs = randomInputs(accounts.keys(), m, seed);
      const { result, server } = await simulateSession({ config, accounts, inputs });
      assert.deepEqual(result.sum, plainSum(config, inputs, accounts.keys()));
      assert.deepEqual(result.survivors, [...accounts.keys()]);
      assert.equal(server.round, "done");
      // decoded value equals the exact float sum of the quantised inputs
      const expected = decodeSum(plainSum(config, inputs, accounts.keys()), n, config.encoding);
      assert.deepEqual(result.decoded, expected);
    });
  }

  it("integer counts aggregate exactly (scale 1)", async () => {
    const accounts = accountsFor(6, 11);
    const config = makeConfig(accounts, 3, {
      encoding: makeEncoding({ clip: 1000, maxClients: 6, scale: 1 }),
    });
    const inputs = new Map(
      [...accounts.keys()].map((id) => [id, Float64Array.from([id, 2 * id, 7])]),
    );
    const { result } = await simulateSession({ config, accounts, inputs });
    assert.deepEqual([...result.decoded], [21, 42, 42]);
  });

  for (const round of [0, 1, 2, 3, 4] as const) {
    it(`dropouts of n − t clients before round ${round} still give the exact sum of survivors`, async () => {
      const n = 12;
      const accounts = accountsFor(n, 20 + round);
      const config = makeConfig(accounts, 64);
      const t = resolveSession(config).threshold; // 9
      const droppedIds = [2, 5, 11].slice(0, n - t);
      const inputs = randomInputs(accounts.keys(), 64, 50 + round);
      const drops = new Map(droppedIds.map((id) => [id, round]));
      const { result } = await simulateSession({ config, accounts, inputs, drops });
      // clients silent in the consistency or unmasking round already sent their masked input: they are survivors
      const included = [...accounts.keys()].filter((id) => round >= 3 || !droppedIds.includes(id));
      assert.deepEqual(result.survivors, included);
      assert.deepEqual(result.sum, plainSum(config, inputs, included));
    });
  }

  it("dropouts spread over every round (n − t in total) keep the sum exact", async () => {
    const accounts = accountsFor(20, 31);
    const config = makeConfig(accounts, 100);
    const inputs = randomInputs(accounts.keys(), 100, 31);
    const drops = new Map<number, 0 | 1 | 2 | 3 | 4>([
      [1, 0],
      [4, 1],
      [9, 1],
      [13, 2],
      [17, 2],
      [20, 4],
    ]);
    const { result } = await simulateSession({ config, accounts, inputs, drops });
    const included = [...accounts.keys()].filter((id) => ![1, 4, 9, 13, 17].includes(id));
    assert.deepEqual(result.sum, plainSum(config, inputs, included));
  });

  for (const round of [0, 1, 2, 3, 4] as const) {
    it(`more than n − t dropouts before round ${round} fail with TOO_FEW_SURVIVORS`, async () => {
      const accounts = accountsFor(9, 40 + round);
      const config = makeConfig(accounts, 8); // t = 7
      const inputs = randomInputs(accounts.keys(), 8, 40);
      const drops = new Map([1, 2, 3].map((id) => [id, round]));
      await rejectsWith(simulateSession({ config, accounts, inputs, drops }), "TOO_FEW_SURVIVORS");
    });
  }

  it("SecAgg+: a neighbourhood losing more than k + 1 − t members fails with TOO_FEW_SHARES", async () => {
    const accounts = accountsFor(30, 9);
    const config = makeConfig(accounts, 8, { degree: 6 });
    const session = resolveSession(config);
    assert.equal(session.threshold, 4);
    const victim = 1;
    // 4 of the victim's 6 neighbours go silent in the unmasking round: 3 shares of b_1 remain (< t = 4)
    const silent = session.neighbours.get(victim)!.slice(0, 4);
    const drops = new Map(silent.map((id) => [id, 4 as const]));
    const inputs = randomInputs(accounts.keys(), 8, 9);
    await rejectsWith(
      simulateSession({ config: session, accounts, inputs, drops }),
      "TOO_FEW_SHARES",
    );
  });

  it("SecAgg+ with n = 200 (k = 16) and 10% dropout is exact", async () => {
    const accounts = accountsFor(200, 5);
    const config = makeConfig(accounts, 50, { degree: 16 });
    const inputs = randomInputs(accounts.keys(), 50, 5);
    const r = rng(77);
    const drops = new Map<number, 0 | 1 | 2 | 3 | 4>();
    for (const id of accounts.keys())
      if (r() < 0.1) drops.set(id, Math.floor(r() * 5) as 0 | 1 | 2 | 3 | 4);
    const { result, server } = await simulateSession({ config, accounts, inputs, drops });
    assert.equal(server.session.mode, "plus");
    const included = [...accounts.keys()].filter((id) => (drops.get(id) ?? 3) >= 3);
    assert.deepEqual(result.survivors, included);
    assert.deepEqual(result.sum, plainSum(config, inputs, included));
  });
});

describe("secagg server holds no plaintext", () => {
  it("stores only the running sum of masked vectors, never equal to a client's encoding", async () => {
    const { server, clients, config, inputs, accounts } = await toRound(8, 256, 2);
    const plains = [...accounts.keys()].map((id) => encodeVector(inputs.get(id)!, config.encoding));
    const check = () => {
      for (const v of server.storedVectors()) {
        for (const plain of plains) {
          let same = 0;
          for (let i = 0; i < v.length; i++) if (v[i] === plain[i]) same++;
          assert.ok(same < 4, "held vector shares almost no coordinate with any plaintext");
        }
      }
    };
    assert.equal(server.storedVectors().length, 0);
    for (const c of clients) {
      await server.submit(await c.maskedInput(server.sharesFor(c.id), inputs.get(c.id)!));
      assert.equal(server.storedVectors().length, 1);
      check();
    }
    await server.advance();
    for (const c of clients) await server.submit(await c.consistency(server.consistencyRequest()));
    await server.advance();
    for (const c of clients) await server.submit(await c.unmask(server.unmaskRequest(c.id)));
    await server.advance();
    assert.equal(
      server.storedVectors().length,
      0,
      "nothing input-dependent is kept after unmasking",
    );
  });
});

describe("secagg rejections", () => {
  it("rejects wrong vector lengths, at the client and at the server", async () => {
    const { server, clients, inputs } = await toRound(5, 16, 2);
    const c = clients[0]!;
    await rejectsWith(c.maskedInput(server.sharesFor(c.id), new Float64Array(15)), "WRONG_LENGTH");
    // a client that signs a too-short vector is rejected by the server
    const c2 = clients[1]!;
    const good = await c2.maskedInput(server.sharesFor(c2.id), inputs.get(c2.id)!);
    const account = accountsFor(5, 7).get(c2.id)!;
    const short = await signBody(account, server.session.domain, {
      ...good.body,
      masked: good.body.round === 2 ? good.body.masked.slice(0, 15) : new Uint32Array(0),
    });
    await rejectsWith(server.submit(short), "WRONG_LENGTH");
    // the signed short vector is a proof of c2's fault: c2 is dropped, its later messages are refused
    assert.deepEqual(
      server.faults.map((f) => [f.client, f.code, f.message]),
      [[c2.id, "WRONG_LENGTH", short]],
    );
    await rejectsWith(server.submit(good), "NOT_PARTICIPANT");
    assert.ok(!server.pending().includes(c2.id));
  });

  it("rejects bad signatures, tampered bodies and unknown clients", async () => {
    const accounts = accountsFor(4, 8);
    const config = makeConfig(accounts, 4);
    const server = new SecAggServer(config);
    const c1 = new SecAggClient({ config, id: 1, account: accounts.get(1)! });
    const msg = await c1.advertise();
    const tampered = { ...msg, body: { ...msg.body, sPk: new Uint8Array(32).fill(9) } } as Signed;
    await rejectsWith(server.submit(tampered), "BAD_SIGNATURE");
    const stranger = sessionSignerOf(`0x${"11".repeat(32)}`);
    const forged = await signBody(stranger, server.session.domain, {
      ...msg.body,
      sender: 2,
    });
    await rejectsWith(server.submit(forged), "BAD_SIGNATURE");
    const lowOrder = await signBody(accounts.get(3)!, server.session.domain, {
      ...msg.body,
      sender: 3,
      sPk: new Uint8Array(32),
    });
    await rejectsWith(server.submit(lowOrder), "INVALID_MESSAGE");
    assert.deepEqual(
      server.faults.map((f) => f.client),
      [3],
    );
    await rejectsWith(
      server.submit({ ...msg, body: { ...msg.body, sender: 99 } } as Signed),
      "UNKNOWN_CLIENT",
    );
    await rejectsWith(
      server.submit({ ...msg, body: { ...msg.body, sessionId: `0x${"00".repeat(32)}` } } as Signed),
      "WRONG_SESSION",
    );
    // another chain's domain
    const other = await signBody(
      accounts.get(1)!,
      { ...server.session.domain, chainId: 1 },
      msg.body,
    );
    await rejectsWith(server.submit(other), "BAD_SIGNATURE");
    await server.submit(msg);
    assert.deepEqual(server.pending(), [2, 4]);
    assert.throws(
      () => new SecAggClient({ config, id: 2, account: accounts.get(1)! }),
      SecAggError,
    );
  });

  it("rejects replays, duplicates and out-of-round messages", async () => {
    const { server, clients, adverts, shares } = await toRound(5, 8, 2);
    await rejectsWith(server.submit(adverts[0]!), "REPLAY");
    await rejectsWith(server.submit(shares[2]!), "REPLAY");
    const c = clients[0]!;
    const masked = await c.maskedInput(server.sharesFor(c.id), new Float64Array(8));
    await server.submit(masked);
    await rejectsWith(server.submit(masked), "REPLAY");
    const signedEarly = await c.consistency({
      sessionId: server.session.sessionId,
      survivors: [1, 2, 3, 4, 5],
    });
    await rejectsWith(server.submit(signedEarly), "OUT_OF_ROUND");
    // a fresh advertisement (new signature) in round 2 is out of round
    const late = await new SecAggClient({
      config: server.session,
      id: 3,
      account: accountsFor(5, 7).get(3)!,
    }).advertise();
    await rejectsWith(server.submit(late), "OUT_OF_ROUND");
    await rejectsWith(c.advertise(), "OUT_OF_ROUND");
  });

  it("a client refuses neighbours advertising low-order or reused keys, and sends them no share", async () => {
    const { server, clients, accounts } = await toRound(10, 8, 1);
    const c = clients[0]!;
    const adverts = server.keysFor(c.id);
    assert.equal(adverts.length, 9);
    // order-8 point (RFC 7748 / libsodium blocklist) and the zero point: all-zero shared secret with every scalar
    const order8 = Uint8Array.from(
      Buffer.from("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800", "hex"),
    );
    const forge = async (i: number, cPk: Uint8Array, sPk: Uint8Array) => {
      const body = { ...adverts[i]!.body, cPk, sPk } as Signed["body"];
      return signBody(accounts.get(body.sender)!, server.session.domain, body);
    };
    const good = adverts[2]!.body as { cPk: Uint8Array; sPk: Uint8Array };
    const tampered = [
      await forge(0, order8, good.sPk),
      await forge(1, good.cPk, new Uint8Array(32)),
      await forge(2, good.cPk, good.cPk),
      ...adverts.slice(3),
    ];
    const msg = await c.shareKeys(tampered);
    assert.deepEqual(
      c.peerFaults.map((f) => [f.client, f.code]),
      [0, 1, 2].map((i) => [adverts[i]!.body.sender, "INVALID_MESSAGE"]),
    );
    assert.deepEqual(
      (msg.body as ShareKeysBody).shares.map((s) => s.to),
      adverts.slice(3).map((a) => a.body.sender),
    );
  });

  it("rejects bad shares: AEAD failure and wrong recipient at the client, wrong routing at the server", async () => {
    const { server, clients } = await toRound(5, 8, 2);
    const c = clients[0]!;
    const incoming = server.sharesFor(c.id);
    const flipped = incoming.map((s, i) => {
      const ct = new Uint8Array(s.ciphertext);
      if (i === 0) ct[3] = ct[3]! ^ 1;
      return { from: s.from, ciphertext: ct };
    });
    // an undecryptable share does not stop the client: it masks with every sender and records the fault
    await c.maskedInput(flipped, new Float64Array(8));
    assert.deepEqual(
      c.peerFaults.map((f) => [f.client, f.code]),
      [[incoming[0]!.from, "BAD_SHARE"]],
    );
    // a ciphertext meant for client 3 delivered to client 2 fails authentication (AD binds the pair)
    const c2 = clients[1]!;
    const misrouted = server.sharesFor(3).filter((s) => s.from !== 2);
    await c2.maskedInput(misrouted, new Float64Array(8));
    assert.deepEqual(
      c2.peerFaults.map((f) => f.code),
      misrouted.map(() => "BAD_SHARE"),
    );
  });

  it("server rejects share-keys messages that skip or add recipients, dropping their signers", async () => {
    const { server, clients } = await toRound(5, 8, 1);
    const accounts = accountsFor(5, 7);
    const goods: Signed<ShareKeysBody>[] = [];
    for (const c of clients) goods.push(await c.shareKeys(server.keysFor(c.id)));
    const [g1, g2, g3] = goods.map((g) => g.body);
    const missing = await signBody(accounts.get(1)!, server.session.domain, {
      ...g1!,
      shares: g1!.shares.slice(1),
    });
    await rejectsWith(server.submit(missing), "BAD_SHARE");
    const doubled = await signBody(accounts.get(2)!, server.session.domain, {
      ...g2!,
      shares: [...g2!.shares, g2!.shares[0]!],
    });
    await rejectsWith(server.submit(doubled), "BAD_SHARE");
    const self = await signBody(accounts.get(3)!, server.session.domain, {
      ...g3!,
      shares: [{ to: 3, ciphertext: g3!.shares[0]!.ciphertext }, ...g3!.shares.slice(1)],
    });
    await rejectsWith(server.submit(self), "NOT_NEIGHBOUR");
    assert.deepEqual(
      server.faults.map((f) => [f.client, f.code, f.message]),
      [
        [1, "BAD_SHARE", missing],
        [2, "BAD_SHARE", doubled],
        [3, "NOT_NEIGHBOUR", self],
      ],
    );
    await rejectsWith(server.submit(goods[0]!), "NOT_PARTICIPANT");
    await server.submit(goods[3]!);
    await server.submit(goods[4]!);
    assert.deepEqual(server.pending(), []);
  });

  it("never reveals both shares of a client: client refuses, server rejects", async () => {
    const { server, clients, accounts } = await toRound(6, 8, 4);
    const c = clients[0]!;
    await rejectsWith(
      c.unmask({ ...server.unmaskRequest(1), dropped: [2] }),
      "BOTH_SHARES_REQUESTED",
    );
    // the refusal consumed nothing secret; build a malicious unmask body by hand and check the server rejects it
    const honest = await clients[1]!.unmask(server.unmaskRequest(2));
    if (honest.body.round !== 4) throw new Error("unreachable");
    const both = await signBody(accounts.get(2)!, server.session.domain, {
      ...honest.body,
      keyShares: [{ of: 3, share: honest.body.selfMaskShares[0]!.share }],
    });
    await rejectsWith(server.submit(both), "BOTH_SHARES_REQUESTED");
    assert.deepEqual(
      server.faults.map((f) => [f.client, f.code]),
      [[2, "BOTH_SHARES_REQUESTED"]],
    );
    await rejectsWith(server.submit(honest), "NOT_PARTICIPANT");
  });

  it("a corrupted revealed share is detected at reconstruction", async () => {
    const { server, clients, accounts, config, inputs } = await toRound(5, 8, 4); // t = 4
    for (const c of clients) {
      const msg = await c.unmask(server.unmaskRequest(c.id));
      if (msg.body.round !== 4) throw new Error("unreachable");
      if (c.id === 1) {
        const bad = msg.body.selfMaskShares.map((s) => ({
          of: s.of,
          share: s.share.map((b, i) => (i === 0 ? b ^ 1 : b)),
        }));
        await server.submit(
          await signBody(accounts.get(1)!, server.session.domain, {
            ...msg.body,
            selfMaskShares: bad,
          }),
        );
      } else await server.submit(msg);
    }
    // 5 shares for t = 4: the server retries another window and still reconstructs
    await server.advance();
    assert.equal(server.getResult().survivors.length, config.roster.length);
    assert.deepEqual(server.getResult().sum, plainSum(config, inputs, accounts.keys()));
  });
});
