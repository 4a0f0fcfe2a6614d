/**
 * A pool of worker threads for the server's pairwise unmasking (`removeMasks`): started once per process (lazily, or
 * ahead of time with {@link UnmaskPool.warm} when a session is created), so a session pays no thread start-up
 * (≈ 0.3 s per worker under tsx) at the moment it unmasks. Each task is one slice of dropped clients; the worker
 * derives the slice's pairwise seeds (X25519 + HKDF), sums their masks into its own vector and transfers it back.
 *
 * Idle workers are unref'd (they never keep a process alive); a worker with a task in flight is ref'd. A worker that
 * crashes or exits with a task in flight rejects that task with `SecAggError("UNMASK_WORKER_FAILED")` — never a
 * hang — and is replaced on the next task; `removeMasks` then computes that slice inline.
 *
 * The same workers verify batches of session-key signatures for large servers (`verify`, `signature-batch.ts`).
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { SecAggError } from "./errors.ts";
import type { DroppedMasks, UnmaskWork } from "./unmask.ts";
import type { CheckAnswers } from "./signature-batch.ts";
import type { SecAggDomain } from "../crypto/signing.ts";

/** One slice of pairwise masks for a worker. */
export type UnmaskTask = Pick<UnmaskWork, "m" | "sessionIdBytes" | "publicKeys"> & {
  dropped: DroppedMasks[];
};

interface Slot {
  worker: Worker;
  ready: Promise<void>;
  /** Tasks posted to the worker and not answered yet, in the order posted. */
  inflight: Queued[];
}

/** Signature batches a worker may hold at once (see `dispatch`). */
const VERIFY_DEPTH = 4;

/** A batch of signature checks for a worker (`signature-batch.ts`). */
export interface VerifyTask {
  verify: Uint8Array;
  domain: SecAggDomain;
}

interface Queued {
  task: UnmaskTask | VerifyTask;
  /** Resolves the task with the worker's answer; false when the answer is malformed. */
  accept: (answer: unknown) => boolean;
  reject: (e: Error) => void;
}

export class UnmaskPool {
  readonly size: number;
  private readonly slots: (Slot | undefined)[];
  private readonly queue: Queued[] = [];
  private closed = false;

  /** `size` worker threads (default: the machine's parallelism, at most 8). */
  constructor(size: number = Math.min(availableParallelism(), 8)) {
    if (!Number.isInteger(size) || size < 1 || size > 64)
      throw new RangeError(`pool size ${size} (1–64)`);
    this.size = size;
    this.slots = Array.from({ length: size }, () => undefined);
  }

  /** Starts every worker now (they idle, unref'd); resolves when all are ready or failed to start. */
  async warm(): Promise<void> {
    if (this.closed) return;
    await Promise.all(
      this.slots.map((_, i) => (this.slots[i] ??= this.spawn(i)).ready.catch(() => undefined)),
    );
  }

  /** Workers started and ready (to decide whether parallel unmasking pays off). */
  get warmed(): boolean {
    return this.slots.every((s) => s !== undefined && this.readySlots.has(s));
  }

  private readonly readySlots = new WeakSet<Slot>();

  /** Sums the task's pairwise masks in a worker: Σ ± PRG(seed) as a fresh vector of m words. */
  run(task: UnmaskTask): Promise<Uint32Array> {
    if (this.closed)
      return Promise.reject(new SecAggError("UNMASK_WORKER_FAILED", "the unmask pool is closed"));
    return new Promise((resolve, reject) => {
      const accept = (answer: unknown) =>
        answer instanceof ArrayBuffer && answer.byteLength === 4 * task.m
          ? (resolve(new Uint32Array(answer)), true)
          : false;
      this.queue.push({ task, accept, reject });
      this.dispatch();
    });
  }

  /**
   * Runs a packed batch of session-key signature checks (`signature-batch.ts` `runChecks`) in a worker. Rejects with
   * UNMASK_WORKER_FAILED like `run`.
   */
  verify(batch: Uint8Array, domain: SecAggDomain): Promise<CheckAnswers> {
    if (this.closed)
      return Promise.reject(new SecAggError("UNMASK_WORKER_FAILED", "the unmask pool is closed"));
    return new Promise((resolve, reject) => {
      const accept = (answer: unknown) => {
        const a = answer as Partial<CheckAnswers> | null;
        if (
          !(a?.ok instanceof Uint8Array) ||
          !(a.digests instanceof Uint8Array) ||
          !(a.counts instanceof Uint32Array)
        )
          return false;
        resolve({ ok: a.ok, digests: a.digests, counts: a.counts });
        return true;
      };
      this.queue.push({ task: { verify: batch, domain }, accept, reject });
      this.dispatch();
    });
  }

  /** Terminates every worker; queued and running tasks reject with UNMASK_WORKER_FAILED. */
  async close(): Promise<void> {
    this.closed = true;
    for (const q of this.queue.splice(0))
      q.reject(new SecAggError("UNMASK_WORKER_FAILED", "the unmask pool was closed"));
    await Promise.all(
      this.slots.map(async (s, i) => {
        this.slots[i] = undefined;
        if (s !== undefined) await s.worker.terminate();
      }),
    );
  }

  private spawn(i: number): Slot {
    // ref'd while starting (someone may await `warm()`), unref'd once idle
    const worker = new Worker(new URL("./unmask-worker.ts", import.meta.url));
    const slot: Slot = { worker, inflight: [], ready: Promise.resolve() };
    slot.ready = new Promise<void>((resolve, reject) => {
      // "online" fires before the worker's imports are loaded (≈ 0.4 s of CPU under tsx); it says "ready" after
      worker.once("message", () => {
        this.readySlots.add(slot);
        if (slot.inflight.length === 0) worker.unref();
        resolve();
      });
      worker.once("error", reject);
      worker.once("exit", () => reject(new Error("exited before start")));
    });
    slot.ready.catch(() => undefined); // a start failure surfaces as the task's UNMASK_WORKER_FAILED
    // a worker answers its tasks in the order it received them
    worker.on("message", (msg: unknown) => {
      if (msg === "ready") return; // the start-up signal
      const q = slot.inflight.shift();
      if (q === undefined) return;
      if (slot.inflight.length === 0) worker.unref();
      if (!q.accept(msg))
        q.reject(new SecAggError("UNMASK_WORKER_FAILED", "the worker answered malformed data"));
      this.dispatch();
    });
    // a dead worker fails every task it holds and leaves its slot; the next dispatch starts a new one
    const gone = (why: string, cause?: unknown) => {
      if (this.slots[i] === slot) this.slots[i] = undefined;
      for (const q of slot.inflight.splice(0))
        q.reject(new SecAggError("UNMASK_WORKER_FAILED", why, { cause }));
      this.dispatch();
    };
    worker.once("error", (e) => gone(`unmask worker crashed: ${String(e)}`, e));
    worker.once("exit", (code) => gone(`unmask worker exited (code ${code}) mid-task`));
    return slot;
  }

  /**
   * Hands queued tasks to workers: an idle worker takes any task; a worker that holds only signature checks takes
   * more of them, up to `VERIFY_DEPTH`, so it never waits for the main thread between two batches. Unmask slices go
   * to idle workers only (a worker slowed by other load leaves its next slice to the others).
   */
  private dispatch(): void {
    while (this.queue.length > 0 && !this.closed) {
      const q = this.queue[0]!;
      const verify = "verify" in q.task;
      // rank: a started idle worker (0) before a new one (1) before a started one holding j checks batches (2j)
      const rank = (s: Slot | undefined): number => {
        if (s === undefined) return 1;
        const j = s.inflight.length;
        if (j === 0) return 0;
        return verify && j < VERIFY_DEPTH && s.inflight.every((x) => "verify" in x.task)
          ? 2 * j
          : Infinity;
      };
      let best = -1;
      let bestRank = Infinity;
      this.slots.forEach((s, i) => {
        const r = rank(s);
        if (r < bestRank) [best, bestRank] = [i, r];
      });
      if (best < 0) return; // every worker full: the next answer dispatches again
      const slot: Slot = (this.slots[best] ??= this.spawn(best));
      this.queue.shift();
      slot.inflight.push(q);
      slot.worker.ref();
      slot.worker.postMessage(q.task);
    }
  }
}

let shared: UnmaskPool | undefined;

/** The process-wide pool (created on first use, workers started lazily or by `warm()`). */
export function sharedUnmaskPool(): UnmaskPool {
  return (shared ??= new UnmaskPool());
}
