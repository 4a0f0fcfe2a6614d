import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  MASKED_BINARY_HEADER_BYTES,
  SecAggClient,
  SecAggError,
  SecAggHttpServer,
  SecAggServer,
  decodeMaskedBinary,
  defaultDegree,
  defaultThreshold,
  encodeMaskedBinary,
  transportSize,
  verifyBySender,
  wireSize,
} from "#sdk/secagg/index.ts";
import type { MaskedInputBody, Signed } from "#sdk/secagg/index.ts";
import { accountsFor, makeConfig, randomInputs, runHttpClients } from "./helpers.ts";

/** A real signed masked input of client 1 in a 4-client session with vectors of length m. */
async function maskedMessage(m: number): Promise<{
  server: SecAggServer;
  masked: Signed<MaskedInputBody>;
}> {
  const accounts = accountsFor(4, 51);
  const config = makeConfig(accounts, m);
  const server = new SecAggServer(config);
  const clients = [...accounts].map(
    ([id, account]) => new SecAggClient({ config: server.session, id, account }),
  );
  for (const c of clients) await server.submit(await c.advertise());
  await server.advance();
  for (const c of clients) await server.submit(await c.shareKeys(server.keysFor(c.id)));
  await server.advance();
  const inputs = randomInputs(accounts.keys(), m, 52);
  const masked = await clients[0]!.maskedInput(server.sharesFor(1), inputs.get(1)!);
  return { server, masked };
}

describe("secagg binary masked input", () => {
  const http = new SecAggHttpServer();
  let url = "";
  before(async () => {
    url = await http.listen();
  });
  after(() => http.close());

  it("round-trips, keeps its signature, and is 4m + 112 bytes (≤ 1.3× the raw vector even at small m)", async () => {
    const { server, masked } = await maskedMessage(1000);
    const bytes = encodeMaskedBinary(masked);
    assert.equal(bytes.length, 4 * 1000 + MASKED_BINARY_HEADER_BYTES);
    assert.equal(transportSize(masked), bytes.length);
    assert.ok(wireSize(masked) > 1.33 * 4 * 1000, "JSON carries base64");
    const back = decodeMaskedBinary(bytes);
    assert.deepEqual(back.body.masked, masked.body.masked);
    assert.equal(back.body.sessionId, masked.body.sessionId);
    assert.equal(back.body.sender, 1);
    assert.equal(back.signature, masked.signature);
    assert.ok(
      verifyBySender(server.session, back),
      "the binary form verifies as the JSON form does",
    );
    await server.submit(back);
    assert.deepEqual(server.pending().includes(1), false);
  });

  it("malformed binary bodies: typed errors, nothing attributed", async () => {
    const { server, masked } = await maskedMessage(8);
    const good = encodeMaskedBinary(masked);
    const code = (b: Uint8Array) => {
      try {
        decodeMaskedBinary(b);
        return "ok";
      } catch (e) {
        assert.ok(e instanceof SecAggError);
        return e.code;
      }
    };
    assert.equal(code(good.subarray(0, 50)), "INVALID_MESSAGE", "truncated header");
    assert.equal(code(good.subarray(0, good.length - 4)), "WRONG_LENGTH", "truncated vector");
    const badMagic = good.slice();
    badMagic[0] = 0;
    assert.equal(code(badMagic), "INVALID_MESSAGE");
    const badRound = good.slice();
    badRound[5] = 3;
    assert.equal(code(badRound), "INVALID_MESSAGE");
    const reserved = good.slice();
    reserved[7] = 1;
    assert.equal(code(reserved), "INVALID_MESSAGE");
    // a flipped vector byte still decodes, but its signature no longer verifies
    const flipped = good.slice();
    flipped[MASKED_BINARY_HEADER_BYTES] = flipped[MASKED_BINARY_HEADER_BYTES]! ^ 1;
    await assert.rejects(
      server.submit(decodeMaskedBinary(flipped)),
      (e: unknown) => e instanceof SecAggError && e.code === "BAD_SIGNATURE",
    );
    assert.deepEqual(server.faults, []);
  });

  it("over HTTP the client posts the binary form; bytes sent per client ≤ 1.3× the raw vector at m = 100,000", async () => {
    const n = 4;
    const m = 100_000;
    const accounts = accountsFor(n, 53);
    const config = makeConfig(accounts, m);
    http.addSession(config, { roundTimeoutMs: 30_000 });
    const inputs = randomInputs(accounts.keys(), m, 53);
    const runs = await runHttpClients({
      baseUrl: url,
      config,
      accounts,
      inputs,
      poll: { initialDelayMs: 10, maxDelayMs: 100 },
    });
    assert.equal((await http.result(config.sessionId)).survivors.length, n);
    for (const r of runs) {
      assert.equal(r.completedRound, 4);
      assert.ok(r.bytesSent <= 1.3 * 4 * m, `client ${r.id} sent ${r.bytesSent} bytes`);
      assert.ok(r.bytesSent >= 4 * m);
    }
  });

  it("defaultDegree sizes k so that T = t + 1 live signers survive 30% dropout (n · P ≤ 1e-6)", () => {
    const tail = (k: number, p: number, below: number) => {
      let total = 0;
      let logC = 0;
      for (let i = 0; i < below; i++) {
        if (i > 0) logC += Math.log((k - i + 1) / i);
        total += Math.exp(logC + i * Math.log(p) + (k - i) * Math.log1p(-p));
      }
      return total;
    };
    for (const [n, expected] of [
      [200, 199],
      [500, 214],
      [1000, 222],
      [10_000, 246],
    ] as const) {
      const k = defaultDegree(n);
      assert.equal(k, expected);
      if (k >= n - 1) continue;
      const T = defaultThreshold(n, k) + 1;
      assert.ok(n * tail(k, 0.7, T) <= 1e-6, `n = ${n}: T = ${T} live`);
      assert.ok(n * tail(k - 2, 0.7, defaultThreshold(n, k - 2) + 1) > 1e-6, "smallest such k");
    }
  });
});
