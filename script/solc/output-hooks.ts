/**
 * Hardhat's `solidity` hooks for this project: a job compiled without the optimizer does not ask solc for opcode
 * listings.
 *
 * Hardhat adds `evm.bytecode.opcodes` and `evm.deployedBytecode.opcodes` to every job's output selection. They are a
 * text disassembly of every contract's bytecode: in the test suites' job, where every suite embeds the creation code
 * of the whole protocol, they pushed the wasm compiler past its 2 GiB memory ("Error writing output JSON") once the
 * suites were compiled without the optimizer. Nothing reads them: artifacts, the deploy scripts and EDR's stack
 * traces use the bytecode and source maps (script/solc/soljson-heap.cjs fills the field EDR's reader requires).
 * Optimized jobs (the protocol's contracts) keep Hardhat's selection unchanged. docs/toolchain.md.
 */
import type { SolidityHooks } from "hardhat/types/hooks";

type Selection = Record<string, Record<string, string[]>>;

/** `selection` without any opcode listing. */
export function withoutOpcodes(selection: Selection): Selection {
  return Object.fromEntries(
    Object.entries(selection).map(([source, contracts]) => [
      source,
      Object.fromEntries(
        Object.entries(contracts).map(([contract, outputs]) => [
          contract,
          outputs.filter((o) => !o.endsWith(".opcodes")),
        ]),
      ),
    ]),
  );
}

export default async (): Promise<Partial<SolidityHooks>> => ({
  preprocessSolcInputBeforeBuilding: async (context, solcInput, next) =>
    next(
      context,
      solcInput.settings.optimizer.enabled === true
        ? solcInput
        : {
            ...solcInput,
            settings: {
              ...solcInput.settings,
              outputSelection: withoutOpcodes(solcInput.settings.outputSelection),
            },
          },
    ),
});
