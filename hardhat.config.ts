import { fileURLToPath } from "node:url";
import { defineConfig } from "hardhat/config";
import hardhatViem from "@nomicfoundation/hardhat-viem";
import hardhatNodeTestRunner from "@nomicfoundation/hardhat-node-test-runner";
import hardhatNetworkHelpers from "@nomicfoundation/hardhat-network-helpers";

/** The npm `solc` package's wasm build: Hardhat must never download a compiler. */
const SOLC_VERSION = "0.8.28";
const solcPath = fileURLToPath(new URL("./script/solc/soljson-heap.cjs", import.meta.url));

const settings = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: "cancun",
  outputSelection: { "*": { "*": ["storageLayout"] } },
};

/** The full profile (npm run test:full) raises fuzz and invariant runs; npm test keeps the defaults. */
const full = process.env.DML_TEST_PROFILE === "full";

export default defineConfig({
  plugins: [hardhatViem, hardhatNodeTestRunner, hardhatNetworkHelpers],
  solidity: {
    profiles: {
      default: { version: SOLC_VERSION, path: solcPath, settings },
      production: { version: SOLC_VERSION, path: solcPath, settings },
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
