/**
 * EIP-712 signing helpers for off-chain protocol messages (PROTOCOL.md §3: "Off-chain messages are EIP-712 signed by
 * the device key"). A message is reduced to a fixed typed struct that carries the hash of its canonical payload, so the
 * same typed-data schema signs payloads of any size (a 100,000-element masked vector is hashed once, not ABI-encoded).
 */
import { hashTypedData, recoverAddress, isAddressEqual, zeroAddress } from "viem";
import type { Address, Hex, LocalAccount } from "viem";

/** EIP-712 domain of SecAgg messages: name "DML SecAgg", version "3", the chain and the JobMarket (or zero address). */
export interface SecAggDomain {
  chainId: number;
  verifyingContract: Address;
}

export const SECAGG_DOMAIN_NAME = "DML SecAgg";
/**
 * "3": round 1's payload hash covers `to ‖ sha256(ciphertext)` per share (transcript v2 keeps only the digests).
 * "2": the ConsistencyCheck round (3) was added and unmasking moved to round 4.
 */
export const SECAGG_DOMAIN_VERSION = "3";

/** The signed struct: session, round, sender id and the SHA-256 of the round's canonical payload encoding. */
export const SECAGG_TYPES = {
  SecAggMessage: [
    { name: "sessionId", type: "bytes32" },
    { name: "round", type: "uint8" },
    { name: "sender", type: "uint32" },
    { name: "payloadHash", type: "bytes32" },
  ],
} as const;

export interface SecAggEnvelope {
  sessionId: Hex;
  round: number;
  sender: number;
  payloadHash: Hex;
}

function typedData(domain: SecAggDomain, envelope: SecAggEnvelope) {
  return {
    domain: {
      name: SECAGG_DOMAIN_NAME,
      version: SECAGG_DOMAIN_VERSION,
      chainId: domain.chainId,
      verifyingContract: domain.verifyingContract ?? zeroAddress,
    },
    types: SECAGG_TYPES,
    primaryType: "SecAggMessage" as const,
    message: envelope,
  };
}

/** EIP-712 digest of a SecAgg envelope (what the device key signs). */
export function secAggDigest(domain: SecAggDomain, envelope: SecAggEnvelope): Hex {
  return hashTypedData(typedData(domain, envelope));
}

/** Signs an envelope with a viem local account (device key, secp256k1). */
export async function signSecAggEnvelope(
  account: Pick<LocalAccount, "signTypedData">,
  domain: SecAggDomain,
  envelope: SecAggEnvelope,
): Promise<Hex> {
  return account.signTypedData(typedData(domain, envelope));
}

/**
 * True when `signature` over `envelope` recovers to `expected`. Never throws: malformed signatures are just invalid.
 */
export async function verifySecAggEnvelope(
  expected: Address,
  domain: SecAggDomain,
  envelope: SecAggEnvelope,
  signature: Hex,
): Promise<boolean> {
  try {
    const recovered = await recoverAddress({ hash: secAggDigest(domain, envelope), signature });
    return isAddressEqual(recovered, expected);
  } catch {
    return false;
  }
}
