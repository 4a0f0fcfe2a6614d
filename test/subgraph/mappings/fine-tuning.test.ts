/**
 * subgraph/src/mappings/fine-tuning.ts against real FineTuning events on the EDR chain (`hardhat node`), indexed by
 * the local graph host from the `graph build` output. The flow of test/integration/fine-tuning.test.ts at its
 * smallest: a two-round bounty, two registered trainers, four staked attestors (quorum 3: the slashed liar leaves
 * three active for round 1). Round 0: the refiner commits, the poster reveals the split (attestors drawn), one
 * attestor reveals a lie (slashed), the two honest ones are paid, the
 * round is accepted into a child version; one trainer claims, the other's share is swept after the claim window.
 * Round 1: the seed's block hash expires before the split is revealed (SeedRearmed), a keeper draws the attestors
 * later, and the round is rejected (gain below the minimum), which finalises the bounty. Governance updates the
 * parameters. Every expected value is read from the chain with viem or decoded from its logs; every FineTuning
 * handler runs.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { getAddress, type Address, type Hex } from "viem";
import {
  attestedValue,
  buildRoundList,
  buildSplitTree,
  canonicalTrainerPayouts,
  candidateCommitment,
  FineTuningRoundStatus,
  trainerBudget,
  type SplitTree,
} from "#sdk/chain/finetuning.ts";
import { implementationOf } from "#sdk/chain/governance.ts";
import {
  ETHER,
  label,
  localAccount,
  memberCommitment,
  Role,
  type ProtocolEnv,
} from "../../../bench/fixture/protocol.ts";
import {
  expectEventFields,
  parameterValues,
  startIndexedProtocol,
  type DecodedLog,
  type EntityJson,
  type IndexedProtocol,
} from "../helpers/indexed-protocol.ts";

type Wallet = ProtocolEnv["wallets"][number];

const SCHEMA = label("email/rfc822-v1");
const REWARD_POOL = 100n * ETHER;
const ROUNDS = 2;
const MIN_GAIN_BPS = 100;
const SHARE_BPS = 1_000;
const BUDGET = trainerBudget(REWARD_POOL, ROUNDS, SHARE_BPS);
const E18 = 10n ** 18n;
const BASELINE = (80n * E18) / 100n;
const CLAIM_WINDOW = 86_400;

interface RoundInfo {
  status: number;
  refiner: Address;
  childAlgorithmId: bigint;
  claimDeadline: bigint;
  swept: boolean;
  claimHash: Hex;
  finalHash: Hex;
  payoutTotal: bigint;
  claimed: bigint;
  commitDeadline: bigint;
  revealDeadline: bigint;
  attestors: readonly Address[];
  claim: { modelCid: string; modelSha256: Hex; metricAfter: bigint; payoutRoot: Hex };
  listCid: string;
  splitDeadline: bigint;
  seedBlock: bigint;
}

interface BountyInfo {
  poster: Address;
  status: number;
  rounds: number;
  minGainBps: number;
  groupSize: number;
  roundDuration: number;
  baseAlgorithmId: bigint;
  currentAlgorithmId: bigint;
  metricId: Hex;
  rewardPool: bigint;
  refunded: bigint;
  trainerCount: number;
  controlCid: string;
  splitRoot: Hex;
  attestorsPaid: bigint;
  splitWindow: number;
}

const STATUS_NAME = Object.fromEntries(
  Object.entries(FineTuningRoundStatus).map(([k, v]) => [v, k]),
) as Record<number, string>;
/** Event parameters stored otherwise (the round as a reference, the role as its name): compared one by one. */
const NOT_A_FIELD = { round: "-", role: "-" };
const lower = (a: string) => a.toLowerCase();
const ref = (e: EntityJson, field: string) => (e[field] as { id: string } | null)?.id ?? null;

describe("subgraph mapping: FineTuning", () => {
  let ix: IndexedProtocol;
  let env: ProtocolEnv;
  let bountyId: bigint;
  let splits: SplitTree;
  let poster: Wallet;
  let refiner: Wallet;
  let keeper: Wallet;
  let attestors: Wallet[];
  let liar: Address;
  let liarStakeBefore: bigint;
  /** The round's status as the contract read it after the expired seed was re-armed (before the draw). */
  let rearmed: { info: RoundInfo; entity: EntityJson | null };
  const trainers = [localAccount("sg-ft-trainer-0"), localAccount("sg-ft-trainer-1")];
  const who = (w: { account?: { address: Address } }) => getAddress(w.account!.address);
  const groups = () => [
    { members: [getAddress(trainers[0]!.address)], samples: 100n },
    { members: [getAddress(trainers[1]!.address)], samples: 200n },
  ];
  const splitOf = (round: number) => ({
    round,
    cid: `bafkreisgsplit${round}sgsplitsgsplitsgsplitsgsplitsgsplitsgsp`,
    salt: label(`sg-split-salt-${round}`),
  });
  const getRound = (round: number) =>
    env.read<RoundInfo>("FineTuning", "getRound", [bountyId, round]);

  /** The refiner's commitment for `round`, its payout root and attested value. */
  function candidateOf(round: number, metric: bigint) {
    const modelSha256 = label(`sg-ft-model-${round}`);
    const { payoutRoot } = buildRoundList({ bountyId, round, budget: BUDGET, groups: groups() });
    const salt = label(`sg-ft-refiner-salt-${round}`);
    return {
      modelCid: `bafybeisgchild${round}sgchildsgchildsgchildsgchildsgchildsgch`,
      listCid: `bafkreisglist${round}sglistsglistsglistsglistsglistsglistsgl`,
      modelSha256,
      metric,
      payoutRoot,
      salt,
      commitment: candidateCommitment(modelSha256, payoutRoot, salt),
      value: attestedValue(modelSha256, metric, payoutRoot),
    };
  }

  /** Attestors commit and reveal (`lie` reveals another value), the refiner reveals, the keeper finalises. */
  async function attestAndFinalize(
    round: number,
    c: ReturnType<typeof candidateOf>,
    lie?: Address,
  ): Promise<void> {
    const drawn = (await getRound(round)).attestors;
    assert.equal(drawn.length, 3);
    const wallet = (a: Address) => attestors.find((w) => who(w) === getAddress(a))!;
    const valueOf = (a: Address) =>
      lie && getAddress(a) === lie
        ? attestedValue(c.modelSha256, c.metric + 1n, c.payoutRoot)
        : c.value;
    const salt = (a: Address) => label(`sg-ft-${round}-${a}`);
    for (const a of drawn)
      await env.send(wallet(a), "FineTuning", "commitAttestation", [
        bountyId,
        memberCommitment(valueOf(a), salt(a), getAddress(a)),
      ]);
    for (const a of drawn)
      await env.send(wallet(a), "FineTuning", "revealAttestation", [bountyId, valueOf(a), salt(a)]);
    await env.send(refiner, "FineTuning", "revealCandidate", [
      bountyId,
      c.modelSha256,
      c.metric,
      c.payoutRoot,
      c.salt,
    ]);
    await env.send(keeper, "FineTuning", "finalizeRound", [bountyId]);
  }

  before(async () => {
    ix = await startIndexedProtocol({
      attestation: {
        fineTuning: {
          quorum: 3,
          commitWindow: 3_600,
          revealWindow: 3_600,
          claimWindow: CLAIM_WINDOW,
          attestorShareBps: SHARE_BPS,
        },
      },
    });
    env = ix.env;
    const wallet = async (s: string) =>
      (await env.localWallet(localAccount(s))) as unknown as Wallet;
    const developer = await wallet("sg-ft-developer");
    poster = await wallet("sg-ft-poster");
    refiner = await wallet("sg-ft-refiner");
    keeper = await wallet("sg-ft-keeper");
    attestors = [];
    for (let i = 0; i < 4; i++) attestors.push(await wallet(`sg-ft-attestor-${i}`));
    await env.stakeNode(refiner, Role.Refiner, 10_000n * ETHER);
    for (const w of attestors) await env.stakeNode(w, Role.Attestor, 5_000n * ETHER);
    await env.send(developer, "AlgorithmMarketplace", "list", [
      "bafybeisgftbasesgftbasesgftbasesgftbasesgftbasesgftbasesgf",
      label("model.onnx"),
      SCHEMA,
      5n * ETHER,
      0n,
      0n,
      "",
    ]);
    const baseId = await env.read<bigint>("AlgorithmMarketplace", "algorithmCount");
    await env.fund([who(poster)], REWARD_POOL);
    await env.approve(poster, "FineTuning");
    splits = buildSplitTree([splitOf(0), splitOf(1)]);
    await env.send(poster, "FineTuning", "createBounty", [
      {
        algorithmId: baseId,
        controlCid: "bafkreisgcontrolsgcontrolsgcontrolsgcontrolsgcontrolsgcont",
        metricId: label("accuracy"),
        minGainBps: MIN_GAIN_BPS,
        rewardPool: REWARD_POOL,
        rounds: ROUNDS,
        groupSize: 0, // the contract's default group size
        roundDuration: 86_400,
        splitRoot: splits.root,
        baselineMetric: BASELINE,
        splitWindow: 86_400,
      },
    ]);
    bountyId = await env.read<bigint>("FineTuning", "bountyCount");
    await env.registerDevices(trainers, SCHEMA);
    for (const t of trainers)
      await env.send(await env.localWallet(t), "FineTuning", "enrol", [bountyId]);

    // round 0: drawn at the split's reveal, one attestor lies, accepted into a child version
    const c0 = candidateOf(0, (85n * E18) / 100n);
    await env.send(refiner, "FineTuning", "commitCandidate", [
      bountyId,
      c0.commitment,
      c0.modelCid,
      c0.listCid,
    ]);
    await env.conn.networkHelpers.mine(); // the seed's block
    const s0 = splitOf(0);
    await env.send(poster, "FineTuning", "revealSplit", [
      bountyId,
      s0.cid,
      s0.salt,
      splits.proof(0),
    ]);
    liar = getAddress((await getRound(0)).attestors[0]!);
    liarStakeBefore = await env.read<bigint>("NodeStaking", "stakeOf", [liar, Role.Attestor]);
    await attestAndFinalize(0, c0, liar);
    // one trainer claims its share; the other's is swept after the claim window
    const { tree } = buildRoundList({ bountyId, round: 0, budget: BUDGET, groups: groups() });
    const [first] = canonicalTrainerPayouts(BUDGET, groups());
    await env.send(keeper, "FineTuning", "claim", [
      bountyId,
      0n,
      first!.account,
      first!.value,
      tree!.proof(first!.account),
    ]);

    // round 1: the seed's block hash expires before the split is revealed: re-armed, then drawn by a keeper
    const c1 = candidateOf(1, (855n * E18) / 1000n); // +0.5% < the 1% minimum gain
    await env.send(refiner, "FineTuning", "commitCandidate", [
      bountyId,
      c1.commitment,
      c1.modelCid,
      c1.listCid,
    ]);
    await env.conn.networkHelpers.mine(300); // past the 256 block hashes the EVM keeps
    const s1 = splitOf(1);
    await env.send(poster, "FineTuning", "revealSplit", [
      bountyId,
      s1.cid,
      s1.salt,
      splits.proof(1),
    ]);
    await ix.sync();
    rearmed = { info: await getRound(1), entity: await ix.entity("BountyRound", `${bountyId}-1`) };
    await env.conn.networkHelpers.mine(2); // past the fresh seed block (the sender simulates on the head)
    await env.send(keeper, "FineTuning", "drawAttestors", [bountyId]);
    await attestAndFinalize(1, c1);

    const r0 = await getRound(0);
    await env.warpTo(r0.claimDeadline + 1n);
    await env.send(keeper, "FineTuning", "sweep", [bountyId, 0n]);

    const params = await env.read<Record<string, unknown>>("FineTuning", "params");
    await env.asGovernance("FineTuning", "setParams", [
      { ...params, slashAmount: (params.slashAmount as bigint) * 2n },
    ]);
    await ix.sync();
  });
  after(async () => ix?.stop());

  const ftLogs = async (eventName: string): Promise<DecodedLog[]> =>
    (await ix.logs()).filter((l) => l.contract === "FineTuning" && l.eventName === eventName);
  const blockTime = async (l: DecodedLog) =>
    String((await env.pub.getBlock({ blockNumber: l.log.blockNumber! })).timestamp);

  it("the bounty holds what the contract reads: terms, trainers, current version, payments, refund", async () => {
    const b = await env.read<BountyInfo>("FineTuning", "getBounty", [bountyId]);
    const e = await ix.entity("Bounty", String(bountyId));
    assert.ok(e);
    const [created] = await ftLogs("BountyCreated");
    const input = created!.args.input as { baselineMetric: bigint };
    assert.equal(e.bountyId, String(bountyId));
    assert.equal(ref(e, "poster"), lower(b.poster));
    assert.equal(ref(e, "algorithm"), String(b.baseAlgorithmId));
    assert.equal(ref(e, "currentAlgorithm"), String(b.currentAlgorithmId));
    assert.notEqual(b.currentAlgorithmId, b.baseAlgorithmId, "round 0's child");
    assert.equal(e.controlCid, b.controlCid);
    assert.equal(e.metricId, b.metricId);
    assert.equal(e.minGainBps, b.minGainBps);
    assert.equal(e.rewardPool, String(b.rewardPool));
    assert.equal(e.rounds, b.rounds);
    assert.equal(e.groupSize, b.groupSize);
    assert.equal(e.roundDuration, String(b.roundDuration));
    assert.equal(e.splitRoot, b.splitRoot);
    assert.equal(e.baselineMetric, String(input.baselineMetric));
    assert.equal(e.splitWindow, String(b.splitWindow));
    assert.equal(b.status, 2);
    assert.equal(e.status, "Finalized");
    assert.equal(e.refund, String(b.refunded));
    assert.equal(e.trainerCount, b.trainerCount);
    assert.equal(e.paidToAttestors, String(b.attestorsPaid));
    const claimed = (await getRound(0)).claimed + (await getRound(1)).claimed;
    assert.ok(claimed > 0n);
    assert.equal(e.paidToTrainers, String(claimed));
    assert.equal(e.createdAt, await blockTime(created!));
    assert.equal(e.createdAtBlock, String(created!.log.blockNumber));
    const [finalized] = await ftLogs("BountyFinalized");
    assert.equal(e.finalizedAt, await blockTime(finalized!));
    assert.equal(e.refund, String(finalized!.args.refund));

    const enrolled = await ix.entities("BountyTrainer", `{ bounty: "${bountyId}" }`);
    assert.equal(enrolled.length, b.trainerCount);
    const logs = await ftLogs("TrainerEnrolled");
    for (const log of logs) {
      const t = getAddress(log.args.trainer as Address);
      assert.equal(await env.read("FineTuning", "isEnrolled", [bountyId, t]), true);
      const te = enrolled.find((x) => x.id === `${bountyId}-${lower(t)}`);
      assert.ok(te, `BountyTrainer ${t}`);
      assert.equal(ref(te, "trainer"), lower(t));
      assert.equal(te.transactionHash, log.log.transactionHash);
      assert.equal(te.blockNumber, String(log.log.blockNumber));
    }
    assert.equal(logs.length, trainers.length);
  });

  /** The round entity against getRound and the round's logs. */
  async function checkRound(round: number): Promise<EntityJson> {
    const r = await getRound(round);
    const e = await ix.entity("BountyRound", `${bountyId}-${round}`);
    assert.ok(e);
    const of = async (name: string) =>
      (await ftLogs(name)).filter((l) => Number(l.args.round) === round);
    const [opened] = await of("RoundOpened");
    const [committed] = await of("CandidateCommitted");
    const [split] = await of("SplitRevealed");
    const [drawn] = await of("AttestorsDrawn");
    const [revealed] = await of("CandidateRevealed");
    const [finalized] = await of("RoundFinalized");
    assert.ok(opened && committed && split && drawn && revealed && finalized);
    assert.equal(ref(e, "bounty"), String(bountyId));
    assert.equal(e.round, round);
    assert.equal(ref(e, "algorithm"), String(opened.args.algorithmId));
    assert.equal(e.openedAt, String(opened.args.openedAt));
    assert.equal(e.status, STATUS_NAME[r.status]);
    assert.equal(e.refiner, lower(r.refiner));
    assert.equal(e.commitment, committed.args.commitment);
    assert.equal(e.modelCid, r.claim.modelCid);
    assert.equal(e.listCid, r.listCid);
    assert.equal(e.splitDeadline, String(r.splitDeadline));
    assert.equal(e.seedBlock, String(r.seedBlock));
    assert.equal(e.splitCid, split.args.splitCid);
    assert.equal(e.salt, split.args.salt);
    assert.equal(e.seed, drawn.args.seed);
    assert.deepEqual(e.attestors, r.attestors.map(lower));
    assert.equal(e.commitDeadline, String(r.commitDeadline));
    assert.equal(e.revealDeadline, String(r.revealDeadline));
    assert.equal(e.modelSha256, r.claim.modelSha256);
    assert.equal(e.metric, String(r.claim.metricAfter));
    assert.equal(e.payoutRoot, r.claim.payoutRoot);
    assert.equal(e.value, r.claimHash);
    assert.equal(e.value, revealed.args.value);
    assert.equal(e.accepted, finalized.args.accepted);
    assert.equal(e.reason, finalized.args.reason);
    assert.equal(e.finalHash, r.finalHash);
    assert.equal(e.finalizedAt, await blockTime(finalized));
    assert.equal(
      ref(e, "childAlgorithm"),
      r.childAlgorithmId === 0n ? null : String(r.childAlgorithmId),
    );

    // every drawn attestor's vote: its commitment and revealed value, as logged
    const votes = await ix.entities("RoundAttestorVote", `{ round: "${bountyId}-${round}" }`);
    assert.equal(votes.length, r.attestors.length);
    const commits = await of("AttestationCommitted");
    const reveals = await of("AttestationRevealed");
    for (const a of r.attestors) {
      const v = votes.find((x) => x.id === `${bountyId}-${round}-${lower(a)}`);
      assert.ok(v, `vote of ${a}`);
      const c = commits.find((l) => getAddress(l.args.attestor as Address) === getAddress(a))!;
      const rv = reveals.find((l) => getAddress(l.args.attestor as Address) === getAddress(a))!;
      assert.equal(v.attestor, lower(a));
      assert.equal(v.commitment, c.args.commitment);
      assert.equal(v.value, rv.args.value);
      assert.equal(v.committedAt, await blockTime(c));
      assert.equal(v.revealedAt, await blockTime(rv));
    }
    return e;
  }

  it("an accepted round: child version, attested value, swept remainder, the liar's vote", async () => {
    const r = await getRound(0);
    assert.equal(r.status, FineTuningRoundStatus.Accepted);
    const e = await checkRound(0);
    assert.equal(e.accepted, true);
    assert.ok(r.childAlgorithmId > 0n);
    const child = await ix.entity("Algorithm", String(r.childAlgorithmId));
    assert.ok(child, "the child version is indexed");
    assert.equal(r.swept, true);
    const [swept] = await ftLogs("RoundSwept");
    assert.equal(e.swept, String(r.payoutTotal - r.claimed));
    assert.equal(e.swept, String(swept!.args.amount));
    assert.ok(r.payoutTotal - r.claimed > 0n);
    const liarVote = await ix.entity("RoundAttestorVote", `${bountyId}-0-${lower(liar)}`);
    assert.notEqual(liarVote!.value, r.finalHash);
  });

  it("a rejected round after a re-armed seed: the round waits for its draw, then no child", async () => {
    // after the re-arm (before the draw) the round is attesting, on the fresh seed block
    assert.ok(rearmed.entity);
    assert.equal(rearmed.info.attestors.length, 0);
    assert.equal(rearmed.entity.status, STATUS_NAME[rearmed.info.status]);
    assert.equal(rearmed.entity.seedBlock, String(rearmed.info.seedBlock));
    const [rearm] = await ftLogs("SeedRearmed");
    assert.equal(rearm!.args.seedBlock, rearmed.info.seedBlock);
    assert.equal(Number(rearm!.args.round), 1);

    const r = await getRound(1);
    assert.equal(r.status, FineTuningRoundStatus.Rejected);
    const e = await checkRound(1);
    assert.equal(e.accepted, false);
    assert.equal(e.swept, null);
  });

  it("payments and slashes: trainer claims, attestor pay, the lying attestor's slash", async () => {
    const paid = await ftLogs("TrainerPaid");
    assert.equal(paid.length, 1);
    for (const log of paid) {
      const p = await ix.eventEntityOf("TrainerPayment", log);
      assert.ok(expectEventFields(p, log, NOT_A_FIELD) >= 2, "account and amount compared");
      assert.equal(ref(p, "round"), `${bountyId}-${log.args.round}`);
      assert.equal(p.transactionHash, log.log.transactionHash);
      assert.equal(p.blockNumber, String(log.log.blockNumber));
      assert.equal(p.timestamp, await blockTime(log));
      assert.equal(
        await env.read("FineTuning", "isClaimed", [bountyId, log.args.round, log.args.account]),
        true,
      );
    }
    assert.equal(paid[0]!.args.amount, (await getRound(0)).claimed);

    const attestorPaid = await ftLogs("AttestorPaid");
    assert.equal(attestorPaid.length, 2 + 3, "two honest in round 0, three in round 1");
    let total = 0n;
    for (const log of attestorPaid) {
      const p = await ix.eventEntityOf("AttestorPayment", log);
      assert.ok(expectEventFields(p, log, NOT_A_FIELD) >= 2, "attestor and amount compared");
      assert.equal(ref(p, "round"), `${bountyId}-${log.args.round}`);
      assert.equal(p.transactionHash, log.log.transactionHash);
      assert.notEqual(getAddress(log.args.attestor as Address), liar);
      total += log.args.amount as bigint;
    }
    const b = await env.read<BountyInfo>("FineTuning", "getBounty", [bountyId]);
    assert.equal(total, b.attestorsPaid);

    const slashed = await ftLogs("NodeSlashed");
    assert.equal(slashed.length, 1);
    const log = slashed[0]!;
    const s = await ix.eventEntityOf("RoundSlash", log);
    assert.ok(expectEventFields(s, log, NOT_A_FIELD) >= 2, "node and amount compared");
    assert.equal(s.node, lower(liar));
    assert.equal(s.role, "Attestor");
    assert.equal(Number(log.args.role), Role.Attestor);
    assert.equal(ref(s, "round"), `${bountyId}-0`);
    const stake = await env.read<bigint>("NodeStaking", "stakeOf", [liar, Role.Attestor]);
    assert.equal(s.amount, String(liarStakeBefore - stake));
    assert.equal(s.transactionHash, log.log.transactionHash);
  });

  it("the protocol counts the bounties", async () => {
    const p = await ix.entity("Protocol", "1");
    assert.ok(p);
    assert.equal(p.bounties, String(await env.read<bigint>("FineTuning", "bountyCount")));
  });

  it("governance: the parameter update, the proxy's implementation, initializer version and governance", async () => {
    const changes = await ftLogs("ParamsUpdated");
    assert.equal(changes.length, 2, "the deployment's and governance's");
    const log = changes[1]!;
    const change = await ix.eventEntityOf("ParameterChange", log);
    assert.equal(change.event, "ParamsUpdated");
    assert.deepEqual(change.values, parameterValues(log));
    const p = await env.read<Record<string, unknown>>("FineTuning", "params");
    assert.deepEqual(
      change.values,
      [
        "quorum",
        "commitWindow",
        "revealWindow",
        "slashAmount",
        "claimWindow",
        "attestorShareBps",
      ].map((k, i) => `params.${i}=${String(p[k])}`),
    );
    const ft = env.addr("FineTuning");
    const c = await ix.entity("ProtocolContract", lower(ft));
    assert.ok(c);
    assert.equal(c.name, "FineTuning");
    assert.equal(c.implementation, lower(await implementationOf(ix.chain.pub as never, ft)));
    assert.equal(c.governance, lower(env.addr("TimelockController")));
    assert.equal(c.initializedVersion, "1");
    assert.equal(c.upgradeCount, 1);
  });

  it("every FineTuning handler ran", () => {
    ix.assertHandlersRan(["FineTuning"]);
  });
});
