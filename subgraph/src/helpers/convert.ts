// Conversions graph-ts leaves to the mapping.
import { Address, Bytes } from "@graphprotocol/graph-ts";

/** An address list as the schema's [Bytes!]. */
export function addressesToBytes(addresses: Address[]): Bytes[] {
  let out = new Array<Bytes>();
  for (let i = 0; i < addresses.length; i++) out.push(addresses[i]);
  return out;
}
