/**
 * What every role connects to at start, checked before its loop runs: the chain (its id asked from the RPC and
 * compared with `--chain-id`), the deployment manifest (contract addresses, start block), the operator's wallet
 * client, and IPFS (embedded Helia, or Kubo whose RPC must answer). Each failure is one typed `RelayerError`
 * (`RPC_UNREACHABLE`, `CONFIG_INVALID`, `IPFS_UNREACHABLE`) that the CLI prints as one line before exiting 1.
 */
import path from "node:path";
import type { Account, Address } from "viem";
import {
  createChainPublicClient,
  createChainWalletClient,
  fetchChainId,
  type ChainPublicClient,
  type ChainWalletClient,
} from "#sdk/chain/clients.ts";
import type { DeployedContractName } from "#sdk/chain/contract-names.ts";
import {
  contractAddress,
  defaultManifestPath,
  readManifest,
  type Manifest,
} from "#sdk/chain/manifest.ts";
import { openContentStore, type ContentStore } from "#sdk/ipfs/index.ts";
import { z } from "zod";
import { intField, type CommonConfig, type FieldSpecs } from "./config.ts";
import { RelayerError } from "./errors.ts";

/** The IPFS fields of a role that reads or writes content (`heliaDir`, `kuboUrl`). */
export interface IpfsConfig {
  heliaDir?: string | undefined;
  kuboUrl?: string | undefined;
}

export interface ChainConnection {
  chainId: number;
  manifest: Manifest;
  publicClient: ChainPublicClient;
  /** First block a role scans: `--from-block`, else the manifest's start block. */
  fromBlock: bigint;
  address(name: DeployedContractName): Address;
}

/** Connects to the chain and reads the deployment manifest. @throws RelayerError */
export async function connectChain(
  config: Pick<CommonConfig, "rpcUrl" | "chainId" | "manifest"> & {
    fromBlock?: number | undefined;
  },
): Promise<ChainConnection> {
  let chainId: number;
  try {
    chainId = await fetchChainId(config.rpcUrl);
  } catch (e) {
    throw new RelayerError("RPC_UNREACHABLE", `no JSON-RPC answer from ${config.rpcUrl}`, {
      cause: e,
    });
  }
  if (config.chainId !== undefined && config.chainId !== chainId)
    throw new RelayerError(
      "CONFIG_INVALID",
      `invalid config: chainId (${config.chainId}): the RPC serves chain ${chainId}`,
    );
  const file = config.manifest ?? defaultManifestPath(chainId);
  let manifest: Manifest;
  try {
    manifest = readManifest(file);
  } catch (e) {
    throw new RelayerError(
      "CONFIG_INVALID",
      `invalid config: manifest (${file}): ${e instanceof Error ? e.message : String(e)}`,
      { cause: e },
    );
  }
  const publicClient = await createChainPublicClient(config.rpcUrl, chainId);
  return {
    chainId,
    manifest,
    publicClient,
    fromBlock: BigInt(config.fromBlock ?? manifest.startBlock),
    address: (name) => contractAddress(manifest, name),
  };
}

/** The operator's wallet client on the connected chain. */
export function operatorWallet(
  account: Account,
  config: Pick<CommonConfig, "rpcUrl">,
  chain: ChainConnection,
): ChainWalletClient {
  return createChainWalletClient(account, config.rpcUrl, chain.chainId);
}

/**
 * Opens the role's content store: Kubo when `kuboUrl` is set (its RPC must answer `version` within 5 s), else an
 * embedded Helia node under `heliaDir` (default `<data-dir>/ipfs`). @throws RelayerError IPFS_UNREACHABLE
 */
export async function openRoleStore(
  config: Pick<CommonConfig, "dataDir"> & IpfsConfig,
): Promise<ContentStore> {
  if (config.kuboUrl !== undefined) {
    const url = new URL(
      "api/v0/version",
      config.kuboUrl.endsWith("/") ? config.kuboUrl : `${config.kuboUrl}/`,
    );
    try {
      const res = await fetch(url, { method: "POST", signal: AbortSignal.timeout(5_000) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      await res.body?.cancel();
    } catch (e) {
      throw new RelayerError(
        "IPFS_UNREACHABLE",
        `no Kubo RPC answer from ${config.kuboUrl} (${e instanceof Error ? e.message : String(e)})`,
        { cause: e },
      );
    }
  }
  return openContentStore({
    heliaDir: config.heliaDir ?? path.join(config.dataDir, "ipfs"),
    ...(config.kuboUrl === undefined ? {} : { kuboUrl: config.kuboUrl }),
  });
}

/** Everything a transacting role connects to at start (chain, manifest addresses, wallet, IPFS). */
export interface RoleConnection<N extends DeployedContractName> extends ChainConnection {
  wallet: ChainWalletClient;
  store: ContentStore;
  contracts: Record<N, Address>;
}

/**
 * Connects a role: the chain (checked), the addresses of `names` from the manifest, the operator's wallet and the
 * content store (checked). @throws RelayerError RPC_UNREACHABLE | CONFIG_INVALID | IPFS_UNREACHABLE
 */
export async function connectRole<const N extends DeployedContractName>(
  config: Pick<CommonConfig, "rpcUrl" | "chainId" | "manifest" | "dataDir"> &
    IpfsConfig & { fromBlock?: number | undefined },
  account: Account,
  names: readonly N[],
): Promise<RoleConnection<N>> {
  const chain = await connectChain(config);
  let contracts: Record<N, Address>;
  try {
    contracts = Object.fromEntries(names.map((n) => [n, chain.address(n)])) as Record<N, Address>;
  } catch (e) {
    throw new RelayerError(
      "CONFIG_INVALID",
      `invalid config: manifest: ${e instanceof Error ? e.message : String(e)}`,
      { cause: e },
    );
  }
  const store = await openRoleStore(config);
  return { ...chain, wallet: operatorWallet(account, config, chain), store, contracts };
}

/** The IPFS fields of a role that reads (and maybe writes) content; `what` says what it fetches. */
export function ipfsFields(what: string) {
  return {
    heliaDir: {
      schema: z.string().min(1).optional(),
      arg: "<dir>",
      help: "embedded Helia node's stores (with --kubo-url: the verified block cache) [default: <data-dir>/ipfs]",
    },
    kuboUrl: {
      schema: z
        .string()
        .pipe(z.url({ protocol: /^https?$/, error: "expected an http(s) URL" }))
        .optional(),
      arg: "<url>",
      help: `Kubo RPC API (or dml-ipfs) to ${what} [default: embedded Helia]`,
    },
  } satisfies FieldSpecs;
}

/** The first block a role's event scan reads; `events` names them. */
export function fromBlockField(events: string) {
  return {
    fromBlock: {
      schema: intField(0, 2 ** 53 - 1).optional(),
      arg: "<block>",
      help: `first block scanned for ${events} [default: the manifest's startBlock]`,
    },
  } satisfies FieldSpecs;
}
