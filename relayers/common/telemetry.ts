/**
 * Telemetry of one relayer process: the pino logger (JSON lines on stderr) and an HTTP server on 127.0.0.1 only
 * (never a public interface) serving
 *
 *   GET /healthz  200 {status:"ok"|"starting", lastTickAt, lastTickAgeMs, ticks, queue:{queued,running,…}}, or 503
 *                 {status:"stale"} when no tick ended within `maxTickAgeMs` (counted from start before the first);
 *   GET /metrics  Prometheus text format (metrics.ts).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import pino, { type Logger } from "pino";
import type { ActionStatus } from "./action-queue.ts";
import type { RelayerMetrics } from "./metrics.ts";

export function createLogger(role: string, level: string): Logger {
  return pino({ name: `dml-relayer:${role}`, level }, pino.destination(2));
}

export interface HealthSource {
  role: string;
  startedAt: number;
  lastTickAt: () => number | undefined;
  ticks: () => number;
  queueCounts: () => Promise<Record<ActionStatus, number>>;
  maxTickAgeMs: number;
  now?: () => number;
}

export interface HealthReport {
  status: "ok" | "starting" | "stale";
  role: string;
  lastTickAt: string | null;
  lastTickAgeMs: number | null;
  ticks: number;
  queue: Record<ActionStatus, number> | null;
}

export async function healthReport(h: HealthSource): Promise<HealthReport> {
  const now = (h.now ?? Date.now)();
  const last = h.lastTickAt();
  const age = now - (last ?? h.startedAt);
  const status = age > h.maxTickAgeMs ? "stale" : last === undefined ? "starting" : "ok";
  const queue = await h.queueCounts().catch(() => null);
  return {
    status,
    role: h.role,
    lastTickAt: last === undefined ? null : new Date(last).toISOString(),
    lastTickAgeMs: last === undefined ? null : now - last,
    ticks: h.ticks(),
    queue,
  };
}

export interface TelemetryServer {
  port: number;
  url: string;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1:`port` (0 = any free port). */
export async function startTelemetryServer(opts: {
  port: number;
  metrics: RelayerMetrics;
  health: HealthSource;
}): Promise<TelemetryServer> {
  const server: Server = createServer((req, res) => {
    void (async () => {
      try {
        const url = new URL(req.url ?? "/", "http://127.0.0.1");
        if (req.method !== "GET") {
          res.writeHead(405, { allow: "GET" }).end();
        } else if (url.pathname === "/healthz") {
          const report = await healthReport(opts.health);
          res
            .writeHead(report.status === "stale" ? 503 : 200, {
              "content-type": "application/json",
            })
            .end(JSON.stringify(report));
        } else if (url.pathname === "/metrics") {
          const body = await opts.metrics.registry.metrics();
          res.writeHead(200, { "content-type": opts.metrics.registry.contentType }).end(body);
        } else {
          res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
        }
      } catch (e) {
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
        res.end(`${e instanceof Error ? e.message : String(e)}\n`);
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
