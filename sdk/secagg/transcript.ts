/**
 * The aggregation result an aggregator publishes (IPFS, its CID committed in `ResultAttestation.commitAggregate`) and
 * the aggregate hash it commits: `keccak256(abi.encode(bytes32 sessionId, uint32[] survivors, uint32[] sum))`, the
 * survivors' client ids in increasing order and the Z_2^32 sum. Attestors fetch the transcript, validate it and
 * recompute the hash; the hash binds the session, the survivor set (which the payouts follow) and every coordinate.
 *
 * Version 1 carries the unmasked result only: an attestor checks the aggregator's arithmetic on the published sum,
 * not the unmasking itself (which would need the masked inputs and revealed shares; docs/secagg.md).
 */
import { encodeAbiParameters, keccak256, type Hex } from "viem";
import { z } from "zod";
import { SecAggError } from "./errors.ts";
import { SecAggServer } from "./server.ts";
import type { SecAggResult } from "./server.ts";
import { transcriptV2Of } from "./transcript-v2.ts";
import type { SessionTranscript } from "./transcript-v2.ts";

export const TRANSCRIPT_VERSION = 1;

export const transcriptSchema = z.strictObject({
  version: z.literal(TRANSCRIPT_VERSION),
  sessionId: z.string().regex(/^0x[0-9a-f]{64}$/),
  survivors: z
    .array(z.number().int().min(1).max(0xffffffff))
    .min(1)
    .refine((ids) => ids.every((id, i) => i === 0 || id > ids[i - 1]!), "survivors must increase"),
  sum: z.array(z.number().int().min(0).max(0xffffffff)).min(1),
});
export type AggregationTranscript = z.infer<typeof transcriptSchema>;

/**
 * The transcript of a session: v1 (`{sessionId, survivors, sum}`) of a result, v2 (every signed message,
 * transcript-v2.ts) of a server built with `recordTranscript`.
 */
export function transcriptOf(result: SecAggResult): AggregationTranscript;
export function transcriptOf(server: SecAggServer): SessionTranscript;
export function transcriptOf(
  x: SecAggResult | SecAggServer,
): AggregationTranscript | SessionTranscript {
  if (x instanceof SecAggServer) return transcriptV2Of(x);
  const result = x;
  return transcriptSchema.parse({
    version: TRANSCRIPT_VERSION,
    sessionId: result.sessionId.toLowerCase(),
    survivors: [...result.survivors].sort((a, b) => a - b),
    sum: [...result.sum],
  });
}

/**
 * The aggregate hash the aggregator commits and attestors recompute, of a v1 transcript or of a result (a session's
 * or `replayTranscript`'s, whose survivors are increasing).
 */
export function aggregateHashOf(t: {
  sessionId: string;
  survivors: readonly number[];
  sum: ArrayLike<number>;
}): Hex {
  return keccak256(
    encodeAbiParameters(
      [{ type: "bytes32" }, { type: "uint32[]" }, { type: "uint32[]" }],
      [t.sessionId.toLowerCase() as Hex, [...t.survivors], Array.from(t.sum)],
    ),
  );
}

export function encodeTranscript(t: AggregationTranscript): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(transcriptSchema.parse(t)));
}

/** Parses published bytes. @throws SecAggError INVALID_MESSAGE for anything but a valid version-1 transcript */
export function decodeTranscript(bytes: Uint8Array): AggregationTranscript {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (e) {
    throw new SecAggError(
      "INVALID_MESSAGE",
      `transcript is not UTF-8 JSON: ${(e as Error).message}`,
    );
  }
  const r = transcriptSchema.safeParse(json);
  if (!r.success)
    throw new SecAggError("INVALID_MESSAGE", `transcript: ${z.prettifyError(r.error)}`);
  return r.data;
}
