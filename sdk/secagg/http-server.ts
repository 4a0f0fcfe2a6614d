/**
 * HTTP transport for SecAgg sessions (node:http, no framework), listening on 127.0.0.1 by default.
 *
 *   GET  /sessions/:id                    status: round, deadline, pending count, parameters
 *   POST /sessions/:id/advertise          round 0 message            → 202
 *   GET  /sessions/:id/keys/:client       neighbours' signed keys    (409 NOT_READY until round 0 closes)
 *   POST /sessions/:id/shares             round 1 message            → 202
 *   GET  /sessions/:id/shares/:client     ciphertexts for the client (409 NOT_READY until round 1 closes)
 *   POST /sessions/:id/masked             round 2 message (JSON or application/octet-stream, binary.ts) → 202
 *   GET  /sessions/:id/consistency-request  survivor set U3        (409 NOT_READY until round 2 closes)
 *   POST /sessions/:id/consistency        round 3 message (signed U3) → 202
 *   GET  /sessions/:id/unmask-request/:client  U3, dropped and the client's certificate of round-3 signatures
 *                                         (409 NOT_READY until round 3 closes)
 *   POST /sessions/:id/unmask             round 4 message            → 202
 *   GET  /sessions/:id/result             the aggregate (only when the session was added with exposeResult)
 *
 * Bodies are zod-validated JSON (binary as base64); every error is `{ "error": { "code", "message" } }` with a 4xx
 * status. A round closes when every expected client has answered or when its deadline passes (silent clients are
 * dropped); the unmasking round's close computes the result.
 *
 * A session opened with a journal file (`openSession`, journal.ts) survives a restart of the process: every accepted
 * message and round close is on disk before the message is acknowledged or anything derived from it is served, and
 * reopening the session replays the file and continues it where it was (the current round's deadline starts again).
 */
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { SecAggError, httpStatusOf } from "./errors.ts";
import { fromJson, toJson } from "./messages.ts";
import { MASKED_BINARY_CONTENT_TYPE, decodeMaskedBinary } from "./binary.ts";
import type { SecAggSessionConfig } from "./params.ts";
import { SecAggServer } from "./server.ts";
import type { SecAggResult } from "./server.ts";
import { SessionJournal, replayJournal } from "./journal.ts";
import { transcriptV2Of } from "./transcript-v2.ts";
import type { SessionTranscript } from "./transcript-v2.ts";

export interface HttpSessionOptions {
  /** Time each round stays open after it starts; silent clients are dropped when it passes. */
  roundTimeoutMs: number;
  /** Serve GET /result (off by default: the aggregate is confidential to the job's customer). */
  exposeResult?: boolean;
  /** Record the session for transcript v2 (`SecAggServerOptions.recordTranscript`); read it with `transcript()`. */
  recordTranscript?: boolean;
}

export interface JournaledSessionOptions extends HttpSessionOptions {
  /** The session's journal (journal.ts): replayed when it exists, then appended to. */
  journalFile: string;
}

interface HostedSession {
  server: SecAggServer;
  opts: HttpSessionOptions;
  deadline: number;
  journal: SessionJournal | undefined;
  timer: NodeJS.Timeout | undefined;
  advancing: Promise<void> | undefined;
  done: Promise<SecAggResult>;
  settle: { resolve: (r: SecAggResult) => void; reject: (e: unknown) => void };
}

const ROUTE_ROUND: Record<string, number> = {
  advertise: 0,
  shares: 1,
  masked: 2,
  consistency: 3,
  unmask: 4,
};

export class SecAggHttpServer {
  private readonly sessions = new Map<string, HostedSession>();
  private readonly http: Server;
  private readonly host: string;
  private readonly port: number;
  private readonly maxBodyBytes: number;

  constructor(opts: { host?: string; port?: number; maxBodyBytes?: number } = {}) {
    this.host = opts.host ?? "127.0.0.1";
    this.port = opts.port ?? 0;
    this.maxBodyBytes = opts.maxBodyBytes ?? 64 * 1024 * 1024;
    this.http = createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => this.sendError(res, e));
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.http.once("error", reject);
      this.http.listen(this.port, this.host, () => resolve());
    });
    const addr = this.http.address() as AddressInfo;
    return `http://${this.host}:${addr.port}`;
  }

  async close(): Promise<void> {
    for (const s of this.sessions.values()) clearTimeout(s.timer);
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
    await Promise.all([...this.sessions.values()].map((s) => s.journal?.close()));
  }

  /** Hosts a session in memory (lost if the process stops); its round-0 deadline starts now. */
  addSession(config: SecAggSessionConfig, opts: HttpSessionOptions): SecAggServer {
    const server = new SecAggServer(config, { recordTranscript: opts.recordTranscript ?? false });
    this.hostSession(server, opts, undefined);
    return server;
  }

  /**
   * Hosts a session backed by its journal: a new session when the file is absent or empty, else the replayed one,
   * continued in the round it had reached (its deadline starts now; a finished or failed session settles at once).
   * @throws SecAggError JOURNAL_INVALID (the file is damaged or is another session's), INVALID_CONFIG (hosted already)
   */
  async openSession(
    config: SecAggSessionConfig,
    opts: JournaledSessionOptions,
  ): Promise<SecAggServer> {
    // before the file is touched: the hosted session's own handle may be appending to it
    const id = config.sessionId.toLowerCase();
    if (this.sessions.has(id))
      throw new SecAggError("INVALID_CONFIG", `session ${id} already hosted`);
    const { journal, entries } = await SessionJournal.open(opts.journalFile);
    let server: SecAggServer;
    try {
      server = await replayJournal(config, entries, {
        recordTranscript: opts.recordTranscript ?? false,
      });
      server.attachJournal((e) => journal.append(e));
      this.hostSession(server, opts, journal);
    } catch (e) {
      await journal.close();
      throw e;
    }
    return server;
  }

  private hostSession(
    server: SecAggServer,
    opts: HttpSessionOptions,
    journal: SessionJournal | undefined,
  ): void {
    const id = server.session.sessionId;
    if (this.sessions.has(id))
      throw new SecAggError("INVALID_CONFIG", `session ${id} already hosted`);
    let settle!: HostedSession["settle"];
    const done = new Promise<SecAggResult>((resolve, reject) => (settle = { resolve, reject }));
    done.catch(() => undefined); // observed through result()
    const hosted: HostedSession = {
      server,
      opts,
      deadline: 0,
      journal,
      timer: undefined,
      advancing: undefined,
      done,
      settle,
    };
    this.sessions.set(id, hosted);
    if (server.round === "done") settle.resolve(server.getResult());
    else if (server.round === "failed") settle.reject(server.error);
    else this.armDeadline(hosted);
  }

  /** Resolves with the session's result once the unmasking round closed (rejects if the session failed). */
  result(sessionId: string): Promise<SecAggResult> {
    return this.get(sessionId).done;
  }

  /**
   * Transcript v2 of a finished session (hosted with `recordTranscript`).
   * @throws SecAggError UNKNOWN_SESSION, NOT_READY (not finished or not recording)
   */
  transcript(sessionId: string): SessionTranscript {
    return transcriptV2Of(this.get(sessionId).server);
  }

  private get(sessionId: string): HostedSession {
    const s = this.sessions.get(sessionId.toLowerCase());
    if (s === undefined) throw new SecAggError("UNKNOWN_SESSION", `no session ${sessionId}`);
    return s;
  }

  private armDeadline(s: HostedSession): void {
    clearTimeout(s.timer);
    s.deadline = Date.now() + s.opts.roundTimeoutMs;
    s.timer = setTimeout(() => void this.advance(s), s.opts.roundTimeoutMs);
    s.timer.unref();
  }

  private advance(s: HostedSession): Promise<void> {
    s.advancing ??= (async () => {
      try {
        const stage = await s.server.advance();
        if (stage === "done") {
          clearTimeout(s.timer);
          s.settle.resolve(s.server.getResult());
        } else this.armDeadline(s);
      } catch (e) {
        clearTimeout(s.timer);
        s.settle.reject(e);
      } finally {
        s.advancing = undefined;
      }
    })();
    return s.advancing;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const parts = url.pathname.split("/").filter((p) => p.length > 0);
    if (parts[0] !== "sessions" || parts.length < 2 || parts.length > 4) {
      throw new HttpError(404, "NOT_FOUND", `no route ${req.method} ${url.pathname}`);
    }
    const s = this.get(decodeURIComponent(parts[1]!));
    const action = parts[2];
    const server = s.server;
    if (
      req.method === "POST" &&
      parts.length === 3 &&
      action !== undefined &&
      action in ROUTE_ROUND
    ) {
      const raw = await this.readBody(req);
      // the masked input (round 2) may come as its compact binary form (binary.ts); everything else is JSON
      const binary =
        action === "masked" &&
        (req.headers["content-type"] ?? "").startsWith(MASKED_BINARY_CONTENT_TYPE);
      const msg = binary ? decodeMaskedBinary(raw) : fromJson(parseJson(raw));
      if (msg.body.round !== ROUTE_ROUND[action]) {
        throw new SecAggError(
          "INVALID_MESSAGE",
          `round ${msg.body.round} message posted to /${action}`,
        );
      }
      try {
        await server.submit(msg);
      } finally {
        // a rejected message may have dropped its sender (a signed fault): the round can be complete either way
        if (server.pending().length === 0 && server.round === msg.body.round) await this.advance(s);
        // acknowledged (or served from) only once it is on disk
        await s.journal?.flush();
      }
      return send(res, 202, { accepted: true, round: msg.body.round });
    }
    if (req.method !== "GET")
      throw new HttpError(405, "METHOD_NOT_ALLOWED", `${req.method} ${url.pathname}`);
    // nothing is served that a restart could take back: the round closes it derives from are on disk first
    await s.journal?.flush();
    if (action === undefined) {
      const sess = server.session;
      return send(res, 200, {
        sessionId: sess.sessionId,
        round: server.round,
        deadline: new Date(s.deadline).toISOString(),
        pending: server.pending().length,
        n: sess.n,
        vectorLength: sess.m,
        degree: sess.degree,
        threshold: sess.threshold,
        mode: sess.mode,
        error: server.error ? { code: server.error.code, message: server.error.message } : null,
      });
    }
    const client = parts.length === 4 ? parseClient(parts[3]!) : undefined;
    if (action === "keys" && client !== undefined) {
      return send(res, 200, { keys: server.keysFor(client).map(toJson) });
    }
    if (action === "shares" && client !== undefined) {
      const shares = server
        .sharesFor(client)
        .map((x) => ({ from: x.from, ciphertext: b64(x.ciphertext) }));
      return send(res, 200, { shares });
    }
    if (action === "consistency-request" && parts.length === 3)
      return send(res, 200, server.consistencyRequest());
    if (action === "unmask-request" && client !== undefined) {
      const r = server.unmaskRequest(client);
      return send(res, 200, r);
    }
    if (action === "result" && parts.length === 3) {
      if (s.opts.exposeResult !== true)
        throw new HttpError(403, "FORBIDDEN", "results are not served by this node");
      const r = server.getResult();
      return send(res, 200, {
        sessionId: r.sessionId,
        sum: b64(new Uint8Array(r.sum.buffer, r.sum.byteOffset, r.sum.byteLength)),
        decoded: [...r.decoded],
        survivors: r.survivors,
        dropped: r.dropped,
      });
    }
    throw new HttpError(404, "NOT_FOUND", `no route GET ${url.pathname}`);
  }

  private async readBody(req: IncomingMessage): Promise<Uint8Array> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > this.maxBodyBytes)
        throw new HttpError(413, "BODY_TOO_LARGE", `body over ${this.maxBodyBytes} bytes`);
      chunks.push(chunk);
    }
    return Buffer.concat(chunks);
  }

  private sendError(res: ServerResponse, e: unknown): void {
    if (e instanceof HttpError)
      return send(res, e.status, { error: { code: e.code, message: e.message } });
    if (e instanceof SecAggError)
      return send(res, httpStatusOf(e.code), { error: { code: e.code, message: e.message } });
    send(res, 500, {
      error: { code: "INTERNAL", message: e instanceof Error ? e.message : String(e) },
    });
  }
}

class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function parseJson(raw: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString("utf8"));
  } catch {
    throw new SecAggError("INVALID_MESSAGE", "body is not JSON");
  }
}

function parseClient(s: string): number {
  const n = Number(s);
  if (!/^[0-9]{1,10}$/.test(s) || !Number.isInteger(n) || n < 1 || n > 0xffffffff) {
    throw new SecAggError("INVALID_MESSAGE", `bad client id ${s}`);
  }
  return n;
}

const b64 = (u: Uint8Array): string =>
  Buffer.from(u.buffer, u.byteOffset, u.byteLength).toString("base64");

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  const data = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(data),
  });
  res.end(data);
}
