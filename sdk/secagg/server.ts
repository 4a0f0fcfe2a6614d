/**
 * SecAgg server state machine (the aggregator's side of one session). Transport-agnostic: `submit` takes each client's
 * signed message, `advance` closes the current round (all expected clients answered, or the round deadline passed:
 * silent clients count as dropped), and the `keysFor` / `sharesFor` / `consistencyRequest` / `unmaskRequest` accessors produce what each
 * client must receive next. The server only ever stores masked vectors (see `storedVectors`), never a plaintext input.
 * With `recordTranscript` it also keeps every accepted message and signed fault for transcript v2.
 */
import { SecAggError } from "./errors.ts";
import type { SecAggErrorCode } from "./errors.ts";
import { decodeSum } from "./encoding.ts";
import { checkShape, envelopeOf, shareDigest } from "./messages.ts";
import { certificateSigners, sameIds, verifyBySender } from "./consistency.ts";
import type {
  AdvertiseBody,
  ConsistencyBody,
  ConsistencyRequest,
  MaskedInputBody,
  ShareKeysBody,
  Signed,
  UnmaskBody,
  UnmaskRequest,
} from "./messages.ts";
import { MaskAccumulator } from "./prg.ts";
import { SEED_COST_WORDS, droppedMasksOf, removeMasks } from "./unmask.ts";
import { sharedUnmaskPool } from "./unmask-pool.ts";
import { BatchVerifier } from "./signature-batch.ts";
import type { BatchVerifierStats } from "./signature-batch.ts";
import { secAggDigestBytes } from "../crypto/signing.ts";
import { hexToBytes, isHex } from "viem";
import type { UnmaskOptions } from "./unmask.ts";
import { combineShares } from "./shamir.ts";
import { X25519Secret, isWeakPublicKey } from "./x25519.ts";
import { resolveSession } from "./params.ts";
import type { ResolvedSession, SecAggSessionConfig } from "./params.ts";
import { equalBytes, selfMaskCommitment, selfMaskSeed } from "./client.ts";

/** A round-1 message with every ciphertext replaced by its SHA-256 (the signature covers the digests). */
function digestShares(msg: Signed): Signed {
  if (msg.body.round !== 1) return msg;
  const shares = msg.body.shares.map((sh) => ({
    to: sh.to,
    ciphertext: new Uint8Array(0),
    ciphertextDigest: shareDigest(sh),
  }));
  return { body: { ...msg.body, shares }, signature: msg.signature };
}

/** Rejections that a validly signed message can only earn by breaking the protocol: they drop the sender. */
const FAULT_CODES: ReadonlySet<SecAggErrorCode> = new Set<SecAggErrorCode>([
  "INVALID_MESSAGE",
  "WRONG_LENGTH",
  "BAD_SHARE",
  "NOT_NEIGHBOUR",
  "BOTH_SHARES_REQUESTED",
]);

/** A device's provable fault: its signed message (verifiable against the roster) and why it breaks the protocol. */
export interface SecAggFault {
  client: number;
  round: number;
  code: SecAggErrorCode;
  reason: string;
  message: Signed;
}

export type ServerStage = 0 | 1 | 2 | 3 | 4 | "done" | "failed";

/**
 * One message the server recorded for the transcript (`recordTranscript`): accepted, or a signed fault that dropped
 * its sender. Accepted round-1 messages keep their shares as ciphertext digests (`DigestedShare`); faults are kept
 * whole (the fault may be in a ciphertext's length).
 */
export interface RecordedMessage {
  fault: boolean;
  message: Signed;
}

export interface SecAggServerOptions {
  /** Skip signature verification (benchmarks of the arithmetic only). Never set in production. */
  skipSignatureChecks?: boolean;
  /**
   * Record every accepted message and every signed fault, in arrival order, for transcript v2 (`transcript-v2.ts`).
   * Costs the messages' memory: n · 4m bytes of masked inputs plus O(n · k) digests. Off by default; an aggregator
   * that must publish a transcript turns it on.
   */
  recordTranscript?: boolean;
  /**
   * Replay mode (`replay.ts`): round-1 shares are accepted in digest form (no ciphertexts are relayed). Never set on a
   * live server.
   */
  transcriptReplay?: boolean;
  /** How the unmasking spreads over worker threads (`unmask.ts`); default: the machine's cores for large work. */
  unmask?: UnmaskOptions;
  /**
   * Verify the clients' signatures in the unmasking pool's worker threads (`signature-batch.ts`), so concurrent
   * messages are checked on every core. Default: for the sessions that warm the pool (n = 1,000 at any m; n = 200
   * in full mode), except in replay mode (whose messages come one at a time, in order).
   */
  verifyInPool?: boolean;
}

/**
 * Start the unmasking workers with the session when every client dropping after ShareKeys would be ≥ 2^30
 * keystream-word equivalents of pairwise masks (n = 1,000 at any m; n = 200 full mode; not the small test sessions):
 * the threads start while the rounds run, so the unmasking never waits for them.
 */
function shouldWarmPool(s: ResolvedSession): boolean {
  return s.ids.length * s.degree * (s.m + SEED_COST_WORDS) >= 2 ** 30;
}

/**
 * What changes a server's state, in order (journal.ts writes it to disk): every message it accepted or kept as a
 * signed fault, whole (round-1 ciphertexts included), and every round close. Replaying the entries into a fresh
 * server for the same session rebuilds the same state, so an aggregator restarted mid-session continues the one
 * session it hosted instead of opening a second one.
 */
export type JournalEntry =
  { kind: "message"; message: Signed } | { kind: "advance"; round: number };

export interface SecAggResult {
  sessionId: `0x${string}`;
  /** Σ_{u ∈ survivors} encode(x_u) in Z_2^32. */
  sum: Uint32Array;
  /** Fixed-point decoding of `sum` for `survivors.length` clients. */
  decoded: Float64Array;
  /** U3: clients whose inputs are in the sum. */
  survivors: number[];
  /** Roster clients whose inputs are not in the sum. */
  dropped: number[];
  /** Clients dropped for a signed malformed message, with the message (in the order received). */
  faults: SecAggFault[];
  /** Survivors that signed U3 in the ConsistencyCheck round. */
  signers: number[];
  /** Clients that answered the unmasking round (U5). */
  unmaskers: number[];
}

export interface ServerTimings {
  verifyMs: number;
  reconstructMs: number;
  unmaskMs: number;
}

export class SecAggServer {
  readonly session: ResolvedSession;
  private stage: ServerStage = 0;
  private failure: SecAggError | undefined;
  private readonly seen = new Set<string>();
  private readonly adverts = new Map<number, Signed<AdvertiseBody>>();
  private readonly shareMsgs = new Map<number, ShareKeysBody>();
  /** Running Σ of the masked inputs received so far (O(m) memory; individual vectors are not kept). */
  private maskedSum: MaskAccumulator | undefined;
  private readonly maskedFrom = new Set<number>();
  private readonly faulty = new Set<number>();
  private readonly faultList: SecAggFault[] = [];
  private readonly checks = new Map<number, Signed<ConsistencyBody>>();
  private readonly unmasks = new Map<number, UnmaskBody>();
  private u1 = new Set<number>();
  private u2 = new Set<number>();
  private u3 = new Set<number>();
  private u3List: number[] = [];
  private u4 = new Set<number>();
  private droppedAfterShare: number[] = [];
  private inbox = new Map<number, { from: number; ciphertext: Uint8Array }[]>();
  private result: SecAggResult | undefined;
  private readonly unmaskOptions: UnmaskOptions;
  readonly timings: ServerTimings = { verifyMs: 0, reconstructMs: 0, unmaskMs: 0 };
  /** Skip signature verification (benchmarks of the arithmetic only). Never set in production. */
  private readonly skipSignatures: boolean;
  private readonly replay: boolean;
  /** Recorded messages (when `recordTranscript`), in arrival order. */
  private readonly record: RecordedMessage[] | undefined;
  /** Receives every state change, synchronously and in order (`attachJournal`). */
  private journal: ((entry: JournalEntry) => void) | undefined;
  /** The unmasking round is being closed: later round-4 messages are refused (they would not count). */
  private closing = false;
  /** Signature checks in the worker pool (`verifyInPool`), else undefined (inline). */
  private readonly batch: BatchVerifier | undefined;
  /** Raw registered session keys of the clients whose key is a valid point (for `batch`). */
  private readonly rawKeyOf = new Map<number, Uint8Array>();
  private verifying = 0;
  private verifyStart = 0;

  constructor(config: SecAggSessionConfig | ResolvedSession, opts: SecAggServerOptions = {}) {
    this.session = "sessionIdBytes" in config ? config : resolveSession(config);
    this.skipSignatures = opts.skipSignatureChecks ?? false;
    this.replay = opts.transcriptReplay ?? false;
    this.record = opts.recordTranscript === true ? [] : undefined;
    this.unmaskOptions = opts.unmask ?? {};
    const large = this.unmaskOptions.workers !== 1 && shouldWarmPool(this.session);
    if (large) void (this.unmaskOptions.pool ?? sharedUnmaskPool()).warm();
    if (!this.skipSignatures && (opts.verifyInPool ?? (large && !this.replay))) {
      this.batch = new BatchVerifier(
        this.unmaskOptions.pool ?? sharedUnmaskPool(),
        this.session.domain,
      );
      for (const r of this.session.config.roster)
        if (this.session.sessionKeyOf.has(r.id)) this.rawKeyOf.set(r.id, hexToBytes(r.sessionKey));
    }
  }

  /**
   * The recorded messages (accepted and faults, arrival order) when the server was built with `recordTranscript`.
   * @throws SecAggError NOT_READY when recording is off
   */
  recorded(): readonly RecordedMessage[] {
    if (this.record === undefined)
      throw new SecAggError("NOT_READY", "server was not built with recordTranscript");
    return this.record;
  }

  /**
   * Sends every later state change (accepted message, signed fault, round close) to `sink`, synchronously and in the
   * order it happens (journal.ts). Attach after a replay, so the replayed entries are not written twice.
   */
  attachJournal(sink: (entry: JournalEntry) => void): void {
    this.journal = sink;
  }

  get round(): ServerStage {
    return this.stage;
  }

  get error(): SecAggError | undefined {
    return this.failure;
  }

  /** Clients dropped so far for a signed malformed message, with the message. */
  get faults(): readonly SecAggFault[] {
    return this.faultList;
  }

  /** Clients whose message for the current round is still missing. */
  pending(): number[] {
    const from = (set: Iterable<number>, have: Map<number, unknown>) =>
      [...set].filter((id) => !have.has(id) && !this.faulty.has(id));
    switch (this.stage) {
      case 0:
        return from(this.session.ids, this.adverts);
      case 1:
        return from(this.u1, this.shareMsgs);
      case 2:
        return [...this.u2].filter((id) => !this.maskedFrom.has(id) && !this.faulty.has(id));
      case 3:
        return from(this.u3, this.checks);
      case 4:
        return from(this.u4, this.unmasks);
      default:
        return [];
    }
  }

  /**
   * Validates and stores a client message. Throws SecAggError on any rejection. A rejection that a validly signed
   * message earns by breaking the protocol (FAULT_CODES) also drops its sender for the rest of the session and keeps
   * the message in `faults`; any other rejection (wrong session, unknown sender, bad signature, replay, late or
   * duplicate message) changes nothing, since it proves nothing against the claimed sender.
   */
  async submit(msg: Signed): Promise<void> {
    const s = this.session;
    const body = msg.body;
    const reject = (code: SecAggErrorCode, m: string): never => {
      throw new SecAggError(code, m);
    };
    if (body.sessionId.toLowerCase() !== s.sessionId)
      reject("WRONG_SESSION", `message for ${body.sessionId}`);
    const address = s.addressOf.get(body.sender);
    if (address === undefined)
      reject("UNKNOWN_CLIENT", `client ${body.sender} is not in the roster`);
    const sigKey = msg.signature.toLowerCase();
    if (this.seen.has(sigKey)) reject("REPLAY", `message already received from ${body.sender}`);
    if (this.stage === "failed")
      reject("SESSION_FAILED", this.failure?.message ?? "session failed");
    if (body.round !== this.stage)
      reject("OUT_OF_ROUND", `round ${body.round} message while in round ${this.stage}`);
    // round 1: each ciphertext is hashed once, for the signature and the transcript (the payload is the same)
    const verdict = this.skipSignatures ? { ok: true } : await this.signatureValid(msg);
    if (!verdict.ok) reject("BAD_SIGNATURE", `signature of client ${body.sender} does not verify`);
    const digested = verdict.digested ?? digestShares(msg);
    // state may have moved while verifying
    if (this.seen.has(sigKey)) reject("REPLAY", `message already received from ${body.sender}`);
    if (body.round !== this.stage || this.closing)
      reject("OUT_OF_ROUND", `round ${body.round} message while in round ${this.stage}`);
    const u = body.sender;
    if (this.faulty.has(u)) reject("NOT_PARTICIPANT", `client ${u} was dropped for a fault`);
    try {
      checkShape(body);
      switch (body.round) {
        case 0:
          if (this.adverts.has(u)) reject("DUPLICATE", `client ${u} already advertised`);
          if (equalBytes(body.cPk, body.sPk)) reject("INVALID_MESSAGE", "cPk and sPk must differ");
          // the worker that checked the signature also tested the keys (verifyInPool)
          if (verdict.weakKey ?? (isWeakPublicKey(body.cPk) || isWeakPublicKey(body.sPk)))
            reject("INVALID_MESSAGE", "low-order public key");
          this.adverts.set(u, msg as Signed<AdvertiseBody>);
          break;
        case 1: {
          if (!this.u1.has(u)) reject("NOT_PARTICIPANT", `client ${u} did not advertise keys`);
          if (this.shareMsgs.has(u)) reject("DUPLICATE", `client ${u} already shared keys`);
          const expected = s.neighbours.get(u)!.filter((v) => this.u1.has(v));
          const got = new Set<number>();
          for (const sh of body.shares) {
            if (!this.replay && sh.ciphertextDigest !== undefined)
              reject("INVALID_MESSAGE", `share for ${sh.to} carries a digest, not a ciphertext`);
            if (!this.u1.has(sh.to) || !s.neighbours.get(u)!.includes(sh.to)) {
              reject("NOT_NEIGHBOUR", `share for ${sh.to}, who is not a live neighbour of ${u}`);
            }
            if (got.has(sh.to)) reject("BAD_SHARE", `two shares for ${sh.to}`);
            got.add(sh.to);
          }
          if (got.size !== expected.length)
            reject("BAD_SHARE", `expected ${expected.length} shares, got ${got.size}`);
          this.shareMsgs.set(u, body);
          break;
        }
        case 2:
          if (!this.u2.has(u)) reject("NOT_PARTICIPANT", `client ${u} did not share keys`);
          if (this.maskedFrom.has(u))
            reject("DUPLICATE", `client ${u} already sent its masked input`);
          if (body.masked.length !== s.m)
            reject("WRONG_LENGTH", `vector of ${body.masked.length}, expected ${s.m}`);
          {
            const y = (body as MaskedInputBody).masked;
            (this.maskedSum ??= new MaskAccumulator(s.m)).addVector(y);
            this.maskedFrom.add(u);
          }
          break;
        case 3:
          if (!this.u3.has(u)) reject("NOT_PARTICIPANT", `client ${u} is not a survivor`);
          if (this.checks.has(u)) reject("DUPLICATE", `client ${u} already signed the survivors`);
          if (!sameIds(body.survivors, this.u3List))
            reject("INVALID_MESSAGE", `client ${u} signed another survivor set`);
          this.checks.set(u, msg as Signed<ConsistencyBody>);
          break;
        case 4: {
          if (!this.u4.has(u)) reject("NOT_PARTICIPANT", `client ${u} did not sign the survivors`);
          if (this.unmasks.has(u)) reject("DUPLICATE", `client ${u} already unmasked`);
          const group = new Set(s.neighbours.get(u)!);
          group.add(u);
          const owners = new Set<number>();
          for (const sh of body.selfMaskShares) {
            if (!this.u3.has(sh.of))
              reject("BAD_SHARE", `self-mask share of ${sh.of}, who is not a survivor`);
            if (!group.has(sh.of)) reject("NOT_NEIGHBOUR", `${u} holds no share of ${sh.of}`);
            if (owners.has(sh.of)) reject("BAD_SHARE", `two shares of ${sh.of}`);
            owners.add(sh.of);
          }
          for (const sh of body.keyShares) {
            if (this.u3.has(sh.of))
              reject("BOTH_SHARES_REQUESTED", `key share of survivor ${sh.of}`);
            if (!this.u2.has(sh.of))
              reject("BAD_SHARE", `key share of ${sh.of}, who never shared keys`);
            if (!group.has(sh.of)) reject("NOT_NEIGHBOUR", `${u} holds no share of ${sh.of}`);
            if (owners.has(sh.of)) reject("BOTH_SHARES_REQUESTED", `two shares of ${sh.of}`);
            owners.add(sh.of);
          }
          this.unmasks.set(u, body);
          break;
        }
      }
    } catch (e) {
      // a validly signed message that breaks the protocol: its sender is dropped, the message kept as the proof
      if (e instanceof SecAggError && FAULT_CODES.has(e.code)) {
        this.faulty.add(u);
        this.faultList.push({
          client: u,
          round: body.round,
          code: e.code,
          reason: e.message,
          message: msg,
        });
        this.seen.add(sigKey);
        this.record?.push({ fault: true, message: msg });
        this.journal?.({ kind: "message", message: msg });
      }
      throw e;
    }
    this.seen.add(sigKey);
    this.record?.push({ fault: false, message: digested });
    this.journal?.({ kind: "message", message: msg });
  }

  /**
   * Whether the message is signed by its sender's registered session key: inline, or in the worker pool's threads
   * (`BatchVerifier`) for large sessions. `timings.verifyMs` counts the wall time during which at least one check
   * was under way (concurrent checks are not counted twice). Never throws.
   */
  private async signatureValid(
    msg: Signed,
  ): Promise<{ ok: boolean; digested?: Signed; weakKey?: boolean }> {
    if (this.verifying++ === 0) this.verifyStart = performance.now();
    try {
      const body = msg.body;
      const key = this.rawKeyOf.get(body.sender);
      const signature = msg.signature;
      if (
        this.batch === undefined ||
        key === undefined ||
        !isHex(signature) ||
        signature.length !== 130
      ) {
        const digested = digestShares(msg);
        return { ok: verifyBySender(this.session, digested), digested };
      }
      if (body.round === 1 && body.shares.every((sh) => sh.ciphertextDigest === undefined)) {
        const v = await this.batch.verifyShares(key, body, hexToBytes(signature));
        if (v.digests.length !== body.shares.length) return { ok: false };
        const shares = body.shares.map((sh, i) => ({
          to: sh.to,
          ciphertext: new Uint8Array(0),
          ciphertextDigest: v.digests[i]!,
        }));
        return { ok: v.ok, digested: { body: { ...body, shares }, signature } };
      }
      const digested = digestShares(msg);
      const digest = secAggDigestBytes(this.session.domain, envelopeOf(digested.body));
      if (body.round === 0 && body.cPk.length === 32 && body.sPk.length === 32) {
        const v = await this.batch.verifyAdvert(
          key,
          digest,
          hexToBytes(signature),
          body.cPk,
          body.sPk,
        );
        return { ok: v.ok, digested, weakKey: v.weakKey };
      }
      return { ok: await this.batch.verifyDigest(key, digest, hexToBytes(signature)), digested };
    } catch {
      return { ok: false }; // a field out of range: the digest does not exist, the message is not validly signed
    } finally {
      if (--this.verifying === 0) this.timings.verifyMs += performance.now() - this.verifyStart;
    }
  }

  /** Signature checks in the worker pool (large sessions), or undefined for inline checks. */
  get verifierStats(): BatchVerifierStats | undefined {
    return this.batch?.stats;
  }

  private fail(err: SecAggError): never {
    this.stage = "failed";
    this.failure = err;
    // drop the masked sum: nothing more will be computed from it
    this.maskedSum = undefined;
    throw err;
  }

  private requireSurvivors(set: Set<number>, what: string): void {
    if (set.size < this.session.threshold) {
      this.fail(
        new SecAggError(
          "TOO_FEW_SURVIVORS",
          `${set.size} ${what} < threshold ${this.session.threshold}`,
        ),
      );
    }
  }

  /** Closes the current round; clients that did not answer are dropped. Returns the new stage. */
  async advance(): Promise<ServerStage> {
    if (typeof this.stage === "number") this.journal?.({ kind: "advance", round: this.stage });
    switch (this.stage) {
      case 0:
        this.u1 = new Set(this.adverts.keys());
        this.requireSurvivors(this.u1, "clients advertised keys");
        this.stage = 1;
        break;
      case 1: {
        this.u2 = new Set(this.shareMsgs.keys());
        this.requireSurvivors(this.u2, "clients shared keys");
        this.inbox = new Map([...this.u2].map((v) => [v, []]));
        for (const [u, body] of [...this.shareMsgs.entries()].sort((a, b) => a[0] - b[0])) {
          for (const sh of body.shares) {
            // digest-form shares (replay only) have nothing to relay
            if (sh.ciphertextDigest === undefined)
              this.inbox.get(sh.to)?.push({ from: u, ciphertext: sh.ciphertext });
          }
        }
        this.stage = 2;
        break;
      }
      case 2:
        this.u3 = new Set(this.maskedFrom);
        this.u3List = [...this.u3].sort((a, b) => a - b);
        this.requireSurvivors(this.u3, "clients sent masked inputs");
        this.droppedAfterShare = [...this.u2].filter((v) => !this.u3.has(v)).sort((a, b) => a - b);
        this.stage = 3;
        break;
      case 3:
        this.u4 = new Set(this.checks.keys());
        this.requireSurvivors(this.u4, "survivors signed the survivor set");
        this.stage = 4;
        break;
      case 4:
        this.closing = true;
        this.result = await this.finalize();
        this.stage = "done";
        break;
      case "done":
        break;
      case "failed":
        throw this.failure!;
    }
    return this.stage;
  }

  /** Neighbours' signed advertisements for client `v` (round ≥ 1). */
  keysFor(v: number): Signed<AdvertiseBody>[] {
    this.requireStage(1, v, this.u1, "advertise keys");
    return this.session.neighbours
      .get(v)!
      .filter((w) => this.u1.has(w))
      .map((w) => this.adverts.get(w)!);
  }

  /** Ciphertexts addressed to client `v` (round ≥ 2). */
  sharesFor(v: number): { from: number; ciphertext: Uint8Array }[] {
    this.requireStage(2, v, this.u2, "share keys");
    return this.inbox.get(v)!;
  }

  /** The survivor set U3 every survivor signs in the ConsistencyCheck round (round ≥ 3). */
  consistencyRequest(): ConsistencyRequest {
    if (this.stage === "failed") throw this.failure!;
    if (typeof this.stage === "number" && this.stage < 3)
      throw new SecAggError("NOT_READY", "masked-input round open");
    return { sessionId: this.session.sessionId, survivors: [...this.u3List] };
  }

  /**
   * Survivors U3, dropped U2 \ U3 and the certificate for client `v` (round ≥ 4): the round-3 signatures of the
   * signers `v` may need (consistency.ts `certificateSigners`).
   */
  unmaskRequest(v: number): UnmaskRequest {
    this.requireStage(4, v, this.u4, "sign the survivor set");
    return {
      sessionId: this.session.sessionId,
      survivors: [...this.u3List],
      dropped: [...this.droppedAfterShare],
      certificate: certificateSigners(this.session, v)
        .filter((x) => this.checks.has(x))
        .map((x) => ({ sender: x, signature: this.checks.get(x)!.signature })),
    };
  }

  getResult(): SecAggResult {
    if (this.stage === "failed") throw this.failure!;
    if (this.result === undefined) throw new SecAggError("NOT_READY", "session not finished");
    return this.result;
  }

  /**
   * Every input-dependent vector the server holds: the running sum of the masked inputs received so far (each masked
   * input is folded in on arrival and not kept). Exposed so tests can prove no plaintext is ever stored.
   */
  storedVectors(): Uint32Array[] {
    const out = this.maskedSum === undefined ? [] : [this.maskedSum.words];
    for (const r of this.record ?? [])
      if (r.message.body.round === 2) out.push(r.message.body.masked);
    return out;
  }

  private requireStage(min: number, v: number, set: Set<number>, what: string): void {
    if (this.stage === "failed") throw this.failure!;
    if (!this.session.addressOf.has(v)) throw new SecAggError("UNKNOWN_CLIENT", `client ${v}`);
    if (typeof this.stage === "number" && this.stage < min)
      throw new SecAggError("NOT_READY", `round ${this.stage}`);
    if (!set.has(v))
      throw new SecAggError("NOT_PARTICIPANT", `client ${v} did not ${what} in time`);
  }

  private async reconstruct(
    owner: number,
    shares: Uint8Array[],
    check: (secret: Uint8Array) => boolean,
  ) {
    const t = this.session.threshold;
    if (shares.length < t) {
      this.fail(
        new SecAggError(
          "TOO_FEW_SHARES",
          `${shares.length} shares of client ${owner} < threshold ${t}`,
        ),
      );
    }
    // t shares suffice; if one is corrupt, retry a few other windows before giving up
    for (let attempt = 0; attempt <= Math.min(8, shares.length - t); attempt++) {
      let secret: Uint8Array;
      try {
        secret = combineShares(shares.slice(attempt, attempt + t));
      } catch {
        continue; // malformed share in this window (e.g. repeated x): try the next one
      }
      if (check(secret)) return secret;
    }
    return this.fail(
      new SecAggError("RECONSTRUCTION_FAILED", `shares of client ${owner} do not reconstruct`),
    );
  }

  private async finalize(): Promise<SecAggResult> {
    const s = this.session;
    const u5 = new Set(this.unmasks.keys());
    this.requireSurvivors(u5, "clients answered the unmasking round");
    const t0 = performance.now();
    const bShares = new Map<number, Uint8Array[]>();
    const sShares = new Map<number, Uint8Array[]>();
    for (const u of [...u5].sort((a, b) => a - b)) {
      const body = this.unmasks.get(u)!;
      for (const sh of body.selfMaskShares)
        (bShares.get(sh.of) ?? bShares.set(sh.of, []).get(sh.of)!).push(sh.share);
      for (const sh of body.keyShares)
        (sShares.get(sh.of) ?? sShares.set(sh.of, []).get(sh.of)!).push(sh.share);
    }
    const survivors = [...this.u3].sort((a, b) => a - b);
    const selfSeeds: Uint8Array[] = [];
    for (const u of survivors) {
      const commitment = this.shareMsgs.get(u)!.selfMaskCommitment;
      const b = await this.reconstruct(u, bShares.get(u) ?? [], (x) =>
        equalBytes(selfMaskCommitment(s.sessionIdBytes, u, x), commitment),
      );
      selfSeeds.push(selfMaskSeed(s.sessionIdBytes, b));
    }
    const droppedKeys: { w: number; sSk: Uint8Array }[] = [];
    for (const w of this.droppedAfterShare) {
      const sPk = this.adverts.get(w)!.body.sPk;
      const sSk = await this.reconstruct(
        w,
        sShares.get(w) ?? [],
        (x) =>
          // native X25519(x, 9), ≈ 0.05 ms against ≈ 0.5 ms in @noble: 300 dropped clients at n = 1000, 30% dropout
          x.length === 32 && equalBytes(new X25519Secret(x).publicKey(), sPk),
      );
      droppedKeys.push({ w, sSk });
    }
    const t1 = performance.now();
    this.timings.reconstructMs = t1 - t0;

    const sum = this.maskedSum?.words.slice() ?? new Uint32Array(s.m);
    this.maskedSum = undefined;
    await removeMasks(
      sum,
      {
        m: s.m,
        sessionIdBytes: s.sessionIdBytes,
        selfSeeds,
        ...droppedMasksOf(
          droppedKeys.map(({ w, sSk }) => ({ w, secret: sSk })),
          s.neighbours,
          (u) => this.u3.has(u),
          (u) => this.adverts.get(u)!.body.sPk,
        ),
      },
      this.unmaskOptions,
    );
    this.timings.unmaskMs = performance.now() - t1;
    const dropped = s.ids.filter((id) => !this.u3.has(id));
    return {
      sessionId: s.sessionId,
      sum,
      decoded: decodeSum(sum, survivors.length, s.encoding),
      survivors,
      dropped,
      faults: [...this.faultList],
      signers: [...this.u4].sort((a, b) => a - b),
      unmaskers: [...u5].sort((a, b) => a - b),
    };
  }
}
