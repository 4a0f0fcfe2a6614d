/**
 * A real `dml-relayer distributor` process against the EDR chain (served over HTTP JSON-RPC on 127.0.0.1), with its
 * keystore, data directory and Helia: devices POST their heartbeats to the endpoint it prints; it is SIGKILLed after
 * acknowledging them and restarted on the same data directory (the journal keeps them); once the epoch ends it posts
 * the set; it is SIGKILLed again right after the post is on chain and restarted (no second post); it requests the
 * draw after the challenge window and assigns a scheduled job's cohort (equal to `drawCohort`'s) once; SIGTERM exits 0.
 * Per-process CPU time and resident memory are read from its /metrics.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fullProfileOnly } from "../profile.ts";
import { bytesToHex, getAddress, type Hex } from "viem";
import { mnemonicToAccount } from "viem/accounts";
import { DEV_MNEMONIC } from "#sdk/chain/clients.ts";
import { buildConnectedSet } from "#sdk/chain/connected-set.ts";
import { writeManifest } from "#sdk/chain/manifest.ts";
import { createKeystore, LIGHT_SCRYPT } from "#sdk/crypto/keystore.ts";
import { signHeartbeat, signHeartbeatMessage } from "#sdk/protocol/heartbeat.ts";
import { JOB, JobLifecycle, who } from "../../bench/fixture/job-run.ts";
import { abi, JobStatus } from "../../bench/fixture/protocol.ts";
import { serveRpc, type RpcServer } from "../e2e/rpc.ts";
import { killAll, startRelayer, waitFor, type RelayerProcess } from "./helpers.ts";

const CLI = path.resolve(import.meta.dirname, "../../relayers/bin/dml-relayer.mjs");
const PASSWORD = "distributor password";
const N = 10;
const COHORT = 8;

describe(
  "dml-relayer distributor process on EDR",
  {
    skip: fullProfileOnly(
      "the e2e test's distributor kills after its post, draw request and assignment",
    ),
  },
  () => {
    let life: JobLifecycle;
    let tmp: string;
    let rpc: RpcServer;

    before(async () => {
      tmp = await mkdtemp(path.join(tmpdir(), "dml-distributor-proc-"));
      life = await JobLifecycle.create();
      rpc = await serveRpc(life.env.conn.provider);
    });
    after(async () => {
      killAll();
      rpc.close();
      await rm(tmp, { recursive: true, force: true });
    });

    it("keeps heartbeats across SIGKILL, posts the set once, requests the draw, assigns the cohort once", async () => {
      const { env } = life;
      const manifestFile = path.join(tmp, "manifest.json");
      writeManifest(manifestFile, env.manifest);
      const me = who(life.distributor);
      const acct = Array.from({ length: 20 }, (_, i) =>
        mnemonicToAccount(DEV_MNEMONIC, { addressIndex: i }),
      ).find((h) => getAddress(h.address) === me);
      assert.ok(acct, "the distributor is a dev account");
      const dir = path.join(tmp, "distributor");
      await createKeystore(path.join(dir, "keystore.json"), PASSWORD, {
        importKey: bytesToHex(acct.getHdKey().privateKey!),
        scrypt: LIGHT_SCRYPT,
      });
      const start = (): RelayerProcess =>
        startRelayer(
          [
            "distributor",
            "--data-dir",
            dir,
            "--rpc-url",
            rpc.url,
            "--manifest",
            manifestFile,
            "--metrics-port",
            "0",
            "--listen-port",
            "0",
            "--tick-interval-ms",
            "200",
            "--retry-base-ms",
            "200",
          ],
          { DML_KEYSTORE_PASSWORD: PASSWORD },
          CLI,
        );
      const heartbeatUrl = async (p: RelayerProcess) => {
        await p.ready;
        let url: string | undefined;
        await waitFor("the heartbeat endpoint", () => {
          url = /"heartbeatUrl":"(http:\/\/[^"]+)"/.exec(p.stderr())?.[1];
          return url !== undefined;
        });
        return url!;
      };
      const events = async (contract: string, eventName: string, args: Record<string, unknown>) =>
        (
          await env.pub.getContractEvents({
            address: env.addr(contract),
            abi: abi(contract),
            eventName,
            args,
            fromBlock: 0n,
          })
        ).map((e) => (e as unknown as { args: Record<string, unknown> }).args);

      const devices = life.poolDevices(N);
      await env.registerDevices(devices, JOB.SCHEMA);
      const domain = { chainId: env.pub.chain!.id, verifyingContract: env.addr("DeviceRegistry") };
      const epoch = await env.read<bigint>("GrowthPool", "currentEpoch");
      const now = Number(await env.now());

      let p = start();
      try {
        const url = await heartbeatUrl(p);
        for (const d of devices) {
          const r = await fetch(`${url}/heartbeats`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify(
              await signHeartbeat(d, domain, { epoch: Number(epoch), timestamp: now }),
            ),
          });
          assert.equal(r.status, 200, await r.text());
        }
        // killed with the heartbeats acknowledged and the epoch still running
        p.child.kill("SIGKILL");
        assert.equal(await p.exited, "SIGKILL");
        p = start();
        await heartbeatUrl(p);
        await env.warpTo(await env.read<bigint>("GrowthPool", "epochEnd", [epoch]));
        await waitFor(
          "the connected set posted",
          async () => (await events("GrowthPool", "EpochPosted", { epoch })).length > 0,
          120_000,
        );
        // killed right after its post is on chain (before or after its handler returned): the restart posts nothing
        p.child.kill("SIGKILL");
        assert.equal(await p.exited, "SIGKILL");
        p = start();
        await heartbeatUrl(p);
        const expected = buildConnectedSet(
          await Promise.all(
            [...devices]
              .sort((a, b) => (a.address.toLowerCase() < b.address.toLowerCase() ? -1 : 1))
              .map(async (d) => ({
                device: d.address,
                signature: await signHeartbeatMessage(d, domain, epoch),
              })),
          ),
        );
        const posted = await events("GrowthPool", "EpochPosted", { epoch });
        assert.equal(posted[0]!.root, expected.root, "the heartbeats survived the first SIGKILL");
        assert.equal(posted[0]!.n, BigInt(N));

        const [, , finalAt] = await env.read<readonly [Hex, bigint, bigint]>(
          "GrowthPool",
          "connectedSet",
          [epoch],
        );
        await env.warpTo(finalAt + 1n);
        await waitFor(
          "the draw requested",
          async () => (await events("GrowthPool", "DrawRequested", { epoch })).length > 0,
          120_000,
        );

        life.connectedSets.push({ epoch, finalAt, tree: expected, devices });
        const jobId = await life.schedule(life.spec(COHORT, { devices: COHORT, participants: 8 }));
        await life.awaitSeedBlock(jobId);
        await waitFor(
          "the cohort assigned",
          async () =>
            (await env.read<number>("JobMarket", "status", [jobId])) === JobStatus.Assigned,
          120_000,
        );
        const want = await life.drawCohortOf(jobId, COHORT);
        const assigned = await events("JobMarket", "CohortAssigned", { jobId });
        assert.equal(assigned.length, 1);
        assert.equal(assigned[0]!.cohortRoot, want.tree.root);
        assert.equal(getAddress(assigned[0]!.aggregator as string), who(life.aggregator));

        const text = await (await fetch(`${await p.ready}/metrics`)).text();
        const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
        console.log(
          "distributor process:",
          JSON.stringify({
            cpuSeconds: num(/^dml_relayer_process_cpu_seconds_total(?:\{[^}]*\})? (\S+)$/m),
            rssMiB: Math.round(
              num(/^dml_relayer_process_resident_memory_bytes(?:\{[^}]*\})? (\S+)$/m) / 2 ** 20,
            ),
            cohortLatencyS: num(
              /^dml_relayer_action_latency_seconds_sum\{role="distributor",type="cohort"\} (\S+)$/m,
            ),
            drawLatencyS: num(
              /^dml_relayer_action_latency_seconds_sum\{role="distributor",type="draw"\} (\S+)$/m,
            ),
          }),
        );
        p.child.kill("SIGTERM");
        assert.equal(await p.exited, 0, p.stderr());
        assert.equal(
          (await events("GrowthPool", "EpochPosted", { epoch })).length,
          1,
          "posted once",
        );
        assert.equal(
          (await events("GrowthPool", "DrawRequested", { epoch })).length,
          1,
          "one draw",
        );
        assert.equal(
          (await events("JobMarket", "CohortAssigned", { jobId })).length,
          1,
          "assigned once",
        );
      } finally {
        if (p.child.exitCode === null) p.child.kill("SIGKILL");
      }
    });
  },
);
