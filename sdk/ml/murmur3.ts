/**
 * MurmurHash3 x86 32-bit (Austin Appleby, public domain algorithm) over bytes, returned as an
 * unsigned 32-bit integer. Same values as the reference C++ `MurmurHash3_x86_32` and scikit-learn's
 * `murmurhash3_32(..., positive=True)`. `len` hashes only the first `len` bytes (default: all).
 */
const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

export function murmur3_32(bytes: Uint8Array, seed = 0, len = bytes.length): number {
  let h = seed >>> 0;
  const blocks = len & ~3;
  for (let i = 0; i < blocks; i += 4) {
    let k =
      (bytes[i] ?? 0) |
      ((bytes[i + 1] ?? 0) << 8) |
      ((bytes[i + 2] ?? 0) << 16) |
      ((bytes[i + 3] ?? 0) << 24);
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = len & 3;
  if (tail > 0) {
    let k = 0;
    if (tail === 3) k ^= (bytes[blocks + 2] ?? 0) << 16;
    if (tail >= 2) k ^= (bytes[blocks + 1] ?? 0) << 8;
    k ^= bytes[blocks] ?? 0;
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
  }
  h ^= len;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const encoder = new TextEncoder();

/** {@link murmur3_32} of a string's UTF-8 encoding. */
export function murmur3_32_utf8(text: string, seed = 0): number {
  return murmur3_32(encoder.encode(text), seed);
}
