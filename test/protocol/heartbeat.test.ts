/** sdk/protocol/heartbeat: the device's signed heartbeat, the distributor's check of it, and its HTTP delivery. */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { keccak256, toHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { ProtocolError } from "#sdk/protocol/errors.ts";
import { sendHeartbeat, signHeartbeat, verifyHeartbeat } from "#sdk/protocol/heartbeat.ts";

async function rejects(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof ProtocolError, `expected ProtocolError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

const schema = (id: string) => keccak256(toHex(id));

describe("heartbeat", () => {
  it("signed by the device key; tampering, wrong epoch, stale time and wrong domain are rejected", async () => {
    const acc = privateKeyToAccount(generatePrivateKey());
    const domain = {
      chainId: 31337,
      verifyingContract: "0x0000000000000000000000000000000000000dEE" as const,
    };
    const now = 1_800_000_000;
    const hb = await signHeartbeat(acc, domain, {
      epoch: 4,
      timestamp: now,
      schemas: [schema("email/rfc822-v1")],
    });
    assert.equal(
      await verifyHeartbeat(JSON.parse(JSON.stringify(hb)), domain, {
        nowSeconds: now + 10,
        epoch: 4,
      }),
      acc.address,
    );
    await rejects(
      verifyHeartbeat({ ...hb, epoch: 5 }, domain, { nowSeconds: now }),
      "HEARTBEAT_INVALID",
    );
    await rejects(verifyHeartbeat(hb, domain, { nowSeconds: now, epoch: 3 }), "HEARTBEAT_INVALID");
    await rejects(verifyHeartbeat(hb, domain, { nowSeconds: now + 3600 }), "HEARTBEAT_INVALID");
    await rejects(
      verifyHeartbeat(hb, { ...domain, chainId: 1 }, { nowSeconds: now }),
      "HEARTBEAT_INVALID",
    );
    // the signature covers (device, epoch) only: another device cannot reuse it; schemas are unsigned transport
    await rejects(
      verifyHeartbeat(
        { ...hb, device: privateKeyToAccount(generatePrivateKey()).address },
        domain,
        { nowSeconds: now },
      ),
      "HEARTBEAT_INVALID",
    );
    assert.equal(
      await verifyHeartbeat({ ...hb, schemas: [schema("other")] }, domain, { nowSeconds: now }),
      acc.address,
    );
    await rejects(
      verifyHeartbeat({ ...hb, extra: 1 }, domain, { nowSeconds: now }),
      "HEARTBEAT_INVALID",
    );
  });

  describe("delivery (POST /heartbeats over HTTP)", () => {
    let server: Server;
    let url: string;
    const received: unknown[] = [];
    let status = 204;
    before(async () => {
      server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
          received.push({
            method: req.method,
            path: req.url,
            body: JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown,
          });
          res.writeHead(status).end();
        });
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    });
    after(() => new Promise<void>((r) => server.close(() => r())));

    it("posts the JSON body the distributor verifies; a refusal or an unreachable distributor is HEARTBEAT_INVALID", async () => {
      const acc = privateKeyToAccount(generatePrivateKey());
      const domain = { chainId: 31337, verifyingContract: acc.address };
      const hb = await signHeartbeat(acc, domain, { epoch: 9, timestamp: 1_800_000_000 });
      await sendHeartbeat(url, hb);
      assert.equal(received.length, 1);
      const got = received[0] as { method: string; path: string; body: unknown };
      assert.equal(got.method, "POST");
      assert.equal(got.path, "/heartbeats");
      assert.equal(
        await verifyHeartbeat(got.body, domain, { nowSeconds: 1_800_000_000, epoch: 9 }),
        acc.address,
      );

      status = 400;
      await rejects(sendHeartbeat(url, hb), "HEARTBEAT_INVALID");
      const closed = createServer();
      await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
      const port = (closed.address() as AddressInfo).port;
      await new Promise<void>((r) => closed.close(() => r()));
      await rejects(sendHeartbeat(`http://127.0.0.1:${port}`, hb, 2_000), "HEARTBEAT_INVALID");
    });
  });
});
