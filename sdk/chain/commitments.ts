/**
 * The commit-reveal commitments the contracts check (PROTOCOL.md §4): the customer's sealed bid (JobMarket), the
 * aggregator's aggregate commitment and a quorum member's commitment (ResultAttestation, FineTuning). Each binds its
 * salt, and a member's binds the member, so a commitment cannot be copied by another node.
 */
import { encodeAbiParameters, keccak256, type Address, type Hex } from "viem";

/** The sealed-bid commitment JobMarket expects: keccak256(abi.encode(jobId, bid, salt, customer)). */
export function bidCommitment(jobId: bigint, bid: bigint, salt: Hex, customer: Address): Hex {
  return keccak256(
    encodeAbiParameters(
      [{ type: "uint256" }, { type: "uint256" }, { type: "bytes32" }, { type: "address" }],
      [jobId, bid, salt, customer],
    ),
  );
}

/** A quorum member's commitment: keccak256(abi.encode(value, salt, member)). */
export function memberCommitment(value: Hex, salt: Hex, member: Address): Hex {
  return keccak256(
    encodeAbiParameters(
      [{ type: "bytes32" }, { type: "bytes32" }, { type: "address" }],
      [value, salt, member],
    ),
  );
}

/**
 * The aggregator's commitment: keccak256(abi.encode(value, salt)). In ResultAttestation the value is the job's
 * `resultHash` (sdk/chain/result.ts), which attestors commit with `memberCommitment`.
 */
export function aggregateCommitment(value: Hex, salt: Hex): Hex {
  return keccak256(encodeAbiParameters([{ type: "bytes32" }, { type: "bytes32" }], [value, salt]));
}
