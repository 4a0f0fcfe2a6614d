/**
 * The loop every relayer role runs (docs/relayers.md):
 *
 *   each tick   1. reconcile: read the chain, derive the desired state, enqueue one action per missing effect
 *                  (idempotent keys, so re-deriving everything every tick is safe);
 *               2. act: claim queued actions one at a time and run their handlers, until none is ready.
 *   errors      a reconcile or handler error is logged, counted and retried on a later tick (a handler's action goes
 *               back to `queued` with a back-off until `maxAttempts`, then `failed`); nothing crashes the loop;
 *   stopping    aborting the signal (SIGTERM / SIGINT in `runRelayer`) stops claiming new actions and ends the wait
 *               between ticks; the action in flight finishes (drain), then `run` resolves.
 *
 * Handlers get the same signal: it means "stop soon", not "cancel now" — a handler that already sent its transaction
 * should still wait for the receipt. If it dies anyway, the queue's recovery rule re-runs it after a restart, and the
 * handler's own chain check keeps its effect from happening twice (action-queue.ts).
 */
import type { Logger } from "pino";
import type { Action, ActionQueue } from "./action-queue.ts";
import { describeError } from "./errors.ts";
import type { RelayerMetrics } from "./metrics.ts";
import type { HeadReader, ReorgEvent, ReorgGuard } from "./reorg.ts";

/** What a handler reports; returning nothing means succeeded. */
export type ActionOutcome = { status: "succeeded" } | { status: "abandoned"; reason: string };

export interface HandlerContext {
  /** Aborted when the relayer is stopping: finish what was started, start nothing long. */
  signal: AbortSignal;
  log: Logger;
}

/**
 * Runs one action. **Must check the chain for its own effect first** and return success without sending when it is
 * already there (the action may be a re-run after a crash). Throw to fail the attempt (it is retried), throw a
 * `PermanentActionError` when a retry cannot help, return `abandoned` when the action no longer makes sense.
 */
export type ActionHandler = (action: Action, ctx: HandlerContext) => Promise<ActionOutcome | void>;

/** A failure no retry can fix: the action goes straight to `failed`. */
export class PermanentActionError extends Error {
  override readonly name = "PermanentActionError";
}

export interface ReconcileContext {
  signal: AbortSignal;
  queue: ActionQueue;
  log: Logger;
}

/** What a role plugs into the loop. */
export interface RoleRuntime {
  /** Reads the chain and enqueues the actions its state calls for. */
  reconcile(ctx: ReconcileContext): Promise<void>;
  /** One handler per action type. */
  handlers: Readonly<Record<string, ActionHandler>>;
  /** Releases the role's resources (called once, after the loop stopped). */
  close?(): Promise<void>;
  /** The chain the role acts on: given, the loop checks it for reorgs each tick (reorg.ts). */
  chain?: HeadReader;
  /** Told after a reorg re-opened actions: drop caches of chain state above `event.ancestor`. */
  onReorg?(event: ReorgEvent): void | Promise<void>;
  /**
   * The desired state is a function of the chain at its head alone (no off-chain input: no session, heartbeat or
   * fetched content decides what to enqueue), except while `offChainPending` says otherwise. With reorg detection,
   * the loop then reconciles only when the head (number or hash) changed since the last reconcile that succeeded;
   * the queue's actions still run every tick.
   */
  reconcilesChainOnly?: boolean;
  /**
   * With `reconcilesChainOnly`: true while off-chain inputs may call for an action the head does not show (a hosted
   * session running, a fetch to retry); the loop then reconciles every tick, as for a role without the flag.
   */
  offChainPending?(): boolean;
}

export interface LoopOptions {
  queue: ActionQueue;
  role: RoleRuntime;
  log: Logger;
  metrics?: RelayerMetrics;
  /** Pause between the end of a tick and the start of the next. */
  intervalMs: number;
  /** Handler runs before an action is `failed` (crash re-runs count). */
  maxAttempts: number;
  /** Back-off before retry n (1-based): `retryBaseMs · 2^(n−1)`, at most `retryMaxMs`. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** Most actions run in one tick, so reconcile sees fresh chain state regularly (default 100). */
  maxActionsPerTick?: number;
  /** Reorg detection at the start of each tick; finished actions record the head they finished at. */
  reorg?: ReorgGuard;
  now?: () => number;
}

export interface TickReport {
  ok: boolean;
  actionsRun: number;
  durationMs: number;
}

export class RelayerLoop {
  readonly startedAt: number;
  /** End of the last completed tick (ms since the epoch). */
  lastTickAt: number | undefined;
  ticks = 0;
  /** Reconciles skipped because the head had not changed (`RoleRuntime.reconcilesChainOnly`). */
  reconcilesSkipped = 0;
  /** The head hash of the last reconcile that succeeded. */
  private reconciledAt: string | undefined;
  private readonly o: LoopOptions;
  private readonly now: () => number;

  constructor(opts: LoopOptions) {
    this.o = opts;
    this.now = opts.now ?? Date.now;
    this.startedAt = this.now();
  }

  /** Ticks until `signal` aborts; resolves once the tick in flight has drained. Never rejects for a tick's error. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.tick(signal);
      if (signal.aborted) break;
      await sleep(this.o.intervalMs, signal);
    }
  }

  /** One reconcile-then-act pass. */
  async tick(signal: AbortSignal): Promise<TickReport> {
    const t0 = this.now();
    const { log, metrics, queue, role } = this.o;
    let ok = true;
    /** The head the reorg check saw this tick (undefined when it failed or does not run). */
    let head: string | undefined;
    if (this.o.reorg !== undefined) {
      try {
        const event = await this.o.reorg.check();
        head = event === undefined ? this.o.reorg.head?.hash : undefined;
        if (event !== undefined) {
          metrics?.reorg(event.reopened.length);
          log.warn(
            {
              stale: `${event.stale.block}`,
              ancestor: `${event.ancestor}`,
              reopened: event.reopened.map((a) => a.key),
            },
            "chain reorganised: actions above the common ancestor re-opened",
          );
          await role.onReorg?.(event);
        }
      } catch (e) {
        ok = false;
        metrics?.error("reorg");
        log.error({ err: describeError(e) }, "reorg check failed; retrying next tick");
      }
    }
    try {
      if (
        role.reconcilesChainOnly === true &&
        head !== undefined &&
        head === this.reconciledAt &&
        role.offChainPending?.() !== true
      )
        this.reconcilesSkipped++;
      else {
        this.reconciledAt = undefined;
        await role.reconcile({ signal, queue, log });
        this.reconciledAt = head;
      }
    } catch (e) {
      ok = false;
      metrics?.error("reconcile");
      log.error({ err: describeError(e) }, "reconcile failed; retrying next tick");
    }
    let actionsRun = 0;
    const max = this.o.maxActionsPerTick ?? 100;
    while (!signal.aborted && actionsRun < max) {
      let action: Action | undefined;
      try {
        action = await queue.claimNext();
      } catch (e) {
        ok = false;
        metrics?.error("tick");
        log.error({ err: describeError(e) }, "claiming an action failed; retrying next tick");
        break;
      }
      if (action === undefined) break;
      actionsRun++;
      if (!(await this.runAction(action, signal))) ok = false;
    }
    const end = this.now();
    this.ticks++;
    this.lastTickAt = end;
    metrics?.tick((end - t0) / 1000, ok, end);
    return { ok, actionsRun, durationMs: end - t0 };
  }

  /** The chain head an action finished at (undefined without reorg detection or when the RPC does not answer). */
  private async headNumber(): Promise<bigint | undefined> {
    return this.o.reorg?.headNumber().catch(() => undefined);
  }

  /** Runs one claimed action and records its outcome; false when the attempt failed. */
  private async runAction(action: Action, signal: AbortSignal): Promise<boolean> {
    const { log: parent, metrics, queue } = this.o;
    const log = parent.child({ action: action.key, type: action.type, attempt: action.attempts });
    const handler = this.o.role.handlers[action.type];
    try {
      if (handler === undefined)
        throw new PermanentActionError(`no handler for action type "${action.type}"`);
      if (action.recoveries > 0 && action.attempts > 1)
        log.warn({ recoveries: action.recoveries }, "re-running an interrupted action");
      const outcome = (await handler(action, { signal, log })) ?? { status: "succeeded" };
      const block = await this.headNumber();
      if (outcome.status === "abandoned") {
        await queue.abandon(action.id, outcome.reason, block);
        metrics?.actionRun(action.type, "abandoned");
        log.info({ reason: outcome.reason }, "action abandoned");
      } else {
        await queue.succeed(action.id, block);
        metrics?.actionRun(action.type, "succeeded");
        metrics?.actionLatencySeconds(
          action.type,
          (this.now() - action.createdAt.getTime()) / 1000,
        );
        log.info("action succeeded");
      }
      return true;
    } catch (e) {
      const reason = describeError(e);
      metrics?.error("action");
      try {
        if (e instanceof PermanentActionError || action.attempts >= this.o.maxAttempts) {
          await queue.fail(action.id, reason, await this.headNumber());
          metrics?.actionRun(action.type, "failed");
          log.error({ err: reason }, "action failed for good");
        } else {
          const delay = Math.min(
            this.o.retryBaseMs * 2 ** (action.attempts - 1),
            this.o.retryMaxMs,
          );
          await queue.retry(action.id, reason, new Date(this.now() + delay));
          metrics?.actionRun(action.type, "retry");
          log.warn({ err: reason, retryInMs: delay }, "action failed; will retry");
        }
      } catch (e2) {
        log.error({ err: describeError(e2) }, "recording an action's failure failed");
      }
      return false;
    }
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
