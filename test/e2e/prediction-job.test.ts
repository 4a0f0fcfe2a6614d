/**
 * A prediction job run end to end by separate processes over real sockets (issue 11): the EDR chain served over
 * HTTP JSON-RPC, one `dml-ipfs` daemon, `dml-relayer distributor | aggregator | attestor ×3 | reporter | watcher`
 * processes with their own keystores and data directories, and `dml-device run` processes holding SpamAssassin
 * inboxes (one stays offline). Nothing role-specific runs in this process: it plays the developer, the customer,
 * the keeper and the clock.
 *
 * Devices heartbeat to the distributor → the distributor posts the growth epoch's connected set → it stands after
 * its challenge window (the watcher checked it and did nothing) → the customer's job is scheduled → the distributor
 * draws and assigns the cohort → devices run the ONNX model and SecAgg with the aggregator → the aggregator seals
 * the transcript to the drawn attestors and the reporters and commits → attestors replay it and commit-reveal →
 * the aggregator reveals → the reporter replays the transcript and settles → devices claim → the customer decrypts
 * the report. Every role is SIGKILLed once at a phase where it has durable work pending and restarted on its data
 * directory; no transaction's effect happens twice.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { getAddress, keccak256, toHex, type Address, type Hex } from "viem";
import { JobStatus } from "#sdk/chain/enums.ts";
import { decryptReport, reportKeyPair } from "#sdk/crypto/report.ts";
import { bidCommitment } from "#sdk/chain/commitments.ts";
import { DEFAULT_PRIVACY_SPEC } from "#sdk/privacy/index.ts";
import { ActionQueue } from "../../relayers/common/action-queue.ts";
import { abi } from "../../bench/fixture/protocol.ts";
import { JOB } from "../../bench/fixture/job-run.ts";
import {
  DEVICE_CLI,
  killChildren,
  LocalNetwork,
  PASSWORD,
  spawnTs,
  waitFor,
  type ChildProc,
  type RelayerProcess,
} from "./network.ts";

const DEVICES = 6; // kMin is 5: one device stays offline and the cohort is the other five plus it
const OFFLINE = 1;
/** Longest wait for one phase. */
const LONG = 420_000;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe("a prediction job run by relayer and device processes (EDR, dml-ipfs, HTTP)", () => {
  let net: LocalNetwork;
  let tmp: string;

  before(async () => {
    tmp = await mkdtemp(path.join(tmpdir(), "dml-e2e-"));
    net = await LocalNetwork.start({ dir: tmp, devices: DEVICES });
  });
  after(async () => {
    killChildren(); // whatever a failed step left running
    await net?.close();
    await rm(tmp, { recursive: true, force: true });
  });

  it("settles the job; devices claim; the customer decrypts the estimate; restarts change nothing twice", async () => {
    const { life } = net;
    const { env } = life;
    const procs: (RelayerProcess | ChildProc)[] = [];
    const events = async (contract: string, eventName: string, args?: Record<string, unknown>) =>
      env.pub.getContractEvents({
        address: env.addr(contract),
        abi: abi(contract),
        eventName,
        ...(args ? { args } : {}),
        fromBlock: 0n,
      });
    const status = (jobId: bigint) => env.read<number>("JobMarket", "status", [jobId]);

    // operators: the distributor's heartbeat endpoint and the aggregator's SecAgg server are their NodeStaking endpoints
    const distPort = await freePort();
    const aggPort = await freePort();
    await net.setEndpoint(life.distributor, `http://127.0.0.1:${distPort}`);
    await net.setEndpoint(life.aggregator, `http://127.0.0.1:${aggPort}`);
    const distributor = () =>
      net.relayer("distributor", life.distributor, ["--listen-port", String(distPort)]);
    const aggregator = () =>
      net.relayer("aggregator", life.aggregator, [
        "--listen-port",
        String(aggPort),
        "--round-timeout-ms",
        "8000",
      ]);
    let dist = await distributor();
    let agg = await aggregator();
    const watcher = await net.relayer("watcher", life.keeper);
    procs.push(dist, agg, watcher);
    await Promise.all([dist.ready, agg.ready, watcher.ready]);

    // devices: heartbeats to the distributor for the current growth epoch
    const online = net.devices.slice(0, DEVICES - OFFLINE);
    const devices = online.map((d) => net.device(d.index));
    procs.push(...devices);
    // generous deadlines: under a loaded CI machine (other test files run beside this one) process start-up is slow
    await waitFor(
      "every online device sent a heartbeat",
      () => devices.every((p) => p.stderr().includes("heartbeat sent")),
      LONG,
    ).catch((e: unknown) => {
      for (const d of devices) console.log("device stderr (tail):", d.stderr().slice(-2000));
      throw e;
    });
    const growthEpoch = await env.read<bigint>("GrowthPool", "currentEpoch");
    await env.warpTo(await env.read<bigint>("GrowthPool", "epochEnd", [growthEpoch]));
    await waitFor(
      `the distributor posted growth epoch ${growthEpoch}'s connected set`,
      async () =>
        (
          await env.read<readonly [Hex, bigint, bigint]>("GrowthPool", "connectedSet", [
            growthEpoch,
          ])
        )[1] > 0n,
      LONG,
    );
    const [, n, finalAt] = await env.read<readonly [Hex, bigint, bigint]>(
      "GrowthPool",
      "connectedSet",
      [growthEpoch],
    );
    assert.equal(n, BigInt(online.length), "the connected set holds every device that heartbeat");
    // SIGKILL the distributor after its post: the restarted one neither posts again nor loses its place
    dist.child.kill("SIGKILL");
    assert.equal(await dist.exited, "SIGKILL");
    await env.warpTo(finalAt + 1n);
    dist = await distributor();
    procs.push(dist);
    await dist.ready;

    // customer: a job with its report key and a sealed bid; the keeper reveals it and finalizes the auction
    const reportKey = reportKeyPair();
    const spec = {
      ...life.spec(online.length + OFFLINE, { devices: 5, participants: 5 }),
      encryptionKey: reportKey.publicKey,
    };
    await env.warpToCommitWindow();
    await env.send(life.customer, "JobMarket", "createJob", [spec]);
    const jobId = await env.read<bigint>("JobMarket", "jobCount");
    const epoch = await env.read<bigint>("JobMarket", "currentEpoch");
    const salt = keccak256(toHex(`bid ${jobId}`));
    await env.send(life.customer, "JobMarket", "commitBid", [
      jobId,
      bidCommitment(jobId, JOB.BID, salt, net.addressOf(life.customer)),
      JOB.BID,
    ]);
    const [, commitEnd, revealEnd] = await env.epochWindows(epoch);
    await env.warpTo(commitEnd!);
    await env.send(life.keeper, "JobMarket", "revealBid", [jobId, JOB.BID, salt]);
    await env.warpTo(revealEnd!);
    await env.send(life.keeper, "JobMarket", "finalizeEpoch", [epoch]);
    assert.equal(await status(jobId), JobStatus.Scheduled);
    await env.awaitSeedBlock(jobId);

    // distributor: draws and assigns the cohort; the attestors are drawn in the same transaction
    await waitFor(
      "the distributor assigned the cohort",
      async () => (await status(jobId)) === JobStatus.Assigned,
      LONG,
    );
    const att = await env.read<{ attestors: readonly Address[] }>(
      "ResultAttestation",
      "attestationOf",
      [jobId],
    );
    const attestorProcs = await Promise.all(
      att.attestors.map((a) => net.relayer("attestor", life.attestorWallet(getAddress(a)))),
    );
    procs.push(...attestorProcs);
    let reporter = await net.relayer("reporter", life.reporter);
    procs.push(reporter);

    // devices serve; the aggregator commits. SIGKILL it after its commit, before its reveal
    await waitFor(
      "the aggregator committed",
      async () => (await status(jobId)) === JobStatus.Committed,
      LONG,
    );
    agg.child.kill("SIGKILL");
    assert.equal(await agg.exited, "SIGKILL");
    // SIGKILL one attestor as soon as it committed; restarted, it reveals once
    const committedMask = async () =>
      Number(
        (await env.read<{ committedMask: bigint }>("ResultAttestation", "attestationOf", [jobId]))
          .committedMask,
      );
    await waitFor("attestor 0 committed", async () => ((await committedMask()) & 1) === 1, LONG);
    attestorProcs[0]!.child.kill("SIGKILL");
    assert.equal(await attestorProcs[0]!.exited, "SIGKILL");
    const a0 = await net.relayer("attestor", life.attestorWallet(getAddress(att.attestors[0]!)));
    agg = await aggregator();
    procs.push(a0, agg);
    // the reporter is SIGKILLed while the job is not yet attested, and restarted
    reporter.child.kill("SIGKILL");
    await reporter.exited;
    reporter = await net.relayer("reporter", life.reporter);
    procs.push(reporter);

    await waitFor("the job settled", async () => (await status(jobId)) === JobStatus.Settled, LONG);

    // no effect twice: one post, one assignment, one aggregate commit/reveal, one vote each, one report
    assert.equal((await events("GrowthPool", "EpochPosted", { epoch: growthEpoch })).length, 1);
    assert.equal((await events("JobMarket", "CohortAssigned", { jobId })).length, 1);
    assert.equal((await events("ResultAttestation", "AttestationCommitted", { jobId })).length, 3);
    assert.equal((await events("ResultAttestation", "AttestationRevealed", { jobId })).length, 3);
    assert.equal((await events("Settlement", "ReportPosted", { jobId })).length, 1);

    // devices claim from ReportPosted alone
    for (const d of online) {
      const c = spawnTs(
        DEVICE_CLI,
        ["--data-dir", d.paths.root, "claim", "job", "--job", `${jobId}`],
        {
          DML_DEVICE_PASSWORD: PASSWORD,
        },
      );
      assert.equal(await c.exited, 0, c.stderr());
    }
    const claimed = await events("Settlement", "PayoutClaimed", { jobId });
    assert.equal(claimed.length, online.length, "every online device was paid once");

    // the customer decrypts the report: the estimate with its interval, against the devices' true spam share
    const [posted] = await events("Settlement", "ReportPosted", { jobId });
    const rp = (
      posted as unknown as {
        args: { reportCid: string; reportCommitment: Hex; aggregateHash: Hex };
      }
    ).args;
    const report = decryptReport(
      reportKey.secretKey,
      await net.store.getBytes(rp.reportCid),
      rp.reportCommitment,
    ) as {
      aggregateHash: Hex;
      devices: number;
      adjusted?: { estimate: number; interval: [number, number] }[];
    };
    assert.equal(report.aggregateHash, rp.aggregateHash);
    assert.equal(report.devices, online.length);
    const spam = net.outputLabels.indexOf("spam");
    const est = report.adjusted?.[spam];
    assert.ok(est, "the adjusted estimate is in the report");
    // the ground truth the devices' emails hold (a DP job reads each device's first maxRecords)
    const read = online.flatMap((d) => d.emails.slice(0, DEFAULT_PRIVACY_SPEC.maxRecords));
    const truth = read.filter((e) => e.label === 1).length / read.length;
    assert.ok(est.interval[0] <= est.estimate && est.estimate <= est.interval[1]);
    console.log(
      `e2e: job ${jobId} settled; spam share ${est.estimate.toFixed(4)} (95% [${est.interval[0].toFixed(4)}, ${est.interval[1].toFixed(4)}]) vs ${truth.toFixed(4)} true on the devices' emails`,
    );

    // per role: CPU and memory of the process that finished the job, its actions, enqueue → success latency
    const relayers: [string, RelayerProcess][] = [
      ["distributor", dist],
      ["aggregator", agg],
      ["attestor (restarted)", a0],
      ["attestor", attestorProcs[1]!],
      ["attestor", attestorProcs[2]!],
      ["reporter", reporter],
      ["watcher", watcher],
    ];
    const rows = await Promise.all(
      relayers.map(async ([name, p]) => {
        const text = await (await fetch(`${await p.ready}/metrics`)).text();
        const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
        const runs = [
          ...text.matchAll(
            /^dml_relayer_action_runs_total\{[^}]*type="([^"]+)",outcome="succeeded"\} (\S+)$/gm,
          ),
        ]
          .map((m) => `${m[1]}×${m[2]}`)
          .join(" ");
        const latency = [
          ...text.matchAll(
            /^dml_relayer_action_latency_seconds_sum\{[^}]*type="([^"]+)"\} (\S+)$/gm,
          ),
        ]
          .map((m) => `${m[1]} ${Number(m[2]).toFixed(2)}s`)
          .join(" ");
        return {
          role: name,
          cpuS: num(/^dml_relayer_process_cpu_seconds_total (\S+)$/m).toFixed(2),
          rssMiB: Math.round(num(/^dml_relayer_process_resident_memory_bytes (\S+)$/m) / 2 ** 20),
          succeeded: runs,
          latency,
        };
      }),
    );
    console.table(rows);

    for (const p of procs)
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGTERM");
    for (const [name, p] of relayers) assert.equal(await p.exited, 0, `${name}: ${p.stderr()}`);

    // the queues show each effect's action once, succeeded, across the SIGKILLs and restarts
    const queueOf = async (role: string, w: Parameters<LocalNetwork["operatorDir"]>[1]) =>
      ActionQueue.open(await net.operatorDir(role, w));
    const expectSucceeded = async (
      role: string,
      w: Parameters<LocalNetwork["operatorDir"]>[1],
      keys: string[],
    ) => {
      const q = await queueOf(role, w);
      try {
        for (const key of keys)
          assert.equal((await q.get(key))?.status, "succeeded", `${role} ${key}`);
        console.log(
          `${role} queue:`,
          (await q.list())
            .map((a) => `${a.key} ${a.status} (${a.attempts} run${a.attempts === 1 ? "" : "s"})`)
            .join(", "),
        );
      } finally {
        await q.close();
      }
    };
    await expectSucceeded("distributor", life.distributor, [
      `post:${growthEpoch}`,
      `cohort:${jobId}`,
    ]);
    await expectSucceeded("aggregator", life.aggregator, [`commit:${jobId}`, `reveal:${jobId}`]);
    await expectSucceeded("attestor", life.attestorWallet(getAddress(att.attestors[0]!)), [
      `commit:${jobId}`,
      `reveal:${jobId}`,
    ]);
    await expectSucceeded("reporter", life.reporter, [`report:${jobId}`]);
  });
});
