/**
 * Live refresh: polls the subgraph's `_meta.block.number` and the chain's head every `pollMs`; `onChange` runs when
 * the indexed block moves (the page re-queries), `onHead` with every poll's figures (the header shows both).
 */
import { createPublicClient, http, type PublicClient } from "viem";
import { meta, type Query } from "./graphql.ts";

export interface Heads {
  /** The block the subgraph has indexed up to. */
  indexed: number | null;
  /** The chain's head (null without an RPC URL or when it does not answer). */
  chain: bigint | null;
  error: string | null;
}

export function chainClient(rpc: string | null): PublicClient | null {
  return rpc === null ? null : createPublicClient({ transport: http(rpc, { retryCount: 0 }) });
}

export function watchHeads(
  q: Query,
  chain: PublicClient | null,
  pollMs: number,
  onHeads: (h: Heads, indexedChanged: boolean) => void,
): () => void {
  let last: number | null = null;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const tick = async (): Promise<void> => {
    const h: Heads = { indexed: null, chain: null, error: null };
    try {
      h.indexed = (await q(meta, "{ _meta { block { number } } }"))._meta.block.number;
    } catch (e) {
      h.error = (e as Error).message;
    }
    if (chain !== null) {
      try {
        h.chain = await chain.getBlockNumber({ cacheTime: 0 });
      } catch {
        h.chain = null;
      }
    }
    if (stopped) return;
    const changed = h.indexed !== null && h.indexed !== last;
    if (h.indexed !== null) last = h.indexed;
    onHeads(h, changed);
    timer = setTimeout(() => void tick(), pollMs);
  };
  void tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
