/** What a page is: a loader over the read-only sources and a view of what it loaded. */
import type { TemplateResult } from "lit";
import type { PublicClient } from "viem";
import type { DashboardConfig } from "./config.ts";
import type { Query } from "./graphql.ts";

export interface PageContext {
  q: Query;
  config: DashboardConfig;
  /** The chain (live head, receipts); null without an RPC URL. */
  chain: PublicClient | null;
}

export interface Page<T> {
  title: string;
  /** Loads everything the page shows (re-run when the indexed block moves). */
  load(ctx: PageContext, params: readonly string[]): Promise<T>;
  view(data: T, ctx: PageContext, params: readonly string[]): TemplateResult;
}

/** Type-erases a page for the router's table. */
export const page = <T>(p: Page<T>): Page<unknown> => p as Page<unknown>;
