/**
 * The dashboard's routes on dml-indexer's HTTP server (beside GraphQL's `/subgraphs/…`, which stay as they are):
 *
 * - `GET /` redirects to `/dashboard/`; `GET /dashboard/…` serves the Vite build (`dashboard/dist`, read-only, no
 *   path outside it; unknown paths get index.html, the hash router handles the rest);
 * - `GET /dashboard/config.json` (and `/config.json`): `{ graphql, rpc, ipfs, pollMs }` for the page;
 * - `GET /ipfs/<cid>[/<path>]`: a read-only proxy to the configured IPFS Kubo RPC API (`POST /api/v0/cat`), so the page
 *   can fetch a report's ciphertext or a package's manifest. The CID is parsed (multiformats) and the path restricted
 *   to plain segments before anything is asked; answers are capped at `maxIpfsBytes`. Errors are JSON
 *   `{ error: { code, message } }`: 400 INVALID_CID / INVALID_PATH, 404 NOT_FOUND, 502 IPFS_UNAVAILABLE,
 *   503 IPFS_NOT_CONFIGURED, 413 TOO_LARGE.
 */
import { createReadStream, existsSync, statSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
import { CID } from "multiformats/cid";
import { z } from "zod";

export interface DashboardRoutesOptions {
  /** The Vite build's directory. */
  readonly distDir: string;
  /** The subgraph's path on this server (`/subgraphs/name/<name>`): config.json's GraphQL URL. */
  readonly graphqlPath: string;
  /** The chain's JSON-RPC URL the page reads the head from (null: none). */
  readonly rpcUrl: string | null;
  /** A Kubo RPC API base URL (`http://127.0.0.1:5001`); null: `/ipfs/` answers 503. */
  readonly ipfsUrl: string | null;
  readonly pollMs?: number;
  /** Largest IPFS answer proxied (default 64 MiB). */
  readonly maxIpfsBytes?: number;
  /** Milliseconds an IPFS read may take (default 30 s). */
  readonly ipfsTimeoutMs?: number;
}

export type Route = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
};

function fail(res: ServerResponse, status: number, code: string, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(body),
    "access-control-allow-origin": "*",
  });
  res.end(body);
}

/** A CID and an optional inner path of plain segments (no `.`, `..`, empty, `\` or NUL segment). */
export const ipfsPath = z
  .string()
  .max(1024)
  .transform((p, ctx) => {
    const [root = "", ...rest] = p.split("/");
    try {
      CID.parse(root);
    } catch {
      ctx.addIssue({
        code: "custom",
        message: `not a CID: ${root.slice(0, 80)}`,
        params: { code: "INVALID_CID" },
      });
      return z.NEVER;
    }
    if (rest.some((s) => s === "" || s === "." || s === ".." || /[\\\0]/.test(s))) {
      ctx.addIssue({
        code: "custom",
        message: "invalid path inside the CID",
        params: { code: "INVALID_PATH" },
      });
      return z.NEVER;
    }
    return { cid: root, inner: rest.join("/") };
  });

export function dashboardRoutes(o: DashboardRoutesOptions): Route {
  const dist = path.resolve(o.distDir);
  const maxIpfs = o.maxIpfsBytes ?? 64 * 1024 * 1024;

  const serveFile = (res: ServerResponse, file: string, head: boolean): void => {
    const st = statSync(file);
    res.writeHead(200, {
      "content-type": TYPES[path.extname(file)] ?? "application/octet-stream",
      "content-length": st.size,
      // hashed asset names never change; index.html must be re-read
      "cache-control": file.includes(`${path.sep}assets${path.sep}`)
        ? "public, max-age=31536000, immutable"
        : "no-cache",
    });
    if (head) res.end();
    else createReadStream(file).pipe(res);
  };

  const config = (req: IncomingMessage, res: ServerResponse): void => {
    const host = req.headers.host ?? "127.0.0.1";
    const body = JSON.stringify({
      graphql: `http://${host}${o.graphqlPath}`,
      rpc: o.rpcUrl,
      ipfs: `http://${host}/ipfs`,
      pollMs: o.pollMs ?? 3_000,
    });
    res.writeHead(200, {
      "content-type": "application/json; charset=utf-8",
      "content-length": Buffer.byteLength(body),
      "cache-control": "no-store",
    });
    res.end(body);
  };

  const ipfs = async (res: ServerResponse, rest: string): Promise<void> => {
    if (o.ipfsUrl === null) {
      fail(
        res,
        503,
        "IPFS_NOT_CONFIGURED",
        "this server has no IPFS API configured (dml-indexer --ipfs URL)",
      );
      return;
    }
    let decoded: string;
    try {
      decoded = decodeURIComponent(rest);
    } catch {
      fail(res, 400, "INVALID_PATH", "the path is not valid percent-encoding");
      return;
    }
    const parsed = ipfsPath.safeParse(decoded);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const code =
        (issue as { params?: { code?: string } } | undefined)?.params?.code ?? "INVALID_CID";
      fail(res, 400, code, issue?.message ?? "invalid CID");
      return;
    }
    const { cid, inner } = parsed.data;
    const arg = inner === "" ? cid : `${cid}/${inner}`;
    let upstream: Response;
    try {
      upstream = await fetch(
        `${o.ipfsUrl.replace(/\/$/, "")}/api/v0/cat?arg=${encodeURIComponent(arg)}`,
        {
          method: "POST",
          signal: AbortSignal.timeout(o.ipfsTimeoutMs ?? 30_000),
        },
      );
    } catch (e) {
      fail(res, 502, "IPFS_UNAVAILABLE", `IPFS API unreachable: ${(e as Error).message}`);
      return;
    }
    if (!upstream.ok) {
      const text = (await upstream.text()).slice(0, 500);
      let message = text;
      try {
        message = z.object({ Message: z.string() }).parse(JSON.parse(text)).Message;
      } catch {
        // not Kubo's error JSON: keep the text
      }
      const notFound =
        upstream.status === 404 || /not found|could not find|no link|not available/i.test(message);
      fail(
        res,
        notFound ? 404 : 502,
        notFound ? "NOT_FOUND" : "IPFS_UNAVAILABLE",
        `${arg}: ${message}`,
      );
      return;
    }
    const bytes = new Uint8Array(await upstream.arrayBuffer());
    if (bytes.length > maxIpfs) {
      fail(res, 413, "TOO_LARGE", `${arg} is larger than ${maxIpfs} bytes`);
      return;
    }
    res.writeHead(200, {
      "content-type": inner.endsWith(".json")
        ? "application/json; charset=utf-8"
        : "application/octet-stream",
      "content-length": bytes.length,
      // content-addressed: immutable
      "cache-control": "public, max-age=31536000, immutable",
      "access-control-allow-origin": "*",
    });
    res.end(bytes);
  };

  return async (req, res, url) => {
    const p = url.pathname;
    const isRead = req.method === "GET" || req.method === "HEAD";
    if (p === "/" && isRead) {
      res.writeHead(302, { location: "/dashboard/" });
      res.end();
      return true;
    }
    if ((p === "/config.json" || p === "/dashboard/config.json") && isRead) {
      config(req, res);
      return true;
    }
    if (p.startsWith("/ipfs/")) {
      if (!isRead) fail(res, 405, "METHOD_NOT_ALLOWED", "the IPFS proxy is read-only (GET)");
      else await ipfs(res, p.slice("/ipfs/".length));
      return true;
    }
    if (p === "/dashboard") {
      res.writeHead(301, { location: "/dashboard/" });
      res.end();
      return true;
    }
    if (!p.startsWith("/dashboard/")) return false;
    if (!isRead) {
      fail(res, 405, "METHOD_NOT_ALLOWED", "the dashboard is read-only (GET)");
      return true;
    }
    let rel: string;
    try {
      rel = decodeURIComponent(p.slice("/dashboard/".length));
    } catch {
      fail(res, 400, "INVALID_PATH", "the path is not valid percent-encoding");
      return true;
    }
    const file = path.resolve(dist, rel === "" ? "index.html" : rel);
    if (file !== dist && !file.startsWith(dist + path.sep)) {
      fail(res, 400, "INVALID_PATH", "the path leaves the dashboard");
      return true;
    }
    const index = path.join(dist, "index.html");
    if (!existsSync(index)) {
      fail(res, 503, "DASHBOARD_NOT_BUILT", "the dashboard is not built (npm run dashboard:build)");
      return true;
    }
    const isFile =
      existsSync(file) && statSync(file).isFile() && !path.basename(file).startsWith(".");
    if (isFile) serveFile(res, file, req.method === "HEAD");
    else if (rel.startsWith("assets/")) fail(res, 404, "NOT_FOUND", `no ${rel}`);
    else serveFile(res, index, req.method === "HEAD");
    return true;
  };
}
