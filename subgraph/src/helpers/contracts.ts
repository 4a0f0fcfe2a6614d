// Protocol contracts: upgrades (ERC-1967 `Upgraded`), governance hand-overs, initialisation and parameter events,
// shared by every data source's mapping.
import { Address, BigInt, ethereum } from "@graphprotocol/graph-ts";
import {
  GovernanceTransfer,
  ParameterChange,
  ProtocolContract,
  Upgrade,
} from "../../generated/schema";
import { makeEventId } from "./ids";

export function createOrLoadProtocolContract(address: Address, name: string): ProtocolContract {
  let c = ProtocolContract.load(address);
  if (c != null) return c;
  c = new ProtocolContract(address);
  c.name = name;
  c.upgradeCount = 0;
  c.save();
  return c;
}

/** `Upgraded(implementation)` on the proxy `event.address`. */
export function recordUpgrade(event: ethereum.Event, name: string, implementation: Address): void {
  let c = createOrLoadProtocolContract(event.address, name);
  c.implementation = implementation;
  c.upgradeCount = c.upgradeCount + 1;
  c.save();
  let u = new Upgrade(makeEventId(event));
  u.contract = c.id;
  u.implementation = implementation;
  u.blockNumber = event.block.number;
  u.timestamp = event.block.timestamp;
  u.transactionHash = event.transaction.hash;
  u.save();
}

export function recordGovernanceTransfer(
  event: ethereum.Event,
  name: string,
  previous: Address,
  next: Address,
): void {
  let c = createOrLoadProtocolContract(event.address, name);
  c.governance = next;
  c.save();
  let t = new GovernanceTransfer(makeEventId(event));
  t.contract = c.id;
  t.previousGovernance = previous;
  t.newGovernance = next;
  t.blockNumber = event.block.number;
  t.timestamp = event.block.timestamp;
  t.transactionHash = event.transaction.hash;
  t.save();
}

export function recordInitialized(event: ethereum.Event, name: string, version: BigInt): void {
  let c = createOrLoadProtocolContract(event.address, name);
  c.initializedVersion = version;
  c.save();
}

/**
 * A governance parameter event `eventName` of contract `name`, with `name=value` pairs built from the event's own
 * parameters (tuple members by position: `params.0=3`).
 */
export function recordParameterChange(
  event: ethereum.Event,
  name: string,
  eventName: string,
): void {
  let c = createOrLoadProtocolContract(event.address, name);
  let values = new Array<string>();
  for (let i = 0; i < event.parameters.length; i++) {
    let param = event.parameters[i];
    appendValue(values, param.name, param.value);
  }
  let change = new ParameterChange(makeEventId(event));
  change.contract = c.id;
  change.event = eventName;
  change.values = values;
  change.blockNumber = event.block.number;
  change.timestamp = event.block.timestamp;
  change.transactionHash = event.transaction.hash;
  change.save();
}

function appendValue(out: Array<string>, name: string, value: ethereum.Value): void {
  if (value.kind == ethereum.ValueKind.TUPLE) {
    let tuple = value.toTuple();
    for (let i = 0; i < tuple.length; i++) {
      appendValue(out, name + "." + i.toString(), tuple[i]);
    }
    return;
  }
  out.push(name + "=" + valueToString(value));
}

function valueToString(value: ethereum.Value): string {
  if (value.kind == ethereum.ValueKind.ADDRESS) return value.toAddress().toHexString();
  if (value.kind == ethereum.ValueKind.BOOL) return value.toBoolean() ? "true" : "false";
  if (value.kind == ethereum.ValueKind.INT || value.kind == ethereum.ValueKind.UINT)
    return value.toBigInt().toString();
  if (value.kind == ethereum.ValueKind.STRING) return value.toString();
  if (value.kind == ethereum.ValueKind.FIXED_BYTES || value.kind == ethereum.ValueKind.BYTES)
    return value.toBytes().toHexString();
  return "?";
}
