/**
 * The server's unmasking arithmetic (Bonawitz et al. 2017, round 4): remove every survivor's self mask and, for every
 * client that dropped after sharing its keys, the pairwise masks its surviving neighbours added. At m = 100,000 with
 * 30% dropout in SecAgg+ (k = 222) this is ≈ 47,000 keystream expansions of 400 KB, so the pairwise part is spread
 * over the worker threads of an {@link UnmaskPool} when the work pays for it (each worker sums its slices of masks
 * into its own vector; the partial vectors are added at the end, which is exact because addition mod 2^32 is
 * associative). The result is identical with any number of workers (tested).
 */
import { preparePublicKey, X25519Secret } from "./x25519.ts";
import { pairwiseSeed } from "./mask-seeds.ts";
import { MaskAccumulator } from "./prg.ts";
import { SecAggError } from "./errors.ts";
import { sharedUnmaskPool } from "./unmask-pool.ts";
import type { UnmaskPool } from "./unmask-pool.ts";
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
  /**
   * Worker threads for the pairwise masks: at most this many of the pool's workers take slices (default: the pool's
   * size; 1 = inline on the calling thread).
   */
  workers?: number;
  /** The pool (default: the process-wide {@link sharedUnmaskPool}, sized to the machine's parallelism, ≤ 8). */
  pool?: UnmaskPool;
  /**
   * Run inline below this much work, counted in keystream words: each pairwise mask costs m words plus
   * {@link SEED_COST_WORDS} for its X25519 agreement and HKDF. Default: 2^24 (≈ 20 ms on one core) when the pool's
   * workers are already running (`pool.warm()`, which `SecAggServer` calls for large sessions), 2^29 (≈ 0.5 s) when
   * they would have to start first (≈ 0.1–0.3 s each).
   */
  minParallelWork?: number;
  /** Slices per worker (default 2: a worker slowed by other load hands work to the others). */
  slicesPerWorker?: number;
}

/** One pairwise seed (X25519 agreement + HKDF, ≈ 0.05 ms) in keystream-word equivalents (≈ 1 ns per word). */
export const SEED_COST_WORDS = 50_000;

export interface UnmaskStats {
  expansions: number;
  /** Worker threads the pairwise masks were spread over (1 = inline). */
  workers: number;
  /** Slices computed inline because their worker failed (UNMASK_WORKER_FAILED; same result, slower). */
  fallbacks: number;
}

/** sum ← sum − Σ self masks ± Σ pairwise masks of dropped clients (mod 2^32), in place. */
export async function removeMasks(
  sum: Uint32Array,
  work: UnmaskWork,
  opts: UnmaskOptions = {},
): Promise<UnmaskStats> {
  if (sum.length !== work.m) throw new RangeError(`sum of ${sum.length} words, expected ${work.m}`);
  const acc = new MaskAccumulator(work.m);
  acc.words.set(sum);
  const pairs = work.dropped.reduce((n, d) => n + d.peers.length, 0);
  const expansions = work.selfSeeds.length + pairs;
  const pool = opts.pool ?? (opts.workers === 1 ? undefined : sharedUnmaskPool());
  const threshold = opts.minParallelWork ?? (pool?.warmed === true ? 2 ** 24 : 2 ** 29);
  const workers =
    pool === undefined || pairs * (work.m + SEED_COST_WORDS) < threshold
      ? 1
      : Math.min(opts.workers ?? pool.size, pool.size, work.dropped.length);
  let fallbacks = 0;
  if (workers <= 1) {
    accumulatePairwise(acc, work, work.dropped);
  } else {
    const slices = splitByPairs(work.dropped, workers * (opts.slicesPerWorker ?? 2));
    const task = (dropped: DroppedMasks[]) => ({
      m: work.m,
      sessionIdBytes: work.sessionIdBytes,
      publicKeys: work.publicKeys,
      dropped,
    });
    // at most `workers` slices in flight: the pool may be larger than asked for
    const partials: Promise<Uint32Array | undefined>[] = [];
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < slices.length) {
        const slice = slices[next++]!;
        partials.push(
          pool!.run(task(slice)).then(
            (v) => v,
            (e: unknown) => {
              if (!(e instanceof SecAggError && e.code === "UNMASK_WORKER_FAILED")) throw e;
              fallbacks++;
              accumulatePairwise(acc, work, slice); // same masks on this thread
              return undefined;
            },
          ),
        );
        await partials[partials.length - 1];
      }
    };
    // self masks on this thread while the workers run
    const lanes = Array.from({ length: workers }, lane);
    for (const seed of work.selfSeeds) acc.sub(seed);
    await Promise.all(lanes);
    for (const p of await Promise.all(partials)) if (p !== undefined) acc.addVector(p);
    sum.set(acc.words);
    return { expansions, workers, fallbacks };
  }
  for (const seed of work.selfSeeds) acc.sub(seed);
  sum.set(acc.words);
  return { expansions, workers: 1, fallbacks };
}

/** acc ± PRG(pairwise seed) for every (dropped client, surviving neighbour) in `dropped`. */
export function accumulatePairwise(
  acc: MaskAccumulator,
  work: Pick<UnmaskWork, "m" | "sessionIdBytes" | "publicKeys">,
  dropped: DroppedMasks[],
): void {
  const prepared = new Map<number, Uint8Array | KeyObject>();
  for (const d of dropped) {
    const sk = new X25519Secret(d.secret);
    for (const { key, sign } of d.peers) {
      let pk = prepared.get(key);
      if (pk === undefined) prepared.set(key, (pk = preparePublicKey(work.publicKeys[key]!)));
      const seed = pairwiseSeed(work.sessionIdBytes, sk, pk);
      if (sign === 1) acc.add(seed);
      else acc.sub(seed);
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
