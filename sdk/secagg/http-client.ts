/**
 * HTTP client for SecAgg sessions: `runSecAggHttpClient` drives a whole session for one device against
 * `SecAggHttpServer`, polling each round's data with exponential backoff (409 NOT_READY means "round still open").
 * Every server response is zod-validated; the device's secrets never leave the `SecAggClient`.
 */
import { z } from "zod";
import { SecAggClient } from "./client.ts";
import type { SecAggAccount } from "./client.ts";
import { SecAggError } from "./errors.ts";
import type { SecAggErrorCode } from "./errors.ts";
import { fromJson, toJson } from "./messages.ts";
import type { ConsistencyRequest, MaskedInputBody, Signed, UnmaskRequest } from "./messages.ts";
import { MASKED_BINARY_CONTENT_TYPE, encodeMaskedBinary } from "./binary.ts";
import type { Hex } from "viem";
import type { ResolvedSession, SecAggSessionConfig } from "./params.ts";

export interface PollOptions {
  /** First wait between polls (ms). */
  initialDelayMs?: number;
  /** Cap of the exponential backoff (ms). */
  maxDelayMs?: number;
  /** Give up waiting for one round after this long (ms). */
  roundTimeoutMs?: number;
  /**
   * How long an unreachable aggregator (connection refused or reset, a 5xx, or the session not hosted yet: a
   * restarting aggregator replays its journal) is retried before the client gives up with TRANSPORT (ms; default
   * 120,000, a round's default timeout). 0 gives up at the first failure.
   */
  outageMs?: number;
}

/** Failures that say "the aggregator is not there right now", not "the aggregator refused". */
const isOutage = (e: unknown): boolean =>
  e instanceof SecAggError && (e.code === "TRANSPORT" || e.code === "UNKNOWN_SESSION");

const ErrorJson = z.object({ error: z.object({ code: z.string(), message: z.string() }) });
const KeysJson = z.object({ keys: z.array(z.unknown()) });
const SharesJson = z.object({
  shares: z.array(
    z.object({ from: z.number().int().min(1).max(0xffffffff), ciphertext: z.string().max(4096) }),
  ),
});
const IdsJson = z.array(z.number().int().min(1).max(0xffffffff)).max(1 << 16);
const ConsistencyRequestJson = z.object({
  sessionId: z.string().regex(/^0x[0-9a-fA-F]{64}$/),
  survivors: IdsJson,
});
const UnmaskRequestJson = z.object({
  sessionId: z.string().regex(/^0x[0-9a-fA-F]{64}$/),
  survivors: IdsJson,
  dropped: IdsJson,
  certificate: z
    .array(
      z.object({
        sender: z.number().int().min(1).max(0xffffffff),
        signature: z.string().regex(/^0x[0-9a-fA-F]{128}$/),
      }),
    )
    .max(1 << 16),
});
export const ResultJson = z.object({
  sessionId: z.string(),
  sum: z.string(),
  decoded: z.array(z.number()),
  survivors: z.array(z.number().int()),
  dropped: z.array(z.number().int()),
});

const KNOWN_CODES = new Set<string>([
  "INVALID_CONFIG",
  "INVALID_MESSAGE",
  "WRONG_SESSION",
  "UNKNOWN_CLIENT",
  "BAD_SIGNATURE",
  "REPLAY",
  "DUPLICATE",
  "OUT_OF_ROUND",
  "NOT_PARTICIPANT",
  "WRONG_LENGTH",
  "BAD_SHARE",
  "NOT_NEIGHBOUR",
  "BOTH_SHARES_REQUESTED",
  "CONSISTENCY_FAILED",
  "TOO_FEW_SURVIVORS",
  "TOO_FEW_SHARES",
  "RECONSTRUCTION_FAILED",
  "NOT_READY",
  "SESSION_FAILED",
  "UNKNOWN_SESSION",
]);

export class SecAggHttpTransport {
  readonly baseUrl: string;
  readonly sessionId: string;
  /** Bytes of request and response bodies (for accounting). */
  bytesSent = 0;
  bytesReceived = 0;

  constructor(baseUrl: string, sessionId: string) {
    this.baseUrl = baseUrl.replace(/\/$/, "");
    this.sessionId = sessionId;
  }

  private async request(
    method: "GET" | "POST",
    path: string,
    body?: unknown,
    binary?: Uint8Array,
  ): Promise<unknown> {
    const data: string | Uint8Array | undefined =
      binary ?? (body === undefined ? undefined : JSON.stringify(body));
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}/sessions/${this.sessionId}${path}`, {
        method,
        headers:
          data === undefined
            ? {}
            : {
                "content-type":
                  binary === undefined ? "application/json" : MASKED_BINARY_CONTENT_TYPE,
              },
        body: data,
      });
    } catch (e) {
      throw new SecAggError(
        "TRANSPORT",
        `${method} ${path}: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
    const text = await res.text();
    this.bytesSent +=
      data === undefined ? 0 : typeof data === "string" ? Buffer.byteLength(data) : data.length;
    this.bytesReceived += Buffer.byteLength(text);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new SecAggError(
        "TRANSPORT",
        `${method} ${path}: HTTP ${res.status} with a non-JSON body`,
      );
    }
    if (!res.ok) {
      const err = ErrorJson.safeParse(json);
      const code =
        err.success && KNOWN_CODES.has(err.data.error.code) ? err.data.error.code : "TRANSPORT";
      const message = err.success ? err.data.error.message : `HTTP ${res.status}`;
      throw new SecAggError(code as SecAggErrorCode, `${method} ${path}: ${message}`);
    }
    return json;
  }

  /**
   * Posts a signed message, retrying through an outage (`PollOptions.outageMs`). A retry answered REPLAY means an
   * earlier attempt was accepted (the server journals before it acknowledges, so the acknowledgement was what got
   * lost): the message is in.
   */
  async send(msg: Signed, opts: PollOptions = {}): Promise<void> {
    const outage = new Outage(opts);
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.post(msg);
      } catch (e) {
        if (attempt > 0 && e instanceof SecAggError && e.code === "REPLAY") return;
        await outage.wait(e);
      }
    }
  }

  /** Posts a signed message once: the masked input (round 2) as its binary form (binary.ts), the others as JSON. */
  async post(msg: Signed): Promise<void> {
    const route = ["advertise", "shares", "masked", "consistency", "unmask"][msg.body.round]!;
    if (msg.body.round === 2) {
      await this.request(
        "POST",
        `/${route}`,
        undefined,
        encodeMaskedBinary(msg as Signed<MaskedInputBody>),
      );
    } else await this.request("POST", `/${route}`, toJson(msg));
  }

  async keys(client: number): Promise<Signed[]> {
    return KeysJson.parse(await this.request("GET", `/keys/${client}`)).keys.map(fromJson);
  }

  async shares(client: number): Promise<{ from: number; ciphertext: Uint8Array }[]> {
    const parsed = SharesJson.parse(await this.request("GET", `/shares/${client}`));
    return parsed.shares.map((s) => ({
      from: s.from,
      ciphertext: new Uint8Array(Buffer.from(s.ciphertext, "base64")),
    }));
  }

  async consistencyRequest(): Promise<ConsistencyRequest> {
    const r = ConsistencyRequestJson.parse(await this.request("GET", "/consistency-request"));
    return { sessionId: r.sessionId as `0x${string}`, survivors: r.survivors };
  }

  /** The unmask request for `client` (its certificate is checked by the client, `consistency.ts`). */
  async unmaskRequest(client: number): Promise<UnmaskRequest> {
    const r = UnmaskRequestJson.parse(await this.request("GET", `/unmask-request/${client}`));
    return {
      sessionId: r.sessionId as `0x${string}`,
      survivors: r.survivors,
      dropped: r.dropped,
      certificate: r.certificate.map((e) => ({ sender: e.sender, signature: e.signature as Hex })),
    };
  }

  async result(): Promise<z.infer<typeof ResultJson>> {
    return ResultJson.parse(await this.request("GET", "/result"));
  }

  /**
   * Repeats `fn` while the server answers NOT_READY, with exponential backoff, and through an outage
   * (`PollOptions.outageMs`).
   */
  async poll<T>(fn: () => Promise<T>, opts: PollOptions = {}): Promise<T> {
    const maxDelay = opts.maxDelayMs ?? 1000;
    const until = Date.now() + (opts.roundTimeoutMs ?? 120_000);
    const outage = new Outage(opts);
    let delay = opts.initialDelayMs ?? 25;
    for (;;) {
      try {
        return await fn();
      } catch (e) {
        if (isOutage(e)) {
          await outage.wait(e);
          continue;
        }
        if (!(e instanceof SecAggError && e.code === "NOT_READY")) throw e;
        outage.end();
        if (Date.now() + delay > until)
          throw new SecAggError("NOT_READY", "gave up waiting for the round to close");
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(maxDelay, Math.ceil(delay * 1.6));
    }
  }
}

/** One stretch of failed requests: waits with backoff between retries, rethrows once the stretch is too long. */
class Outage {
  private since: number | undefined;
  private delay: number;
  private readonly limitMs: number;
  private readonly maxDelayMs: number;

  constructor(opts: PollOptions) {
    this.limitMs = opts.outageMs ?? 120_000;
    this.maxDelayMs = Math.max(opts.maxDelayMs ?? 1000, 250);
    this.delay = Math.max(opts.initialDelayMs ?? 25, 50);
  }

  /** Rethrows `e` unless it is an outage still within the limit; else sleeps before the caller retries. */
  async wait(e: unknown): Promise<void> {
    if (!isOutage(e)) throw e;
    const now = Date.now();
    this.since ??= now;
    if (now + this.delay - this.since > this.limitMs) throw e;
    await new Promise((r) => setTimeout(r, this.delay));
    this.delay = Math.min(this.maxDelayMs, Math.ceil(this.delay * 1.6));
  }

  end(): void {
    this.since = undefined;
  }
}

export interface HttpClientRun {
  id: number;
  /** Last round this client completed (4 = answered the unmasking round). */
  completedRound: number;
  bytesSent: number;
  bytesReceived: number;
}

/**
 * Runs one device's side of a session end to end over HTTP. `stopBeforeRound` makes the device go silent before that
 * round (failure injection for tests and drills); the returned promise then resolves early.
 */
export async function runSecAggHttpClient(opts: {
  baseUrl: string;
  config: SecAggSessionConfig | ResolvedSession;
  id: number;
  account: SecAggAccount;
  /**
   * The vector, or a promise of it: the client advertises and shares its keys while the input is still being
   * computed (a device classifying its records), and awaits it only for the masked input. A rejected input stops
   * the client with that error (it then counts as dropped after round 1).
   */
  input: ArrayLike<number> | Uint32Array | PromiseLike<ArrayLike<number> | Uint32Array>;
  poll?: PollOptions;
  stopBeforeRound?: 0 | 1 | 2 | 3 | 4;
}): Promise<HttpClientRun> {
  const client = new SecAggClient({ config: opts.config, id: opts.id, account: opts.account });
  const t = new SecAggHttpTransport(opts.baseUrl, client.session.sessionId);
  const stop = opts.stopBeforeRound ?? 5;
  const run: HttpClientRun = { id: opts.id, completedRound: -1, bytesSent: 0, bytesReceived: 0 };
  const finish = () => ({ ...run, bytesSent: t.bytesSent, bytesReceived: t.bytesReceived });
  if (stop <= 0) return finish();
  await t.send(await client.advertise(), opts.poll);
  run.completedRound = 0;
  if (stop <= 1) return finish();
  const keys = await t.poll(() => t.keys(opts.id), opts.poll);
  await t.send(await client.shareKeys(keys), opts.poll);
  run.completedRound = 1;
  if (stop <= 2) return finish();
  const shares = await t.poll(() => t.shares(opts.id), opts.poll);
  await t.send(await client.maskedInput(shares, await opts.input), opts.poll);
  run.completedRound = 2;
  if (stop <= 3) return finish();
  const survivors = await t.poll(() => t.consistencyRequest(), opts.poll);
  await t.send(await client.consistency(survivors), opts.poll);
  run.completedRound = 3;
  if (stop <= 4) return finish();
  const request = await t.poll(() => t.unmaskRequest(opts.id), opts.poll);
  await t.send(await client.unmask(request), opts.poll);
  run.completedRound = 4;
  return finish();
}
