/** Dataset schema ids: the on-chain `bytes32 schema` of algorithms, devices and jobs is the keccak of the id. */
import { keccak256, stringToBytes, type Hex } from "viem";

/** The reference workload's schema (PROTOCOL.md §6): one email, RFC 822. */
export const EMAIL_SCHEMA_ID = "email/rfc822-v1";

/** The on-chain schema hash of a schema id. */
export function schemaHash(schemaId: string): Hex {
  return keccak256(stringToBytes(schemaId));
}
