/**
 * A loopback HTTP server speaking the subset of Kubo's RPC API (`/api/v0/...`) that {@link KuboStore}
 * and `kubo-rpc-client` use, over an embedded {@link HeliaStore}: the shared IPFS node that separate
 * processes (relayer roles, device runners) point their `KuboStore` at (`dml-ipfs daemon`).
 *
 * Commands: `add` (multipart; `cid-version`, `raw-leaves`, `wrap-with-directory`, `pin`; ndjson
 * `{"Name","Hash","Size"}` lines), `block/get`, `block/put`, `cat`, `version`. Like Kubo: POST only,
 * errors are `{"Message","Code","Type":"error"}` (400 for a bad request, 500 otherwise), requests from
 * browsers (an `Origin` header) are refused with 403. Unlike Kubo: the import defaults are
 * HeliaStore's (CIDv1, raw leaves, 1 MiB chunks, 1024 links per node), so `add` returns the CIDs
 * `HeliaStore.addBytes` / `addDirectory` would; nothing is ever garbage-collected, so `pin` is
 * accepted and has no effect; there is no networking (no libp2p): content is what was added here.
 *
 * Readers must not trust this server either: `KuboStore` verifies every block it fetches.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { z } from "zod";
import { InvalidCidError, parseCid } from "./cid.ts";
import { ContentNotFoundError, ContentTooLargeError, InvalidDirectoryError } from "./store.ts";
import type { BlockCodec, HeliaStore, ImportEntry } from "./helia-store.ts";

/** Kubo's command error codes (go-ipfs-cmds `ErrorType`). */
export const KUBO_ERROR_CODES = { normal: 0, client: 1, implementation: 2, notFound: 3 } as const;

export const RPC_ERROR_CODES = [
  "BAD_REQUEST",
  "METHOD_NOT_ALLOWED",
  "FORBIDDEN",
  "UNKNOWN_COMMAND",
  "BODY_TOO_LARGE",
  "NOT_FOUND",
  "INTERNAL",
] as const;
export type RpcErrorCode = (typeof RPC_ERROR_CODES)[number];

const HTTP_STATUS: Record<RpcErrorCode, number> = {
  BAD_REQUEST: 400,
  METHOD_NOT_ALLOWED: 405,
  FORBIDDEN: 403,
  UNKNOWN_COMMAND: 404,
  BODY_TOO_LARGE: 413,
  NOT_FOUND: 500, // Kubo answers a missing block with 500 / Code 0, not 404
  INTERNAL: 500,
};

/** A request the server refuses; serialized as Kubo's error object. */
export class RpcServerError extends Error {
  override readonly name = "RpcServerError";
  readonly code: RpcErrorCode;
  constructor(code: RpcErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
  get status(): number {
    return HTTP_STATUS[this.code];
  }
  /** Kubo's `Code` field: 1 (client error) for 4xx, 0 otherwise. */
  get kuboCode(): number {
    return this.status < 500 ? KUBO_ERROR_CODES.client : KUBO_ERROR_CODES.normal;
  }
}

export interface RpcServerOptions {
  store: HeliaStore;
  /** Interface to bind (default 127.0.0.1). */
  host?: string;
  /** Port (default 5001; 0 picks a free one). */
  port?: number;
  /** Largest request body in bytes (default 80 MiB: a 64 MiB read limit plus multipart framing). */
  maxBodyBytes?: number;
  /** Largest number of files and directories in one `add` (default 10,000). */
  maxEntries?: number;
}

export const DEFAULT_RPC_PORT = 5001;
export const DEFAULT_MAX_BODY_BYTES = 80 * 1024 * 1024;
/** Largest single block `block/put` accepts (Kubo's soft limit is 1 MiB, its hard limit 2 MiB). */
export const MAX_BLOCK_BYTES = 2 * 1024 * 1024;
/** The version string `version` reports. */
export const RPC_SERVER_VERSION = "0.1.0-dml";

/** Go's `strconv.ParseBool`, which Kubo uses for boolean options. */
const goBool = z
  .enum(["1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"])
  .transform((v) => ["1", "t", "T", "TRUE", "true", "True"].includes(v));

const addQuery = z.object({
  "cid-version": z
    .enum(["0", "1"])
    .transform(Number)
    .pipe(z.union([z.literal(0), z.literal(1)])),
  "raw-leaves": goBool.optional(),
  "wrap-with-directory": goBool.default(false),
  pin: goBool.default(true),
  hash: z.literal("sha2-256").optional(),
  chunker: z.literal("size-1048576").optional(),
  "only-hash": z.literal("false").optional(),
  trickle: z.literal("false").optional(),
});
const argQuery = z.object({ arg: z.string().min(1).max(1024) });
const blockPutQuery = z.object({
  "cid-codec": z.enum(["raw", "dag-pb"]).optional(),
  format: z.enum(["raw", "dag-pb", "protobuf", "v0"]).optional(),
  mhtype: z.literal("sha2-256").optional(),
  pin: goBool.optional(),
});

/** Options `kubo-rpc-client` always sends, which this server accepts and ignores. */
const IGNORED_OPTIONS = new Set(["stream-channels", "progress", "timeout", "quiet", "quieter"]);

function parseQuery<T extends z.ZodType>(
  schema: T,
  params: URLSearchParams,
  known: readonly string[],
): z.infer<T> {
  const obj: Record<string, string> = {};
  for (const [k, v] of params) {
    if (IGNORED_OPTIONS.has(k)) continue;
    if (!known.includes(k)) throw new RpcServerError("BAD_REQUEST", `unsupported option "${k}"`);
    if (k in obj) throw new RpcServerError("BAD_REQUEST", `option "${k}" given twice`);
    obj[k] = v;
  }
  const r = schema.safeParse(obj);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new RpcServerError(
      "BAD_REQUEST",
      `invalid option ${issue?.path.join(".") ?? ""}: ${issue?.message ?? "invalid"}`,
    );
  }
  return r.data;
}

/** One part of a multipart/form-data body. */
interface Part {
  fieldName: string;
  filename: string;
  contentType: string;
  content: Uint8Array;
}

const CRLF = Buffer.from("\r\n");
const HEADER_END = Buffer.from("\r\n\r\n");

function boundaryOf(contentType: string | undefined): string {
  const m = /^multipart\/form-data\s*;.*boundary=(?:"([^"]{1,200})"|([^\s;]{1,200}))/i.exec(
    contentType ?? "",
  );
  const b = m?.[1] ?? m?.[2];
  if (b === undefined)
    throw new RpcServerError("BAD_REQUEST", "expected a multipart/form-data body");
  return b;
}

function headerParam(header: string, name: string): string | undefined {
  const m = new RegExp(`;\\s*${name}="([^"]*)"`, "i").exec(header);
  return m?.[1];
}

/** Parses a buffered multipart/form-data body (the framing `kubo-rpc-client` writes). */
export function parseMultipart(body: Buffer, boundary: string, maxParts: number): Part[] {
  const delimiter = Buffer.from(`--${boundary}`);
  const bad = (why: string) =>
    new RpcServerError("BAD_REQUEST", `malformed multipart body: ${why}`);
  let pos = body.indexOf(delimiter);
  if (pos < 0) throw bad("no boundary");
  const parts: Part[] = [];
  const next = Buffer.concat([CRLF, delimiter]);
  for (;;) {
    pos += delimiter.length;
    if (body.subarray(pos, pos + 2).toString("latin1") === "--") return parts;
    if (!body.subarray(pos, pos + 2).equals(CRLF)) throw bad("boundary not followed by CRLF");
    pos += 2;
    const headersEnd = body.indexOf(HEADER_END, pos);
    if (headersEnd < 0 || headersEnd - pos > 16 * 1024) throw bad("unterminated part headers");
    const headers = new Map<string, string>();
    for (const line of body.subarray(pos, headersEnd).toString("utf8").split("\r\n")) {
      const colon = line.indexOf(":");
      if (colon <= 0) throw bad(`header line ${JSON.stringify(line.slice(0, 80))}`);
      headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const contentStart = headersEnd + HEADER_END.length;
    const end = body.indexOf(next, contentStart);
    if (end < 0) throw bad("part not terminated by a boundary");
    const disposition = headers.get("content-disposition") ?? "";
    if (!/^form-data\b/i.test(disposition)) throw bad("part without form-data disposition");
    const rawName = headerParam(disposition, "filename") ?? "";
    let filename: string;
    try {
      filename = decodeURIComponent(rawName);
    } catch {
      throw bad(`undecodable file name ${JSON.stringify(rawName.slice(0, 80))}`);
    }
    parts.push({
      fieldName: headerParam(disposition, "name") ?? "",
      filename,
      contentType: (headers.get("content-type") ?? "application/octet-stream").toLowerCase(),
      content: body.subarray(contentStart, end),
    });
    if (parts.length > maxParts)
      throw new RpcServerError("BAD_REQUEST", `more than ${maxParts} parts`);
    pos = end + CRLF.length;
  }
}

/** A relative `/`-separated path of safe segments (no `.`, `..`, empty, `\` or NUL segment). */
function checkImportPath(path: string): void {
  const segments = path.split("/");
  if (
    path.length > 4096 ||
    segments.length > 64 ||
    segments.some((s) => s === "" || s === "." || s === ".." || s.length > 255 || /[\\\0]/.test(s))
  ) {
    throw new RpcServerError("BAD_REQUEST", `invalid path ${JSON.stringify(path.slice(0, 120))}`);
  }
}

export class IpfsRpcServer {
  readonly #server: Server;
  readonly #store: HeliaStore;
  readonly #maxBody: number;
  readonly #maxEntries: number;
  #closed = false;

  private constructor(server: Server, store: HeliaStore, maxBody: number, maxEntries: number) {
    this.#server = server;
    this.#store = store;
    this.#maxBody = maxBody;
    this.#maxEntries = maxEntries;
  }

  /** Starts listening; resolves once the port is bound. The store stays owned by the caller. */
  static async start(options: RpcServerOptions): Promise<IpfsRpcServer> {
    const server = createServer();
    const rpc = new IpfsRpcServer(
      server,
      options.store,
      options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
      options.maxEntries ?? 10_000,
    );
    server.on("request", (req, res) => {
      rpc.#handle(req, res).catch(() => res.destroy()); // #handle answers its own errors; never throws
    });
    server.headersTimeout = 30_000;
    server.requestTimeout = 10 * 60_000;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? DEFAULT_RPC_PORT, options.host ?? "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    return rpc;
  }

  /** The RPC API URL, e.g. `http://127.0.0.1:5001` (what `KuboStore` takes). */
  get url(): string {
    const a = this.#server.address() as AddressInfo;
    const host = a.family === "IPv6" ? `[${a.address}]` : a.address;
    return `http://${host}:${a.port}`;
  }

  /** Stops accepting, closes open connections. Idempotent; does not close the store. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const done = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeIdleConnections();
    setTimeout(() => this.#server.closeAllConnections(), 2_000).unref();
    await done;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? "/", "http://localhost");
      if (req.headers.origin !== undefined)
        throw new RpcServerError("FORBIDDEN", "requests from a browser origin are not allowed");
      if (req.method !== "POST")
        throw new RpcServerError(
          "METHOD_NOT_ALLOWED",
          `method ${req.method ?? "?"} not allowed, use POST`,
        );
      const command = url.pathname.startsWith("/api/v0/") ? url.pathname.slice(8) : undefined;
      switch (command) {
        case "add":
          return await this.#add(req, res, url.searchParams);
        case "block/get":
          return await this.#blockGet(req, res, url.searchParams);
        case "block/put":
          return await this.#blockPut(req, res, url.searchParams);
        case "cat":
          return await this.#cat(req, res, url.searchParams);
        case "version":
          parseQuery(z.object({}), url.searchParams, []);
          await this.#drain(req);
          return json(res, 200, {
            Version: RPC_SERVER_VERSION,
            Commit: "",
            Repo: "",
            System: `${process.arch}/${process.platform}`,
            Golang: "",
          });
        default:
          throw new RpcServerError("UNKNOWN_COMMAND", `unknown command "${url.pathname}"`);
      }
    } catch (e) {
      sendError(req, res, e);
    }
  }

  async #add(req: IncomingMessage, res: ServerResponse, params: URLSearchParams): Promise<void> {
    const q = parseQuery(
      addQuery.partial({ "cid-version": true }),
      params,
      Object.keys(addQuery.shape),
    );
    const cidVersion = q["cid-version"] ?? 1;
    const rawLeaves = q["raw-leaves"] ?? cidVersion === 1;
    const parts = parseMultipart(
      await this.#body(req),
      boundaryOf(req.headers["content-type"]),
      this.#maxEntries,
    );
    if (parts.length === 0) throw new RpcServerError("BAD_REQUEST", "no file in the request");
    const entries: ImportEntry[] = [];
    for (const p of parts) {
      const isDir = p.contentType === "application/x-directory";
      if (p.filename === "") {
        if (isDir || parts.length > 1 || q["wrap-with-directory"])
          throw new RpcServerError("BAD_REQUEST", "every entry needs a file name here");
        entries.push({ content: p.content });
        continue;
      }
      const path = p.filename.replace(/^\/+/, "");
      checkImportPath(path);
      entries.push(isDir ? { path } : { path, content: p.content });
    }
    const lines: string[] = [];
    try {
      for await (const e of this.#store.importEntries(entries, {
        cidVersion,
        rawLeaves,
        wrapWithDirectory: q["wrap-with-directory"],
      })) {
        lines.push(
          `${JSON.stringify({ Name: e.path, Hash: e.cid.toString(), Size: e.size.toString() })}\n`,
        );
      }
    } catch (e) {
      if (e instanceof RpcServerError) throw e;
      // the importer rejects duplicate or conflicting paths with its own error types
      throw new RpcServerError("BAD_REQUEST", `import failed: ${(e as Error).message}`, {
        cause: e,
      });
    }
    res.writeHead(200, {
      "Content-Type": "application/json",
      "X-Chunked-Output": "1",
      "Cache-Control": "no-cache",
    });
    res.end(lines.join(""));
  }

  async #blockGet(
    req: IncomingMessage,
    res: ServerResponse,
    params: URLSearchParams,
  ): Promise<void> {
    const { arg } = parseQuery(argQuery, params, ["arg"]);
    const cid = cidArg(arg);
    await this.#drain(req);
    let bytes: Uint8Array;
    try {
      bytes = await this.#store.getBlock(cid);
    } catch (e) {
      throw new RpcServerError(
        "NOT_FOUND",
        `block was not found locally (offline): ipld: could not find ${cid.toString()}`,
        { cause: e },
      );
    }
    res.writeHead(200, {
      "Content-Type": "application/octet-stream",
      "Content-Length": String(bytes.length),
      "X-Stream-Output": "1",
    });
    res.end(bytes);
  }

  async #blockPut(
    req: IncomingMessage,
    res: ServerResponse,
    params: URLSearchParams,
  ): Promise<void> {
    const q = parseQuery(blockPutQuery, params, Object.keys(blockPutQuery.shape));
    const legacy = q.format === "protobuf" || q.format === "v0" ? "dag-pb" : q.format;
    const codec: BlockCodec = q["cid-codec"] ?? legacy ?? "raw";
    const parts = parseMultipart(
      await this.#body(req, MAX_BLOCK_BYTES + 64 * 1024),
      boundaryOf(req.headers["content-type"]),
      1,
    );
    const part = parts[0];
    if (part === undefined) throw new RpcServerError("BAD_REQUEST", "no block in the request");
    if (part.content.length > MAX_BLOCK_BYTES)
      throw new RpcServerError("BAD_REQUEST", `block larger than ${MAX_BLOCK_BYTES} bytes`);
    const cid = await this.#store.putBlock(part.content, codec);
    const key = q.format === "v0" ? cid.toV0().toString() : cid.toString();
    json(res, 200, { Key: key, Size: part.content.length });
  }

  async #cat(req: IncomingMessage, res: ServerResponse, params: URLSearchParams): Promise<void> {
    const { arg } = parseQuery(argQuery, params, ["arg"]);
    await this.#drain(req);
    const path = arg.replace(/^\/ipfs\//, "");
    const slash = path.indexOf("/");
    const root = slash < 0 ? path : path.slice(0, slash);
    const inner = slash < 0 ? undefined : path.slice(slash + 1);
    cidArg(root);
    let bytes: Uint8Array;
    try {
      bytes =
        inner === undefined
          ? await this.#store.getBytes(root)
          : await this.#store.getFile(root, inner);
    } catch (e) {
      if (e instanceof InvalidDirectoryError) throw new RpcServerError("BAD_REQUEST", e.message);
      if (e instanceof ContentTooLargeError) throw new RpcServerError("BAD_REQUEST", e.message);
      if (e instanceof ContentNotFoundError)
        throw new RpcServerError("NOT_FOUND", e.message, { cause: e });
      throw e;
    }
    res.writeHead(200, {
      "Content-Type": "text/plain",
      "Content-Length": String(bytes.length),
      "X-Stream-Output": "1",
    });
    res.end(bytes);
  }

  /** Reads the whole body, refusing more than `limit` bytes (413) before buffering them. */
  #body(req: IncomingMessage, limit = this.#maxBody): Promise<Buffer> {
    const tooLarge = () =>
      new RpcServerError("BODY_TOO_LARGE", `request body over the ${limit}-byte limit`);
    const declared = Number(req.headers["content-length"] ?? NaN);
    if (declared > limit) return Promise.reject(tooLarge());
    return new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const stop = () => {
        req.off("data", onData);
        req.off("end", onEnd);
        req.off("error", onError);
      };
      const onData = (chunk: Buffer) => {
        size += chunk.length;
        if (size <= limit) return void chunks.push(chunk);
        stop();
        chunks.length = 0;
        reject(tooLarge());
      };
      const onEnd = () => {
        stop();
        resolve(Buffer.concat(chunks, size));
      };
      const onError = (e: Error) => {
        stop();
        reject(e);
      };
      req.on("data", onData);
      req.on("end", onEnd);
      req.on("error", onError);
    });
  }

  /** Discards a body a command does not use (bounded like any body). */
  async #drain(req: IncomingMessage): Promise<void> {
    if (req.readableEnded) return;
    await this.#body(req, 64 * 1024);
  }
}

function cidArg(arg: string) {
  try {
    return parseCid(arg);
  } catch (e) {
    const reason = e instanceof InvalidCidError ? e.message : String(e);
    throw new RpcServerError("BAD_REQUEST", reason, { cause: e });
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": String(Buffer.byteLength(text)),
  });
  res.end(text);
}

function sendError(req: IncomingMessage, res: ServerResponse, e: unknown): void {
  const err =
    e instanceof RpcServerError
      ? e
      : new RpcServerError("INTERNAL", (e as Error)?.message ?? String(e), { cause: e });
  if (res.headersSent) {
    res.destroy(err);
    return;
  }
  // An unread body: answer, close the connection, discard what still arrives for at most a second.
  if (!req.readableEnded) {
    res.setHeader("Connection", "close");
    res.once("finish", () => setTimeout(() => req.destroy(), 1_000).unref());
    req.resume();
  }
  json(res, err.status, { Message: err.message, Code: err.kuboCode, Type: "error" });
}
