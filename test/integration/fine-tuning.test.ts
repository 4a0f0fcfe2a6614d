/**
 * A fine-tuning bounty end to end under PROTOCOL.md §7.7 on the in-process EDR chain, deployed by
 * script/deploy.ts (FineTuning authorised as marketplace publisher and NodeStaking slasher by the deploy step):
 * a poster escrows a two-round bounty on a listed algorithm with a public control group and a Merkle root over
 * one hidden acceptance split per round; registered devices enrol as trainers. Each round the refiner publishes
 * its round list (accepted groups, canonical payouts) on Helia and commits its candidate hidden; the poster then
 * reveals the round's split, which draws 3 attestors from the block after the commitment; the attestors recompute
 * the payout root from the round list and attest (model, metric, root); the refiner reveals last. Round 0 (metric
 * 0.80 → 0.85 on the split, gain ≥ 1%) publishes a child version, pays the attestors and opens the trainers'
 * claims; round 1 (gain 0.5% < 1%) is rejected but still pays its attestors; after the last round the leftover
 * returns to the poster. Balances are exact. Fixed metrics are used (the attestors' evaluation is off-chain).
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
  buildRoundList,
  buildSplitTree,
  candidateCommitment,
  recomputePayoutRoot,
  trainerBudget,
  type SplitTree,
} from "#sdk/chain/finetuning.ts";
import { HeliaStore } from "#sdk/ipfs/index.ts";
import type { DeviceClients } from "../../device-runner/chain.ts";
import { DeviceError } from "../../device-runner/errors.ts";
import { claimTrainerPayout } from "../../device-runner/rewards.ts";
import {
  abi,
  calldataGas,
  ETHER,
  label,
  localAccount,
  memberCommitment,
  printGas,
  ProtocolEnv,
  revertName,
  Role,
} from "../../bench/fixture/protocol.ts";

const SCHEMA = label("email/rfc822-v1");
const PKG = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";
const CONTROL = "bafkreicontrolcontrolcontrolcontrolcontrolcontrolcontrolcon";
const REWARD_POOL = 300n * ETHER;
const ROUNDS = 2;
const MIN_GAIN_BPS = 100; // 1% of 1e18
const QUORUM = 3;
const ATTESTOR_SHARE_BPS = 1_000;
const BUDGET = trainerBudget(REWARD_POOL, ROUNDS, ATTESTOR_SHARE_BPS); // 135 DML per round
const ATTESTOR_POOL = REWARD_POOL / BigInt(ROUNDS) - BUDGET; // 15 DML per round
const RoundStatus = { Open: 0, Committed: 1, Accepted: 2, Rejected: 3, Attesting: 4 } as const;
const E18 = 10n ** 18n;
const BASELINE = (80n * E18) / 100n;

describe("Fine-tuning bounty (§7.7): hidden split, drawn and paid attestors, trainer claims", () => {
  let env: ProtocolEnv;
  let developer: ProtocolEnv["wallets"][number];
  let poster: ProtocolEnv["wallets"][number];
  let refiner: ProtocolEnv["wallets"][number];
  let keeper: ProtocolEnv["wallets"][number];
  let attestorWallets: ProtocolEnv["wallets"];
  let trainers: PrivateKeyAccount[];
  let baseId: bigint;
  let bountyId: bigint;
  let splits: SplitTree;
  let store: HeliaStore;
  let tmp: string;
  const splitOf = (round: number) => ({
    round,
    cid: `bafkreihiddensplit${round}hiddensplithiddensplithiddensplit`,
    salt: label(`split-salt-${round}`),
  });
  const who = (w: { account: { address: Address } }): Address => getAddress(w.account.address);
  const deviceClients = async (t: PrivateKeyAccount): Promise<DeviceClients> =>
    ({ publicClient: env.pub, walletClient: await env.localWallet(t) }) as unknown as DeviceClients;

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
    developer = env.wallet(2);
    poster = env.wallet(3);
    refiner = env.wallet(4);
    keeper = env.wallet(5);
    attestorWallets = [6, 7, 8, 9, 10].map((i) => env.wallet(i));
    await env.stakeNode(refiner, Role.Refiner, 10_000n * ETHER);
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
    baseId = await env.read<bigint>("AlgorithmMarketplace", "algorithmCount");
    await env.fund([who(poster)], 1_000n * ETHER);
    await env.approve(poster, "FineTuning");
    tmp = mkdtempSync(path.join(tmpdir(), "dml-ft-"));
    store = await HeliaStore.open({ dir: tmp });
  });

  after(async () => {
    await store?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it("a poster escrows a bounty with hidden splits and registered devices enrol as trainers", async () => {
    splits = buildSplitTree([splitOf(0), splitOf(1)]);
    const p0 = await env.balance(who(poster));
    await env.send(poster, "FineTuning", "createBounty", [
      {
        algorithmId: baseId,
        controlCid: CONTROL,
        metricId: label("accuracy"),
        minGainBps: MIN_GAIN_BPS,
        rewardPool: REWARD_POOL,
        rounds: ROUNDS,
        groupSize: 0,
        roundDuration: 86_400,
        splitRoot: splits.root,
        baselineMetric: BASELINE,
        splitWindow: 86_400,
      },
    ]);
    bountyId = await env.read<bigint>("FineTuning", "bountyCount");
    assert.equal(p0 - (await env.balance(who(poster))), REWARD_POOL);
    assert.equal(await env.balance(env.addr("FineTuning")), REWARD_POOL);

    trainers = Array.from({ length: 6 }, (_, i) => localAccount(`trainer-${i}`));
    const outsider = await env.localWallet(localAccount("not-a-device"));
    assert.equal(
      await revertName(
        outsider.writeContract({
          address: env.addr("FineTuning"),
          abi: abi("FineTuning"),
          functionName: "enrol",
          args: [bountyId],
        }),
      ),
      "FineTuningNotDevice",
    );
    // every trainer is a registered device: it posts the registration bond first
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
      assert.equal(await env.read("FineTuning", "isEnrolled", [bountyId, t.address]), true);
    }
  });

  /** Accepted groups of a round: trainers 0-2 (300 samples) and 3-5 (600 samples). */
  const groups = () => [
    { members: trainers.slice(0, 3).map((t) => getAddress(t.address)), samples: 300n },
    { members: trainers.slice(3).map((t) => getAddress(t.address)), samples: 600n },
  ];

  /**
   * One honest §7.7 round: the refiner publishes its round list and commits the candidate (hidden); the poster
   * reveals the split (the attestors are drawn); each attestor recomputes the payout root from the round list and
   * attests (model, `metric`, root); the refiner reveals; the keeper finalises. Returns the drawn attestors.
   */
  async function playRound(
    round: number,
    candidate: { modelCid: string; modelSha256: Hex; metric: bigint },
  ): Promise<{ attestors: readonly Address[]; payoutRoot: Hex }> {
    const { list, payoutRoot } = buildRoundList({
      bountyId,
      round,
      budget: BUDGET,
      groups: groups(),
    });
    const listCid = await store.addBytes(new TextEncoder().encode(JSON.stringify(list)));
    const salt = label(`refiner-salt-${round}`);
    const commitment = candidateCommitment(candidate.modelSha256, payoutRoot, salt);
    const g = (name: string) => (round === 0 ? `FineTuning.${name}` : `FineTuning.${name} (r1)`);
    await env.send(
      refiner,
      "FineTuning",
      "commitCandidate",
      [bountyId, commitment, candidate.modelCid, listCid],
      g("commitCandidate"),
    );
    let info = await env.read<{
      status: number;
      claimHash: Hex;
      attestors: readonly Address[];
      listCid: string;
      seedBlock: bigint;
    }>("FineTuning", "getRound", [bountyId, round]);
    assert.equal(info.status, RoundStatus.Committed);
    assert.equal(info.claimHash, commitment, "only the salted commitment is public");
    assert.equal(info.attestors.length, 0, "nobody drawn before the split");
    assert.equal(info.listCid, listCid);
    await env.conn.networkHelpers.mine(); // the seed's block
    const split = splitOf(round);
    await env.send(
      poster,
      "FineTuning",
      "revealSplit",
      [bountyId, split.cid, split.salt, splits.proof(round)],
      g("revealSplit (draws 3 attestors)"),
    );
    const drawn = await env.read<{
      status: number;
      attestors: readonly Address[];
      commitDeadline: bigint;
    }>("FineTuning", "getRound", [bountyId, round]);
    assert.equal(drawn.status, RoundStatus.Attesting);
    assert.equal(drawn.attestors.length, QUORUM);
    // each attestor recomputes the payout root from the published round list (and the metric on the split)
    const fetched: unknown = JSON.parse(new TextDecoder().decode(await store.getBytes(listCid)));
    const root = recomputePayoutRoot(fetched, BUDGET);
    assert.equal(root, payoutRoot);
    const value = attestedValue(candidate.modelSha256, candidate.metric, root);
    const wallet = (a: Address) => attestorWallets.find((w) => who(w) === getAddress(a))!;
    for (const a of drawn.attestors)
      await env.send(
        wallet(a),
        "FineTuning",
        "commitAttestation",
        [bountyId, memberCommitment(value, label(`ft-${round}-${a}`), getAddress(a))],
        g("commitAttestation"),
      );
    // every member committed: the reveal phase is open
    for (const a of drawn.attestors)
      await env.send(
        wallet(a),
        "FineTuning",
        "revealAttestation",
        [bountyId, value, label(`ft-${round}-${a}`)],
        g("revealAttestation"),
      );
    await env.send(
      refiner,
      "FineTuning",
      "revealCandidate",
      [bountyId, candidate.modelSha256, candidate.metric, payoutRoot, salt],
      g("revealCandidate"),
    );
    await env.send(keeper, "FineTuning", "finalizeRound", [bountyId], g("finalizeRound"));
    info = await env.read("FineTuning", "getRound", [bountyId, round]);
    assert.equal(info.claimHash, value);
    return { attestors: drawn.attestors, payoutRoot };
  }

  it("an accepted round publishes a child version, pays the attestors, and trainers claim with proofs", async () => {
    const attestorBalances = await Promise.all(attestorWallets.map((w) => env.balance(who(w))));
    const candidate = {
      modelCid: "bafybeichildchildchildchildchildchildchildchildchildchildc",
      modelSha256: label("child-model.onnx"),
      metric: (85n * E18) / 100n,
    };
    const { attestors } = await playRound(0, candidate);
    for (const [i, w] of attestorWallets.entries()) {
      const paid = attestors.some((a) => getAddress(a) === who(w)) ? ATTESTOR_POOL / 3n : 0n;
      assert.equal((await env.balance(who(w))) - attestorBalances[i]!, paid, "attestor pay");
      assert.equal(
        await env.read("NodeStaking", "stakeOf", [who(w), Role.Attestor]),
        5_000n * ETHER,
      );
    }
    const round = await env.read<{
      status: number;
      childAlgorithmId: bigint;
      payoutTotal: bigint;
    }>("FineTuning", "getRound", [bountyId, 0]);
    assert.equal(round.status, RoundStatus.Accepted);
    assert.equal(round.payoutTotal, BUDGET);
    const child = await env.read<{
      developer: Address;
      parentId: bigint;
      packageCid: string;
      modelSha256: Hex;
    }>("AlgorithmMarketplace", "getAlgorithm", [round.childAlgorithmId]);
    assert.equal(child.parentId, baseId);
    assert.equal(getAddress(child.developer), who(refiner));
    assert.equal(child.packageCid, candidate.modelCid);
    assert.equal(child.modelSha256, candidate.modelSha256);
    const bounty = await env.read<{
      currentAlgorithmId: bigint;
      reserved: bigint;
      acceptedMetric: bigint;
    }>("FineTuning", "getBounty", [bountyId]);
    assert.equal(
      bounty.currentAlgorithmId,
      round.childAlgorithmId,
      "next round trains from the child",
    );
    assert.equal(bounty.reserved, BUDGET);
    assert.equal(bounty.acceptedMetric, candidate.metric);

    // Every trainer claims through the device runner: the root and the round list CID come from getRound, the
    // proof is verified locally before the transaction; a second run sends nothing.
    const { tree } = buildRoundList({ bountyId, round: 0, budget: BUDGET, groups: groups() });
    const opts = { fineTuning: env.addr("FineTuning"), bountyId, round: 0n };
    for (const [i, t] of trainers.entries()) {
      const clients = await deviceClients(t);
      const expected = i < 3 ? 15n * ETHER : 30n * ETHER; // 135 × 300 / (900 × 3), 135 × 600 / (900 × 3)
      const hash0 = await claimTrainerPayout(clients, store, opts);
      assert.ok(hash0.hash);
      assert.equal(hash0.amount, expected);
      const receipt = await env.pub.getTransactionReceipt({ hash: hash0.hash });
      const tx = await env.pub.getTransaction({ hash: hash0.hash });
      env.gasLog.push({
        label: "FineTuning.claim (device runner)",
        gas: receipt.gasUsed,
        execution: receipt.gasUsed - 21_000n - calldataGas(tx.input),
      });
      assert.equal(await env.balance(getAddress(t.address)), expected);
      assert.equal((await claimTrainerPayout(clients, store, opts)).hash, undefined);
    }
    const first = getAddress(trainers[0]!.address);
    assert.equal(
      await revertName(
        keeper.writeContract({
          address: env.addr("FineTuning"),
          abi: abi("FineTuning"),
          functionName: "claim",
          args: [bountyId, 0n, first, 15n * ETHER, tree!.proof(first)],
        }),
      ),
      "FineTuningAlreadyClaimed",
    );
    assert.equal(await env.balance(env.addr("FineTuning")), REWARD_POOL - BUDGET - ATTESTOR_POOL);
  });

  it("a rejected round pays its attestors, not the trainers; the leftover returns to the poster", async () => {
    const p0 = await env.balance(who(poster));
    const trainerBalances = await Promise.all(
      trainers.map((t) => env.balance(getAddress(t.address))),
    );
    const algorithms = await env.read<bigint>("AlgorithmMarketplace", "algorithmCount");
    await playRound(1, {
      modelCid: "bafybeigrandchildgrandchildgrandchildgrandchildgrandchildg",
      modelSha256: label("grandchild-model.onnx"),
      metric: (855n * E18) / 1000n, // +0.5% < the 1% minimum gain
    });
    const round = await env.read<{ status: number; childAlgorithmId: bigint }>(
      "FineTuning",
      "getRound",
      [bountyId, 1],
    );
    assert.equal(round.status, RoundStatus.Rejected);
    assert.equal(round.childAlgorithmId, 0n);
    assert.equal(
      await env.read("AlgorithmMarketplace", "algorithmCount"),
      algorithms,
      "nothing published",
    );
    const bounty = await env.read<{ status: number; refunded: bigint; attestorsPaid: bigint }>(
      "FineTuning",
      "getBounty",
      [bountyId],
    );
    assert.equal(bounty.status, 2); // Finalized
    assert.equal(bounty.attestorsPaid, 2n * ATTESTOR_POOL);
    assert.equal(bounty.refunded, REWARD_POOL - BUDGET - 2n * ATTESTOR_POOL);
    assert.equal((await env.balance(who(poster))) - p0, bounty.refunded);
    assert.equal(await env.balance(env.addr("FineTuning")), 0n, "every trainer claimed round 0");
    assert.equal(await env.read("FineTuning", "totalHeld"), 0n);
    // the device runner refuses the rejected round locally: no transaction
    const t0 = getAddress(trainers[0]!.address);
    const clients = await deviceClients(trainers[0]!);
    const nonce = await env.pub.getTransactionCount({ address: t0 });
    await assert.rejects(
      claimTrainerPayout(clients, store, {
        fineTuning: env.addr("FineTuning"),
        bountyId,
        round: 1n,
      }),
      (e) => e instanceof DeviceError && e.code === "NOT_IN_PAYOUT",
    );
    assert.equal(await env.pub.getTransactionCount({ address: t0 }), nonce);
    for (const [i, t] of trainers.entries())
      assert.equal(await env.balance(getAddress(t.address)), trainerBalances[i], "no payout");
    printGas(
      "fine-tuning gas (receipt gas; execution gas excludes intrinsic and calldata)",
      env.gasLog.filter(
        (g) =>
          ![
            "approve",
            "NodeStaking.register",
            "NodeStaking.stake",
            "DeviceRegistry.register",
            "FineTuning.enrol",
          ].includes(g.label),
      ),
    );
  });
});
