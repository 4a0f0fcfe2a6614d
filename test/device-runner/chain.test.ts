/**
 * The device's chain side on the in-process EDR chain, deployed by script/deploy.ts: consent registration in
 * DeviceRegistry (register, then update), ETH/DML balances and transfers, and growth-pool claims whose proof is
 * taken from the connected-set dump on Helia and verified locally first. Job payout claims are in claims.test.ts,
 * trainer payout claims in test/integration/fine-tuning.test.ts.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { network } from "hardhat";
import {
  createWalletClient,
  custom,
  getAddress,
  keccak256,
  parseEventLogs,
  toHex,
  type Abi,
  type Address,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { deviceAccount, type DeviceAccount } from "#sdk/crypto/session-key.ts";
import { loadArtifact } from "#sdk/chain/artifacts.ts";
import { readManifest, type Manifest } from "#sdk/chain/manifest.ts";
import { buildConnectedSet, loadConnectedSet } from "#sdk/chain/connected-set.ts";
import { MerkleInputError } from "#sdk/chain/merkle.ts";
import { HeliaStore } from "#sdk/ipfs/index.ts";
import { deployProtocol, type DeployClients } from "../../script/deploy.ts";
import type { DeviceClients, DevicePublicClient } from "../../device-runner/chain.ts";
import { isEligible, registerConsent } from "../../device-runner/consent.ts";
import { schemaHash } from "../../device-runner/dataset.ts";
import { DeviceError } from "../../device-runner/errors.ts";
import { signHeartbeatMessage } from "#sdk/protocol/heartbeat.ts";
import { claimGrowthWins } from "../../device-runner/rewards.ts";
import { balances, transfer } from "../../device-runner/wallet.ts";

const abi = (name: string): Abi => loadArtifact(name).abi;
const EPOCH_LENGTH = 3_600n;
const STAKE = 10_000n * 10n ** 18n;

let conn: Awaited<ReturnType<typeof network.create>>;
let pub: DevicePublicClient;
let manifest: Manifest;
let store: HeliaStore;
let tmp: string;
let devices: DeviceAccount[];

function clientsFor(account: DeviceAccount): DeviceClients {
  return {
    publicClient: pub,
    walletClient: createWalletClient({
      account,
      chain: pub.chain,
      transport: custom(conn.provider),
    }),
  };
}
const addr = (name: string) => manifest.contracts[name]!.address as Address;

before(async () => {
  conn = await network.create();
  pub = (await conn.viem.getPublicClient()) as unknown as DevicePublicClient;
  const [deployer] = await conn.viem.getWalletClients();
  tmp = mkdtempSync(path.join(tmpdir(), "dml-device-chain-"));
  await deployProtocol({
    clients: { publicClient: pub, walletClient: deployer } as unknown as DeployClients,
    manifestPath: path.join(tmp, "manifest.json"),
    config: {
      growthPool: {
        epochLength: EPOCH_LENGTH,
        halvingEpochs: 4,
        winnersPerEpoch: 6,
        claimWindow: 86_400n,
      },
    },
  });
  manifest = readManifest(path.join(tmp, "manifest.json"));
  store = await HeliaStore.open({ dir: path.join(tmp, "helia") });
  devices = Array.from({ length: 4 }, () => deviceAccount(generatePrivateKey()));
  // ETH for gas, and DML for the registration bond from the dev faucet (account #1)
  const [, faucet] = await conn.viem.getWalletClients();
  for (const d of devices) {
    await conn.networkHelpers.setBalance(d.address, 10n ** 18n);
    await pub.waitForTransactionReceipt({
      hash: await faucet!.writeContract({
        address: addr("DMLToken"),
        abi: abi("DMLToken"),
        functionName: "transfer",
        args: [d.address, 100n * 10n ** 18n],
      }),
    });
  }
});
after(async () => {
  await store.close();
  await rm(tmp, { recursive: true, force: true });
});

describe("consent registration (DeviceRegistry on EDR)", () => {
  it("registers schemas and consent, then updates them; eligibility follows the price floor", async () => {
    const registry = addr("DeviceRegistry");
    const d = clientsFor(devices[0]!);
    const hashes = await registerConsent(
      d,
      registry,
      {
        schemas: ["email/rfc822-v1"],
        anyAlgorithmInSchema: false,
        algorithms: [3n, 5n],
        priceFloor: 10n ** 18n,
      },
      devices[0]!.session.sessionKey,
    );
    assert.equal(hashes.length, 3, "approve the bond, register, then set the session key");
    assert.equal(
      await pub.readContract({
        address: registry,
        abi: abi("DeviceRegistry"),
        functionName: "sessionKeyOf",
        args: [devices[0]!.address],
      }),
      devices[0]!.session.sessionKey,
      "the Ed25519 key derived from the device key is registered",
    );
    const receipt = await pub.getTransactionReceipt({ hash: hashes[1]! });
    const [ev] = parseEventLogs({
      abi: abi("DeviceRegistry"),
      logs: receipt.logs,
      eventName: "DeviceRegistered",
    });
    assert.ok(ev);
    assert.equal(
      await pub.readContract({
        address: registry,
        abi: abi("DeviceRegistry"),
        functionName: "isRegistered",
        args: [devices[0]!.address],
      }),
      true,
    );
    const [posted] = (await pub.readContract({
      address: registry,
      abi: abi("DeviceRegistry"),
      functionName: "bondInfo",
      args: [devices[0]!.address],
    })) as readonly [bigint, bigint, bigint];
    assert.equal(posted, 10n * 10n ** 18n, "the default bond was posted");
    assert.equal(
      await isEligible(d, registry, devices[0]!.address, "email/rfc822-v1", 3n, 10n ** 18n),
      true,
    );
    assert.equal(
      await isEligible(d, registry, devices[0]!.address, "email/rfc822-v1", 4n, 10n ** 18n),
      false,
      "algorithm not consented",
    );
    assert.equal(
      await isEligible(d, registry, devices[0]!.address, "email/rfc822-v1", 3n, 10n ** 17n),
      false,
      "below the floor",
    );
    // second call updates (two transactions) instead of reverting with DeviceAlreadyRegistered
    const upd = await registerConsent(
      d,
      registry,
      {
        schemas: ["email/rfc822-v1"],
        anyAlgorithmInSchema: true,
        algorithms: [],
        priceFloor: 0n,
      },
      devices[0]!.session.sessionKey,
    );
    assert.equal(upd.length, 2, "the session key is set once: not sent again");
    // a registration holding another session key is refused before any transaction (keys cannot rotate)
    await assert.rejects(
      registerConsent(
        d,
        registry,
        {
          schemas: ["email/rfc822-v1"],
          anyAlgorithmInSchema: true,
          algorithms: [],
          priceFloor: 0n,
        },
        devices[1]!.session.sessionKey,
      ),
      (e: unknown) => e instanceof DeviceError && e.code === "SESSION_KEY_MISMATCH",
    );
    assert.equal(
      await isEligible(d, registry, devices[0]!.address, "email/rfc822-v1", 4n, 1n),
      true,
    );
    // invalid consent never reaches the chain
    await assert.rejects(
      registerConsent(
        d,
        registry,
        {
          schemas: ["image/png-v1"],
          anyAlgorithmInSchema: true,
          algorithms: [],
          priceFloor: 0n,
        },
        devices[0]!.session.sessionKey,
      ),
    );
    // every device registers (growth-pool eligibility below)
    for (const dev of devices.slice(1))
      await registerConsent(
        clientsFor(dev),
        registry,
        {
          schemas: ["email/rfc822-v1"],
          anyAlgorithmInSchema: true,
          algorithms: [],
          priceFloor: 0n,
        },
        dev.session.sessionKey,
      );
    assert.equal(schemaHash("email/rfc822-v1"), keccak256(toHex("email/rfc822-v1")));
  });
});

describe("growth-pool claims with a locally verified proof, balances, transfers", () => {
  it("each device claims exactly the draws it won; then transfers DML and ETH", async () => {
    const token = addr("DMLToken");
    const pool = addr("GrowthPool");
    const staking = addr("NodeStaking");
    const timelock = addr("TimelockController");
    const [, distWallet] = await conn.viem.getWalletClients();
    const distributor = getAddress(distWallet!.account.address);
    await conn.networkHelpers.impersonateAccount(timelock);
    await conn.networkHelpers.setBalance(timelock, 10n ** 18n);
    const treasury = await conn.viem.getWalletClient(timelock);
    await pub.waitForTransactionReceipt({
      hash: await treasury.writeContract({
        address: token,
        abi: abi("DMLToken"),
        functionName: "transfer",
        args: [distributor, STAKE],
      }),
    });
    await conn.networkHelpers.stopImpersonatingAccount(timelock);
    const op = await conn.viem.getWalletClient(distributor);
    for (const [a, ab, fn, args] of [
      [
        staking,
        abi("NodeStaking"),
        "register",
        ["http://127.0.0.1:9001", keccak256(toHex("k")), "{}"],
      ],
      [token, abi("DMLToken"), "approve", [staking, STAKE]],
      [staking, abi("NodeStaking"), "stake", [0, STAKE]],
    ] as const)
      await pub.waitForTransactionReceipt({
        hash: await op.writeContract({ address: a, abi: ab, functionName: fn, args }),
      });

    // the distributor's connected set: leaves (index, device, heartbeat signature), dump on IPFS
    const registry = addr("DeviceRegistry");
    const domain = { chainId: pub.chain!.id, verifyingContract: registry };
    const sigs = await Promise.all(devices.map((d) => signHeartbeatMessage(d, domain, 0)));
    const tree = buildConnectedSet(
      devices.map((d, i) => ({ device: d.address, signature: sigs[i]! })),
    );
    const dump = tree.tree.dump();
    const cid = await store.addBytes(new TextEncoder().encode(JSON.stringify(dump)));
    const end = (await pub.readContract({
      address: pool,
      abi: abi("GrowthPool"),
      functionName: "epochEnd",
      args: [0n],
    })) as bigint;
    await conn.networkHelpers.time.increaseTo(end);
    await pub.waitForTransactionReceipt({
      hash: await op.writeContract({
        address: pool,
        abi: abi("GrowthPool"),
        functionName: "postEpoch",
        args: [0n, tree.root, BigInt(devices.length), cid],
      }),
    });
    const { challengeDeadline } = (await pub.readContract({
      address: pool,
      abi: abi("GrowthPool"),
      functionName: "epochInfo",
      args: [0n],
    })) as { challengeDeadline: bigint };
    await conn.networkHelpers.time.increaseTo(challengeDeadline + 1n);
    const drawn = await pub.waitForTransactionReceipt({
      hash: await op.writeContract({
        address: pool,
        abi: abi("GrowthPool"),
        functionName: "requestDraw",
        args: [0n],
      }),
    });
    const [req] = parseEventLogs({
      abi: abi("GrowthPool"),
      logs: drawn.logs,
      eventName: "DrawRequested",
    });
    const requestId = (req?.args as unknown as { requestId: bigint }).requestId;
    const [deployer] = await conn.viem.getWalletClients();
    await pub.waitForTransactionReceipt({
      hash: await deployer!.writeContract({
        address: manifest.vrf!.coordinator,
        abi: abi("VRFCoordinatorV2_5Mock"),
        functionName: "fulfillRandomWords",
        args: [requestId, pool],
      }),
    });
    const info = (await pub.readContract({
      address: pool,
      abi: abi("GrowthPool"),
      functionName: "epochInfo",
      args: [0n],
    })) as { perWinner: bigint; k: bigint };

    let totalWon = 0;
    for (const d of devices) {
      const before = await balances({ publicClient: pub }, token, d.address);
      const r = await claimGrowthWins(clientsFor(d), store, pool, 0n);
      assert.deepEqual(r.claimed, r.won);
      totalWon += r.won.length;
      const after = await balances({ publicClient: pub }, token, d.address);
      assert.equal(after.dml - before.dml, info.perWinner * BigInt(r.won.length));
      // a second run claims nothing new
      const again = await claimGrowthWins(clientsFor(d), store, pool, 0n);
      assert.deepEqual(again.claimed, []);
    }
    assert.equal(totalWon, Number(info.k), "every draw claimed by its winner");

    // a device outside the set, and a dump whose root differs from the chain's, are refused before any transaction
    const outsider = deviceAccount(generatePrivateKey());
    await assert.rejects(
      claimGrowthWins(clientsFor(outsider), store, pool, 0n),
      (e) => e instanceof DeviceError && e.code === "NOT_IN_PAYOUT",
    );
    assert.equal(loadConnectedSet(dump, tree.root).leafOf(outsider.address), undefined);
    const other = buildConnectedSet(
      devices.slice(1).map((d, i) => ({ device: d.address, signature: sigs[i + 1]! })),
    );
    assert.throws(() => loadConnectedSet(other.tree.dump(), tree.root), MerkleInputError);
    assert.throws(() => loadConnectedSet({ format: "standard-v1" }, tree.root), MerkleInputError);

    // transfers
    let rich = devices[0]!;
    for (const d of devices)
      if ((await balances({ publicClient: pub }, token, d.address)).dml > 0n) rich = d;
    const richBal = await balances({ publicClient: pub }, token, rich.address);
    assert.ok(richBal.dml > 0n);
    const dmlTo = privateKeyToAccount(generatePrivateKey()).address;
    await transfer(clientsFor(rich), { asset: "dml", token, to: dmlTo, amount: richBal.dml / 2n });
    assert.equal((await balances({ publicClient: pub }, token, dmlTo)).dml, richBal.dml / 2n);
    assert.equal(
      (await balances({ publicClient: pub }, token, rich.address)).dml,
      richBal.dml - richBal.dml / 2n,
    );
    const to = privateKeyToAccount(generatePrivateKey()).address;
    await transfer(clientsFor(devices[0]!), { asset: "eth", token, to, amount: 12345n });
    assert.equal((await balances({ publicClient: pub }, token, to)).eth, 12345n);
    await assert.rejects(
      transfer(clientsFor(devices[3]!), { asset: "dml", token, to, amount: 10n ** 30n }),
      (e) => e instanceof DeviceError && e.code === "CHAIN",
    );
  });
});
