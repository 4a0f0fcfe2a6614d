/**
 * A real `dml-relayer watcher` process against the EDR chain (served over HTTP JSON-RPC on 127.0.0.1) with its own
 * keystore, data directory and Helia copy. A distributor posts a connected set with a forged heartbeat signature while
 * the watcher runs: the watcher proves it (`challengeSignature`), the poster is slashed, the watcher's balance rises by
 * the challenger share; SIGTERM exits 0; restarted on the same data directory it sends nothing more. Prints the time
 * from the post to the challenge and the process's CPU time and memory (from /metrics).
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { bytesToHex, getAddress, type Address } from "viem";
import { mnemonicToAccount } from "viem/accounts";
import { DEV_MNEMONIC } from "#sdk/chain/clients.ts";
import { CONNECTED_SET_LEAF_ENCODING } from "#sdk/chain/connected-set.ts";
import { writeManifest } from "#sdk/chain/manifest.ts";
import { createKeystore, LIGHT_SCRYPT } from "#sdk/crypto/keystore.ts";
import { HeliaStore } from "#sdk/ipfs/index.ts";
import { signHeartbeatMessage } from "#sdk/protocol/heartbeat.ts";
import { JOB, JobLifecycle, who } from "../../bench/fixture/job-run.ts";
import { abi, ETHER, Role } from "../../bench/fixture/protocol.ts";
import { killAll, startRelayer, waitFor } from "./helpers.ts";

const CLI = path.resolve(import.meta.dirname, "../../relayers/cli.ts");
const PASSWORD = "watcher password";
const WATCHER = 16;

/** Serves an EIP-1193 provider (the in-process EDR) as HTTP JSON-RPC on 127.0.0.1 (as attestor-process.test.ts). */
async function serveRpc(provider: {
  request(a: { method: string; params?: unknown[] }): Promise<unknown>;
}): Promise<{ url: string; server: Server }> {
  type Req = { id?: unknown; method: string; params?: unknown[] };
  const one = async (r: Req) => {
    try {
      return { jsonrpc: "2.0", id: r.id ?? null, result: await provider.request(r) };
    } catch (e) {
      const err = e as { code?: number; message?: string; data?: unknown };
      return {
        jsonrpc: "2.0",
        id: r.id ?? null,
        error: { code: err.code ?? -32603, message: err.message ?? String(e), data: err.data },
      };
    }
  };
  const server = createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = JSON.parse(Buffer.concat(chunks).toString()) as Req | Req[];
      const out = Array.isArray(body) ? await Promise.all(body.map(one)) : await one(body);
      res
        .writeHead(200, { "content-type": "application/json" })
        .end(
          JSON.stringify(out, (_k, v: unknown) =>
            typeof v === "bigint" ? `0x${v.toString(16)}` : v,
          ),
        );
    })();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe("dml-relayer watcher process on EDR", () => {
  let life: JobLifecycle;
  let tmp: string;
  let rpc: { url: string; server: Server };

  before(async () => {
    tmp = await mkdtemp(path.join(tmpdir(), "dml-watcher-proc-"));
    life = await JobLifecycle.create();
    rpc = await serveRpc(life.env.conn.provider);
  });
  after(async () => {
    killAll();
    rpc.server.closeAllConnections();
    rpc.server.close();
    await rm(tmp, { recursive: true, force: true });
  });

  it("catches a post with a forged heartbeat signature, is paid the challenger share, and never challenges twice", async () => {
    const { env } = life;
    const rogue = env.wallet(15);
    await env.stakeNode(rogue, Role.Distributor, 10_000n * ETHER);
    const devices = life.poolDevices(12);
    await env.registerDevices(devices, JOB.SCHEMA);

    // the list the rogue will post: device 5's leaf carries device 4's signature
    const epoch = await env.read<bigint>("GrowthPool", "nextEpoch");
    await env.warpTo(await env.read<bigint>("GrowthPool", "epochEnd", [epoch]));
    const domain = { chainId: env.pub.chain!.id, verifyingContract: env.addr("DeviceRegistry") };
    const leaves = await Promise.all(
      devices.map(async (d, i): Promise<[string, string, string]> => [
        `${i}`,
        d.address,
        await signHeartbeatMessage(i === 5 ? devices[4]! : d, domain, epoch),
      ]),
    );
    const tree = StandardMerkleTree.of(leaves, [...CONNECTED_SET_LEAF_ENCODING]);
    const store = await HeliaStore.open({ dir: path.join(tmp, "helia") });
    const cid = await store.addBytes(new TextEncoder().encode(JSON.stringify(tree.dump())));
    await store.close();

    const dir = path.join(tmp, "watcher");
    await cp(path.join(tmp, "helia"), path.join(dir, "ipfs"), { recursive: true });
    const acct = mnemonicToAccount(DEV_MNEMONIC, { addressIndex: WATCHER });
    assert.equal(getAddress(acct.address), who(env.wallet(WATCHER)));
    await createKeystore(path.join(dir, "keystore.json"), PASSWORD, {
      importKey: bytesToHex(acct.getHdKey().privateKey!),
      scrypt: LIGHT_SCRYPT,
    });
    const manifestFile = path.join(tmp, "manifest.json");
    writeManifest(manifestFile, env.manifest);
    const start = () =>
      startRelayer(
        [
          "watcher",
          "--data-dir",
          dir,
          "--rpc-url",
          rpc.url,
          "--manifest",
          manifestFile,
          "--metrics-port",
          "0",
          "--tick-interval-ms",
          "200",
          "--retry-base-ms",
          "200",
          "--fetch-timeout-ms",
          "10000",
        ],
        { DML_KEYSTORE_PASSWORD: PASSWORD },
        CLI,
      );
    const me = getAddress(acct.address);
    const challenges = async () =>
      (
        await env.pub.getContractEvents({
          address: env.addr("GrowthPool"),
          abi: abi("GrowthPool"),
          eventName: "PostChallenged",
          args: { epoch },
          fromBlock: 0n,
        })
      ).map(
        (e) =>
          (e as unknown as { args: { challenger: Address; fault: number; slashed: bigint } }).args,
      );

    const p = start();
    const metricsUrl = await p.ready;
    const balance0 = await env.balance(me);
    const t0 = performance.now();
    await env.send(rogue, "GrowthPool", "postEpoch", [epoch, tree.root, BigInt(tree.length), cid]);
    await waitFor("the watcher's challenge", async () => (await challenges()).length > 0, 60_000);
    const postToChallengeMs = performance.now() - t0;
    const [ev] = await challenges();
    assert.equal(getAddress(ev!.challenger), me);
    assert.equal(ev!.fault, 1, "BadSignature");
    assert.equal(ev!.slashed, 10_000n * ETHER);
    const shareBps = BigInt(await env.read<number>("NodeStaking", "challengerShareBps"));
    assert.equal((await env.balance(me)) - balance0, (ev!.slashed * shareBps) / 10_000n);

    const text = await (await fetch(`${metricsUrl}/metrics`)).text();
    const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
    console.log(
      "watcher process:",
      JSON.stringify({
        postToChallengeMs: Math.round(postToChallengeMs),
        cpuSeconds: num(/^dml_relayer_process_cpu_seconds_total (\S+)$/m),
        rssMiB: Math.round(num(/^dml_relayer_process_resident_memory_bytes (\S+)$/m) / 2 ** 20),
        challengeLatencyS: num(
          /^dml_relayer_action_latency_seconds_sum\{role="watcher",type="challenge-set"\} (\S+)$/m,
        ),
      }),
    );
    p.child.kill("SIGTERM");
    assert.equal(await p.exited, 0, p.stderr());

    // restarted on the same data directory: a few ticks, nothing sent
    const nonce = await env.pub.getTransactionCount({ address: me });
    const q = start();
    const url = await q.ready;
    await waitFor("three ticks", async () => {
      const h = (await (await fetch(`${url}/healthz`)).json()) as { ticks: number };
      return h.ticks >= 3;
    });
    assert.equal(await env.pub.getTransactionCount({ address: me }), nonce, "no transaction sent");
    assert.equal((await challenges()).length, 1);
    q.child.kill("SIGTERM");
    assert.equal(await q.exited, 0, q.stderr());
  });
});
