/**
 * subgraph/src/mappings/device-registry.ts against real DeviceRegistry events on the EDR chain (`hardhat node`),
 * indexed by the local graph host from the `graph build` output: registration, schema and consent updates, session
 * keys, bonds posted / returning / withdrawn, deregistration, a governance bond change, and the deployment's own
 * Initialized / Upgraded / GovernanceTransferred. Every expected value is read from the chain with viem or decoded
 * from the chain's logs; every DeviceRegistry handler runs.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { getAddress, type Address } from "viem";
import { implementationOf } from "#sdk/chain/governance.ts";
import { ETHER, label, localAccount } from "../../../bench/fixture/protocol.ts";
import {
  expectEventFields,
  parameterValues,
  startIndexedProtocol,
  type IndexedProtocol,
} from "../helpers/indexed-protocol.ts";

const SCHEMA = label("email/rfc822-v1");
const OTHER_SCHEMA = label("sms/v1");

describe("subgraph mapping: DeviceRegistry", () => {
  let ix: IndexedProtocol;
  const alice = localAccount("sg-device-alice");
  const bob = localAccount("sg-device-bob");
  let registry: Address;

  before(async () => {
    ix = await startIndexedProtocol();
    const { env } = ix;
    registry = env.addr("DeviceRegistry");
    await env.registerDevices([alice, bob], SCHEMA);
    const a = await env.localWallet(alice);
    await env.send(a, "DeviceRegistry", "updateSchemas", [[SCHEMA, OTHER_SCHEMA]]);
    await env.send(a, "DeviceRegistry", "updateConsent", [
      { anyAlgorithmInSchema: false, algorithms: [7n, 9n], priceFloor: 3n * ETHER },
    ]);
    const b = await env.localWallet(bob);
    await env.send(b, "DeviceRegistry", "deregister", []);
    const [, , readyAt] = await env.read<readonly bigint[]>("DeviceRegistry", "bondInfo", [
      bob.address,
    ]);
    await env.warpTo(readyAt!);
    await env.send(b, "DeviceRegistry", "withdrawBond", []);
    const bond = await env.read<bigint>("DeviceRegistry", "deviceBond");
    await env.asGovernance("DeviceRegistry", "setDeviceBond", [bond * 2n]);
    await ix.sync();
  });
  after(async () => ix?.stop());

  it("a registered device holds its schemas, consent, session key and bond as the registry reads them", async () => {
    const { env } = ix;
    const d = await ix.entity("Device", alice.address.toLowerCase());
    assert.ok(d);
    const info = await env.read<{
      registered: boolean;
      anyAlgorithmInSchema: boolean;
      priceFloor: bigint;
    }>("DeviceRegistry", "deviceInfo", [alice.address]);
    const [posted, , readyAt] = await env.read<readonly bigint[]>("DeviceRegistry", "bondInfo", [
      alice.address,
    ]);
    const key = await env.read<string>("DeviceRegistry", "sessionKeyOf", [alice.address]);
    assert.equal(d.registered, info.registered);
    assert.equal(d.consentAnyAlgorithmInSchema, info.anyAlgorithmInSchema);
    assert.deepEqual(d.consentAlgorithms, ["7", "9"]);
    assert.equal(d.priceFloor, info.priceFloor.toString());
    assert.deepEqual(d.schemas, [SCHEMA, OTHER_SCHEMA]);
    assert.equal(
      await env.read("DeviceRegistry", "servesSchema", [alice.address, OTHER_SCHEMA]),
      true,
    );
    assert.equal(d.sessionKey, key.toLowerCase());
    assert.equal(d.bond, posted!.toString());
    assert.equal(d.bondReadyAt, readyAt!.toString());
    assert.deepEqual(d.account, { id: alice.address.toLowerCase() });
  });

  it("a deregistered device that withdrew its bond: not registered, no bond, three bond events", async () => {
    const { env } = ix;
    const d = await ix.entity("Device", bob.address.toLowerCase());
    assert.ok(d);
    assert.equal(d.registered, await env.read("DeviceRegistry", "isRegistered", [bob.address]));
    assert.equal(d.registered, false);
    assert.equal(d.bond, "0");
    assert.equal(d.bondReadyAt, "0");
    assert.notEqual(d.deregisteredAt, null);
    const logs = (await ix.logs()).filter(
      (l) =>
        l.contract === "DeviceRegistry" &&
        l.eventName.startsWith("DeviceBond") &&
        l.eventName !== "DeviceBondUpdated" &&
        getAddress(l.args.device as Address) === getAddress(bob.address),
    );
    assert.deepEqual(
      logs.map((l) => l.eventName),
      ["DeviceBondPosted", "DeviceBondReturnStarted", "DeviceBondWithdrawn"],
    );
    for (const [i, log] of logs.entries()) {
      const e = await ix.eventEntityOf("DeviceBondEvent", log);
      assert.equal(e.kind, ["Posted", "ReturnStarted", "Withdrawn"][i]);
      assert.ok(expectEventFields(e, log) >= 2, "device and amount compared");
      assert.equal(e.transactionHash, log.log.transactionHash);
      assert.equal(e.blockNumber, String(log.log.blockNumber));
    }
  });

  it("the protocol counts devices registered now and ever", async () => {
    const p = await ix.entity("Protocol", "1");
    assert.ok(p);
    assert.equal(p.devices, "1");
    assert.equal(p.devicesEverRegistered, "2");
  });

  it("governance: the bond change, the proxy's implementation, initializer version and governance", async () => {
    const { env } = ix;
    // the deployment set the first bond (0 → bond); governance doubled it
    const changes = (await ix.logs()).filter((l) => l.eventName === "DeviceBondUpdated");
    assert.equal(changes.length, 2);
    const log = changes[1]!;
    const change = await ix.eventEntityOf("ParameterChange", log);
    assert.equal(change.event, "DeviceBondUpdated");
    assert.deepEqual(change.values, parameterValues(log));
    assert.deepEqual(change.values, [
      `oldBond=${(log.args.oldBond as bigint).toString()}`,
      `newBond=${(await env.read<bigint>("DeviceRegistry", "deviceBond")).toString()}`,
    ]);
    const c = await ix.entity("ProtocolContract", registry.toLowerCase());
    assert.ok(c);
    assert.equal(c.name, "DeviceRegistry");
    assert.equal(
      c.implementation,
      (await implementationOf(ix.chain.pub as never, registry)).toLowerCase(),
    );
    assert.equal(c.governance, env.addr("TimelockController").toLowerCase());
    assert.equal(c.initializedVersion, "1");
    assert.equal(c.upgradeCount, 1);
  });

  it("every DeviceRegistry handler ran", () => {
    ix.assertHandlersRan(["DeviceRegistry"]);
  });
});
