/**
 * Reorg detection for the relayer loop. Each tick starts by comparing the heads the relayer saw on earlier ticks
 * (number + hash, kept in the action queue's database, the newest 128) with the chain: when the newest one's hash is
 * no longer the chain's at that height, the blocks above the newest head still on the chain (the common ancestor)
 * were replaced. Every action that finished at a head above the ancestor is re-opened (`ActionQueue.reopenAfter`):
 * its transaction, or the state that made it moot, may be gone. The handlers check the chain before sending, so an
 * effect that survived is not repeated, and one that vanished is redone once on the new chain. Then the current
 * head is recorded.
 *
 * A reorg deeper than every remembered head re-opens everything that finished since the oldest of them.
 */
import type { ChainPublicClient } from "#sdk/chain/clients.ts";
import type { Action, ActionQueue, Head } from "./action-queue.ts";

export interface ReorgEvent {
  /** The newest remembered head that is no longer on the chain. */
  stale: Head;
  /** The newest remembered head still on the chain (or the oldest remembered height minus one). */
  ancestor: bigint;
  reopened: Action[];
}

/** The chain reads the guard needs (a viem public client has them). */
export type HeadReader = Pick<ChainPublicClient, "getBlock" | "getBlockNumber">;

export class ReorgGuard {
  private readonly client: HeadReader;
  private readonly queue: ActionQueue;
  private readonly keep: number;
  /** The head this guard saw and recorded last (this process). */
  private last: Head | undefined;

  constructor(client: HeadReader, queue: ActionQueue, keep = 128) {
    this.client = client;
    this.queue = queue;
    this.keep = keep;
  }

  /**
   * Records the chain's head now and returns its number: called when an action finishes (its `finishedBlock`), so
   * the head its effect is in is remembered, and a reorg that replaces it is seen even when the chain's new branch
   * is shorter and its other remembered heads survived.
   */
  async headNumber(): Promise<bigint> {
    const head = await this.client.getBlock({ blockTag: "latest" });
    if (head.number === null || head.hash === null)
      return this.client.getBlockNumber({ cacheTime: 0 });
    await this.record({ block: head.number, hash: head.hash.toLowerCase() });
    return head.number;
  }

  /** The head seen and recorded by the last `check` or `headNumber` of this guard (undefined before the first). */
  get head(): Head | undefined {
    return this.last;
  }

  private async record(head: Head): Promise<void> {
    if (this.last?.block === head.block && this.last.hash === head.hash) return;
    await this.queue.recordHead(head, this.keep);
    this.last = head;
  }

  /**
   * Detects a reorg since the last check (re-opening the actions above the ancestor), then records the head. A head
   * equal (number and hash) to the one this guard recorded last needs no check: a block's hash commits to every
   * block below it, and every remembered head is at or below that one.
   */
  async check(): Promise<ReorgEvent | undefined> {
    const latest = await this.client.getBlock({ blockTag: "latest" });
    const now =
      latest.number === null || latest.hash === null
        ? undefined
        : { block: latest.number, hash: latest.hash.toLowerCase() };
    if (now !== undefined && this.last?.block === now.block && this.last.hash === now.hash)
      return undefined;
    const heads = await this.queue.heads();
    let event: ReorgEvent | undefined;
    const last = heads.at(-1);
    if (last !== undefined && (await this.hashAt(last.block)) !== last.hash) {
      let ancestor = heads[0]!.block - 1n;
      for (let i = heads.length - 2; i >= 0; i--) {
        const h = heads[i]!;
        if ((await this.hashAt(h.block)) === h.hash) {
          ancestor = h.block;
          break;
        }
      }
      const reopened = await this.queue.reopenAfter(
        ancestor,
        `chain reorganised above block ${ancestor} (block ${last.block} was replaced): re-checking on the new chain`,
      );
      event = { stale: last, ancestor, reopened };
    }
    if (now === undefined) await this.headNumber();
    else await this.record(now);
    return event;
  }

  private async hashAt(block: bigint): Promise<string | undefined> {
    try {
      return (await this.client.getBlock({ blockNumber: block })).hash?.toLowerCase();
    } catch {
      return undefined; // the chain is shorter than it was
    }
  }
}
