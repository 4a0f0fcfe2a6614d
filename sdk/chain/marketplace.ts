/**
 * The algorithm marketplace from the customer's and the developer's side: read the listed algorithms, buy a licence
 * (approving exactly the price when the allowance is short), list a new algorithm. `action(sender, client, …)` style
 * over one `TxSender`; failures are `TxError`s from the sender or a `MarketplaceError` with a code.
 */
import { getAddress, parseEventLogs, type Address, type Hex } from "viem";
import { algorithmMarketplaceAbi } from "./abi/AlgorithmMarketplace.ts";
import type { ChainPublicClient } from "./clients.ts";
import { ensureAllowance } from "./token.ts";
import type { TxResult, TxSender } from "./tx-sender.ts";

export type MarketplaceErrorCode = "UNKNOWN_ALGORITHM" | "NOT_FOR_SALE" | "ALGORITHM_NOT_LISTED";

export class MarketplaceError extends Error {
  readonly code: MarketplaceErrorCode;
  constructor(code: MarketplaceErrorCode, message: string) {
    super(message);
    this.name = "MarketplaceError";
    this.code = code;
  }
}

/** One listed algorithm, as `getAlgorithm` returns it, with its id. */
export interface AlgorithmInfo {
  id: bigint;
  developer: Address;
  parentId: bigint;
  schema: Hex;
  modelSha256: Hex;
  packageCid: string;
  metadataCid: string;
  usePrice: bigint;
  licencePrice: bigint;
  deprecated: boolean;
}

export async function algorithmCount(client: ChainPublicClient, market: Address): Promise<bigint> {
  return client.readContract({
    address: market,
    abi: algorithmMarketplaceAbi,
    functionName: "algorithmCount",
  });
}

/** Algorithm `id`. @throws MarketplaceError UNKNOWN_ALGORITHM when no algorithm has that id. */
export async function algorithmInfo(
  client: ChainPublicClient,
  market: Address,
  id: bigint,
): Promise<AlgorithmInfo> {
  const count = await algorithmCount(client, market);
  if (id < 1n || id > count)
    throw new MarketplaceError(
      "UNKNOWN_ALGORITHM",
      `no algorithm ${id} (the marketplace lists ${count === 0n ? "none" : `1..${count}`})`,
    );
  const a = await client.readContract({
    address: market,
    abi: algorithmMarketplaceAbi,
    functionName: "getAlgorithm",
    args: [id],
  });
  return {
    id,
    developer: getAddress(a.developer),
    parentId: a.parentId,
    schema: a.schema,
    modelSha256: a.modelSha256,
    packageCid: a.packageCid,
    metadataCid: a.metadataCid,
    usePrice: a.usePrice,
    licencePrice: a.licencePrice,
    deprecated: a.deprecated,
  };
}

/** Every listed algorithm (ids `first..`), oldest first; `schema` keeps those of one schema hash. */
export async function listAlgorithms(
  client: ChainPublicClient,
  market: Address,
  opts: { schema?: Hex; includeDeprecated?: boolean } = {},
): Promise<AlgorithmInfo[]> {
  const count = await algorithmCount(client, market);
  const out: AlgorithmInfo[] = [];
  for (let id = 1n; id <= count; id++) {
    const a = await algorithmInfo(client, market, id);
    if (opts.schema !== undefined && a.schema.toLowerCase() !== opts.schema.toLowerCase()) continue;
    if (a.deprecated && opts.includeDeprecated !== true) continue;
    out.push(a);
  }
  return out;
}

export async function hasLicence(
  client: ChainPublicClient,
  market: Address,
  customer: Address,
  id: bigint,
): Promise<boolean> {
  return client.readContract({
    address: market,
    abi: algorithmMarketplaceAbi,
    functionName: "hasLicence",
    args: [customer, id],
  });
}

export interface LicencePurchase {
  algorithmId: bigint;
  price: bigint;
  /** The approval sent first when the allowance was short. */
  approval?: TxResult;
  /** Undefined when the buyer already held the licence (nothing sent). */
  tx?: TxResult;
  alreadyLicensed: boolean;
}

/**
 * Buys a licence for algorithm `id` at its current price, never above `maxPrice` (default: the price read now, so a
 * price raised between the read and the transaction reverts instead of charging more). Idempotent: a buyer who holds
 * the licence sends nothing. @throws MarketplaceError UNKNOWN_ALGORITHM | NOT_FOR_SALE, TxError
 */
export async function buyLicence(
  sender: TxSender,
  client: ChainPublicClient,
  addrs: { market: Address; token: Address },
  id: bigint,
  maxPrice?: bigint,
): Promise<LicencePurchase> {
  const a = await algorithmInfo(client, addrs.market, id);
  if (await hasLicence(client, addrs.market, sender.address, id))
    return { algorithmId: id, price: a.licencePrice, alreadyLicensed: true };
  if (a.licencePrice === 0n || a.deprecated)
    throw new MarketplaceError(
      "NOT_FOR_SALE",
      `algorithm ${id} ${a.deprecated ? "is deprecated" : "sells no licence (price 0: pay per use)"}`,
    );
  const cap = maxPrice ?? a.licencePrice;
  const approval = await ensureAllowance(sender, client, addrs.token, addrs.market, cap);
  const tx = await sender.send({
    address: addrs.market,
    abi: algorithmMarketplaceAbi,
    functionName: "buyLicence",
    args: [id, cap],
  });
  return {
    algorithmId: id,
    price: a.licencePrice,
    ...(approval ? { approval } : {}),
    tx,
    alreadyLicensed: false,
  };
}

export interface ListingInput {
  packageCid: string;
  modelSha256: Hex;
  schema: Hex;
  usePrice: bigint;
  licencePrice: bigint;
  parentId?: bigint;
  metadataCid?: string;
}

/** Lists an algorithm (any developer may); returns its id from `AlgorithmListed`. */
export async function publishAlgorithm(
  sender: TxSender,
  market: Address,
  input: ListingInput,
): Promise<{ id: bigint; tx: TxResult }> {
  const tx = await sender.send({
    address: market,
    abi: algorithmMarketplaceAbi,
    functionName: "list",
    args: [
      input.packageCid,
      input.modelSha256,
      input.schema,
      input.usePrice,
      input.licencePrice,
      input.parentId ?? 0n,
      input.metadataCid ?? "",
    ],
  });
  const [listed] = parseEventLogs({
    abi: algorithmMarketplaceAbi,
    eventName: "AlgorithmListed",
    logs: tx.receipt.logs,
  });
  if (listed === undefined)
    throw new MarketplaceError("ALGORITHM_NOT_LISTED", `no AlgorithmListed in ${tx.hash}`);
  return { id: listed.args.algorithmId, tx };
}
