/** sdk/protocol/session: the SecAgg session a job (or a fine-tuning group) derives from chain data. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encodeAbiParameters, getAddress, keccak256, toHex, type Address, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { ProtocolError, type ProtocolErrorCode } from "#sdk/protocol/errors.ts";
import type { CohortList } from "#sdk/protocol/cohort.ts";
import {
  jobSessionConfig,
  jobSessionId,
  MAX_RECORDS_PER_JOB,
  trainingSessionConfig,
} from "#sdk/protocol/session.ts";

const MARKET = getAddress("0x00000000000000000000000000000000000a11ce");
const members: CohortList["members"] = Array.from({ length: 4 }, (_, i) => ({
  id: i + 1,
  address: privateKeyToAccount(keccak256(toHex(`session-device-${i}`))).address,
}));
const cohort: CohortList = { version: 1, jobId: "7", members };
const keys: Hex[] = members.map((_, i) => keccak256(toHex(`session-key-${i}`)));
const coded = (code: ProtocolErrorCode) => (e: unknown) =>
  e instanceof ProtocolError && e.code === code;

describe("job session", () => {
  it("the session id is keccak256(abi.encode(chainId, jobMarket, jobId, uint32 attempt)) and binds each of them", () => {
    const id = jobSessionId(31337, MARKET, 7n, 1);
    assert.equal(
      id,
      keccak256(
        encodeAbiParameters(
          [{ type: "uint256" }, { type: "address" }, { type: "uint256" }, { type: "uint32" }],
          [31337n, MARKET, 7n, 1],
        ),
      ),
    );
    const others = [
      jobSessionId(31337, MARKET, 7n, 0),
      jobSessionId(31337, MARKET, 8n, 1),
      jobSessionId(1, MARKET, 7n, 1),
      jobSessionId(31337, members[0]!.address as Address, 7n, 1),
    ];
    assert.equal(new Set([id, ...others]).size, 5);
  });

  it("out-of-range session parameters are SESSION_INVALID", () => {
    assert.throws(() => jobSessionId(0, MARKET, 7n), coded("SESSION_INVALID"));
    assert.throws(() => jobSessionId(31337, MARKET, -1n), coded("SESSION_INVALID"));
    assert.throws(() => jobSessionId(31337, MARKET, 2n ** 256n), coded("SESSION_INVALID"));
    assert.throws(() => jobSessionId(31337, MARKET, 7n, 2 ** 32), coded("SESSION_INVALID"));
    assert.throws(() => jobSessionId(31337, "0x1234" as Address, 7n), coded("SESSION_INVALID"));
    const base = { chainId: 31337, jobMarket: MARKET, jobId: 7n, cohort, sessionKeys: keys };
    assert.throws(() => jobSessionConfig({ ...base, classes: 0 }), coded("SESSION_INVALID"));
    assert.throws(() => jobSessionConfig({ ...base, classes: 1.5 }), coded("SESSION_INVALID"));
  });

  it("roster = cohort members with their registered keys in member order; vector length and clip from the result kind", () => {
    const config = jobSessionConfig({
      chainId: 31337,
      jobMarket: MARKET,
      jobId: 7n,
      cohort,
      sessionKeys: keys,
      classes: 2,
    });
    assert.equal(config.sessionId, jobSessionId(31337, MARKET, 7n));
    assert.deepEqual(
      config.roster.map((r) => [r.id, r.address, r.sessionKey]),
      members.map((m, i) => [m.id, m.address, keys[i]]),
    );
    assert.equal(config.vectorLength, 17);
    assert.equal(config.encoding.clip, MAX_RECORDS_PER_JOB);
    assert.equal(config.encoding.maxClients, 4);
    assert.equal(config.cohort, undefined);
    const graph = { cohortRoot: keccak256(toHex("root")), jobSeed: keccak256(toHex("seed")) };
    const bound = jobSessionConfig({
      chainId: 31337,
      jobMarket: MARKET,
      jobId: 7n,
      cohort,
      sessionKeys: keys,
      classes: 2,
      graph,
    });
    assert.deepEqual(bound.cohort, { root: graph.cohortRoot, jobSeed: graph.jobSeed });
    assert.throws(
      () =>
        jobSessionConfig({
          chainId: 31337,
          jobMarket: MARKET,
          jobId: 7n,
          cohort,
          sessionKeys: keys.slice(1),
          classes: 2,
        }),
      coded("COHORT_INVALID"),
    );
  });

  it("a training session is its own (bounty, round, group) with the update's length plus the sample count", () => {
    const t = trainingSessionConfig({
      chainId: 31337,
      fineTuning: MARKET,
      bountyId: 7n,
      round: 0n,
      group: 0,
      members,
      sessionKeys: keys,
      parameters: 10,
      clipNorm: 3,
    });
    assert.equal(t.vectorLength, 11);
    assert.equal(t.encoding.clip, 3);
    assert.notEqual(t.sessionId, jobSessionId(31337, MARKET, 7n));
    const next = trainingSessionConfig({
      chainId: 31337,
      fineTuning: MARKET,
      bountyId: 7n,
      round: 0n,
      group: 1,
      members,
      sessionKeys: keys,
      parameters: 10,
      clipNorm: 3,
    });
    assert.notEqual(next.sessionId, t.sessionId);
  });
});
