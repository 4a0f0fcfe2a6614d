/**
 * Issue 4 — a fine-tuning bounty end to end on the in-process EDR chain, deployed by script/deploy.ts
 * (FineTuning authorised as marketplace publisher and NodeStaking slasher by the deploy step):
 * a poster escrows a two-round bounty on a listed algorithm; registered devices enrol as trainers; round 0's
 * refiner claim (control metric 0.80 → 0.85, gain ≥ 1%) is attested by 3 staked attestors, publishes a child
 * version in the marketplace and opens the trainers' Merkle claims; round 1 (gain 0.5% < 1%) is rejected and
 * pays nothing; after the last round the leftover reward returns to the poster. Balances are exact.
 * Fixed control metrics are used (a contract-level test: the attestors recompute them off-chain).
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { before, describe, it } from "node:test";
import { getAddress, type Address, type Hex } from "viem";
import type { PrivateKeyAccount } from "viem/accounts";
import { buildMerkleTree, type AddressMerkleTree } from "#sdk/chain/merkle.ts";
import { HeliaStore } from "#sdk/ipfs/index.ts";
import type { DeviceClients } from "../../device-runner/chain.ts";
import { DeviceError } from "../../device-runner/errors.ts";
import { claimTrainerPayout } from "../../device-runner/rewards.ts";
import {
  abi,
  ETHER,
  label,
  localAccount,
  memberCommitment,
  printGas,
  ProtocolEnv,
  revertName,
  Role,
} from "./helpers/protocol.ts";

const SCHEMA = label("email/rfc822-v1");
const PKG = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";
const CONTROL = "bafkreicontrolcontrolcontrolcontrolcontrolcontrolcontrolcon";
const REWARD_POOL = 300n * ETHER;
const ROUNDS = 2;
const MIN_GAIN_BPS = 100; // 1% of 1e18
const QUORUM = 3;
const RoundStatus = { Open: 0, Submitted: 1, Accepted: 2, Rejected: 3 } as const;
const E18 = 10n ** 18n;

interface Claim {
  modelCid: string;
  modelSha256: Hex;
  metricBefore: bigint;
  metricAfter: bigint;
  acceptedGroupsRoot: Hex;
  payoutRoot: Hex;
  payoutTotal: bigint;
}

describe("Fine-tuning bounty (issue 4): accepted round, rejected round, leftover refund", () => {
  let env: ProtocolEnv;
  let developer: ProtocolEnv["wallets"][number];
  let poster: ProtocolEnv["wallets"][number];
  let refiner: ProtocolEnv["wallets"][number];
  let keeper: ProtocolEnv["wallets"][number];
  let attestorWallets: ProtocolEnv["wallets"];
  let trainers: PrivateKeyAccount[];
  let baseId: bigint;
  let bountyId: bigint;
  let payoutTree: AddressMerkleTree;
  const payouts = new Map<Address, bigint>();
  const who = (w: { account: { address: Address } }): Address => getAddress(w.account.address);
  const deviceClients = async (t: PrivateKeyAccount): Promise<DeviceClients> =>
    ({ publicClient: env.pub, walletClient: await env.localWallet(t) }) as unknown as DeviceClients;
  /** Publishes the tree's dump (the refiner's trainer list) on a fresh Helia store for `fn`. */
  const withTreeOnHelia = async (
    tree: AddressMerkleTree,
    fn: (store: HeliaStore, cid: string) => Promise<void>,
  ): Promise<void> => {
    const tmp = mkdtempSync(path.join(tmpdir(), "dml-ft-claims-"));
    const store = await HeliaStore.open({ dir: tmp });
    try {
      await fn(
        store,
        await store.addBytes(new TextEncoder().encode(JSON.stringify(tree.tree.dump()))),
      );
    } finally {
      await store.close();
      await rm(tmp, { recursive: true, force: true });
    }
  };

  before(async () => {
    env = await ProtocolEnv.create({
      attestation: {
        fineTuning: {
          quorum: QUORUM,
          commitWindow: 3_600,
          revealWindow: 3_600,
          claimWindow: 7 * 86_400,
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
  });

  it("a poster escrows a bounty and registered devices enrol as trainers", async () => {
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

  /** Submits `claim` for the current round, has every selected attestor commit and reveal it, finalises. */
  async function attestRound(round: number, claim: Claim): Promise<readonly Address[]> {
    await env.send(refiner, "FineTuning", "submitRound", [bountyId, claim]);
    const claimHash = await env.read<Hex>("FineTuning", "claimHashOf", [claim]);
    const info = await env.read<{
      attestors: readonly Address[];
      commitDeadline: bigint;
      claimHash: Hex;
    }>("FineTuning", "getRound", [bountyId, round]);
    assert.equal(info.claimHash, claimHash);
    assert.equal(info.attestors.length, QUORUM);
    const wallet = (a: Address) => attestorWallets.find((w) => who(w) === getAddress(a))!;
    for (const a of info.attestors)
      await env.send(wallet(a), "FineTuning", "commitAttestation", [
        bountyId,
        memberCommitment(claimHash, label(`ft-${round}-${a}`), getAddress(a)),
      ]);
    await env.warpTo(BigInt(info.commitDeadline) + 1n);
    for (const a of info.attestors)
      await env.send(wallet(a), "FineTuning", "revealAttestation", [
        bountyId,
        claimHash,
        label(`ft-${round}-${a}`),
      ]);
    await env.send(keeper, "FineTuning", "finalizeRound", [bountyId]);
    return info.attestors;
  }

  it("an accepted round publishes a child version and trainers claim with proofs", async () => {
    for (const [i, t] of trainers.entries())
      payouts.set(getAddress(t.address), (10n + BigInt(i) * 5n) * ETHER);
    payoutTree = buildMerkleTree([...payouts].map(([account, value]) => ({ account, value })));
    const total = [...payouts.values()].reduce((a, b) => a + b, 0n); // 10 + 15 + … + 35 = 135 ≤ 150 per round
    assert.ok(
      total <= REWARD_POOL / BigInt(ROUNDS),
      `payout total ${total} within the per-round budget`,
    );
    const claim: Claim = {
      modelCid: "bafybeichildchildchildchildchildchildchildchildchildchildc",
      modelSha256: label("child-model.onnx"),
      metricBefore: (80n * E18) / 100n,
      metricAfter: (85n * E18) / 100n,
      acceptedGroupsRoot: label("accepted-groups"),
      payoutRoot: payoutTree.root,
      payoutTotal: total,
    };
    const attestors = await attestRound(0, claim);
    for (const a of attestors)
      assert.equal(await env.read("NodeStaking", "stakeOf", [a, Role.Attestor]), 5_000n * ETHER);
    const round = await env.read<{ status: number; childAlgorithmId: bigint }>(
      "FineTuning",
      "getRound",
      [bountyId, 0],
    );
    assert.equal(round.status, RoundStatus.Accepted);
    const child = await env.read<{
      developer: Address;
      parentId: bigint;
      packageCid: string;
      modelSha256: Hex;
    }>("AlgorithmMarketplace", "getAlgorithm", [round.childAlgorithmId]);
    assert.equal(child.parentId, baseId);
    assert.equal(getAddress(child.developer), who(refiner));
    assert.equal(child.packageCid, claim.modelCid);
    assert.equal(child.modelSha256, claim.modelSha256);
    const bounty = await env.read<{ currentAlgorithmId: bigint; reserved: bigint }>(
      "FineTuning",
      "getBounty",
      [bountyId],
    );
    assert.equal(
      bounty.currentAlgorithmId,
      round.childAlgorithmId,
      "next round trains from the child",
    );
    assert.equal(bounty.reserved, total);

    // The first trainer claims through the device runner: root from getRound, list (the tree's dump) on Helia,
    // proof verified locally before the transaction; a second run sends nothing.
    const [firstAccount, firstAmount] = [...payouts][0]!;
    await withTreeOnHelia(payoutTree, async (store, cid) => {
      const t = trainers.find((x) => getAddress(x.address) === firstAccount)!;
      const clients = await deviceClients(t);
      const opts = { fineTuning: env.addr("FineTuning"), bountyId, round: 0n, cid };
      const r = await claimTrainerPayout(clients, store, opts);
      assert.ok(r.hash);
      assert.equal(r.amount, firstAmount);
      assert.equal(await env.balance(firstAccount), firstAmount);
      assert.equal((await claimTrainerPayout(clients, store, opts)).hash, undefined);
      assert.equal(await env.balance(firstAccount), firstAmount);
    });
    for (const [account, amount] of [...payouts].slice(1)) {
      const t = trainers.find((x) => getAddress(x.address) === account)!;
      const w = await env.localWallet(t);
      await env.send(
        w,
        "FineTuning",
        "claim",
        [bountyId, 0, account, amount, payoutTree.proof(account)],
        "FineTuning.claim",
      );
      assert.equal(await env.balance(account), amount);
    }
    const [first] = payouts;
    assert.equal(
      await revertName(
        keeper.writeContract({
          address: env.addr("FineTuning"),
          abi: abi("FineTuning"),
          functionName: "claim",
          args: [bountyId, 0n, first![0], first![1], payoutTree.proof(first![0])],
        }),
      ),
      "FineTuningAlreadyClaimed",
    );
    assert.equal(await env.balance(env.addr("FineTuning")), REWARD_POOL - total);
  });

  it("a rejected round pays nothing; the leftover returns to the poster after the last round", async () => {
    const total0 = [...payouts.values()].reduce((a, b) => a + b, 0n);
    const p0 = await env.balance(who(poster));
    const trainerBalances = await Promise.all(
      trainers.map((t) => env.balance(getAddress(t.address))),
    );
    const tree = buildMerkleTree(
      trainers.map((t) => ({ account: getAddress(t.address), value: 10n * ETHER })),
    );
    const claim: Claim = {
      modelCid: "bafybeigrandchildgrandchildgrandchildgrandchildgrandchildg",
      modelSha256: label("grandchild-model.onnx"),
      metricBefore: (85n * E18) / 100n,
      metricAfter: (855n * E18) / 1000n, // +0.5% < the 1% minimum gain
      acceptedGroupsRoot: label("accepted-groups-2"),
      payoutRoot: tree.root,
      payoutTotal: 60n * ETHER,
    };
    const algorithms = await env.read<bigint>("AlgorithmMarketplace", "algorithmCount");
    await attestRound(1, claim);
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
    const bounty = await env.read<{ status: number; refunded: bigint }>("FineTuning", "getBounty", [
      bountyId,
    ]);
    assert.equal(bounty.status, 2); // Finalized
    assert.equal(bounty.refunded, REWARD_POOL - total0);
    assert.equal((await env.balance(who(poster))) - p0, REWARD_POOL - total0);
    assert.equal(await env.balance(env.addr("FineTuning")), 0n);
    assert.equal(await env.read("FineTuning", "totalHeld"), 0n);
    const t0 = getAddress(trainers[0]!.address);
    assert.equal(
      await revertName(
        keeper.writeContract({
          address: env.addr("FineTuning"),
          abi: abi("FineTuning"),
          functionName: "claim",
          args: [bountyId, 1n, t0, 10n * ETHER, tree.proof(t0)],
        }),
      ),
      "FineTuningInvalidRoundStatus",
    );
    // the device runner refuses the rejected round locally: no transaction
    await withTreeOnHelia(tree, async (store, cid) => {
      const clients = await deviceClients(trainers[0]!);
      const nonce = await env.pub.getTransactionCount({ address: t0 });
      await assert.rejects(
        claimTrainerPayout(clients, store, {
          fineTuning: env.addr("FineTuning"),
          bountyId,
          round: 1n,
          cid,
        }),
        (e) => e instanceof DeviceError && e.code === "NOT_IN_PAYOUT",
      );
      assert.equal(await env.pub.getTransactionCount({ address: t0 }), nonce);
    });
    for (const [i, t] of trainers.entries())
      assert.equal(await env.balance(getAddress(t.address)), trainerBalances[i], "no payout");
    printGas(
      "fine-tuning gas (receipt gas)",
      env.gasLog.filter(
        (g) => !["approve", "NodeStaking.register", "NodeStaking.stake"].includes(g.label),
      ),
    );
  });
});
