/**
 * The project's Hardhat plugin for the Solidity build: equal per-file overrides compile in one job
 * (config-hooks.ts) and no unoptimized job asks solc for opcode listings (output-hooks.ts). docs/toolchain.md.
 */
import type { HardhatPlugin } from "hardhat/types/plugins";

export const solcBuildPlugin: HardhatPlugin = {
  id: "dml-solc-build",
  hookHandlers: {
    config: () => import("./config-hooks.ts"),
    solidity: () => import("./output-hooks.ts"),
  },
};
