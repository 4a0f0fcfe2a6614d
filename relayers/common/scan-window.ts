/**
 * The block range a role's reconcile scans for the events that open its work (`AttestorsDrawn`, `CohortAssigned`,
 * `AttestationFinalized`, …): everything from the first block on the first tick (one full scan per start: the open
 * set is rebuilt from the chain, never from local state), then only the new blocks plus a re-scan margin, so an event
 * that a shallow reorg moved to another block is still seen. After a deeper reorg (`onReorg`) the next range starts at
 * the common ancestor. Adding an already-open job again is harmless: the open sets are sets.
 */
export class ScanWindow {
  private readonly start: bigint;
  private readonly margin: bigint;
  private scannedTo: bigint | undefined;

  constructor(start: bigint, margin = 64n) {
    this.start = start;
    this.margin = margin;
  }

  /** The range to scan up to `head` (undefined when there is none); call `done(head)` once it was scanned. */
  next(head: bigint): { fromBlock: bigint; toBlock: bigint } | undefined {
    const from =
      this.scannedTo === undefined || this.scannedTo + 1n - this.margin <= this.start
        ? this.start
        : this.scannedTo + 1n - this.margin;
    return from <= head ? { fromBlock: from, toBlock: head } : undefined;
  }

  done(head: bigint): void {
    this.scannedTo = head;
  }

  /** After a reorg: the next range starts at the ancestor (minus the margin). */
  onReorg(ancestor: bigint): void {
    if (this.scannedTo !== undefined && this.scannedTo > ancestor) this.scannedTo = ancestor;
  }
}
