/**
 * One prediction job through every real part, from the chain to the devices' wallets. The protocol deployed by
 * script/deploy.ts on EDR lists the reference package published on Helia; a job is created, bid for, scheduled and
 * assigned to a cohort of 10 device runners holding SpamAssassin inboxes. The aggregator publishes the URL of a real
 * SecAgg HTTP server (loopback) as its NodeStaking endpoint and hosts the job's session. Nine devices run
 * `dml-device run` once (watcher → `jobFromEvent` → package sha256 check → ONNX Runtime → SecAgg); the tenth is
 * offline. The aggregate is the exact sum of the survivors' plaintext result vectors; the aggregator commits the job's
 * `resultHash` (aggregate hash, survivors' payout root and total, participants, quality) with the transcript CID, the
 * attestors derive the same result from the transcript on Helia on their own, the reporter presents that preimage
 * with the survivors' payout list, and every survivor claims its reward from `ReportPosted` alone.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import pino from "pino";
import { getAddress, type Address } from "viem";
import type { DeviceAccount } from "#sdk/crypto/session-key.ts";
import type { CohortMember } from "#sdk/chain/cohort.ts";
import { buildPayoutTree } from "#sdk/chain/payouts.ts";
import type { AttestOutcome } from "#sdk/protocol/attestor.ts";
import { chainAttestorReads } from "#sdk/protocol/attestor-chain.ts";
import { deriveJobResult, type JobModel } from "#sdk/protocol/job-result.ts";
import { attestorRecipients, publishSealedTranscript } from "#sdk/protocol/transcript-publish.ts";
import { resultHash } from "#sdk/chain/result.ts";
import { HeliaStore } from "#sdk/ipfs/index.ts";
import {
  buildClassifierPackage,
  classifyRecords,
  loadPackage,
  prepareWorkload,
  publishPackage,
  trainReference,
  type Email,
  type LoadedPackage,
} from "#sdk/ml/index.ts";
import {
  aggregateHashOf,
  encodeVector,
  SecAggHttpServer,
  type SecAggResult,
  type SecAggSessionConfig,
} from "#sdk/secagg/index.ts";
import type { DeviceClients, DevicePublicClient } from "../../device-runner/chain.ts";
import {
  cohortRoot,
  drawnCohortList,
  encodeCohortList,
  type CohortList,
} from "#sdk/protocol/cohort.ts";
import { deviceConfigSchema } from "../../device-runner/config.ts";
import { runDaemon } from "../../device-runner/daemon.ts";
import { DeviceError } from "../../device-runner/errors.ts";
import { JobStateStore } from "../../device-runner/job-state.ts";
import type { DevicePaths } from "../../device-runner/paths.ts";
import { reduceToResultVector } from "#sdk/protocol/result-vector.ts";
import { claimJobPayout } from "../../device-runner/rewards.ts";
import { jobSessionConfig } from "#sdk/protocol/session.ts";
import { chainViewOf } from "../../device-runner/admission.ts";
import { JOB, JobLifecycle, who } from "../../bench/fixture/job-run.ts";
import { JobStatus, label, localAccount } from "../../bench/fixture/protocol.ts";
import { deviceWithInbox, giveConsent } from "./helpers.ts";

const N = 10;
const OFFLINE = N - 1; // index of the device that never comes online
const log = pino({ level: "silent" });

interface Device {
  paths: DevicePaths;
  account: DeviceAccount;
  emails: readonly Email[];
}

describe("one real job: chain → device runners → SecAgg → attestation → settlement → device claims", () => {
  let life: JobLifecycle;
  let pub: DevicePublicClient;
  let store: HeliaStore;
  let tmp: string;
  let http: SecAggHttpServer;
  let pkg: LoadedPackage;
  let devices: Device[];
  let jobId: bigint;
  let list: CohortList;
  let members: CohortMember[];
  let session: SecAggSessionConfig;
  let result: SecAggResult;

  before(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), "dml-device-realjob-"));
    store = await HeliaStore.open({ dir: path.join(tmp, "helia") });
    const workload = await prepareWorkload();
    const built = buildClassifierPackage(trainReference(workload));
    const cid = await publishPackage(store, built.manifest, built.model);
    pkg = await loadPackage(store, cid, built.manifest.modelSha256);
    life = await JobLifecycle.create({ cid, modelSha256: `0x${built.manifest.modelSha256}` });
    pub = life.env.pub as unknown as DevicePublicClient;
    http = new SecAggHttpServer();
    const url = await http.listen();
    // the aggregator publishes its SecAgg endpoint in NodeStaking: the devices resolve it from there
    await life.env.send(life.aggregator, "NodeStaking", "updateOperator", [
      url,
      label(`x25519:${who(life.aggregator)}`),
      "{}",
    ]);
    devices = [];
    for (let i = 0; i < N; i++) {
      const emails = workload.split.inboxes[i]!.emails;
      const paths = await deviceWithInbox(emails);
      // the owner's consent: any email algorithm at any price (as ProtocolEnv registers it on chain)
      await giveConsent(paths);
      devices.push({ paths, account: localAccount(`real-job-device-${i}`), emails });
    }
  });

  after(async () => {
    await http.close();
    await store.close();
    await rm(tmp, { recursive: true, force: true });
    for (const d of devices) await rm(d.paths.root, { recursive: true, force: true });
  });

  it("nine device runners serve the assigned job; the aggregate is the exact sum of their plaintext vectors", async () => {
    // the devices are registered and connected; the cohort is drawn from their connected set by the job's seed
    await life.connect(devices.map((d) => d.account));
    jobId = await life.schedule(life.spec(N, { devices: N, participants: N - 2 }));
    const drawn = await life.drawCohortOf(jobId, N);
    list = drawnCohortList(jobId, drawn.connectedEpoch, drawn.members);
    members = drawn.members;
    // from here on devices[i] is the member with client id i + 1
    devices = drawn.devices.map((a) => devices.find((d) => d.account.address === a.address)!);
    const startBlock = await pub.getBlockNumber();
    await life.assign(
      jobId,
      cohortRoot(list),
      N,
      await store.addBytes(encodeCohortList(list)),
      drawn.connectedEpoch,
    );
    assert.equal(cohortRoot(list), drawn.tree.root, "the list's root is the drawn tree's");
    assert.equal(await life.env.read("JobMarket", "status", [jobId]), JobStatus.Assigned);

    // the aggregator derives the session from chain data exactly as the devices do
    const chainId = await pub.getChainId();
    const jobMarket = life.env.addr("JobMarket");

    const config = deviceConfigSchema.parse({
      chainId,
      contracts: {
        JobMarket: jobMarket,
        AlgorithmMarketplace: life.env.addr("AlgorithmMarketplace"),
        NodeStaking: life.env.addr("NodeStaking"),
        DeviceRegistry: life.env.addr("DeviceRegistry"),
        ResultAttestation: life.env.addr("ResultAttestation"),
      },
      startBlock: startBlock.toString(),
      confirmations: 0,
    });
    // session keys and the graph seed are read from the chain, as each device reads them (admission.ts chainView)
    const view = chainViewOf(pub, config);
    session = jobSessionConfig({
      chainId,
      jobMarket,
      jobId,
      cohort: list,
      sessionKeys: await view.sessionKeysOf(list.members.map((m) => getAddress(m.address))),
      graph: { cohortRoot: cohortRoot(list), jobSeed: await view.jobSeed(jobId) },
      classes: pkg.manifest.outputLabels.length,
    });
    assert.ok(session.cohort !== undefined, "the neighbour graph is seeded from chain data");
    // each round waits this long for the offline device; the nine runners share this test's one thread, which on a
    // loaded CI machine (three test lanes on two cores) took more than 5 s to get them all to advertise their keys
    http.addSession(session, { roundTimeoutMs: 20_000, recordTranscript: true });
    const online = devices.slice(0, OFFLINE);
    await Promise.all(
      online.map((d) =>
        runDaemon({
          config,
          paths: d.paths,
          account: d.account,
          publicClient: pub,
          store,
          log,
          once: true,
          idleCheck: () => undefined,
        }),
      ),
    );
    for (const d of online) {
      const entries = Object.values((await JobStateStore.open(d.paths.jobState)).all());
      assert.deepEqual(
        entries.map((e) => [e.status, e.error]),
        [["done", undefined]],
      );
    }

    result = await http.result(session.sessionId);
    assert.deepEqual(
      result.survivors,
      online.map((_, i) => i + 1),
    );
    assert.deepEqual(result.dropped, [N]);
    // the test recomputes every survivor's result vector from the same data (never sent anywhere)
    const expected = new Uint32Array(session.vectorLength);
    for (const d of online) {
      const preds = await classifyRecords(
        pkg,
        d.emails.map((e) => ({ subject: e.subject, body: e.body })),
      );
      const enc = encodeVector(reduceToResultVector(preds, 2), session.encoding);
      for (let i = 0; i < expected.length; i++) expected[i] = (expected[i]! + enc[i]!) >>> 0;
    }
    assert.deepEqual([...result.sum], [...expected], "masked sum = sum of the encoded vectors");
    assert.equal(
      result.decoded[0],
      online.reduce((s, d) => s + d.emails.length, 0),
      "record count is exact",
    );
  });

  it("the attestors open the sealed transcript v2 on Helia, replay it and derive the committed result; the report settles the job", async () => {
    const survivors = [...result.survivors].sort((a, b) => a - b);
    const aggregate = aggregateHashOf({ sessionId: session.sessionId, survivors, sum: result.sum });
    // transcript v2 (every signed message) sealed to the drawn attestors' registered X25519 keys
    const reads = chainAttestorReads(life.env.pub, {
      JobMarket: life.env.addr("JobMarket"),
      ResultAttestation: life.env.addr("ResultAttestation"),
      NodeStaking: life.env.addr("NodeStaking"),
      DeviceRegistry: life.env.addr("DeviceRegistry"),
    });
    const transcriptCid = await publishSealedTranscript(
      store,
      http.transcript(session.sessionId),
      await attestorRecipients(reads, jobId),
    );
    // the aggregator derives the job's result from the aggregate and the job's on-chain rule (sdk/protocol)
    const model: JobModel = {
      classes: pkg.manifest.outputLabels.length,
      qualityClass: pkg.manifest.outputLabels.indexOf("spam"),
      ...(pkg.manifest.controlGroup ? { confusion: pkg.manifest.controlGroup.confusion } : {}),
    };
    const mine = deriveJobResult(
      { sessionId: session.sessionId, survivors, sum: result.sum },
      {
        members: list.members.map((m) => getAddress(m.address)),
        encoding: session.encoding,
        model,
        rule: await life.env.read("JobMarket", "getJob", [jobId]),
      },
    );
    const committed = mine.result;
    assert.equal(committed.aggregateHash, aggregate);
    assert.equal(committed.qualityMet, true, `standard error ${mine.stdError}`);
    const entries = survivors.map((id) => ({
      account: getAddress(list.members[id - 1]!.address),
      value: JOB.REWARD,
    }));
    assert.equal(committed.payoutRoot, buildPayoutTree(entries).root, "survivors paid the reward");
    assert.notEqual(
      aggregateHashOf({
        sessionId: session.sessionId,
        survivors: [...survivors, N],
        sum: result.sum,
      }),
      aggregate,
      "the hash binds the survivor set",
    );
    // each drawn attestor derives the result on its own: sdk/protocol/attestor.ts attestJob
    const outcomes = new Map<Address, AttestOutcome>();
    const vote = life.attestorVotes({ jobId, store, cohort: members, model, outcomes });
    const attestors = await life.attest(jobId, committed, transcriptCid, { vote });
    assert.deepEqual(
      [...outcomes.values()].map((o) => [o.reason, o.value]),
      attestors.map(() => ["OK", resultHash(committed)]),
    );
    assert.ok(!attestors.includes(who(life.aggregator)), "the aggregator does not attest itself");
    assert.equal(await life.env.read("JobMarket", "status", [jobId]), JobStatus.Attested);
    assert.equal(
      await life.env.read("ResultAttestation", "resultOf", [jobId]),
      resultHash(committed),
    );

    // the reporter presents the attested result and publishes the payout list
    const payoutsCid = await store.addBytes(
      new TextEncoder().encode(JSON.stringify(buildPayoutTree(entries).toList())),
    );
    await life.report(jobId, entries, true, payoutsCid, aggregate);
    assert.equal(await life.env.read("JobMarket", "status", [jobId]), JobStatus.Settled);
  });

  it("every survivor claims its reward from ReportPosted alone; the offline device is refused locally", async () => {
    const settlement = life.env.addr("Settlement");
    const clientsOf = async (d: Device): Promise<DeviceClients> => ({
      publicClient: pub,
      walletClient: (await life.env.localWallet(
        d.account,
      )) as unknown as DeviceClients["walletClient"],
    });
    const held = await life.env.balance(settlement);
    for (const d of devices.slice(0, OFFLINE)) {
      const r = await claimJobPayout(await clientsOf(d), store, { settlement, jobId });
      assert.ok(r.hash);
      assert.equal(await life.env.balance(getAddress(d.account.address) as Address), JOB.REWARD);
    }
    assert.equal(await life.env.balance(settlement), held - BigInt(OFFLINE) * JOB.REWARD);

    const offline = devices[OFFLINE]!;
    const nonce = await pub.getTransactionCount({ address: offline.account.address });
    await assert.rejects(
      claimJobPayout(await clientsOf(offline), store, { settlement, jobId }),
      (e) => e instanceof DeviceError && e.code === "NOT_IN_PAYOUT",
    );
    assert.equal(await pub.getTransactionCount({ address: offline.account.address }), nonce);
    assert.equal(await life.env.balance(getAddress(offline.account.address)), 0n);
  });
});
