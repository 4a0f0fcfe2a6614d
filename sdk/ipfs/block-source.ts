/**
 * A remote source of raw IPFS blocks (e.g. a Kubo node). A {@link HeliaStore} configured with one
 * fetches missing blocks from it and Helia checks every fetched block against its CID's multihash
 * before storing or using it, so a lying source cannot substitute content.
 */
import type { CID } from "multiformats/cid";

export interface BlockSource {
  /** Short name, used in logs and errors. */
  readonly name: string;
  /** The raw bytes of block `cid` (unverified; the caller verifies). */
  getBlock(cid: CID, options?: { signal?: AbortSignal }): Promise<Uint8Array>;
}

/** Content whose bytes do not hash to the CID that named it. */
export class ContentIntegrityError extends Error {
  override readonly name = "ContentIntegrityError";
  readonly cid: string;
  constructor(cid: string, cause: unknown) {
    super(
      `content ${cid} failed hash verification: ${(cause as Error)?.message ?? String(cause)}`,
      {
        cause,
      },
    );
    this.cid = cid;
  }
}

/** True when `e` or any error in its cause / aggregate chain is a multihash mismatch. */
export function isHashMismatch(e: unknown, depth = 0): boolean {
  if (!(e instanceof Error) || depth > 8) return false;
  if (e.name === "InvalidMultihashError") return true;
  if (e instanceof AggregateError && e.errors.some((x) => isHashMismatch(x, depth + 1)))
    return true;
  return isHashMismatch(e.cause, depth + 1);
}
