/**
 * Prints the ERC-7201 storage slot of each namespace id given on the command line:
 * keccak256(abi.encode(uint256(keccak256(id)) - 1)) & ~bytes32(uint256(0xff)).
 * Usage: npx tsx script/erc7201-slot.ts dml.storage.NodeStaking
 */
import { encodeAbiParameters, keccak256, toHex } from "viem";

export function erc7201Slot(id: string): `0x${string}` {
  const inner = BigInt(keccak256(toHex(id))) - 1n;
  const outer = BigInt(keccak256(encodeAbiParameters([{ type: "uint256" }], [inner]))) & ~0xffn;
  return `0x${outer.toString(16).padStart(64, "0")}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const id of process.argv.slice(2)) console.log(`${id} ${erc7201Slot(id)}`);
}
