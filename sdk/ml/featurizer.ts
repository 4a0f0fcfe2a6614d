/**
 * Versioned featurizers, implemented once and shared by training, devices and evaluation.
 *
 * `text/hashed-bow` version 1 ("hashed-bow-v1"), exactly:
 * 1. `text.normalize("NFKC").toLowerCase()`;
 * 2. tokens are the maximal runs of Unicode letters or digits (`/[\p{L}\p{N}]+/gu`); tokens longer
 *    than `maxTokenLength` code units are dropped; only the first `maxTokens` kept tokens are used;
 * 3. terms are every unigram `t` and (when `ngramMax = 2`) every bigram `t1 + " " + t2` of adjacent
 *    kept tokens;
 * 4. bucket = `murmur3_32(utf8(term), seed 0) mod buckets` (MurmurHash3 x86 32-bit, unsigned);
 * 5. weight of a bucket = `log1p(count)` where count sums all terms hashed there;
 * 6. the vector is L2-normalised (an empty text gives the zero vector).
 */
import { z } from "zod";
import { murmur3_32 } from "./murmur3.ts";

const encoder = new TextEncoder();

export const featurizerSpecSchema = z.object({
  id: z.string().min(1),
  version: z.number().int().positive(),
  params: z.record(z.string(), z.unknown()),
});
export type FeaturizerSpec = z.infer<typeof featurizerSpecSchema>;

export interface Featurizer {
  readonly spec: FeaturizerSpec;
  /** Length of every feature vector. */
  readonly dim: number;
  /** Dense feature vector of one text. */
  featurize(text: string): Float32Array;
}

export class UnknownFeaturizerError extends Error {
  override readonly name = "UnknownFeaturizerError";
  readonly id: string;
  readonly version: number;
  constructor(id: string, version: number) {
    super(`unknown featurizer "${id}" version ${version}; known: ${knownFeaturizers().join(", ")}`);
    this.id = id;
    this.version = version;
  }
}

export class InvalidFeaturizerParamsError extends Error {
  override readonly name = "InvalidFeaturizerParamsError";
}

export const HASHED_BOW_ID = "text/hashed-bow";
export const HASHED_BOW_VERSION = 1;

export const hashedBowParamsSchema = z.strictObject({
  buckets: z
    .number()
    .int()
    .min(2)
    .max(1 << 20),
  ngramMax: z.union([z.literal(1), z.literal(2)]),
  maxTokenLength: z.number().int().min(1).max(1024),
  maxTokens: z.number().int().min(1),
  hash: z.literal("murmur3_32/seed0/utf8"),
  weighting: z.literal("log1p"),
  normalization: z.literal("l2"),
});
export type HashedBowParams = z.infer<typeof hashedBowParamsSchema>;

export const DEFAULT_HASHED_BOW_PARAMS: HashedBowParams = {
  buckets: 4096,
  ngramMax: 2,
  maxTokenLength: 40,
  maxTokens: 5000,
  hash: "murmur3_32/seed0/utf8",
  weighting: "log1p",
  normalization: "l2",
};

/** The default `text/hashed-bow@1` spec, as it appears in a package manifest. */
export function hashedBowSpec(params: Partial<HashedBowParams> = {}): FeaturizerSpec {
  return {
    id: HASHED_BOW_ID,
    version: HASHED_BOW_VERSION,
    params: { ...DEFAULT_HASHED_BOW_PARAMS, ...params },
  };
}

const TOKEN = /[\p{L}\p{N}]+/gu;

/** Step 1–2 of the spec: the kept tokens of a text. */
export function tokenize(text: string, maxTokenLength: number, maxTokens: number): string[] {
  const out: string[] = [];
  for (const m of text.normalize("NFKC").toLowerCase().matchAll(TOKEN)) {
    const t = m[0];
    if (t.length > maxTokenLength) continue;
    out.push(t);
    if (out.length >= maxTokens) break;
  }
  return out;
}

class HashedBow implements Featurizer {
  readonly spec: FeaturizerSpec;
  readonly dim: number;
  readonly #p: HashedBowParams;
  /** Scratch UTF-8 buffer: a bigram of two maximal tokens is at most 2·3·maxTokenLength + 1 bytes. */
  readonly #buf: Uint8Array;

  constructor(params: HashedBowParams) {
    this.#p = params;
    this.dim = params.buckets;
    this.#buf = new Uint8Array(6 * params.maxTokenLength + 1);
    this.spec = { id: HASHED_BOW_ID, version: HASHED_BOW_VERSION, params: { ...params } };
  }

  /** Bucket of the term `a` (unigram) or `a + " " + b` (bigram), hashing its UTF-8 in place. */
  #bucket(a: string, b?: string): number {
    const buf = this.#buf;
    let len = encoder.encodeInto(a, buf).written;
    if (b !== undefined) {
      buf[len] = 0x20;
      len += 1 + encoder.encodeInto(b, buf.subarray(len + 1)).written;
    }
    return murmur3_32(buf, 0, len) % this.#p.buckets;
  }

  featurize(text: string): Float32Array {
    const { buckets, ngramMax, maxTokenLength, maxTokens } = this.#p;
    const tokens = tokenize(text, maxTokenLength, maxTokens);
    const counts = new Float64Array(buckets);
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i] as string;
      const u = this.#bucket(t);
      counts[u] = (counts[u] ?? 0) + 1;
      if (ngramMax === 2 && i + 1 < tokens.length) {
        const b = this.#bucket(t, tokens[i + 1] as string);
        counts[b] = (counts[b] ?? 0) + 1;
      }
    }
    let norm = 0;
    for (let i = 0; i < buckets; i++) {
      const c = counts[i] ?? 0;
      if (c > 0) {
        const w = Math.log1p(c);
        counts[i] = w;
        norm += w * w;
      }
    }
    const out = new Float32Array(buckets);
    if (norm > 0) {
      const inv = 1 / Math.sqrt(norm);
      for (let i = 0; i < buckets; i++) out[i] = (counts[i] ?? 0) * inv;
    }
    return out;
  }
}

type Factory = (params: Record<string, unknown>) => Featurizer;

const REGISTRY = new Map<string, Factory>([
  [
    `${HASHED_BOW_ID}@${HASHED_BOW_VERSION}`,
    (params) => {
      const parsed = hashedBowParamsSchema.safeParse(params);
      if (!parsed.success) {
        throw new InvalidFeaturizerParamsError(
          `invalid params for ${HASHED_BOW_ID}@${HASHED_BOW_VERSION}: ${z.prettifyError(parsed.error)}`,
        );
      }
      return new HashedBow(parsed.data);
    },
  ],
]);

/** Registered featurizers as `id@version`. */
export function knownFeaturizers(): string[] {
  return [...REGISTRY.keys()];
}

/**
 * The featurizer a spec names, configured with its params.
 * @throws UnknownFeaturizerError for an unregistered id/version
 * @throws InvalidFeaturizerParamsError for params the featurizer rejects
 */
export function getFeaturizer(spec: FeaturizerSpec): Featurizer {
  const factory = REGISTRY.get(`${spec.id}@${spec.version}`);
  if (!factory) throw new UnknownFeaturizerError(spec.id, spec.version);
  return factory(spec.params);
}
