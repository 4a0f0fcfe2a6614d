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
 * the report.
 *
 * Every role is SIGKILLed at each phase where it has work, on the triggering event, and restarted at once on its
 * data directory (no added waits; all in this one job):
 *
 * - distributor: after its epoch post, after its `requestDraw`, after its `assignCohort`;
 * - watcher: once, as the cohort it must check lands (the restarted one checks it and challenges nothing);
 * - aggregator: mid-session, once devices have sent it session messages (advertisements in round 0), after its
 *   commit, after its reveal. The restarted process replays the session's journal and continues the one session
 *   (sdk/secagg/journal.ts); the devices retry through the outage. Before the journal a session lived in memory and
 *   this kill lost the job (devices were SIGSTOPped so the kill landed before any device message);
 * - attestors: one after its commit, another after its reveal;
 * - reporter: before the job is attested, and right after its report is on chain;
 * - a device: mid-session, right after it reserved the job's privacy budget (its input ready; it advertised and
 *   shared its keys while classifying, so this is just before its masked input); restarted, it re-runs the job (its
 *   state was `running`). Its re-run cannot rejoin with new keys (refused as `DUPLICATE`/`OUT_OF_ROUND`: the session
 *   journaled its first advertisement) unless round 0 still waited for it, and the session completes without it (4
 *   of 5 ≥ the threshold 4, so the job's `minParticipants` is 4). Either way it is paid at most once: when it is
 *   paid, the test claims twice.

 * Checked: each on-chain effect exactly once (events counted: post, draw request, assignment, aggregate commit and
 * reveal, three attestor commits and reveals, one report, one claim per paid device, no challenge), every queue key
 * succeeded with its attempts and recoveries printed, the aggregator's session opened once per boot that needed it,
 * the killed device's job run twice (`jobs.json` attempts), the job settled.
 *
 * A relayer start that gets no `eth_chainId` answer within its 5 s start-up check (this process serves the chain; on a
 * machine loaded far past its cores it answered late) is started again, as an operator's supervisor would (`up`).
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
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
import { freePort } from "../../script/network/processes.ts";
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

const DEVICES = 6; // kMin is 5: one device stays offline; the connected set and the cohort are the other five
const OFFLINE = 1;
/** Longest wait for one phase. */
const LONG = 420_000;

/**
 * Starts a relayer and resolves once it serves. A start that fails with RPC_UNREACHABLE (its 5 s `eth_chainId` check
 * at start: this process serves the chain, and on a machine loaded far past its cores it can answer late) is
 * started again, as an operator's supervisor (systemd `Restart=on-failure`) would.
 */
async function up(spawn: () => Promise<RelayerProcess>): Promise<RelayerProcess> {
  for (let attempt = 1; ; attempt++) {
    const p = await spawn();
    try {
      await p.ready;
      return p;
    } catch (e) {
      if (attempt >= 5 || !p.stderr().includes("RPC_UNREACHABLE")) throw e;
      console.log(`e2e: ${p.child.spawnargs[4]} got no eth_chainId answer in 5 s; started again`);
    }
  }
}

/** SIGKILLs `p` and checks that it died of it. */
async function sigkill(p: ChildProc): Promise<void> {
  p.child.kill("SIGKILL");
  assert.equal(await p.exited, "SIGKILL");
}

/** SIGKILLs `p` in the very callback where its stderr first shows `text` (no polling delay), then checks it died of it. */
async function sigkillWhenLogged(p: ChildProc, text: string, timeoutMs: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const check = () => {
      if (!p.stderr().includes(text)) return;
      stop();
      p.child.kill("SIGKILL");
      resolve();
    };
    const timer = setTimeout(() => {
      stop();
      reject(
        new Error(`timed out waiting for "${text}"; stderr (tail): ${p.stderr().slice(-2000)}`),
      );
    }, timeoutMs);
    const stop = () => {
      clearTimeout(timer);
      p.child.stderr.off("data", check);
    };
    p.child.stderr.on("data", check);
    check();
  });
  assert.equal(await p.exited, "SIGKILL");
}

/** On a failure: the exit and stderr tail of every process that is no longer running (a crash after a restart). */
function printDead(procs: readonly ChildProc[]): void {
  for (const p of procs) {
    const code = p.child.exitCode ?? p.child.signalCode;
    const what = p.child.spawnargs.slice(3, 5).join(" ");
    if (code === "SIGKILL") continue;
    if (code === null) {
      // the live ones too: the last warnings and errors of each, which is where a stuck phase shows
      const lines = p
        .stderr()
        .split("\n")
        .filter((l) => /"level":(40|50|60)/.test(l))
        .slice(-6);
      if (lines.length > 0) console.log(`${what} (running) last warnings:\n${lines.join("\n")}`);
      continue;
    }
    console.log(`${what} exited ${code}; stderr (tail):\n${p.stderr().slice(-3000)}`);
  }
}

/**
 * The first complete pino JSON line of `p`'s stderr that contains `marker` and satisfies `test`, checked as output
 * arrives (no polling: this process also serves the chain's JSON-RPC, and re-parsing a relayer's whole log every
 * 50 ms starved it past a restarted relayer's 5 s start-up `eth_chainId`).
 */
function loggedLine(
  p: ChildProc,
  marker: string,
  test: (line: Record<string, unknown>) => boolean,
  timeoutMs: number,
): Promise<Record<string, unknown>> {
  let from = 0;
  return new Promise((resolve, reject) => {
    const check = () => {
      const text = p.stderr();
      for (;;) {
        const at = text.indexOf(marker, from);
        if (at < 0) return;
        const end = text.indexOf("\n", at);
        if (end < 0) return; // the line is not complete yet
        from = end;
        try {
          const line = JSON.parse(text.slice(text.lastIndexOf("\n", at) + 1, end)) as Record<
            string,
            unknown
          >;
          if (test(line)) {
            stop();
            resolve(line);
            return;
          }
        } catch {
          // not a JSON line
        }
      }
    };
    const timer = setTimeout(() => {
      stop();
      reject(
        new Error(`timed out waiting for "${marker}"; stderr (tail): ${p.stderr().slice(-2000)}`),
      );
    }, timeoutMs);
    const stop = () => {
      clearTimeout(timer);
      p.child.stderr.off("data", check);
    };
    p.child.stderr.on("data", check);
    check();
  });
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

  it("settles the job; devices claim; the customer decrypts the estimate; a SIGKILL at each phase changes nothing twice", async () => {
    const t0 = Date.now();
    const procs: ChildProc[] = [];
    /** The kills, in order, with the test time they happened at (printed at the end). */
    const kills: string[] = [];
    const killed = (what: string) =>
      kills.push(`${((Date.now() - t0) / 1000).toFixed(1)} s  ${what}`);
    try {
      const { life } = net;
      const { env } = life;
      const events = async (contract: string, eventName: string, args?: Record<string, unknown>) =>
        env.pub.getContractEvents({
          address: env.addr(contract),
          abi: abi(contract),
          eventName,
          ...(args ? { args } : {}),
          fromBlock: 0n,
        });
      const status = (jobId: bigint) => env.read<number>("JobMarket", "status", [jobId]);
      const attestation = (jobId: bigint) =>
        env.read<{
          attestors: readonly Address[];
          committedMask: number | bigint;
          revealedMask: number | bigint;
          aggregatorRevealed: boolean;
        }>("ResultAttestation", "attestationOf", [jobId]);

      // operators: the distributor's heartbeat endpoint and the aggregator's SecAgg server are their NodeStaking endpoints
      const distPort = await freePort();
      const aggPort = await freePort();
      await net.setEndpoint(life.distributor, `http://127.0.0.1:${distPort}`);
      await net.setEndpoint(life.aggregator, `http://127.0.0.1:${aggPort}`);
      const start = async <P extends ChildProc>(p: Promise<P> | P): Promise<P> => {
        const proc = await p;
        procs.push(proc);
        return proc;
      };
      // every relayer start resolves once the process serves (`up`)
      const distributor = () =>
        up(() =>
          start(net.relayer("distributor", life.distributor, ["--listen-port", String(distPort)])),
        );
      // a SecAgg round waits this long for silent devices (the offline one, the killed one); it starts again when the
      // restarted aggregator replays the session. 8 s was too short on a loaded machine (3 of 4 advertised in time)
      const aggregator = () =>
        up(() =>
          start(
            net.relayer("aggregator", life.aggregator, [
              "--listen-port",
              String(aggPort),
              "--round-timeout-ms",
              "20000",
            ]),
          ),
        );
      const watcherProc = () => up(() => start(net.relayer("watcher", life.keeper)));
      const reporterProc = () => up(() => start(net.relayer("reporter", life.reporter)));
      /** A restart nothing waits for yet: awaited where its process is next needed. */
      const later = <T>(p: Promise<T>): Promise<T> => {
        p.catch(() => undefined); // its failure surfaces where it is awaited
        return p;
      };
      let [dist, agg, watcher] = await Promise.all([distributor(), aggregator(), watcherProc()]);

      // devices: heartbeats to the distributor for the current growth epoch
      const online = net.devices.slice(0, DEVICES - OFFLINE);
      const devices = await Promise.all(online.map((d) => start(net.device(d.index))));
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
      // distributor, after its post: the restarted one neither posts again nor loses its place
      await sigkill(dist);
      killed("distributor after its postEpoch");
      await env.warpTo(finalAt + 1n);
      dist = await distributor();
      // distributor, after its requestDraw (the window just closed): in the background while the customer schedules
      const drawKill = (async () => {
        await waitFor(
          `the distributor requested growth epoch ${growthEpoch}'s draw`,
          async () =>
            (await events("GrowthPool", "DrawRequested", { epoch: growthEpoch })).length > 0,
          LONG,
        );
        await sigkill(dist);
        killed("distributor after its requestDraw");
        dist = await distributor();
      })();

      // customer: a job with its report key and a sealed bid; the keeper reveals it and finalizes the auction.
      // minParticipants 4 (= the SecAgg threshold of 5): the device killed mid-session may drop out of it
      const reportKey = reportKeyPair();
      const spec = {
        ...life.spec(online.length + OFFLINE, { devices: 5, participants: 4 }),
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
      await drawKill;

      // distributor: draws and assigns the cohort; the attestors are drawn in the same transaction
      await waitFor(
        "the distributor assigned the cohort",
        async () => (await status(jobId)) === JobStatus.Assigned,
        LONG,
      );
      // distributor after its assignCohort, and the watcher as the cohort it must check lands
      await Promise.all([sigkill(dist), sigkill(watcher)]);
      killed("distributor after its assignCohort; watcher with the new cohort to check");
      const distWatcherUp = later(Promise.all([distributor(), watcherProc()]));
      const att = await attestation(jobId);
      const attestor = (i: number) =>
        up(() =>
          start(net.relayer("attestor", life.attestorWallet(getAddress(att.attestors[i]!)))),
        );
      const attestorsUp = later(Promise.all(att.attestors.map((_, i) => attestor(i))));
      const reporterUp = later(reporterProc());

      // aggregator, mid-session: once devices have advertised, SIGKILL; the restarted one continues the same session
      const sessionOf = async (p: ChildProc) =>
        (
          await loggedLine(
            p,
            "aggregator: session-opened",
            (l) => l.msg === "aggregator: session-opened" && l.jobId === `${jobId}`,
            LONG,
          )
        ).sessionId;
      const sessionId = await sessionOf(agg);
      assert.equal(typeof sessionId, "string");
      // a device, mid-session (its privacy budget reserved, just before its masked input): restarted, it re-runs the job
      const deviceKill = sigkillWhenLogged(devices[0]!, "privacy budget reserved", LONG);
      const statusUrl = `http://127.0.0.1:${aggPort}/sessions/${String(sessionId)}`;
      let seen = { round: 0 as number | string, pending: 0, n: 0 };
      await waitFor(
        "devices sent the aggregator session messages",
        async () => {
          seen = (await (await fetch(statusUrl)).json()) as typeof seen;
          return seen.round !== 0 || seen.pending <= seen.n - 2;
        },
        LONG,
      );
      await sigkill(agg);
      killed(
        `aggregator mid-session (round ${seen.round}, ${seen.n - seen.pending} of ${seen.n} devices in it)`,
      );
      agg = await aggregator();
      assert.equal(
        await sessionOf(agg),
        sessionId,
        "the restarted aggregator hosts the same session (derived from the chain, replayed from its journal)",
      );
      await deviceKill;
      killed("device 0 mid-session (before its masked input)");
      devices[0] = await start(net.device(online[0]!.index));

      const attestorProcs = await attestorsUp;
      let reporter = await reporterUp;
      // devices serve; the aggregator commits. SIGKILL it after its commit, before its reveal
      await waitFor(
        "the aggregator committed",
        async () => (await status(jobId)) === JobStatus.Committed,
        LONG,
      );
      await sigkill(agg);
      killed("aggregator after its commit");
      // SIGKILL attestor 0 as soon as it committed; restarted, it reveals once
      await waitFor(
        "attestor 0 committed",
        async () => (Number((await attestation(jobId)).committedMask) & 1) === 1,
        LONG,
      );
      await sigkill(attestorProcs[0]!);
      killed("attestor 0 after its commit");
      // the reporter is SIGKILLed while the job cannot be attested yet (attestor 0 and the aggregator are down)
      await sigkill(reporter);
      killed("reporter before the job is attested");
      const [a0, agg3, reporter2] = await Promise.all([attestor(0), aggregator(), reporterProc()]);
      agg = agg3;
      reporter = reporter2;

      // aggregator after its reveal; attestor 1 after its reveal
      await waitFor(
        "the aggregator revealed",
        async () => (await attestation(jobId)).aggregatorRevealed,
        LONG,
      );
      await sigkill(agg);
      killed("aggregator after its reveal");
      const aggUp = later(aggregator());
      await waitFor(
        "attestor 1 revealed",
        async () => (Number((await attestation(jobId)).revealedMask) & 2) === 2,
        LONG,
      );
      await sigkill(attestorProcs[1]!);
      killed("attestor 1 after its reveal");
      const a1Up = later(attestor(1));
      // reporter after its report is on chain
      await waitFor(
        "the reporter posted the report",
        async () => (await events("Settlement", "ReportPosted", { jobId })).length > 0,
        LONG,
      );
      await sigkill(reporter);
      killed("reporter after its report");
      const reporterUp2 = later(reporterProc());

      await waitFor(
        "the job settled",
        async () => (await status(jobId)) === JobStatus.Settled,
        LONG,
      );
      // the restarts nothing waited for
      [dist, watcher] = await distWatcherUp;
      agg = await aggUp;
      const a1 = await a1Up;
      reporter = await reporterUp2;
      console.log(`e2e kills (test time):\n  ${kills.join("\n  ")}`);

      // no effect twice: one post, one draw request, one assignment, one aggregate commit/reveal, one vote each, one
      // report, no challenge
      const once = async (
        contract: string,
        eventName: string,
        args: Record<string, unknown>,
        k = 1,
      ) =>
        assert.equal(
          (await events(contract, eventName, args)).length,
          k,
          `${contract}.${eventName}`,
        );
      await once("GrowthPool", "EpochPosted", { epoch: growthEpoch });
      await once("GrowthPool", "DrawRequested", { epoch: growthEpoch });
      await once("JobMarket", "CohortAssigned", { jobId });
      await once("ResultAttestation", "AggregateCommitted", { jobId });
      await once("ResultAttestation", "AggregateRevealed", { jobId });
      await once("ResultAttestation", "AttestationCommitted", { jobId }, 3);
      await once("ResultAttestation", "AttestationRevealed", { jobId }, 3);
      await once("Settlement", "ReportPosted", { jobId });
      assert.equal((await events("GrowthPool", "PostChallenged")).length, 0);
      assert.equal((await events("ResultAttestation", "CohortChallenged")).length, 0);

      // the killed device re-ran the job once on restart (its state was `running`): refused by the session, or rejoined
      const jobEntry = async () => {
        const file = JSON.parse(await readFile(online[0]!.paths.jobState, "utf8")) as {
          jobs: Record<string, { status: string; attempts: number; code?: string }>;
        };
        return Object.entries(file.jobs).find(
          ([k]) => k.startsWith("predict:") && k.endsWith(`:${jobId}:0`),
        )?.[1];
      };
      await waitFor(
        "the restarted device 0 re-ran the job",
        async () => ["done", "failed"].includes((await jobEntry())?.status ?? ""),
        LONG,
      );
      const entry0 = (await jobEntry())!;
      assert.equal(entry0.attempts, 2, "device 0 ran the job twice: killed in it, then on restart");

      // devices claim from ReportPosted alone, all in one `dml-device claim` process (each with its own key);
      // the killed device is paid at most once, and its refusal does not stop the others
      const dirs = online.map((d) => d.paths.root);
      const fleetClaim = () =>
        spawnTs(DEVICE_CLI, ["claim", "job", "--job", `${jobId}`, ...dirs], {
          DML_DEVICE_PASSWORD: PASSWORD,
        });
      const lineOf = (text: string, dir: string): string =>
        text.split("\n").find((l) => l.startsWith(`${dir}: `)) ?? "";
      const first = fleetClaim();
      const firstCode = await first.exited;
      for (const dir of dirs.slice(1))
        assert.match(lineOf(first.stdout(), dir), /claimed [0-9.]+ DML: 0x/, first.stderr());
      const paid0 = /claimed [0-9.]+ DML: 0x/.test(lineOf(first.stdout(), dirs[0]!));
      if (!paid0) assert.match(lineOf(first.stderr(), dirs[0]!), /NOT_IN_PAYOUT/);
      assert.equal(firstCode, paid0 ? 0 : 1, "the fleet claim exits 1 when a device was refused");
      if (entry0.status === "done") assert.ok(paid0, "a device that finished the session is paid");
      const again = fleetClaim(); // a second claim finds every payout claimed and sends nothing
      await again.exited;
      for (const dir of paid0 ? dirs : dirs.slice(1))
        assert.match(lineOf(again.stdout(), dir), /was already claimed/, again.stderr());
      const claimed = await events("Settlement", "PayoutClaimed", { jobId });
      const accounts = claimed.map((e) =>
        getAddress((e as unknown as { args: { account: Address } }).args.account),
      );
      assert.equal(new Set(accounts).size, accounts.length, "no device was paid twice");
      assert.equal(accounts.includes(getAddress(online[0]!.account.address)), paid0);
      assert.equal(
        claimed.length,
        online.length - (paid0 ? 0 : 1),
        "every surviving device was paid",
      );
      console.log(
        `e2e: device 0 after its kill: job ${entry0.status}${entry0.code ? ` (${entry0.code})` : ""}, ${paid0 ? "paid once" : "not in the payout"}`,
      );

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
      assert.equal(report.devices, claimed.length, "the report counts the paid survivors");
      const spam = net.outputLabels.indexOf("spam");
      const est = report.adjusted?.[spam];
      assert.ok(est, "the adjusted estimate is in the report");
      // the ground truth the survivors' emails hold (a DP job reads each device's first maxRecords)
      const read = online
        .filter((d, i) => i > 0 || paid0)
        .flatMap((d) => d.emails.slice(0, DEFAULT_PRIVACY_SPEC.maxRecords));
      const truth = read.filter((e) => e.label === 1).length / read.length;
      assert.ok(est.interval[0] <= est.estimate && est.estimate <= est.interval[1]);
      console.log(
        `e2e: job ${jobId} settled; spam share ${est.estimate.toFixed(4)} (95% [${est.interval[0].toFixed(4)}, ${est.interval[1].toFixed(4)}]) vs ${truth.toFixed(4)} true on the survivors' emails`,
      );

      // per role: CPU and memory of the process that finished the job, its actions, enqueue → success latency
      const relayers: [string, RelayerProcess][] = [
        ["distributor (4th start)", dist],
        ["aggregator (4th start)", agg],
        ["attestor 0 (restarted)", a0],
        ["attestor 1 (restarted)", a1],
        ["attestor 2", attestorProcs[2]!],
        ["reporter (3rd start)", reporter],
        ["watcher (restarted)", watcher],
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
            cpuS: num(/^dml_relayer_process_cpu_seconds_total(?:\{[^}]*\})? (\S+)$/m).toFixed(2),
            rssMiB: Math.round(
              num(/^dml_relayer_process_resident_memory_bytes(?:\{[^}]*\})? (\S+)$/m) / 2 ** 20,
            ),
            succeeded: runs,
            latency,
          };
        }),
      );
      console.table(rows);

      for (const p of procs)
        if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGTERM");
      for (const [name, p] of relayers) assert.equal(await p.exited, 0, `${name}: ${p.stderr()}`);

      // the queues: each effect's action succeeded once across the SIGKILLs (attempts > 1 or recoveries > 0 when a
      // kill landed inside the handler, after the transaction and before its success was recorded)
      const queue = async (role: string, w: Parameters<LocalNetwork["operatorDir"]>[1]) => {
        const q = await ActionQueue.open(await net.operatorDir(role, w));
        try {
          const list = await q.list();
          console.log(
            `${role} queue:`,
            list
              .map(
                (a) =>
                  `${a.key} ${a.status} (${a.attempts} run${a.attempts === 1 ? "" : "s"}, ${a.recoveries} recover${a.recoveries === 1 ? "y" : "ies"})`,
              )
              .join(", ") || "empty",
          );
          return list;
        } finally {
          await q.close();
        }
      };
      const expectSucceeded = (
        role: string,
        list: { key: string; status: string }[],
        keys: string[],
      ) => {
        for (const key of keys)
          assert.equal(list.find((a) => a.key === key)?.status, "succeeded", `${role} ${key}`);
      };
      expectSucceeded("distributor", await queue("distributor", life.distributor), [
        `post:${growthEpoch}`,
        `draw:${growthEpoch}`,
        `cohort:${jobId}`,
      ]);
      const aggQueue = await queue("aggregator", life.aggregator);
      expectSucceeded("aggregator", aggQueue, [`commit:${jobId}`, `reveal:${jobId}`]);
      // one serve per start that found no persisted result: the first boot and the one after the kill mid-session
      const serves = aggQueue.filter((a) => a.key.startsWith(`serve:${jobId}:`));
      assert.ok(serves.length >= 2, `serve actions: ${serves.map((a) => a.key).join(", ")}`);
      for (const s of serves) assert.equal(s.status, "succeeded", s.key);
      for (const i of [0, 1])
        expectSucceeded(
          `attestor ${i}`,
          await queue("attestor", life.attestorWallet(getAddress(att.attestors[i]!))),
          [`commit:${jobId}`, `reveal:${jobId}`],
        );
      expectSucceeded("reporter", await queue("reporter", life.reporter), [`report:${jobId}`]);
      assert.deepEqual(
        (await queue("watcher", life.keeper)).map((a) => a.key),
        [],
        "the watcher found nothing to challenge",
      );
    } catch (e) {
      console.log(`e2e kills before the failure:\n  ${kills.join("\n  ")}`);
      printDead(procs);
      throw e;
    }
  });
});
