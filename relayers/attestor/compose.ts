/**
 * Several runtimes in one relayer process: one loop, one queue, one telemetry server hold one `RoleRuntime`, so the
 * attestor role runs the job attestor (Attestor.ts) and the round attestor (RoundAttestor.ts) as one runtime that
 * delegates. Action types must not collide (the job attestor's `commit`/`reveal`, the round attestor's
 * `round-commit`/`round-reveal`); every part reconciles each tick even when another one failed (the failures are then
 * thrown together, so the loop logs and counts them); a reorg is told to every part.
 */
import type { ActionHandler, ReconcileContext, RoleRuntime } from "../common/loop.ts";
import type { HeadReader, ReorgEvent } from "../common/reorg.ts";

export class RuntimeCompositionError extends Error {
  override readonly name = "RuntimeCompositionError";
  readonly code = "HANDLER_COLLISION";
}

/**
 * One runtime delegating to `parts`. `chain` is the chain they share (reorg detection); `close` runs after every
 * part's own `close` (e.g. the shared content store). @throws RuntimeCompositionError when two parts handle one type
 */
export function composeRuntimes(
  parts: readonly RoleRuntime[],
  shared: { chain?: HeadReader; close?: () => Promise<void> } = {},
): RoleRuntime {
  const handlers: Record<string, ActionHandler> = {};
  for (const p of parts)
    for (const [type, h] of Object.entries(p.handlers)) {
      if (type in handlers)
        throw new RuntimeCompositionError(`two runtimes handle the action type "${type}"`);
      handlers[type] = h;
    }
  return {
    handlers,
    async reconcile(ctx: ReconcileContext): Promise<void> {
      const errors: unknown[] = [];
      for (const p of parts) {
        try {
          await p.reconcile(ctx);
        } catch (e) {
          errors.push(e);
        }
      }
      if (errors.length === 1) throw errors[0];
      if (errors.length > 1)
        throw new AggregateError(errors, "several runtimes failed to reconcile");
    },
    async onReorg(event: ReorgEvent): Promise<void> {
      for (const p of parts) await p.onReorg?.(event);
    },
    async close(): Promise<void> {
      for (const p of parts) await p.close?.();
      await shared.close?.();
    },
    ...(shared.chain === undefined ? {} : { chain: shared.chain }),
    // skipping a reconcile on an unchanged head is safe for the whole only when it is for every part
    reconcilesChainOnly: parts.every((p) => p.reconcilesChainOnly === true),
    offChainPending: () => parts.some((p) => p.offChainPending?.() === true),
  };
}
