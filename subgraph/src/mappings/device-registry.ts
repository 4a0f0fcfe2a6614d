// DeviceRegistry: device keys, dataset schemas, consent, session keys and Sybil bonds.
import { Address, BigInt, ethereum } from "@graphprotocol/graph-ts";
import {
  DeviceBondPosted,
  DeviceBondReturnStarted,
  DeviceBondUpdated,
  DeviceBondWithdrawn,
  DeviceConsentUpdated,
  DeviceDeregistered,
  DeviceRegistered,
  DeviceSchemasUpdated,
  DeviceSessionKeySet,
  GovernanceTransferred,
  Initialized,
  Upgraded,
} from "../../generated/DeviceRegistry/DeviceRegistry";
import { DeviceBondEvent } from "../../generated/schema";
import {
  recordGovernanceTransfer,
  recordInitialized,
  recordParameterChange,
  recordUpgrade,
} from "../helpers/contracts";
import { createOrLoadDevice } from "../helpers/devices";
import { makeEventId } from "../helpers/ids";
import {
  createOrLoadDailySnapshot,
  createOrLoadProtocol,
  ONE,
  saveProtocol,
  ZERO,
} from "../helpers/protocol";

const NAME = "DeviceRegistry";

export function handleDeviceRegistered(event: DeviceRegistered): void {
  let d = createOrLoadDevice(event.params.device);
  let firstTime = d.registeredAtBlock.isZero();
  let wasRegistered = d.registered;
  d.registered = true;
  d.schemas = event.params.schemas;
  d.consentAnyAlgorithmInSchema = event.params.consent.anyAlgorithmInSchema;
  d.consentAlgorithms = event.params.consent.algorithms;
  d.priceFloor = event.params.consent.priceFloor;
  d.registeredAt = event.block.timestamp;
  d.registeredAtBlock = event.block.number;
  d.deregisteredAt = null;
  d.save();
  if (wasRegistered) return;
  let p = createOrLoadProtocol();
  p.devices = p.devices.plus(ONE);
  if (firstTime) p.devicesEverRegistered = p.devicesEverRegistered.plus(ONE);
  let day = createOrLoadDailySnapshot(event);
  day.dailyDevicesRegistered = day.dailyDevicesRegistered.plus(ONE);
  saveProtocol(p, event, day);
}

export function handleDeviceSchemasUpdated(event: DeviceSchemasUpdated): void {
  let d = createOrLoadDevice(event.params.device);
  d.schemas = event.params.schemas;
  d.save();
}

export function handleDeviceConsentUpdated(event: DeviceConsentUpdated): void {
  let d = createOrLoadDevice(event.params.device);
  d.consentAnyAlgorithmInSchema = event.params.consent.anyAlgorithmInSchema;
  d.consentAlgorithms = event.params.consent.algorithms;
  d.priceFloor = event.params.consent.priceFloor;
  d.save();
}

export function handleDeviceSessionKeySet(event: DeviceSessionKeySet): void {
  let d = createOrLoadDevice(event.params.device);
  d.sessionKey = event.params.sessionKey;
  d.save();
}

export function handleDeviceDeregistered(event: DeviceDeregistered): void {
  let d = createOrLoadDevice(event.params.device);
  let wasRegistered = d.registered;
  d.registered = false;
  d.deregisteredAt = event.block.timestamp;
  d.save();
  if (!wasRegistered) return;
  let p = createOrLoadProtocol();
  p.devices = p.devices.minus(ONE);
  saveProtocol(p, event);
}

function recordBondEvent(
  event: ethereum.Event,
  device: Address,
  kind: string,
  amount: BigInt,
  readyAt: BigInt | null,
): void {
  let e = new DeviceBondEvent(makeEventId(event));
  e.device = device;
  e.kind = kind;
  e.amount = amount;
  if (readyAt) e.readyAt = readyAt;
  e.blockNumber = event.block.number;
  e.timestamp = event.block.timestamp;
  e.transactionHash = event.transaction.hash;
  e.save();
}

export function handleDeviceBondPosted(event: DeviceBondPosted): void {
  let d = createOrLoadDevice(event.params.device);
  d.bond = d.bond.plus(event.params.amount);
  d.save();
  recordBondEvent(event, event.params.device, "Posted", event.params.amount, null);
}

export function handleDeviceBondReturnStarted(event: DeviceBondReturnStarted): void {
  let d = createOrLoadDevice(event.params.device);
  d.bondReadyAt = event.params.readyAt;
  d.save();
  recordBondEvent(
    event,
    event.params.device,
    "ReturnStarted",
    event.params.amount,
    event.params.readyAt,
  );
}

export function handleDeviceBondWithdrawn(event: DeviceBondWithdrawn): void {
  let d = createOrLoadDevice(event.params.device);
  d.bond = d.bond.minus(event.params.amount);
  d.bondReadyAt = ZERO;
  d.save();
  recordBondEvent(event, event.params.device, "Withdrawn", event.params.amount, null);
}

export function handleDeviceBondUpdated(event: DeviceBondUpdated): void {
  recordParameterChange(event, NAME, "DeviceBondUpdated");
}

export function handleUpgraded(event: Upgraded): void {
  recordUpgrade(event, NAME, event.params.implementation);
}
export function handleGovernanceTransferred(event: GovernanceTransferred): void {
  recordGovernanceTransfer(
    event,
    NAME,
    event.params.previousGovernance,
    event.params.newGovernance,
  );
}
export function handleInitialized(event: Initialized): void {
  recordInitialized(event, NAME, event.params.version);
}
