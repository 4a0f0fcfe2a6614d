/**
 * Test helper: builds the runtime-test fixture subgraph (test/indexer/fixtures/token-subgraph) with the real
 * `graph codegen && graph build`, once per content: the build output is cached in the OS temp dir under a hash of
 * the fixture's sources, the ABI and graph-cli's version. The fixture's manifest names a placeholder address and
 * start block 0; each test gets its own copy of the build with its token's address and start block.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import type { Abi, Address } from "viem";

const run = promisify(execFile);
const FIXTURE = path.resolve("test", "indexer", "fixtures", "token-subgraph");
const PLACEHOLDER = "0x00000000000000000000000000000000000d31a1";

/** Builds (or reuses) the fixture; returns the cached build directory (with the placeholder address). */
export async function buildFixture(abi: Abi): Promise<string> {
  const sources = ["subgraph.yaml", "schema.graphql", "mapping.as"].map((f) =>
    readFileSync(path.join(FIXTURE, f)),
  );
  const cli = readFileSync(
    path.resolve("node_modules", "@graphprotocol", "graph-cli", "package.json"),
  );
  const ts = readFileSync(
    path.resolve("node_modules", "@graphprotocol", "graph-ts", "package.json"),
  );
  const hash = createHash("sha256");
  for (const s of [...sources, cli, ts, Buffer.from(JSON.stringify(abi))]) hash.update(s);
  const key = hash.digest("hex").slice(0, 16);
  const cached = path.join(tmpdir(), `dml-rt-fixture-${key}`);
  if (existsSync(path.join(cached, "build", "subgraph.yaml"))) return path.join(cached, "build");

  const work = mkdtempSync(path.join(tmpdir(), "dml-rt-fixture-build-"));
  mkdirSync(path.join(work, "src"));
  mkdirSync(path.join(work, "abis"));
  writeFileSync(path.join(work, "schema.graphql"), sources[1]!);
  writeFileSync(path.join(work, "src", "mapping.ts"), sources[2]!);
  writeFileSync(path.join(work, "abis", "DMLToken.json"), JSON.stringify(abi));
  writeFileSync(path.join(work, "subgraph.yaml"), sources[0]!);
  symlinkSync(path.resolve("node_modules"), path.join(work, "node_modules"), "dir");
  const graph = path.resolve("node_modules", ".bin", "graph");
  const opts = { cwd: work, env: { ...process.env, DO_NOT_TRACK: "1" }, maxBuffer: 16 << 20 };
  try {
    await run(graph, ["codegen"], opts);
    await run(graph, ["build"], opts);
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `graph build of the fixture failed: ${err.message}\n${err.stdout ?? ""}\n${err.stderr ?? ""}`,
    );
  }
  try {
    renameSync(work, cached);
  } catch {
    rmSync(work, { recursive: true, force: true }); // a concurrent build won
  }
  return path.join(cached, "build");
}

const copies: string[] = [];

/** Removes the copies {@link deployBuild} made. */
export function removeBuildCopies(): void {
  for (const dir of copies.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** A copy of the build whose data source watches `address` from `startBlock`. */
export function deployBuild(buildDir: string, address: Address, startBlock: number): string {
  const dir = mkdtempSync(path.join(tmpdir(), "dml-rt-subgraph-"));
  copies.push(dir);
  cpSync(buildDir, dir, { recursive: true });
  const manifest = path.join(dir, "subgraph.yaml");
  const text = readFileSync(manifest, "utf8")
    .replace(PLACEHOLDER, address)
    .replace(/startBlock: 0\b/, `startBlock: ${startBlock}`);
  writeFileSync(manifest, text);
  return dir;
}
