/** Helpers every `dml` command group uses: the action wrapper (context in, closed after) and help sections. */
import type { Command } from "commander";
import { Context, type GlobalOptions } from "./context.ts";

/**
 * An action handler for commander: builds the Context from the global options, runs `fn` with the command's own
 * options and arguments, and closes what the context opened (IPFS) whatever happens.
 */
export function action<O extends object, A extends unknown[] = []>(
  fn: (ctx: Context, opts: O, ...args: A) => Promise<void>,
): (...raw: unknown[]) => Promise<void> {
  return async (...raw: unknown[]) => {
    const cmd = raw[raw.length - 1] as Command;
    const opts = raw[raw.length - 2] as O;
    const args = raw.slice(0, -2) as A;
    const ctx = new Context(cmd.optsWithGlobals<GlobalOptions & O>());
    try {
      await fn(ctx, opts, ...args);
    } finally {
      await ctx.close();
    }
  };
}

export { addExamples as examples } from "#sdk/cli/help.ts";
