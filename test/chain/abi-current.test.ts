/**
 * The committed const ABIs (`sdk/chain/abi/`) are what `npm run gen:abis` makes from the current artifacts: the
 * generator runs in memory and every stale, missing or extra file is named.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { protocolAbis, settlementAbi } from "#sdk/chain/abi/index.ts";
import { loadArtifact } from "#sdk/chain/artifacts.ts";
import { decodeRevert, protocolErrorsAbi } from "#sdk/chain/contracts.ts";
import { encodeErrorResult } from "viem";
import { ABI_CONTRACTS, ABI_DIR, abiConstName, renderAbiFiles } from "../../script/gen-abis.ts";

describe("sdk/chain/abi: generated const ABIs are current", () => {
  it("every committed file equals what the generator makes from the current artifacts", async () => {
    const expected = await renderAbiFiles();
    const stale: string[] = [];
    for (const [file, text] of expected) {
      const p = path.join(ABI_DIR, file);
      if (!existsSync(p)) stale.push(`${file} (missing)`);
      else if (readFileSync(p, "utf8") !== text) stale.push(`${file} (stale)`);
    }
    for (const f of readdirSync(ABI_DIR))
      if (!expected.has(f)) stale.push(`${f} (not generated: delete it)`);
    assert.deepEqual(stale, [], `run \`npm run gen:abis\`: ${stale.join(", ")}`);
  });

  it("the imported ABIs equal the artifacts' and constant names follow the contract names", () => {
    assert.equal(abiConstName("DMLToken"), "dmlTokenAbi");
    assert.equal(abiConstName("JobMarket"), "jobMarketAbi");
    for (const name of ABI_CONTRACTS)
      assert.deepEqual(protocolAbis[name], loadArtifact(name).abi, name);
  });

  it("reverts decode against every protocol ABI: an error another contract raised inside the call is named", () => {
    const jobMarketErrors = new Set<string>(
      protocolAbis.JobMarket.filter((i) => i.type === "error").map((e) => e.name),
    );
    // the JobMarket calls the Settlement module: its errors bubble up through JobMarket calls
    assert.ok(!jobMarketErrors.has("SettlementAlreadyClaimed"));
    const args = [3n, 7n] as const;
    const data = encodeErrorResult({
      abi: settlementAbi,
      errorName: "SettlementAlreadyClaimed",
      args,
    });
    const decoded = decodeRevert(data);
    assert.equal(decoded?.errorName, "SettlementAlreadyClaimed");
    assert.deepEqual(decoded?.args, args);
    assert.equal(decodeRevert("0xdeadbeef"), undefined, "an unknown selector is not guessed");
    assert.ok(protocolErrorsAbi.some((e) => e.name === "ERC20InsufficientBalance"));
  });
});
