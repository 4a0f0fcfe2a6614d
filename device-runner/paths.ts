/**
 * Layout of a device's data directory (see docs/device-runner.md). Nothing under it is ever uploaded.
 */
import path from "node:path";

export interface DevicePaths {
  root: string;
  config: string;
  /** The owner's consent (what the device may serve), written by `dml-device consent`. */
  consent: string;
  keystore: string;
  datasets: string;
  jobState: string;
  chainCursor: string;
  /** Event-cursor state of the training watcher (`RoundOpened` of FineTuning). */
  trainingCursor: string;
  helia: string;
  corrections: string;
  /** The owner's zCDP ledger (privacy-ledger.ts). */
  privacyLedger: string;
}

export function devicePaths(dataDir: string): DevicePaths {
  const root = path.resolve(dataDir);
  return {
    root,
    config: path.join(root, "device.json"),
    consent: path.join(root, "consent.json"),
    keystore: path.join(root, "keystore.json"),
    datasets: path.join(root, "datasets"),
    jobState: path.join(root, "jobs.json"),
    chainCursor: path.join(root, "chain-cursor.json"),
    trainingCursor: path.join(root, "training-cursor.json"),
    helia: path.join(root, "ipfs"),
    corrections: path.join(root, "corrections"),
    privacyLedger: path.join(root, "privacy-ledger.json"),
  };
}
