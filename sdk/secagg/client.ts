/**
 * SecAgg client state machine (one device, one session). Transport-agnostic: each method consumes what the server
 * relayed for the round and returns the signed message to send. Rounds must be called in order, each at most once.
 *
 *   advertise()               → Signed<AdvertiseBody>
 *   shareKeys(neighbourKeys)  → Signed<ShareKeysBody>       (neighbourKeys: neighbours' signed advertisements)
 *   maskedInput(shares, x)    → Signed<MaskedInputBody>     (shares: ciphertexts addressed to this client)
 *   consistency(request)      → Signed<ConsistencyBody>     (request: the survivor set U3; signed once)
 *   unmask(request)           → Signed<UnmaskBody>          (request: U3, dropped U2 \ U3 and the certificate of
 *                                                            round-3 signatures on U3, checked before any reveal)
 */
import { x25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { randomBytes } from "node:crypto";
import { split } from "shamir-secret-sharing";
import type { SessionSigner } from "../crypto/session-key.ts";
import { SecAggError } from "./errors.ts";
import type { SecAggErrorCode } from "./errors.ts";
import { encodeVector } from "./encoding.ts";
import {
  SHARE_BYTES,
  SHARE_CIPHERTEXT_BYTES,
  SHARE_PLAINTEXT_BYTES,
  signBody,
} from "./messages.ts";
import { checkCertificate, verifyBySender } from "./consistency.ts";
import type {
  AdvertiseBody,
  ConsistencyBody,
  ConsistencyRequest,
  EncryptedShare,
  MaskedInputBody,
  RevealedShare,
  ShareKeysBody,
  Signed,
  UnmaskBody,
  UnmaskRequest,
} from "./messages.ts";
import { LABEL_SHARE_KEY, deriveKey, scratchAccumulator } from "./prg.ts";
import { resolveSession } from "./params.ts";
import { X25519Secret, preparePublicKey } from "./x25519.ts";
import { openShare, sealShare } from "./share-cipher.ts";
import type { ResolvedSession, SecAggSessionConfig } from "./params.ts";

/** What signs a client's messages: the device address and its registered Ed25519 session key (session-key.ts). */
export type SecAggAccount = SessionSigner;

const random = (len: number): Uint8Array => new Uint8Array(randomBytes(len));

/** Associated data of a share ciphertext: protocol tag ‖ session ‖ round ‖ sender ‖ receiver. */
export function shareAssociatedData(
  sessionIdBytes: Uint8Array,
  from: number,
  to: number,
): Uint8Array {
  const tag = new TextEncoder().encode("DML-SecAgg/1 share");
  const out = new Uint8Array(tag.length + 32 + 1 + 8);
  out.set(tag, 0);
  out.set(sessionIdBytes, tag.length);
  const o = tag.length + 32;
  out[o] = 1;
  new DataView(out.buffer).setUint32(o + 1, from);
  new DataView(out.buffer).setUint32(o + 5, to);
  return out;
}

/** Nonce of a share ciphertext: the share key is per unordered pair, so the nonce encodes the direction. */
export function shareNonce(from: number, to: number): Uint8Array {
  const out = new Uint8Array(12);
  new DataView(out.buffer).setUint32(0, from);
  new DataView(out.buffer).setUint32(4, to);
  return out;
}

export function selfMaskCommitment(
  sessionIdBytes: Uint8Array,
  id: number,
  b: Uint8Array,
): Uint8Array {
  const tag = new TextEncoder().encode("DML-SecAgg/1 b");
  const buf = new Uint8Array(tag.length + 32 + 4 + b.length);
  buf.set(tag, 0);
  buf.set(sessionIdBytes, tag.length);
  new DataView(buf.buffer).setUint32(tag.length + 32, id);
  buf.set(b, tag.length + 36);
  return sha256(buf);
}

export { pairwiseSeed, selfMaskSeed } from "./mask-seeds.ts";
import { pairwiseSeed, selfMaskSeed } from "./mask-seeds.ts";

/** Another client's message this client skipped, and why. */
export interface PeerFault {
  client: number;
  round: number;
  code: SecAggErrorCode;
  reason: string;
}

interface NeighbourKeys {
  cPk: Uint8Array;
  sPk: Uint8Array;
}

type ClientStage = "init" | "advertised" | "shared" | "masked" | "checked" | "unmasked";

export class SecAggClient {
  readonly id: number;
  readonly session: ResolvedSession;
  private readonly account: SecAggAccount;
  private stage: ClientStage = "init";
  private readonly cSk: X25519Secret;
  private readonly sSk: X25519Secret;
  private b: Uint8Array | undefined;
  /** Neighbours that advertised (U1 ∩ N(u)) and their keys. */
  private keys = new Map<number, NeighbourKeys>();
  /** Shares received in round 2 (from U2 ∩ N(u)), plus our own: owner → [share(b_owner), share(sSk_owner)]. */
  private held = new Map<number, [Uint8Array, Uint8Array]>();
  private maskedWith: number[] = [];
  private readonly peerFaultList: PeerFault[] = [];
  /** The survivor set signed in round 3 (the only set this client will ever unmask for). */
  private signedSurvivors: number[] | undefined;
  /** AEAD keys per neighbour, derived once from X25519(c_u^SK, c_v^PK) (same key both directions). */
  private shareKeyCache = new Map<number, Uint8Array>();
  /**
   * Pairwise mask seeds per neighbour, from X25519(s_u^SK, s_v^PK), derived in round 1: the agreement doubles as the
   * low-order check of s_v^PK, so each advertised key costs one agreement instead of two.
   */
  private pairSeedCache = new Map<number, Uint8Array>();
  private readonly verifyNeighbours: boolean;

  constructor(opts: {
    config: SecAggSessionConfig | ResolvedSession;
    id: number;
    account: SecAggAccount;
    /**
     * Verify neighbours' advertisement signatures (default true). Only in-process benchmarks that simulate n clients
     * turn it off, to avoid repeating n·k identical verifications; they account the cost separately.
     */
    verifyNeighbourSignatures?: boolean;
  }) {
    this.session = "sessionIdBytes" in opts.config ? opts.config : resolveSession(opts.config);
    this.id = opts.id;
    this.account = opts.account;
    const addr = this.session.addressOf.get(opts.id);
    if (addr === undefined)
      throw new SecAggError("UNKNOWN_CLIENT", `client ${opts.id} is not in the roster`);
    if (addr.toLowerCase() !== opts.account.address.toLowerCase()) {
      throw new SecAggError(
        "INVALID_CONFIG",
        `account ${opts.account.address} is not client ${opts.id}'s device key`,
      );
    }
    const registered = this.session.config.roster.find((r) => r.id === opts.id)!.sessionKey;
    if (registered.toLowerCase() !== opts.account.sessionKey.toLowerCase()) {
      throw new SecAggError(
        "INVALID_CONFIG",
        `client ${opts.id}'s registered session key is not this device's (${opts.account.sessionKey})`,
      );
    }
    this.cSk = new X25519Secret(x25519.utils.randomSecretKey());
    this.sSk = new X25519Secret(x25519.utils.randomSecretKey());
    this.verifyNeighbours = opts.verifyNeighbourSignatures ?? true;
  }

  get neighbours(): readonly number[] {
    return this.session.neighbours.get(this.id)!;
  }

  private expect(stage: ClientStage, next: ClientStage): void {
    if (this.stage !== stage)
      throw new SecAggError("OUT_OF_ROUND", `client ${this.id} is at ${this.stage}`);
    this.stage = next;
  }

  /** The AEAD key shared with live neighbour `v` (derived when its advertisement was accepted). */
  private shareKey(v: number): Uint8Array {
    return this.shareKeyCache.get(v)!;
  }

  /** Round 0: advertise the two X25519 public keys. */
  async advertise(): Promise<Signed<AdvertiseBody>> {
    this.expect("init", "advertised");
    const body: AdvertiseBody = {
      sessionId: this.session.sessionId,
      round: 0,
      sender: this.id,
      cPk: this.cSk.publicKey(),
      sPk: this.sSk.publicKey(),
    };
    return signBody(this.account, this.session.domain, body);
  }

  /**
   * Round 1: verify the neighbours' signed advertisements, Shamir-share b_u and s_u^SK among them (and ourselves) and
   * encrypt each share pair to its holder.
   */
  async shareKeys(neighbourKeys: readonly Signed[]): Promise<Signed<ShareKeysBody>> {
    this.expect("advertised", "shared");
    const s = this.session;
    const nbrs = new Set(this.neighbours);
    for (const msg of neighbourKeys) {
      const body = msg.body;
      // a malformed or forged advertisement drops that neighbour (never this client): no share goes to it
      const skip = (code: SecAggErrorCode, reason: string) =>
        this.peerFaultList.push({ client: body.sender, round: 0, code, reason });
      if (body.round !== 0) {
        skip("INVALID_MESSAGE", "expected an AdvertiseKeys message");
        continue;
      }
      if (body.sessionId.toLowerCase() !== s.sessionId) {
        skip("WRONG_SESSION", "key of another session");
        continue;
      }
      if (!nbrs.has(body.sender) || this.keys.has(body.sender)) {
        skip("NOT_NEIGHBOUR", `${body.sender} is not a neighbour, or sent two keys`);
        continue;
      }
      if (body.cPk.length !== 32 || body.sPk.length !== 32) {
        skip("INVALID_MESSAGE", "public keys must be 32 bytes");
        continue;
      }
      if (this.verifyNeighbours && !verifyBySender(s, msg)) {
        skip("BAD_SIGNATURE", `advertisement of ${body.sender}`);
        continue;
      }
      // The two agreements this neighbour needs anyway (share key, pairwise mask seed) are the low-order check: a
      // low-order point gives the all-zero secret with every clamped scalar, so `agree` throws exactly when
      // isWeakPublicKey would refuse the key; each public key is imported once (preparePublicKey).
      let derived: [Uint8Array, Uint8Array] | undefined;
      if (!equalBytes(body.cPk, body.sPk)) {
        try {
          derived = [
            deriveKey(
              this.cSk.agree(preparePublicKey(body.cPk)),
              s.sessionIdBytes,
              LABEL_SHARE_KEY,
            ),
            pairwiseSeed(s.sessionIdBytes, this.sSk, preparePublicKey(body.sPk)),
          ];
        } catch {
          derived = undefined;
        }
      }
      if (derived === undefined) {
        skip("INVALID_MESSAGE", `${body.sender} reused a key or advertised a low-order key`);
        continue;
      }
      this.keys.set(body.sender, { cPk: body.cPk, sPk: body.sPk });
      this.shareKeyCache.set(body.sender, derived[0]);
      this.pairSeedCache.set(body.sender, derived[1]);
    }
    const holders = [...this.keys.keys()].sort((a, b) => a - b);
    if (holders.length + 1 < s.threshold) {
      throw new SecAggError(
        "TOO_FEW_SURVIVORS",
        `${holders.length + 1} share holders < threshold ${s.threshold}`,
      );
    }
    this.b = random(32);
    const count = holders.length + 1;
    const [bShares, sShares] = await Promise.all([
      split(this.b, count, s.threshold),
      split(new Uint8Array(this.sSk.secret), count, s.threshold),
    ]);
    this.held.set(this.id, [bShares[count - 1]!, sShares[count - 1]!]);
    const shares: EncryptedShare[] = holders.map((v, i) => {
      const pt = new Uint8Array(SHARE_PLAINTEXT_BYTES);
      const dv = new DataView(pt.buffer);
      dv.setUint32(0, this.id);
      dv.setUint32(4, v);
      pt.set(bShares[i]!, 8);
      pt.set(sShares[i]!, 8 + SHARE_BYTES);
      const ciphertext = sealShare(
        this.shareKey(v),
        shareNonce(this.id, v),
        shareAssociatedData(s.sessionIdBytes, this.id, v),
        pt,
      );
      return { to: v, ciphertext };
    });
    const body: ShareKeysBody = {
      sessionId: s.sessionId,
      round: 1,
      sender: this.id,
      selfMaskCommitment: selfMaskCommitment(s.sessionIdBytes, this.id, this.b),
      shares,
    };
    return signBody(this.account, s.domain, body);
  }

  /** Decrypts and checks the share pair `v` sent us, or says why it is unusable. */
  private decryptShare(v: number, ciphertext: Uint8Array): [Uint8Array, Uint8Array] | string {
    const s = this.session;
    if (ciphertext.length !== SHARE_CIPHERTEXT_BYTES) return `share from ${v}: length`;
    const pt = openShare(
      this.shareKey(v),
      shareNonce(v, this.id),
      shareAssociatedData(s.sessionIdBytes, v, this.id),
      ciphertext,
    );
    if (pt === undefined) return `share from ${v} failed authentication`;
    const dv = new DataView(pt.buffer, pt.byteOffset);
    if (dv.getUint32(0) !== v || dv.getUint32(4) !== this.id)
      return `share from ${v} is addressed to another pair`;
    return [pt.slice(8, 8 + SHARE_BYTES), pt.slice(8 + SHARE_BYTES, 8 + 2 * SHARE_BYTES)];
  }

  /** Faults of other clients this client observed (their messages were skipped; the session went on). */
  get peerFaults(): readonly PeerFault[] {
    return this.peerFaultList;
  }

  /**
   * Round 2: decrypt and check the shares addressed to us (their senders form U2 ∩ N(u)), then send
   * y_u = x_u + PRG(b_u) + Σ_{v∈U2∩N(u), u<v} PRG(s_uv) − Σ_{v∈U2∩N(u), u>v} PRG(s_uv)  (mod 2^32).
   * `input` is either real values (encoded with the session's fixed-point encoding) or an already encoded Uint32Array.
   */
  async maskedInput(
    incoming: readonly { from: number; ciphertext: Uint8Array }[],
    input: ArrayLike<number> | Uint32Array,
  ): Promise<Signed<MaskedInputBody>> {
    this.expect("shared", "masked");
    const s = this.session;
    if (input.length !== s.m)
      throw new SecAggError("WRONG_LENGTH", `input has ${input.length} elements, need ${s.m}`);
    // Every live neighbour whose ciphertext the server relayed sent its shares (it is in U2), so we mask with it even
    // when its ciphertext is malformed or does not decrypt: the pairwise mask comes from the advertised keys, and the
    // server's unmasking assumes it. We just hold no share of that neighbour's secrets, and record its fault.
    const from = new Set<number>();
    for (const { from: v, ciphertext } of incoming) {
      const skip = (code: SecAggErrorCode, reason: string) =>
        this.peerFaultList.push({ client: v, round: 1, code, reason });
      if (!this.keys.has(v)) {
        skip("NOT_NEIGHBOUR", `share from ${v}, who is not a live neighbour`);
        continue;
      }
      if (from.has(v)) {
        skip("DUPLICATE", `two shares from ${v}`);
        continue;
      }
      from.add(v);
      const held = this.decryptShare(v, ciphertext);
      if (typeof held === "string") skip("BAD_SHARE", held);
      else this.held.set(v, held);
    }
    const x = input instanceof Uint32Array ? input : encodeVector(input, s.encoding);
    const acc = scratchAccumulator(s.m);
    acc.words.set(x);
    acc.add(selfMaskSeed(s.sessionIdBytes, this.b!));
    this.maskedWith = [...from].sort((a, b) => a - b);
    for (const v of this.maskedWith) {
      const seed = this.pairSeedCache.get(v)!;
      if (this.id < v) acc.add(seed);
      else acc.sub(seed);
    }
    const y = acc.words.slice(); // the caller's plaintext is never aliased by the message
    const body: MaskedInputBody = { sessionId: s.sessionId, round: 2, sender: this.id, masked: y };
    return signBody(this.account, s.domain, body);
  }

  /**
   * Round 3 (ConsistencyCheck): sign the survivor set U3 the server announced. Signs at most one set per session, and
   * refuses a set that omits us, is not made of roster ids, or has fewer than t members.
   */
  async consistency(request: ConsistencyRequest): Promise<Signed<ConsistencyBody>> {
    const s = this.session;
    if (this.stage !== "masked")
      throw new SecAggError("OUT_OF_ROUND", `client ${this.id} is at ${this.stage}`);
    if (request.sessionId.toLowerCase() !== s.sessionId)
      throw new SecAggError("WRONG_SESSION", "consistency request");
    const survivors = [...request.survivors];
    for (let i = 0; i < survivors.length; i++) {
      if (!s.addressOf.has(survivors[i]!))
        throw new SecAggError("INVALID_MESSAGE", `survivor ${survivors[i]} is not in the roster`);
      if (i > 0 && survivors[i]! <= survivors[i - 1]!)
        throw new SecAggError("INVALID_MESSAGE", "survivors must increase");
    }
    if (!survivors.includes(this.id))
      throw new SecAggError("INVALID_MESSAGE", "we are not listed as a survivor");
    if (survivors.length < s.threshold) {
      throw new SecAggError(
        "TOO_FEW_SURVIVORS",
        `${survivors.length} survivors < threshold ${s.threshold}`,
      );
    }
    this.expect("masked", "checked");
    this.signedSurvivors = survivors;
    const body: ConsistencyBody = { sessionId: s.sessionId, round: 3, sender: this.id, survivors };
    return signBody(this.account, s.domain, body);
  }

  /**
   * Round 4: reveal share(b_v) for surviving v and share(s_v^SK) for dropped v, among the clients whose shares we hold,
   * only for the survivor set we signed in round 3 and only once the request's certificate carries enough signatures
   * on that same set (consistency.ts). Refuses a request that names a client both survivor and dropped (so no client's
   * b and s^SK are ever both revealed). Answers at most once per session; a refusal reveals nothing and may be retried
   * with a better certificate.
   */
  async unmask(request: UnmaskRequest): Promise<Signed<UnmaskBody>> {
    const s = this.session;
    if (this.stage !== "checked")
      throw new SecAggError("OUT_OF_ROUND", `client ${this.id} is at ${this.stage}`);
    if (request.sessionId.toLowerCase() !== s.sessionId)
      throw new SecAggError("WRONG_SESSION", "unmask request");
    const survivors = new Set(request.survivors);
    const dropped = new Set(request.dropped);
    if (survivors.size !== request.survivors.length || dropped.size !== request.dropped.length) {
      throw new SecAggError("INVALID_MESSAGE", "duplicate ids in unmask request");
    }
    for (const v of dropped) {
      if (survivors.has(v))
        throw new SecAggError("BOTH_SHARES_REQUESTED", `client ${v} is both survivor and dropped`);
    }
    const owners = [...this.held.keys()].filter((w) => survivors.has(w) || dropped.has(w));
    await checkCertificate(s, this.id, this.signedSurvivors!, request, owners);
    this.expect("checked", "unmasked");
    const selfMaskShares: RevealedShare[] = [];
    const keyShares: RevealedShare[] = [];
    for (const [owner, [bShare, sShare]] of [...this.held.entries()].sort((a, b) => a[0] - b[0])) {
      if (survivors.has(owner)) selfMaskShares.push({ of: owner, share: bShare });
      else if (dropped.has(owner)) keyShares.push({ of: owner, share: sShare });
    }
    const body: UnmaskBody = {
      sessionId: s.sessionId,
      round: 4,
      sender: this.id,
      selfMaskShares,
      keyShares,
    };
    return signBody(this.account, s.domain, body);
  }
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}
