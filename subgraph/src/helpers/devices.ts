// Devices of the DeviceRegistry.
import { Address, Bytes } from "@graphprotocol/graph-ts";
import { Device } from "../../generated/schema";
import { createOrLoadAccount } from "./accounts";
import { ZERO } from "./protocol";

/** The device at `address`; a new one is unregistered with no bond (not saved). */
export function createOrLoadDevice(address: Address): Device {
  let d = Device.load(address);
  if (d != null) return d;
  let account = createOrLoadAccount(address);
  account.device = address;
  account.save();
  d = new Device(address);
  d.account = account.id;
  d.registered = false;
  d.schemas = new Array<Bytes>();
  d.consentAnyAlgorithmInSchema = false;
  d.consentAlgorithms = [];
  d.priceFloor = ZERO;
  d.bond = ZERO;
  d.bondReadyAt = ZERO;
  d.registeredAt = ZERO;
  d.registeredAtBlock = ZERO;
  return d;
}
