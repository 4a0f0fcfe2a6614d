/**
 * A pool of worker threads for the server's pairwise unmasking (`removeMasks`): started once per process (lazily, or
 * ahead of time with {@link UnmaskPool.warm} when a session is created), so a session pays no thread start-up
 * (≈ 0.3 s per worker under tsx) at the moment it unmasks. Each task is one slice of dropped clients; the worker
 * derives the slice's pairwise seeds (X25519 + HKDF), sums their masks into its own vector and transfers it back.
 *
 * Idle workers are unref'd (they never keep a process alive); a worker with a task in flight is ref'd. A worker that
 * crashes or exits with a task in flight rejects that task with `SecAggError("UNMASK_WORKER_FAILED")` — never a
 * hang — and is replaced on the next task; `removeMasks` then computes that slice inline.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { SecAggError } from "./errors.ts";
import type { DroppedMasks, UnmaskWork } from "./unmask.ts";

/** One slice of pairwise masks for a worker. */
export type UnmaskTask = Pick<UnmaskWork, "m" | "sessionIdBytes" | "publicKeys"> & {
  dropped: DroppedMasks[];
};

interface Slot {
  worker: Worker;
  ready: Promise<void>;
  busy: boolean;
}

interface Queued {
  task: UnmaskTask;
  resolve: (acc: Uint32Array) => void;
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
      this.queue.push({ task, resolve, reject });
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
    const slot: Slot = { worker, busy: false, ready: Promise.resolve() };
    slot.ready = new Promise<void>((resolve, reject) => {
      // "online" fires before the worker's imports are loaded (≈ 0.4 s of CPU under tsx); it says "ready" after
      worker.once("message", () => {
        this.readySlots.add(slot);
        if (!slot.busy) worker.unref();
        resolve();
      });
      worker.once("error", reject);
      worker.once("exit", () => reject(new Error("exited before start")));
    });
    slot.ready.catch(() => undefined); // a start failure surfaces as the task's UNMASK_WORKER_FAILED
    // a dead worker leaves its slot; the next dispatch starts a new one
    const gone = () => {
      if (this.slots[i] === slot) this.slots[i] = undefined;
    };
    worker.once("error", gone);
    worker.once("exit", gone);
    return slot;
  }

  private dispatch(): void {
    while (this.queue.length > 0 && !this.closed) {
      let i = this.slots.findIndex((s) => s !== undefined && !s.busy);
      if (i < 0) i = this.slots.findIndex((s) => s === undefined);
      if (i < 0) return; // every worker busy: the next finished task dispatches again
      const slot: Slot = (this.slots[i] ??= this.spawn(i));
      this.execute(slot, this.queue.shift()!);
    }
  }

  private execute(slot: Slot, q: Queued): void {
    slot.busy = true;
    slot.worker.ref();
    const w = slot.worker;
    let settled = false;
    const done = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      w.off("message", onMessage);
      w.off("error", onError);
      w.off("exit", onExit);
      slot.busy = false;
      w.unref();
      outcome();
      this.dispatch();
    };
    const onMessage = (msg: unknown) => {
      if (msg === "ready") return; // the start-up signal of a worker spawned for this task
      done(() =>
        msg instanceof ArrayBuffer && msg.byteLength === 4 * q.task.m
          ? q.resolve(new Uint32Array(msg))
          : q.reject(new SecAggError("UNMASK_WORKER_FAILED", "the worker answered malformed data")),
      );
    };
    const onError = (e: unknown) =>
      done(() =>
        q.reject(
          new SecAggError("UNMASK_WORKER_FAILED", `unmask worker crashed: ${String(e)}`, {
            cause: e,
          }),
        ),
      );
    const onExit = (code: number) =>
      done(() =>
        q.reject(
          new SecAggError("UNMASK_WORKER_FAILED", `unmask worker exited (code ${code}) mid-task`),
        ),
      );
    w.on("message", onMessage);
    w.on("error", onError);
    w.on("exit", onExit);
    w.postMessage(q.task);
  }
}

let shared: UnmaskPool | undefined;

/** The process-wide pool (created on first use, workers started lazily or by `warm()`). */
export function sharedUnmaskPool(): UnmaskPool {
  return (shared ??= new UnmaskPool());
}
