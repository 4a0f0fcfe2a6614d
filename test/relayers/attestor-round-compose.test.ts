/**
 * The attestor process's one runtime for two (relayers/attestor/compose.ts): the job and round attestors' handlers
 * side by side, a collision refused, every part reconciled each tick even when another fails (the failure still
 * reaches the loop), a reorg and the close told to every part, the shared resource closed last.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ActionQueue } from "../../relayers/common/action-queue.ts";
import type { ReconcileContext, RoleRuntime } from "../../relayers/common/loop.ts";
import { createLogger } from "../../relayers/common/telemetry.ts";
import { composeRuntimes, RuntimeCompositionError } from "../../relayers/attestor/compose.ts";

describe("attestor runtime composition", () => {
  const calls: string[] = [];
  const part = (name: string, types: string[], fail = false): RoleRuntime => ({
    handlers: Object.fromEntries(
      types.map((t) => [
        t,
        async () => {
          calls.push(`${name}:${t}`);
        },
      ]),
    ),
    reconcile: async () => {
      calls.push(`${name}:reconcile`);
      if (fail) throw new Error(`${name} failed`);
    },
    onReorg: (e) => void calls.push(`${name}:reorg:${e.ancestor}`),
    close: async () => void calls.push(`${name}:close`),
  });
  const ctx = {
    signal: new AbortController().signal,
    queue: {} as ActionQueue,
    log: createLogger("attestor", "silent"),
  } satisfies ReconcileContext;

  it("delegates handlers, reorgs and close; refuses two handlers of one type", async () => {
    calls.length = 0;
    const rt = composeRuntimes(
      [part("jobs", ["commit", "reveal"]), part("rounds", ["round-commit", "round-reveal"])],
      { close: async () => void calls.push("store:close") },
    );
    assert.deepEqual(Object.keys(rt.handlers).sort(), [
      "commit",
      "reveal",
      "round-commit",
      "round-reveal",
    ]);
    await rt.handlers["round-reveal"]!({} as never, { signal: ctx.signal, log: ctx.log });
    await rt.reconcile(ctx);
    await rt.onReorg?.({ ancestor: 7n } as never);
    await rt.close?.();
    assert.deepEqual(calls, [
      "rounds:round-reveal",
      "jobs:reconcile",
      "rounds:reconcile",
      "jobs:reorg:7",
      "rounds:reorg:7",
      "jobs:close",
      "rounds:close",
      "store:close",
    ]);
    assert.throws(
      () => composeRuntimes([part("a", ["commit"]), part("b", ["commit"])]),
      (e) => e instanceof RuntimeCompositionError && e.code === "HANDLER_COLLISION",
    );
  });

  it("a failing reconcile does not starve the other part, and its error reaches the loop", async () => {
    calls.length = 0;
    await assert.rejects(
      composeRuntimes([part("jobs", [], true), part("rounds", [])]).reconcile(ctx),
      /jobs failed/,
    );
    assert.deepEqual(calls, ["jobs:reconcile", "rounds:reconcile"]);
    calls.length = 0;
    await assert.rejects(
      composeRuntimes([part("jobs", [], true), part("rounds", [], true)]).reconcile(ctx),
      (e) => e instanceof AggregateError && e.errors.length === 2,
    );
    assert.deepEqual(calls, ["jobs:reconcile", "rounds:reconcile"]);
  });
});
