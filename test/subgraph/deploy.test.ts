/**
 * The subgraph scripts' clear errors, without graph-node (which cannot run here): `subgraph:deploy` validates its
 * options and refuses an unreachable graph-node or IPFS before it spends a minute compiling; the manifest wiring
 * refuses a chain without a network name and a deployment that lacks a protocol contract.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { parseManifest } from "#sdk/chain/manifest.ts";
import { SubgraphError } from "../../script/lib/graph-cli.ts";
import { deploySubgraph } from "../../script/subgraph-deploy.ts";
import { DATA_SOURCE_NAMES, networkName, renderNetworks } from "../../script/subgraph-manifest.ts";

const isCode = (code: string) => (e: unknown) => e instanceof SubgraphError && e.code === code;

/** A port nothing listens on: bound once, then closed. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe("subgraph scripts: option and endpoint errors", () => {
  let ipfs: Server;
  let ipfsUrl: string;
  let ipfsHits = 0;

  before(async () => {
    // Something that answers HTTP, standing in for the IPFS API.
    ipfs = createServer((_req, res) => {
      ipfsHits += 1;
      res.end("{}");
    });
    await new Promise<void>((r) => ipfs.listen(0, "127.0.0.1", r));
    ipfsUrl = `http://127.0.0.1:${(ipfs.address() as AddressInfo).port}`;
  });

  after(() => ipfs.close());

  it("refuses a malformed URL or name before doing anything", async () => {
    await assert.rejects(
      deploySubgraph({
        node: "localhost:8020",
        ipfs: ipfsUrl,
        name: "dml/protocol",
        versionLabel: "v1",
      }),
      isCode("SUBGRAPH_OPTIONS"),
    );
    await assert.rejects(
      deploySubgraph({
        node: "http://127.0.0.1:8020",
        ipfs: ipfsUrl,
        name: "no spaces/allowed here",
        versionLabel: "v1",
      }),
      isCode("SUBGRAPH_OPTIONS"),
    );
    assert.equal(ipfsHits, 0);
  });

  it("names the graph-node that does not answer, before building", async () => {
    const node = `http://127.0.0.1:${await closedPort()}`;
    await assert.rejects(
      deploySubgraph({ node, ipfs: ipfsUrl, name: "dml/protocol", versionLabel: "v1" }),
      (e: unknown) => isCode("SUBGRAPH_UNREACHABLE")(e) && (e as Error).message.includes(node),
    );
  });

  it("names the IPFS API that does not answer, once graph-node does", async () => {
    const ipfsDown = `http://127.0.0.1:${await closedPort()}`;
    await assert.rejects(
      // the stand-in server answers for graph-node here
      deploySubgraph({ node: ipfsUrl, ipfs: ipfsDown, name: "dml/protocol", versionLabel: "v1" }),
      (e: unknown) => isCode("SUBGRAPH_UNREACHABLE")(e) && (e as Error).message.includes(ipfsDown),
    );
    assert.ok(ipfsHits >= 1, "graph-node's endpoint was probed");
  });

  it("maps chain ids to graph-node network names, and asks for one it does not know", () => {
    assert.equal(networkName(31337), "hardhat");
    assert.equal(networkName(11155111), "sepolia");
    assert.equal(networkName(424242, "my-chain"), "my-chain");
    assert.throws(() => networkName(424242), isCode("SUBGRAPH_OPTIONS"));
    assert.throws(() => networkName(1, "Bad Name"), isCode("SUBGRAPH_OPTIONS"));
  });

  it("refuses a deployment that lacks a protocol contract", () => {
    const contracts: Record<string, unknown> = {};
    DATA_SOURCE_NAMES.forEach((name, i) => {
      contracts[name] = {
        address: `0x${(i + 1).toString(16).padStart(40, "0")}`,
        txHash: `0x${"11".repeat(32)}`,
        blockNumber: 10 + i,
      };
    });
    const base = {
      version: 1,
      chainId: 31337,
      deployer: `0x${"22".repeat(20)}`,
      startBlock: 1,
      updatedAt: new Date().toISOString(),
      steps: {},
    };
    const full = renderNetworks(parseManifest({ ...base, contracts }), "hardhat");
    assert.equal(Object.keys(full.hardhat ?? {}).length, DATA_SOURCE_NAMES.length);
    assert.equal(
      full.hardhat?.FineTuning?.startBlock,
      10 + DATA_SOURCE_NAMES.indexOf("FineTuning"),
    );
    delete contracts.FineTuning;
    assert.throws(
      () => renderNetworks(parseManifest({ ...base, contracts }), "hardhat"),
      (e: unknown) => isCode("SUBGRAPH_MANIFEST")(e) && (e as Error).message.includes("FineTuning"),
    );
  });
});
