/**
 * A local network's device data directories (wiring for `dml-device`, no device logic): keystore, device.json
 * pointing at the network's chain, manifest and IPFS daemon, the owner's inbox imported as a dataset, and the
 * owner's consent kept locally and registered on chain. The device's bond and gas come from whoever calls this.
 */
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Address, Hex } from "viem";
import { createKeystore, LIGHT_SCRYPT } from "#sdk/crypto/keystore.ts";
import { deviceAccount, type DeviceAccount } from "#sdk/crypto/session-key.ts";
import { deviceClients } from "../../device-runner/chain.ts";
import { deviceConfigSchema, saveConfig } from "../../device-runner/config.ts";
import { registerConsent, saveLocalConsent } from "../../device-runner/consent.ts";
import { EMAIL_SCHEMA_ID, importDataset } from "../../device-runner/dataset.ts";
import { devicePaths, type DevicePaths } from "../../device-runner/paths.ts";
import { PASSWORD, type NetworkEndpoints } from "./processes.ts";

export { EMAIL_SCHEMA_ID };

export interface DeviceDir {
  account: DeviceAccount;
  paths: DevicePaths;
}

/** An email of an inbox, as the device imports it. */
export interface InboxEmail {
  id: string;
  subject: string;
  body: string;
  /** The owner's own spam mark (0 ham, 1 spam), when it keeps one: what a trainer trains on. */
  label?: 0 | 1;
}

/** Creates device `key`'s data directory at `dir`: keystore, device.json, the inbox imported. */
export async function createDeviceDir(
  net: NetworkEndpoints & { chainId: number },
  dir: string,
  key: Hex,
  inbox: readonly InboxEmail[],
): Promise<DeviceDir> {
  const account = deviceAccount(key);
  const paths = devicePaths(dir);
  await mkdir(paths.root, { recursive: true });
  await createKeystore(paths.keystore, PASSWORD, { importKey: key, scrypt: LIGHT_SCRYPT });
  await saveConfig(
    paths.config,
    deviceConfigSchema.parse({
      rpcUrl: net.rpcUrl,
      chainId: net.chainId,
      manifest: net.manifestFile,
      kuboUrl: net.kuboUrl,
      confirmations: 0,
      pollIntervalSec: 1,
      heartbeatIntervalSec: 10,
      idle: { maxLoadPerCore: 64, windows: [] },
    }),
  );
  const src = path.join(path.dirname(paths.root), `inbox-${path.basename(paths.root)}.jsonl`);
  await writeFile(
    src,
    inbox
      .map((e) =>
        JSON.stringify({
          id: e.id,
          subject: e.subject,
          text: e.body,
          ...(e.label === undefined ? {} : { label: e.label }),
        }),
      )
      .join("\n"),
  );
  await importDataset(paths.datasets, EMAIL_SCHEMA_ID, "jsonl", src);
  await rm(src);
  return { account, paths };
}

/** The owner consents to any algorithm of the email schema: kept locally and registered with the DeviceRegistry. */
export async function consentToEmailJobs(
  net: { rpcUrl: string; chainId: number },
  registry: Address,
  d: DeviceDir,
): Promise<void> {
  const consent = {
    schemas: [EMAIL_SCHEMA_ID],
    anyAlgorithmInSchema: true,
    algorithms: [],
    priceFloor: 0n,
  };
  await saveLocalConsent(d.paths.consent, consent);
  await registerConsent(
    deviceClients(net.rpcUrl, net.chainId, d.account),
    registry,
    consent,
    d.account.session.sessionKey,
  );
}
