/** `manifest.json` of an algorithm package (PROTOCOL.md §3), validated with zod wherever it is read. */
import { z } from "zod";
import { isCid } from "../ipfs/cid.ts";
import { featurizerSpecSchema } from "./featurizer.ts";
import { privacySpecSchema } from "../privacy/spec.ts";

export const MANIFEST_FILE = "manifest.json";
export const MODEL_FILE = "model.onnx";

const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;

/**
 * What a device feeds the featurizer: the named string fields of a record joined by `separator`.
 * The reference workload's emails are `{ subject, body }` joined by a newline.
 */
export const inputSchemaSchema = z.strictObject({
  type: z.literal("text-record"),
  fields: z.array(z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/)).min(1),
  separator: z.string().max(8),
});
export type InputSchema = z.infer<typeof inputSchemaSchema>;

/**
 * The model's confusion matrix on a public labelled control group, measured at packaging time (PROTOCOL.md §7.11):
 * the adjusted classify-and-count estimator corrects crowd estimates with it. Anyone can rebuild the set from
 * `source` and `recordsSha256`, run `model.onnx` on it and recount.
 */
export const controlGroupSchema = z.strictObject({
  /** How to rebuild the labelled set, e.g. the corpus and split that hold it. */
  source: z.string().min(1).max(500),
  /** Lowercase hex sha256 of the set's record ids, sorted, joined by "\n". */
  recordsSha256: z.string().regex(/^[0-9a-f]{64}$/, "64 lowercase hex digits"),
  /** `confusion[t][p]`: records of true label t predicted (argmax of the ONNX output) as p, `outputLabels` order. */
  confusion: z.array(z.array(z.number().int().nonnegative())),
});
export type ControlGroup = z.infer<typeof controlGroupSchema>;

export const manifestSchema = z.strictObject({
  /** Manifest format version. */
  schemaVersion: z.literal(1),
  name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, "lowercase name, 1-64 chars [a-z0-9._-]"),
  version: z.string().regex(SEMVER, "semantic version"),
  task: z.literal("text-classification"),
  description: z.string().max(2000).optional(),
  featurizer: featurizerSpecSchema,
  inputSchema: inputSchemaSchema,
  /** Model output index `k` is the probability of `outputLabels[k]`. */
  outputLabels: z.array(z.string().min(1).max(64)).min(2),
  /** SPDX identifier or licence name. */
  licence: z.string().min(1).max(200),
  /** Lowercase hex sha256 of `model.onnx` (also recorded on-chain in the marketplace). */
  modelSha256: z.string().regex(/^[0-9a-f]{64}$/, "64 lowercase hex digits"),
  /** CID of the parent package for fine-tuned versions. */
  parent: z.string().refine(isCid, "a CID").optional(),
  /** The model's confusion matrix on the public control group (for adjusted estimates). */
  controlGroup: controlGroupSchema.optional(),
  /** Distributed DP noise every device adds to its result vector (docs/privacy.md); absent → no noise. */
  privacy: privacySpecSchema.optional(),
});
export type Manifest = z.infer<typeof manifestSchema>;

/** The text a featurizer sees for a record under `schema`. Missing fields read as "". */
export function recordText(
  schema: InputSchema,
  record: Readonly<Record<string, string | undefined>>,
): string {
  return schema.fields.map((f) => record[f] ?? "").join(schema.separator);
}

/** The reference workload's input schema: `subject + "\n" + body`. */
export const EMAIL_INPUT_SCHEMA: InputSchema = {
  type: "text-record",
  fields: ["subject", "body"],
  separator: "\n",
};
