/**
 * Transcript v2: every signed message of a SecAgg session, for the drawn attestors only (sealed to their keys,
 * `sealTranscript`). It holds the session config a verifier needs to rebuild the session (session id, chain, contract,
 * roster, vector length, encoding, the resolved degree and threshold, the cohort that seeds the graph) and the
 * messages the server recorded in arrival order: accepted ones (round-1 shares as ciphertext digests) and signed
 * faults (whole). `replayTranscript` (replay.ts) re-runs them through a fresh `SecAggServer` and recomputes the result.
 *
 * Binary layout (docs/secagg.md "Transcript v2"), all integers big-endian except the masked vectors:
 *   "DMLT" ‖ u8 version (2) ‖ u32 len ‖ header (UTF-8 JSON, zod-checked) ‖ u32 count ‖ record*
 *   record: u8 flags (bit 0: fault) ‖ u8 round ‖ u32 sender ‖ u8 len ‖ signature ‖ body
 *   body 0: bytes cPk ‖ bytes sPk                       (bytes = u32 len ‖ data)
 *   body 1: bytes commitment ‖ u32 count ‖ (u32 to ‖ u8 form ‖ (form 0: digest[32] | form 1: bytes ciphertext))*
 *   body 2: bytes masked (u32 little-endian, as signed)
 *   body 3: u8 form ‖ (form 0: u32 count ‖ u32 id* | form 1: the previous round-3 record's set, which every honest
 *           signer shares: 1 byte instead of 4n)
 *   body 4: u32 count ‖ (u32 of ‖ bytes share)* for b, then the same for s^SK
 */
import { bytesToHex, hexToBytes } from "viem";
import type { Hex } from "viem";
import { z } from "zod";
import { ByteReader, ByteWriter } from "../crypto/byte-codec.ts";
import { SecAggError } from "./errors.ts";
import type { EncryptedShare, RevealedShare, SecAggBody, Signed } from "./messages.ts";
import type { RosterEntry, SecAggSessionConfig } from "./params.ts";
import type { RecordedMessage, SecAggServer } from "./server.ts";

export const TRANSCRIPT_V2_VERSION = 2;
const MAGIC = new TextEncoder().encode("DMLT");
/**
 * Largest transcript decoded (bytes), checked before anything is parsed. A transcript is ≈ n · 4m bytes of masked
 * inputs plus O(n · k) for the rest: n = 1,000 at m = 100k is ≈ 400 MB, under this bound.
 */
export const MAX_TRANSCRIPT_BYTES = 512 * 1024 * 1024;
const MAX_HEADER_BYTES = 32 * 1024 * 1024;

const Bytes32 = z.string().regex(/^0x[0-9a-f]{64}$/) as unknown as z.ZodType<Hex>;
const AddressSchema = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/) as unknown as z.ZodType<`0x${string}`>;
const KeyHex = z.string().regex(/^0x([0-9a-fA-F]{2}){1,128}$/) as unknown as z.ZodType<Hex>;
const Uint = (max: number) => z.number().int().min(0).max(max);

/** The session config as a transcript carries it: degree and threshold always resolved. */
export const transcriptConfigSchema = z.strictObject({
  sessionId: Bytes32,
  chainId: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  verifyingContract: AddressSchema,
  roster: z
    .array(
      z.strictObject({
        id: Uint(0xffffffff).min(1),
        address: AddressSchema,
        /** Roster keys, as the roster carries them (secp256k1 public key, or a registered session key). */
        publicKey: KeyHex.optional(),
        sessionKey: KeyHex.optional(),
      }),
    )
    .min(3)
    .max(1 << 20),
  vectorLength: Uint(1 << 24).min(1),
  encoding: z.strictObject({
    clip: z.number().positive(),
    scale: z.number().positive(),
    offset: Uint(0xffffffff),
    maxClients: Uint(0xffffffff).min(1),
  }),
  degree: Uint(0xffffffff),
  threshold: Uint(0xffffffff),
  cohort: z.strictObject({ root: Bytes32, jobSeed: Bytes32 }).optional(),
});
export type TranscriptConfig = z.infer<typeof transcriptConfigSchema>;

/** A decoded transcript v2. Records are the server's, in arrival order; `replayTranscript` checks everything. */
export interface SessionTranscript {
  version: typeof TRANSCRIPT_V2_VERSION;
  config: TranscriptConfig;
  records: RecordedMessage[];
}

const bad = (msg: string): never => {
  throw new SecAggError("TRANSCRIPT_INVALID", msg);
};

/**
 * Transcript v2 of a session run by a server built with `recordTranscript` (finished or not: a verifier decides
 * whether the recorded rounds suffice). @throws SecAggError NOT_READY when the server did not record
 */
export function transcriptV2Of(server: SecAggServer): SessionTranscript {
  const s = server.session;
  const c = s.config;
  const config: TranscriptConfig = {
    sessionId: s.sessionId,
    chainId: c.chainId,
    verifyingContract: c.verifyingContract,
    // the entries as the roster has them (the codec checks them against the schema)
    roster: c.roster.map((r) => ({ ...r })),
    vectorLength: s.m,
    encoding: { ...s.encoding },
    degree: s.degree,
    threshold: s.threshold,
    ...(c.cohort === undefined
      ? {}
      : {
          cohort: {
            root: c.cohort.root.toLowerCase() as Hex,
            jobSeed: c.cohort.jobSeed.toLowerCase() as Hex,
          },
        }),
  };
  return { version: TRANSCRIPT_V2_VERSION, config, records: [...server.recorded()] };
}

/**
 * The session config of a transcript over `roster` (the verifier's own, from the chain: the transcript's roster is
 * only checked against it), as `SecAggServer` / `resolveSession` take it.
 */
export function sessionConfigOf(
  config: TranscriptConfig,
  roster: readonly RosterEntry[],
): SecAggSessionConfig {
  return { ...config, roster: [...roster] };
}

/** Codec state across records: the last round-3 survivor set written or read. */
interface SetMemo {
  last?: readonly number[];
}

const sameSet = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

function writeBody(w: ByteWriter, b: SecAggBody, memo: SetMemo): void {
  const revealed = (list: RevealedShare[]) => {
    w.u32(list.length);
    for (const sh of list) w.u32(sh.of).bytes(sh.share);
  };
  switch (b.round) {
    case 0:
      w.bytes(b.cPk).bytes(b.sPk);
      break;
    case 1:
      w.bytes(b.selfMaskCommitment).u32(b.shares.length);
      for (const sh of b.shares) {
        w.u32(sh.to);
        if (sh.ciphertextDigest === undefined) w.u8(1).bytes(sh.ciphertext);
        else {
          if (sh.ciphertextDigest.length !== 32) bad(`digest to ${sh.to} is not 32 bytes`);
          w.u8(0).raw(sh.ciphertextDigest);
        }
      }
      break;
    case 2:
      w.bytes(new Uint8Array(b.masked.buffer, b.masked.byteOffset, b.masked.byteLength));
      break;
    case 3:
      if (memo.last !== undefined && sameSet(memo.last, b.survivors)) {
        w.u8(1);
        break;
      }
      w.u8(0).u32(b.survivors.length);
      for (const id of b.survivors) w.u32(id);
      memo.last = b.survivors;
      break;
    case 4:
      revealed(b.selfMaskShares);
      revealed(b.keyShares);
      break;
  }
}

/** Binary encoding (layout in the module comment). @throws SecAggError TRANSCRIPT_INVALID on a malformed transcript */
export function encodeTranscriptV2(t: SessionTranscript): Uint8Array {
  const parsed = transcriptConfigSchema.safeParse(t.config);
  if (!parsed.success) bad(`config: ${z.prettifyError(parsed.error)}`);
  const header = new TextEncoder().encode(JSON.stringify(parsed.data));
  const memo: SetMemo = {};
  const w = new ByteWriter()
    .raw(MAGIC)
    .u8(TRANSCRIPT_V2_VERSION)
    .bytes(header)
    .u32(t.records.length);
  for (const { fault, message } of t.records) {
    const b = message.body;
    if (b.sessionId.toLowerCase() !== t.config.sessionId)
      bad(`record of another session ${b.sessionId}`);
    const sig = hexToBytes(message.signature);
    if (sig.length > 255) bad("signature over 255 bytes");
    w.u8(fault ? 1 : 0)
      .u8(b.round)
      .u32(b.sender)
      .u8(sig.length)
      .raw(sig);
    writeBody(w, b, memo);
  }
  if (w.length > MAX_TRANSCRIPT_BYTES)
    throw new SecAggError("TRANSCRIPT_TOO_LARGE", `${w.length} bytes > ${MAX_TRANSCRIPT_BYTES}`);
  return w.finish();
}

function readBody(
  r: ByteReader,
  base: { sessionId: Hex; sender: number },
  round: number,
  memo: SetMemo,
): SecAggBody {
  const revealed = (what: string): RevealedShare[] => {
    const n = r.count(what, 8);
    const out: RevealedShare[] = [];
    for (let i = 0; i < n; i++) out.push({ of: r.u32(what), share: r.bytes(what) });
    return out;
  };
  switch (round) {
    case 0:
      return { ...base, round: 0, cPk: r.bytes("cPk"), sPk: r.bytes("sPk") };
    case 1: {
      const selfMaskCommitment = r.bytes("commitment");
      const n = r.count("shares", 5 + 4);
      const shares: EncryptedShare[] = [];
      for (let i = 0; i < n; i++) {
        const to = r.u32("share to");
        const form = r.u8("share form");
        if (form === 0)
          shares.push({
            to,
            ciphertext: new Uint8Array(0),
            ciphertextDigest: r.raw(32, "digest").slice(),
          });
        else if (form === 1) shares.push({ to, ciphertext: r.bytes("ciphertext") });
        else bad(`share form ${form}`);
      }
      return { ...base, round: 1, selfMaskCommitment, shares };
    }
    case 2: {
      const raw = r.bytes("masked");
      if (raw.length % 4 !== 0) bad("masked vector byte length not a multiple of 4");
      return {
        ...base,
        round: 2,
        masked: new Uint32Array(raw.buffer, raw.byteOffset, raw.length / 4),
      };
    }
    case 3: {
      const form = r.u8("survivors form");
      if (form === 1) {
        if (memo.last === undefined) bad("survivor set refers to no previous set");
        return { ...base, round: 3, survivors: [...memo.last!] };
      }
      if (form !== 0) bad(`survivors form ${form}`);
      const n = r.count("survivors", 4);
      const survivors: number[] = [];
      for (let i = 0; i < n; i++) survivors.push(r.u32("survivor"));
      memo.last = survivors;
      return { ...base, round: 3, survivors: [...survivors] };
    }
    case 4:
      return {
        ...base,
        round: 4,
        selfMaskShares: revealed("self-mask shares"),
        keyShares: revealed("key shares"),
      };
    default:
      return bad(`round ${round}`);
  }
}

/**
 * Decodes transcript bytes (untrusted). Refuses input over `maxBytes` (default and cap MAX_TRANSCRIPT_BYTES) before
 * reading it; never allocates
 * more than the input holds. Decoding checks the format only: `replayTranscript` checks the content.
 * @throws SecAggError TRANSCRIPT_TOO_LARGE, TRANSCRIPT_TRUNCATED, TRANSCRIPT_INVALID
 */
export function decodeTranscriptV2(
  bytes: Uint8Array,
  opts: { maxBytes?: number } = {},
): SessionTranscript {
  const max = Math.min(opts.maxBytes ?? MAX_TRANSCRIPT_BYTES, MAX_TRANSCRIPT_BYTES);
  if (bytes.length > max)
    throw new SecAggError("TRANSCRIPT_TOO_LARGE", `${bytes.length} bytes > ${max}`);
  const r = new ByteReader(
    bytes,
    (what) => new SecAggError("TRANSCRIPT_TRUNCATED", `transcript ends inside ${what}`),
  );
  const magic = r.raw(MAGIC.length, "magic");
  if (!magic.every((x, i) => x === MAGIC[i])) bad("not a DML transcript (magic)");
  const version = r.u8("version");
  if (version !== TRANSCRIPT_V2_VERSION)
    bad(`version ${version}, expected ${TRANSCRIPT_V2_VERSION}`);
  const headerLen = r.u32("header length");
  if (headerLen > MAX_HEADER_BYTES) bad(`header of ${headerLen} bytes > ${MAX_HEADER_BYTES}`);
  const headerBytes = r.raw(headerLen, "header");
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(headerBytes));
  } catch (e) {
    bad(`header is not UTF-8 JSON: ${(e as Error).message}`);
  }
  const parsed = transcriptConfigSchema.safeParse(json);
  if (!parsed.success) bad(`header: ${z.prettifyError(parsed.error)}`);
  const config = parsed.data!;
  const base = { sessionId: config.sessionId };
  const n = r.count("records", 7);
  const records: RecordedMessage[] = [];
  const memo: SetMemo = {};
  for (let i = 0; i < n; i++) {
    const flags = r.u8("record flags");
    if (flags > 1) bad(`record ${i}: flags ${flags}`);
    const round = r.u8("record round");
    const sender = r.u32("record sender");
    const sigLen = r.u8("signature length");
    const signature = bytesToHex(r.raw(sigLen, "signature"));
    const body = readBody(r, { ...base, sender }, round, memo);
    const message: Signed = { body, signature };
    records.push({ fault: flags === 1, message });
  }
  if (r.remaining !== 0) bad(`${r.remaining} bytes after the last record`);
  return { version: TRANSCRIPT_V2_VERSION, config, records };
}
