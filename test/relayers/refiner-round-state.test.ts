/**
 * The hosted refiner's persisted rounds (relayers/refiner/round-state.ts) and candidate versions: a settled round
 * survives a save/load exactly (decoded sums included), a missing file is "not settled", a malformed or misplaced
 * one is a typed error — which `HostedWork.groups` reports as `host-failed` (undefined, retried) rather than
 * throwing into the reconcile.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { getAddress, type Address } from "viem";
import type { ChainPublicClient } from "#sdk/chain/clients.ts";
import type { ContentStore } from "#sdk/ipfs/index.ts";
import { SecAggHttpServer } from "#sdk/secagg/index.ts";
import {
  CandidatePackageError,
  candidateVersion,
} from "../../relayers/refiner/candidate-package.ts";
import { HostedWork, type HostedWorkEvent } from "../../relayers/refiner/hosted-work.ts";
import {
  loadRoundState,
  ROUND_STATE_VERSION,
  RoundStateError,
  roundStateFile,
  saveRoundState,
  updatesOf,
  type RoundState,
} from "../../relayers/refiner/round-state.ts";

const A = getAddress("0x1111111111111111111111111111111111111111");
const B = getAddress("0x2222222222222222222222222222222222222222");
const state: RoundState = {
  version: ROUND_STATE_VERSION,
  bountyId: "7",
  round: 2,
  algorithmId: "3",
  packageCid: "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
  modelSha256: `0x${"ab".repeat(32)}`,
  controlCid: "bafkreicontrol",
  groups: [
    {
      group: 0,
      members: [A, B],
      samples: "300",
      gain: "-5",
      sum: [0.1, -1 / 3, 2 ** -40, 300 / 65536],
    },
  ],
};

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "dml-refiner-state-"));
});
after(() => rm(dir, { recursive: true, force: true }));

describe("hosted refiner state", () => {
  it("a settled round round-trips exactly; a missing one is undefined", async () => {
    assert.equal(await loadRoundState(dir, 7n, 2), undefined);
    await saveRoundState(dir, state);
    const loaded = await loadRoundState(dir, 7n, 2);
    assert.deepEqual(loaded, state, "floats survive JSON exactly");
    assert.deepEqual(updatesOf(loaded!), [{ group: 0, members: [A, B], samples: 300n, gain: -5n }]);
  });

  it("a malformed or misplaced file is ROUND_STATE_INVALID", async () => {
    await writeFile(roundStateFile(dir, 7n, 3), JSON.stringify(state)); // holds round 2
    await assert.rejects(
      loadRoundState(dir, 7n, 3),
      (e) => e instanceof RoundStateError && e.code === "ROUND_STATE_INVALID",
    );
    await writeFile(roundStateFile(dir, 7n, 4), "{");
    await assert.rejects(loadRoundState(dir, 7n, 4), RoundStateError);
    await writeFile(
      roundStateFile(dir, 7n, 5),
      JSON.stringify({ ...state, round: 5, groups: [{ ...state.groups[0], members: [] }] }),
    );
    await assert.rejects(loadRoundState(dir, 7n, 5), RoundStateError);
  });

  it("HostedWork reports an unreadable round as host-failed and returns undefined", async () => {
    const events: HostedWorkEvent[] = [];
    const unused = new Proxy(
      {},
      {
        get: () => () => {
          throw new Error("no chain or IPFS read expected");
        },
      },
    );
    const secagg = new SecAggHttpServer();
    const zero: Address = `0x${"0".repeat(40)}`;
    const work = new HostedWork({
      publicClient: unused as ChainPublicClient,
      address: A,
      contracts: {
        FineTuning: zero,
        NodeStaking: zero,
        DeviceRegistry: zero,
        AlgorithmMarketplace: zero,
      },
      chainId: 31337,
      store: unused as ContentStore,
      secagg,
      stateDir: dir,
      roundTimeoutMs: 1_000,
      onEvent: (e) => events.push(e),
    });
    await writeFile(roundStateFile(dir, 7n, 6), "not json");
    assert.equal(await work.groups(7n, 6), undefined);
    assert.equal(events[0]?.type, "host-failed");
    assert.equal(work.sessionsOpened, 0);
    assert.deepEqual(
      (await work.groups(7n, 2))?.map((g) => g.group),
      [0],
      "a persisted round needs no chain",
    );
  });

  it("a candidate's version is the base's next patch with the round as build metadata", () => {
    assert.equal(candidateVersion("1.0.0", 4n, 1), "1.0.1+ft.4.1");
    assert.equal(candidateVersion("2.3.9-rc.1+old", 12n, 0), "2.3.10+ft.12.0");
    assert.throws(
      () => candidateVersion("v1", 1n, 0),
      (e) => e instanceof CandidatePackageError && e.code === "VERSION_INVALID",
    );
  });
});
