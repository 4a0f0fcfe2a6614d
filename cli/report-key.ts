/**
 * The customer's report key file: `{ "version": 1, "secretKey": "0x…", "publicKey": "0x…" }`, mode 0600. `dml job
 * create --report-key <file>` writes a new one when the file does not exist (never overwrites) and `dml report
 * decrypt --key <file>` reads it. The secret key never leaves the file and this process.
 */
import { open, readFile } from "node:fs/promises";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { bytesToHex, hexToBytes, type Hex } from "viem";
import { z } from "zod";
import { CliError } from "#sdk/cli/errors.ts";
import { reportKeyPair } from "#sdk/crypto/report.ts";

const keyFileSchema = z.strictObject({
  version: z.literal(1),
  secretKey: z.string().regex(/^0x[0-9a-fA-F]{64}$/),
  publicKey: z.string().regex(/^0x[0-9a-fA-F]{66}$/),
});

export interface ReportKey {
  secretKey: Uint8Array;
  publicKey: Hex;
}

export async function readReportKey(file: string): Promise<ReportKey> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    throw new CliError("REPORT_KEY", `cannot read the report key ${file}`, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const parsed = keyFileSchema.safeParse(json);
  if (!parsed.success) throw new CliError("REPORT_KEY", `${file} is not a dml report key file`);
  const secretKey = hexToBytes(parsed.data.secretKey as Hex);
  const publicKey = bytesToHex(secp256k1.getPublicKey(secretKey, true));
  if (publicKey !== parsed.data.publicKey.toLowerCase())
    throw new CliError("REPORT_KEY", `${file}: the public key is not the secret key's`);
  return { secretKey, publicKey };
}

/** Reads the key in `file`, or creates it (exclusively, mode 0600) when there is none. */
export async function loadOrCreateReportKey(
  file: string,
): Promise<ReportKey & { created: boolean }> {
  const kp = reportKeyPair();
  let fh;
  try {
    fh = await open(file, "wx", 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST")
      return { ...(await readReportKey(file)), created: false };
    throw new CliError("REPORT_KEY", `cannot create the report key ${file}`, { cause: e });
  }
  try {
    await fh.writeFile(
      `${JSON.stringify({ version: 1, secretKey: bytesToHex(kp.secretKey), publicKey: kp.publicKey })}\n`,
    );
    await fh.sync();
  } finally {
    await fh.close();
  }
  return { ...kp, created: true };
}
