/**
 * The device key, kept only as a Web3 Secret Storage v3 keystore (scrypt + AES-128-CTR, `@ethereumjs/wallet`).
 * The decrypted key lives in memory as a viem account (with its derived SecAgg session key, session-key.ts) and is
 * never written or logged.
 */
import { readFile } from "node:fs/promises";
import { Wallet } from "@ethereumjs/wallet";
import { bytesToHex, hexToBytes, type Hex } from "viem";
import { deviceAccount, type DeviceAccount } from "#sdk/crypto/session-key.ts";
import { z } from "zod";
import { writeFileAtomic } from "./atomic-fs.ts";
import { DeviceError } from "./errors.ts";

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

const passwordSchema = z.string().min(8, "the keystore password must have at least 8 characters");

export async function encryptKey(
  privateKey: Hex,
  password: string,
  scrypt: ScryptParams = DEFAULT_SCRYPT,
): Promise<string> {
  passwordSchema.parse(password);
  const p = scryptParamsSchema.parse(scrypt);
  const wallet = Wallet.fromPrivateKey(hexToBytes(privateKey));
  return JSON.stringify(await wallet.toV3(password, { kdf: "scrypt", n: p.n, r: p.r, p: p.p }));
}

/** Creates a keystore at `file` from a fresh random key (or `importKey`). Refuses to overwrite an existing one. */
export async function createKeystore(
  file: string,
  password: string,
  opts: { importKey?: Hex; scrypt?: ScryptParams } = {},
): Promise<DeviceAccount> {
  try {
    await readFile(file);
    throw new DeviceError("KEYSTORE_EXISTS", `a keystore already exists at ${file}`);
  } catch (e) {
    if (e instanceof DeviceError) throw e;
  }
  let key: Hex;
  if (opts.importKey !== undefined) {
    if (!/^0x[0-9a-fA-F]{64}$/.test(opts.importKey))
      throw new DeviceError("KEYSTORE_INVALID", "the imported key must be 32 bytes of 0x-hex");
    key = opts.importKey.toLowerCase() as Hex;
  } else {
    key = bytesToHex(Wallet.generate().getPrivateKey());
  }
  const account = deviceAccount(key);
  const json = await encryptKey(key, password, opts.scrypt);
  await writeFileAtomic(file, json + "\n", 0o600);
  return account;
}

/** Decrypts the keystore. @throws DeviceError KEYSTORE_MISSING | KEYSTORE_INVALID | WRONG_PASSWORD */
export async function unlockKeystore(file: string, password: string): Promise<DeviceAccount> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw new DeviceError(
      "KEYSTORE_MISSING",
      `no keystore at ${file} (run \`dml-device wallet create\`)`,
    );
  }
  let parsed: z.infer<typeof keystoreSchema>;
  try {
    parsed = keystoreSchema.parse(JSON.parse(text));
  } catch (e) {
    throw new DeviceError("KEYSTORE_INVALID", `${file} is not a v3 keystore`, { cause: e });
  }
  let wallet: Wallet;
  try {
    wallet = await Wallet.fromV3(parsed as never, password);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (/passphrase/i.test(msg)) throw new DeviceError("WRONG_PASSWORD", "wrong keystore password");
    throw new DeviceError("KEYSTORE_INVALID", `cannot decrypt ${file}: ${msg}`, { cause: e });
  }
  return deviceAccount(bytesToHex(wallet.getPrivateKey()));
}

/** The keystore's address without decrypting it. */
export async function keystoreAddress(file: string): Promise<Hex> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw new DeviceError(
      "KEYSTORE_MISSING",
      `no keystore at ${file} (run \`dml-device wallet create\`)`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const parsed = keystoreSchema.safeParse(json);
  if (!parsed.success) throw new DeviceError("KEYSTORE_INVALID", `${file} is not a v3 keystore`);
  return `0x${parsed.data.address.toLowerCase()}` as Hex;
}
