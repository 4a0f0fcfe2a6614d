/**
 * Typed contract access: viem `getContract` instances typed by the generated const ABIs (`sdk/chain/abi/`), so
 * reads, writes and event filters are checked at compile time; and the decoding of reverts against every protocol
 * ABI (a revert from a linked library, or from a contract called by the one you called, still gets its name).
 */
import {
  BaseError,
  decodeErrorResult,
  getContract,
  toFunctionSelector,
  type Abi,
  type Address,
  type Client,
  type GetContractReturnType,
  type Hex,
  type WalletClient,
} from "viem";
import { formatAbiItem } from "viem/utils";
import { protocolAbis } from "./abi/index.ts";

type AbiError = Extract<Abi[number], { type: "error" }>;
import { DEPLOYED_CONTRACTS, type DeployedContractName } from "./contract-names.ts";
import { ArtifactError, ManifestError } from "./errors.ts";
import type { Manifest } from "./manifest.ts";

export { protocolAbis } from "./abi/index.ts";

export { DEPLOYED_CONTRACTS, type DeployedContractName } from "./contract-names.ts";

/** The clients a contract instance is bound to: a public client, and a wallet client for writes. */
export interface ContractClients {
  public: Client;
  wallet?: WalletClient;
}

export type ProtocolContract<
  N extends DeployedContractName,
  C extends ContractClients = ContractClients,
> = GetContractReturnType<(typeof protocolAbis)[N], C, Address>;

export type ProtocolContracts<C extends ContractClients = ContractClients> = {
  readonly [N in DeployedContractName]: ProtocolContract<N, C>;
};

/** Contract `name` of `manifest`, bound to `clients`. @throws ManifestError when the manifest lacks it. */
export function protocolContract<N extends DeployedContractName, C extends ContractClients>(
  name: N,
  clients: C,
  manifest: Manifest,
): ProtocolContract<N, C> {
  const deployed = manifest.contracts[name];
  if (!deployed) throw new ManifestError(`manifest for chain ${manifest.chainId} has no ${name}`);
  return getContract({
    abi: protocolAbis[name],
    address: deployed.address,
    client: clients,
  }) as unknown as ProtocolContract<N, C>;
}

/**
 * Every deployed contract of `manifest`, bound to `clients` and typed by its ABI, e.g.
 * `await protocolContracts(c, m).JobMarket.read.jobCount()`. Instances are made on first access, so a manifest
 * without (say) FineTuning works until FineTuning is used (then ManifestError).
 */
export function protocolContracts<C extends ContractClients>(
  clients: C,
  manifest: Manifest,
): ProtocolContracts<C> {
  const made = new Map<DeployedContractName, unknown>();
  const out = {} as Record<DeployedContractName, unknown>;
  for (const name of DEPLOYED_CONTRACTS)
    Object.defineProperty(out, name, {
      enumerable: true,
      get() {
        if (!made.has(name)) made.set(name, protocolContract(name, clients, manifest));
        return made.get(name);
      },
    });
  return out as ProtocolContracts<C>;
}

/** Every custom error of every protocol ABI, once per selector. */
export const protocolErrorsAbi: readonly AbiError[] = (() => {
  const bySelector = new Map<Hex, AbiError>();
  for (const abi of Object.values(protocolAbis) as Abi[])
    for (const item of abi)
      if (item.type === "error") {
        const selector = toFunctionSelector(formatAbiItem(item));
        if (!bySelector.has(selector)) bySelector.set(selector, item);
      }
  return [...bySelector.values()];
})();

/** A decoded revert: the custom error's name and arguments (`Error`/`Panic` for require strings and panics). */
export interface DecodedRevert {
  errorName: string;
  args: readonly unknown[];
  data: Hex;
}

/** The revert data inside a viem error (from `call`, `estimateGas`, `simulateContract`...), if any. */
export function revertData(err: unknown): Hex | undefined {
  if (!(err instanceof BaseError)) return undefined;
  let found: Hex | undefined;
  err.walk((e) => {
    const d = (e as { data?: unknown }).data;
    const raw = (e as { raw?: unknown }).raw;
    for (const v of [raw, d, (d as { data?: unknown } | undefined)?.data])
      if (typeof v === "string" && /^0x([0-9a-fA-F]{2}){4,}$/.test(v)) {
        found = v as Hex;
        return true;
      }
    return false;
  });
  return found;
}

/** Decodes revert `data` against every protocol ABI; undefined when no ABI knows the selector. */
export function decodeRevert(data: Hex, extraAbi: Abi = []): DecodedRevert | undefined {
  try {
    const r = decodeErrorResult({ abi: [...protocolErrorsAbi, ...extraAbi], data });
    return { errorName: r.errorName, args: r.args ?? [], data };
  } catch {
    return undefined;
  }
}

/**
 * The generated ABI of `name`, widened to `Abi`, for callers that name contracts and functions at run time (test
 * helpers, the demo). Prefer the typed constants or `protocolContracts`.
 * @throws ArtifactError when no ABI is generated for `name` (add it to `DEPLOYED_CONTRACTS` in contract-names.ts).
 */
export function protocolAbi(name: string): Abi {
  const abi = (protocolAbis as Record<string, Abi>)[name];
  if (!abi)
    throw new ArtifactError(
      `no generated ABI for ${name}: add it to DEPLOYED_CONTRACTS in sdk/chain/contract-names.ts and run \`npm run gen:abis\``,
    );
  return abi;
}
