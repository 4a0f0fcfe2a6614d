/**
 * The entities one block writes, over the committed head: graph-node's `EntityCache` semantics. `store.set` merges
 * the given fields into the current entity (a null removes a field), checks the result against the schema
 * (`Entity::validate`: types, non-null fields, derived fields; from apiVersion 0.0.8 an undefined field is an error,
 * before it is dropped), refuses an id that disagrees with the key and refuses to change an immutable entity that an
 * earlier block wrote; `store.get` sees this block's writes first.
 */
import { bytesToHex, hexToBytes, isHex } from "viem";
import type { Entity, EntityChange, HeadState, Value } from "../types.ts";
import { DeterministicHostError } from "./errors.ts";
import type { EntityDef, FieldDef, ScalarKind, SubgraphSchema } from "./schema.ts";

/** A head that can also list the entities whose `field` references `id` (for `store.loadRelated`). */
export interface RelatedHeadState extends HeadState {
  related(entityType: string, field: string, id: string): readonly Entity[];
}

const isRelatedHead = (h: HeadState): h is RelatedHeadState =>
  typeof (h as Partial<RelatedHeadState>).related === "function";

const typeName = (v: Value): string => {
  switch (v.kind) {
    case "Bool":
      return "Boolean";
    case "List":
      return "List";
    default:
      return v.kind;
  }
};

export function displayValue(v: Value): string {
  switch (v.kind) {
    case "Null":
      return "null";
    case "Bytes":
      return bytesToHex(v.value);
    case "List":
      return `[${v.value.map(displayValue).join(", ")}]`;
    default:
      return String(v.value);
  }
}

const fieldTypeName = (f: FieldDef) => {
  const base = f.reference ?? (f.kind === "Bool" ? "Boolean" : f.kind);
  return f.list ? `[${base}!]${f.nonNull ? "!" : ""}` : `${base}${f.nonNull ? "!" : ""}`;
};

const assignable = (v: Value, kind: ScalarKind, list: boolean): boolean => {
  if (v.kind === "Null") return true;
  if (v.kind === "List") return list && v.value.every((x) => assignable(x, kind, false));
  return v.kind === kind;
};

/** The key string of an id value: hex for Bytes, decimal for Int8. */
export const idString = (v: Value): string | null =>
  v.kind === "String"
    ? v.value
    : v.kind === "Bytes"
      ? bytesToHex(v.value)
      : v.kind === "Int8"
        ? v.value.toString()
        : null;

function validate(def: EntityDef, id: string, e: Entity): string | null {
  for (const f of def.fields.values()) {
    const v = e.get(f.name);
    if (v !== undefined && !f.derived) {
      if (f.list && v.kind === "List") {
        const bad = v.value.findIndex((x) => !assignable(x, f.kind, false));
        if (bad >= 0)
          return `Entity ${def.name}[${id}]: field \`${f.name}\` is of type ${fieldTypeName(f)}, but the value \`${displayValue(v)}\` contains a ${typeName(v.value[bad]!)} at index ${bad}`;
      }
      if (!assignable(v, f.kind, f.list))
        return `Entity ${def.name}[${id}]: the value \`${displayValue(v)}\` for field \`${f.name}\` must have type ${fieldTypeName(f)} but has type ${typeName(v)}`;
    } else if (v === undefined && !f.derived) {
      if (f.nonNull)
        return `Entity ${def.name}[${id}]: missing value for non-nullable field \`${f.name}\``;
    } else if (v !== undefined && f.derived) {
      return `Entity ${def.name}[${id}]: field \`${f.name}\` is derived and cannot be set`;
    }
  }
  return null;
}

const keyOf = (entityType: string, id: string) => `${entityType}\u0000${id}`;

interface Write {
  readonly entityType: string;
  readonly id: string;
  readonly data: Entity | null;
  /**
   * Fields a `set` in this block cleared with a null (absent from `data`, as graph-node's merge removes them): the
   * change tells the store so, since it merges a write over the version it holds.
   */
  readonly cleared?: ReadonlySet<string>;
}

export class BlockState {
  readonly #schema: SubgraphSchema;
  readonly #head: HeadState;
  /** apiVersion ≥ 0.0.8: setting a field the schema does not define is an error (before, it is dropped). */
  strictFields = true;
  /** Last write per key; Map order = order of the last write. */
  readonly #writes = new Map<string, Write>();

  constructor(schema: SubgraphSchema, head: HeadState) {
    this.#schema = schema;
    this.#head = head;
  }

  #def(entityType: string, op: string): EntityDef {
    const def = this.#schema.entities.get(entityType);
    if (!def)
      throw new DeterministicHostError(
        `store.${op}: entity type \`${entityType}\` is not defined in the schema`,
      );
    return def;
  }

  /** Normalises a key id as graph-node parses it for the type's id kind (Bytes ids: lower-case hex). */
  #keyId(def: EntityDef, id: string): string {
    if (def.idKind === "Bytes") {
      if (!isHex(id, { strict: true }) || id.length % 2 !== 0)
        throw new DeterministicHostError(
          `Entity ${def.name}: id \`${id}\` is not a valid Bytes value`,
        );
      return id.toLowerCase();
    }
    if (def.idKind === "Int8") {
      if (!/^-?\d+$/.test(id))
        throw new DeterministicHostError(`Entity ${def.name}: id \`${id}\` is not an Int8`);
      return BigInt(id).toString();
    }
    return id;
  }

  #current(entityType: string, id: string): Entity | null {
    const w = this.#writes.get(keyOf(entityType, id));
    if (w) return w.data;
    return this.#head.get(entityType, id);
  }

  get(entityType: string, id: string): Entity | null {
    const def = this.#def(entityType, "get");
    return this.#current(entityType, this.#keyId(def, id));
  }

  getInBlock(entityType: string, id: string): Entity | null {
    const def = this.#def(entityType, "get_in_block");
    return this.#writes.get(keyOf(entityType, this.#keyId(def, id)))?.data ?? null;
  }

  loadRelated(entityType: string, id: string, field: string): Entity[] {
    const def = this.#def(entityType, "loadRelated");
    const f = def.fields.get(field);
    if (!f || !f.derived || !f.reference)
      throw new DeterministicHostError(
        `store.loadRelated: \`${entityType}.${field}\` is not a derived field of the schema`,
      );
    const target = this.#schema.entities.get(f.reference);
    if (!target)
      throw new DeterministicHostError(
        `store.loadRelated: \`${f.reference}\` is not an entity type (interfaces are not supported)`,
      );
    if (!isRelatedHead(this.#head))
      throw new DeterministicHostError(
        "store.loadRelated is not supported by this head state (it cannot list entities by field)",
      );
    const key = this.#keyId(def, id);
    const derivedFrom = f.derivedFrom ?? "";
    const refersTo = (e: Entity) => {
      const v = e.get(derivedFrom);
      if (!v) return false;
      const ids = v.kind === "List" ? v.value.map(idString) : [idString(v)];
      return ids.includes(key);
    };
    const out = new Map<string, Entity>();
    for (const e of this.#head.related(target.name, derivedFrom, key)) {
      const eid = idString(e.get("id") ?? { kind: "Null" });
      if (eid !== null) out.set(eid, e);
    }
    for (const w of this.#writes.values()) {
      if (w.entityType !== target.name) continue;
      if (w.data && refersTo(w.data)) out.set(w.id, w.data);
      else out.delete(w.id);
    }
    return [...out.values()];
  }

  set(entityType: string, rawId: string, data: ReadonlyMap<string, Value>): void {
    const def = this.#def(entityType, "set");
    const id = this.#keyId(def, rawId);
    const given = data.get("id");
    const fields = new Map(data);
    if (given !== undefined && given.kind !== "Null") {
      const givenId = idString(given);
      const expectedKind = def.idKind;
      if (given.kind !== expectedKind)
        throw new DeterministicHostError(
          `Attribute \`${entityType}.id\` has wrong type: expected ${expectedKind} but got ${typeName(given)}`,
        );
      if (givenId === null || this.#keyId(def, givenId) !== id)
        throw new DeterministicHostError(
          `Value of ${entityType} attribute 'id' conflicts with ID passed to \`store.set()\`: ${displayValue(given)} != ${id}`,
        );
    } else {
      fields.set(
        "id",
        def.idKind === "Bytes"
          ? { kind: "Bytes", value: hexToBytes(id as `0x${string}`) }
          : def.idKind === "Int8"
            ? { kind: "Int8", value: BigInt(id) }
            : { kind: "String", value: id },
      );
    }
    const undefinedFields = [...fields.keys()].filter((k) => !def.fields.has(k)).sort();
    if (undefinedFields.length > 0) {
      if (this.strictFields)
        throw new DeterministicHostError(
          `Attempted to set undefined fields [${undefinedFields.join(", ")}] for the entity type \`${entityType}\`. Make sure those fields are defined in the schema.`,
        );
      for (const k of undefinedFields) fields.delete(k);
    }
    const key = keyOf(entityType, id);
    const inBlock = this.#writes.get(key);
    if (def.immutable && !inBlock && this.#head.get(entityType, id) !== null)
      throw new DeterministicHostError(
        `Entity ${entityType}[${id}]: immutable entities cannot be updated (it was written in an earlier block)`,
      );
    const current = inBlock ? inBlock.data : this.#head.get(entityType, id);
    const merged = new Map(current ?? []);
    const cleared = new Set(inBlock?.cleared ?? []);
    for (const [k, v] of fields) {
      if (v.kind === "Null") {
        merged.delete(k);
        cleared.add(k);
      } else {
        merged.set(k, v);
        cleared.delete(k);
      }
    }
    // graph-node: the given fields may be valid on their own; otherwise the merged entity must be
    if (validate(def, id, fields) !== null) {
      const err = validate(def, id, merged);
      if (err !== null) throw new DeterministicHostError(err);
    }
    for (const k of [...merged.keys()]) if (def.fields.get(k)?.derived) merged.delete(k);
    this.#writes.delete(key);
    this.#writes.set(key, { entityType, id, data: merged, cleared });
  }

  remove(entityType: string, rawId: string): void {
    const def = this.#def(entityType, "remove");
    const id = this.#keyId(def, rawId);
    const key = keyOf(entityType, id);
    this.#writes.delete(key);
    this.#writes.set(key, { entityType, id, data: null });
  }

  /** The block's writes, one per entity, in the order of their last write. */
  changes(): EntityChange[] {
    return [...this.#writes.values()].map((w) => {
      if (!w.data) return { op: "remove", entityType: w.entityType, id: w.id };
      if (!w.cleared?.size) return { op: "set", entityType: w.entityType, id: w.id, data: w.data };
      const data = new Map(w.data);
      for (const k of w.cleared) data.set(k, { kind: "Null" });
      return { op: "set", entityType: w.entityType, id: w.id, data };
    });
  }
}
