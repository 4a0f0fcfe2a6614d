/**
 * The fine-tuning step of `npm start` (PROTOCOL.md §5, §7.7), run on the demo's network after the prediction job:
 * wiring only — the roles are processes and the poster's actions are sdk/protocol/bounty.ts.
 *
 *   poster    publishes the public control group and one hidden acceptance split per round (slices of the held-out
 *             test emails), escrows the bounty and reveals each round's split once its candidate is committed;
 *   trainers  `dml-device train enrol`, then the devices' own `host` loops train every round in their group
 *             (the groups and the host are derived from the chain: sdk/protocol/training-round.ts);
 *   refiner   `dml-relayer refiner`: hosts the groups' SecAgg sessions, keeps the groups that improve the control
 *             group, publishes the candidate package, commits, draws the attestors, reveals, finalises;
 *   attestors `dml-relayer attestor` (all staked ones): evaluate the candidate on the revealed split, recompute the
 *             payout root, commit-reveal;
 *   clock     closes round 0 (it opens in `createBounty`, before anyone can enrol) and mines the seed blocks.
 *
 * It prints per round the control-group and hidden-split accuracy and whether the round was accepted, then the
 * final version's accuracy on the test emails beside the centralized baseline, and fails (throws) unless at least
 * one round was accepted as a child version and its trainers claimed their payouts.
 */
import { formatEther, parseEther, type Hex } from "viem";
import { protocolAbi } from "#sdk/chain/contracts.ts";
import { ChainError } from "#sdk/chain/errors.ts";
import type { ContentStore } from "#sdk/ipfs/index.ts";
import { accuracy, loadPackage, trainBaseline, type Email, type Workload } from "#sdk/ml/index.ts";
import { postBounty, prepareBounty, revealRoundSplit } from "#sdk/protocol/bounty.ts";
import { accuracyMetric, type LabelledSet } from "#sdk/protocol/training-round.ts";
import type { DemoChain, Wallet } from "./network/chain.ts";
import type { DeviceDir } from "./network/devices.ts";
import { deviceCommand, eachLimited, waitFor } from "./network/processes.ts";
import type { DemoEvents } from "./start/events.ts";

const E18 = 10n ** 18n;
/** Trained rounds of the bounty by default (`npm start -- --rounds N`). */
export const DEFAULT_TRAINED_ROUNDS = 4;
const ROUND_DURATION = 3_600;
const SPLIT_WINDOW = 3_600;
const REWARD_POOL = parseEther("400");
const CONCURRENCY = 4;

export interface FineTuningDemoContext {
  chain: DemoChain;
  store: ContentStore;
  workload: Workload;
  algorithmId: bigint;
  poster: Wallet;
  trainers: readonly DeviceDir[];
  groupSize: number;
  /** Trained rounds (default `DEFAULT_TRAINED_ROUNDS`). */
  rounds?: number;
  /** Key figures and progress for `npm start`'s bars and final table. */
  events?: DemoEvents;
  phaseTimeoutMs: number;
  print: (line: string) => void;
}

const labelled = (name: string, emails: readonly Email[]): LabelledSet => ({
  version: 1,
  name,
  labels: ["ham", "spam"],
  records: emails.map((e) => ({ id: e.id, subject: e.subject, body: e.body, label: e.label })),
});

const pct = (metric: bigint) => `${(Number((metric * 10_000n) / E18) / 100).toFixed(2)}%`;

interface RoundResult {
  round: number;
  accepted: boolean;
  reason: string;
  metric?: bigint;
  control?: bigint;
  childAlgorithmId: bigint;
}

export async function runFineTuningDemo(ctx: FineTuningDemoContext): Promise<void> {
  const { chain, store, workload, print } = ctx;
  const fineTuning = chain.addr("FineTuning");
  const emit: DemoEvents = ctx.events ?? (() => undefined);
  const trained = ctx.rounds ?? DEFAULT_TRAINED_ROUNDS;
  if (!Number.isInteger(trained) || trained < 1)
    throw new ChainError("START", `fine-tuning: ${trained} trained rounds (at least 1)`);
  const rounds = trained + 1; // round 0 opens with the bounty, before anyone enrolled
  const test = workload.split.test;
  const slice = Math.floor(test.length / (rounds + 1));
  const splits = Array.from({ length: rounds }, (_, r) =>
    labelled(`split:${r}`, test.slice(r * slice, (r + 1) * slice)),
  );
  const heldOut = labelled("test", test.slice(rounds * slice));
  const control = labelled("control", workload.split.control);
  const base = await chain.read<{ packageCid: string; modelSha256: Hex }>(
    "AlgorithmMarketplace",
    "getAlgorithm",
    [ctx.algorithmId],
  );
  const basePkg = await loadPackage(store, base.packageCid, base.modelSha256);
  const baseline = await accuracyMetric(basePkg, splits[1]!);

  // poster: control group public, splits hidden, the bounty escrowed
  const prepared = await prepareBounty({
    store,
    control,
    splits,
    algorithmId: ctx.algorithmId,
    minGainBps: 10,
    rewardPool: REWARD_POOL,
    roundDuration: ROUND_DURATION,
    splitWindow: SPLIT_WINDOW,
    baselineMetric: baseline,
    groupSize: ctx.groupSize,
  });
  await chain.send(ctx.poster, "DMLToken", "approve", [fineTuning, REWARD_POOL]);
  const io = { publicClient: chain.pub, wallet: ctx.poster, fineTuning };
  const bountyId = await postBounty(io, prepared.input);
  print(
    `bounty ${bountyId}: ${formatEther(REWARD_POOL)} DML over ${rounds} rounds on algorithm ${ctx.algorithmId}; control group ${control.records.length} emails (public), ${rounds} hidden splits of ${slice} emails; base accuracy ${pct(baseline)} on split 1`,
  );

  // trainers enrol with their own keys
  await eachLimited(ctx.trainers, CONCURRENCY, async (d) => {
    const c = deviceCommand(d.paths.root, ["train", "enrol", "--bounty", `${bountyId}`]);
    if ((await c.exited) !== 0)
      throw new ChainError("START", `dml-device train enrol failed:\n${c.stderr()}`);
  });
  print(`${ctx.trainers.length} devices enrolled as trainers (dml-device train enrol)`);
  emit({ kind: "figure", key: "bounty", value: `${bountyId}` });
  emit({ kind: "figure", key: "trainers", value: `${ctx.trainers.length}` });

  // round 0 opened with the bounty, before anyone enrolled: past its deadline the refiner closes it
  const bounty = () =>
    chain.read<{ currentRound: number; roundOpenedAt: bigint; status: number }>(
      "FineTuning",
      "getBounty",
      [bountyId],
    );
  await chain.warpTo((await bounty()).roundOpenedAt + BigInt(ROUND_DURATION) + 1n);
  await waitFor(
    "the refiner closed round 0",
    async () => Number((await bounty()).currentRound) >= 1,
    ctx.phaseTimeoutMs,
  );

  const results: RoundResult[] = [];
  for (let round = 1; round < rounds; round++) {
    const started = Date.now();
    const events = async (eventName: string) =>
      chain.pub.getContractEvents({
        address: fineTuning,
        abi: protocolAbi("FineTuning"),
        eventName,
        args: { bountyId, round: BigInt(round) },
        fromBlock: 0n,
      });
    await waitFor(
      `round ${round}: the trainers trained and the refiner committed a candidate`,
      async () => (await events("CandidateCommitted")).length > 0,
      ctx.phaseTimeoutMs,
    );
    const committedAt = Date.now();
    const reveal = await revealRoundSplit(io, {
      bountyId,
      round,
      secrets: prepared.secrets,
      publish: { store, bytes: prepared.splitBytes[round]! },
    });
    if (reveal.status !== "sent" && reveal.status !== "revealed")
      throw new ChainError(
        "START",
        `round ${round}: the split was not revealed (${reveal.status})`,
      );
    // the attestors are drawn from the block after the reveal: the dev chain mines it on demand
    await chain.test.mine({ blocks: 2 });
    await waitFor(
      `round ${round}: drawn attestors attested, the refiner revealed and the round was finalised`,
      async () => (await events("RoundFinalized")).length > 0,
      ctx.phaseTimeoutMs,
    );
    const [fin] = (await events("RoundFinalized")) as unknown as {
      args: { accepted: boolean; reason: Hex; childAlgorithmId: bigint };
    }[];
    const [cand] = (await events("CandidateRevealed")) as unknown as {
      args: { metric: bigint; modelSha256: Hex };
    }[];
    const [committed] = (await events("CandidateCommitted")) as unknown as {
      args: { modelCid: string };
    }[];
    // the candidate's accuracy on the public control group (what the refiner selected the groups by)
    const controlMetric =
      cand === undefined || committed === undefined
        ? undefined
        : await accuracyMetric(
            await loadPackage(store, committed.args.modelCid, cand.args.modelSha256),
            control,
          );
    const result: RoundResult = {
      round,
      accepted: fin!.args.accepted,
      reason: fin!.args.reason,
      childAlgorithmId: fin!.args.childAlgorithmId,
      ...(cand === undefined ? {} : { metric: cand.args.metric }),
      ...(controlMetric === undefined ? {} : { control: controlMetric }),
    };
    results.push(result);
    emit({
      kind: "figure",
      key: `round ${round}`,
      value:
        `${result.accepted ? "accepted" : "rejected"}, control ${result.control === undefined ? "n/a" : pct(result.control)}` +
        `, hidden ${result.metric === undefined ? "n/a" : pct(result.metric)}`,
    });
    emit({ kind: "progress", label: "fine-tuning rounds", done: round, total: rounds - 1 });
    print(
      `round ${round}: ${result.accepted ? `accepted as algorithm ${result.childAlgorithmId}` : "rejected"}; hidden split ${result.metric === undefined ? "n/a" : pct(result.metric)}` +
        (result.control === undefined ? "" : `, control group ${pct(result.control)}`) +
        `; trained and committed in ${((committedAt - started) / 1000).toFixed(1)} s, attested and finalised in ${((Date.now() - committedAt) / 1000).toFixed(1)} s`,
    );
    if (round < rounds - 1)
      await waitFor(
        `round ${round + 1} opened`,
        async () => Number((await bounty()).currentRound) > round,
        ctx.phaseTimeoutMs,
      );
  }

  const accepted = results.filter((r) => r.accepted);
  if (accepted.length === 0) throw new ChainError("START", "fine-tuning: no round was accepted");
  // trainers claim every accepted round they are paid in
  let paid = 0n;
  let claims = 0;
  let done = 0;
  await eachLimited(ctx.trainers, CONCURRENCY, async (d) => {
    for (const r of accepted) {
      const c = deviceCommand(d.paths.root, [
        "claim",
        "trainer",
        "--bounty",
        `${bountyId}`,
        "--round",
        `${r.round}`,
      ]);
      const code = await c.exited;
      const m = /claimed ([0-9.]+) DML/.exec(c.stdout());
      if (code === 0 && m?.[1] !== undefined) {
        paid += parseEther(m[1]);
        claims++;
      } else if (!c.stderr().includes("NOT_IN_PAYOUT"))
        throw new ChainError("START", `dml-device claim trainer failed:\n${c.stderr()}`);
    }
    emit({ kind: "progress", label: "trainers claimed", done: ++done, total: ctx.trainers.length });
  });
  const last = accepted.at(-1)!;
  const finalAlg = await chain.read<{ packageCid: string; modelSha256: Hex }>(
    "AlgorithmMarketplace",
    "getAlgorithm",
    [last.childAlgorithmId],
  );
  const finalPkg = await loadPackage(store, finalAlg.packageCid, finalAlg.modelSha256);
  const [finalAcc, baseAcc] = await Promise.all([
    accuracyMetric(finalPkg, heldOut),
    accuracyMetric(basePkg, heldOut),
  ]);
  const central = accuracy(trainBaseline(workload), {
    x: workload.test.x.slice(rounds * slice),
    y: workload.test.y.slice(rounds * slice),
  });
  print(
    `fine-tuning: ${accepted.length} of ${results.length} trained rounds accepted; trainers claimed ${formatEther(paid)} DML in ${claims} claims; ` +
      `held-out test accuracy ${pct(baseAcc)} (reference) → ${pct(finalAcc)} (algorithm ${last.childAlgorithmId}); centralized baseline ${(central * 100).toFixed(2)}%`,
  );
  emit({ kind: "figure", key: "accepted", value: `${accepted.length} of ${results.length}` });
  emit({ kind: "figure", key: "trainer claims", value: `${claims} (${formatEther(paid)} DML)` });
  emit({
    kind: "figure",
    key: "held-out",
    value: `${pct(baseAcc)} → ${pct(finalAcc)}, centralized ${(central * 100).toFixed(2)}%`,
  });
  if (claims === 0) throw new ChainError("START", "fine-tuning: no trainer was paid");
}
