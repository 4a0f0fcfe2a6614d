import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import type { SessionSigner } from "#sdk/crypto/session-key.ts";
import { signSecAggEnvelope } from "#sdk/crypto/signing.ts";
import {
  SecAggClient,
  SecAggError,
  SecAggServer,
  encodeVector,
  envelopeOf,
  fromJson,
  toJson,
  verifySigned,
} from "#sdk/secagg/index.ts";
import type { SecAggBody, SecAggResult, Signed } from "#sdk/secagg/index.ts";
import { accountsFor, makeConfig, randomInputs } from "./helpers.ts";

const N = 10;
const M = 16;
const CULPRIT = 4;

/** Signs any body, malformed ones included (honest devices never do; `signBody` refuses malformed shapes). */
function signRaw<B extends SecAggBody>(
  account: SessionSigner,
  domain: { chainId: number; verifyingContract: `0x${string}` },
  body: B,
): Promise<Signed<B>> {
  return Promise.resolve({
    body,
    signature: signSecAggEnvelope(account, domain, envelopeOf(body)),
  });
}

type Tamper = (round: number, msg: Signed, account: SessionSigner) => Promise<Signed | undefined>;

/**
 * Runs a whole session in process where client CULPRIT's message of some round is replaced by `tamper`'s (undefined:
 * the honest message). Honest messages must all be accepted; the culprit's tampered one may be refused. Messages go
 * through the JSON codec, as over HTTP.
 */
async function runWithCulprit(tamper: Tamper, seed: number) {
  const accounts = accountsFor(N, seed);
  const config = makeConfig(accounts, M);
  const server = new SecAggServer(config);
  const session = server.session;
  const clients = new Map(
    [...accounts].map(([id, account]) => [id, new SecAggClient({ config: session, id, account })]),
  );
  const inputs = randomInputs(accounts.keys(), M, seed);
  const refusals: { round: number; code: string }[] = [];
  const make = (round: number, c: SecAggClient): Promise<Signed> => {
    switch (round) {
      case 0:
        return c.advertise();
      case 1:
        return c.shareKeys(server.keysFor(c.id));
      case 2:
        return c.maskedInput(server.sharesFor(c.id), inputs.get(c.id)!);
      case 3:
        return c.consistency(server.consistencyRequest());
      default:
        return c.unmask(server.unmaskRequest(c.id));
    }
  };
  for (let round = 0; round <= 4; round++) {
    for (const id of server.pending()) {
      const c = clients.get(id)!;
      let msg = await make(round, c);
      if (id === CULPRIT) msg = (await tamper(round, msg, accounts.get(id)!)) ?? msg;
      const wire = JSON.parse(JSON.stringify(toJson(msg))) as unknown;
      try {
        await server.submit(fromJson(wire));
      } catch (e) {
        assert.equal(id, CULPRIT, `honest client ${id} refused: ${String(e)}`);
        assert.ok(e instanceof SecAggError);
        refusals.push({ round, code: e.code });
      }
    }
    await server.advance();
  }
  const result = server.getResult();
  const expected = new Uint32Array(M);
  for (const id of result.survivors) {
    const e = encodeVector(inputs.get(id)!, config.encoding);
    for (let i = 0; i < M; i++) expected[i] = expected[i]! + e[i]!;
  }
  assert.deepEqual(result.sum, expected, "exact sum of the survivors");
  return { result, refusals, clients, session };
}

/** The culprit's fault is listed once, with a message that verifies against its roster address. */
async function assertProof(
  r: { result: SecAggResult; session: SecAggServer["session"] },
  round: number,
  code: string,
) {
  assert.deepEqual(
    r.result.faults.map((f) => [f.client, f.round, f.code]),
    [[CULPRIT, round, code]],
  );
  const proof = r.result.faults[0]!.message;
  assert.equal(proof.body.sender, CULPRIT);
  // the proof verifies against the culprit's registered session key
  assert.ok(verifySigned(r.session.sessionKeyOf.get(CULPRIT)!, r.session.domain, proof));
}

describe("secagg: a malformed message drops its sender, never the session", () => {
  it("garbage advertisement (wrong-size keys): culprit dropped in round 0, listed with its signed message", async () => {
    const r = await runWithCulprit(async (round, msg, account) => {
      if (round !== 0 || msg.body.round !== 0) return undefined;
      const body = {
        ...msg.body,
        cPk: new Uint8Array(randomBytes(7)),
        sPk: new Uint8Array(randomBytes(100)),
      };
      return signRaw(account, { chainId: 31337, verifyingContract: `0x${"00".repeat(20)}` }, body);
    }, 81);
    assert.deepEqual(r.refusals, [{ round: 0, code: "INVALID_MESSAGE" }]);
    assert.ok(r.result.dropped.includes(CULPRIT));
    await assertProof(r, 0, "INVALID_MESSAGE");
  });

  it("wrong-length share ciphertext: culprit dropped in round 1", async () => {
    const r = await runWithCulprit(async (round, msg, account) => {
      if (msg.body.round !== 1) return undefined;
      const shares = msg.body.shares.map((s, i) =>
        i === 0 ? { ...s, ciphertext: s.ciphertext.slice(3) } : s,
      );
      return signRaw(
        account,
        { chainId: 31337, verifyingContract: `0x${"00".repeat(20)}` },
        { ...msg.body, shares },
      );
    }, 82);
    assert.deepEqual(r.refusals, [{ round: 1, code: "BAD_SHARE" }]);
    assert.ok(r.result.dropped.includes(CULPRIT));
    await assertProof(r, 1, "BAD_SHARE");
  });

  it("wrong-length masked vector: culprit dropped after sharing (its mask keys reconstructed), sum exact", async () => {
    const r = await runWithCulprit(async (round, msg, account) => {
      if (msg.body.round !== 2) return undefined;
      const masked = new Uint32Array(M + 3);
      masked.set(msg.body.masked);
      return signRaw(
        account,
        { chainId: 31337, verifyingContract: `0x${"00".repeat(20)}` },
        { ...msg.body, masked },
      );
    }, 83);
    assert.deepEqual(r.refusals, [{ round: 2, code: "WRONG_LENGTH" }]);
    assert.ok(r.result.dropped.includes(CULPRIT));
    await assertProof(r, 2, "WRONG_LENGTH");
  });

  it("a signature on another survivor set, then an unmask request for both shares: culprit listed, session completes", async () => {
    const r3 = await runWithCulprit(async (round, msg, account) => {
      if (msg.body.round !== 3) return undefined;
      const survivors = msg.body.survivors.filter((id) => id !== 1);
      return signRaw(
        account,
        { chainId: 31337, verifyingContract: `0x${"00".repeat(20)}` },
        { ...msg.body, survivors },
      );
    }, 84);
    assert.ok(r3.result.survivors.includes(CULPRIT), "its input is in the sum");
    assert.ok(!r3.result.signers.includes(CULPRIT));
    await assertProof(r3, 3, "INVALID_MESSAGE");
    const r4 = await runWithCulprit(async (round, msg, account) => {
      if (msg.body.round !== 4) return undefined;
      const keyShares = [
        { of: msg.body.selfMaskShares[0]!.of, share: msg.body.selfMaskShares[0]!.share },
      ];
      return signRaw(
        account,
        { chainId: 31337, verifyingContract: `0x${"00".repeat(20)}` },
        { ...msg.body, keyShares },
      );
    }, 85);
    assert.ok(!r4.result.unmaskers.includes(CULPRIT));
    await assertProof(r4, 4, "BOTH_SHARES_REQUESTED");
  });

  it("undecryptable share: the receiver records the sender's fault and still masks with it; sum exact", async () => {
    let victim = 0;
    const r = await runWithCulprit(async (round, msg, account) => {
      if (msg.body.round !== 1) return undefined;
      victim = msg.body.shares[0]!.to;
      const shares = msg.body.shares.map((s, i) =>
        i === 0 ? { ...s, ciphertext: new Uint8Array(randomBytes(s.ciphertext.length)) } : s,
      );
      return signRaw(
        account,
        { chainId: 31337, verifyingContract: `0x${"00".repeat(20)}` },
        { ...msg.body, shares },
      );
    }, 86);
    assert.deepEqual(r.refusals, []);
    assert.ok(r.result.survivors.includes(CULPRIT) && r.result.survivors.includes(victim));
    assert.deepEqual(
      r.clients.get(victim)!.peerFaults.map((f) => [f.client, f.code]),
      [[CULPRIT, "BAD_SHARE"]],
    );
  });

  it("wrongly signed message: refused without attribution (it proves nothing), culprit dropped by silence", async () => {
    const stranger = accountsFor(1, 999).get(1)!;
    const r = await runWithCulprit(async (round, msg) => {
      if (msg.body.round !== 2) return undefined;
      return signRaw(
        stranger,
        { chainId: 31337, verifyingContract: `0x${"00".repeat(20)}` },
        msg.body,
      );
    }, 87);
    assert.deepEqual(r.refusals, [{ round: 2, code: "BAD_SIGNATURE" }]);
    assert.deepEqual(r.result.faults, []);
    assert.ok(r.result.dropped.includes(CULPRIT));
  });

  it("garbage that is not a message at all is refused at the codec (INVALID_MESSAGE), before any state", () => {
    for (const junk of [null, 42, "x", { body: { round: 9 } }, { signature: "0x00", body: {} }]) {
      assert.throws(
        () => fromJson(junk),
        (e: unknown) => e instanceof SecAggError && e.code === "INVALID_MESSAGE",
      );
    }
  });
});
