/**
 * sdk/protocol: the attestor's transcript check and the job-result derivation, off-chain, on a real SecAgg session
 * (real EIP-712 device keys, real sealing to X25519 keys). Every bad transcript maps to its typed reason and never
 * throws; the derivation follows the job's rule.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { x25519 } from "@noble/curves/ed25519.js";
import { bytesToHex, getAddress, keccak256, toHex, zeroAddress, type Address } from "viem";
import { deviceAccount } from "#sdk/crypto/session-key.ts";
import { buildPayoutTree } from "#sdk/chain/payouts.ts";
import { ZERO_HASH } from "#sdk/chain/result.ts";
import { deriveJobResult, JobResultError, type JobFacts } from "#sdk/protocol/job-result.ts";
import { expectedSession, recoverAggregate } from "#sdk/protocol/transcript-check.ts";
import {
  encodeTranscript,
  encodeTranscriptV2,
  sealTranscript,
  simulateSession,
  transcriptOf,
  transcriptV2Of,
} from "#sdk/secagg/index.ts";
import { reduceToResultVector } from "#sdk/protocol/result-vector.ts";
import { rng } from "../secagg/helpers.ts";

const N = 6;
const JOB_ID = 42n;
const devices = Array.from({ length: N }, (_, i) => deviceAccount(keccak256(toHex(`tc-${i}`))));
const cohort = devices.map((d, i) => ({
  position: i,
  connectedIndex: BigInt(i),
  device: d.address,
}));
const secret = (s: string) => keccak256(toHex(s), "bytes");
const attestor = { address: getAddress(`0x${"a1".repeat(20)}`), x25519SecretKey: secret("att") };
const other = { address: getAddress(`0x${"b2".repeat(20)}`), x25519SecretKey: secret("other") };
const recipient = (me: { address: Address; x25519SecretKey: Uint8Array }) => ({
  address: me.address,
  x25519PublicKey: bytesToHex(x25519.getPublicKey(me.x25519SecretKey)),
});
const keys = devices.map((d) => d.session.sessionKey);
const sessionOpts = { chainId: 31337, jobMarket: getAddress(`0x${"cc".repeat(20)}`) };
const session = expectedSession(sessionOpts, JOB_ID, cohort, keys, 2);

function vector(id: number): Float64Array {
  const r = rng(id);
  return reduceToResultVector(
    Array.from({ length: 30 }, () => {
      const p = r();
      return { probabilities: Float32Array.from([1 - p, p]), label: p >= 0.5 ? 1 : 0 };
    }),
    2,
  );
}

async function run() {
  const report = await simulateSession({
    config: session,
    accounts: new Map(devices.map((d, i) => [i + 1, d.session])),
    inputs: vector,
    drops: new Map([[N, 2]]),
    recordTranscript: true,
  });
  return { report, bytes: encodeTranscriptV2(transcriptV2Of(report.server)) };
}

describe("the attestor's transcript check (sealed transcript v2 → replayed aggregate)", async () => {
  const { report, bytes } = await run();
  const sealed = sealTranscript(bytes, [recipient(attestor)], session.sessionId);

  it("an honest sealed transcript yields the session's survivors and sum", async () => {
    const r = await recoverAggregate(sealed, { session, me: attestor });
    assert.ok(r.ok, r.ok ? "" : `${r.reason}: ${r.detail}`);
    assert.deepEqual(
      r.aggregate.survivors,
      [...report.result.survivors].sort((a, b) => a - b),
    );
    assert.deepEqual(Array.from(r.aggregate.sum), Array.from(report.result.sum));
    assert.deepEqual(r.dropped, [N]);
  });

  it("each bad transcript maps to its reason and never throws", async () => {
    const reason = async (b: Uint8Array, me = attestor, s = session) => {
      const r = await recoverAggregate(b, { session: s, me });
      return r.ok ? "OK" : r.reason;
    };
    assert.equal(await reason(sealed, other), "NOT_A_RECIPIENT");
    assert.equal(await reason(sealed, { ...other, address: attestor.address }), "UNDECRYPTABLE");
    const flipped = sealed.slice();
    flipped[flipped.length - 5]! ^= 1;
    assert.equal(await reason(flipped), "UNDECRYPTABLE");
    // truncated inside the ciphertext (its length is the envelope's rest): the AEAD fails
    assert.equal(await reason(sealed.slice(0, sealed.length - 40)), "UNDECRYPTABLE");
    assert.equal(await reason(sealed.slice(0, 30)), "MALFORMED", "truncated inside the header");
    assert.equal(await reason(encodeTranscript(transcriptOf(report.result))), "MALFORMED", "v1");
    assert.equal(await reason(new Uint8Array(0)), "MALFORMED");
    // another job's session: sealed for it, or recording it
    const otherSession = expectedSession(sessionOpts, JOB_ID + 1n, cohort, keys, 2);
    assert.equal(await reason(sealed, attestor, otherSession), "OTHER_SESSION");
    assert.equal(
      await reason(
        sealTranscript(bytes, [recipient(attestor)], otherSession.sessionId),
        attestor,
        otherSession,
      ),
      "OTHER_SESSION",
    );
    // a roster that is not the cohort's (a device replaced)
    const replaced = cohort.map((m, i) => (i === 0 ? { ...m, device: zeroAddress } : m));
    const s2 = expectedSession(sessionOpts, JOB_ID, replaced, keys, 2);
    assert.equal(await reason(sealed, attestor, s2), "NON_MEMBER");
    // plaintext bytes that are not a transcript, sealed properly
    const junk = sealTranscript(
      new Uint8Array([1, 2, 3]),
      [recipient(attestor)],
      session.sessionId,
    );
    assert.equal(await reason(junk), "MALFORMED");
  });
});

describe("deriveJobResult: the job's result from the recomputed aggregate and its on-chain rule", async () => {
  const { report } = await run();
  const survivors = [...report.result.survivors].sort((a, b) => a - b);
  const aggregate = { sessionId: session.sessionId, survivors, sum: report.result.sum };
  const facts = (minParticipants: number, maxStdError = 10n ** 18n): JobFacts => ({
    members: cohort.map((m) => m.device),
    encoding: session.encoding,
    model: { classes: 2, qualityClass: 1 },
    rule: { rewardPerDevice: 7n, minParticipants, maxStdError },
  });

  it("quality met: every survivor is paid the reward, in client-id order", () => {
    const d = deriveJobResult(aggregate, facts(N - 1));
    assert.equal(d.result.qualityMet, true);
    assert.equal(d.result.participants, N - 1);
    assert.equal(d.estimate.records, 30 * (N - 1));
    const tree = buildPayoutTree(
      survivors.map((id) => ({ account: cohort[id - 1]!.device, value: 7n })),
    );
    assert.equal(d.result.payoutRoot, tree.root);
    assert.equal(d.result.payoutTotal, 7n * BigInt(N - 1));
  });

  it("quality failed (too few participants, or the standard error above the bound): nobody is paid", () => {
    for (const f of [facts(N), facts(1, 1n)]) {
      const d = deriveJobResult(aggregate, f);
      assert.equal(d.result.qualityMet, false);
      assert.equal(d.result.payoutRoot, ZERO_HASH);
      assert.equal(d.result.payoutTotal, 0n);
      assert.equal(d.tree, undefined);
    }
  });

  it("a survivor outside the cohort or survivors out of order: a typed error", () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e instanceof JobResultError ? e.code : String(e);
      }
      return "no error";
    };
    assert.equal(
      code(() => deriveJobResult({ ...aggregate, survivors: [...survivors, N + 1] }, facts(1))),
      "SURVIVOR_NOT_IN_COHORT",
    );
    assert.equal(
      code(() => deriveJobResult({ ...aggregate, survivors: [...survivors].reverse() }, facts(1))),
      "SURVIVORS_NOT_CANONICAL",
    );
    assert.equal(
      code(() => deriveJobResult({ ...aggregate, survivors: [] }, facts(1))),
      "EMPTY_AGGREGATE",
    );
  });
});
