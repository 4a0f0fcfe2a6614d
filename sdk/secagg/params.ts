/**
 * Session parameters: threshold t, neighbourhood degree k and the SecAgg+ communication graph.
 *
 * - Full mode (Bonawitz et al. 2017): every client is a neighbour of every other (k = n − 1); a client's secrets are
 *   shared among its n − 1 neighbours plus itself, with threshold t = ⌊2n/3⌋ + 1 (the paper's bound for active
 *   adversaries), so up to n − t (≈ a third) of the cohort may drop out.
 * - SecAgg+ mode (Bell et al. 2020): clients sit on a Harary graph H(k, n) over a permutation of the roster derived
 *   from the graph seed (`graphSeed`: keccak256 of the on-chain cohort root, the job seed and n when the session
 *   names its cohort, else the session id), so neither the server nor a client chooses it and every party computes
 *   it itself; each client shares among its k neighbours
 *   plus itself with threshold t = ⌊(k + 1)/2⌋ + 1 (honest majority of the neighbourhood), and masks only with its k
 *   neighbours. k is the smallest even degree for which random dropout at `dropoutRate` leaves some neighbourhood
 *   with fewer than t live members with probability ≤ `failureProbability` (union bound), capped at 254
 *   (shares live in GF(2^8): ≤ 255 per secret).
 */
import { chacha20 } from "@noble/ciphers/chacha.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import type { KeyObject } from "node:crypto";
import { encodeAbiParameters, hexToBytes, isAddress, isHex, keccak256 } from "viem";
import type { Address, Hex } from "viem";
import { sessionVerifyingKey } from "../crypto/session-key.ts";
import { SecAggError } from "./errors.ts";
import type { FixedPointEncoding } from "./encoding.ts";

export const MAX_SHARE_GROUP = 255;
export const MAX_DEGREE = MAX_SHARE_GROUP - 1;

export interface RosterEntry {
  /** Client id, a positive uint32, unique in the session. */
  id: number;
  /** The device's address (its registration in `DeviceRegistry`). */
  address: Address;
  /**
   * The device's Ed25519 session key (bytes32 hex) as registered in `DeviceRegistry.sessionKeysOf`: every message of
   * this client is verified against it (no recovery). Zero (unset) or an invalid point: the client cannot sign, so its
   * messages never verify and it counts as dropped; it still occupies its place in the neighbour graph.
   */
  sessionKey: Hex;
}

export interface SecAggSessionConfig {
  /** bytes32 session id (e.g. keccak256(jobId, attempt)). */
  sessionId: Hex;
  chainId: number;
  /** JobMarket address, or the zero address off-chain. */
  verifyingContract: Address;
  roster: readonly RosterEntry[];
  vectorLength: number;
  encoding: FixedPointEncoding;
  /** Neighbourhood degree k; default from `defaultDegree`. n − 1 means full Bonawitz mode. */
  degree?: number;
  /** Reconstruction threshold t over a share group of k + 1; default from `defaultThreshold`. */
  threshold?: number;
  /**
   * The on-chain cohort the roster comes from: its Merkle root (JobMarket `CohortAssigned`) and the job seed it was
   * drawn with. When set, the neighbour graph derives from `graphSeed(cohortRoot, jobSeed, n)`; otherwise (off-chain
   * sessions, tests) from the session id.
   */
  cohort?: { root: Hex; jobSeed: Hex };
}

export interface ResolvedSession {
  config: SecAggSessionConfig;
  sessionId: Hex;
  sessionIdBytes: Uint8Array;
  /** Seed of the neighbour graph's permutation (see `graphSeed`). */
  graphSeed: Uint8Array;
  domain: { chainId: number; verifyingContract: Address };
  n: number;
  m: number;
  degree: number;
  threshold: number;
  /**
   * Signatures on the same survivor set a client needs, from each share group whose shares it reveals, before it
   * unmasks (ConsistencyCheck; consistency.ts): t in full mode, t + 1 (≤ k + 1) in SecAgg+ mode.
   */
  consistencyThreshold: number;
  mode: "full" | "plus";
  ids: readonly number[];
  addressOf: ReadonlyMap<number, Address>;
  /** Verifying session keys (node:crypto, built once) of the clients whose registered key is usable. */
  sessionKeyOf: ReadonlyMap<number, KeyObject>;
  /** Sorted neighbour ids of each client (never contains the client itself). */
  neighbours: ReadonlyMap<number, readonly number[]>;
  encoding: FixedPointEncoding;
}

/** ln P(X < t) for X ~ Bin(k, p), computed in log space. */
function binomialLowerTail(k: number, p: number, t: number): number {
  let total = 0;
  let logC = 0; // ln C(k, 0)
  for (let i = 0; i < t && i <= k; i++) {
    if (i > 0) logC += Math.log((k - i + 1) / i);
    total += Math.exp(logC + i * Math.log(p) + (k - i) * Math.log1p(-p));
  }
  return total;
}

/** Reconstruction threshold for a degree (see module comment). */
export function defaultThreshold(n: number, degree: number): number {
  if (degree >= n - 1) return Math.max(2, Math.floor((2 * n) / 3) + 1);
  return Math.max(2, Math.floor((degree + 1) / 2) + 1);
}

/**
 * Signatures on one survivor set a client needs from a share group before revealing its share (consistency.ts): t in
 * full mode, t + 1 (at most the group size k + 1) in SecAgg+ mode.
 */
export function consistencyThresholdOf(n: number, degree: number, threshold: number): number {
  return degree >= n - 1 ? threshold : Math.min(threshold + 1, degree + 1);
}

/**
 * Default neighbourhood degree: n − 1 (full mode) when the computed SecAgg+ degree would not be smaller, otherwise the
 * smallest even k with n · P(Bin(k, 1 − dropoutRate) < T(k)) ≤ failureProbability (T = t + 1, the consistency
 * threshold a dropped client's k neighbours must still meet), capped at 254.
 */
export function defaultDegree(
  n: number,
  opts: { dropoutRate?: number; failureProbability?: number } = {},
): number {
  const dropoutRate = opts.dropoutRate ?? 0.3;
  const failureProbability = opts.failureProbability ?? 1e-6;
  const fullOk = n - 1 <= MAX_DEGREE;
  for (let k = 4; k <= Math.min(MAX_DEGREE, n - 2); k += 2) {
    // liveness of the unmasking round: a dropped client's k neighbours must still hold T = t + 1 live signers of the
    // survivor set (the ConsistencyCheck certificate), not just t live share holders
    const T = consistencyThresholdOf(n, k, defaultThreshold(n, k));
    if (n * binomialLowerTail(k, 1 - dropoutRate, T) <= failureProbability) return k;
  }
  if (fullOk) return n - 1;
  return MAX_DEGREE;
}

/**
 * Seed of the SecAgg+ neighbour graph of an on-chain cohort:
 * keccak256(abi.encode(string "DML-SecAgg/2 graph", bytes32 cohortRoot, bytes32 jobSeed, uint32 n)). A deterministic
 * function of chain data only: same inputs → same graph, for the aggregator and for every device.
 */
export function graphSeed(cohortRoot: Hex, jobSeed: Hex, n: number): Uint8Array {
  return hexToBytes(
    keccak256(
      encodeAbiParameters(
        [{ type: "string" }, { type: "bytes32" }, { type: "bytes32" }, { type: "uint32" }],
        ["DML-SecAgg/2 graph", cohortRoot, jobSeed, n],
      ),
    ),
  );
}

/** Deterministic uniform integers in [0, bound) from a ChaCha20 stream keyed by HKDF(seed). */
function sessionRng(sessionIdBytes: Uint8Array, label: string): (bound: number) => number {
  const key = hkdf(
    sha256,
    sessionIdBytes,
    undefined,
    new TextEncoder().encode(`DML-SecAgg/1 ${label}`),
    32,
  );
  const nonce = new Uint8Array(12);
  let block = new Uint32Array(0);
  let pos = 0;
  let counter = 0;
  const next32 = (): number => {
    if (pos >= block.length) {
      const bytes = chacha20(key, nonce, new Uint8Array(1024), undefined, counter);
      counter += 16;
      block = new Uint32Array(bytes.buffer, bytes.byteOffset, 256);
      pos = 0;
    }
    return block[pos++]!;
  };
  return (bound: number) => {
    const limit = Math.floor(0x100000000 / bound) * bound;
    for (;;) {
      const x = next32();
      if (x < limit) return x % bound;
    }
  };
}

/**
 * Harary-style k-regular graph: clients are placed on a ring in a seeded random order (`seed`: the graph seed) and each is connected to
 * the k/2 nearest on each side. Returns sorted neighbour lists.
 */
export function harary(
  ids: readonly number[],
  degree: number,
  sessionIdBytes: Uint8Array,
): Map<number, number[]> {
  const n = ids.length;
  const out = new Map<number, number[]>();
  if (degree >= n - 1) {
    for (const id of ids)
      out.set(
        id,
        ids.filter((x) => x !== id),
      );
    return out;
  }
  const order = [...ids].sort((a, b) => a - b);
  const rand = sessionRng(sessionIdBytes, "harary");
  for (let i = n - 1; i > 0; i--) {
    const j = rand(i + 1);
    const tmp = order[i]!;
    order[i] = order[j]!;
    order[j] = tmp;
  }
  const half = degree / 2;
  for (let i = 0; i < n; i++) {
    const list: number[] = [];
    for (let d = 1; d <= half; d++) {
      list.push(order[(i + d) % n]!, order[(i - d + n) % n]!);
    }
    list.sort((a, b) => a - b);
    out.set(order[i]!, list);
  }
  return out;
}

/** Validates a session config and derives threshold, degree and the neighbourhood graph. */
export function resolveSession(config: SecAggSessionConfig): ResolvedSession {
  const bad = (msg: string): never => {
    throw new SecAggError("INVALID_CONFIG", msg);
  };
  if (!isHex(config.sessionId) || config.sessionId.length !== 66)
    bad("sessionId must be bytes32 hex");
  if (!isAddress(config.verifyingContract, { strict: false }))
    bad("verifyingContract must be an address");
  if (!Number.isSafeInteger(config.chainId) || config.chainId <= 0)
    bad("chainId must be a positive integer");
  if (
    !Number.isInteger(config.vectorLength) ||
    config.vectorLength < 1 ||
    config.vectorLength > 1 << 24
  ) {
    bad("vectorLength must be in [1, 2^24]");
  }
  const n = config.roster.length;
  if (n < 3) bad("a session needs at least 3 clients");
  if (n > config.encoding.maxClients)
    bad(`encoding supports ${config.encoding.maxClients} clients, roster has ${n}`);
  const addressOf = new Map<number, Address>();
  const sessionKeyOf = new Map<number, KeyObject>();
  for (const r of config.roster) {
    if (!Number.isInteger(r.id) || r.id < 1 || r.id > 0xffffffff)
      bad(`client id ${r.id} is not a positive uint32`);
    if (addressOf.has(r.id)) bad(`duplicate client id ${r.id}`);
    if (!isAddress(r.address, { strict: false })) bad(`client ${r.id} has an invalid address`);
    addressOf.set(r.id, r.address);
    if (typeof r.sessionKey !== "string" || !isHex(r.sessionKey) || r.sessionKey.length !== 66)
      bad(`client ${r.id}'s session key must be bytes32 hex`);
    const key = sessionVerifyingKey(r.sessionKey);
    if (key !== undefined) sessionKeyOf.set(r.id, key);
  }
  let degree = config.degree ?? defaultDegree(n);
  if (degree >= n - 1) degree = n - 1;
  if (degree > MAX_DEGREE) bad(`degree ${degree} exceeds ${MAX_DEGREE} (GF(256) Shamir shares)`);
  if (degree < n - 1 && (degree < 2 || degree % 2 !== 0))
    bad("SecAgg+ degree must be even and ≥ 2");
  const threshold = config.threshold ?? defaultThreshold(n, degree);
  if (!Number.isInteger(threshold) || threshold < 2 || threshold > degree + 1) {
    bad(`threshold must be in [2, ${degree + 1}]`);
  }
  if (degree < n - 1 && threshold <= (degree + 1) / 2)
    bad("threshold must exceed half of the share group");
  const sessionIdBytes = hexToBytes(config.sessionId);
  const isBytes32 = (x: unknown) => typeof x === "string" && isHex(x) && x.length === 66;
  if (
    config.cohort !== undefined &&
    (!isBytes32(config.cohort.root) || !isBytes32(config.cohort.jobSeed))
  )
    bad("cohort root and job seed must be bytes32 hex");
  const seed =
    config.cohort === undefined
      ? sessionIdBytes
      : graphSeed(config.cohort.root, config.cohort.jobSeed, n);
  const ids = [...addressOf.keys()].sort((a, b) => a - b);
  return {
    config,
    sessionId: config.sessionId.toLowerCase() as Hex,
    sessionIdBytes,
    graphSeed: seed,
    domain: { chainId: config.chainId, verifyingContract: config.verifyingContract },
    n,
    m: config.vectorLength,
    degree,
    threshold,
    consistencyThreshold: consistencyThresholdOf(n, degree, threshold),
    mode: degree >= n - 1 ? "full" : "plus",
    ids,
    addressOf,
    sessionKeyOf,
    neighbours: harary(ids, degree, seed),
    encoding: config.encoding,
  };
}
