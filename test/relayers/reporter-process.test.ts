/**
 * A real `dml-relayer reporter` process against the EDR chain (served over HTTP JSON-RPC on 127.0.0.1) with its own
 * keystore, data directory and Helia copy: a job of the reference package (confusion matrix, DP noise) is attested;
 * the process reads the cohort list and the package from IPFS, replays the transcript, reports once and the customer
 * decrypts the report. A restart on the same data directory sends nothing more; SIGTERM exits 0. CPU time, memory and
 * the report's latency (Attested seen → report mined) are read from /metrics.
 */
import assert from "node:assert/strict";
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fullProfileOnly } from "../profile.ts";
import { bytesToHex, getAddress, type Address, type Hex } from "viem";
import { mnemonicToAccount } from "viem/accounts";
import { DEV_MNEMONIC } from "#sdk/chain/clients.ts";
import { writeManifest } from "#sdk/chain/manifest.ts";
import { createKeystore, LIGHT_SCRYPT } from "#sdk/crypto/keystore.ts";
import { deriveOperatorKey, walletSigner } from "#sdk/crypto/operator-key.ts";
import { decryptReport, reportKeyPair } from "#sdk/crypto/report.ts";
import { HeliaStore } from "#sdk/ipfs/index.ts";
import { JobLifecycle, who } from "../../bench/fixture/job-run.ts";
import { abi, JobStatus } from "../../bench/fixture/protocol.ts";
import { prepareJob, referencePackage } from "./attestor-fixture.ts";
import { serveRpc, type RpcServer } from "../e2e/rpc.ts";
import { killAll, startRelayer, waitFor } from "./helpers.ts";

const CLI = path.resolve(import.meta.dirname, "../../relayers/bin/dml-relayer.mjs");
const PASSWORD = "reporter password";

describe(
  "dml-relayer reporter process on EDR",
  {
    skip: fullProfileOnly(
      "the e2e test's reporter kills before the attestation and after its report",
    ),
  },
  () => {
    let life: JobLifecycle;
    let store: HeliaStore;
    let tmp: string;
    let rpc: RpcServer;

    before(async () => {
      tmp = await mkdtemp(path.join(tmpdir(), "dml-reporter-proc-"));
      store = await HeliaStore.open({ dir: path.join(tmp, "helia") });
      life = await JobLifecycle.create(await referencePackage(store));
      rpc = await serveRpc(life.env.conn.provider);
    });
    after(async () => {
      killAll();
      rpc.server.closeAllConnections();
      rpc.server.close();
      await store.close().catch(() => undefined);
      await rm(tmp, { recursive: true, force: true });
    });

    it("reports an attested job once from a real process; a restart sends nothing more", async () => {
      const { env } = life;
      const customer = reportKeyPair();
      const job = await prepareJob(life, store, 8, {
        fromPackage: true,
        encryptionKey: customer.publicKey,
        extraRecipients: [
          {
            address: who(life.reporter),
            x25519PublicKey: (await deriveOperatorKey(walletSigner(life.reporter))).publicKey,
          },
        ],
      });
      await life.attest(job.jobId, job.derived.result, job.cid);
      assert.equal(await env.read("JobMarket", "status", [job.jobId]), JobStatus.Attested);
      await store.close(); // its blocks (package, cohort list, transcript) are copied into the reporter's directory

      const manifestFile = path.join(tmp, "manifest.json");
      writeManifest(manifestFile, env.manifest);
      const acct = Array.from({ length: 20 }, (_, i) =>
        mnemonicToAccount(DEV_MNEMONIC, { addressIndex: i }),
      ).find((h) => getAddress(h.address) === who(life.reporter));
      assert.ok(acct, "the reporter is a dev account");
      const dir = path.join(tmp, "reporter");
      await createKeystore(path.join(dir, "keystore.json"), PASSWORD, {
        importKey: bytesToHex(acct.getHdKey().privateKey!),
        scrypt: LIGHT_SCRYPT,
      });
      await cp(path.join(tmp, "helia"), path.join(dir, "ipfs"), { recursive: true });
      const start = () =>
        startRelayer(
          [
            "reporter",
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
      const reports = async () =>
        (
          await env.pub.getContractEvents({
            address: env.addr("Settlement"),
            abi: abi("Settlement"),
            eventName: "ReportPosted",
            args: { jobId: job.jobId },
            fromBlock: 0n,
          })
        ).map(
          (e) =>
            (
              e as unknown as {
                args: {
                  reporter: Address;
                  reportCid: string;
                  reportCommitment: Hex;
                  aggregateHash: Hex;
                };
              }
            ).args,
        );
      const nonce = () => env.pub.getTransactionCount({ address: who(life.reporter) });
      const nonceBefore = await nonce();

      let proc = start();
      try {
        const metricsUrl = await proc.ready;
        await waitFor("the job reported", async () => (await reports()).length > 0, 120_000);
        await waitFor(
          "the action recorded",
          async () =>
            /outcome="succeeded"/.test(await (await fetch(`${metricsUrl}/metrics`)).text()),
          30_000,
        );
        const text = await (await fetch(`${metricsUrl}/metrics`)).text();
        const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
        console.log(
          "reporter process:",
          JSON.stringify({
            cpuSeconds: num(/^dml_relayer_process_cpu_seconds_total(?:\{[^}]*\})? (\S+)$/m),
            rssMiB: Math.round(
              num(/^dml_relayer_process_resident_memory_bytes(?:\{[^}]*\})? (\S+)$/m) / 2 ** 20,
            ),
            reportLatencyS: num(
              /^dml_relayer_action_latency_seconds_sum\{role="reporter",type="report"\} (\S+)$/m,
            ),
          }),
        );
        proc.child.kill("SIGTERM");
        assert.equal(await proc.exited, 0, proc.stderr());
        assert.equal(await nonce(), nonceBefore + 1, "one transaction");

        // a restart on the same data directory: one full scan, the job is reported, nothing is sent
        proc = start();
        await proc.ready;
        const head = await env.pub.getBlockNumber();
        await new Promise((r) => setTimeout(r, 1_500)); // several ticks
        proc.child.kill("SIGTERM");
        assert.equal(await proc.exited, 0, proc.stderr());
        assert.equal(await nonce(), nonceBefore + 1, "no second transaction");
        assert.equal(await env.pub.getBlockNumber(), head);

        const all = await reports();
        assert.equal(all.length, 1);
        const posted = all[0]!;
        assert.equal(getAddress(posted.reporter), who(life.reporter));
        const reader = await HeliaStore.open({ dir: path.join(dir, "ipfs") });
        try {
          const report = decryptReport(
            customer.secretKey,
            await reader.getBytes(posted.reportCid),
            posted.reportCommitment,
          ) as { aggregateHash: Hex };
          assert.equal(report.aggregateHash, posted.aggregateHash);
          assert.equal(report.aggregateHash, job.derived.result.aggregateHash);
        } finally {
          await reader.close();
        }
        assert.equal(
          await env.read("JobMarket", "status", [job.jobId]),
          job.derived.result.qualityMet ? JobStatus.Settled : JobStatus.Failed,
        );
      } finally {
        if (proc.child.exitCode === null) proc.child.kill("SIGKILL");
      }
    });
  },
);
