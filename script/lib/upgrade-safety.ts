/**
 * Upgrade-safety checks with @openzeppelin/upgrades-core over Hardhat 3 build infos.
 *
 * Hardhat 3 builds incrementally: a recompiled file gets a new build info while untouched artifacts keep
 * pointing at the old one, which still holds a stale copy of the recompiled contract. upgrades-core then
 * refuses the ambiguous name. Here every contract is taken from the build info its current artifact names.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { ValidateUpgradeSafetyOptions } from "@openzeppelin/upgrades-core";
import { getBuildInfoFiles } from "@openzeppelin/upgrades-core/dist/cli/validate/build-info-file.js";
import { getContractReports } from "@openzeppelin/upgrades-core/dist/cli/validate/contract-report.js";
import {
  getProjectReport,
  type ProjectReport,
} from "@openzeppelin/upgrades-core/dist/cli/validate/project-report.js";
import {
  findSpecifiedContracts,
  withCliDefaults,
} from "@openzeppelin/upgrades-core/dist/cli/validate/validate-upgrade-safety.js";
import {
  validateBuildInfoContracts,
  type SourceContract,
} from "@openzeppelin/upgrades-core/dist/cli/validate/validations.js";
import { z } from "zod";
import { DEFAULT_ARTIFACTS_DIR } from "#sdk/chain/artifacts.ts";
import { ArtifactError } from "#sdk/chain/errors.ts";

const artifactRefSchema = z.object({
  contractName: z.string(),
  sourceName: z.string(),
  buildInfoId: z.string().regex(/^[\w.-]+$/),
});

/** Hardhat 3 prefixes project sources with "project/" inside some build infos; compare without it. */
export function normalizeName(fullyQualifiedName: string): string {
  return fullyQualifiedName.replace(/^project\//, "");
}

/**
 * Fully qualified name ("contracts/X.sol:X") -> id of the build info of its current artifact. Artifacts
 * whose source file no longer exists under the project `root` (left behind by an earlier build) are ignored.
 */
export function currentArtifactBuildInfos(
  artifactsDir = DEFAULT_ARTIFACTS_DIR,
  root = path.dirname(DEFAULT_ARTIFACTS_DIR),
): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== "build-info") walk(p);
      } else if (entry.name.endsWith(".json")) {
        const r = artifactRefSchema.safeParse(JSON.parse(readFileSync(p, "utf8")));
        if (r.success && existsSync(path.join(root, r.data.sourceName))) {
          out.set(`${r.data.sourceName}:${r.data.contractName}`, r.data.buildInfoId);
        }
      }
    }
  };
  walk(artifactsDir);
  if (out.size === 0)
    throw new ArtifactError(`no artifacts in ${artifactsDir}: run \`npx hardhat build\``);
  return out;
}

/** A build info that upgrades-core could not validate at all (its contracts are left out). */
export interface BuildInfoFailure {
  buildInfoId: string;
  /** Project contracts whose current artifact comes from this build info. */
  contracts: string[];
  message: string;
}

export interface SourceContracts {
  contracts: SourceContract[];
  failures: BuildInfoFailure[];
}

/**
 * Where Hardhat writes the Solidity test suites' artifacts and build infos: the suites compile in a job of their own
 * (`splitTestsCompilation` in hardhat.config.ts), so the test mocks' storage layouts are there, not in artifacts/.
 */
export const TEST_ARTIFACTS_DIR = path.join(
  path.dirname(DEFAULT_ARTIFACTS_DIR),
  "cache",
  "test-artifacts",
);

/**
 * Validates every current build info of `artifactsDirs` (the contracts' and, once built, the test suites') once and
 * returns one source contract per fully qualified name.
 * A build info on which upgrades-core throws (e.g. an ERC-7201 namespace declared twice in one inheritance
 * chain) is reported in `failures` instead of aborting the others.
 */
export async function loadSourceContracts(
  artifactsDirs = [DEFAULT_ARTIFACTS_DIR, TEST_ARTIFACTS_DIR].filter((d) => existsSync(d)),
): Promise<SourceContracts> {
  const owners = new Map<string, string>();
  /** Build info id -> the artifacts directory whose build-info/ holds it. */
  const dirOf = new Map<string, string>();
  for (const dir of artifactsDirs) {
    for (const [fqn, id] of currentArtifactBuildInfos(dir)) {
      owners.set(fqn, id);
      dirOf.set(id, dir);
    }
  }
  const ids = [...new Set(owners.values())];
  const byName = new Map<string, { contract: SourceContract; id: string }>();
  const failures: BuildInfoFailure[] = [];
  for (const id of ids) {
    // One directory per build info, so each source contract is known to come from `id`.
    const dir = mkdtempSync(path.join(tmpdir(), "dml-bi-"));
    for (const f of [`${id}.json`, `${id}.output.json`]) {
      symlinkSync(path.join(dirOf.get(id)!, "build-info", f), path.join(dir, f));
    }
    const files = await getBuildInfoFiles(dir);
    let validated: SourceContract[] | undefined;
    // upgrades-core throws for the whole build info when one contract is malformed (e.g. a namespace
    // declared twice). Take the offending test source out, report it, and validate the rest.
    for (let attempt = 0; attempt < 8 && !validated; attempt++) {
      try {
        validated = validateBuildInfoContracts(files);
      } catch (err) {
        const message = (err as Error).message;
        const culprit = [...message.matchAll(/- (?:project\/)?(test\/[\w/.-]+\.sol):\d+/g)][0]?.[1];
        const removed = culprit ? removeSource(files, culprit) : false;
        const contracts = [...owners]
          .filter(([fqn, owner]) => owner === id && (!removed || fqn.startsWith(`${culprit}:`)))
          .map(([fqn]) => fqn);
        failures.push({ buildInfoId: id, contracts, message });
        if (!removed) break;
      }
    }
    if (!validated) continue;
    for (const contract of validated) {
      const fqn = normalizeName(contract.fullyQualifiedName);
      const prev = byName.get(fqn);
      const owner = owners.get(fqn);
      if (!prev || (owner === id && prev.id !== id)) byName.set(fqn, { contract, id });
    }
  }
  return { contracts: [...byName.values()].map((v) => v.contract), failures };
}

/** Drops `source` (with or without Hardhat's "project/" prefix) from a build info's input and output. */
function removeSource(
  files: Awaited<ReturnType<typeof getBuildInfoFiles>>,
  source: string,
): boolean {
  let removed = false;
  for (const f of files) {
    for (const key of [source, `project/${source}`]) {
      if (key in f.output.sources) {
        delete f.output.sources[key];
        delete f.output.contracts[key];
        delete f.input.sources[key];
        removed = true;
      }
    }
  }
  return removed;
}

export interface SafetyQuery {
  /** Contract to validate (name or fully qualified name); all upgradeable contracts when absent. */
  contract?: string;
  /** Reference (V1) for the storage-layout comparison. */
  reference?: string;
  opts?: ValidateUpgradeSafetyOptions;
  /** Globs of source paths to leave out (e.g. "test/**"). */
  exclude?: string[];
}

/** Runs upgrades-core's checks (the same as its `validate` command) over `contracts`. */
export function checkUpgradeSafety(
  contracts: SourceContract[],
  q: SafetyQuery = {},
): ProjectReport {
  const opts = withCliDefaults(q.opts ?? {});
  const dictionary = { "": contracts };
  const specified = findSpecifiedContracts(dictionary, opts, q.contract, q.reference);
  // Source paths may carry Hardhat's "project/" prefix: exclude both spellings.
  const exclude = q.exclude?.flatMap((g) => [g, `project/${g}`]);
  const reports = getContractReports(dictionary, opts, specified, exclude);
  return getProjectReport(reports, specified !== undefined);
}
