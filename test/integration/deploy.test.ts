import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { network } from "hardhat";
import {
  encodeFunctionData,
  getAddress,
  keccak256,
  toHex,
  zeroAddress,
  zeroHash,
  type Address,
} from "viem";
import { loadArtifact } from "#sdk/chain/artifacts.ts";
import { ConfigError, ManifestError } from "#sdk/chain/errors.ts";
import { readManifest, toJson } from "#sdk/chain/manifest.ts";
import { assertConfigForChain, parseDeployConfig } from "../../script/lib/config.ts";
import {
  deployProtocol,
  GENESIS_SALT,
  IMPLEMENTATION_SLOT,
  PROXY_CONTRACTS,
  type DeployClients,
} from "../../script/deploy.ts";

const DEFAULT_ADMIN_ROLE = `0x${"00".repeat(32)}` as const;
const PROPOSER_ROLE = keccak256(toHex("PROPOSER_ROLE"));
const CANCELLER_ROLE = keccak256(toHex("CANCELLER_ROLE"));
const EXECUTOR_ROLE = keccak256(toHex("EXECUTOR_ROLE"));

async function setup() {
  const { viem } = await network.create();
  const publicClient = await viem.getPublicClient();
  const [walletClient] = await viem.getWalletClients();
  assert.ok(walletClient);
  const clients = { publicClient, walletClient } as unknown as DeployClients;
  const dir = mkdtempSync(path.join(tmpdir(), "dml-deploy-"));
  return {
    viem,
    publicClient,
    walletClient,
    clients,
    manifestPath: path.join(dir, "manifest.json"),
    deployer: getAddress(walletClient.account.address),
  };
}

describe("deployProtocol", () => {
  it("deploys, hands authority to the timelock, and is idempotent", async () => {
    const { viem, publicClient, clients, manifestPath, deployer } = await setup();
    const first = await deployProtocol({ clients, manifestPath });
    assert.ok(first.txCount > 0);

    const manifest = readManifest(manifestPath); // validates against the zod schema
    assert.equal(manifest.chainId, 31337);
    assert.equal(manifest.deployer, deployer);
    assert.ok(manifest.startBlock > 0);
    const timelock = manifest.contracts.TimelockController?.address as Address;
    const token = manifest.contracts.DMLToken?.address as Address;
    const governor = manifest.contracts.DMLGovernor?.address as Address;
    assert.ok(timelock && token && governor);

    // Every proxy: ERC-1967 slot points at the recorded implementation, governance is the timelock.
    const gov = loadArtifact("IGovernedUUPS").abi;
    let proxies = 0;
    for (const name of PROXY_CONTRACTS) {
      const c = manifest.contracts[name];
      if (!c) continue;
      proxies += 1;
      const slot = await publicClient.getStorageAt({
        address: c.address,
        slot: IMPLEMENTATION_SLOT,
      });
      assert.equal(
        getAddress(`0x${(slot ?? "").slice(-40)}`),
        c.implementation,
        `${name} implementation slot`,
      );
      assert.equal(
        await publicClient.readContract({
          address: c.address,
          abi: gov,
          functionName: "governance",
        }),
        timelock,
      );
      // The implementation itself cannot be initialised by anyone.
      assert.ok(c.implementation);
      assert.equal(
        await publicClient.readContract({
          address: c.implementation,
          abi: gov,
          functionName: "governance",
        }),
        zeroAddress,
      );
    }
    assert.ok(proxies >= 2, "at least NodeStaking and DeviceRegistry are proxies");

    // Timelock roles: governor proposes and cancels, anyone executes, the deployer holds no role.
    const tl = loadArtifact("TimelockController").abi;
    const hasRole = (role: `0x${string}`, who: Address) =>
      publicClient.readContract({
        address: timelock,
        abi: tl,
        functionName: "hasRole",
        args: [role, who],
      });
    assert.equal(await hasRole(PROPOSER_ROLE, governor), true);
    assert.equal(await hasRole(CANCELLER_ROLE, governor), true);
    assert.equal(await hasRole(EXECUTOR_ROLE, zeroAddress), true);
    for (const role of [DEFAULT_ADMIN_ROLE, PROPOSER_ROLE, CANCELLER_ROLE, EXECUTOR_ROLE]) {
      assert.equal(await hasRole(role, deployer), false);
    }
    assert.equal(
      await hasRole(DEFAULT_ADMIN_ROLE, timelock),
      true,
      "the timelock administers itself",
    );

    // Supply: 9% to the growth pool proxy, 91% to the treasury (timelock).
    const erc20 = loadArtifact("DMLToken").abi;
    const bal = (a: Address) =>
      publicClient.readContract({
        address: token,
        abi: erc20,
        functionName: "balanceOf",
        args: [a],
      });
    const supply = (await publicClient.readContract({
      address: token,
      abi: erc20,
      functionName: "totalSupply",
    })) as bigint;
    const pool = manifest.contracts.GrowthPool?.address ?? manifest.predicted.GrowthPool;
    assert.ok(pool);
    assert.equal(await bal(pool), (supply * 900n) / 10_000n);
    // Genesis: the dev faucet (account #1) got its allocation from the treasury, executed by the timelock,
    // which then raised its own delay to the configured 2 days.
    const [, faucetWallet] = await viem.getWalletClients();
    const faucet = getAddress(faucetWallet!.account.address);
    const allocation = 1_000_000n * 10n ** 18n;
    assert.equal(await bal(faucet), allocation);
    // allocated holders vote from day one (DMLToken.allocate self-delegates them)
    assert.equal(
      await publicClient.readContract({
        address: token,
        abi: erc20,
        functionName: "getVotes",
        args: [faucet],
      }),
      allocation,
    );
    assert.equal(await bal(timelock), supply - (supply * 900n) / 10_000n - allocation);
    assert.equal(await bal(deployer), 0n);
    assert.equal(
      await publicClient.readContract({ address: timelock, abi: tl, functionName: "getMinDelay" }),
      2n * 86_400n,
    );
    const genesisId = await publicClient.readContract({
      address: timelock,
      abi: tl,
      functionName: "hashOperationBatch",
      args: [
        [token, timelock],
        [0n, 0n],
        [
          encodeFunctionData({ abi: erc20, functionName: "allocate", args: [faucet, allocation] }),
          encodeFunctionData({ abi: tl, functionName: "updateDelay", args: [2n * 86_400n] }),
        ],
        zeroHash,
        GENESIS_SALT,
      ],
    });
    assert.equal(
      await publicClient.readContract({
        address: timelock,
        abi: tl,
        functionName: "isOperationDone",
        args: [genesisId],
      }),
      true,
    );

    // Second run: nothing sent, same addresses.
    const nonceBefore = await publicClient.getTransactionCount({ address: deployer });
    const second = await deployProtocol({ clients, manifestPath });
    assert.equal(second.txCount, 0);
    assert.deepEqual(second.executed, []);
    assert.equal(await publicClient.getTransactionCount({ address: deployer }), nonceBefore);
    assert.deepEqual(readManifest(manifestPath).contracts, manifest.contracts);

    // --force: everything again, at new addresses.
    const forced = await deployProtocol({ clients, manifestPath, force: true });
    assert.ok(forced.txCount > 0);
    const after = readManifest(manifestPath);
    for (const [name, c] of Object.entries(manifest.contracts)) {
      assert.notEqual(after.contracts[name]?.address, c.address, `${name} redeployed`);
    }
  });

  it("resumes a deployment that crashed mid-way without redeploying finished contracts", async () => {
    const { publicClient, clients, manifestPath, deployer } = await setup();
    let steps = 0;
    await assert.rejects(
      deployProtocol({
        clients,
        manifestPath,
        log: () => {
          if (++steps === 4) throw new Error("simulated crash");
        },
      }),
      /simulated crash/,
    );
    const partial = readManifest(manifestPath);
    const done = Object.entries(partial.contracts);
    assert.ok(done.length >= 2);
    const resumed = await deployProtocol({ clients, manifestPath });
    const full = readManifest(manifestPath);
    for (const [name, c] of done) {
      if (name.endsWith("Implementation")) {
        const base = name.slice(0, -"Implementation".length);
        assert.equal(
          full.contracts[base]?.implementation,
          c.address,
          `${base} reused its implementation`,
        );
      } else {
        assert.equal(full.contracts[name]?.address, c.address, `${name} kept`);
      }
    }
    for (const name of Object.keys(full.contracts)) assert.ok(!name.endsWith("Implementation"));
    for (const name of resumed.executed)
      assert.ok(!done.some(([n]) => n === name), `${name} not redone`);
    const again = await deployProtocol({ clients, manifestPath });
    assert.equal(again.txCount, 0);
    assert.ok((await publicClient.getTransactionCount({ address: deployer })) > 0);
  });

  it("refuses a manifest from another chain and an invalid config, changing nothing", async () => {
    const { publicClient, clients, manifestPath, deployer } = await setup();
    await deployProtocol({ clients, manifestPath });
    const m = readManifest(manifestPath);
    const nonce = await publicClient.getTransactionCount({ address: deployer });
    const foreign = path.join(path.dirname(manifestPath), "foreign.json");
    writeFileSync(foreign, toJson({ ...m, chainId: 1 }));
    await assert.rejects(deployProtocol({ clients, manifestPath: foreign }), ManifestError);
    await assert.rejects(
      deployProtocol({
        clients,
        manifestPath,
        config: { staking: { challengerShareBps: 20_000 } },
      }),
      ConfigError,
    );
    // A manifest whose contracts are partly missing from the chain does not describe it.
    const broken = path.join(path.dirname(manifestPath), "broken.json");
    const contracts = {
      ...m.contracts,
      DMLToken: { ...m.contracts.DMLToken!, address: getAddress(`0x${"12".repeat(20)}`) },
    };
    writeFileSync(broken, toJson({ ...m, contracts }));
    await assert.rejects(deployProtocol({ clients, manifestPath: broken }), ManifestError);
    assert.equal(await publicClient.getTransactionCount({ address: deployer }), nonce);
  });

  it("real networks need genesis voters who can reach quorum; growth winnings never can (§7.8)", () => {
    const real = {
      vrf: {
        coordinator: `0x${"11".repeat(20)}`,
        subscriptionId: 7n,
        keyHash: `0x${"22".repeat(32)}`,
      },
    };
    // the default config names no genesis allocation: refused with a clear (zod) message
    const defaults = parseDeployConfig(real);
    assert.equal(defaults.governor.quorumPercent, 5n);
    assert.throws(
      () => assertConfigForChain(defaults, false),
      (e) => e instanceof ConfigError && /genesis\.allocations/.test(e.message),
    );
    const holder = `0x${"33".repeat(20)}`;
    const tooFew = parseDeployConfig({
      ...real,
      genesis: { allocations: [{ to: holder, amount: 1_000n * 10n ** 18n }] },
    });
    assert.throws(
      () => assertConfigForChain(tooFew, false),
      (e) => e instanceof ConfigError && /quorum/.test(e.message),
    );
    const ok = parseDeployConfig({
      ...real,
      genesis: { allocations: [{ to: holder, amount: 50_000_000n * 10n ** 18n }] },
    });
    assert.doesNotThrow(() => assertConfigForChain(ok, false));
    assert.doesNotThrow(
      () => assertConfigForChain(parseDeployConfig({}), true),
      "dev chain: faucet",
    );
    // quorum must stay above the first halving period's emission (4.5% of supply)
    assert.throws(() => parseDeployConfig({ governor: { quorumPercent: 4 } }), ConfigError);
    assert.throws(
      () => parseDeployConfig({ growthPool: { challengeWindow: 7n * 86_400n } }),
      (e) => e instanceof ConfigError && /unbondingDelay/.test(e.message),
    );
  });
});
