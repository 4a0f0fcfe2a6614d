/**
 * Algorithm packages: a UnixFS directory with `manifest.json` and `model.onnx`.
 *
 * {@link loadPackage} is what every reader of an on-chain package CID runs: it parses the CID, reads
 * both files from the store (UnixFS verifies each block against its CID), validates the manifest,
 * resolves the featurizer, and checks sha256(model.onnx) against both the manifest and the value the
 * caller expects (the marketplace's on-chain `modelSha256`).
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import { z } from "zod";
import { parseCid, type ContentStore } from "../ipfs/index.ts";
import { ContentNotFoundError } from "../ipfs/store.ts";
import { getFeaturizer, UnknownFeaturizerError, type Featurizer } from "./featurizer.ts";
import { MANIFEST_FILE, manifestSchema, MODEL_FILE, type Manifest } from "./manifest.ts";
import { OnnxClassifier } from "./onnx-runtime.ts";

export type PackageErrorCode =
  | "MANIFEST_MISSING"
  | "MANIFEST_INVALID"
  | "MODEL_MISSING"
  | "MODEL_HASH_MISMATCH"
  | "UNKNOWN_FEATURIZER"
  | "INVALID_FEATURIZER_PARAMS";

export class PackageError extends Error {
  override readonly name = "PackageError";
  readonly code: PackageErrorCode;
  constructor(code: PackageErrorCode, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.code = code;
  }
}

export interface LoadedPackage {
  cid: string;
  manifest: Manifest;
  model: Uint8Array;
  featurizer: Featurizer;
}

/** Lowercase hex sha256. */
export function sha256Hex(bytes: Uint8Array): string {
  return bytesToHex(sha256(bytes));
}

/** Canonical manifest bytes: `JSON.stringify(manifest, null, 2)` + newline, UTF-8. */
export function encodeManifest(manifest: Manifest): Uint8Array {
  return utf8ToBytes(`${JSON.stringify(manifestSchema.parse(manifest), null, 2)}\n`);
}

/**
 * Completes a manifest with the model's sha256 and checks it (schema, featurizer known).
 * @throws PackageError
 */
export function buildManifest(fields: Omit<Manifest, "modelSha256">, model: Uint8Array): Manifest {
  const parsed = manifestSchema.safeParse({ ...fields, modelSha256: sha256Hex(model) });
  if (!parsed.success) throw new PackageError("MANIFEST_INVALID", z.prettifyError(parsed.error));
  const C = parsed.data.outputLabels.length;
  const confusion = parsed.data.controlGroup?.confusion;
  if (confusion && (confusion.length !== C || confusion.some((row) => row.length !== C)))
    throw new PackageError("MANIFEST_INVALID", `controlGroup.confusion must be ${C}×${C}`);
  resolveFeaturizer(parsed.data);
  return parsed.data;
}

/** Adds the package directory to the store; returns its CID. */
export async function publishPackage(
  store: ContentStore,
  manifest: Manifest,
  model: Uint8Array,
): Promise<string> {
  if (sha256Hex(model) !== manifest.modelSha256) {
    throw new PackageError("MODEL_HASH_MISMATCH", "model bytes do not match manifest.modelSha256");
  }
  return store.addDirectory([
    { path: MANIFEST_FILE, content: encodeManifest(manifest) },
    { path: MODEL_FILE, content: model },
  ]);
}

/**
 * Fetches and verifies a package.
 * @param expectedModelSha256 the on-chain model hash (hex, with or without 0x)
 * @throws InvalidCidError for a malformed CID; PackageError for everything wrong with the content
 */
export async function loadPackage(
  store: ContentStore,
  cid: string,
  expectedModelSha256: string,
): Promise<LoadedPackage> {
  parseCid(cid);
  const expected = expectedModelSha256.toLowerCase().replace(/^0x/, "");
  if (!/^[0-9a-f]{64}$/.test(expected)) {
    throw new RangeError(
      `expectedModelSha256 must be 32 bytes of hex, got ${JSON.stringify(expectedModelSha256)}`,
    );
  }
  const manifestBytes = await readOr(store, cid, MANIFEST_FILE, "MANIFEST_MISSING");
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(manifestBytes));
  } catch (e) {
    throw new PackageError(
      "MANIFEST_INVALID",
      `manifest.json is not UTF-8 JSON: ${(e as Error).message}`,
    );
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) throw new PackageError("MANIFEST_INVALID", z.prettifyError(parsed.error));
  const manifest = parsed.data;
  const featurizer = resolveFeaturizer(manifest);
  if (manifest.modelSha256 !== expected) {
    throw new PackageError(
      "MODEL_HASH_MISMATCH",
      `manifest.modelSha256 ${manifest.modelSha256} differs from the expected ${expected}`,
    );
  }
  const model = await readOr(store, cid, MODEL_FILE, "MODEL_MISSING");
  const actual = sha256Hex(model);
  if (actual !== expected) {
    throw new PackageError(
      "MODEL_HASH_MISMATCH",
      `sha256(model.onnx) is ${actual}, expected ${expected}`,
    );
  }
  return { cid, manifest, model, featurizer };
}

/** An ONNX Runtime session for a loaded package (dimensions from its featurizer and labels). */
export function openClassifier(pkg: LoadedPackage): Promise<OnnxClassifier> {
  return OnnxClassifier.load(pkg.model, pkg.featurizer.dim, pkg.manifest.outputLabels.length);
}

function resolveFeaturizer(manifest: Manifest): Featurizer {
  try {
    return getFeaturizer(manifest.featurizer);
  } catch (e) {
    const code =
      e instanceof UnknownFeaturizerError ? "UNKNOWN_FEATURIZER" : "INVALID_FEATURIZER_PARAMS";
    throw new PackageError(code, (e as Error).message, { cause: e });
  }
}

async function readOr(
  store: ContentStore,
  cid: string,
  path: string,
  code: PackageErrorCode,
): Promise<Uint8Array> {
  try {
    return await store.getFile(cid, path);
  } catch (e) {
    if (e instanceof ContentNotFoundError) {
      throw new PackageError(code, `${path} not found in package ${cid}`, { cause: e });
    }
    throw e;
  }
}
