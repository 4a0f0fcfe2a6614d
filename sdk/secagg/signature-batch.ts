/**
 * Session-key signature checks in batches, for the server's worker pool (`UnmaskPool.verify`). Ed25519 verification
 * (≈ 0.13 ms here, 5 per client per session) and, for ShareKeys messages, the SHA-256 of every share ciphertext the
 * signature covers (k per message: ≈ 222,000 at n = 1,000) are most of a large server's CPU; the workers do both,
 * so the main thread only packs bytes.
 *
 * A batch is checks back to back, each `u32 length ‖ key (32) ‖ signature (64) ‖ kind (1) ‖ rest`:
 * - kind 0, `digest (32)`: the EIP-712 digest the key signed, computed by the caller;
 * - kind 1, a ShareKeys body whose shares all carry ciphertexts: `sessionId (32) ‖ u32 sender ‖ u32 c ‖ commitment
 *   (c) ‖ u32 count ‖ count × (u32 to ‖ u32 length) ‖ the ciphertexts`. The worker hashes each ciphertext into the
 *   body's canonical payload (`sharesDigest`, the layout of `canonicalPayload`) and derives the EIP-712 digest with
 *   `secAggDigestBytes`, so both paths accept exactly the same messages (tested);
 * - kind 2, `digest (32) ‖ cPk (32) ‖ sPk (32)`: an advertisement; when its signature is valid the worker also
 *   tests its two X25519 keys for low order (`isWeakPublicKey`, two agreements), the server's other check of round 0.
 * The answer is one byte per check (bit 0: the signature is valid; bit 1, kind 2 only: a key is of low order), the
 * ciphertext digests of the kind-1 checks in order (the server records ShareKeys messages with their digests,
 * transcript v2) and how many digests each check contributed (none for a body that cannot be read).
 *
 * {@link BatchVerifier} collects the checks a server asks for while the event loop is busy and sends them to the
 * pool in chunks, so the workers start while the main thread still reads later messages. A chunk the pool cannot
 * run (closed, crashed worker: UNMASK_WORKER_FAILED) is checked inline: a pool failure never rejects a valid
 * message or accepts an invalid one. A batch is copied to the worker, not transferred, so it is still there for that.
 */
import * as nodeCrypto from "node:crypto";
import type { KeyObject } from "node:crypto";
import { bytesToHex } from "viem";
import { secAggDigestBytes } from "../crypto/signing.ts";
import type { SecAggDomain } from "../crypto/signing.ts";
import type { ShareKeysBody } from "./messages.ts";
import { sha256Segments } from "../crypto/sha256.ts";
import { sha256Bytes } from "./share-digest.ts";
import { isWeakPublicKey } from "./x25519.ts";

const HEADER = 4 + 32 + 64 + 1;

/** Imported verifying keys by raw bytes (hex), per thread; cleared when it would exceed `MAX_CACHED_KEYS`. */
const keys = new Map<string, KeyObject | null>();
const MAX_CACHED_KEYS = 8192;

function verifyingKey(raw: Uint8Array): KeyObject | null {
  const id = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString("hex");
  let key = keys.get(id);
  if (key === undefined) {
    try {
      key = nodeCrypto.createPublicKey({
        key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(raw).toString("base64url") },
        format: "jwk",
      });
    } catch {
      key = null; // not a point: nothing verifies against it
    }
    if (keys.size >= MAX_CACHED_KEYS) keys.clear();
    keys.set(id, key);
  }
  return key;
}

function verifyEd25519(key: Uint8Array, digest: Uint8Array, signature: Uint8Array): boolean {
  const k = verifyingKey(key);
  if (k === null) return false;
  try {
    return nodeCrypto.verify(null, digest, k, signature);
  } catch {
    return false;
  }
}

/** A ShareKeys body packed for a kind-1 check (the caller checked that every share carries a ciphertext). */
function packShares(body: ShareKeysBody): Uint8Array[] {
  const head = new Uint8Array(
    32 + 4 + 4 + body.selfMaskCommitment.length + 4 + 8 * body.shares.length,
  );
  const view = new DataView(head.buffer);
  head.set(Buffer.from(body.sessionId.slice(2), "hex"), 0);
  view.setUint32(32, body.sender >>> 0);
  view.setUint32(36, body.selfMaskCommitment.length);
  head.set(body.selfMaskCommitment, 40);
  let at = 40 + body.selfMaskCommitment.length;
  view.setUint32(at, body.shares.length);
  at += 4;
  for (const sh of body.shares) {
    view.setUint32(at, sh.to >>> 0);
    view.setUint32(at + 4, sh.ciphertext.length);
    at += 8;
  }
  return [head, ...body.shares.map((sh) => sh.ciphertext)];
}

/**
 * The EIP-712 digest a kind-1 check's signature must cover, and the ciphertext digests: writes `canonicalPayload`'s
 * round-1 layout (`len ‖ commitment ‖ count ‖ (to ‖ sha256(ciphertext))*`) directly, hashing each ciphertext into
 * place (tested equal to `canonicalPayload`).
 */
export function sharesDigest(
  rest: Uint8Array,
  domain: SecAggDomain,
): { digest: Uint8Array; digests: Uint8Array[] } {
  const view = new DataView(rest.buffer, rest.byteOffset, rest.byteLength);
  const sessionId = bytesToHex(rest.subarray(0, 32));
  const sender = view.getUint32(32);
  const c = view.getUint32(36);
  if (40 + c + 4 > rest.length) throw new RangeError("malformed ShareKeys check");
  const count = view.getUint32(40 + c);
  let at = 44 + c;
  let data = at + 8 * count;
  if (data > rest.length) throw new RangeError("malformed ShareKeys check");
  const payload = new Uint8Array(4 + c + 4 + 36 * count);
  const out = new DataView(payload.buffer);
  out.setUint32(0, c);
  payload.set(rest.subarray(40, 40 + c), 4);
  out.setUint32(4 + c, count);
  const lengths = new Uint32Array(count);
  for (let i = 0; i < count; i++, at += 8) {
    lengths[i] = view.getUint32(at + 4);
    out.setUint32(8 + c + 36 * i, view.getUint32(at));
    data += lengths[i]!;
  }
  if (data > rest.length) throw new RangeError("malformed ShareKeys check");
  const flat = sha256Segments(rest.subarray(44 + c + 8 * count), lengths);
  const digests: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const d = flat.subarray(32 * i, 32 * i + 32);
    payload.set(d, 12 + c + 36 * i);
    digests.push(d);
  }
  if (data !== rest.length) throw new RangeError("share lengths do not add up");
  const payloadHash = bytesToHex(sha256Bytes(payload));
  return {
    digest: secAggDigestBytes(domain, { sessionId, round: 1, sender, payloadHash }),
    digests,
  };
}

export interface CheckAnswers {
  /** One byte per check: bit 0 when the signature is valid, bit 1 when an advertised key is of low order. */
  ok: Uint8Array<ArrayBuffer>;
  /** The 32-byte ciphertext digests of every kind-1 check, in order. */
  digests: Uint8Array<ArrayBuffer>;
  /** How many digests each check contributed (none for a check whose body could not be read). */
  counts: Uint32Array<ArrayBuffer>;
}

/** Runs a packed batch (module comment). Never throws on a bad signature or key; throws RangeError on a bad layout. */
export function runChecks(batch: Uint8Array, domain: SecAggDomain): CheckAnswers {
  const view = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
  const ok: number[] = [];
  const digests: Uint8Array[] = [];
  const counts: number[] = [];
  for (let at = 0; at < batch.length;) {
    const length = view.getUint32(at);
    if (length < HEADER || at + length > batch.length) throw new RangeError("malformed batch");
    const key = batch.subarray(at + 4, at + 36);
    const signature = batch.subarray(at + 36, at + 100);
    const rest = batch.subarray(at + HEADER, at + length);
    const kind = batch[at + 100];
    const before = digests.length;
    if (kind === 0) ok.push(verifyEd25519(key, rest, signature) ? 1 : 0);
    else if (kind === 2) {
      const valid = rest.length === 96 && verifyEd25519(key, rest.subarray(0, 32), signature);
      const weak =
        valid && (isWeakPublicKey(rest.subarray(32, 64)) || isWeakPublicKey(rest.subarray(64, 96)));
      ok.push((valid ? 1 : 0) | (weak ? 2 : 0));
    } else {
      let valid = false;
      try {
        const { digest, digests: own } = sharesDigest(rest, domain);
        digests.push(...own);
        valid = verifyEd25519(key, digest, signature);
      } catch {
        valid = false; // a field out of range: there is no digest, the message is not validly signed
      }
      ok.push(valid ? 1 : 0);
    }
    counts.push(digests.length - before);
    at += length;
  }
  const flat = new Uint8Array(32 * digests.length);
  digests.forEach((d, i) => flat.set(d, 32 * i));
  return { ok: Uint8Array.from(ok), digests: flat, counts: Uint32Array.from(counts) };
}

/** What a {@link BatchVerifier} needs of the pool. */
export interface VerifyRunner {
  verify(batch: Uint8Array, domain: SecAggDomain): Promise<CheckAnswers>;
}

interface Pending {
  parts: Uint8Array[];
  length: number;
  resolve: (answer: { flags: number; digests: Uint8Array[] }) => void;
}

export interface BatchVerifierStats {
  checks: number;
  /** Chunks sent to the pool. */
  chunks: number;
  /** Chunks checked inline because the pool failed them. */
  fallbacks: number;
}

/**
 * Queues signature checks for one session (one EIP-712 domain) and runs them in the pool's workers. The checks
 * resolve (never reject). Checks queued in one turn of the event loop go out together; `chunkSize` checks go out at
 * once.
 */
export class BatchVerifier {
  private readonly runner: VerifyRunner;
  private readonly domain: SecAggDomain;
  private readonly chunkSize: number;
  private pending: Pending[] = [];
  private scheduled = false;
  readonly stats: BatchVerifierStats = { checks: 0, chunks: 0, fallbacks: 0 };

  constructor(runner: VerifyRunner, domain: SecAggDomain, opts: { chunkSize?: number } = {}) {
    const size = opts.chunkSize ?? 32;
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`chunk size ${size}`);
    this.runner = runner;
    this.domain = domain;
    this.chunkSize = size;
  }

  /** Whether `signature` (64 bytes) is raw Ed25519 key `key`'s (32 bytes) signature of `digest` (32 bytes). */
  async verifyDigest(key: Uint8Array, digest: Uint8Array, signature: Uint8Array): Promise<boolean> {
    if (key.length !== 32 || digest.length !== 32 || signature.length !== 64) return false;
    return ((await this.enqueue(key, signature, 0, [digest])).flags & 1) === 1;
  }

  /**
   * An advertisement's check: whether the signature of `digest` is valid and, when it is, whether `cPk` or `sPk`
   * (32 bytes each) is a low-order X25519 key.
   */
  async verifyAdvert(
    key: Uint8Array,
    digest: Uint8Array,
    signature: Uint8Array,
    cPk: Uint8Array,
    sPk: Uint8Array,
  ): Promise<{ ok: boolean; weakKey: boolean }> {
    if (
      key.length !== 32 ||
      digest.length !== 32 ||
      signature.length !== 64 ||
      cPk.length !== 32 ||
      sPk.length !== 32
    )
      return { ok: false, weakKey: false };
    const { flags } = await this.enqueue(key, signature, 2, [digest, cPk, sPk]);
    return { ok: (flags & 1) === 1, weakKey: (flags & 3) === 3 };
  }

  /**
   * Whether `signature` is `key`'s signature of the ShareKeys `body` (whose shares all carry ciphertexts), with the
   * ciphertexts' digests (in share order; empty when the check could not run).
   */
  verifyShares(
    key: Uint8Array,
    body: ShareKeysBody,
    signature: Uint8Array,
  ): Promise<{ ok: boolean; digests: Uint8Array[] }> {
    if (key.length !== 32 || signature.length !== 64 || !/^0x[0-9a-fA-F]{64}$/.test(body.sessionId))
      return Promise.resolve({ ok: false, digests: [] });
    return this.enqueue(key, signature, 1, packShares(body)).then((a) => ({
      ok: (a.flags & 1) === 1,
      digests: a.digests,
    }));
  }

  private enqueue(
    key: Uint8Array,
    signature: Uint8Array,
    kind: 0 | 1 | 2,
    rest: Uint8Array[],
  ): Promise<{ flags: number; digests: Uint8Array[] }> {
    const head = new Uint8Array(HEADER);
    const length = HEADER + rest.reduce((a, p) => a + p.length, 0);
    new DataView(head.buffer).setUint32(0, length);
    head.set(key, 4);
    head.set(signature, 36);
    head[100] = kind;
    this.stats.checks++;
    return new Promise((resolve) => {
      this.pending.push({ parts: [head, ...rest], length, resolve });
      if (this.pending.length >= this.chunkSize) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.flush();
        });
      }
    });
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const chunk = this.pending;
    this.pending = [];
    const batch = new Uint8Array(chunk.reduce((a, p) => a + p.length, 0));
    let at = 0;
    for (const p of chunk)
      for (const part of p.parts) {
        batch.set(part, at);
        at += part.length;
      }
    this.stats.chunks++;
    // each check takes the digests it contributed (the caller refuses a ShareKeys check short of digests)
    const settle = (answers: CheckAnswers) => {
      let d = 0;
      chunk.forEach((p, i) => {
        const digests: Uint8Array[] = [];
        for (let j = 0; j < answers.counts[i]!; j++, d++)
          digests.push(answers.digests.subarray(32 * d, 32 * d + 32));
        p.resolve({ flags: answers.ok[i] ?? 0, digests });
      });
    };
    const wellFormed = (a: CheckAnswers) =>
      a.ok.length === chunk.length &&
      a.counts.length === chunk.length &&
      32 * a.counts.reduce((x, c) => x + c, 0) === a.digests.length;
    const inline = () => {
      this.stats.fallbacks++;
      settle(runChecks(batch, this.domain));
    };
    this.runner.verify(batch, this.domain).then(
      (answers) => (wellFormed(answers) ? settle(answers) : inline()),
      // the pool answers UNMASK_WORKER_FAILED (closed, crashed worker); whatever it was, the checks still get done
      inline,
    );
  }
}
