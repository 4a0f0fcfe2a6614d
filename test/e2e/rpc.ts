/**
 * Serves an EIP-1193 provider (the in-process EDR chain) as HTTP JSON-RPC on 127.0.0.1, so relayer and device
 * processes reach the test's chain over a real socket, as they reach any node. Batches are answered in order; a
 * provider error becomes a JSON-RPC error object with its code, message and data (revert data included).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface Eip1193 {
  request(a: { method: string; params?: unknown[] }): Promise<unknown>;
}

export interface RpcServer {
  url: string;
  server: Server;
  close(): void;
}

export async function serveRpc(provider: Eip1193): Promise<RpcServer> {
  type Req = { id?: unknown; method: string; params?: unknown[] };
  const one = async (r: Req) => {
    try {
      return { jsonrpc: "2.0", id: r.id ?? null, result: await provider.request(r) };
    } catch (e) {
      const err = e as { code?: number; message?: string; data?: unknown };
      return {
        jsonrpc: "2.0",
        id: r.id ?? null,
        error: { code: err.code ?? -32603, message: err.message ?? String(e), data: err.data },
      };
    }
  };
  const server = createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      let body: Req | Req[];
      try {
        body = JSON.parse(Buffer.concat(chunks).toString()) as Req | Req[];
      } catch {
        res.writeHead(400, { "content-type": "application/json" }).end(
          JSON.stringify({
            jsonrpc: "2.0",
            id: null,
            error: { code: -32700, message: "parse error" },
          }),
        );
        return;
      }
      const out = Array.isArray(body) ? await Promise.all(body.map(one)) : await one(body);
      res
        .writeHead(200, { "content-type": "application/json" })
        .end(
          JSON.stringify(out, (_k, v: unknown) =>
            typeof v === "bigint" ? `0x${v.toString(16)}` : v,
          ),
        );
    })();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    close() {
      server.closeAllConnections();
      server.close();
    },
  };
}
