/**
 * Loads compiled contracts from Hardhat 3's `artifacts/` directory.
 *
 * Project contracts have an artifact at `artifacts/<sourceName>/<Name>.json`. Contracts that come from npm
 * packages (OpenZeppelin's ERC1967Proxy and TimelockController, Chainlink's VRF coordinator mock) get no
 * artifact of their own in Hardhat 3, so they are read from the solc output in `artifacts/build-info/` (≈ 15 MB
 * since the test suites compile apart; ≈ 230 MB, 7 s of CPU and 1 GB to parse, before). The first process that
 * reads it writes every npm contract it holds to a small file of its own, under the system's temporary folder and keyed by the build
 * info's id (a hash of the compilation's input, so never stale); later processes read only those.
 */
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Abi, Hex } from "viem";
import { z } from "zod";
import { ArtifactError } from "./errors.ts";

/** What the deployment needs from an artifact. */
export interface Artifact {
  contractName: string;
  sourceName: string;
  abi: Abi;
  bytecode: Hex;
  deployedBytecode: Hex;
  /** Unlinked library placeholders: source name -> library name -> byte ranges in `bytecode`. */
  linkReferences: LinkReferences;
}

export type LinkReferences = Record<string, Record<string, { start: number; length: number }[]>>;

/** Creation / runtime bytecode: hex, possibly with unlinked library placeholders `__$<34 hex>$__`. */
const bytecodeSchema = z
  .string()
  .regex(/^(0x)?([0-9a-fA-F]|__\$[0-9a-fA-F]{34}\$__)*$/, "not bytecode")
  .transform((s) => (s.startsWith("0x") ? s : `0x${s}`) as Hex);

const abiSchema = z
  .array(z.looseObject({ type: z.string() }))
  .transform((a) => a as unknown as Abi);

const linkRefsSchema = z
  .record(
    z.string(),
    z.record(z.string(), z.array(z.object({ start: z.number().int(), length: z.number().int() }))),
  )
  .optional()
  .transform((r): LinkReferences => r ?? {});

const artifactFileSchema = z.object({
  contractName: z.string(),
  sourceName: z.string(),
  abi: abiSchema,
  bytecode: bytecodeSchema,
  deployedBytecode: bytecodeSchema,
  linkReferences: linkRefsSchema,
});

const solcContractSchema = z.object({
  abi: abiSchema,
  evm: z.object({
    bytecode: z.object({ object: bytecodeSchema, linkReferences: linkRefsSchema }),
    deployedBytecode: z.object({ object: bytecodeSchema }),
  }),
});

const buildInfoOutputSchema = z.object({
  output: z.object({
    contracts: z.record(z.string(), z.record(z.string(), z.unknown())),
  }),
});

/** Default artifacts directory: `<repo>/artifacts`, resolved from this file's location. */
export const DEFAULT_ARTIFACTS_DIR = path.resolve(import.meta.dirname, "..", "..", "artifacts");

const cache = new Map<string, Artifact>();

function findProjectArtifact(dir: string, name: string): string[] {
  const found: string[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      if (entry.name === "build-info") continue;
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.name === `${name}.json` && path.basename(d).endsWith(".sol")) found.push(p);
    }
  };
  walk(dir);
  return found;
}

/** Where the npm contracts of build info `id` are kept one file each, and the marker that they all are. */
const extractedDir = (id: string) => path.join(tmpdir(), "dml-build-info-contracts", id);
const COMPLETE = ".complete";

/** The contract `raw` (solc's output for `sourceName:name`) as an Artifact. */
function artifactOfSolc(sourceName: string, name: string, raw: unknown): Artifact {
  const c = solcContractSchema.safeParse(raw);
  if (!c.success)
    throw new ArtifactError(`malformed solc output for ${sourceName}:${name}`, { cause: c.error });
  return {
    contractName: name,
    sourceName,
    abi: c.data.abi,
    bytecode: c.data.evm.bytecode.object,
    deployedBytecode: c.data.evm.deployedBytecode.object,
    linkReferences: c.data.evm.bytecode.linkReferences,
  };
}

/**
 * Writes every contract of an npm package in `contracts` (the first of each name, as the lookup below takes it) to
 * `extractedDir(id)`, each file renamed into place whole, then the marker. A failure to write only costs the cache.
 */
function extractNpmContracts(id: string, contracts: Record<string, Record<string, unknown>>): void {
  const dir = extractedDir(id);
  try {
    mkdirSync(dir, { recursive: true });
    const written = new Set<string>();
    for (const [sourceName, byName] of Object.entries(contracts)) {
      if (!sourceName.startsWith("npm/")) continue;
      for (const [name, raw] of Object.entries(byName)) {
        if (written.has(name)) continue;
        written.add(name);
        const file = path.join(dir, `${name}.json`);
        writeFileSync(
          `${file}.${process.pid}.tmp`,
          JSON.stringify(artifactOfSolc(sourceName, name, raw)),
        );
        renameSync(`${file}.${process.pid}.tmp`, file);
      }
    }
    writeFileSync(path.join(dir, COMPLETE), "");
  } catch {
    // read-only or full temporary folder: every process parses the build info, as before
  }
}

function fromBuildInfo(dir: string, name: string): Artifact | undefined {
  const biDir = path.join(dir, "build-info");
  if (!existsSync(biDir)) return undefined;
  // Newest first; parse only files whose text names the contract (build infos are tens of MB each).
  const files = readdirSync(biDir)
    .filter((f) => f.endsWith(".output.json"))
    .map((f) => ({ f, t: statSync(path.join(biDir, f)).mtimeMs }))
    .sort((a, b) => b.t - a.t)
    .map((x) => x.f);
  for (const file of files) {
    const id = file.slice(0, -".output.json".length);
    const extracted = path.join(extractedDir(id), `${name}.json`);
    if (existsSync(extracted)) {
      const parsed = artifactFileSchema.safeParse(JSON.parse(readFileSync(extracted, "utf8")));
      if (parsed.success) return parsed.data;
    }
    const text = readFileSync(path.join(biDir, file), "utf8");
    if (!text.includes(`"${name}":{"abi"`)) continue;
    let parsed;
    try {
      parsed = buildInfoOutputSchema.parse(JSON.parse(text));
    } catch (cause) {
      throw new ArtifactError(`malformed build-info output ${file}`, { cause });
    }
    if (!existsSync(path.join(extractedDir(id), COMPLETE)))
      extractNpmContracts(id, parsed.output.contracts);
    for (const [sourceName, contracts] of Object.entries(parsed.output.contracts)) {
      const raw = contracts[name];
      if (raw !== undefined) return artifactOfSolc(sourceName, name, raw);
    }
  }
  return undefined;
}

/** True when a deployable (non-abstract, non-interface) artifact named `name` exists. */
export function hasArtifact(name: string, artifactsDir = DEFAULT_ARTIFACTS_DIR): boolean {
  try {
    return loadArtifact(name, artifactsDir).bytecode.length > 2;
  } catch (err) {
    if (err instanceof ArtifactError) return false;
    throw err;
  }
}

/**
 * Loads the artifact of contract `name` (e.g. "DMLToken", "ERC1967Proxy").
 * @throws ArtifactError when it does not exist, is ambiguous or is malformed.
 */
export function loadArtifact(name: string, artifactsDir = DEFAULT_ARTIFACTS_DIR): Artifact {
  const key = `${artifactsDir}\0${name}`;
  const hit = cache.get(key);
  if (hit) return hit;
  if (!existsSync(artifactsDir))
    throw new ArtifactError(`no artifacts at ${artifactsDir}: run \`npx hardhat build\``);
  // Hardhat leaves the artifacts of deleted sources behind: only artifacts whose source exists count.
  const root = path.dirname(artifactsDir);
  const files = findProjectArtifact(artifactsDir, name).filter((f) =>
    existsSync(path.join(root, path.relative(artifactsDir, path.dirname(f)))),
  );
  let artifact: Artifact | undefined;
  if (files.length > 1)
    throw new ArtifactError(`ambiguous contract name ${name}: ${files.join(", ")}`);
  if (files.length === 1) {
    const file = files[0] as string;
    const parsed = artifactFileSchema.safeParse(JSON.parse(readFileSync(file, "utf8")));
    if (!parsed.success)
      throw new ArtifactError(`malformed artifact ${file}`, { cause: parsed.error });
    artifact = parsed.data;
  } else {
    artifact = fromBuildInfo(artifactsDir, name);
  }
  if (!artifact)
    throw new ArtifactError(
      `no artifact for ${name} in ${artifactsDir}: run \`npx hardhat build\``,
    );
  cache.set(key, artifact);
  return artifact;
}

/** Forgets cached artifacts (after a rebuild in the same process). */
export function clearArtifactCache(): void {
  cache.clear();
}

/** The libraries `artifact` must be linked against, as [sourceName, libraryName] pairs. */
export function requiredLibraries(artifact: Artifact): [string, string][] {
  return Object.entries(artifact.linkReferences).flatMap(([src, libs]) =>
    Object.keys(libs).map((l) => [src, l] as [string, string]),
  );
}

/**
 * Writes library addresses into `artifact`'s creation bytecode. `libraries` is keyed by library name.
 * @throws ArtifactError when a library address is missing.
 */
export function linkBytecode(artifact: Artifact, libraries: Record<string, `0x${string}`>): Hex {
  let code = artifact.bytecode.slice(2);
  for (const [src, libs] of Object.entries(artifact.linkReferences)) {
    for (const [lib, refs] of Object.entries(libs)) {
      const address = libraries[lib];
      if (!address) throw new ArtifactError(`${artifact.contractName} needs library ${src}:${lib}`);
      const hex = address.slice(2).toLowerCase();
      for (const { start, length } of refs) {
        if (length !== 20)
          throw new ArtifactError(`${artifact.contractName}: unexpected link length ${length}`);
        code = code.slice(0, start * 2) + hex + code.slice((start + length) * 2);
      }
    }
  }
  if (code.includes("__$"))
    throw new ArtifactError(`${artifact.contractName} still has unlinked placeholders`);
  return `0x${code}`;
}
