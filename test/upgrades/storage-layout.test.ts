/**
 * Upgrade safety of every protocol implementation and storage compatibility of every test/mocks/*V2 with
 * its V1, checked by @openzeppelin/upgrades-core on Hardhat 3's build-info (artifacts/build-info). A
 * deliberately incompatible layout (test/upgrades/fixtures/BadStorageProbeV2.sol) proves the check bites.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import type { ValidateUpgradeSafetyOptions } from "@openzeppelin/upgrades-core";
import { hasArtifact } from "#sdk/chain/artifacts.ts";
import { PROXY_CONTRACTS } from "../../script/deploy.ts";
import { checkUpgradeSafety, loadSourceContracts } from "../../script/lib/upgrade-safety.ts";

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const MOCKS = path.join(ROOT, "test", "mocks");

/**
 * A V2 mock that adds no initializer of its own (it is upgraded to without a call) is not a defect;
 * every other check stays on.
 */
const MOCK_OPTIONS: ValidateUpgradeSafetyOptions = {
  unsafeAllow: ["missing-initializer", "missing-initializer-call"],
};

describe("upgrade safety (@openzeppelin/upgrades-core)", () => {
  /** Every contract of the current build, validated once. */
  const loaded = loadSourceContracts();
  const contracts = loaded.then((l) => l.contracts);
  /** The build-info failure (if any) that hides `name` from the checks. */
  const failureFor = async (name: string) =>
    (await loaded).failures.find((f) => f.contracts.some((c) => c.endsWith(`:${name}`)));

  it("every protocol implementation is upgrade-safe", async () => {
    const report = checkUpgradeSafety(await contracts, { exclude: ["test/**"] });
    assert.ok(report.ok, report.explain(false));
    const validated = new Set(
      report.upgradeableContractReports.map((r) => r.contract.split(":").pop()),
    );
    const expected = PROXY_CONTRACTS.filter((name) => hasArtifact(name));
    assert.ok(expected.length >= 3, `protocol contracts found: ${expected.join(", ")}`);
    for (const name of expected) {
      const failure = await failureFor(name);
      assert.equal(failure, undefined, `${name} could not be validated: ${failure?.message}`);
      assert.ok(validated.has(name), `${name} was validated as upgradeable`);
    }
  });

  it("every test/mocks/*V2 is a storage-compatible upgrade of its V1", async () => {
    const mocks = readdirSync(MOCKS)
      .filter((f) => /V2\.sol$/.test(f))
      .map((f) => f.replace(/\.sol$/, ""));
    assert.ok(mocks.length > 0, "there are V2 mocks to check");
    // Check every mock, then report all problems at once (one bad mock must not hide the others).
    const problems: string[] = [];
    let passed = 0;
    for (const v2 of mocks) {
      const v1 = v2.replace(/V2$/, "");
      const failure = await failureFor(v2);
      if (failure) {
        problems.push(`${v2} could not be validated: ${failure.message}`);
        continue;
      }
      const report = checkUpgradeSafety(await contracts, {
        contract: v2,
        reference: v1,
        opts: MOCK_OPTIONS,
      });
      if (!report.ok) problems.push(`${v2} -> ${v1}:\n${report.explain(false)}`);
      else if (report.upgradeableContractReports[0]?.reference?.split(":").pop() !== v1)
        problems.push(`${v2} was not compared with ${v1}`);
      else passed += 1;
    }
    assert.deepEqual(problems, [], `${passed}/${mocks.length} V2 mocks passed`);
  });

  it("accepts an appended namespace field and rejects an inserted one", async () => {
    const good = checkUpgradeSafety(await contracts, {
      contract: "StorageProbeV2",
      reference: "StorageProbeV1",
    });
    assert.ok(good.ok, good.explain(false));
    const bad = checkUpgradeSafety(await contracts, {
      contract: "BadStorageProbeV2",
      reference: "StorageProbeV1",
    });
    assert.equal(bad.ok, false);
    const explanation = bad.explain(false);
    assert.match(explanation, /Inserted `inserted`/);
    assert.equal(bad.upgradeableContractReports[0]?.storageLayoutReport?.ok, false);
  });

  it("DeviceRegistry's session keys are appended to its namespace (upgrade from the pre-session-key layout)", async () => {
    const report = checkUpgradeSafety(await contracts, {
      contract: "DeviceRegistry",
      reference: "DeviceRegistryPreSessionKeys",
    });
    assert.ok(report.ok, report.explain(false));
    assert.equal(
      report.upgradeableContractReports[0]?.reference?.split(":").pop(),
      "DeviceRegistryPreSessionKeys",
    );
  });
});
