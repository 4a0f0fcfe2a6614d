/**
 * script/network/processes.ts `freePort`: the ports the test networks register on chain before their processes bind
 * them are drawn below the kernel's ephemeral range, so no `listen(0)` or outgoing connection of a process running
 * beside them can be handed the same port in between (the EADDRINUSE seen once under the parallel lanes).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { describe, it } from "node:test";
import { freePort } from "../../script/network/processes.ts";

const range = (() => {
  try {
    const [low] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8")
      .trim()
      .split(/\s+/);
    return Number(low);
  } catch {
    return undefined;
  }
})();

describe("freePort", () => {
  it("draws listenable loopback ports below the kernel's ephemeral range", async (t) => {
    if (range === undefined || range <= 2_048) {
      t.skip("no Linux ephemeral port range to stay below");
      return;
    }
    for (let i = 0; i < 20; i++) {
      const port = await freePort();
      assert.ok(port >= 1_024 && port < range, `${port} is below ${range}`);
      const s = createServer();
      await new Promise<void>((resolve, reject) => {
        s.once("error", reject);
        s.listen(port, "127.0.0.1", resolve);
      });
      await new Promise((r) => s.close(r));
    }
  });
});
