/**
 * The GraphQL endpoint on node:http, with graph-node's paths: `/subgraphs/name/<name>` and `/subgraphs/id/<id>`,
 * POST with a JSON body `{ query, variables, operationName }` or GET with `?query=…&variables=…`. Binds 127.0.0.1 by
 * default; the caller starts and stops it. Other paths can be answered by `routes` (the dashboard). Responses are `200` with `{ data, errors }` for anything that reached the
 * query engine, `400` for an unreadable request, `404` for an unknown subgraph.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { z } from "zod";
import { queryRequest, type GraphQLApi } from "./execute.ts";

export interface HostedSubgraph {
  /** Served at `/subgraphs/name/<name>`. */
  readonly name: string;
  /** Served at `/subgraphs/id/<deployment>`. */
  readonly deployment: string;
  readonly api: GraphQLApi;
}

export interface GraphQLServerOptions {
  readonly subgraphs: readonly HostedSubgraph[];
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  readonly maxBodyBytes?: number;
  /**
   * Other routes on the same server (the dashboard: indexer/dashboard/serve.ts), asked before the subgraph paths are
   * matched; resolves true when it answered. GraphQL's own paths never reach it.
   */
  readonly routes?: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;
}

const MAX_BODY = 1 << 20;

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "access-control-allow-origin": "*",
  });
  res.end(text);
}

async function readBody(req: IncomingMessage, max: number): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > max) return null;
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString("utf8");
}

const getParams = z.object({
  query: z.string().min(1),
  variables: z
    .string()
    .optional()
    .transform((s, ctx) => {
      if (s === undefined || s === "") return undefined;
      try {
        return z.record(z.string(), z.unknown()).parse(JSON.parse(s));
      } catch {
        ctx.addIssue({ code: "custom", message: "variables must be a JSON object" });
        return z.NEVER;
      }
    }),
  operationName: z.string().optional(),
});

export class GraphQLServer {
  readonly #server: Server;
  readonly #options: GraphQLServerOptions;
  #url: string | null = null;

  constructor(options: GraphQLServerOptions) {
    this.#options = options;
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((e: unknown) => {
        if (!res.headersSent) send(res, 500, { errors: [{ message: (e as Error).message }] });
      });
    });
  }

  /** Starts listening; resolves to the base URL (`http://127.0.0.1:<port>`). */
  async start(): Promise<string> {
    const host = this.#options.host ?? "127.0.0.1";
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(this.#options.port ?? 0, host, () => resolve());
    });
    const { port } = this.#server.address() as AddressInfo;
    this.#url = `http://${host}:${port}`;
    return this.#url;
  }

  get url(): string | null {
    return this.#url;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #find(path: string): HostedSubgraph | undefined {
    const byName = /^\/subgraphs\/name\/(.+?)\/?$/.exec(path);
    if (byName?.[1] !== undefined) {
      const name = decodeURIComponent(byName[1]);
      return this.#options.subgraphs.find((s) => s.name === name);
    }
    const byId = /^\/subgraphs\/id\/([^/]+)\/?$/.exec(path);
    if (byId?.[1] !== undefined) {
      const id = decodeURIComponent(byId[1]);
      return this.#options.subgraphs.find((s) => s.deployment === id);
    }
    return undefined;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (req.method === "OPTIONS") {
      res.writeHead(204, {
        "access-control-allow-origin": "*",
        "access-control-allow-methods": "GET, POST, OPTIONS",
        "access-control-allow-headers": "content-type",
      });
      res.end();
      return;
    }
    const subgraph = this.#find(url.pathname);
    if (
      subgraph === undefined &&
      this.#options.routes &&
      (await this.#options.routes(req, res, url))
    )
      return;
    if (subgraph === undefined) {
      send(res, 404, { errors: [{ message: `subgraph not found: ${url.pathname}` }] });
      return;
    }
    let request;
    if (req.method === "POST") {
      const body = await readBody(req, this.#options.maxBodyBytes ?? MAX_BODY);
      if (body === null) {
        send(res, 413, { errors: [{ message: "request body too large" }] });
        return;
      }
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        send(res, 400, { errors: [{ message: "the request body is not JSON" }] });
        return;
      }
      const parsed = queryRequest.safeParse(json);
      if (!parsed.success) {
        send(res, 400, {
          errors: [{ message: `invalid request: ${z.prettifyError(parsed.error)}` }],
        });
        return;
      }
      request = parsed.data;
    } else if (req.method === "GET") {
      const parsed = getParams.safeParse(Object.fromEntries(url.searchParams));
      if (!parsed.success) {
        send(res, 400, {
          errors: [{ message: `invalid request: ${z.prettifyError(parsed.error)}` }],
        });
        return;
      }
      request = parsed.data;
    } else {
      send(res, 405, { errors: [{ message: `method ${req.method ?? ""} not allowed` }] });
      return;
    }
    send(res, 200, await subgraph.api.execute(request));
  }
}
