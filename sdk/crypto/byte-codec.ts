/**
 * Bounds-checked big-endian byte writer and reader for the binary formats of transcript v2 and sealed envelopes. The
 * reader never allocates more than it has read: every length is checked against the bytes left before it is used,
 * and running out of bytes raises the caller's own typed error.
 */

export class ByteWriter {
  private readonly parts: Uint8Array[] = [];
  private size = 0;

  get length(): number {
    return this.size;
  }

  raw(b: Uint8Array): this {
    this.parts.push(b);
    this.size += b.length;
    return this;
  }

  u8(v: number): this {
    return this.raw(Uint8Array.of(v & 0xff));
  }

  u32(v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, false);
    return this.raw(b);
  }

  /** u32 length ‖ bytes. */
  bytes(b: Uint8Array): this {
    return this.u32(b.length).raw(b);
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let off = 0;
    for (const p of this.parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }
}

export class ByteReader {
  private off = 0;
  private readonly view: DataView;

  private readonly buf: Uint8Array;
  private readonly truncated: (what: string) => Error;

  /** `truncated(what)` builds the error thrown when the input ends inside `what`. */
  constructor(buf: Uint8Array, truncated: (what: string) => Error) {
    this.buf = buf;
    this.truncated = truncated;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get remaining(): number {
    return this.buf.length - this.off;
  }

  /** Throws the truncation error unless `n` more bytes are available. */
  need(n: number, what: string): void {
    if (!(n <= this.remaining)) throw this.truncated(what);
  }

  /** A view of the next `n` bytes (no copy). */
  raw(n: number, what: string): Uint8Array {
    this.need(n, what);
    const out = this.buf.subarray(this.off, this.off + n);
    this.off += n;
    return out;
  }

  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.off++]!;
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.off, false);
    this.off += 4;
    return v;
  }

  /** u32 length ‖ bytes, copied (so later mutation of the input cannot change the result). */
  bytes(what: string): Uint8Array {
    const n = this.u32(what);
    return this.raw(n, what).slice();
  }

  /** A count of items each at least `minItemBytes` long: refused early when the input cannot hold them. */
  count(what: string, minItemBytes: number): number {
    const n = this.u32(what);
    this.need(n * minItemBytes, `${what} (${n} items)`);
    return n;
  }
}
