import { randomBytes } from "node:crypto";
import { bytesToHex, zeroAddress } from "viem";
import type { Hex } from "viem";
import { sessionSignerOf } from "#sdk/crypto/session-key.ts";
import type { SessionSigner } from "#sdk/crypto/session-key.ts";
import { makeEncoding } from "#sdk/secagg/encoding.ts";
import {
  runSecAggHttpClient,
  type HttpClientRun,
  type PollOptions,
} from "#sdk/secagg/http-client.ts";
import type { SecAggSessionConfig } from "#sdk/secagg/params.ts";

/**
 * Deterministic device keys (index i → private key i+1 padded), so tests are reproducible; each as its session signer
 * (address and the Ed25519 session key derived from the device key, session-key.ts).
 */
export function accountsFor(n: number, base = 1): Map<number, SessionSigner> {
  const out = new Map<number, SessionSigner>();
  for (let i = 0; i < n; i++) {
    const pk = `0x${(base * 100000 + i + 1).toString(16).padStart(64, "0")}` as Hex;
    out.set(i + 1, sessionSignerOf(pk));
  }
  return out;
}

/** A session config whose roster registers every account's session key. */
export function makeConfig(
  accounts: Map<number, SessionSigner>,
  m: number,
  extra: Partial<SecAggSessionConfig> = {},
): SecAggSessionConfig {
  return {
    sessionId: bytesToHex(randomBytes(32)),
    chainId: 31337,
    verifyingContract: zeroAddress,
    roster: [...accounts.entries()].map(([id, a]) => ({
      id,
      address: a.address,
      sessionKey: a.sessionKey,
    })),
    vectorLength: m,
    encoding: makeEncoding({ clip: 8, maxClients: Math.max(accounts.size, 2) }),
    ...extra,
  };
}

/** Small deterministic PRNG (mulberry32) for test vectors. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomInputs(
  ids: Iterable<number>,
  m: number,
  seed: number,
  range = 10,
): Map<number, Float64Array> {
  const r = rng(seed);
  const out = new Map<number, Float64Array>();
  for (const id of ids) {
    const x = new Float64Array(m);
    for (let i = 0; i < m; i++) x[i] = (r() * 2 - 1) * range;
    out.set(id, x);
  }
  return out;
}

/**
 * Runs every account's client of `config` against the SecAgg HTTP server at `baseUrl`, each with its input; a client
 * in `stopBefore` stops before that round (a dropout).
 */
export function runHttpClients(opts: {
  baseUrl: string;
  config: SecAggSessionConfig;
  accounts: Map<number, SessionSigner>;
  inputs: Map<number, Float64Array>;
  poll: PollOptions;
  stopBefore?: ReadonlyMap<number, 0 | 1 | 2 | 3 | 4>;
}): Promise<HttpClientRun[]> {
  return Promise.all(
    [...opts.accounts.entries()].map(([id, account]) =>
      runSecAggHttpClient({
        baseUrl: opts.baseUrl,
        config: opts.config,
        id,
        account,
        input: opts.inputs.get(id)!,
        poll: opts.poll,
        stopBeforeRound: opts.stopBefore?.get(id),
      }),
    ),
  );
}
