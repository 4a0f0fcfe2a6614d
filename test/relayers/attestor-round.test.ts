/**
 * Fine-tuning rounds attested by the attestor role (relayers/attestor/RoundAttestor.ts, composed with the job
 * attestor as `dml-relayer attestor` runs them) on the real contracts (EDR, Helia, ONNX Runtime, real signatures),
 * with the poster's library (sdk/protocol/bounty.ts) and the Refiner's loop (inline `RefinerWork`: the candidates
 * are real reference-workload packages trained on more SpamAssassin mail than the base, published in the test).
 *
 * The poster publishes the control group, computes three hidden splits' CIDs in a private store, posts the bounty
 * (baseline = the base model's accuracy on round 0's split) and reveals each round's split once the refiner
 * committed (not before; never with secrets or bytes that do not open the bounty's split root). Three attestors
 * are staked and drawn (quorum 3); each derives the value from the chain-named content alone: round 0 (honest
 * refiner) — the attestors' value is the refiner's and the round is accepted (the metric beats the baseline by the
 * minimum gain); one attestor is restarted between commit and reveal (its finished commit re-run sends nothing, the
 * new instance re-derives the value and reveals once); round 1 — the refiner overstates its metric, is outvoted
 * and slashed; round 2 — the poster reveals a split it never published: the attestors attest SPLIT_INVALID and the
 * round stands on the refiner's word.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { getAddress, stringToHex, type Address, type Hex } from "viem";
import { fineTuningAbi } from "#sdk/chain/abi/FineTuning.ts";
import type { ChainPublicClient, ChainWalletClient } from "#sdk/chain/clients.ts";
import {
  ATTESTATION_INVALID,
  attestedValue,
  FineTuningRoundStatus as RoundStatus,
  SPLIT_INVALID,
} from "#sdk/chain/finetuning.ts";
import { HeliaStore } from "#sdk/ipfs/index.ts";
import {
  buildClassifierPackage,
  getFeaturizer,
  hashedBowSpec,
  LABELS,
  loadCorpus,
  loadPackage,
  publishPackage,
  referenceManifestFields,
  splitCorpus,
  train,
  vectorize,
  type Email,
  type LoadedPackage,
} from "#sdk/ml/index.ts";
import {
  BountyError,
  postBounty,
  prepareBounty,
  revealRoundSplit,
  type PosterIo,
  type PreparedBounty,
} from "#sdk/protocol/bounty.ts";
import {
  accuracyMetric,
  fetchLabelledSet,
  type LabelledSet,
} from "#sdk/protocol/training-round.ts";
import { ActionQueue } from "../../relayers/common/action-queue.ts";
import { testLoop } from "./helpers.ts";
import { RelayerLoop, type RoleRuntime } from "../../relayers/common/loop.ts";
import { createLogger } from "../../relayers/common/telemetry.ts";
import { Attestor } from "../../relayers/attestor/Attestor.ts";
import { composeRuntimes } from "../../relayers/attestor/compose.ts";
import { RoundAttestor } from "../../relayers/attestor/RoundAttestor.ts";
import type { RoundVerdict } from "../../relayers/attestor/round-value.ts";
import {
  Refiner,
  type Candidate,
  type GroupUpdate,
  type RefinerWork,
} from "../../relayers/refiner/Refiner.ts";
import { ETHER, label, localAccount, ProtocolEnv, Role } from "../../bench/fixture/protocol.ts";

const SCHEMA = label("email/rfc822-v1");
const REWARD_POOL = 300n * ETHER;
const QUORUM = 3;
const MIN_GAIN_BPS = 100; // 1% of 1e18
const SLASH = 100n * ETHER;
const SPLIT_SIZE = 150;

type Wallet = ProtocolEnv["wallets"][number];

describe("round attestor: drawn attestors evaluate the refiner's candidate on the revealed split", () => {
  let env: ProtocolEnv;
  let poster: Wallet;
  let refinerWallet: Wallet;
  let attestorWallets: Wallet[];
  let store: HeliaStore;
  let posterPrivate: HeliaStore;
  let tmp: string;
  let prepared: PreparedBounty;
  let bountyId: bigint;
  let posterIo: PosterIo;
  const log = createLogger("attestor", "silent");
  const who = (w: { account: { address: Address } }): Address => getAddress(w.account.address);

  /** Per round: the real candidate package and the refiner's reported metric rule. */
  const candidates: { cid: string; sha: Hex; pkg: LoadedPackage }[] = [];
  const overstate = new Map<number, bigint>([[1, 5n * 10n ** 16n]]);
  const ready = new Map<number, GroupUpdate[]>();
  const verdicts: { attestor: Address; round: number; verdict: RoundVerdict }[] = [];
  let control: LabelledSet;

  const work: RefinerWork = {
    groups: async (_b, round) => ready.get(round),
    buildCandidate: async (_b, round): Promise<Candidate> => ({
      modelCid: candidates[round]!.cid,
      modelSha256: candidates[round]!.sha,
    }),
    /** The refiner's own evaluation: on the split when it can fetch it, else on the control group. */
    metric: async (_b, round, _c, splitCid) => {
      const pkg = candidates[round]!.pkg;
      const set =
        splitCid === undefined
          ? control
          : await fetchLabelledSet(store, splitCid).catch(() => control);
      return (await accuracyMetric(pkg, set)) + (overstate.get(round) ?? 0n);
    },
  };

  let refiner: { role: Refiner; loop: RelayerLoop; queue: ActionQueue };
  const attestors: {
    wallet: Wallet;
    role: RoundAttestor;
    loop: RelayerLoop;
    queue: ActionQueue;
  }[] = [];

  const loopOf = (queue: ActionQueue, role: RoleRuntime) => testLoop(queue, role, log);
  const tick = (loop: RelayerLoop) => loop.tick(new AbortController().signal);

  /** An attestor process's runtime: the job attestor (idle here) and the round attestor, composed. */
  const attestorRuntime = (wallet: Wallet) => {
    const publicClient = env.pub as unknown as ChainPublicClient;
    const w = wallet as unknown as ChainWalletClient;
    const chainId = env.pub.chain!.id;
    const role = new RoundAttestor({
      publicClient,
      wallet: w,
      contracts: { FineTuning: env.addr("FineTuning") },
      chainId,
      store,
      fetchTimeoutMs: 2_000,
      onVerdict: (r, verdict) => verdicts.push({ attestor: who(wallet), round: r.round, verdict }),
    });
    const jobs = new Attestor({
      publicClient,
      wallet: w,
      contracts: {
        JobMarket: env.addr("JobMarket"),
        ResultAttestation: env.addr("ResultAttestation"),
        NodeStaking: env.addr("NodeStaking"),
        DeviceRegistry: env.addr("DeviceRegistry"),
      },
      chainId,
      store,
      inputs: {
        cohort: async () => [],
        model: async () => {
          throw new Error("no job in this test");
        },
      },
    });
    return { role, runtime: composeRuntimes([jobs, role], { chain: env.pub }) };
  };

  const getRound = (round: number) =>
    env.read<{
      status: number;
      refiner: Address;
      claimHash: Hex;
      finalHash: Hex;
      attestors: readonly Address[];
      committedMask: number;
      revealedMask: number;
      childAlgorithmId: bigint;
      claim: { modelCid: string; modelSha256: Hex; metricAfter: bigint; payoutRoot: Hex };
    }>("FineTuning", "getRound", [bountyId, round]);
  const events = async (eventName: string, round: number) =>
    (await env.pub.getContractEvents({
      address: env.addr("FineTuning"),
      abi: fineTuningAbi,
      eventName: eventName as "RoundFinalized",
      args: { bountyId, round: BigInt(round) },
      fromBlock: 0n,
    })) as unknown as { args: Record<string, unknown> }[];
  const nonceOf = (w: Wallet) => env.pub.getTransactionCount({ address: who(w) });

  /** Ticks the refiner and every attestor until the round is finalised (each tick: reconcile + act). */
  async function runRound(round: number, revealPublished: boolean): Promise<void> {
    ready.set(round, groupsOf(round));
    await tick(refiner.loop); // commit
    const c = await refiner.queue.get(`commit:${bountyId}:${round}`);
    assert.equal(c?.status, "succeeded", c?.lastFailure ?? "not enqueued");
    assert.equal((await getRound(round)).status, RoundStatus.Committed);
    // the attestors have nothing to do before the split is revealed
    for (const a of attestors) assert.deepEqual(await a.role.desired(), []);
    await env.conn.networkHelpers.mine(); // the seed's block
    const secretSplit = prepared.secrets.splits[round]!;
    const out = await revealRoundSplit(posterIo, {
      bountyId,
      round,
      secrets: prepared.secrets,
      ...(revealPublished ? { publish: { store, bytes: prepared.splitBytes[round]! } } : {}),
    });
    assert.equal(out.status, "sent");
    const nonce = await nonceOf(poster);
    assert.deepEqual(
      await revealRoundSplit(posterIo, { bountyId, round, secrets: prepared.secrets }),
      { status: "revealed" },
      "a second reveal reads the chain and sends nothing",
    );
    assert.equal(await nonceOf(poster), nonce);
    const split = (await events("SplitRevealed", round))[0]!;
    assert.equal(split.args.splitCid, secretSplit.cid);
    for (let i = 0; i < 8; i++) {
      const b = await env.read<{ currentRound: number; status: number }>(
        "FineTuning",
        "getBounty",
        [bountyId],
      );
      if (Number(b.currentRound) > round || Number(b.status) !== 1) return;
      for (const a of attestors) await tick(a.loop);
      await tick(refiner.loop);
    }
    assert.fail(`round ${round} did not finish`);
  }

  /** Two groups of three (made-up addresses; their payouts are the canonical list's). */
  const groupsOf = (round: number): GroupUpdate[] => {
    const m = (g: number) =>
      [0, 1, 2].map((i) => getAddress(localAccount(`trainer-${round}-${g}-${i}`).address));
    return [
      { group: 0, members: m(0), samples: 300n, gain: 10n ** 16n },
      { group: 1, members: m(1), samples: 500n, gain: 2n * 10n ** 16n },
    ];
  };

  const labelledSet = (name: string, emails: readonly Email[]): LabelledSet => ({
    version: 1,
    name,
    labels: [...LABELS],
    records: emails.map((e) => ({ id: e.id, subject: e.subject, body: e.body, label: e.label })),
  });

  before(async () => {
    env = await ProtocolEnv.create({
      attestation: {
        fineTuning: {
          quorum: QUORUM,
          commitWindow: 3_600,
          revealWindow: 3_600,
          claimWindow: 7 * 86_400,
          attestorShareBps: 1_000,
          slashAmount: SLASH,
        },
      },
    });
    const developer = env.wallet(2);
    poster = env.wallet(3);
    refinerWallet = env.wallet(4);
    attestorWallets = [6, 7, 8].map((i) => env.wallet(i));
    await env.stakeNode(refinerWallet, Role.Refiner, 20_000n * ETHER); // stays above the minimum once slashed
    for (const w of attestorWallets) await env.stakeNode(w, Role.Attestor, 5_000n * ETHER);
    tmp = mkdtempSync(path.join(tmpdir(), "dml-attestor-round-"));
    store = await HeliaStore.open({ dir: path.join(tmp, "helia") });
    posterPrivate = await HeliaStore.open({ dir: path.join(tmp, "poster-private") });

    // the reference workload, small: the base is trained on 40 developer emails, each round's candidate on the
    // developer slice and 700-1100 inbox emails (accuracy on a split ≈ 0.61 → ≈ 0.9)
    const corpus = splitCorpus(await loadCorpus());
    const featurizer = getFeaturizer(hashedBowSpec());
    const inbox = corpus.inboxes.flatMap((i) => i.emails);
    const fit = (emails: readonly Email[], epochs: number) =>
      train(vectorize(featurizer, emails), LABELS.length, epochs, {
        learningRate: 1,
        l2: 1e-4,
        batchSize: 16,
        seed: "dml/attestor-round",
      });
    const publish = async (emails: readonly Email[], epochs: number, version: string) => {
      const { manifest, model } = buildClassifierPackage(
        fit(emails, epochs),
        referenceManifestFields(version),
      );
      const cid = await publishPackage(store, manifest, model);
      const sha: Hex = `0x${manifest.modelSha256}`;
      return { cid, sha, pkg: await loadPackage(store, cid, sha) };
    };
    const base = await publish(corpus.developer.slice(0, 40), 2, "1.0.0");
    for (const [i, n] of [700, 900, 1100].entries())
      candidates.push(
        await publish([...corpus.developer, ...inbox.slice(0, n)], 3, `1.${i + 1}.0`),
      );
    await env.send(developer, "AlgorithmMarketplace", "list", [
      base.cid,
      base.sha,
      SCHEMA,
      5n * ETHER,
      0n,
      0n,
      "",
    ]);
    const baseId = await env.read<bigint>("AlgorithmMarketplace", "algorithmCount");

    // the poster: control group public, splits' CIDs computed in its private store
    control = labelledSet("control", corpus.control.slice(0, 100));
    const splits = [0, 1, 2].map((r) =>
      labelledSet(`split:${r}`, corpus.test.slice(r * SPLIT_SIZE, (r + 1) * SPLIT_SIZE)),
    );
    prepared = await prepareBounty({
      store,
      splitStore: posterPrivate,
      control,
      splits,
      algorithmId: baseId,
      minGainBps: MIN_GAIN_BPS,
      rewardPool: REWARD_POOL,
      roundDuration: 86_400,
      splitWindow: 86_400,
      baselineMetric: await accuracyMetric(base.pkg, splits[0]!),
    });
    await assert.rejects(store.getBytes(prepared.secrets.splits[0]!.cid), "splits stay private");
    await env.fund([who(poster)], 1_000n * ETHER);
    await env.approve(poster, "FineTuning");
    posterIo = {
      publicClient: env.pub as unknown as ChainPublicClient,
      wallet: poster as unknown as ChainWalletClient,
      fineTuning: env.addr("FineTuning"),
    };
    bountyId = await postBounty(posterIo, prepared.input);
    assert.equal(bountyId, await env.read<bigint>("FineTuning", "bountyCount"));

    const rdir = path.join(tmp, "refiner");
    // PGlite queues take seconds each to open on a loaded machine: open them together
    const [rq, ...aqs] = await Promise.all(
      [rdir, ...attestorWallets.map((_, i) => path.join(tmp, `attestor-${i}`))].map((d) =>
        ActionQueue.open(d),
      ),
    );
    const role = new Refiner({
      publicClient: env.pub as unknown as ChainPublicClient,
      wallet: refinerWallet as unknown as ChainWalletClient,
      contracts: { FineTuning: env.addr("FineTuning") },
      chainId: env.pub.chain!.id,
      store,
      work,
      stateDir: rdir,
    });
    refiner = { role, queue: rq!, loop: loopOf(rq!, role) };
    for (const [i, wallet] of attestorWallets.entries()) {
      const queue = aqs[i]!;
      const { role: r, runtime } = attestorRuntime(wallet);
      attestors.push({ wallet, role: r, queue, loop: loopOf(queue, runtime) });
    }
  });

  after(async () => {
    await refiner?.queue.close();
    for (const a of attestors) await a.queue.close();
    await store?.close();
    await posterPrivate?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it("round 0: the drawn attestors attest the refiner's value and the round is accepted", async () => {
    const baseline = prepared.input.baselineMetric;
    const honest = await accuracyMetric(
      candidates[0]!.pkg,
      await fetchLabelledSet(posterPrivate, prepared.secrets.splits[0]!.cid),
    );
    assert.ok(
      honest >= baseline + BigInt(MIN_GAIN_BPS) * 10n ** 14n,
      `the candidate (${honest}) beats the base (${baseline}) by the minimum gain`,
    );

    // the poster reveals nothing before the candidate is committed, and only the committed split
    const nonce0 = await nonceOf(poster);
    const reveal0 = (over: Partial<Parameters<typeof revealRoundSplit>[1]> = {}) =>
      revealRoundSplit(posterIo, { bountyId, round: 0, secrets: prepared.secrets, ...over });
    assert.deepEqual(await reveal0(), { status: "waiting" });
    ready.set(0, groupsOf(0));
    await tick(refiner.loop);
    await env.conn.networkHelpers.mine();
    const forged = {
      splits: prepared.secrets.splits.map((x, i) => (i === 0 ? { ...x, salt: label("guess") } : x)),
    };
    await assert.rejects(
      reveal0({ secrets: forged }),
      (e) => e instanceof BountyError && e.code === "SPLIT_ROOT_MISMATCH",
    );
    await assert.rejects(
      reveal0({ publish: { store, bytes: prepared.splitBytes[1]! } }),
      (e) => e instanceof BountyError && e.code === "SPLIT_CID_MISMATCH",
    );
    assert.equal(await nonceOf(poster), nonce0, "nothing sent");
    assert.equal(
      (
        await revealRoundSplit(posterIo, {
          bountyId,
          round: 0,
          secrets: prepared.secrets,
          publish: { store, bytes: prepared.splitBytes[0]! },
        })
      ).status,
      "sent",
    );
    const drawn = (await getRound(0)).attestors.map((a) => getAddress(a));
    assert.equal(drawn.length, QUORUM);
    const outsider = attestorRuntime(env.wallet(9)).role;
    assert.deepEqual(await outsider.desired(), [], "an attestor not drawn has nothing to do");
    for (const a of attestors) await tick(a.loop); // commits
    const committed = await getRound(0);
    assert.equal(Number(committed.committedMask), 0b111, "every drawn attestor committed");
    const first = attestors.find((a) => who(a.wallet) === drawn[0])!;
    assert.equal((await first.queue.get(`round-commit:${bountyId}:0`))?.status, "succeeded");

    // restart (new process state, same data directory): a re-run of the finished commit sends nothing (the
    // chain shows the commitment), and the new instance, with no cached value, finds its reveal by a full scan
    // and derives the value again
    const nonce = await nonceOf(first.wallet);
    const restarted = attestorRuntime(first.wallet);
    const done = (await first.queue.get(`round-commit:${bountyId}:0`))!;
    assert.deepEqual(
      await restarted.runtime.handlers["round-commit"]!(done, {
        signal: new AbortController().signal,
        log,
      }),
      { status: "succeeded" },
    );
    assert.equal(await nonceOf(first.wallet), nonce, "no second commitment");
    assert.deepEqual(await restarted.role.desired(), [
      { bountyId, round: 0, phase: "round-reveal" },
    ]);
    first.role = restarted.role;
    first.loop = loopOf(first.queue, restarted.runtime);
    await tick(first.loop);
    assert.equal((await first.queue.get(`round-reveal:${bountyId}:0`))?.status, "succeeded");
    assert.equal(await nonceOf(first.wallet), nonce + 1, "one reveal");

    for (let i = 0; i < 4 && (await getRound(0)).status === RoundStatus.Attesting; i++) {
      for (const a of attestors) await tick(a.loop);
      await tick(refiner.loop);
    }
    const r = await getRound(0);
    assert.equal(r.status, RoundStatus.Accepted);
    assert.equal(Number(r.revealedMask), 0b111);
    const revealed = await events("AttestationRevealed", 0);
    assert.equal(
      revealed.length,
      QUORUM,
      "one reveal per drawn attestor, the restarted one included",
    );
    const expected = attestedValue(candidates[0]!.sha, honest, r.claim.payoutRoot);
    for (const e of revealed) assert.equal(e.args.value, expected);
    assert.equal(r.finalHash, expected);
    assert.equal(r.claimHash, expected, "the refiner revealed the same value");
    assert.equal(r.claim.metricAfter, honest);
    const child = await env.read<{ packageCid: string; modelSha256: Hex }>(
      "AlgorithmMarketplace",
      "getAlgorithm",
      [r.childAlgorithmId],
    );
    assert.equal(child.packageCid, candidates[0]!.cid);
    assert.equal(child.modelSha256, candidates[0]!.sha);
    assert.equal((await events("AttestationCommitted", 0)).length, QUORUM);
    for (const a of attestors) assert.deepEqual(a.role.openRounds(), []);
  });

  it("round 1: a refiner that overstates its metric is outvoted and slashed", async () => {
    const stake0 = await env.read<bigint>("NodeStaking", "stakeOf", [
      who(refinerWallet),
      Role.Refiner,
    ]);
    await runRound(1, true);
    const r = await getRound(1);
    assert.equal(r.status, RoundStatus.Rejected);
    const fin = (await events("RoundFinalized", 1))[0]!;
    assert.equal(fin.args.accepted, false);
    assert.equal(fin.args.reason, stringToHex("REFINER_MISMATCH", { size: 32 }));
    const honest = verdicts.filter((v) => v.round === 1);
    assert.equal(honest.length, QUORUM);
    for (const v of honest) {
      assert.equal(v.verdict.kind, "value");
      if (v.verdict.kind === "value") assert.equal(v.verdict.value, r.finalHash);
    }
    assert.notEqual(r.claimHash, r.finalHash, "the refiner's value is not the attested one");
    assert.equal(
      await env.read<bigint>("NodeStaking", "stakeOf", [who(refinerWallet), Role.Refiner]),
      stake0 - SLASH,
    );
    const slashed = await events("NodeSlashed", 1);
    assert.equal(slashed.length, 1);
    assert.equal(getAddress(slashed[0]!.args.node as Address), who(refinerWallet));
  });

  it("round 2: a split the poster never published makes the attestors attest SPLIT_INVALID", async () => {
    const before = await env.read<{ acceptedMetric: bigint }>("FineTuning", "getBounty", [
      bountyId,
    ]);
    await runRound(2, false);
    const r = await getRound(2);
    const round2 = verdicts.filter((v) => v.round === 2);
    assert.equal(round2.length, QUORUM);
    for (const v of round2) assert.equal(v.verdict.kind, "split-invalid");
    for (const e of await events("AttestationRevealed", 2))
      assert.equal(e.args.value, SPLIT_INVALID);
    assert.notEqual(r.finalHash, ATTESTATION_INVALID);
    assert.equal(r.finalHash, r.claimHash, "the round stands on the refiner's own value");
    assert.equal((await events("NodeSlashed", 2)).length, 0, "nobody is slashed");
    assert.equal((await events("AttestorPaid", 2)).length, QUORUM, "the attestors are paid");
    const gainMet =
      r.claim.metricAfter >= before.acceptedMetric + BigInt(MIN_GAIN_BPS) * 10n ** 14n;
    assert.equal(r.status, gainMet ? RoundStatus.Accepted : RoundStatus.Rejected);
    const b = await env.read<{ status: number }>("FineTuning", "getBounty", [bountyId]);
    assert.equal(Number(b.status), 2, "the last round finalised the bounty");
  });
});
