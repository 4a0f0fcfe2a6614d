/**
 * The refiner hosting its round's trainer groups (relayers/refiner/hosted-work.ts) on the real contracts (EDR,
 * Helia, ONNX Runtime, real signatures) with the real reference package: six registered devices enrol on a bounty
 * with groups of 3; round 0 (opened before anyone enrolled) is closed, round 1 draws the staked refiner as its host
 * and cuts the trainers into two groups. The refiner (in-process `Refiner` + `HostedWork`, its SecAgg server on
 * 127.0.0.1) opens one session per group; each trainer runs `runTrainingJob` (device-runner/trainer.ts) against it
 * with its own labelled emails — group A honest, group B with flipped labels. The loop keeps group A (positive
 * control gain), drops B, publishes the candidate package and the round list, commits; the poster reveals the split,
 * the attestors attest the candidate's accuracy on it, the loop reveals (its metric opens their value) and
 * finalises: the round is accepted and the candidate becomes a marketplace version. A second refiner that is not
 * the drawn host opens no session. A refiner restarted after the sessions settled reads the persisted groups and
 * rebuilds the same candidate. Round 2 trains from the accepted version; one group never shows up, its session
 * fails and the group is left out.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { getAddress, type Address, type Hex } from "viem";
import { z } from "zod";
import {
  attestedValue,
  buildSplitTree,
  recomputePayoutRoot,
  trainerBudget,
  type SplitTree,
} from "#sdk/chain/finetuning.ts";
import type { ChainPublicClient, ChainWalletClient } from "#sdk/chain/clients.ts";
import type { DeviceAccount } from "#sdk/crypto/session-key.ts";
import { HeliaStore } from "#sdk/ipfs/index.ts";
import {
  buildReferencePackage,
  loadPackage,
  prepareWorkload,
  publishPackage,
  trainReference,
  type Email,
  type LoadedPackage,
} from "#sdk/ml/index.ts";
import { encodeCohortList } from "#sdk/protocol/cohort.ts";
import {
  accuracyMetric,
  encodeLabelledSet,
  groupOf,
  LABELLED_SET_VERSION,
  TRAINING_DEFAULTS,
  trainingGroupList,
  trainingRoundOf,
  type LabelledSet,
  type TrainingRound,
} from "#sdk/protocol/training-round.ts";
import { SecAggHttpServer } from "#sdk/secagg/index.ts";
import { runTrainingJob, type TrainingJob } from "../../device-runner/trainer.ts";
import { ActionQueue } from "../../relayers/common/action-queue.ts";
import { testLoop } from "./helpers.ts";
import { RelayerLoop, type RoleRuntime } from "../../relayers/common/loop.ts";
import { createLogger } from "../../relayers/common/telemetry.ts";
import { HostedWork, type HostedWorkEvent } from "../../relayers/refiner/hosted-work.ts";
import { Refiner, RoundStatus } from "../../relayers/refiner/Refiner.ts";
import { loadRoundState } from "../../relayers/refiner/round-state.ts";
import {
  ETHER,
  label,
  localAccount,
  memberCommitment,
  ProtocolEnv,
  Role,
} from "../../bench/fixture/protocol.ts";
import { deviceWithInbox } from "../device-runner/helpers.ts";

const SCHEMA = label("email/rfc822-v1");
const REWARD_POOL = 200n * ETHER;
const ROUNDS = 3;
const QUORUM = 3;
const ATTESTOR_SHARE_BPS = 1_000;
const BUDGET = trainerBudget(REWARD_POOL, ROUNDS, ATTESTOR_SHARE_BPS);
const ROUND_DURATION = 3_600;
/** Emails per trainer: honest trainers get balanced slices, the flipped group spam-heavy ones labelled ham. */
const PER_TRAINER = 100;
const POLL = { initialDelayMs: 10, maxDelayMs: 100, roundTimeoutMs: 60_000 };

const payoutsSchema = z.looseObject({
  payouts: z.looseObject({
    values: z.array(z.looseObject({ value: z.tuple([z.string(), z.string()]) })),
  }),
});

describe("refiner hosting its round's trainer groups (SecAgg, real package, EDR)", () => {
  let env: ProtocolEnv;
  let poster: ProtocolEnv["wallets"][number];
  let refinerWallet: ProtocolEnv["wallets"][number];
  let otherWallet: ProtocolEnv["wallets"][number];
  let attestorWallets: ProtocolEnv["wallets"];
  let trainers: DeviceAccount[];
  let store: HeliaStore;
  let tmp: string;
  let secagg: SecAggHttpServer;
  let secaggUrl: string;
  let bountyId: bigint;
  let splits: SplitTree;
  let pkgCid: string;
  let modelSha: Hex;
  let basePkg: LoadedPackage;
  let control: LabelledSet;
  let controlCid: string;
  let split: LabelledSet;
  let splitCid: string;
  let emails: { honest: Email[]; flipped: Email[] };
  let round: TrainingRound;
  const events: HostedWorkEvent[] = [];
  const log = createLogger("refiner", "silent");
  const who = (w: { account: { address: Address } }): Address => getAddress(w.account.address);
  const contracts = () => ({
    FineTuning: env.addr("FineTuning"),
    NodeStaking: env.addr("NodeStaking"),
    DeviceRegistry: env.addr("DeviceRegistry"),
    AlgorithmMarketplace: env.addr("AlgorithmMarketplace"),
  });
  const pub = () => env.pub as unknown as ChainPublicClient;
  const workOf = (
    wallet: ProtocolEnv["wallets"][number],
    stateDir: string,
    server: SecAggHttpServer,
    roundTimeoutMs = 20_000,
  ) =>
    new HostedWork({
      publicClient: pub(),
      address: who(wallet),
      contracts: contracts(),
      chainId: env.pub.chain!.id,
      store,
      secagg: server,
      stateDir,
      roundTimeoutMs,
      onEvent: (e) => events.push(e),
    });
  const refinerOf = (wallet: ProtocolEnv["wallets"][number], stateDir: string, work: HostedWork) =>
    new Refiner({
      publicClient: pub(),
      wallet: wallet as unknown as ChainWalletClient,
      contracts: { FineTuning: env.addr("FineTuning") },
      chainId: env.pub.chain!.id,
      store,
      work,
      stateDir,
    });
  const loopOf = (queue: ActionQueue, role: RoleRuntime) => testLoop(queue, role, log);
  const tick = (loop: RelayerLoop) => loop.tick(new AbortController().signal);
  const getRound = (r: number) =>
    env.read<{
      status: number;
      refiner: Address;
      listCid: string;
      attestors: readonly Address[];
      childAlgorithmId: bigint;
      claim: { modelCid: string; modelSha256: Hex };
    }>("FineTuning", "getRound", [bountyId, r]);
  const labelledSet = (name: string, list: readonly Email[]): LabelledSet => ({
    version: LABELLED_SET_VERSION,
    name,
    labels: [...basePkg.manifest.outputLabels],
    records: list.map((e) => ({ id: e.id, subject: e.subject, body: e.body, label: e.label })),
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
    otherWallet = env.wallet(5); // a refiner operator without stake: never the drawn host
    attestorWallets = [6, 7, 8, 9, 10].map((i) => env.wallet(i));
    await env.stakeNode(refinerWallet, Role.Refiner, 10_000n * ETHER);
    for (const w of attestorWallets) await env.stakeNode(w, Role.Attestor, 5_000n * ETHER);
    tmp = mkdtempSync(path.join(tmpdir(), "dml-refiner-hosted-"));
    store = await HeliaStore.open({ dir: path.join(tmp, "helia") });

    // the reference package, listed as the bounty's base version
    const workload = await prepareWorkload();
    const built = await buildReferencePackage(workload, trainReference(workload));
    pkgCid = await publishPackage(store, built.manifest, built.model);
    modelSha = `0x${built.manifest.modelSha256}`;
    basePkg = await loadPackage(store, pkgCid, modelSha);
    await env.send(developer, "AlgorithmMarketplace", "list", [
      pkgCid,
      modelSha,
      SCHEMA,
      5n * ETHER,
      0n,
      0n,
      "",
    ]);
    const baseId = await env.read<bigint>("AlgorithmMarketplace", "algorithmCount");

    // the public control group and round 1's hidden split, as labelled sets on IPFS
    control = labelledSet("control", workload.split.control);
    controlCid = await store.addBytes(encodeLabelledSet(control));
    split = labelledSet("split:1", workload.split.test.slice(0, 400));
    splitCid = await store.addBytes(encodeLabelledSet(split));
    const splitOf = (r: number) => ({
      round: r,
      cid: r === 1 ? splitCid : `bafkreihiddensplit${r}hiddensplithiddensplithiddensplit`,
      salt: label(`split-salt-${r}`),
    });
    splits = buildSplitTree([splitOf(0), splitOf(1), splitOf(2)]);
    const pool = workload.split.inboxes.flatMap((i) => i.emails);
    const spam = pool.filter((e) => e.label === 1);
    const ham = pool.filter((e) => e.label === 0);
    const half = PER_TRAINER / 2;
    const bad = Math.round(PER_TRAINER * 0.8);
    emails = {
      honest: [...spam.slice(0, 3 * half), ...ham.slice(0, 3 * half)],
      flipped: [
        ...spam.slice(3 * half, 3 * half + 3 * bad),
        ...ham.slice(3 * half, 3 * half + 3 * (PER_TRAINER - bad)),
      ],
    };

    await env.fund([who(poster)], 1_000n * ETHER);
    await env.approve(poster, "FineTuning");
    await env.send(poster, "FineTuning", "createBounty", [
      {
        algorithmId: baseId,
        controlCid,
        metricId: label("accuracy"),
        minGainBps: 1,
        rewardPool: REWARD_POOL,
        rounds: ROUNDS,
        groupSize: 3,
        roundDuration: ROUND_DURATION,
        splitRoot: splits.root,
        baselineMetric: await accuracyMetric(basePkg, split),
        splitWindow: 86_400,
      },
    ]);
    bountyId = await env.read<bigint>("FineTuning", "bountyCount");
    trainers = Array.from({ length: 6 }, (_, i) => localAccount(`hosted-trainer-${i}`));
    await env.registerDevices(trainers, SCHEMA);
    for (const t of trainers)
      await env.send(await env.localWallet(t), "FineTuning", "enrol", [bountyId]);
    // round 0 opened with the bounty, before anyone enrolled: it has no group and is closed at its deadline
    await env.warpTo((await env.now()) + BigInt(ROUND_DURATION) + 1n);
    await env.send(poster, "FineTuning", "closeRound", [bountyId]);
    const r = await trainingRoundOf(pub(), contracts(), bountyId, 1n);
    assert.ok(r);
    round = r;
    secagg = new SecAggHttpServer({ host: "127.0.0.1", port: 0 });
    secaggUrl = await secagg.listen();
  });

  after(async () => {
    await secagg?.close();
    await store?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  /** One trainer's job, built from the round as the chain states it; the group list is added to the store. */
  async function jobOf(
    t: DeviceAccount,
    r: TrainingRound = round,
    pkg: { cid: string; sha: string } = { cid: pkgCid, sha: modelSha },
  ): Promise<TrainingJob> {
    const g = groupOf(r, t.address);
    assert.ok(g, `${t.address} is in a group`);
    const { list, root } = trainingGroupList(bountyId, r.groups[g.group]!);
    const groupCid = await store.addBytes(encodeCohortList(list));
    return {
      kind: "train",
      chainId: env.pub.chain!.id,
      fineTuning: env.addr("FineTuning"),
      bountyId,
      round: r.round,
      group: g.group,
      groupRoot: root,
      groupCid,
      packageCid: pkg.cid,
      modelSha256: pkg.sha,
      schema: SCHEMA,
      aggregatorUrl: secaggUrl,
      ...TRAINING_DEFAULTS,
    };
  }

  /** A trainer's SecAgg round (device-runner/trainer.ts) on `mine`, from a fresh device directory. */
  async function train(t: DeviceAccount, job: TrainingJob, mine: readonly Email[]) {
    const paths = await deviceWithInbox(mine);
    try {
      return await runTrainingJob({
        job,
        store,
        account: t,
        chain: {
          sessionKeysOf: (devices) => env.read<Hex[]>("DeviceRegistry", "sessionKeysOf", [devices]),
        },
        paths,
        poll: POLL,
      });
    } finally {
      await rm(paths.root, { recursive: true, force: true });
    }
  }

  it("hosts both groups, keeps the honest one, commits a better candidate and pays exactly its members", async () => {
    assert.equal(round.host, who(refinerWallet), "the only staked refiner is the drawn host");
    assert.deepEqual(
      round.groups.map((g) => g.length),
      [3, 3],
    );
    // a refiner that is not the host opens nothing and never asks to commit
    const otherDir = path.join(tmp, "other");
    const otherServer = new SecAggHttpServer({ host: "127.0.0.1", port: 0 });
    try {
      const otherWork = workOf(otherWallet, otherDir, otherServer);
      const other = refinerOf(otherWallet, otherDir, otherWork);
      assert.deepEqual(await other.desired(), []);
      assert.equal(await otherWork.groups(bountyId, 1), undefined);
      assert.equal(otherWork.sessionsOpened, 0);
      assert.ok(events.some((e) => e.type === "not-host" && e.host === who(refinerWallet)));
    } finally {
      await otherServer.close();
    }

    const dir = path.join(tmp, "refiner");
    const work = workOf(refinerWallet, dir, secagg);
    const role = refinerOf(refinerWallet, dir, work);
    const queue = await ActionQueue.open(dir);
    try {
      const loop = loopOf(queue, role);
      assert.deepEqual(await role.desired(), [], "sessions opened, nothing settled yet");
      assert.equal(work.sessionsOpened, 2);
      assert.deepEqual(await role.desired(), [], "a second tick adds no session");
      assert.equal(work.sessionsOpened, 2);

      // group A (the group of trainers 0..): honest balanced slices; group B: spam-heavy slices labelled ham
      const honestGroup = groupOf(round, trainers[0]!.address)!.group;
      let h = 0;
      let f = 0;
      const runs = await Promise.all(
        trainers.map(async (t) => {
          const g = groupOf(round, t.address)!.group;
          const mine =
            g === honestGroup
              ? sliceOf(emails.honest, h++)
              : sliceOf(emails.flipped, f++).map((e) => ({ ...e, label: 1 - e.label }) as Email);
          return train(t, await jobOf(t), mine);
        }),
      );
      for (const r of runs) assert.equal(r.samples, PER_TRAINER);

      // the sessions settled: the loop commits
      const groups = await work.groups(bountyId, 1);
      assert.ok(groups);
      assert.equal(groups.length, 2);
      const honest = groups.find((g) => g.group === honestGroup)!;
      const flipped = groups.find((g) => g.group !== honestGroup)!;
      assert.equal(honest.samples, BigInt(3 * PER_TRAINER));
      assert.ok(honest.gain > 0n, `honest gain ${honest.gain}`);
      assert.ok(flipped.gain < 0n, `flipped gain ${flipped.gain}`);
      assert.deepEqual(
        [...honest.members].sort(),
        [...round.groups[honestGroup]!].sort(),
        "members are the session's survivors",
      );
      assert.deepEqual(await role.desired(), [{ bountyId, round: 1, phase: "commit" }]);
      await tick(loop);
      const c = await queue.get(`commit:${bountyId}:1`);
      assert.equal(c?.status, "succeeded", c?.lastFailure);
      const r = await getRound(1);
      assert.equal(r.status, RoundStatus.Committed);
      assert.equal(getAddress(r.refiner), who(refinerWallet));

      // the candidate: on IPFS, loads against its hash, a child of the base, better on the control set
      const persisted = await role.loadCandidate(bountyId, 1);
      assert.ok(persisted);
      assert.match(persisted.modelSha256, /^0x[0-9a-f]{64}$/);
      assert.deepEqual(persisted.accepted, [honestGroup]);
      const candidate = await loadPackage(store, persisted.modelCid, persisted.modelSha256);
      assert.equal(candidate.manifest.parent, pkgCid);
      assert.notEqual(candidate.manifest.version, basePkg.manifest.version);
      const confusion = candidate.manifest.controlGroup?.confusion;
      assert.equal(
        confusion?.flat().reduce((s, n) => s + n, 0),
        control.records.length,
        "the confusion is measured on the control set",
      );
      const before = await accuracyMetric(basePkg, control);
      const afterMetric = await accuracyMetric(candidate, control);
      console.log(
        `control accuracy: base ${Number(before) / 1e18}, candidate ${Number(afterMetric) / 1e18}; gains ${honest.gain} / ${flipped.gain}`,
      );
      assert.ok(afterMetric > before, "the candidate beats the base on the control set");

      // the round list pays exactly the honest group's members
      const listRaw: unknown = JSON.parse(
        new TextDecoder().decode(await store.getBytes(r.listCid)),
      );
      const paid = payoutsSchema
        .parse(listRaw)
        .payouts.values.map((v) => getAddress(v.value[0]))
        .sort();
      assert.deepEqual(paid, [...round.groups[honestGroup]!].sort());
      const payoutRoot = recomputePayoutRoot(listRaw, BUDGET);
      assert.equal(payoutRoot, persisted.payoutRoot);

      // the poster reveals the split; the attestors attest the candidate's accuracy on it; the loop reveals it
      await env.conn.networkHelpers.mine();
      await env.send(poster, "FineTuning", "revealSplit", [
        bountyId,
        splitCid,
        label("split-salt-1"),
        splits.proof(1),
      ]);
      const drawn = await getRound(1);
      assert.equal(drawn.attestors.length, QUORUM);
      const metric = await accuracyMetric(candidate, split);
      const value = attestedValue(persisted.modelSha256 as Hex, metric, payoutRoot);
      const wallet = (a: Address) => attestorWallets.find((w) => who(w) === getAddress(a))!;
      for (const a of drawn.attestors)
        await env.send(wallet(a), "FineTuning", "commitAttestation", [
          bountyId,
          memberCommitment(value, label(`ft-${a}`), getAddress(a)),
        ]);
      for (const a of drawn.attestors)
        await env.send(wallet(a), "FineTuning", "revealAttestation", [
          bountyId,
          value,
          label(`ft-${a}`),
        ]);
      assert.equal(
        await work.metric(
          bountyId,
          1,
          { modelCid: persisted.modelCid, modelSha256: persisted.modelSha256 as Hex },
          splitCid,
        ),
        metric,
      );
      await tick(loop); // reveal
      assert.equal((await queue.get(`reveal:${bountyId}:1`))?.status, "succeeded");
      await tick(loop); // finalize
      assert.equal((await queue.get(`finalize:${bountyId}:1`))?.status, "succeeded");
      const done = await getRound(1);
      assert.equal(done.status, RoundStatus.Accepted, "the split metric beat the base's");
      assert.ok(done.childAlgorithmId > 0n);
      assert.equal(done.claim.modelCid, persisted.modelCid);
    } finally {
      await queue.close();
    }
  });

  it("a refiner restarted after the sessions settled reads the persisted groups", async () => {
    const dir = path.join(tmp, "refiner");
    const state = await loadRoundState(dir, bountyId, 1);
    assert.ok(state);
    assert.equal(state.packageCid, pkgCid);
    assert.equal(state.controlCid, controlCid);
    const server = new SecAggHttpServer({ host: "127.0.0.1", port: 0 });
    try {
      const again = workOf(refinerWallet, dir, server);
      const groups = await again.groups(bountyId, 1);
      assert.deepEqual(
        groups?.map((g) => g.group),
        state.groups.map((g) => g.group),
      );
      assert.equal(again.sessionsOpened, 0, "nothing is hosted again");
      // the same groups rebuild the same candidate (bytes and CID)
      const kept = groups!.filter((g) => g.gain > 0n);
      const rebuilt = await again.buildCandidate(bountyId, 1, kept);
      assert.equal(rebuilt.modelCid, (await getRound(1)).claim.modelCid);
    } finally {
      await server.close();
    }
  });

  it("round 2 trains from the accepted version; a group whose session fails is left out", async () => {
    const r2 = await trainingRoundOf(pub(), contracts(), bountyId, 2n);
    assert.ok(r2);
    const child = (await getRound(1)).childAlgorithmId;
    assert.equal(r2.algorithmId, child, "the round opens on the accepted candidate");
    const claim = (await getRound(1)).claim;
    const dir = path.join(tmp, "refiner-r2");
    const work = workOf(refinerWallet, dir, secagg, 6_000);
    assert.equal(await work.groups(bountyId, 2), undefined);
    assert.equal(work.sessionsOpened, 2);
    // only the group of trainer 0 shows up; the other group's session times out with nobody in it
    const present = r2.groups[groupOf(r2, trainers[0]!.address)!.group]!;
    await Promise.all(
      present.map(async (a, i) => {
        const t = trainers.find((x) => getAddress(x.address) === a)!;
        const job = await jobOf(t, r2, { cid: claim.modelCid, sha: claim.modelSha256 });
        return train(t, job, sliceOf(emails.honest, i));
      }),
    );
    const failed = await until(async () =>
      events.some((e) => e.type === "session-failed" && e.round === 2) ? true : undefined,
    );
    assert.ok(failed);
    const groups = await until(() => work.groups(bountyId, 2));
    assert.deepEqual(
      groups.map((g) => [...g.members].sort()),
      [[...present].sort()],
      "only the group with a result",
    );
  });
});

/** Polls `f` until it returns a value (20 s at most). */
async function until<T>(f: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 400; i++) {
    const v = await f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("timed out");
}

/** Trainer `i`'s slice of a list of 3 × PER_TRAINER emails. */
function sliceOf(list: readonly Email[], i: number): Email[] {
  // interleave so each slice has the list's class mix
  return list.filter((_, k) => k % 3 === i);
}
