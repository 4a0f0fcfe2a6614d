/**
 * Synchronous JSON-RPC for `ethereum.call`: a handler runs inside WebAssembly and cannot await, so the request goes
 * to a worker thread that does the HTTP round trip while the calling thread blocks on `Atomics.wait`; the reply is
 * then taken off the message port with `receiveMessageOnPort`. The worker is plain JavaScript (evaluated from a
 * string, so it loads the same under node, tsx and the test runner) and is unref'd: it never keeps a process alive.
 */
import {
  MessageChannel,
  receiveMessageOnPort,
  Worker,
  type MessagePort,
} from "node:worker_threads";
import { z } from "zod";
import { RuntimeError, RuntimeErrorCode } from "./errors.ts";

const WORKER_SOURCE = `
const { workerData } = require("node:worker_threads");
const { port, flag } = workerData;
const signal = new Int32Array(flag);
port.on("message", async ({ url, body, timeoutMs }) => {
  let reply;
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    reply = res.ok || text.startsWith("{") ? { ok: true, text } : { ok: false, error: "HTTP " + res.status + ": " + text.slice(0, 200) };
  } catch (e) {
    reply = { ok: false, error: String(e && e.message ? e.message : e) };
  }
  port.postMessage(reply);
  Atomics.store(signal, 0, 1);
  Atomics.notify(signal, 0);
});
`;

const rpcReply = z.union([
  z.object({ ok: z.literal(true), text: z.string() }),
  z.object({ ok: z.literal(false), error: z.string() }),
]);

const rpcResponse = z.object({
  jsonrpc: z.literal("2.0").optional(),
  id: z.unknown().optional(),
  result: z.unknown().optional(),
  error: z
    .object({ code: z.number(), message: z.string(), data: z.unknown().optional() })
    .optional(),
});

export type RpcOutcome =
  | { readonly ok: true; readonly result: unknown }
  | {
      readonly ok: false;
      readonly code: number;
      readonly message: string;
      readonly data?: unknown;
    };

export interface SyncRpc {
  /** Sends one JSON-RPC request and blocks until it is answered; throws CALL_FAILED on transport errors. */
  request(method: string, params: readonly unknown[]): RpcOutcome;
  close(): Promise<void>;
}

export function createSyncRpc(url: string, timeoutMs = 10_000): SyncRpc {
  const flag = new SharedArrayBuffer(4);
  const signal = new Int32Array(flag);
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { port: port2, flag },
    transferList: [port2 as unknown as MessagePort],
  });
  worker.unref();
  port1.unref();
  let id = 0;
  let closed = false;
  return {
    request(method, params) {
      if (closed) throw new RuntimeError(RuntimeErrorCode.CALL_FAILED, "the RPC worker is closed");
      Atomics.store(signal, 0, 0);
      const body = JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params }, (_k, v: unknown) =>
        typeof v === "bigint" ? `0x${v.toString(16)}` : v,
      );
      port1.postMessage({ url, body, timeoutMs });
      // the worker's own fetch timeout fires first; this bound only guards against a dead worker
      const waited = Atomics.wait(signal, 0, 0, timeoutMs + 2_000);
      const msg = receiveMessageOnPort(port1);
      if (waited === "timed-out" && !msg)
        throw new RuntimeError(
          RuntimeErrorCode.CALL_FAILED,
          `${method} to ${url} got no answer within ${timeoutMs} ms`,
        );
      const reply = rpcReply.safeParse(msg?.message);
      if (!reply.success)
        throw new RuntimeError(
          RuntimeErrorCode.CALL_FAILED,
          `${method} to ${url}: malformed worker reply`,
        );
      if (!reply.data.ok)
        throw new RuntimeError(
          RuntimeErrorCode.CALL_FAILED,
          `${method} to ${url} failed: ${reply.data.error}`,
        );
      let parsed;
      try {
        parsed = rpcResponse.parse(JSON.parse(reply.data.text));
      } catch (e) {
        throw new RuntimeError(
          RuntimeErrorCode.CALL_FAILED,
          `${method} to ${url}: not a JSON-RPC response: ${reply.data.text.slice(0, 200)}`,
          { cause: e },
        );
      }
      if (parsed.error)
        return {
          ok: false,
          code: parsed.error.code,
          message: parsed.error.message,
          ...(parsed.error.data !== undefined ? { data: parsed.error.data } : {}),
        };
      return { ok: true, result: parsed.result };
    },
    async close() {
      closed = true;
      port1.close();
      await worker.terminate();
    },
  };
}
