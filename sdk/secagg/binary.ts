/**
 * Binary wire form of the masked-input message (round 2), the only large SecAgg message: JSON would carry the 4m-byte
 * vector as base64 (4m · 4/3 bytes). `POST /sessions/:id/masked` accepts it as `application/octet-stream`:
 *
 *   magic "DSAM" (4) ‖ format 1 (u8) ‖ round 2 (u8) ‖ 0 (u16) ‖ sessionId (32) ‖ sender (u32 BE) ‖
 *   signature (64, Ed25519) ‖ m (u32 BE) ‖ masked vector (m × u32 LE)
 *
 * a 112-byte header, so the message is 4m + 112 bytes. The signed bytes are unchanged (the canonical payload is the
 * same little-endian vector), so a message re-encoded from JSON to binary or back keeps its signature.
 */
import { bytesToHex } from "viem";
import type { Hex } from "viem";
import { SecAggError } from "./errors.ts";
import { wireSize } from "./messages.ts";
import type { MaskedInputBody, Signed } from "./messages.ts";

const MAGIC = [0x44, 0x53, 0x41, 0x4d]; // "DSAM"
const FORMAT = 1;
export const MASKED_BINARY_HEADER_BYTES = 112;
export const MASKED_BINARY_CONTENT_TYPE = "application/octet-stream";

/** Encodes a masked-input message (4m + 112 bytes). */
export function encodeMaskedBinary(msg: Signed<MaskedInputBody>): Uint8Array {
  const b = msg.body;
  const out = new Uint8Array(MASKED_BINARY_HEADER_BYTES + b.masked.byteLength);
  const dv = new DataView(out.buffer);
  out.set(MAGIC, 0);
  out[4] = FORMAT;
  out[5] = 2;
  out.set(Buffer.from(b.sessionId.slice(2), "hex"), 8);
  dv.setUint32(40, b.sender >>> 0);
  out.set(Buffer.from(msg.signature.slice(2), "hex"), 44);
  dv.setUint32(108, b.masked.length);
  out.set(new Uint8Array(b.masked.buffer, b.masked.byteOffset, b.masked.byteLength), 112);
  return out;
}

/**
 * Decodes an untrusted binary masked-input message. @throws SecAggError INVALID_MESSAGE (not such a message: wrong
 * magic, format, round, a zero sender or a truncated header) or WRONG_LENGTH (the declared length disagrees with the
 * body). The vector is copied into an aligned buffer.
 */
export function decodeMaskedBinary(bytes: Uint8Array): Signed<MaskedInputBody> {
  const bad = (m: string): never => {
    throw new SecAggError("INVALID_MESSAGE", `binary masked input: ${m}`);
  };
  if (bytes.length < MASKED_BINARY_HEADER_BYTES) bad("shorter than its header");
  if (MAGIC.some((x, i) => bytes[i] !== x)) bad("bad magic");
  if (bytes[4] !== FORMAT) bad(`unknown format ${bytes[4]}`);
  if (bytes[5] !== 2) bad(`round ${bytes[5]} is not the masked-input round`);
  if (bytes[6] !== 0 || bytes[7] !== 0) bad("reserved bytes are not zero");
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const sender = dv.getUint32(40);
  if (sender === 0) bad("sender 0");
  const m = dv.getUint32(108);
  if (bytes.length - MASKED_BINARY_HEADER_BYTES !== m * 4)
    throw new SecAggError(
      "WRONG_LENGTH",
      `binary masked input declares ${m} words but carries ${bytes.length - MASKED_BINARY_HEADER_BYTES} bytes`,
    );
  const masked = new Uint32Array(m);
  new Uint8Array(masked.buffer).set(bytes.subarray(MASKED_BINARY_HEADER_BYTES));
  return {
    body: {
      sessionId: bytesToHex(bytes.subarray(8, 40)),
      round: 2,
      sender,
      masked,
    },
    signature: bytesToHex(bytes.subarray(44, 108)) as Hex,
  };
}

/** Bytes of a message as the HTTP client sends it: binary for the masked input (round 2), JSON otherwise. */
export function transportSize(msg: Signed): number {
  return msg.body.round === 2
    ? MASKED_BINARY_HEADER_BYTES + msg.body.masked.byteLength
    : wireSize(msg);
}
