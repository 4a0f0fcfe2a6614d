import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { defineConfig } from "hardhat/config";
import hardhatViem from "@nomicfoundation/hardhat-viem";
import hardhatNodeTestRunner from "@nomicfoundation/hardhat-node-test-runner";
import hardhatNetworkHelpers from "@nomicfoundation/hardhat-network-helpers";
import { solcBuildPlugin } from "./script/solc/plugin.ts";

/** The npm `solc` package's wasm build: Hardhat must never download a compiler. */
const SOLC_VERSION = "0.8.28";
const solcPath = fileURLToPath(new URL("./script/solc/soljson-heap.cjs", import.meta.url));

const settings = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: "cancun",
  outputSelection: { "*": { "*": ["storageLayout"] } },
};
const compiler = { version: SOLC_VERSION, path: solcPath, settings };

/**
 * The Solidity test suites (every `.sol` under test/) compile in their own job (`splitTestsCompilation`), without
 * the optimizer in the default profile: 4× less compiler time (≈ 90 s instead of ≈ 400 s on a clean clone), the
 * suites' behaviour unchanged. The protocol's contracts (contracts/: what deploys, what the TypeScript tests and
 * the benchmarks run) are always optimized. The production profile (`--build-profile production`, used by
 * `npm run test:full` and `npm run bench:gas`) compiles the suites optimized too. docs/toolchain.md.
 */
const testSources = readdirSync(fileURLToPath(new URL("./test", import.meta.url)), {
  recursive: true,
  encoding: "utf8",
})
  .filter((f) => f.endsWith(".sol"))
  .map((f) => `test/${f}`);
const unoptimized = {
  ...compiler,
  settings: { ...settings, optimizer: { enabled: false } },
};

/** The full profile (npm run test:full) raises fuzz and invariant runs; npm test keeps the defaults. */
const full = process.env.DML_TEST_PROFILE === "full";

export default defineConfig({
  plugins: [hardhatViem, hardhatNodeTestRunner, hardhatNetworkHelpers, solcBuildPlugin],
  solidity: {
    splitTestsCompilation: true,
    profiles: {
      default: {
        compilers: [compiler],
        overrides: Object.fromEntries(testSources.map((f) => [f, unoptimized])),
      },
      // not isolated (Hardhat's production default): one job per root file would compile the protocol 80 times
      production: { compilers: [compiler], isolated: false },
    },
  },
  paths: {
    sources: "contracts",
    tests: { solidity: "test", nodejs: "test" },
  },
  test: {
    solidity: {
      fuzz: { runs: full ? 1024 : 256 },
      invariant: { runs: full ? 128 : 48, depth: full ? 48 : 24, failOnRevert: true },
    },
  },
  networks: {
    hardhatMainnet: { type: "edr-simulated", chainType: "l1" },
    localhost: { type: "http", url: "http://127.0.0.1:8545" },
  },
});
