/**
 * The device's side of the connected set (PROTOCOL.md §7.2): once per growth epoch, a signed heartbeat to every
 * distributor it knows — the active distributors' NodeStaking endpoints (read from the chain each time) and the one
 * in its config. A distributor that answered 200, or 409 HEARTBEAT_REPLAY (it already has this epoch's heartbeat),
 * is done for the epoch; any other answer or no answer is tried again at the next tick.
 */
import type { Address, Hex, LocalAccount } from "viem";
import { Role } from "#sdk/chain/enums.ts";
import { signHeartbeat, type Heartbeat } from "#sdk/protocol/heartbeat.ts";
import { abiOf, type DevicePublicClient } from "./chain.ts";

export interface HeartbeatSenderOptions {
  publicClient: DevicePublicClient;
  account: Pick<LocalAccount, "address" | "signTypedData">;
  chainId: number;
  /** DeviceRegistry (the EIP-712 domain); GrowthPool (the epoch; absent: epoch 0); NodeStaking (endpoints). */
  contracts: { DeviceRegistry: Address; GrowthPool?: Address; NodeStaking?: Address };
  /** Distributor URLs from the config, used besides the on-chain ones. */
  configuredUrls?: readonly string[];
  /**
   * Unix seconds for the heartbeat's timestamp. Default: the latest block's timestamp, the clock the distributor checks
   * the skew against (a dev chain that mines a block per transaction runs ahead of the wall clock; on a live chain the
   * two differ by at most a block).
   */
  nowSeconds?: () => number;
  timeoutMs?: number;
}

export interface HeartbeatTick {
  epoch: number;
  /** Endpoints that accepted this epoch's heartbeat in this tick. */
  delivered: string[];
  /** Endpoints that refused it or could not be reached (retried next tick). */
  failed: { url: string; error: string }[];
}

/** Distributor endpoints of the active distributors (NodeStaking), as registered. */
export async function distributorEndpoints(
  pub: DevicePublicClient,
  staking: Address,
): Promise<string[]> {
  const abi = abiOf("NodeStaking");
  const n = await pub.readContract({
    address: staking,
    abi,
    functionName: "activeCount",
    args: [Role.Distributor],
  });
  const out: string[] = [];
  for (let i = 0n; i < n; i++) {
    const op = await pub.readContract({
      address: staking,
      abi,
      functionName: "activeAt",
      args: [Role.Distributor, i],
    });
    const info = await pub.readContract({
      address: staking,
      abi,
      functionName: "operatorInfo",
      args: [op],
    });
    out.push(info.endpoint);
  }
  return out;
}

const isHttp = (u: string): boolean => {
  try {
    const p = new URL(u).protocol;
    return p === "http:" || p === "https:";
  } catch {
    return false;
  }
};

export class HeartbeatSender {
  private readonly o: HeartbeatSenderOptions;
  /** url → the epoch it has our heartbeat for. */
  private readonly done = new Map<string, number>();

  constructor(opts: HeartbeatSenderOptions) {
    this.o = opts;
  }

  async epoch(): Promise<number> {
    if (this.o.contracts.GrowthPool === undefined) return 0;
    return Number(
      await this.o.publicClient.readContract({
        address: this.o.contracts.GrowthPool,
        abi: abiOf("GrowthPool"),
        functionName: "currentEpoch",
      }),
    );
  }

  /** The configured URL and the active distributors' endpoints (http(s) only, without duplicates). */
  async endpoints(): Promise<string[]> {
    const onChain =
      this.o.contracts.NodeStaking === undefined
        ? []
        : await distributorEndpoints(this.o.publicClient, this.o.contracts.NodeStaking);
    const urls = [...(this.o.configuredUrls ?? []), ...onChain]
      .map((u) => u.trim().replace(/\/+$/, ""))
      .filter(isHttp);
    return [...new Set(urls)];
  }

  private async chainSeconds(): Promise<number> {
    return Number((await this.o.publicClient.getBlock({ blockTag: "latest" })).timestamp);
  }

  /** Sends this epoch's heartbeat to every endpoint that does not have it yet. */
  async tick(schemas?: readonly Hex[]): Promise<HeartbeatTick> {
    const epoch = await this.epoch();
    const todo = (await this.endpoints()).filter((u) => this.done.get(u) !== epoch);
    const out: HeartbeatTick = { epoch, delivered: [], failed: [] };
    if (todo.length === 0) return out;
    const hb = await signHeartbeat(
      this.o.account,
      { chainId: this.o.chainId, verifyingContract: this.o.contracts.DeviceRegistry },
      {
        epoch,
        timestamp: this.o.nowSeconds?.() ?? (await this.chainSeconds()),
        ...(schemas === undefined ? {} : { schemas }),
      },
    );
    await Promise.all(
      todo.map(async (url) => {
        const error = await this.post(url, hb);
        if (error === undefined) {
          this.done.set(url, epoch);
          out.delivered.push(url);
        } else out.failed.push({ url, error });
      }),
    );
    return out;
  }

  /** POSTs the heartbeat; undefined when the distributor has it (200, or 409 HEARTBEAT_REPLAY), else why not. */
  private async post(url: string, hb: Heartbeat): Promise<string | undefined> {
    try {
      const res = await fetch(`${url}/heartbeats`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(hb),
        signal: AbortSignal.timeout(this.o.timeoutMs ?? 10_000),
      });
      const text = await res.text();
      if (res.ok) return undefined;
      let code = "";
      try {
        const body = JSON.parse(text) as { error?: unknown };
        if (typeof body.error === "string") code = body.error;
      } catch {
        /* not JSON */
      }
      if (res.status === 409 && code === "HEARTBEAT_REPLAY") return undefined;
      return `HTTP ${res.status}${code === "" ? "" : ` ${code}`}`;
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
  }
}
