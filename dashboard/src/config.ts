/**
 * Where the dashboard reads from: `config.json` next to the page (dml-indexer serves it) gives the GraphQL URL, the
 * chain's JSON-RPC URL and the IPFS read path; query parameters `?graphql=…&rpc=…&ipfs=…` override each, so one build
 * works against any deployment.
 */
import { z } from "zod";

export const configSchema = z.object({
  /** The subgraph's query URL (`…/subgraphs/name/dml/protocol`). */
  graphql: z.url(),
  /** The chain's JSON-RPC URL (live head, transaction receipts); optional. */
  rpc: z.url().nullable().default(null),
  /** A read-only IPFS path: `<ipfs>/<cid>[/path]` returns the bytes (dml-indexer's `/ipfs` proxy or a gateway). */
  ipfs: z.string().min(1).nullable().default(null),
  /** Milliseconds between head polls. */
  pollMs: z.number().int().min(500).max(60_000).default(3_000),
});
export type DashboardConfig = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  readonly code = "CONFIG_INVALID";
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Resolves a possibly relative URL against the page (so `config.json` may say `/ipfs`). */
const absolute = (u: string | null | undefined, base: string): string | null | undefined =>
  u === null || u === undefined ? u : new URL(u, base).href.replace(/\/$/, "");

/** Reads `config.json` (if served) and the query parameters; the parameters win. */
export async function loadConfig(location: Location = window.location): Promise<DashboardConfig> {
  let served: Record<string, unknown> = {};
  try {
    const res = await fetch(new URL("config.json", location.href), { cache: "no-store" });
    if (res.ok) served = z.record(z.string(), z.unknown()).parse(await res.json());
  } catch {
    // no config.json: the query parameters must say everything
  }
  const q = new URLSearchParams(location.search);
  const pick = (k: string): unknown => q.get(k) ?? served[k];
  const raw = {
    graphql: absolute(pick("graphql") as string | undefined, location.href),
    rpc: absolute(pick("rpc") as string | null | undefined, location.href),
    ipfs: absolute(pick("ipfs") as string | null | undefined, location.href),
    ...(pick("pollMs") === undefined ? {} : { pollMs: Number(pick("pollMs")) }),
  };
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success)
    throw new ConfigError(
      `no usable configuration (config.json or ?graphql=URL&rpc=URL&ipfs=URL): ${z.prettifyError(parsed.error)}`,
    );
  return parsed.data;
}
