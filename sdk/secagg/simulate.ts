/**
 * In-process driver: runs one whole session with real clients and server, no transport. Used by tests and the bench
 * (messages are serialised once to account their size as the HTTP transport sends them: JSON, binary masked input).
 */
import type { SecAggAccount } from "./client.ts";
import { SecAggClient } from "./client.ts";
import { SecAggError } from "./errors.ts";
import { wireSize } from "./messages.ts";
import { transportSize } from "./binary.ts";
import type { Signed } from "./messages.ts";
import { resolveSession } from "./params.ts";
import type { ResolvedSession, SecAggSessionConfig } from "./params.ts";
import { SecAggServer } from "./server.ts";
import type { SecAggResult } from "./server.ts";

/**
 * Round before which a client goes silent (0 = never advertises, 3 = never signs the survivor set, 4 = never answers
 * the unmasking round).
 */
export type DropPlan = ReadonlyMap<number, 0 | 1 | 2 | 3 | 4>;

export interface ClientStats {
  id: number;
  computeMs: number;
  bytesSent: number;
  bytesReceived: number;
}

export interface SimulationReport {
  result: SecAggResult;
  server: SecAggServer;
  clients: ClientStats[];
  serverMs: number;
}

export async function simulateSession(opts: {
  config: SecAggSessionConfig | ResolvedSession;
  accounts: ReadonlyMap<number, SecAggAccount>;
  /** Each client's input (real values, or an already encoded Uint32Array), as a map or computed on demand. */
  inputs:
    | ReadonlyMap<number, ArrayLike<number> | Uint32Array>
    | ((id: number) => ArrayLike<number> | Uint32Array);
  drops?: DropPlan;
  measureBytes?: boolean;
  skipServerSignatureChecks?: boolean;
  /** Build the server with `recordTranscript` (so `transcriptV2Of(report.server)` works). */
  recordTranscript?: boolean;
  /** See SecAggClient's `verifyNeighbourSignatures` (default true). */
  verifyNeighbourSignatures?: boolean;
  /** See SecAggServerOptions' `verifyInPool` (default: the server's own choice by session size). */
  verifyInPool?: boolean;
}): Promise<SimulationReport> {
  const session = "sessionIdBytes" in opts.config ? opts.config : resolveSession(opts.config);
  const drops = opts.drops ?? new Map();
  const measure = opts.measureBytes ?? false;
  const server = new SecAggServer(session, {
    skipSignatureChecks: opts.skipServerSignatureChecks ?? false,
    recordTranscript: opts.recordTranscript ?? false,
    ...(opts.verifyInPool === undefined ? {} : { verifyInPool: opts.verifyInPool }),
  });
  const stats = new Map<number, ClientStats>();
  const clients = new Map<number, SecAggClient>();
  for (const id of session.ids) {
    clients.set(
      id,
      new SecAggClient({
        config: session,
        id,
        account: opts.accounts.get(id)!,
        verifyNeighbourSignatures: opts.verifyNeighbourSignatures ?? true,
      }),
    );
    stats.set(id, { id, computeMs: 0, bytesSent: 0, bytesReceived: 0 });
  }
  let serverMs = 0;
  const live = (round: number) => session.ids.filter((id) => (drops.get(id) ?? 5) > round);
  const step = async (
    round: number,
    make: (c: SecAggClient, st: ClientStats) => Promise<Signed | undefined>,
  ) => {
    const msgs: Signed[] = [];
    for (const id of live(round)) {
      const st = stats.get(id)!;
      const t0 = performance.now();
      const msg = await make(clients.get(id)!, st);
      st.computeMs += performance.now() - t0;
      if (msg === undefined) continue;
      if (measure) st.bytesSent += transportSize(msg);
      msgs.push(msg);
    }
    // the round's messages reach the server together, as concurrent HTTP requests do: a server that verifies in its
    // worker pool checks them in parallel; one that verifies inline handles them one after another, in this order
    const t1 = performance.now();
    const outcomes = await Promise.allSettled(msgs.map((msg) => server.submit(msg)));
    serverMs += performance.now() - t1;
    const failed = outcomes.find((o) => o.status === "rejected");
    if (failed !== undefined) throw failed.reason;
    const t2 = performance.now();
    await server.advance();
    serverMs += performance.now() - t2;
  };
  const jsonSize = (x: unknown) => Buffer.byteLength(JSON.stringify(x));
  await step(0, (c) => c.advertise());
  await step(1, async (c, st) => {
    const keys = server.keysFor(c.id);
    if (measure) st.bytesReceived += keys.reduce((a, k) => a + wireSize(k), 0);
    return c.shareKeys(keys);
  });
  await step(2, async (c, st) => {
    const shares = server.sharesFor(c.id);
    if (measure) {
      st.bytesReceived += jsonSize(
        shares.map((s) => ({
          from: s.from,
          ciphertext: Buffer.from(s.ciphertext).toString("base64"),
        })),
      );
    }
    const input = typeof opts.inputs === "function" ? opts.inputs(c.id) : opts.inputs.get(c.id)!;
    return c.maskedInput(shares, input);
  });
  await step(3, async (c, st) => {
    const req = server.consistencyRequest();
    if (measure) st.bytesReceived += jsonSize(req);
    return c.consistency(req);
  });
  await step(4, async (c, st) => {
    if (!server.pending().includes(c.id)) return undefined; // did not sign in round 3
    const req = server.unmaskRequest(c.id);
    if (measure) st.bytesReceived += jsonSize(req);
    try {
      return await c.unmask(req);
    } catch (e) {
      // an honest client refusing to unmask (certificate short of signatures) stays silent
      if (e instanceof SecAggError && e.code === "CONSISTENCY_FAILED") return undefined;
      throw e;
    }
  });
  return { result: server.getResult(), server, clients: [...stats.values()], serverMs };
}
