/** CID parsing at every read boundary: a malformed CID is a typed error, never a crash deeper down. */
import { CID } from "multiformats/cid";

export class InvalidCidError extends Error {
  override readonly name = "InvalidCidError";
  readonly input: unknown;
  constructor(input: unknown, reason: string) {
    super(`invalid CID ${JSON.stringify(String(input)).slice(0, 120)}: ${reason}`);
    this.input = input;
  }
}

/** Parses a CID string (v0 base58btc or v1 multibase). @throws InvalidCidError */
export function parseCid(input: unknown): CID {
  if (typeof input !== "string") throw new InvalidCidError(input, "not a string");
  if (input.length === 0 || input.length > 512 || input.trim() !== input) {
    throw new InvalidCidError(input, "empty, too long or padded with whitespace");
  }
  try {
    return CID.parse(input);
  } catch (e) {
    throw new InvalidCidError(input, (e as Error).message);
  }
}

/** True when `input` parses as a CID. */
export function isCid(input: unknown): boolean {
  try {
    parseCid(input);
    return true;
  } catch {
    return false;
  }
}
