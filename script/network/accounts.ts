/**
 * The accounts a local network's non-device parties sign with: Hardhat's dev mnemonic by default, or the keys of a
 * keystore directory (`npm start -- --keystore DIR`): account i is the i-th `*.json` keystore by file name, so the
 * same scenario runs on a network whose accounts are not the well-known dev keys. Keys stay in memory; operators'
 * own keystores (script/network/processes.ts `operatorDir`) are re-encrypted from them. Wiring only.
 */
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { Wallet } from "@ethereumjs/wallet";
import { bytesToHex, getAddress, type Account, type Hex } from "viem";
import { mnemonicToAccount, privateKeyToAccount } from "viem/accounts";
import { DEV_MNEMONIC } from "#sdk/chain/clients.ts";
import { KeystoreError } from "#sdk/crypto/keystore.ts";

/** Accounts the scenario uses: #0 deployer and VRF oracle … #16 fine-tuning poster (docs/deployment.md). */
export const SCENARIO_ACCOUNTS = 17;

let keys: readonly Hex[] | undefined;

/** Unlocks every `*.json` keystore in `dir` (sorted by name) with `password`; at least `SCENARIO_ACCOUNTS`. */
export async function loadKeystoreKeys(dir: string, password: string): Promise<Hex[]> {
  let files: string[];
  try {
    files = (await readdir(dir)).filter((f) => f.endsWith(".json")).sort();
  } catch {
    throw new KeystoreError("KEYSTORE_MISSING", `no keystore directory at ${dir}`);
  }
  if (files.length < SCENARIO_ACCOUNTS)
    throw new KeystoreError(
      "KEYSTORE_MISSING",
      `${dir} holds ${files.length} keystores; the scenario signs with ${SCENARIO_ACCOUNTS} accounts`,
    );
  const out: Hex[] = [];
  for (const f of files) {
    const file = path.join(dir, f);
    try {
      const w = await Wallet.fromV3(JSON.parse(await readFile(file, "utf8")) as never, password);
      out.push(bytesToHex(w.getPrivateKey()));
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      throw new KeystoreError(
        /passphrase/i.test(msg) ? "WRONG_PASSWORD" : "KEYSTORE_INVALID",
        `cannot unlock ${file}: ${msg}`,
        { cause: e },
      );
    }
  }
  return out;
}

/** From now on account i is `list[i]` (instead of the dev mnemonic's). */
export function useAccountKeys(list: readonly Hex[]): void {
  keys = [...list];
}

/** The private key of account `i`. */
export function accountKey(i: number): Hex {
  if (keys) {
    const k = keys[i];
    if (k === undefined)
      throw new KeystoreError("KEYSTORE_MISSING", `no keystore for account #${i}`);
    return k;
  }
  return bytesToHex(mnemonicToAccount(DEV_MNEMONIC, { addressIndex: i }).getHdKey().privateKey!);
}

/** Account `i` (the dev mnemonic's, or the keystore directory's). */
export function networkAccount(i: number): Account {
  return keys
    ? privateKeyToAccount(accountKey(i))
    : mnemonicToAccount(DEV_MNEMONIC, { addressIndex: i });
}

/** The key of a keystore account with `address`, when keystores are in use and one matches. */
export function keystoreKeyOf(address: string): Hex | undefined {
  const a = getAddress(address);
  return keys?.find((k) => privateKeyToAccount(k).address === a);
}
