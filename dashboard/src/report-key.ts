/**
 * The customer's report key file: JSON `{ "secretKey": "0x…", "publicKey"?: "0x…", "jobId"?: "7" }` (what
 * `npm start` writes to `<data-dir>/demo/customer-report-key.json`) or a bare 0x-hex secret key. It is read in the
 * page only: nothing of it is sent anywhere.
 */
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { bytesToHex, hexToBytes } from "viem";
import { z } from "zod";

export class ReportKeyError extends Error {
  readonly code = "KEY_FILE_INVALID";
  constructor(message: string) {
    super(message);
    this.name = "ReportKeyError";
  }
}

const hex32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/, "a 32-byte 0x-hex secret key");
const keyFile = z.object({
  secretKey: hex32,
  publicKey: z
    .string()
    .regex(/^0x[0-9a-fA-F]{66}$/)
    .optional(),
  jobId: z.string().optional(),
});

export interface ReportKey {
  secretKey: Uint8Array;
  /** The compressed public key it derives (what `createJob` took as the job's encryptionKey). */
  publicKey: string;
}

export function parseReportKey(text: string): ReportKey {
  const t = text.trim();
  let secret: string;
  if (t.startsWith("{")) {
    let json: unknown;
    try {
      json = JSON.parse(t);
    } catch {
      throw new ReportKeyError("the key file is neither JSON nor a 0x-hex key");
    }
    const parsed = keyFile.safeParse(json);
    if (!parsed.success)
      throw new ReportKeyError(
        `the key file has no valid secretKey: ${parsed.error.issues[0]?.message ?? ""}`,
      );
    secret = parsed.data.secretKey;
  } else {
    const parsed = hex32.safeParse(t);
    if (!parsed.success) throw new ReportKeyError("the key file is neither JSON nor a 0x-hex key");
    secret = parsed.data;
  }
  const secretKey = hexToBytes(secret as `0x${string}`);
  let publicKey: string;
  try {
    publicKey = bytesToHex(secp256k1.getPublicKey(secretKey, true));
  } catch {
    throw new ReportKeyError("not a secp256k1 secret key");
  }
  return { secretKey, publicKey };
}
