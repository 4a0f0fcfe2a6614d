/**
 * The device's session-key admission (`cohortSessionKeys`): the cohort's registered keys come from one chain read; the
 * device refuses when the chain holds another key for itself, or when fewer than kMin members can sign.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { deviceAccount } from "#sdk/crypto/session-key.ts";
import { keccak256, toHex, type Address, type Hex } from "viem";
import { cohortSessionKeys } from "../../device-runner/prediction-job.ts";
import { DeviceError, REFUSAL_CODES } from "../../device-runner/errors.ts";
import { FakeChain } from "./helpers.ts";

const accounts = [0, 1, 2, 3].map((i) =>
  deviceAccount(keccak256(toHex(`session-key device ${i}`))),
);
const members = accounts.map((a, i) => ({ id: i + 1, address: a.address }));
const REG = { schemas: [] as Hex[], anyAlgorithmInSchema: true, algorithms: [], priceFloor: 0n };

function chainWith(keys: (Hex | undefined)[]): FakeChain & { reads: number } {
  const chain = Object.assign(new FakeChain(`0x${"11".repeat(20)}` as Address, 3), { reads: 0 });
  accounts.forEach((a, i) => chain.register(a.address, { ...REG, sessionKey: keys[i] }));
  const read = chain.sessionKeysOf.bind(chain);
  chain.sessionKeysOf = (d) => {
    chain.reads++;
    return read(d);
  };
  return chain;
}

const refusal = (code: string) => (e: unknown) =>
  e instanceof DeviceError && e.code === code && REFUSAL_CODES.has(e.code);

describe("device admission: cohort session keys", () => {
  it("returns the chain's keys in member order with one read", async () => {
    const chain = chainWith(accounts.map((a) => a.session.sessionKey));
    const keys = await cohortSessionKeys(
      chain,
      members,
      { clientId: 2, session: accounts[1]!.session },
      3,
    );
    assert.deepEqual(
      keys,
      accounts.map((a) => a.session.sessionKey),
    );
    assert.equal(chain.reads, 1);
  });

  it("refuses when the chain holds another key (or none) for this device", async () => {
    const other = chainWith([
      accounts[1]!.session.sessionKey,
      ...accounts.slice(1).map((a) => a.session.sessionKey),
    ]);
    await assert.rejects(
      cohortSessionKeys(other, members, { clientId: 1, session: accounts[0]!.session }, 3),
      refusal("SESSION_KEY_MISMATCH"),
    );
    const none = chainWith([undefined, ...accounts.slice(1).map((a) => a.session.sessionKey)]);
    await assert.rejects(
      cohortSessionKeys(none, members, { clientId: 1, session: accounts[0]!.session }, 3),
      refusal("SESSION_KEY_MISMATCH"),
    );
  });

  it("refuses a cohort with fewer than kMin members able to sign; keyless members otherwise count as dropouts", async () => {
    const keys = [
      accounts[0]!.session.sessionKey,
      undefined,
      undefined,
      accounts[3]!.session.sessionKey,
    ];
    const chain = chainWith(keys);
    await assert.rejects(
      cohortSessionKeys(chain, members, { clientId: 1, session: accounts[0]!.session }, 3),
      refusal("COHORT_TOO_SMALL"),
    );
    const out = await cohortSessionKeys(
      chain,
      members,
      { clientId: 1, session: accounts[0]!.session },
      2,
    );
    assert.equal(out[1], `0x${"00".repeat(32)}`);
  });
});
