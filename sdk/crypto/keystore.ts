/**
 * A signing key kept only as a Web3 Secret Storage v3 keystore (scrypt + AES-128-CTR, `@ethereumjs/wallet`): the
 * device runner's key and every relayer's operator key. The decrypted key lives in memory as a viem account (with its
 * derived SecAgg session key, session-key.ts) and is never written or logged.
 */
import { randomBytes } from "node:crypto";
import { link, mkdir, open, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { Wallet } from "@ethereumjs/wallet";
import { bytesToHex, hexToBytes, type Hex } from "viem";
import { deviceAccount, type DeviceAccount } from "#sdk/crypto/session-key.ts";
import { z } from "zod";

export type KeystoreErrorCode =
  "KEYSTORE_MISSING" | "KEYSTORE_EXISTS" | "KEYSTORE_INVALID" | "WRONG_PASSWORD" | "WEAK_PASSWORD";

/** A keystore cannot be created or unlocked; `code` says why. */
export class KeystoreError extends Error {
  readonly code: KeystoreErrorCode;
  constructor(code: KeystoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "KeystoreError";
    this.code = code;
  }
}

/** scrypt cost. N = 2^17 (the geth "standard" setting) by default; tests use 2^12. */
export const scryptParamsSchema = z.strictObject({
  n: z
    .number()
    .int()
    .min(2 ** 10)
    .max(2 ** 20)
    .refine((n) => (n & (n - 1)) === 0, "n must be a power of two"),
  r: z.number().int().min(1).max(32),
  p: z.number().int().min(1).max(16),
});
export type ScryptParams = z.infer<typeof scryptParamsSchema>;
export const DEFAULT_SCRYPT: ScryptParams = { n: 2 ** 17, r: 8, p: 1 };
/** Cheap but real parameters for tests and throwaway simulated devices. */
export const LIGHT_SCRYPT: ScryptParams = { n: 2 ** 12, r: 8, p: 1 };

const keystoreSchema = z.looseObject({
  version: z.literal(3),
  id: z.string(),
  address: z.string().regex(/^[0-9a-fA-F]{40}$/),
  crypto: z.looseObject({
    cipher: z.string(),
    ciphertext: z.string(),
    kdf: z.enum(["scrypt", "pbkdf2"]),
    mac: z.string(),
  }),
});

/** The shortest keystore password accepted (scrypt slows guessing; it cannot save a 4-character password). */
export const MIN_PASSWORD_LENGTH = 8;

/** @throws KeystoreError WEAK_PASSWORD (one line naming the rule, never a validation dump) */
export function checkKeystorePassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH)
    throw new KeystoreError(
      "WEAK_PASSWORD",
      `keystore password: must have at least ${MIN_PASSWORD_LENGTH} characters (it has ${password.length})`,
    );
}

export async function encryptKey(
  privateKey: Hex,
  password: string,
  scrypt: ScryptParams = DEFAULT_SCRYPT,
): Promise<string> {
  checkKeystorePassword(password);
  const p = scryptParamsSchema.parse(scrypt);
  const wallet = Wallet.fromPrivateKey(hexToBytes(privateKey));
  return JSON.stringify(await wallet.toV3(password, { kdf: "scrypt", n: p.n, r: p.r, p: p.p }));
}

/**
 * Creates a keystore at `file` from a fresh random key (or `importKey`). Refuses to overwrite an existing one: the
 * JSON is written and fsynced to a temporary sibling, then hard-linked into place (`link` fails if `file` exists, so
 * the check and the write are one atomic step and a crash never leaves a half-written keystore).
 */
export async function createKeystore(
  file: string,
  password: string,
  opts: { importKey?: Hex; scrypt?: ScryptParams } = {},
): Promise<DeviceAccount> {
  let key: Hex;
  if (opts.importKey !== undefined) {
    if (!/^0x[0-9a-fA-F]{64}$/.test(opts.importKey))
      throw new KeystoreError("KEYSTORE_INVALID", "the imported key must be 32 bytes of 0x-hex");
    key = opts.importKey.toLowerCase() as Hex;
  } else {
    key = bytesToHex(Wallet.generate().getPrivateKey());
  }
  const account = deviceAccount(key);
  const json = await encryptKey(key, password, opts.scrypt);
  await writeExclusive(file, json + "\n");
  return account;
}

async function writeExclusive(file: string, data: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
  const fh = await open(tmp, "wx", 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
    await link(tmp, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST")
      throw new KeystoreError("KEYSTORE_EXISTS", `a keystore already exists at ${file}`);
    throw e;
  } finally {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
  }
}

/** Decrypts the keystore. @throws KeystoreError KEYSTORE_MISSING | KEYSTORE_INVALID | WRONG_PASSWORD */
export async function unlockKeystore(file: string, password: string): Promise<DeviceAccount> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw new KeystoreError(
      "KEYSTORE_MISSING",
      `no keystore at ${file} (create one with \`dml-device wallet create\` or \`dml-relayer keystore create\`)`,
    );
  }
  let parsed: z.infer<typeof keystoreSchema>;
  try {
    parsed = keystoreSchema.parse(JSON.parse(text));
  } catch (e) {
    throw new KeystoreError("KEYSTORE_INVALID", `${file} is not a v3 keystore`, { cause: e });
  }
  let wallet: Wallet;
  try {
    wallet = await Wallet.fromV3(parsed as never, password);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (/passphrase/i.test(msg))
      throw new KeystoreError("WRONG_PASSWORD", "wrong keystore password");
    throw new KeystoreError("KEYSTORE_INVALID", `cannot decrypt ${file}: ${msg}`, { cause: e });
  }
  return deviceAccount(bytesToHex(wallet.getPrivateKey()));
}

/** The keystore's address without decrypting it. */
export async function keystoreAddress(file: string): Promise<Hex> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw new KeystoreError(
      "KEYSTORE_MISSING",
      `no keystore at ${file} (create one with \`dml-device wallet create\` or \`dml-relayer keystore create\`)`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const parsed = keystoreSchema.safeParse(json);
  if (!parsed.success) throw new KeystoreError("KEYSTORE_INVALID", `${file} is not a v3 keystore`);
  return `0x${parsed.data.address.toLowerCase()}` as Hex;
}
