/**
 * The refiner role on the real contracts (EDR, Helia, real signatures), the fixture of
 * test/integration/fine-tuning.test.ts: a poster escrows a two-round bounty, six registered devices enrol. The
 * Refiner's loop (reconcile → durable queue → handlers) keeps the groups whose mean update has a positive control
 * gain (two of three), publishes the round list, commits the candidate hidden; the poster reveals the split, the
 * drawn attestors attest; the loop reveals and finalises: round 0 is accepted and the trainers of the kept groups
 * claim through the device runner, the dropped group's members have no payout. Round 1: the refiner is restarted
 * (new process state: a new Refiner, a new queue, the same data directory) between commit and reveal and reveals
 * exactly once; a round nobody commits is closed.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { getAddress, type Address, type Hex } from "viem";
import type { PrivateKeyAccount } from "viem/accounts";
import {
  attestedValue,
  buildSplitTree,
  recomputePayoutRoot,
  trainerBudget,
  type SplitTree,
} from "#sdk/chain/finetuning.ts";
import type { ChainPublicClient, ChainWalletClient } from "#sdk/chain/clients.ts";
import { HeliaStore } from "#sdk/ipfs/index.ts";
import type { DeviceClients } from "../../device-runner/chain.ts";
import { DeviceError } from "../../device-runner/errors.ts";
import { claimTrainerPayout } from "../../device-runner/rewards.ts";
import { ActionQueue } from "../../relayers/common/action-queue.ts";
import { testLoop } from "./helpers.ts";
import { RelayerLoop, type RoleRuntime } from "../../relayers/common/loop.ts";
import { createLogger } from "../../relayers/common/telemetry.ts";
import {
  Refiner,
  RoundStatus,
  type Candidate,
  type GroupUpdate,
  type RefinerWork,
} from "../../relayers/refiner/Refiner.ts";
import {
  abi,
  ETHER,
  label,
  localAccount,
  memberCommitment,
  ProtocolEnv,
  Role,
} from "../../bench/fixture/protocol.ts";

const SCHEMA = label("email/rfc822-v1");
const PKG = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";
const CONTROL = "bafkreicontrolcontrolcontrolcontrolcontrolcontrolcontrolcon";
const REWARD_POOL = 300n * ETHER;
const ROUNDS = 3;
const QUORUM = 3;
const ATTESTOR_SHARE_BPS = 1_000;
const BUDGET = trainerBudget(REWARD_POOL, ROUNDS, ATTESTOR_SHARE_BPS);
const E18 = 10n ** 18n;
const BASELINE = (80n * E18) / 100n;
const ROUND_DURATION = 86_400;

describe("refiner relayer on the real contracts", () => {
  let env: ProtocolEnv;
  let poster: ProtocolEnv["wallets"][number];
  let refinerWallet: ProtocolEnv["wallets"][number];
  let attestorWallets: ProtocolEnv["wallets"];
  let trainers: PrivateKeyAccount[];
  let bountyId: bigint;
  let splits: SplitTree;
  let store: HeliaStore;
  let tmp: string;
  const log = createLogger("refiner", "silent");
  const who = (w: { account: { address: Address } }): Address => getAddress(w.account.address);
  const splitOf = (round: number) => ({
    round,
    cid: `bafkreihiddensplit${round}hiddensplithiddensplithiddensplit`,
    salt: label(`split-salt-${round}`),
  });

  /** Group updates per round (ready from the start) and the candidates built, as the work source records them. */
  const ready = new Map<number, GroupUpdate[]>();
  const built: { round: number; accepted: number[] }[] = [];
  const metricCalls: { round: number; splitCid: string | undefined }[] = [];
  const metrics = new Map<number, bigint>([
    [0, (85n * E18) / 100n],
    [1, (87n * E18) / 100n],
  ]);
  const work: RefinerWork = {
    groups: async (_b, round) => ready.get(round),
    buildCandidate: async (_b, round, accepted): Promise<Candidate> => {
      built.push({ round, accepted: accepted.map((g) => g.group) });
      return {
        modelCid: `bafybeicandidate${round}candidatecandidatecandidatecandidatecan`,
        modelSha256: label(`candidate-${round}.onnx`),
      };
    },
    metric: async (_b, round, _c, splitCid) => {
      metricCalls.push({ round, splitCid });
      return metrics.get(round)!;
    },
  };

  const refinerOf = (stateDir: string) =>
    new Refiner({
      publicClient: env.pub as unknown as ChainPublicClient,
      wallet: refinerWallet as unknown as ChainWalletClient,
      contracts: { FineTuning: env.addr("FineTuning") },
      chainId: env.pub.chain!.id,
      store,
      work,
      stateDir,
    });
  const loopOf = (queue: ActionQueue, role: RoleRuntime) => testLoop(queue, role, log);
  /** A crashed run's leftover action, run by its handler alone (no reconcile). */
  const handlersOnly = (dir: string): RoleRuntime => ({
    reconcile: async () => undefined,
    handlers: refinerOf(dir).handlers,
  });
  const tick = (loop: RelayerLoop) => loop.tick(new AbortController().signal);
  const getRound = (round: number) =>
    env.read<{
      status: number;
      refiner: Address;
      claimHash: Hex;
      attestors: readonly Address[];
      listCid: string;
      candidateRevealed: boolean;
      childAlgorithmId: bigint;
    }>("FineTuning", "getRound", [bountyId, round]);
  const events = async (eventName: string) =>
    env.pub.getContractEvents({
      address: env.addr("FineTuning"),
      abi: abi("FineTuning"),
      eventName,
      args: { bountyId },
      fromBlock: 0n,
    });

  before(async () => {
    env = await ProtocolEnv.create({
      attestation: {
        fineTuning: {
          quorum: QUORUM,
          commitWindow: 3_600,
          revealWindow: 3_600,
          claimWindow: 7 * 86_400,
          attestorShareBps: ATTESTOR_SHARE_BPS,
        },
      },
    });
    const developer = env.wallet(2);
    poster = env.wallet(3);
    refinerWallet = env.wallet(4);
    attestorWallets = [6, 7, 8, 9, 10].map((i) => env.wallet(i));
    await env.stakeNode(refinerWallet, Role.Refiner, 10_000n * ETHER);
    for (const w of attestorWallets) await env.stakeNode(w, Role.Attestor, 5_000n * ETHER);
    await env.send(developer, "AlgorithmMarketplace", "list", [
      PKG,
      label("model.onnx"),
      SCHEMA,
      5n * ETHER,
      0n,
      0n,
      "",
    ]);
    const baseId = await env.read<bigint>("AlgorithmMarketplace", "algorithmCount");
    await env.fund([who(poster)], 1_000n * ETHER);
    await env.approve(poster, "FineTuning");
    tmp = mkdtempSync(path.join(tmpdir(), "dml-relayer-refiner-"));
    store = await HeliaStore.open({ dir: path.join(tmp, "helia") });
    splits = buildSplitTree([splitOf(0), splitOf(1), splitOf(2)]);
    await env.send(poster, "FineTuning", "createBounty", [
      {
        algorithmId: baseId,
        controlCid: CONTROL,
        metricId: label("accuracy"),
        minGainBps: 100,
        rewardPool: REWARD_POOL,
        rounds: ROUNDS,
        groupSize: 0,
        roundDuration: ROUND_DURATION,
        splitRoot: splits.root,
        baselineMetric: BASELINE,
        splitWindow: 86_400,
      },
    ]);
    bountyId = await env.read<bigint>("FineTuning", "bountyCount");
    trainers = Array.from({ length: 9 }, (_, i) => localAccount(`refiner-trainer-${i}`));
    const bond = await env.read<bigint>("DeviceRegistry", "deviceBond", []);
    await env.fund(
      trainers.map((t) => t.address),
      bond,
    );
    for (const t of trainers) {
      const w = await env.localWallet(t);
      await env.send(w, "DMLToken", "approve", [env.addr("DeviceRegistry"), bond]);
      await env.send(w, "DeviceRegistry", "register", [
        [SCHEMA],
        { anyAlgorithmInSchema: true, algorithms: [], priceFloor: 0n },
      ]);
      await env.send(w, "FineTuning", "enrol", [bountyId]);
    }
    const members = (from: number) =>
      trainers.slice(from, from + 3).map((t) => getAddress(t.address));
    for (const round of [0, 1])
      ready.set(round, [
        { group: 0, members: members(0), samples: 300n, gain: 2n * 10n ** 16n },
        { group: 1, members: members(3), samples: 500n, gain: -(10n ** 16n) }, // hurts the control group
        { group: 2, members: members(6), samples: 600n, gain: 10n ** 15n },
      ]);
  });

  after(async () => {
    await store?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  /** The poster reveals the round's split; the drawn attestors check the round list and commit-reveal. */
  async function posterAndAttestors(round: number, metric: bigint): Promise<readonly Address[]> {
    await env.conn.networkHelpers.mine(); // the seed's block
    const split = splitOf(round);
    await env.send(poster, "FineTuning", "revealSplit", [
      bountyId,
      split.cid,
      split.salt,
      splits.proof(round),
    ]);
    const r = await getRound(round);
    assert.equal(r.status, RoundStatus.Attesting);
    assert.equal(r.attestors.length, QUORUM);
    const list: unknown = JSON.parse(new TextDecoder().decode(await store.getBytes(r.listCid)));
    const root = recomputePayoutRoot(list, BUDGET);
    const value = attestedValue(label(`candidate-${round}.onnx`), metric, root);
    const wallet = (a: Address) => attestorWallets.find((w) => who(w) === getAddress(a))!;
    for (const a of r.attestors)
      await env.send(wallet(a), "FineTuning", "commitAttestation", [
        bountyId,
        memberCommitment(value, label(`ft-${round}-${a}`), getAddress(a)),
      ]);
    for (const a of r.attestors)
      await env.send(wallet(a), "FineTuning", "revealAttestation", [
        bountyId,
        value,
        label(`ft-${round}-${a}`),
      ]);
    return r.attestors;
  }

  it("runs round 0: commits the kept groups' candidate, reveals, finalises; the kept trainers claim", async () => {
    const dir = path.join(tmp, "refiner-a");
    const role = refinerOf(dir);
    const queue = await ActionQueue.open(dir);
    try {
      const loop = loopOf(queue, role);
      assert.deepEqual(await role.desired(), [{ bountyId, round: 0, phase: "commit" }]);
      await tick(loop);
      const c = await queue.get(`commit:${bountyId}:0`);
      assert.equal(c?.status, "succeeded", c?.lastFailure);
      assert.deepEqual(
        built,
        [{ round: 0, accepted: [0, 2] }],
        "the negative-gain group is dropped",
      );
      const r = await getRound(0);
      assert.equal(r.status, RoundStatus.Committed);
      assert.equal(getAddress(r.refiner), who(refinerWallet));
      const persisted = await role.loadCandidate(bountyId, 0);
      assert.equal(persisted?.listCid, r.listCid, "the candidate was persisted before committing");
      // nothing to do before the split is revealed and the attestors committed
      assert.deepEqual(await role.desired(), []);

      await posterAndAttestors(0, metrics.get(0)!);
      assert.deepEqual(await role.desired(), [{ bountyId, round: 0, phase: "reveal" }]);
      await tick(loop); // reveal
      const rv = await queue.get(`reveal:${bountyId}:0`);
      assert.equal(rv?.status, "succeeded", rv?.lastFailure);
      assert.deepEqual(metricCalls, [{ round: 0, splitCid: splitOf(0).cid }]);
      assert.deepEqual(await role.desired(), [{ bountyId, round: 0, phase: "finalize" }]);
      await tick(loop); // finalize
      const f = await queue.get(`finalize:${bountyId}:0`);
      assert.equal(f?.status, "succeeded", f?.lastFailure);
      const done = await getRound(0);
      assert.equal(done.status, RoundStatus.Accepted);
      assert.ok(done.childAlgorithmId > 0n);
      assert.equal((await events("CandidateCommitted")).length, 1);
      assert.equal((await events("CandidateRevealed")).length, 1);

      // trainers of the kept groups (0: 300 samples, 2: 600 samples) claim; group 1's members have no payout
      const opts = { fineTuning: env.addr("FineTuning"), bountyId, round: 0n };
      const clients = async (t: PrivateKeyAccount): Promise<DeviceClients> =>
        ({
          publicClient: env.pub,
          walletClient: await env.localWallet(t),
        }) as unknown as DeviceClients;
      for (const [i, t] of trainers.entries()) {
        if (i >= 3 && i < 6) {
          await assert.rejects(
            claimTrainerPayout(await clients(t), store, opts),
            (e) => e instanceof DeviceError && e.code === "NOT_IN_PAYOUT",
          );
          continue;
        }
        const expected = (BUDGET * (i < 3 ? 300n : 600n)) / (900n * 3n);
        const claimed = await claimTrainerPayout(await clients(t), store, opts);
        assert.equal(claimed.amount, expected);
        assert.ok(claimed.hash);
      }
    } finally {
      await queue.close();
    }
  });

  it("a refiner restarted between commit and reveal reveals exactly once; an uncommitted round is closed", async () => {
    const dir = path.join(tmp, "refiner-b");
    let queue = await ActionQueue.open(dir);
    try {
      await tick(loopOf(queue, refinerOf(dir)));
      assert.equal((await queue.get(`commit:${bountyId}:1`))?.status, "succeeded");
      assert.deepEqual(built.at(-1), { round: 1, accepted: [0, 2] });
      const commitment = (await getRound(1)).claimHash;
      await queue.close();
      // restart: a fresh Refiner (no memory) and the queue reopened; the candidate comes from the data directory
      queue = await ActionQueue.open(dir);
      const restarted = refinerOf(dir);
      assert.deepEqual(
        await restarted.desired(),
        [],
        "committed already: nothing before the split",
      );
      await posterAndAttestors(1, metrics.get(1)!);
      // a lost queue too: the commit handler re-run sends nothing (the chain shows my commitment)
      const lostDir = path.join(tmp, "refiner-lost");
      const lost = await ActionQueue.open(lostDir);
      await lost.enqueue({
        key: `commit:${bountyId}:1`,
        type: "commit",
        payload: { bountyId: `${bountyId}`, round: 1 },
      });
      await tick(loopOf(lost, handlersOnly(dir)));
      assert.equal((await lost.get(`commit:${bountyId}:1`))?.status, "succeeded");
      assert.equal((await getRound(1)).claimHash, commitment, "no second commitment");
      const loop = loopOf(queue, restarted);
      await tick(loop); // reveal
      assert.equal((await queue.get(`reveal:${bountyId}:1`))?.status, "succeeded");
      // the reveal handler re-run (lost queue): already revealed, nothing sent
      await lost.enqueue({
        key: `reveal:${bountyId}:1`,
        type: "reveal",
        payload: { bountyId: `${bountyId}`, round: 1 },
      });
      await tick(loopOf(lost, handlersOnly(dir)));
      assert.equal((await lost.get(`reveal:${bountyId}:1`))?.status, "succeeded");
      await lost.close();
      const reveals = await events("CandidateRevealed");
      assert.equal(reveals.filter((e) => (e.args as { round: bigint }).round === 1n).length, 1);
      await tick(loop); // finalize
      assert.equal((await getRound(1)).status, RoundStatus.Accepted);

      // round 2 has no group updates: nothing is committed; past its deadline the refiner closes it
      assert.deepEqual(await restarted.desired(), []);
      await env.conn.networkHelpers.time.increase(ROUND_DURATION + 1);
      assert.deepEqual(await restarted.desired(), [{ bountyId, round: 2, phase: "close" }]);
      await tick(loop);
      assert.equal((await getRound(2)).status, RoundStatus.Rejected);
      const bounty = await env.read<{ status: number }>("FineTuning", "getBounty", [bountyId]);
      assert.equal(bounty.status, 2, "the bounty is finalised after its last round");
      assert.deepEqual(await restarted.desired(), []);
      assert.deepEqual(restarted.activeBounties(), []);
      assert.equal((await events("CandidateCommitted")).length, 2);
    } finally {
      await queue.close();
    }
  });
});
