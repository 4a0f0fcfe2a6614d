/**
 * Real `dml-relayer attestor` processes against the EDR chain (served over HTTP JSON-RPC on 127.0.0.1), each with its
 * own keystore, data directory and Helia copy. Two drawn attestors start and commit; one is SIGKILLed while it waits
 * for the reveal window; the third starts and commits (the window opens); the killed one restarts on the same data
 * directory and reveals. The job's algorithm is the reference package (confusion matrix, DP noise): each process
 * derives the job's model from it. Every attestor commits once and reveals once, the job is attested, SIGTERM exits 0; per
 * process CPU time and memory are read from /metrics.
 *
 * A second job: the aggregator (played by the test) commits a lie — a payout list that also pays the cohort member
 * that dropped out of the session — with the real sealed transcript. Under the old rule a single aggregator's word
 * decided the result: the customer's escrow would have paid a device (say, the aggregator's own Sybil) that
 * contributed nothing. Here three fresh attestor processes derive the true value from the transcript, commit and
 * reveal it; the aggregator reveals its lie; `finalize` marks the attestation Failed, slashes the aggregator's stake
 * by the slash amount and refunds the job's escrow to the customer; each attestor voted exactly once.
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
import { buildPayoutTree } from "#sdk/chain/payouts.ts";
import { resultHash } from "#sdk/chain/result.ts";
import { createKeystore, LIGHT_SCRYPT } from "#sdk/crypto/keystore.ts";
import { HeliaStore } from "#sdk/ipfs/index.ts";
import { JOB, JobLifecycle, who } from "../../bench/fixture/job-run.ts";
import { abi, aggregateCommitment, JobStatus, label, Role } from "../../bench/fixture/protocol.ts";
import {
  attestorContracts,
  prepareJob,
  referencePackage,
  type PreparedJob,
} from "./attestor-fixture.ts";
import { serveRpc, type RpcServer } from "../e2e/rpc.ts";
import { killAll, startRelayer, waitFor, type RelayerProcess } from "./helpers.ts";

const CLI = path.resolve(import.meta.dirname, "../../relayers/bin/dml-relayer.mjs");
const PASSWORD = "attestor password";

describe("dml-relayer attestor processes on EDR", () => {
  let life: JobLifecycle;
  let store: HeliaStore;
  let tmp: string;
  let rpc: RpcServer;
  let storeOpen = false;
  /** The test's Helia store (the package and each job's blocks): closed while attestor processes copy it. */
  const openStore = async () => {
    if (!storeOpen) store = await HeliaStore.open({ dir: path.join(tmp, "helia") });
    storeOpen = true;
    return store;
  };
  const closeStore = async () => {
    if (storeOpen) await store.close();
    storeOpen = false;
  };

  /**
   * For each drawn attestor of `job`: a keystore of its dev-chain key, a data dir (`<tag>-<i>`), a copy of the
   * published blocks (close the store first); `start(i)` spawns its `dml-relayer attestor` process.
   */
  async function attestorProcesses(job: PreparedJob, tag: string, manifestFile: string) {
    const hd = Array.from({ length: 20 }, (_, i) =>
      mnemonicToAccount(DEV_MNEMONIC, { addressIndex: i }),
    );
    const dirs = await Promise.all(
      job.attestors.map(async (a, i) => {
        const acct = hd.find((h) => getAddress(h.address) === a);
        assert.ok(acct, `${a} is a dev account`);
        const dir = path.join(tmp, `${tag}-${i}`);
        await createKeystore(path.join(dir, "keystore.json"), PASSWORD, {
          importKey: bytesToHex(acct.getHdKey().privateKey!),
          scrypt: LIGHT_SCRYPT,
        });
        await cp(path.join(tmp, "helia"), path.join(dir, "ipfs"), { recursive: true });
        return dir;
      }),
    );
    return (i: number): RelayerProcess =>
      startRelayer(
        [
          "attestor",
          "--data-dir",
          dirs[i]!,
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
  }

  before(async () => {
    tmp = await mkdtemp(path.join(tmpdir(), "dml-attestor-proc-"));
    store = await openStore();
    // the job's algorithm is the reference package (confusion + DP): each process derives the model from it
    life = await JobLifecycle.create(await referencePackage(store));
    rpc = await serveRpc(life.env.conn.provider);
  });
  after(async () => {
    killAll();
    rpc.close();
    await closeStore().catch(() => undefined);
    await rm(tmp, { recursive: true, force: true });
  });

  it(
    "three attestor processes commit and reveal once each across a SIGKILL and restart; the job is attested",
    { skip: fullProfileOnly("the e2e test's attestor kills after a commit and after a reveal") },
    async () => {
      const { env } = life;
      const job = await prepareJob(life, await openStore(), 8, { fromPackage: true });
      await closeStore(); // its blocks are copied into each attestor's own Helia directory below
      const manifestFile = path.join(tmp, "manifest.json");
      writeManifest(manifestFile, env.manifest);

      const start = await attestorProcesses(job, "attestor", manifestFile);
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
              cpuSeconds: num(/^dml_relayer_process_cpu_seconds_total(?:\{[^}]*\})? (\S+)$/m),
              rssMiB: Math.round(
                num(/^dml_relayer_process_resident_memory_bytes(?:\{[^}]*\})? (\S+)$/m) / 2 ** 20,
              ),
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
    },
  );
  it("a lying aggregator (its payout list pays a device that dropped out) is outvoted by the attestor processes, slashed, and the job refunded", async () => {
    const { env } = life;
    // a loose quality bound (standard error ≤ 1): the honest result meets it and pays the survivors
    const job = await prepareJob(life, await openStore(), 8, {
      fromPackage: true,
      maxStdError: 10n ** 18n,
    });
    await closeStore();
    const manifestFile = path.join(tmp, "manifest.json");
    writeManifest(manifestFile, env.manifest);
    const honest = job.derived.tree;
    assert.ok(honest && job.derived.result.qualityMet, "the honest result pays its survivors");
    // the fixture's session drops client N (the last cohort member) in round 0: the honest list does not pay it
    const dropped = getAddress(job.drawn.members.at(-1)!.device);
    assert.equal(honest.findClaim(dropped), undefined);
    const reward = honest.claims()[0]!.amount;
    const padded = buildPayoutTree(
      job.drawn.members.map((m) => ({ account: getAddress(m.device), value: reward })),
    );
    assert.equal(padded.claimOf(dropped).amount, reward);
    const lie = resultHash({
      ...job.derived.result,
      payoutRoot: padded.root,
      payoutTotal: padded.total,
    });
    assert.notEqual(lie, job.value);

    const aggregator = who(life.aggregator);
    const customer = who(life.customer);
    const stakeOf = () => env.read<bigint>("NodeStaking", "stakeOf", [aggregator, Role.Aggregator]);
    const escrowOf = async () =>
      (await env.read<{ escrow: bigint }>("JobMarket", "getJob", [job.jobId])).escrow;
    const [stake0, escrow0, customer0] = [
      await stakeOf(),
      await escrowOf(),
      await env.balance(customer),
    ];
    assert.ok(escrow0 > 0n);
    const aggSalt = label(`agg-salt-lie-${job.jobId}`);
    await env.send(life.aggregator, "ResultAttestation", "commitAggregate", [
      job.jobId,
      aggregateCommitment(lie, aggSalt),
      job.cid,
    ]);

    const attestation = () =>
      env.read<{ committedMask: number; revealedMask: number; status: number }>(
        "ResultAttestation",
        "attestationOf",
        [job.jobId],
      );
    const logs = (eventName: string) =>
      env.pub.getContractEvents({
        address: attestorContracts(life).ResultAttestation,
        abi: abi("ResultAttestation"),
        eventName,
        args: { jobId: job.jobId },
        fromBlock: 0n,
      });
    const start = await attestorProcesses(job, "honest-attestor", manifestFile);
    const procs = [0, 1, 2].map(start);
    try {
      await Promise.all(procs.map((p) => p.ready));
      await waitFor(
        "every attestor revealed",
        async () => Number((await attestation()).revealedMask) === 0b111,
        120_000,
      );
      for (const p of procs) p.child.kill("SIGTERM");
      for (const p of procs) assert.equal(await p.exited, 0, p.stderr());
    } finally {
      for (const p of procs) if (p.child.exitCode === null) p.child.kill("SIGKILL");
    }
    // the aggregator reveals its lie (its commitment binds it); nothing is unanimous, so a keeper finalises
    await env.send(life.aggregator, "ResultAttestation", "revealAggregate", [
      job.jobId,
      lie,
      aggSalt,
    ]);
    assert.equal(await env.read("JobMarket", "status", [job.jobId]), JobStatus.Committed);
    await env.send(life.keeper, "ResultAttestation", "finalize", [job.jobId]);

    type Args<T> = { args: T };
    const revealed = (
      (await logs("AttestationRevealed")) as unknown as Args<{
        attestor: Address;
        aggregateHash: Hex;
      }>[]
    ).map((e) => e.args);
    const committed = (
      (await logs("AttestationCommitted")) as unknown as Args<{ attestor: Address }>[]
    ).map((e) => getAddress(e.args.attestor));
    assert.deepEqual(committed.sort(), [...job.attestors].sort(), "one commit per attestor");
    assert.deepEqual(
      revealed.map((r) => getAddress(r.attestor)).sort(),
      [...job.attestors].sort(),
      "one reveal per attestor",
    );
    for (const r of revealed) assert.equal(r.aggregateHash, job.value, "the true value");
    const [fin] = (
      (await logs("AttestationFinalized")) as unknown as Args<{
        attested: boolean;
        majority: boolean;
        finalHash: Hex;
        faultMask: number;
        aggregatorFault: boolean;
      }>[]
    ).map((e) => e.args);
    assert.deepEqual(
      {
        attested: fin!.attested,
        majority: fin!.majority,
        finalHash: fin!.finalHash,
        faultMask: fin!.faultMask,
        aggregatorFault: fin!.aggregatorFault,
      },
      {
        attested: false,
        majority: true,
        finalHash: job.value,
        faultMask: 0,
        aggregatorFault: true,
      },
    );
    assert.equal(Number((await attestation()).status), 4, "attestation Failed");
    assert.equal(await env.read("JobMarket", "status", [job.jobId]), JobStatus.Failed);
    const slashes = (
      (await logs("NodeSlashed")) as unknown as Args<{ node: Address; amount: bigint }>[]
    ).map((e) => [getAddress(e.args.node), e.args.amount]);
    assert.deepEqual(slashes, [[aggregator, JOB.SLASH]], "only the aggregator is slashed");
    assert.equal(stake0 - (await stakeOf()), JOB.SLASH, "the aggregator's stake is slashed");
    assert.equal(await escrowOf(), 0n);
    assert.equal(
      (await env.balance(customer)) - customer0,
      escrow0,
      "the escrow is refunded to the customer",
    );
  });
});
