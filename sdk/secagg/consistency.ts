/**
 * ConsistencyCheck round (Bonawitz et al. 2017, §4 "active adversary"), adapted to SecAgg+ share groups.
 *
 * After the masked inputs are in, the server sends the survivor set U3 to every survivor; each signs
 * (session, round 3, U3). In round 4 a client u reveals shares only after it has checked a certificate: for every
 * owner w whose share it would reveal (b_w if w ∈ U3, s_w^SK if w dropped), at least T = `consistencyThreshold`
 * signatures on exactly the set u itself signed, from members of w's share group G(w) = N(w) ∪ {w}, each verified
 * against the roster's key for its sender. Honest clients sign one set per session and never a set without
 * themselves, so telling two parts of G(w) two different sets (one with w, one without: the split view that would
 * get both b_w and s_w^SK revealed) needs T signatures on each, i.e. at least 2T − |G(w)| colluders in G(w) who sign
 * both: ≥ 2t − n (> n/3) in full mode (T = t = ⌊2n/3⌋ + 1) and ≥ 3 in SecAgg+ mode (T = t + 1 = k/2 + 2).
 *
 * The signatures u may need come from ∪_{w ∈ G(u)} G(w) (`certificateSigners`); the server sends those only.
 * Verification uses each sender's registered Ed25519 session key (no recovery, ≈ 0.1 ms).
 */
import { SecAggError } from "./errors.ts";
import type { Hex } from "viem";
import { envelopeOf } from "./messages.ts";
import type { ConsistencyBody, Signed, UnmaskRequest } from "./messages.ts";
import type { ResolvedSession } from "./params.ts";
import { verifySecAggEnvelope } from "../crypto/signing.ts";
import type { SecAggEnvelope } from "../crypto/signing.ts";

/** G(v) = N(v) ∪ {v}: the clients holding shares of v's secrets. */
export function shareGroup(session: ResolvedSession, v: number): number[] {
  return [...session.neighbours.get(v)!, v];
}

/** Clients whose round-3 signatures client `u` may need: ∪ G(w) over w ∈ G(u), increasing. */
export function certificateSigners(session: ResolvedSession, u: number): number[] {
  if (session.mode === "full") return [...session.ids];
  const out = new Set<number>();
  for (const w of shareGroup(session, u)) for (const x of shareGroup(session, w)) out.add(x);
  return [...out].sort((a, b) => a - b);
}

/** True when `msg` is signed by roster client `sender`'s registered session key (no recovery). Never throws. */
export function verifyBySender(session: ResolvedSession, msg: Signed): boolean {
  return verifyEnvelopeBySender(session, envelopeOf(msg.body), msg.signature);
}

/** `verifyBySender` for an already computed envelope (the certificate check hashes U3 once for all entries). */
export function verifyEnvelopeBySender(
  session: ResolvedSession,
  envelope: SecAggEnvelope,
  signature: Hex,
): boolean {
  const key = session.sessionKeyOf.get(envelope.sender);
  if (key === undefined) return false;
  return verifySecAggEnvelope(key, session.domain, envelope, signature);
}

export function sameIds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Checks the certificate of an unmask request for client `self`, which signed `signed` in round 3. `owners` are the
 * clients whose shares `self` would reveal. Entries that are malformed, of another session or set, duplicated, or
 * badly signed are ignored (they count for nothing). @throws SecAggError CONSISTENCY_FAILED
 */
export async function checkCertificate(
  session: ResolvedSession,
  self: number,
  signed: readonly number[],
  request: UnmaskRequest,
  owners: readonly number[],
): Promise<void> {
  if (!sameIds(request.survivors, signed)) {
    throw new SecAggError("CONSISTENCY_FAILED", "unmask request names another survivor set");
  }
  const T = session.consistencyThreshold;
  // remaining signatures needed per owner; our own signature counts for every group we belong to
  const need = new Map<number, number>();
  for (const w of owners) need.set(w, T - 1);
  let unmet = owners.length;
  if (T - 1 <= 0) unmet = 0;
  const counted = new Set<number>([self]);
  // every entry signs the same body but for its sender: hash U3 once
  const template = envelopeOf({
    sessionId: session.sessionId,
    round: 3,
    sender: self,
    survivors: [...signed],
  } satisfies ConsistencyBody);
  for (const { sender: x, signature } of request.certificate) {
    if (unmet === 0) break;
    if (counted.has(x) || !session.addressOf.has(x)) continue;
    const groups = session.mode === "full" ? owners : shareGroup(session, x);
    if (!groups.some((w) => (need.get(w) ?? 0) > 0)) continue;
    if (!verifyEnvelopeBySender(session, { ...template, sender: x }, signature)) continue;
    counted.add(x);
    for (const w of groups) {
      const left = need.get(w);
      if (left === undefined || left <= 0) continue;
      need.set(w, left - 1);
      if (left === 1) unmet--;
    }
  }
  if (unmet > 0) {
    const short = [...need.entries()].filter(([, left]) => left > 0).map(([w]) => w);
    throw new SecAggError(
      "CONSISTENCY_FAILED",
      `fewer than ${T} signatures on the survivor set from the share groups of ${short.join(",")}`,
    );
  }
}
