/**
 * The device's heartbeat (device-runner/heartbeat.ts) against a real distributor endpoint on EDR: the device finds
 * the distributor through its NodeStaking endpoint, sends the growth epoch's heartbeat once (a second tick in the same
 * epoch sends nothing), keeps retrying an unreachable configured endpoint, and sends again in the next epoch.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { getAddress } from "viem";
import { HeliaStore } from "#sdk/ipfs/index.ts";
import { HeartbeatSender } from "../../device-runner/heartbeat.ts";
import type { DevicePublicClient } from "../../device-runner/chain.ts";
import { Distributor } from "../../relayers/distributor/Distributor.ts";
import {
  startHeartbeatServer,
  type HeartbeatServer,
} from "../../relayers/distributor/HeartbeatServer.ts";
import { ETHER, label, localAccount, ProtocolEnv, Role } from "../../bench/fixture/protocol.ts";

describe("device heartbeat sender → distributor endpoint", () => {
  let env: ProtocolEnv;
  let store: HeliaStore;
  let tmp: string;
  let server: HeartbeatServer;
  let distributor: Distributor;

  before(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), "dml-distributor-device-"));
    store = await HeliaStore.open({ dir: path.join(tmp, "helia") });
    env = await ProtocolEnv.create();
    const w = env.wallet(3);
    distributor = await Distributor.open({
      publicClient: env.pub,
      wallet: w,
      contracts: {
        GrowthPool: env.addr("GrowthPool"),
        JobMarket: env.addr("JobMarket"),
        ResultAttestation: env.addr("ResultAttestation"),
        NodeStaking: env.addr("NodeStaking"),
        DeviceRegistry: env.addr("DeviceRegistry"),
        AlgorithmMarketplace: env.addr("AlgorithmMarketplace"),
      },
      chainId: env.pub.chain!.id,
      store,
      dataDir: path.join(tmp, "distributor"),
    });
    server = await startHeartbeatServer({
      host: "127.0.0.1",
      port: 0,
      maxBodyBytes: 16_384,
      intake: distributor,
    });
    // the distributor's public endpoint is its NodeStaking registration
    await env.send(w, "NodeStaking", "register", [server.url, label("x25519"), "{}"]);
    await env.stakeNode(w, Role.Distributor, 10_000n * ETHER);
  });
  after(async () => {
    await server.close();
    await store.close();
    await rm(tmp, { recursive: true, force: true });
  });

  it("sends each growth epoch's heartbeat once to the on-chain endpoint; retries an unreachable one", async () => {
    const device = localAccount("heartbeat-device");
    await env.registerDevices([device], label("email/rfc822-v1"));
    const now = async () => Number(await env.now());
    let clock = await now();
    const sender = new HeartbeatSender({
      publicClient: env.pub as unknown as DevicePublicClient,
      account: device,
      chainId: env.pub.chain!.id,
      contracts: {
        DeviceRegistry: env.addr("DeviceRegistry"),
        GrowthPool: env.addr("GrowthPool"),
        NodeStaking: env.addr("NodeStaking"),
      },
      configuredUrls: ["http://127.0.0.1:1"],
      nowSeconds: () => clock,
      timeoutMs: 2_000,
    });
    assert.deepEqual(await sender.endpoints(), ["http://127.0.0.1:1", server.url]);

    const epoch = Number(await env.read<bigint>("GrowthPool", "currentEpoch"));
    const first = await sender.tick();
    assert.equal(first.epoch, epoch);
    assert.deepEqual(first.delivered, [server.url]);
    assert.deepEqual(
      first.failed.map((f) => f.url),
      ["http://127.0.0.1:1"],
    );
    assert.deepEqual(
      distributor.book.connected(epoch).map((d) => d.device),
      [getAddress(device.address)],
    );

    // same epoch: only the unreachable endpoint is tried again
    const second = await sender.tick();
    assert.deepEqual(second.delivered, []);
    assert.deepEqual(
      second.failed.map((f) => f.url),
      ["http://127.0.0.1:1"],
    );

    // a lost memory (device restart) is harmless: the distributor answers 409 HEARTBEAT_REPLAY, counted as delivered
    const restarted = new HeartbeatSender({
      publicClient: env.pub as unknown as DevicePublicClient,
      account: device,
      chainId: env.pub.chain!.id,
      contracts: {
        DeviceRegistry: env.addr("DeviceRegistry"),
        GrowthPool: env.addr("GrowthPool"),
        NodeStaking: env.addr("NodeStaking"),
      },
      nowSeconds: () => clock,
    });
    assert.deepEqual((await restarted.tick()).delivered, [server.url]);
    assert.equal(distributor.book.connected(epoch).length, 1);

    // the next epoch: a fresh heartbeat
    await env.warpTo(await env.read<bigint>("GrowthPool", "epochEnd", [BigInt(epoch)]));
    clock = await now();
    const next = await sender.tick();
    assert.equal(next.epoch, epoch + 1);
    assert.deepEqual(next.delivered, [server.url]);
    assert.deepEqual(
      distributor.book.connected(epoch + 1).map((d) => d.device),
      [getAddress(device.address)],
    );
  });
  it("stamps a heartbeat with chain time: accepted while the chain runs two hours ahead of the wall clock", async () => {
    // a dev chain that mines a block per transaction runs ahead of the wall clock (≈ 4 s per device set up); with
    // wall-clock stamps every heartbeat past the 300 s skew was refused, which stopped runs of ≈ 1,000 devices
    const device = localAccount("chain-clock-device");
    await env.registerDevices([device], label("email/rfc822-v1"));
    await env.warpTo(BigInt(Math.floor(Date.now() / 1000) + 7_200));
    const senderOf = (nowSeconds?: () => number) =>
      new HeartbeatSender({
        publicClient: env.pub as unknown as DevicePublicClient,
        account: device,
        chainId: env.pub.chain!.id,
        contracts: {
          DeviceRegistry: env.addr("DeviceRegistry"),
          GrowthPool: env.addr("GrowthPool"),
          NodeStaking: env.addr("NodeStaking"),
        },
        ...(nowSeconds ? { nowSeconds } : {}),
      });
    const wall = await senderOf(() => Math.floor(Date.now() / 1000)).tick();
    assert.deepEqual(wall.delivered, []);
    assert.match(wall.failed[0]?.error ?? "", /HEARTBEAT_INVALID/);
    const chain = await senderOf().tick();
    assert.deepEqual(chain.delivered, [server.url]);
    assert.ok(
      distributor.book.connected(chain.epoch).some((d) => d.device === getAddress(device.address)),
    );
  });
});
