import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  SecAggClient,
  SecAggError,
  SecAggHttpServer,
  SecAggHttpTransport,
  encodeVector,
  resolveSession,
  runSecAggHttpClient,
  toJson,
} from "#sdk/secagg/index.ts";
import { accountsFor, makeConfig, randomInputs, runHttpClients } from "./helpers.ts";

describe("secagg over HTTP (loopback)", () => {
  const http = new SecAggHttpServer();
  let url = "";
  before(async () => {
    url = await http.listen();
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
  });
  after(() => http.close());

  it("20 clients with 30% dropout spread over every round: exact sum of survivors", async () => {
    const n = 20;
    const m = 512;
    const accounts = accountsFor(n, 61);
    const config = makeConfig(accounts, m);
    const server = http.addSession(config, { roundTimeoutMs: 5_000, exposeResult: true });
    assert.equal(server.session.threshold, 14);
    const inputs = randomInputs(accounts.keys(), m, 61);
    // 6 of 20 drop: two before each of rounds 0, 1, 2 (silent ones are dropped by the round deadline)
    const stopBefore = new Map<number, 0 | 1 | 2 | 3 | 4>([
      [3, 0],
      [8, 0],
      [5, 1],
      [12, 1],
      [1, 2],
      [19, 2],
    ]);
    const runs = await runHttpClients({
      baseUrl: url,
      config,
      accounts,
      inputs,
      poll: { initialDelayMs: 20, maxDelayMs: 300, roundTimeoutMs: 60_000 },
      stopBefore,
    });
    const result = await http.result(config.sessionId);
    const survivors = [...accounts.keys()].filter((id) => !stopBefore.has(id));
    assert.deepEqual(result.survivors, survivors);
    const expected = new Uint32Array(m);
    for (const id of survivors) {
      const e = encodeVector(inputs.get(id)!, config.encoding);
      for (let i = 0; i < m; i++) expected[i] = expected[i]! + e[i]!;
    }
    assert.deepEqual(result.sum, expected);
    for (const r of runs)
      assert.equal(r.completedRound, stopBefore.has(r.id) ? stopBefore.get(r.id)! - 1 : 4);
    const full = runs.find((r) => r.id === 2)!;
    assert.ok(full.bytesSent > m * 4 && full.bytesReceived > 0);
    // the result route serves the same aggregate
    const served = await new SecAggHttpTransport(url, config.sessionId).result();
    assert.deepEqual(
      new Uint32Array(new Uint8Array(Buffer.from(served.sum, "base64")).buffer),
      expected,
    );
    assert.deepEqual(served.survivors, survivors);
  });

  it("answers bad requests with typed 4xx JSON errors", async () => {
    const accounts = accountsFor(4, 62);
    const config = makeConfig(accounts, 8);
    http.addSession(config, { roundTimeoutMs: 60_000 });
    const t = new SecAggHttpTransport(url, config.sessionId);
    const raw = async (method: string, path: string, body?: string) => {
      const res = await fetch(`${url}${path}`, { method, body });
      return { status: res.status, json: (await res.json()) as { error?: { code: string } } };
    };
    const sid = config.sessionId;
    assert.deepEqual(
      await raw("GET", `/sessions/0x${"00".repeat(32)}/keys/1`).then((r) => [
        r.status,
        r.json.error?.code,
      ]),
      [404, "UNKNOWN_SESSION"],
    );
    assert.equal(
      (await raw("POST", `/sessions/${sid}/advertise`, "{not json")).json.error?.code,
      "INVALID_MESSAGE",
    );
    assert.equal((await raw("POST", `/sessions/${sid}/advertise`, '{"body":{}}')).status, 400);
    await assert.rejects(
      t.keys(1),
      (e: unknown) => e instanceof SecAggError && e.code === "NOT_READY",
    );
    const session = resolveSession(config);
    const c1 = new SecAggClient({ config: session, id: 1, account: accounts.get(1)! });
    const adv = await c1.advertise();
    // posting a round-0 message to the round-1 route is refused
    const wrongRoute = await raw("POST", `/sessions/${sid}/shares`, JSON.stringify(toJson(adv)));
    assert.deepEqual([wrongRoute.status, wrongRoute.json.error?.code], [400, "INVALID_MESSAGE"]);
    const forged = toJson({ ...adv, body: { ...adv.body, sender: 2 } });
    const bad = await raw("POST", `/sessions/${sid}/advertise`, JSON.stringify(forged));
    assert.deepEqual([bad.status, bad.json.error?.code], [403, "BAD_SIGNATURE"]);
    await t.post(adv);
    await assert.rejects(
      t.post(adv),
      (e: unknown) => e instanceof SecAggError && e.code === "REPLAY",
    );
    const result = await raw("GET", `/sessions/${sid}/result`);
    assert.equal(result.status, 403);
    const status = await raw("GET", `/sessions/${sid}`);
    assert.equal(status.status, 200);
  });

  it("a round deadline with too few clients fails the session with TOO_FEW_SURVIVORS", async () => {
    const accounts = accountsFor(5, 63);
    const config = makeConfig(accounts, 4); // t = 4
    http.addSession(config, { roundTimeoutMs: 2000 });
    const runs = [...accounts.entries()].slice(0, 3).map(([id, account]) =>
      runSecAggHttpClient({
        baseUrl: url,
        config,
        id,
        account,
        input: new Float64Array(4),
        poll: { maxDelayMs: 100 },
      }),
    );
    // the clients fail together at the deadline: observe them now, assert on each below
    for (const r of runs) r.catch(() => undefined);
    await assert.rejects(
      http.result(config.sessionId),
      (e: unknown) => e instanceof SecAggError && e.code === "TOO_FEW_SURVIVORS",
    );
    for (const r of runs) {
      await assert.rejects(
        r,
        (e: unknown) => e instanceof SecAggError && e.code === "TOO_FEW_SURVIVORS",
      );
    }
  });
});
