/**
 * The subgraph's build on a deployment made here, on the in-process EDR chain (no manifest is committed): the whole
 * protocol is deployed with script/deploy.ts, the subgraph is wired to it (networks.json, subgraph.yaml, ABIs) and
 * `graph codegen` + `graph build` (graph-cli, offline) compile every mapping — once per set of sources in the run
 * (`ensureSubgraphBuild`, shared with the mapping tests and `npm start`). Then, on graph-cli's output:
 *   - every event of every data source's ABI (the Hardhat artifact) has a handler with exactly its signature, and
 *     no handler names an event the ABI lacks (a drift between a contract and the manifest fails here);
 *   - each wasm exports the runtime graph-node calls (allocate, __new, id_of_type, memory, _start) and every
 *     handler, and imports only host functions graph-ts declares (read from graph-ts's own sources);
 *   - networks.json and subgraph.yaml carry the deployment manifest's addresses and start blocks.
 * This deployment's manifest files are generated in a temporary copy of subgraph/, so the test never rewrites the
 * working tree's networks.json for its own chain.
 */
import assert from "node:assert/strict";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { network } from "hardhat";
import type { Abi, AbiEvent, AbiParameter } from "viem";
import { loadArtifact } from "#sdk/chain/artifacts.ts";
import { readManifest, type Manifest } from "#sdk/chain/manifest.ts";
import { deployProtocol, type DeployClients } from "../../script/deploy.ts";
import { SubgraphError } from "../../script/lib/graph-cli.ts";
import { ensureSubgraphBuild, SUBGRAPH_BUILD_DIR } from "../../script/start/indexer.ts";
import {
  DATA_SOURCE_NAMES,
  generateSubgraphManifest,
  renderTemplate,
  SUBGRAPH_DATA_SOURCES,
  type NetworksJson,
} from "../../script/subgraph-manifest.ts";

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const GRAPH_TS = path.join(ROOT, "node_modules", "@graphprotocol", "graph-ts");

/** Events the subgraph does not track, by design (docs/subgraph.md): allowances and EIP-5267 domain changes. */
const UNTRACKED_EVENTS = new Set(["Approval", "EIP712DomainChanged"]);

/** The WebAssembly JS API (Node's global; tsconfig's libs have no DOM types). */
interface WasmModuleApi {
  Module: {
    new (bytes: Uint8Array): object;
    imports(m: object): { module: string; name: string; kind: string }[];
    exports(m: object): { name: string; kind: string }[];
  };
}
const Wasm = (globalThis as unknown as { WebAssembly: WasmModuleApi }).WebAssembly;

/** What graph-node calls in every mapping (apiVersion ≥ 0.0.5). */
const RUNTIME_EXPORTS = ["allocate", "__new", "id_of_type", "memory", "_start"];

// ------------------------------------------------------------------------------------------ helpers

/** graph-cli's event signature: `Name(indexed address,(uint256,bool)[],uint8)`. */
function paramType(p: AbiParameter): string {
  if (p.type.startsWith("tuple")) {
    const components = (p as { components: readonly AbiParameter[] }).components;
    return `(${components.map(paramType).join(",")})${p.type.slice("tuple".length)}`;
  }
  return p.type;
}

function eventSignature(e: AbiEvent): string {
  const params = e.inputs.map((i) => `${i.indexed ? "indexed " : ""}${paramType(i)}`);
  return `${e.name}(${params.join(",")})`;
}

/** The signatures the manifest must handle for an ABI. */
function trackedSignatures(abi: Abi): Set<string> {
  return new Set(
    abi
      .filter((x): x is AbiEvent => x.type === "event")
      .filter((e) => !UNTRACKED_EVENTS.has(e.name))
      .map(eventSignature),
  );
}

interface BuiltDataSource {
  name: string;
  address: string;
  startBlock: number;
  file: string;
  handlers: Map<string, string>;
}

/** The data sources of graph-cli's build/subgraph.yaml (a fixed shape: a line parser is enough). */
function parseBuiltManifest(text: string): BuiltDataSource[] {
  const out: BuiltDataSource[] = [];
  let cur: BuiltDataSource | undefined;
  let pendingEvent: string | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trimEnd();
    if (/^ {2}- kind: /.test(line)) {
      cur = { name: "", address: "", startBlock: -1, file: "", handlers: new Map() };
      out.push(cur);
      continue;
    }
    if (!cur) continue;
    let m: RegExpExecArray | null;
    if ((m = /^ {4}name: (\S+)$/.exec(line))) cur.name = m[1]!;
    else if ((m = /^ {6}address: "?(0x[0-9a-fA-F]{40})"?$/.exec(line))) cur.address = m[1]!;
    else if ((m = /^ {6}startBlock: (\d+)$/.exec(line))) cur.startBlock = Number(m[1]);
    else if ((m = /^ {8}- event: (.+)$/.exec(line))) pendingEvent = m[1]!.trim();
    else if (pendingEvent !== undefined && /^ {11,}\S/.test(line))
      pendingEvent += ` ${line.trim()}`; // a long signature folded onto the next line
    else if ((m = /^ {10}handler: (\S+)$/.exec(line)) && pendingEvent) {
      cur.handlers.set(pendingEvent, m[1]!);
      pendingEvent = undefined;
    } else if ((m = /^ {6}file: (\S+\.wasm)$/.exec(line))) cur.file = m[1]!;
  }
  return out;
}

/**
 * The host functions graph-ts declares, as wasm imports `<module>::<name>`: every function of a `declare namespace X`
 * block, and every `export declare function` inside a `namespace X` block, of each graph-ts source file; the module is
 * the file's base name (how AssemblyScript names the imports of a declared function).
 */
function graphTsHostFunctions(): Set<string> {
  const out = new Set<string>();
  const files = readdirSync(GRAPH_TS, { recursive: true, encoding: "utf8" }).filter(
    (f) => f.endsWith(".ts") && !f.startsWith("node_modules") && !f.startsWith("test"),
  );
  for (const file of files) {
    const module = path.basename(file, ".ts");
    const lines = readFileSync(path.join(GRAPH_TS, file), "utf8").split("\n");
    let ns: { name: string; declared: boolean; depth: number } | undefined;
    let depth = 0;
    for (const line of lines) {
      const open = /^(\s*)export (declare )?namespace (\w+) \{/.exec(line);
      if (open && !ns) {
        ns = { name: open[3]!, declared: open[2] !== undefined, depth };
      } else if (ns) {
        const fn = ns.declared
          ? /^\s*(?:export )?function (\w+)\s*\(/.exec(line)
          : /^\s*export declare function (\w+)\s*\(/.exec(line);
        if (fn) out.add(`${module}::${ns.name}.${fn[1]!}`);
      }
      for (const ch of line) {
        if (ch === "{") depth += 1;
        else if (ch === "}") depth -= 1;
      }
      if (ns && depth === ns.depth) ns = undefined;
    }
  }
  return out;
}

// ------------------------------------------------------------------------------------------ test

describe("subgraph: graph codegen + graph build on a fresh deployment", () => {
  let work: string;
  let manifest: Manifest;
  let generated: ReturnType<typeof generateSubgraphManifest>;
  /** The compiled build's data sources (subgraph/build/subgraph.yaml). */
  let built: BuiltDataSource[];
  /** The generated manifest's data sources, for this deployment. */
  let declared: BuiltDataSource[];

  before(async () => {
    work = mkdtempSync(path.join(tmpdir(), "dml-subgraph-"));
    const { viem } = await network.create();
    const publicClient = await viem.getPublicClient();
    const [walletClient] = await viem.getWalletClients();
    assert.ok(walletClient);
    const manifestPath = path.join(work, "deployment.json");
    const t0 = performance.now();
    await deployProtocol({
      clients: { publicClient, walletClient } as unknown as DeployClients,
      manifestPath,
    });
    const deployMs = performance.now() - t0;
    manifest = readManifest(manifestPath);

    // The manifest's files (networks.json, subgraph.yaml) are generated into a private copy of subgraph/; the
    // compiled mappings are the shared build (script/start/indexer.ts: one graph codegen + graph build per set of
    // sources, which the mapping tests and npm start use too), since they do not depend on the addresses.
    const dir = path.join(work, "subgraph");
    mkdirSync(dir);
    for (const f of ["schema.graphql", "subgraph.template.yaml", "src"])
      cpSync(path.join(ROOT, "subgraph", f), path.join(dir, f), { recursive: true });
    const t1 = performance.now();
    generated = generateSubgraphManifest({ manifest: manifestPath, dir });
    const t2 = performance.now();
    const rebuilt = await ensureSubgraphBuild(manifestPath);
    built = parseBuiltManifest(
      readFileSync(path.join(SUBGRAPH_BUILD_DIR, "subgraph.yaml"), "utf8"),
    );
    declared = parseBuiltManifest(readFileSync(path.join(dir, "subgraph.yaml"), "utf8"));
    console.log(
      `subgraph: deploy ${deployMs.toFixed(0)} ms, manifest ${(t2 - t1).toFixed(0)} ms, ` +
        `codegen + build ${rebuilt ? `${(performance.now() - t2).toFixed(0)} ms` : "shared (already built)"}`,
    );
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("builds one data source per protocol contract, each with a handler for exactly its ABI's events", () => {
    assert.deepEqual(built.map((d) => d.name).sort(), [...DATA_SOURCE_NAMES].sort());
    for (const ds of built) {
      const abi = loadArtifact(ds.name).abi;
      const expected = trackedSignatures(abi);
      const declared = new Set(ds.handlers.keys());
      const missing = [...expected].filter((s) => !declared.has(s));
      const stale = [...declared].filter((s) => !expected.has(s));
      assert.deepEqual(missing, [], `${ds.name}: events without a handler`);
      assert.deepEqual(stale, [], `${ds.name}: handlers whose signature is not in the ABI`);
      assert.ok(expected.size > 0, `${ds.name} tracks events`);
      // graph-cli copied the implementation's ABI as the data source's ABI (the proxy's Upgraded included).
      const copied = JSON.parse(
        readFileSync(path.join(SUBGRAPH_BUILD_DIR, ds.name, `${ds.name}.json`), "utf8"),
      ) as Abi;
      assert.deepEqual(trackedSignatures(copied), expected);
    }
    const proxies = built.filter((d) => manifest.contracts[d.name]?.implementation);
    assert.ok(proxies.length >= 8);
    for (const ds of proxies)
      assert.ok(
        [...ds.handlers.keys()].includes("Upgraded(indexed address)"),
        `${ds.name} indexes its upgrades`,
      );
  });

  it("the signature check catches a contract that drifted from the manifest", () => {
    const staking = built.find((d) => d.name === "NodeStaking");
    assert.ok(staking);
    const abi = loadArtifact("NodeStaking").abi.map((x) =>
      x.type === "event" && x.name === "Staked"
        ? { ...x, inputs: [...x.inputs, { name: "extra", type: "uint256", indexed: false }] }
        : x,
    ) as Abi;
    const expected = trackedSignatures(abi);
    const missing = [...expected].filter((s) => !staking.handlers.has(s));
    assert.deepEqual(missing, ["Staked(indexed address,indexed uint8,uint256,uint256,uint256)"]);
  });

  it("each mapping exports graph-node's runtime and its handlers, and imports only graph-ts host functions", () => {
    const host = graphTsHostFunctions();
    // Sanity of the reader: a few functions every graph-ts version declares.
    for (const f of [
      "index::store.set",
      "numbers::bigInt.plus",
      "ethereum::ethereum.call",
      "index::log.log",
    ])
      assert.ok(host.has(f), `graph-ts declares ${f}`);
    // AssemblyScript's own runtime import (graph-node provides it too).
    host.add("env::abort");
    const seen = new Set<string>();
    for (const ds of built) {
      const wasm = readFileSync(path.join(SUBGRAPH_BUILD_DIR, ds.file));
      const mod = new Wasm.Module(wasm);
      const exports = new Set(Wasm.Module.exports(mod).map((e) => e.name));
      for (const name of RUNTIME_EXPORTS)
        assert.ok(exports.has(name), `${ds.name} exports ${name}`);
      for (const handler of ds.handlers.values())
        assert.ok(exports.has(handler), `${ds.name} exports ${handler}`);
      for (const imp of Wasm.Module.imports(mod)) {
        const key = `${imp.module}::${imp.name}`;
        assert.ok(host.has(key), `${ds.name} imports ${key}, which graph-ts does not declare`);
        seen.add(key);
      }
    }
    // The mappings do use the store, BigInt arithmetic and JobMarket's one eth_call.
    for (const f of ["index::store.set", "index::store.get", "ethereum::ethereum.call"])
      assert.ok(seen.has(f), `some mapping imports ${f}`);
  });

  it("networks.json and subgraph.yaml carry the deployment's addresses and start blocks", () => {
    const networks = JSON.parse(
      readFileSync(path.join(work, "subgraph", "networks.json"), "utf8"),
    ) as NetworksJson;
    assert.deepEqual(Object.keys(networks), [generated.network]);
    assert.equal(generated.network, "hardhat");
    const entries = networks[generated.network]!;
    for (const name of DATA_SOURCE_NAMES) {
      const deployed = manifest.contracts[name];
      assert.ok(deployed, `deployment has ${name}`);
      assert.deepEqual(entries[name], {
        address: deployed.address,
        startBlock: deployed.blockNumber,
      });
      const ds = declared.find((d) => d.name === name);
      assert.ok(ds);
      assert.equal(ds.address, deployed.address, `${name} address`);
      assert.equal(ds.startBlock, deployed.blockNumber, `${name} startBlock`);
      const compiled = built.find((d) => d.name === name);
      assert.ok(compiled);
      assert.equal(
        path.basename(compiled.file, ".wasm"),
        name,
        `${name} compiled from src/mappings/${SUBGRAPH_DATA_SOURCES[name]}.ts`,
      );
      assert.deepEqual(
        compiled.handlers,
        ds.handlers,
        `${name}: the build handles what the manifest declares`,
      );
    }
  });

  it("the template refuses a placeholder the deployment cannot fill", () => {
    assert.throws(
      () => renderTemplate('address: "{{Nope.address}}"', "hardhat", {}),
      (e: unknown) => e instanceof SubgraphError && e.code === "SUBGRAPH_TEMPLATE",
    );
    assert.equal(
      renderTemplate('a: "{{X.address}}"\nb: "{{X.startBlock}}"\nn: "{{network}}"', "sepolia", {
        X: { address: "0x00000000000000000000000000000000000000aa", startBlock: 7 },
      }),
      'a: "0x00000000000000000000000000000000000000aa"\nb: 7\nn: "sepolia"',
    );
  });
});
