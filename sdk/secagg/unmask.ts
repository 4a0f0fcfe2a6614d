/**
 * The server's unmasking arithmetic (Bonawitz et al. 2017, round 4): remove every survivor's self mask and, for every
 * client that dropped after sharing its keys, the pairwise masks its surviving neighbours added. At m = 100,000 with
 * 30% dropout in SecAgg+ (k = 222) this is ≈ 47,000 keystream expansions of 400 KB, so the pairwise part is spread
 * over worker threads when the work is large enough to pay for starting them (each worker sums its share of masks
 * into its own vector; the partial vectors are added at the end, which is exact because addition mod 2^32 is
 * associative). The result is identical with any number of workers (tested).
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { preparePublicKey, X25519Secret } from "./x25519.ts";
import { pairwiseSeed } from "./mask-seeds.ts";
import { MaskGenerator, addWords } from "./prg.ts";
import type { KeyObject } from "node:crypto";

/** The pairwise masks of one dropped client w to remove. */
export interface DroppedMasks {
  /** w's reconstructed s^SK (32 bytes). */
  secret: Uint8Array;
  /** Each surviving neighbour u: an index into {@link UnmaskWork.publicKeys} (u's s^PK) and how to undo u's mask. */
  peers: { key: number; sign: 1 | -1 }[];
}

export interface UnmaskWork {
  m: number;
  sessionIdBytes: Uint8Array;
  /** Self-mask seeds of the survivors: each is subtracted. */
  selfSeeds: Uint8Array[];
  /** s^PK of every survivor that neighbours a dropped client. */
  publicKeys: Uint8Array[];
  dropped: DroppedMasks[];
}

/**
 * The pairwise masks to remove for the clients in `dropped` (with their reconstructed s^SK): each surviving neighbour
 * u of a dropped w added +PRG(s_uw) when u < w and −PRG(s_uw) otherwise, so the sign undoes that. Each survivor's
 * s^PK is listed once in `publicKeys`, however many dropped neighbours it has.
 */
export function droppedMasksOf(
  dropped: readonly { w: number; secret: Uint8Array }[],
  neighbours: ReadonlyMap<number, readonly number[]>,
  survived: (u: number) => boolean,
  publicKeyOf: (u: number) => Uint8Array,
): Pick<UnmaskWork, "publicKeys" | "dropped"> {
  const keyIndex = new Map<number, number>();
  const publicKeys: Uint8Array[] = [];
  const masks = dropped.map(({ w, secret }) => ({
    secret,
    peers: (neighbours.get(w) ?? []).filter(survived).map((u) => {
      let key = keyIndex.get(u);
      if (key === undefined) {
        key = publicKeys.push(publicKeyOf(u)) - 1;
        keyIndex.set(u, key);
      }
      return { key, sign: u < w ? (-1 as const) : (1 as const) };
    }),
  }));
  return { publicKeys, dropped: masks };
}

export interface UnmaskOptions {
  /** Worker threads for the pairwise masks (default: the machine's parallelism, at most 8; 1 = inline). */
  workers?: number;
  /**
   * Run inline below this much work, counted in keystream words: each pairwise mask costs m words plus
   * {@link SEED_COST_WORDS} for its X25519 agreement and HKDF. Default 2^29 (≈ 0.5 s of work on one core here), so
   * a worker's start-up (≈ 0.1–0.3 s) is only paid when it pays back.
   */
  minParallelWork?: number;
}

/** One pairwise seed (X25519 agreement + HKDF, ≈ 0.05 ms) in keystream-word equivalents (≈ 1 ns per word). */
export const SEED_COST_WORDS = 50_000;

export interface UnmaskStats {
  expansions: number;
  /** Slices the pairwise masks were split into (1 = inline). */
  workers: number;
  /** Slices computed inline because their worker could not start or failed (same result, slower). */
  fallbacks: number;
}

/** sum ← sum − Σ self masks ± Σ pairwise masks of dropped clients (mod 2^32), in place. */
export async function removeMasks(
  sum: Uint32Array,
  work: UnmaskWork,
  opts: UnmaskOptions = {},
): Promise<UnmaskStats> {
  const mg = new MaskGenerator(work.m);
  for (const seed of work.selfSeeds) mg.sub(sum, seed);
  const pairs = work.dropped.reduce((n, d) => n + d.peers.length, 0);
  const expansions = work.selfSeeds.length + pairs;
  const wanted = Math.max(1, Math.min(opts.workers ?? Math.min(availableParallelism(), 8), 64));
  const workers =
    pairs * (work.m + SEED_COST_WORDS) < (opts.minParallelWork ?? 2 ** 29)
      ? 1
      : Math.min(wanted, work.dropped.length);
  if (workers <= 1) {
    accumulatePairwise(sum, work, work.dropped);
    return { expansions, workers: 1, fallbacks: 0 };
  }
  const slices = splitByPairs(work.dropped, workers);
  const partials = await Promise.all(slices.map((slice) => inWorker(work, slice)));
  for (const p of partials) addWords(sum, p.acc);
  return {
    expansions,
    workers: slices.length,
    fallbacks: partials.filter((p) => p.fallback).length,
  };
}

/** acc ± PRG(pairwise seed) for every (dropped client, surviving neighbour) in `dropped`. */
export function accumulatePairwise(
  acc: Uint32Array,
  work: Pick<UnmaskWork, "m" | "sessionIdBytes" | "publicKeys">,
  dropped: DroppedMasks[],
): void {
  const mg = new MaskGenerator(work.m);
  const prepared = new Map<number, Uint8Array | KeyObject>();
  for (const d of dropped) {
    const sk = new X25519Secret(d.secret);
    for (const { key, sign } of d.peers) {
      let pk = prepared.get(key);
      if (pk === undefined) prepared.set(key, (pk = preparePublicKey(work.publicKeys[key]!)));
      const seed = pairwiseSeed(work.sessionIdBytes, sk, pk);
      if (sign === 1) mg.add(acc, seed);
      else mg.sub(acc, seed);
    }
  }
}

/** Contiguous slices of `dropped` with about the same number of expansions each. */
function splitByPairs(dropped: DroppedMasks[], parts: number): DroppedMasks[][] {
  const total = dropped.reduce((n, d) => n + d.peers.length, 0);
  const slices: DroppedMasks[][] = [];
  let current: DroppedMasks[] = [];
  let done = 0;
  for (const d of dropped) {
    current.push(d);
    done += d.peers.length;
    if (done >= (total * (slices.length + 1)) / parts && slices.length < parts - 1) {
      slices.push(current);
      current = [];
    }
  }
  if (current.length > 0) slices.push(current);
  return slices;
}

/** One slice in a worker thread; inline when the worker cannot start or fails (same result, just slower). */
function inWorker(
  work: UnmaskWork,
  slice: DroppedMasks[],
): Promise<{ acc: Uint32Array; fallback: boolean }> {
  const inline = () => {
    const acc = new Uint32Array(work.m);
    accumulatePairwise(acc, work, slice);
    return acc;
  };
  return new Promise((resolve, reject) => {
    const fallback = () => {
      try {
        resolve({ acc: inline(), fallback: true });
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    };
    let worker: Worker;
    try {
      worker = new Worker(new URL("./unmask-worker.ts", import.meta.url), {
        workerData: {
          m: work.m,
          sessionIdBytes: work.sessionIdBytes,
          publicKeys: work.publicKeys,
          dropped: slice,
        },
      });
    } catch {
      fallback();
      return;
    }
    let settled = false;
    const settle = (done: () => void) => {
      if (settled) return;
      settled = true;
      done();
      void worker.terminate();
    };
    worker.once("message", (buffer: ArrayBuffer) =>
      settle(() => resolve({ acc: new Uint32Array(buffer), fallback: false })),
    );
    worker.once("error", () => settle(fallback));
    worker.once("exit", () => settle(fallback));
  });
}
