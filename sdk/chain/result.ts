/**
 * The attested result of a prediction job (PROTOCOL.md §7.4, §7.5) and the job seed (§7.1), computed exactly as the
 * contracts compute them:
 *
 * - `resultHash = keccak256(abi.encode(bytes32 aggregateHash, bytes32 payoutRoot, uint96 payoutTotal,
 *   uint32 participants, bool qualityMet))` is what the aggregator and the attestors commit and reveal in
 *   `ResultAttestation` and what `Settlement.report` checks the presented `Result` against (`resultHashOf`);
 * - `INVALID` is the reserved value an attestor reveals when it cannot fetch or verify the transcript;
 * - a job's seed is `keccak256(abi.encode(epochSeed, bytes32("dml.job"), jobId))` (`JobMarket.markAssigned`), and its
 *   attestors are drawn from `keccak256(abi.encode(jobSeed, bytes32("dml.attestors"), jobId))`.
 */
import { encodeAbiParameters, keccak256, stringToHex, toBytes, type Hex } from "viem";

/** `ISettlement.Result`: the preimage of a job's attested `resultHash`. */
export interface JobResult {
  /** Hash of the unmasked aggregate (`aggregateHashOf(transcript)`). */
  aggregateHash: Hex;
  /** Payout tree root (zero when the job failed). */
  payoutRoot: Hex;
  /** Sum of the payout leaves (zero when the job failed). */
  payoutTotal: bigint;
  /** Surviving participants in the aggregate. */
  participants: number;
  /** The quality requirement held. */
  qualityMet: boolean;
}

export const ZERO_HASH: Hex = `0x${"00".repeat(32)}`;

/** `AttestationQuorum.INVALID` / `ResultAttestation.INVALID()`: an attestor could not fetch or verify the transcript. */
export const INVALID: Hex = keccak256(toBytes("dml.attestation.INVALID"));

/** The attested value of `r`, as `Settlement.resultHashOf` computes it. */
export function resultHash(r: JobResult): Hex {
  return keccak256(
    encodeAbiParameters(
      [
        { type: "bytes32" },
        { type: "bytes32" },
        { type: "uint96" },
        { type: "uint32" },
        { type: "bool" },
      ],
      [r.aggregateHash, r.payoutRoot, r.payoutTotal, r.participants, r.qualityMet],
    ),
  );
}

/** `FutureSeed.derive(seed, tag, id)`: keccak256(abi.encode(seed, bytes32(tag), id)). */
export function deriveSeed(seed: Hex, tag: string, id: bigint): Hex {
  return keccak256(
    encodeAbiParameters(
      [{ type: "bytes32" }, { type: "bytes32" }, { type: "uint256" }],
      [seed, stringToHex(tag, { size: 32 }), id],
    ),
  );
}

/** A job's seed from its scheduling epoch's seed (`JobMarket.epochSeed`); `AttestorsDrawn.seed` carries it. */
export function jobSeed(epochSeed: Hex, jobId: bigint): Hex {
  return deriveSeed(epochSeed, "dml.job", jobId);
}

/** The seed the job's attestors are drawn from. */
export function attestorSeed(jobSeedValue: Hex, jobId: bigint): Hex {
  return deriveSeed(jobSeedValue, "dml.attestors", jobId);
}
