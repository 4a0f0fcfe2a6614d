/** Test helper: the head state as a plain map, updated with each block's changes (what indexer/store will keep). */
import type { BlockChanges, Entity, HeadState } from "../../../indexer/types.ts";

export class MemoryHead implements HeadState {
  readonly entities = new Map<string, Map<string, Entity>>();

  get(entityType: string, id: string): Entity | null {
    return this.entities.get(entityType)?.get(id) ?? null;
  }

  all(entityType: string): Entity[] {
    return [...(this.entities.get(entityType)?.values() ?? [])];
  }

  apply(block: BlockChanges): void {
    for (const c of block.changes) {
      let m = this.entities.get(c.entityType);
      if (!m) this.entities.set(c.entityType, (m = new Map()));
      if (c.op === "set") m.set(c.id, c.data);
      else m.delete(c.id);
    }
  }
}
