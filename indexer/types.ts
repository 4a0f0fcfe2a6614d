/**
 * The contract between the local graph host's WebAssembly runtime (`indexer/runtime/`) and its entity store
 * (`indexer/store/`). Values mirror graph-node's `store::Value` (graph/src/data/store/mod.rs); an entity is the
 * field → value map a mapping hands to `store.set`.
 *
 * Handlers run synchronously inside WebAssembly, so `store.get` cannot wait for a database: the store keeps the
 * latest version of every entity in memory ({@link HeadState}), the runtime reads it and collects the block's writes
 * in its own cache, and the indexer commits them as one block ({@link BlockChanges}) to the versioned store.
 */

/** One field value, as graph-node's `Value` enum. */
export type Value =
  | { readonly kind: "String"; readonly value: string }
  | { readonly kind: "Int"; readonly value: number }
  | { readonly kind: "Int8"; readonly value: bigint }
  /** Canonical decimal string as graph-node prints a BigDecimal (no exponent, trailing zeros removed). */
  | { readonly kind: "BigDecimal"; readonly value: string }
  | { readonly kind: "Bool"; readonly value: boolean }
  | { readonly kind: "List"; readonly value: readonly Value[] }
  | { readonly kind: "Null" }
  | { readonly kind: "Bytes"; readonly value: Uint8Array }
  | { readonly kind: "BigInt"; readonly value: bigint }
  /** Microseconds since the epoch, as graph-node's `Timestamp`. */
  | { readonly kind: "Timestamp"; readonly value: bigint };

/** An entity's data: field name → value. Always contains `id`. */
export type Entity = ReadonlyMap<string, Value>;

/** A block the indexer has processed. */
export interface BlockPtr {
  readonly number: number;
  readonly hash: `0x${string}`;
  /** Seconds since the epoch. */
  readonly timestamp: bigint;
}

/** One write a mapping made in a block; the last write per (entityType, id) wins. */
export type EntityChange =
  | { readonly op: "set"; readonly entityType: string; readonly id: string; readonly data: Entity }
  | { readonly op: "remove"; readonly entityType: string; readonly id: string };

/** Everything the mappings wrote while handling one block, in the order written. */
export interface BlockChanges {
  readonly block: BlockPtr;
  readonly changes: readonly EntityChange[];
}

/** The latest committed version of every entity, readable synchronously (what `store.get` sees). */
export interface HeadState {
  get(entityType: string, id: string): Entity | null;
}
