/**
 * Growth pool end to end on the in-process EDR chain: deploy with script/deploy.ts, stake a distributor,
 * register 1,000 devices (each approves and posts its bond and signs its own transactions), collect each device's
 * EIP-712 heartbeat, post the connected set (leaves `(index, device, signature)`) as a Merkle root, check that a
 * baseless challenge fails and that nothing is drawn inside the challenge window, request the draw after it, fulfil
 * the VRF request through Chainlink's mock coordinator, derive the winners off-chain and claim every draw.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { before, describe, it } from "node:test";
import { network } from "hardhat";
import {
  BaseError,
  ContractFunctionRevertedError,
  createWalletClient,
  custom,
  encodeAbiParameters,
  encodeFunctionData,
  getAddress,
  keccak256,
  parseEventLogs,
  recoverAddress,
  toHex,
  type Abi,
  type Address,
  type Hex,
} from "viem";
import { privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { loadArtifact } from "#sdk/chain/artifacts.ts";
import { readManifest, type Manifest } from "#sdk/chain/manifest.ts";
import { buildConnectedSet, type ConnectedSetTree } from "#sdk/chain/connected-set.ts";
import { signHeartbeatMessage } from "#sdk/protocol/heartbeat.ts";
import { deployProtocol, type DeployClients } from "../../script/deploy.ts";

const DEVICES = 1_000;
const K = 10;
const H = 4;
const EPOCH_LENGTH = 3_600n;
const CHALLENGE_WINDOW = 1_800n;
const DEVICE_BOND = 10n * 10n ** 18n;
const DISTRIBUTOR_STAKE = 10_000n * 10n ** 18n;
const SCHEMA = keccak256(toHex("dml.schema.email.v1"));

const abi = (name: string): Abi => loadArtifact(name).abi;

/** The custom error a contract call reverted with. */
async function revertName(
  p: Promise<unknown>,
): Promise<{ name: string; args: readonly unknown[] }> {
  try {
    await p;
  } catch (err) {
    if (err instanceof BaseError) {
      const r = err.walk((e) => e instanceof ContractFunctionRevertedError);
      if (r instanceof ContractFunctionRevertedError && r.data) {
        return { name: r.data.errorName, args: r.data.args ?? [] };
      }
    }
    throw err;
  }
  throw new Error("call did not revert");
}

describe("GrowthPool integration (1,000 devices)", () => {
  let conn: Awaited<ReturnType<typeof network.create>>;
  let pub: Awaited<ReturnType<typeof conn.viem.getPublicClient>>;
  let manifest: Manifest;
  let pool: Address;
  let token: Address;
  let devices: PrivateKeyAccount[];
  let tree: ConnectedSetTree;
  let registry: Address;
  let distributor: Address;

  before(async () => {
    conn = await network.create();
    pub = await conn.viem.getPublicClient();
    const wallets = await conn.viem.getWalletClients();
    const [deployerWallet, distributorWallet] = wallets;
    assert.ok(deployerWallet && distributorWallet);
    const manifestPath = path.join(
      mkdtempSync(path.join(tmpdir(), "dml-growth-")),
      "manifest.json",
    );
    await deployProtocol({
      clients: { publicClient: pub, walletClient: deployerWallet } as unknown as DeployClients,
      manifestPath,
      config: {
        growthPool: {
          epochLength: EPOCH_LENGTH,
          halvingEpochs: H,
          winnersPerEpoch: K,
          claimWindow: 86_400n,
          challengeWindow: CHALLENGE_WINDOW,
        },
        deviceRegistry: { deviceBond: DEVICE_BOND },
      },
    });
    manifest = readManifest(manifestPath);
    pool = manifest.contracts.GrowthPool?.address as Address;
    token = manifest.contracts.DMLToken?.address as Address;
    assert.ok(pool && token, "GrowthPool and DMLToken deployed");
    distributor = getAddress(distributorWallet.account.address);
  });

  it("stakes a distributor funded by the genesis faucet", async () => {
    const staking = manifest.contracts.NodeStaking?.address as Address;
    // The dev deployment's genesis batch paid 1,000,000 DML from the treasury to account #1 (the faucet),
    // which acts as the distributor here.
    const funded = (await pub.readContract({
      address: token,
      abi: abi("DMLToken"),
      functionName: "balanceOf",
      args: [distributor],
    })) as bigint;
    assert.ok(funded >= DISTRIBUTOR_STAKE, "genesis allocation covers the stake");

    const op = await conn.viem.getWalletClient(distributor);
    const x25519 = keccak256(toHex("distributor x25519 key"));
    for (const [address, a, fn, args] of [
      [staking, abi("NodeStaking"), "register", ["http://127.0.0.1:9001", x25519, "{}"]],
      [token, abi("DMLToken"), "approve", [staking, DISTRIBUTOR_STAKE]],
      [staking, abi("NodeStaking"), "stake", [0, DISTRIBUTOR_STAKE]],
    ] as const) {
      const hash = await op.writeContract({ address, abi: a, functionName: fn, args });
      assert.equal((await pub.waitForTransactionReceipt({ hash })).status, "success", fn);
    }
    assert.equal(
      await pub.readContract({
        address: staking,
        abi: abi("NodeStaking"),
        functionName: "isActive",
        args: [distributor, 0],
      }),
      true,
    );
  });

  it("registers 1,000 devices, each posting its bond and signing its own transactions", async () => {
    devices = Array.from({ length: DEVICES }, (_, i) =>
      privateKeyToAccount(keccak256(toHex(`dml-test-device-${i}`))),
    );
    registry = manifest.contracts.DeviceRegistry?.address as Address;
    assert.equal(
      await pub.readContract({
        address: registry,
        abi: abi("DeviceRegistry"),
        functionName: "deviceBond",
      }),
      DEVICE_BOND,
    );
    const chain = pub.chain;
    const approve = encodeFunctionData({
      abi: abi("DMLToken"),
      functionName: "approve",
      args: [registry, DEVICE_BOND],
    });
    const register = encodeFunctionData({
      abi: abi("DeviceRegistry"),
      functionName: "register",
      args: [[SCHEMA], { anyAlgorithmInSchema: true, algorithms: [], priceFloor: 0n }],
    });
    const block = await pub.getBlock();
    const maxFeePerGas = (block.baseFeePerGas ?? 10n ** 9n) * 4n + 10n ** 9n;
    // the faucet (the distributor's account) pays every device its bond
    const faucet = await conn.viem.getWalletClient(distributor);
    let faucetNonce = await pub.getTransactionCount({ address: distributor });
    const funded: Hex[] = [];
    for (const d of devices) {
      funded.push(
        await faucet.writeContract({
          address: token,
          abi: abi("DMLToken"),
          functionName: "transfer",
          args: [d.address, DEVICE_BOND],
          nonce: faucetNonce++,
        }),
      );
    }
    const fundReceipts = await Promise.all(
      funded.map((hash) => pub.getTransactionReceipt({ hash })),
    );
    assert.equal(fundReceipts.filter((r) => r.status === "success").length, DEVICES);
    const hashes: Hex[] = [];
    const BATCH = 100;
    for (let start = 0; start < DEVICES; start += BATCH) {
      const batch = devices.slice(start, start + BATCH);
      await Promise.all(batch.map((d) => conn.networkHelpers.setBalance(d.address, 10n ** 17n)));
      for (const [nonce, to, data] of [
        [0, token, approve],
        [1, registry, register],
      ] as const) {
        const sent = await Promise.all(
          batch.map(async (d) => {
            const w = createWalletClient({ account: d, chain, transport: custom(conn.provider) });
            const serialized = await w.signTransaction({
              to,
              data,
              nonce,
              gas: 300_000n,
              maxFeePerGas,
              maxPriorityFeePerGas: 10n ** 9n,
              chain,
            });
            return w.sendRawTransaction({ serializedTransaction: serialized });
          }),
        );
        hashes.push(...sent);
      }
    }
    const receipts = await Promise.all(hashes.map((hash) => pub.getTransactionReceipt({ hash })));
    assert.equal(receipts.filter((r) => r.status === "success").length, 2 * DEVICES);
    const registered = await Promise.all(
      devices.map((d) =>
        pub.readContract({
          address: registry,
          abi: abi("DeviceRegistry"),
          functionName: "isRegistered",
          args: [d.address],
        }),
      ),
    );
    assert.equal(registered.filter((r) => r === true).length, DEVICES);
    assert.equal(
      await pub.readContract({
        address: token,
        abi: abi("DMLToken"),
        functionName: "balanceOf",
        args: [registry],
      }),
      BigInt(DEVICES) * DEVICE_BOND,
    );
  });

  it("posts the connected set after the epoch, draws through VRF and pays every winner E(0)/k", async () => {
    const gp = abi("GrowthPool");
    const erc20 = abi("DMLToken");
    const dist = await conn.viem.getWalletClient(distributor);
    // each device's heartbeat for epoch 0: EIP-712 over (device, epoch), verified on-chain by DeviceRegistry
    const domain = { chainId: pub.chain!.id, verifyingContract: registry };
    const signatures = await Promise.all(devices.map((d) => signHeartbeatMessage(d, domain, 0)));
    const digest0 = (await pub.readContract({
      address: registry,
      abi: abi("DeviceRegistry"),
      functionName: "heartbeatDigest",
      args: [devices[0]!.address, 0n],
    })) as Hex;
    assert.equal(
      await recoverAddress({ hash: digest0, signature: signatures[0]! }),
      devices[0]!.address,
      "the off-chain heartbeat is the on-chain digest",
    );
    tree = buildConnectedSet(
      devices.map((d, i) => ({ device: d.address, signature: signatures[i]! })),
    );
    assert.equal(tree.size, DEVICES);
    const leafArg = (a: Address) => {
      const l = tree.leafOf(a)!;
      return { index: l.index, device: l.device, signature: l.signature };
    };
    const proofOf = (a: Address) => tree.leafOf(a)!.proof;

    // Too early: the epoch has not ended.
    const end = (await pub.readContract({
      address: pool,
      abi: gp,
      functionName: "epochEnd",
      args: [0n],
    })) as bigint;
    const early = await revertName(
      pub.simulateContract({
        address: pool,
        abi: gp,
        functionName: "postEpoch",
        args: [0n, tree.root, BigInt(DEVICES), "cid"],
        account: distributor,
      }),
    );
    assert.equal(early.name, "GrowthPoolEpochNotEnded");

    await conn.networkHelpers.time.increaseTo(end);
    const postHash = await dist.writeContract({
      address: pool,
      abi: gp,
      functionName: "postEpoch",
      args: [0n, tree.root, BigInt(DEVICES), "bafy-connected-set-epoch-0"],
    });
    const postReceipt = await pub.waitForTransactionReceipt({ hash: postHash });
    assert.equal(postReceipt.status, "success");
    const [posted] = parseEventLogs({ abi: gp, logs: postReceipt.logs, eventName: "EpochPosted" });
    const challengeDeadline = (posted?.args as { challengeDeadline: bigint } | undefined)
      ?.challengeDeadline;
    assert.ok(challengeDeadline !== undefined);

    // Inside the window: no draw, and a baseless challenge (a valid heartbeat) reverts and changes nothing.
    const open = await revertName(
      pub.simulateContract({
        address: pool,
        abi: gp,
        functionName: "requestDraw",
        args: [0n],
        account: distributor,
      }),
    );
    assert.equal(open.name, "GrowthPoolChallengeWindowOpen");
    const d7 = devices[7]!.address;
    const baseless = await revertName(
      pub.simulateContract({
        address: pool,
        abi: gp,
        functionName: "challengeSignature",
        args: [0n, leafArg(d7), proofOf(d7)],
        account: devices[7]!.address,
      }),
    );
    assert.equal(baseless.name, "GrowthPoolNoFault");

    // After the window anyone requests the draw.
    await conn.networkHelpers.time.increaseTo(challengeDeadline + 1n);
    const requestHash = await dist.writeContract({
      address: pool,
      abi: gp,
      functionName: "requestDraw",
      args: [0n],
    });
    const requestReceipt = await pub.waitForTransactionReceipt({ hash: requestHash });
    assert.equal(requestReceipt.status, "success");
    const [requested] = parseEventLogs({
      abi: gp,
      logs: requestReceipt.logs,
      eventName: "DrawRequested",
    });
    const requestId = (requested?.args as { requestId: bigint } | undefined)?.requestId;
    assert.ok(requestId !== undefined && requestId > 0n);

    // Chainlink's mock coordinator delivers the random word; the callback must succeed.
    const vrf = manifest.vrf;
    assert.ok(vrf?.mock);
    const [deployerWallet] = await conn.viem.getWalletClients();
    const coordAbi = abi("VRFCoordinatorV2_5Mock");
    const fulfilHash = await deployerWallet!.writeContract({
      address: vrf.coordinator,
      abi: coordAbi,
      functionName: "fulfillRandomWords",
      args: [requestId, pool],
    });
    const fulfilled = parseEventLogs({
      abi: coordAbi,
      logs: (await pub.waitForTransactionReceipt({ hash: fulfilHash })).logs,
      eventName: "RandomWordsFulfilled",
    });
    assert.equal(
      (fulfilled[0]?.args as unknown as { success: boolean } | undefined)?.success,
      true,
      "consumer callback succeeded",
    );

    const info = (await pub.readContract({
      address: pool,
      abi: gp,
      functionName: "epochInfo",
      args: [0n],
    })) as {
      drawn: boolean;
      n: bigint;
      k: bigint;
      randomWord: bigint;
      perWinner: bigint;
      budget: bigint;
      root: Hex;
    };
    assert.equal(info.drawn, true);
    assert.equal(info.n, BigInt(DEVICES));
    assert.equal(info.k, BigInt(K));
    assert.equal(info.root, tree.root);
    // The mock's word is keccak256(abi.encode(requestId, 0)).
    assert.equal(
      info.randomWord,
      BigInt(
        keccak256(encodeAbiParameters([{ type: "uint256" }, { type: "uint256" }], [requestId, 0n])),
      ),
    );

    const e0 = (await pub.readContract({
      address: pool,
      abi: gp,
      functionName: "emission",
      args: [0n],
    })) as bigint;
    const eH = (await pub.readContract({
      address: pool,
      abi: gp,
      functionName: "emission",
      args: [BigInt(H)],
    })) as bigint;
    const cap = (await pub.readContract({ address: pool, abi: gp, functionName: "cap" })) as bigint;
    assert.equal(e0, cap / BigInt(2 * H));
    assert.equal(eH, e0 / 2n);
    assert.equal(info.perWinner, e0 / BigInt(K));

    // Winners off-chain: keccak256(abi.encode(word, j)) % n, matching the contract's view.
    const winners: number[] = [];
    for (let j = 0; j < K; j++) {
      const idx = Number(
        BigInt(
          keccak256(
            encodeAbiParameters(
              [{ type: "uint256" }, { type: "uint256" }],
              [info.randomWord, BigInt(j)],
            ),
          ),
        ) % BigInt(DEVICES),
      );
      const onChain = await pub.readContract({
        address: pool,
        abi: gp,
        functionName: "winnerIndex",
        args: [0n, BigInt(j)],
      });
      assert.equal(onChain, BigInt(idx), `draw ${j}`);
      winners.push(idx);
    }

    // A device that did not win draw 0 cannot claim it, and a wrong proof is refused.
    const loser = winners[0] === 0 ? 1 : 0;
    const notWinner = await revertName(
      pub.simulateContract({
        address: pool,
        abi: gp,
        functionName: "claim",
        args: [0n, 0n, leafArg(devices[loser]!.address), proofOf(devices[loser]!.address)],
        account: devices[loser]!.address,
      }),
    );
    assert.equal(notWinner.name, "GrowthPoolNotWinner");
    const w0 = devices[winners[0]!]!;
    const badProof = await revertName(
      pub.simulateContract({
        address: pool,
        abi: gp,
        functionName: "claim",
        args: [0n, 0n, leafArg(w0.address), proofOf(devices[loser]!.address)],
        account: w0.address,
      }),
    );
    assert.equal(badProof.name, "GrowthPoolInvalidProof");

    // Every winner claims its draw with its own key; balances grow by exactly E(0)/k per draw won.
    const before = new Map<Address, bigint>();
    for (const idx of winners) {
      const a = devices[idx]!.address;
      before.set(
        a,
        (await pub.readContract({
          address: token,
          abi: erc20,
          functionName: "balanceOf",
          args: [a],
        })) as bigint,
      );
    }
    const poolBefore = (await pub.readContract({
      address: token,
      abi: erc20,
      functionName: "balanceOf",
      args: [pool],
    })) as bigint;
    for (let j = 0; j < K; j++) {
      const d = devices[winners[j]!]!;
      const w = createWalletClient({
        account: d,
        chain: pub.chain,
        transport: custom(conn.provider),
      });
      const hash = await w.writeContract({
        address: pool,
        abi: gp,
        functionName: "claim",
        args: [0n, BigInt(j), leafArg(d.address), proofOf(d.address)],
      });
      assert.equal((await pub.waitForTransactionReceipt({ hash })).status, "success", `claim ${j}`);
      assert.equal(
        await pub.readContract({
          address: pool,
          abi: gp,
          functionName: "isClaimed",
          args: [0n, BigInt(j)],
        }),
        true,
      );
    }
    for (const [a, b] of before) {
      const won = BigInt(winners.filter((idx) => devices[idx]!.address === a).length);
      const now = (await pub.readContract({
        address: token,
        abi: erc20,
        functionName: "balanceOf",
        args: [a],
      })) as bigint;
      assert.equal(now - b, won * (e0 / BigInt(K)), `${a} received E(0)/k per draw`);
    }
    const poolAfter = (await pub.readContract({
      address: token,
      abi: erc20,
      functionName: "balanceOf",
      args: [pool],
    })) as bigint;
    assert.equal(poolBefore - poolAfter, BigInt(K) * (e0 / BigInt(K)));

    // A second claim of the same draw reverts with the named error and pays nothing.
    const again = await revertName(
      pub.simulateContract({
        address: pool,
        abi: gp,
        functionName: "claim",
        args: [0n, 0n, leafArg(w0.address), proofOf(w0.address)],
        account: w0.address,
      }),
    );
    assert.equal(again.name, "GrowthPoolAlreadyClaimed");
    assert.deepEqual(again.args, [0n, 0n]);
  });
});
