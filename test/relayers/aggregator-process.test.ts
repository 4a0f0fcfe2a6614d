/**
 * A real `dml-relayer aggregator` process against the EDR chain (served over HTTP JSON-RPC on 127.0.0.1), with its
 * own keystore, data directory and Helia copy. It opens the assigned job's session on its SecAgg HTTP server (the
 * URL it logs, published as its NodeStaking endpoint); the devices run the session over HTTP; it commits. It is
 * SIGKILLed while it waits for the reveal window, restarted on the same data directory, and reveals once the
 * attestors committed. One commit and one reveal on chain, the job is attested, SIGTERM exits 0; CPU time and memory
 * are read from /metrics.
 */
import assert from "node:assert/strict";
import type { Server } from "node:http";
import { cp, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fullProfileOnly } from "../profile.ts";
import { bytesToHex, getAddress, type Address, type Hex } from "viem";
import { mnemonicToAccount } from "viem/accounts";
import { DEV_MNEMONIC } from "#sdk/chain/clients.ts";
import { writeManifest } from "#sdk/chain/manifest.ts";
import { createKeystore, LIGHT_SCRYPT } from "#sdk/crypto/keystore.ts";
import { HeliaStore } from "#sdk/ipfs/index.ts";
import { commitVote, revealVote, type Vote } from "#sdk/protocol/attestor-vote.ts";
import { JobLifecycle, who } from "../../bench/fixture/job-run.ts";
import { abi, JobStatus } from "../../bench/fixture/protocol.ts";
import {
  assignJob,
  lifecycleWithPackage,
  publishEndpoint,
  runDevices,
} from "./fixtures/aggregator/setup.ts";
import { serveRpc } from "../e2e/rpc.ts";
import { killAll, startRelayer, waitFor, type RelayerProcess } from "./helpers.ts";

const CLI = path.resolve(import.meta.dirname, "../../relayers/bin/dml-relayer.mjs");
const PASSWORD = "aggregator password";
const N = 8;

describe(
  "dml-relayer aggregator process on EDR",
  { skip: fullProfileOnly("the e2e test's aggregator kills after its commit and its reveal") },
  () => {
    let life: JobLifecycle;
    let store: HeliaStore;
    let tmp: string;
    let rpc: { url: string; server: Server };

    before(async () => {
      tmp = await mkdtemp(path.join(tmpdir(), "dml-aggregator-proc-"));
      store = await HeliaStore.open({ dir: path.join(tmp, "helia") });
      life = await lifecycleWithPackage(store);
      rpc = await serveRpc(life.env.conn.provider);
    });
    after(async () => {
      killAll();
      rpc.server.closeAllConnections();
      rpc.server.close();
      await store.close().catch(() => undefined);
      await rm(tmp, { recursive: true, force: true });
    });

    it("serves, commits, survives a SIGKILL, reveals once; the job is attested", async () => {
      const { env } = life;
      const job = await assignJob(life, store, N);
      const { jobId } = job;
      await store.close(); // the package and cohort list are copied into the aggregator's own Helia directory
      const manifestFile = path.join(tmp, "manifest.json");
      writeManifest(manifestFile, env.manifest);
      const dir = path.join(tmp, "aggregator");
      const acct = Array.from({ length: 20 }, (_, i) =>
        mnemonicToAccount(DEV_MNEMONIC, { addressIndex: i }),
      ).find((h) => getAddress(h.address) === who(life.aggregator));
      assert.ok(acct, "the aggregator is a dev account");
      await createKeystore(path.join(dir, "keystore.json"), PASSWORD, {
        importKey: bytesToHex(acct.getHdKey().privateKey!),
        scrypt: LIGHT_SCRYPT,
      });
      await cp(path.join(tmp, "helia"), path.join(dir, "ipfs"), { recursive: true });

      let port = 0;
      const start = (): RelayerProcess =>
        startRelayer(
          [
            "aggregator",
            "--data-dir",
            dir,
            "--rpc-url",
            rpc.url,
            "--manifest",
            manifestFile,
            "--metrics-port",
            "0",
            "--listen-port",
            `${port}`,
            "--round-timeout-ms",
            "1500",
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
      const attestation = () =>
        env.read<{ status: number; aggregatorRevealed: boolean; attestors: readonly Address[] }>(
          "ResultAttestation",
          "attestationOf",
          [jobId],
        );
      const count = async (eventName: string) =>
        (
          await env.pub.getContractEvents({
            address: env.addr("ResultAttestation"),
            abi: abi("ResultAttestation"),
            eventName,
            args: { jobId },
            fromBlock: 0n,
          })
        ).length;
      const metrics = async (p: RelayerProcess) => {
        const text = await (await fetch(`${await p.ready}/metrics`)).text();
        const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
        return {
          cpuSeconds: num(/^dml_relayer_process_cpu_seconds_total(?:\{[^}]*\})? (\S+)$/m),
          rssMiB: Math.round(
            num(/^dml_relayer_process_resident_memory_bytes(?:\{[^}]*\})? (\S+)$/m) / 2 ** 20,
          ),
        };
      };

      let proc = start();
      try {
        await proc.ready;
        // the SecAgg server's URL from the start log line: the operator publishes it as its NodeStaking endpoint
        const url = /"secaggUrl":"(http:\/\/127\.0\.0\.1:(\d+))"/.exec(proc.stderr());
        assert.ok(url, proc.stderr());
        port = Number(url[2]);
        await publishEndpoint(life, url[1]!);
        await waitFor(
          "the session is open",
          () => proc.stderr().includes("aggregator: session-opened"),
          60_000,
        );
        const before = await metrics(proc);

        const runs = await runDevices(life, job, { offline: [N] });
        const clientsDone = Date.now();
        assert.equal(runs.filter((r) => r.completedRound === 4).length, N - 1);
        await waitFor(
          "the aggregator committed",
          async () => (await attestation()).status === 2,
          60_000,
        );
        const committedAfterMs = Date.now() - clientsDone;
        const afterCommit = await metrics(proc);

        // SIGKILL while it waits for the reveal window; restart on the same data directory and SecAgg port
        proc.child.kill("SIGKILL");
        assert.equal(await proc.exited, "SIGKILL");
        proc = start();
        await proc.ready;

        // the attestors commit the value they derive (they agree with the aggregator: no liar here)
        const rec = await readFile(path.join(dir, "aggregator", "jobs", `${jobId}.json`), "utf8");
        const value = (JSON.parse(rec) as { resultHash: Hex }).resultHash;
        const att = await attestation();
        const io = (a: Address) => ({
          resultAttestation: env.addr("ResultAttestation"),
          wallet: life.attestorWallet(getAddress(a)),
          publicClient: env.pub,
        });
        const votes: Vote[] = [];
        for (const a of att.attestors) votes.push(await commitVote(io(a), jobId, value));
        await waitFor(
          "the aggregator revealed",
          async () => (await attestation()).aggregatorRevealed,
          60_000,
        );
        for (const [i, a] of att.attestors.entries()) await revealVote(io(a), votes[i]!);
        assert.equal(await env.read("JobMarket", "status", [jobId]), JobStatus.Attested);
        const afterReveal = await metrics(proc);
        console.log(
          "aggregator process:",
          JSON.stringify({
            startupCpuSeconds: before.cpuSeconds,
            sessionAndCommitCpuSeconds: +(afterCommit.cpuSeconds - before.cpuSeconds).toFixed(3),
            rssMiBAfterCommit: afterCommit.rssMiB,
            restartToRevealCpuSeconds: afterReveal.cpuSeconds,
            rssMiBAfterReveal: afterReveal.rssMiB,
            clientsDoneToCommittedMs: committedAfterMs,
          }),
        );

        proc.child.kill("SIGTERM");
        assert.equal(await proc.exited, 0, proc.stderr());
        assert.equal(await count("AggregateCommitted"), 1);
        assert.equal(await count("AggregateRevealed"), 1);
      } finally {
        if (proc.child.exitCode === null) proc.child.kill("SIGKILL");
      }
    });
  },
);
