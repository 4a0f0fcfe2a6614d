/** `JSONValue` (graph-ts) in AssemblyScript memory, written from a parsed JSON tree; numbers keep their text. */
import { TypeId, type AscHeap } from "./asc-heap.ts";
import type { JsonNode } from "./json-text.ts";

export const JsonValueKind = {
  Null: 0,
  Bool: 1,
  Number: 2,
  String: 3,
  Array: 4,
  Object: 5,
} as const;

export function writeJsonValue(heap: AscHeap, n: JsonNode): number {
  const e = (kind: number, payload: number) =>
    heap.newEnum(TypeId.JsonValue, kind, BigInt(payload));
  switch (n.kind) {
    case "null":
      return e(JsonValueKind.Null, 0);
    case "bool":
      return e(JsonValueKind.Bool, n.value ? 1 : 0);
    case "number":
      return e(JsonValueKind.Number, heap.newString(n.text));
    case "string":
      return e(JsonValueKind.String, heap.newString(n.value));
    case "array":
      return e(
        JsonValueKind.Array,
        heap.newArrayU32(
          TypeId.ArrayJsonValue,
          n.items.map((i) => writeJsonValue(heap, i)),
        ),
      );
    case "object": {
      const entries = n.entries.map(([k, v]) =>
        heap.allocStruct(TypeId.TypedMapEntryStringJsonValue, [
          heap.newString(k),
          writeJsonValue(heap, v),
        ]),
      );
      const array = heap.newArrayU32(TypeId.ArrayTypedMapEntryStringJsonValue, entries);
      return e(JsonValueKind.Object, heap.allocStruct(TypeId.TypedMapStringJsonValue, [array]));
    }
  }
}
