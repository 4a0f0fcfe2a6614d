/**
 * Fixed-point encoding of real vectors into Z_2^32 (the same idea as Flower's SecAgg+ quantisation).
 *
 * A value x is clipped to [−clip, clip], quantised to q = round(x · scale) ∈ [−offset, offset] with
 * offset = round(clip · scale), and sent as e = q + offset ∈ [0, 2 · offset]. The sum of N encodings lies in
 * [0, 2 · offset · N], so as long as 2 · offset · maxClients ≤ 2^32 − 1 the sum in Z_2^32 never wraps and decodes
 * exactly: Σx ≈ (Σe − N · offset) / scale, where N is the number of surviving clients (reported by the server).
 * When `scale` is not given it is the largest power of two that satisfies the bound, so binary fractions (and all
 * integer counts, whenever scale ≥ 1) decode without rounding error.
 */
import { SecAggError } from "./errors.ts";

export interface FixedPointEncoding {
  clip: number;
  scale: number;
  offset: number;
  maxClients: number;
}

const U32_MAX = 0xffffffff;

export function makeEncoding(opts: {
  clip: number;
  maxClients: number;
  scale?: number;
}): FixedPointEncoding {
  const { clip, maxClients } = opts;
  if (!(clip > 0) || !Number.isFinite(clip))
    throw new SecAggError("INVALID_CONFIG", "clip must be a positive number");
  if (!Number.isInteger(maxClients) || maxClients < 1) {
    throw new SecAggError("INVALID_CONFIG", "maxClients must be a positive integer");
  }
  let scale = opts.scale;
  if (scale === undefined) {
    // largest power of two with 2 · round(clip · scale) · maxClients ≤ 2^32 − 1
    scale = 2 ** Math.floor(Math.log2(U32_MAX / (2 * clip * maxClients)));
    while (2 * Math.round(clip * scale) * maxClients > U32_MAX) scale /= 2;
  }
  if (!(scale > 0) || !Number.isFinite(scale))
    throw new SecAggError("INVALID_CONFIG", "scale must be positive");
  const offset = Math.round(clip * scale);
  if (offset < 1)
    throw new SecAggError("INVALID_CONFIG", "clip · scale rounds to 0: no precision left");
  if (2 * offset * maxClients > U32_MAX) {
    throw new SecAggError(
      "INVALID_CONFIG",
      `2·clip·scale·maxClients = ${2 * offset * maxClients} overflows 2^32`,
    );
  }
  return { clip, scale, offset, maxClients };
}

/** Encodes `x` (clipped, quantised, offset) into `out` (allocated when absent). NaN encodes as 0. */
export function encodeVector(
  x: ArrayLike<number>,
  enc: FixedPointEncoding,
  out?: Uint32Array,
): Uint32Array {
  const res = out ?? new Uint32Array(x.length);
  if (res.length !== x.length)
    throw new SecAggError("WRONG_LENGTH", `output length ${res.length} ≠ ${x.length}`);
  const { scale, offset } = enc;
  for (let i = 0; i < x.length; i++) {
    let q = Math.round(x[i]! * scale);
    if (!(q >= -offset))
      q = q > 0 ? offset : q !== q ? 0 : -offset; // NaN → 0, −∞/too small → −offset
    else if (q > offset) q = offset;
    res[i] = q + offset;
  }
  return res;
}

/** Decodes a Z_2^32 sum of `count` encodings back to reals. */
export function decodeSum(sum: Uint32Array, count: number, enc: FixedPointEncoding): Float64Array {
  if (count > enc.maxClients)
    throw new SecAggError("INVALID_CONFIG", `count ${count} exceeds maxClients`);
  const out = new Float64Array(sum.length);
  const base = count * enc.offset;
  for (let i = 0; i < sum.length; i++) out[i] = (sum[i]! - base) / enc.scale;
  return out;
}
