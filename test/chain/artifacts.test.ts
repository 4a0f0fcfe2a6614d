/**
 * sdk/chain/artifacts.ts: contracts of npm packages come from the build info, which holds the test suites too
 * (≈ 230 MB). The first read writes each npm contract to a small file keyed by the build info's id; later reads take
 * that file and never parse the build info again.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { ArtifactError } from "#sdk/chain/errors.ts";
import { clearArtifactCache, loadArtifact } from "#sdk/chain/artifacts.ts";

const solc = (code: string) => ({
  abi: [{ type: "function", name: "f", inputs: [], outputs: [], stateMutability: "view" }],
  evm: {
    bytecode: { object: code, linkReferences: {} },
    deployedBytecode: { object: `${code}00` },
  },
});

describe("artifacts of npm contracts, from the build info", () => {
  const id = `solc-0_8_28-${randomBytes(20).toString("hex")}`;
  const extracted = path.join(tmpdir(), "dml-build-info-contracts", id);
  let dir: string;
  after(async () => {
    await rm(extracted, { recursive: true, force: true });
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("the first read extracts every npm contract; later reads never parse the build info", async () => {
    dir = await mkdtemp(path.join(tmpdir(), "dml-artifacts-"));
    const output = path.join(dir, "build-info", `${id}.output.json`);
    await mkdir(path.dirname(output), { recursive: true });
    await writeFile(
      output,
      JSON.stringify({
        output: {
          contracts: {
            "npm/@openzeppelin/contracts@5.4.0/proxy/Proxy.sol": { Proxy: solc("6001") },
            "npm/@chainlink/contracts@1.5.0/src/Mock.sol": { Mock: solc("6002") },
            "test/Local.t.sol": { Local: solc("6003") },
          },
        },
      }),
    );

    const proxy = loadArtifact("Proxy", dir);
    assert.equal(proxy.bytecode, "0x6001");
    assert.equal(proxy.deployedBytecode, "0x600100");
    assert.equal(proxy.sourceName, "npm/@openzeppelin/contracts@5.4.0/proxy/Proxy.sol");
    assert.ok(existsSync(path.join(extracted, "Proxy.json")));
    assert.ok(
      existsSync(path.join(extracted, "Mock.json")),
      "every npm contract, not only the one asked for",
    );
    assert.ok(
      !existsSync(path.join(extracted, "Local.json")),
      "project and test contracts stay in the build info",
    );

    // a build info that no longer parses: npm contracts still load (from their files), the others cannot
    await writeFile(output, '{"output": not json "Local":{"abi"');
    clearArtifactCache();
    assert.equal(loadArtifact("Mock", dir).bytecode, "0x6002");
    assert.equal(loadArtifact("Proxy", dir).bytecode, "0x6001");
    assert.throws(() => loadArtifact("Local", dir), ArtifactError);
  });
});
