/**
 * `dml-device host`: several devices in one process (device-runner/host.ts). Every directory opens before any device
 * runs, so a missing config, a wrong password or a repeated directory fails the start with the directory named and
 * the keystore's own code; once running, a device whose RPC is down polls in vain (no cursor) while the others complete
 * their poll against a real EDR chain served over HTTP on 127.0.0.1 and each saves its own cursor.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { mkdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { network } from "hardhat";
import pino from "pino";
import { generatePrivateKey } from "viem/accounts";
import { createKeystore, LIGHT_SCRYPT } from "#sdk/crypto/keystore.ts";
import { deviceConfigSchema, saveConfig } from "../../device-runner/config.ts";
import { DeviceError } from "../../device-runner/errors.ts";
import { hostDevices } from "../../device-runner/host.ts";
import { devicePaths } from "../../device-runner/paths.ts";
import { serveRpc, type RpcServer } from "../e2e/rpc.ts";

const PASSWORD = "correct horse battery staple";
const log = pino({ level: "silent" });

describe("dml-device host: many devices in one process", () => {
  let tmp: string;
  let rpc: RpcServer;

  before(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), "dml-host-"));
    const conn = await network.create();
    rpc = await serveRpc(conn.provider);
  });
  after(async () => {
    rpc?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  /** A device directory: keystore under PASSWORD, config on `rpcUrl` with placeholder contract addresses. */
  async function device(name: string, rpcUrl: string): Promise<string> {
    const dir = path.join(tmp, name);
    const p = devicePaths(dir);
    await mkdir(p.root, { recursive: true });
    await createKeystore(p.keystore, PASSWORD, {
      importKey: generatePrivateKey(),
      scrypt: LIGHT_SCRYPT,
    });
    await saveConfig(
      p.config,
      deviceConfigSchema.parse({
        rpcUrl,
        chainId: 31337,
        contracts: { JobMarket: "0x0000000000000000000000000000000000001001" },
        confirmations: 0,
        pollIntervalSec: 1,
      }),
    );
    return dir;
  }

  it("refuses an empty list, a repeated directory, a missing config and a wrong password, naming the directory", async () => {
    const a = await device("a", rpc.url);
    const isCode = (code: string, dir?: string) => (e: unknown) =>
      e instanceof DeviceError && e.code === code && (dir === undefined || e.message.includes(dir));
    await assert.rejects(
      hostDevices({ dirs: [], password: PASSWORD, log }),
      isCode("CONFIG_INVALID"),
    );
    await assert.rejects(
      hostDevices({ dirs: [a, a], password: PASSWORD, log }),
      isCode("CONFIG_INVALID"),
    );
    const empty = path.join(tmp, "empty");
    await mkdir(empty);
    await assert.rejects(
      hostDevices({ dirs: [a, empty], password: PASSWORD, log, once: true }),
      isCode("KEYSTORE_MISSING", empty),
    );
    await assert.rejects(
      hostDevices({ dirs: [a], password: "wrong password", log, once: true }),
      isCode("WRONG_PASSWORD", a),
    );
    await assert.rejects(readFile(devicePaths(a).chainCursor), "no device ran: no cursor written");
    await rm(empty, { recursive: true });
  });

  it("runs each device with its own directory; a device whose RPC is down does not hold the others back", async () => {
    const b = await device("b", rpc.url);
    const c = await device("c", rpc.url);
    const down = await device("down", "http://127.0.0.1:9");
    const { failed } = await hostDevices({
      dirs: [b, down, c],
      password: PASSWORD,
      log,
      once: true,
    });
    assert.deepEqual(failed, [], "a failed poll is logged and retried, not fatal");
    for (const dir of [b, c]) {
      const cursor = await readFile(devicePaths(dir).chainCursor, "utf8");
      assert.ok(cursor.length > 0, `${dir} polled the chain and saved its own cursor`);
    }
    await assert.rejects(readFile(devicePaths(down).chainCursor));
  });
});
