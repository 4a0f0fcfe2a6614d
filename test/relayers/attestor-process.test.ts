/**
 * Real `dml-relayer attestor` processes against the EDR chain (served over HTTP JSON-RPC on 127.0.0.1), each with its
 * own keystore, data directory and Helia copy. Two drawn attestors start and commit; one is SIGKILLed while it waits
 * for the reveal window; the third starts and commits (the window opens); the killed one restarts on the same data
 * directory and reveals. The job's algorithm is the reference package (confusion matrix, DP noise): each process
 * derives the job's model from it. Every attestor commits once and reveals once, the job is attested, SIGTERM exits 0; per
 * process CPU time and memory are read from /metrics.
 */
import assert from "node:assert/strict";
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { bytesToHex, getAddress, type Address } from "viem";
import { mnemonicToAccount } from "viem/accounts";
import { DEV_MNEMONIC } from "#sdk/chain/clients.ts";
import { writeManifest } from "#sdk/chain/manifest.ts";
import { createKeystore, LIGHT_SCRYPT } from "#sdk/crypto/keystore.ts";
import { HeliaStore } from "#sdk/ipfs/index.ts";
import { JobLifecycle } from "../../bench/fixture/job-run.ts";
import { abi, aggregateCommitment, JobStatus, label } from "../../bench/fixture/protocol.ts";
import { attestorContracts, prepareJob, referencePackage } from "./attestor-fixture.ts";
import { serveRpc, type RpcServer } from "../e2e/rpc.ts";
import { killAll, startRelayer, waitFor, type RelayerProcess } from "./helpers.ts";

const CLI = path.resolve(import.meta.dirname, "../../relayers/cli.ts");
const PASSWORD = "attestor password";

describe("dml-relayer attestor processes on EDR", () => {
  let life: JobLifecycle;
  let store: HeliaStore;
  let tmp: string;
  let rpc: RpcServer;

  before(async () => {
    tmp = await mkdtemp(path.join(tmpdir(), "dml-attestor-proc-"));
    store = await HeliaStore.open({ dir: path.join(tmp, "helia") });
    // the job's algorithm is the reference package (confusion + DP): each process derives the model from it
    life = await JobLifecycle.create(await referencePackage(store));
    rpc = await serveRpc(life.env.conn.provider);
  });
  after(async () => {
    killAll();
    rpc.close();
    await store.close().catch(() => undefined);
    await rm(tmp, { recursive: true, force: true });
  });

  it("three attestor processes commit and reveal once each across a SIGKILL and restart; the job is attested", async () => {
    const { env } = life;
    const job = await prepareJob(life, store, 8, { fromPackage: true });
    await store.close(); // its blocks are copied into each attestor's own Helia directory below
    const manifestFile = path.join(tmp, "manifest.json");
    writeManifest(manifestFile, env.manifest);

    // each drawn attestor: a keystore of its dev-chain key, a data dir, a copy of the published blocks
    const hd = Array.from({ length: 20 }, (_, i) =>
      mnemonicToAccount(DEV_MNEMONIC, { addressIndex: i }),
    );
    const setup = await Promise.all(
      job.attestors.map(async (a, i) => {
        const acct = hd.find((h) => getAddress(h.address) === a);
        assert.ok(acct, `${a} is a dev account`);
        const dir = path.join(tmp, `attestor-${i}`);
        const keystore = path.join(dir, "keystore.json");
        await createKeystore(keystore, PASSWORD, {
          importKey: bytesToHex(acct.getHdKey().privateKey!),
          scrypt: LIGHT_SCRYPT,
        });
        await cp(path.join(tmp, "helia"), path.join(dir, "ipfs"), { recursive: true });
        return { a, dir };
      }),
    );
    const start = (i: number): RelayerProcess =>
      startRelayer(
        [
          "attestor",
          "--data-dir",
          setup[i]!.dir,
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
    const attestation = () =>
      env.read<{ committedMask: number; revealedMask: number; status: number }>(
        "ResultAttestation",
        "attestationOf",
        [job.jobId],
      );
    const events = async (eventName: string) =>
      (
        await env.pub.getContractEvents({
          address: attestorContracts(life).ResultAttestation,
          abi: abi("ResultAttestation"),
          eventName,
          args: { jobId: job.jobId },
          fromBlock: 0n,
        })
      ).map((e) => getAddress((e as unknown as { args: { attestor: Address } }).args.attestor));

    const aggSalt = label(`agg-salt-${job.jobId}`);
    await env.send(life.aggregator, "ResultAttestation", "commitAggregate", [
      job.jobId,
      aggregateCommitment(job.value, aggSalt),
      job.cid,
    ]);

    const procs: (RelayerProcess | undefined)[] = [start(0), start(1), undefined];
    try {
      await Promise.all([procs[0]!.ready, procs[1]!.ready]);
      await waitFor(
        "attestors 0 and 1 committed",
        async () => (Number((await attestation()).committedMask) & 0b011) === 0b011,
        120_000,
      );
      // attestor 0 waits for the reveal window (attestor 2 has not committed): SIGKILL it
      procs[0]!.child.kill("SIGKILL");
      assert.equal(await procs[0]!.exited, "SIGKILL");
      procs[2] = start(2);
      await waitFor(
        "every attestor committed",
        async () => Number((await attestation()).committedMask) === 0b111,
        120_000,
      );
      procs[0] = start(0); // same data dir: the queue shows commit succeeded; reconcile asks for the reveal
      await waitFor(
        "every attestor revealed",
        async () => Number((await attestation()).revealedMask) === 0b111,
        120_000,
      );

      const numbers = await Promise.all(
        procs.map(async (p) => {
          const text = await (await fetch(`${await p!.ready}/metrics`)).text();
          const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
          const latency = (type: string) =>
            num(
              new RegExp(
                `^dml_relayer_action_latency_seconds_sum\\{role="attestor",type="${type}"\\} (\\S+)$`,
                "m",
              ),
            );
          return {
            cpuSeconds: num(/^dml_relayer_process_cpu_seconds_total (\S+)$/m),
            rssMiB: Math.round(num(/^dml_relayer_process_resident_memory_bytes (\S+)$/m) / 2 ** 20),
            commitLatencyS: latency("commit"),
            revealLatencyS: latency("reveal"),
          };
        }),
      );
      // CPU is counted from the registry's creation (after start-up); latency is enqueue → success (NaN: not run by
      // this process, e.g. the restarted attestor's commit ran before its SIGKILL)
      console.log("attestor processes:", JSON.stringify(numbers));
      for (const p of procs) p!.child.kill("SIGTERM");
      for (const p of procs) assert.equal(await p!.exited, 0, p!.stderr());

      assert.deepEqual((await events("AttestationCommitted")).sort(), [...job.attestors].sort());
      assert.deepEqual((await events("AttestationRevealed")).sort(), [...job.attestors].sort());
      await env.send(life.aggregator, "ResultAttestation", "revealAggregate", [
        job.jobId,
        job.value,
        aggSalt,
      ]);
      if ((await env.read("JobMarket", "status", [job.jobId])) === JobStatus.Committed)
        await env.send(life.keeper, "ResultAttestation", "finalize", [job.jobId]);
      assert.equal(await env.read("JobMarket", "status", [job.jobId]), JobStatus.Attested);
    } finally {
      for (const p of procs)
        if (p !== undefined && p.child.exitCode === null) p.child.kill("SIGKILL");
    }
  });
});
