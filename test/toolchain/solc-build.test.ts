/**
 * The Solidity build's configuration (hardhat.config.ts, script/solc/): the suites compile apart and unoptimized in
 * ONE job, the contracts optimized; unoptimized jobs ask for no opcode listing, optimized ones keep Hardhat's
 * selection.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import hre from "hardhat";
import { shareEqualOverrides } from "../../script/solc/config-hooks.ts";
import { withoutOpcodes } from "../../script/solc/output-hooks.ts";

const ROOT = path.resolve(import.meta.dirname, "..", "..");

describe("Solidity build configuration", () => {
  it("equal overrides become one object (one job); different ones stay apart", () => {
    const a = { version: "0.8.28", settings: { optimizer: { enabled: false } } };
    const b = { version: "0.8.28", settings: { optimizer: { enabled: false } } };
    const c = { version: "0.8.28", settings: { optimizer: { enabled: true, runs: 200 } } };
    const shared = shareEqualOverrides({ "test/A.t.sol": a, "test/B.t.sol": b, "test/C.t.sol": c });
    assert.equal(shared["test/A.t.sol"], shared["test/B.t.sol"]);
    assert.notEqual(shared["test/A.t.sol"], shared["test/C.t.sol"]);
  });

  it("drops only the opcode listings from an output selection", () => {
    const selection = {
      "*": {
        "": ["ast"],
        "*": ["abi", "evm.bytecode.object", "evm.bytecode.opcodes", "evm.deployedBytecode.opcodes"],
      },
    };
    assert.deepEqual(withoutOpcodes(selection), {
      "*": { "": ["ast"], "*": ["abi", "evm.bytecode.object"] },
    });
  });

  it("every test .sol compiles without the optimizer in one shared configuration; production optimizes them", () => {
    const tests = readdirSync(path.join(ROOT, "test"), { recursive: true, encoding: "utf8" })
      .filter((f) => f.endsWith(".sol"))
      .map((f) => `test/${f}`);
    assert.ok(tests.length > 50, `${tests.length} Solidity test files`);
    const { profiles, splitTestsCompilation } = hre.config.solidity;
    assert.equal(splitTestsCompilation, true);
    const overrides = profiles.default?.overrides ?? {};
    assert.deepEqual(Object.keys(overrides).sort(), tests.sort());
    assert.equal(new Set(Object.values(overrides)).size, 1, "one configuration object: one job");
    const [config] = Object.values(overrides);
    assert.equal(config?.settings.optimizer.enabled, false);
    assert.equal(profiles.default?.compilers[0]?.settings.optimizer.enabled, true);
    assert.deepEqual(profiles.production?.overrides, {});
    assert.equal(profiles.production?.isolated, false);
  });
});
