/**
 * The two mask seeds of SecAgg (Bonawitz et al. 2017): a client's self-mask seed from its secret b_u, and the pairwise
 * seed shared by two clients from X25519(s_u^SK, s_v^PK). Both are HKDF-SHA256 bound to the session id. Kept apart
 * from the client so the server's unmasking workers load only what they use.
 */
import type { KeyObject } from "node:crypto";
import { LABEL_PAIR_MASK, LABEL_SELF_MASK, deriveKey } from "./prg.ts";
import type { X25519Secret } from "./x25519.ts";

/** Seed of the pairwise mask between two clients, from X25519(s_u^SK, s_v^PK). */
export function pairwiseSeed(
  sessionIdBytes: Uint8Array,
  sSk: X25519Secret,
  otherSPk: Uint8Array | KeyObject,
): Uint8Array {
  return deriveKey(sSk.agree(otherSPk), sessionIdBytes, LABEL_PAIR_MASK);
}

/** Seed of a client's self mask, from its secret b_u. */
export function selfMaskSeed(sessionIdBytes: Uint8Array, b: Uint8Array): Uint8Array {
  return deriveKey(b, sessionIdBytes, LABEL_SELF_MASK);
}
