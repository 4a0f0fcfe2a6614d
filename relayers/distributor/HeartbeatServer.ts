/**
 * The distributor's public heartbeat endpoint (its NodeStaking endpoint): `POST /heartbeats` with a signed heartbeat
 * (`sdk/protocol/heartbeat.ts`) as JSON. The body is read up to `maxBodyBytes`, parsed, and handed to `intake`, which
 * verifies it (signature, epoch, registry) and stores it; only then the answer is 200. Every refusal is a 4xx with
 * `{"error": <code>, "message"}` and nothing stored:
 *
 *   400 HEARTBEAT_INVALID    not JSON, wrong shape, bad signature, wrong epoch, timestamp off
 *   403 DEVICE_UNREGISTERED  the signer is not a registered device
 *   409 HEARTBEAT_REPLAY     this device already has a heartbeat for the epoch
 *   413 BODY_TOO_LARGE       body above the limit
 *   404 NOT_FOUND / 405 METHOD_NOT_ALLOWED
 *   503 UNAVAILABLE          the check could not run (chain unreachable, disk): the device retries
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { Address } from "viem";
import { HeartbeatError, type HeartbeatErrorCode } from "./HeartbeatBook.ts";

export interface HeartbeatIntake {
  /** Verifies and stores a heartbeat. @throws HeartbeatError for a refusal (any other error is a 503). */
  accept(body: unknown): Promise<{ device: Address; epoch: number }>;
}

export interface HeartbeatServer {
  /** `http://host:port` as bound. */
  url: string;
  close(): Promise<void>;
}

const STATUS: Record<HeartbeatErrorCode, number> = {
  HEARTBEAT_INVALID: 400,
  DEVICE_UNREGISTERED: 403,
  HEARTBEAT_REPLAY: 409,
  BODY_TOO_LARGE: 413,
};

function reply(res: ServerResponse, status: number, body: Record<string, unknown>): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    ...(status === 413 ? { connection: "close" } : {}),
  });
  res.end(text);
}

/** Reads the body up to `limit` bytes. @throws HeartbeatError BODY_TOO_LARGE */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? "0");
    if (declared > limit) {
      reject(new HeartbeatError("BODY_TOO_LARGE", `body of ${declared} bytes, limit ${limit}`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new HeartbeatError("BODY_TOO_LARGE", `body above ${limit} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

export async function startHeartbeatServer(opts: {
  host: string;
  port: number;
  maxBodyBytes: number;
  intake: HeartbeatIntake;
  log?: Logger;
}): Promise<HeartbeatServer> {
  const { intake, log, maxBodyBytes } = opts;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname !== "/heartbeats") {
      reply(res, 404, { error: "NOT_FOUND", message: `no route ${url.pathname}` });
      return;
    }
    if (req.method !== "POST") {
      res.setHeader("allow", "POST");
      reply(res, 405, { error: "METHOD_NOT_ALLOWED", message: "POST a heartbeat" });
      return;
    }
    void (async () => {
      try {
        const raw = await readBody(req, maxBodyBytes);
        let body: unknown;
        try {
          body = JSON.parse(raw.toString("utf8"));
        } catch {
          throw new HeartbeatError("HEARTBEAT_INVALID", "the body is not JSON");
        }
        const { device, epoch } = await intake.accept(body);
        reply(res, 200, { status: "ok", device, epoch });
      } catch (e) {
        if (e instanceof HeartbeatError) {
          reply(res, STATUS[e.code], { error: e.code, message: e.message });
          return;
        }
        log?.warn({ err: e instanceof Error ? e.message : String(e) }, "heartbeat check failed");
        reply(res, 503, {
          error: "UNAVAILABLE",
          message: "the heartbeat could not be checked now",
        });
      }
    })();
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 15_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(":") ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
