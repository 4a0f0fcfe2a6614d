/**
 * The attestor's check of a transcript v2: re-run every recorded message through a fresh `SecAggServer` (the same
 * validation, signature verification and unmasking code the aggregator ran, so it follows whatever signature scheme
 * the server uses), and recompute the survivors, the dropped set, the faults and the unmasked sum from the signed
 * messages alone. Nothing the aggregator claims about the result is read: a transcript carries no result.
 */
import type { Address, Hex } from "viem";
import { isAddressEqual } from "viem";
import { SecAggError } from "./errors.ts";
import { resolveSession } from "./params.ts";
import type { ResolvedSession, RosterEntry } from "./params.ts";
import { SecAggServer } from "./server.ts";
import type { SecAggResult } from "./server.ts";
import { aggregateHashOf } from "./transcript.ts";
import { sessionConfigOf } from "./transcript-v2.ts";
import type { SessionTranscript } from "./transcript-v2.ts";

/** What the verifier knows independently of the aggregator (chain data). */
export interface ExpectedSession {
  sessionId: Hex;
  /** The on-chain cohort as a roster (ids and device-key addresses, public keys when published). */
  roster: readonly RosterEntry[];
  /** EIP-712 domain of the session's messages. */
  domain: { chainId: number; verifyingContract: Address };
  /** The cohort root and job seed the neighbour graph derives from (absent for off-chain sessions). */
  cohort?: { root: Hex; jobSeed: Hex };
  /** The job's vector length, when the verifier knows it. */
  vectorLength?: number;
}

/** The recomputed result, and the aggregate hash derived from it (transcript.ts `aggregateHashOf`). */
export interface ReplayResult extends SecAggResult {
  aggregateHash: Hex;
}

const fail =
  (code: "TRANSCRIPT_INVALID" | "TRANSCRIPT_OTHER_SESSION" | "TRANSCRIPT_NON_MEMBER") =>
  (msg: string, cause?: unknown): never => {
    throw new SecAggError(code, msg, cause === undefined ? undefined : { cause });
  };
const invalid = fail("TRANSCRIPT_INVALID");
const otherSession = fail("TRANSCRIPT_OTHER_SESSION");
const nonMember = fail("TRANSCRIPT_NON_MEMBER");

const lower = (h: string | undefined) => h?.toLowerCase();

/** Checks the transcript is the expected session over the expected roster; returns the resolved session. */
function checkSession(t: SessionTranscript, expected: ExpectedSession): ResolvedSession {
  const c = t.config;
  if (lower(c.sessionId) !== lower(expected.sessionId))
    otherSession(`transcript of session ${c.sessionId}, expected ${expected.sessionId}`);
  if (
    c.chainId !== expected.domain.chainId ||
    !isAddressEqual(c.verifyingContract, expected.domain.verifyingContract)
  )
    otherSession(`transcript of chain ${c.chainId} / ${c.verifyingContract}`);
  if (
    lower(c.cohort?.root) !== lower(expected.cohort?.root) ||
    lower(c.cohort?.jobSeed) !== lower(expected.cohort?.jobSeed)
  )
    otherSession("transcript names another cohort");
  const roster = new Map(expected.roster.map((r) => [r.id, r]));
  for (const r of c.roster) {
    const e = roster.get(r.id);
    if (e === undefined || !isAddressEqual(e.address, r.address))
      nonMember(`roster entry ${r.id} (${r.address}) is not in the cohort`);
  }
  if (new Set(c.roster.map((r) => r.id)).size !== roster.size)
    invalid(`roster of ${c.roster.length} clients, the cohort has ${roster.size}`);
  if (expected.vectorLength !== undefined && c.vectorLength !== expected.vectorLength)
    invalid(`vector length ${c.vectorLength}, expected ${expected.vectorLength}`);
  for (const { message } of t.records) {
    if (lower(message.body.sessionId) !== lower(expected.sessionId))
      otherSession(`message of session ${message.body.sessionId}`);
    if (!roster.has(message.body.sender))
      nonMember(`message from ${message.body.sender}, who is not in the cohort`);
  }
  try {
    // the verifier's own roster (its public keys), the transcript's parameters
    return resolveSession(sessionConfigOf(c, expected.roster));
  } catch (e) {
    return invalid(`session parameters: ${(e as Error).message}`, e);
  }
}

/**
 * Replays a decoded transcript v2 against the expected session facts and recomputes its result.
 * @throws SecAggError TRANSCRIPT_OTHER_SESSION (session, chain, contract or cohort differ), TRANSCRIPT_NON_MEMBER
 *   (a roster entry or sender outside the cohort), TRANSCRIPT_INVALID (a message does not verify or is not accepted
 *   as recorded, a recorded fault is not a fault, rounds out of order, or the recorded rounds do not finish the
 *   session: too few survivors, signers or shares to unmask)
 */
export async function replayTranscript(
  t: SessionTranscript,
  expected: ExpectedSession,
): Promise<ReplayResult> {
  const session = checkSession(t, expected);
  const server = new SecAggServer(session, { transcriptReplay: true });
  let at = 0;
  for (let round = 0; round <= 4; round++) {
    for (; at < t.records.length && t.records[at]!.message.body.round === round; at++) {
      const { fault, message } = t.records[at]!;
      const who = `record ${at} (round ${round}, client ${message.body.sender})`;
      const faultsBefore = server.faults.length;
      try {
        await server.submit(message);
      } catch (e) {
        if (fault && server.faults.length === faultsBefore + 1) continue; // the recorded fault is one
        if (fault)
          invalid(
            `${who} is recorded as a fault but is refused without attribution: ${String(e)}`,
            e,
          );
        invalid(`${who} is not accepted: ${String(e)}`, e);
      }
      if (fault) invalid(`${who} is recorded as a fault but is a valid message`);
    }
    try {
      await server.advance();
    } catch (e) {
      invalid(`round ${round} does not close: ${String(e)}`, e);
    }
  }
  if (at < t.records.length)
    invalid(`record ${at} (round ${t.records[at]!.message.body.round}) is out of round order`);
  const result = server.getResult();
  return { ...result, aggregateHash: aggregateHashOf(result) };
}
