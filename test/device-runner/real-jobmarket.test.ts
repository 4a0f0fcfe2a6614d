/**
 * The device runner against the REAL JobMarket: the whole protocol is deployed on an in-process EDR chain by
 * script/deploy.ts, a job goes through create → sealed bid → finalizeEpoch → ResultAttestation.assignCohort (root
 * and CID of a device-runner cohort list of kMin = 5 devices published on Helia; three attestors are drawn), and the runner's own watcher, `jobFromEvent`, `fetchCohort` and
 * run loop pick the job up for a device in the cohort and skip it for a device outside it. Admission reads the real
 * contracts (`getJob`, the listing, `ResultAttestation.params().kMin`, `DeviceRegistry.isEligible`): members whose
 * owner's consent or on-chain registration excludes the job refuse it and send nothing.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import pino from "pino";
import { getAddress, toEventSelector, type AbiEvent, type Address } from "viem";
import { HeliaStore } from "#sdk/ipfs/index.ts";
import { JOB_MARKET_EVENTS, type DevicePublicClient } from "../../device-runner/chain.ts";
import {
  cohortRoot,
  drawnCohortList,
  encodeCohortList,
  fetchCohort,
  type CohortList,
} from "#sdk/protocol/cohort.ts";
import { chainViewOf } from "../../device-runner/admission.ts";
import type { DeviceClients } from "../../device-runner/chain.ts";
import { deviceConfigSchema } from "../../device-runner/config.ts";
import { registerConsent } from "../../device-runner/consent.ts";
import { runDaemon } from "../../device-runner/daemon.ts";
import { ProtocolError } from "#sdk/protocol/errors.ts";
import { JobStateStore } from "../../device-runner/job-state.ts";
import { devicePaths } from "../../device-runner/paths.ts";
import { CohortWatcher, jobFromEvent, type CohortEvent } from "../../device-runner/watcher.ts";
import {
  abi,
  bidCommitment,
  ETHER,
  JobStatus,
  label,
  localAccount,
  ProtocolEnv,
  Role,
} from "../../bench/fixture/protocol.ts";
import { giveConsent, OPEN_CONSENT, RecordingProxy } from "./helpers.ts";

const SCHEMA = label("email/rfc822-v1");
const MODEL_SHA = label("model.onnx");
const PKG = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";
const REWARD = 2n * ETHER;
const BID = 3n * ETHER;
const log = pino({ level: "silent" });

/** The device cursor's position: its last checkpoint's block (-1 before any block was passed). */
async function cursorBlock(file: string): Promise<bigint> {
  const text = await readFile(file, "utf8").catch(() => undefined);
  if (text === undefined) return -1n;
  const state = JSON.parse(text) as { checkpoints: { block: string }[] };
  return BigInt(state.checkpoints.at(-1)!.block);
}

describe("device runner on the real JobMarket (EDR)", () => {
  let env: ProtocolEnv;
  let pub: DevicePublicClient;
  let store: HeliaStore;
  let tmp: string;
  let jobId: bigint;
  let list: CohortList;
  let cid: string;
  let assignBlock: bigint;
  let aggregator: Address;
  let algorithmId: bigint;
  // kMin (5 by default) devices: the smallest cohort ResultAttestation assigns
  const inCohort = Array.from({ length: 5 }, (_, i) => localAccount(`real-jm-device-${i}`));
  const outsider = localAccount("real-jm-outsider");

  before(async () => {
    env = await ProtocolEnv.create({ jobMarket: { capacity: 2, reservePrice: ETHER } });
    pub = env.pub as unknown as DevicePublicClient;
    tmp = mkdtempSync(path.join(tmpdir(), "dml-device-realjm-"));
    store = await HeliaStore.open({ dir: path.join(tmp, "helia") });
    const customer = env.wallet(1);
    const developer = env.wallet(2);
    const distributor = env.wallet(3);
    const agg = env.wallet(4);
    const keeper = env.wallet(5);
    aggregator = getAddress(agg.account.address);
    await env.stakeNode(distributor, Role.Distributor, 10_000n * ETHER);
    await env.stakeNode(agg, Role.Aggregator, 10_000n * ETHER);
    for (const i of [6, 7, 8]) await env.stakeNode(env.wallet(i), Role.Attestor, 5_000n * ETHER);
    await env.send(developer, "AlgorithmMarketplace", "list", [
      PKG,
      MODEL_SHA,
      SCHEMA,
      5n * ETHER,
      0n,
      0n,
      "",
    ]);
    algorithmId = await env.read<bigint>("AlgorithmMarketplace", "algorithmCount");
    await env.fund([getAddress(customer.account.address)], 1_000_000n * ETHER);
    await env.approve(customer, "JobMarket");
    await env.approve(customer, "AlgorithmMarketplace");

    // the cohort devices are registered and connected before the job exists (PROTOCOL.md §7.3)
    const connected = await env.postConnectedSet(distributor, inCohort, SCHEMA);
    await env.warpToCommitWindow();
    await env.send(customer, "JobMarket", "createJob", [
      {
        algorithmId,
        schema: SCHEMA,
        minDevices: 5,
        maxDevices: 10,
        rewardPerDevice: REWARD,
        minParticipants: 2,
        maxStdError: 15n * 10n ** 16n,
        encryptionKey: `0x02${label("customer-key").slice(2)}`,
        durations: {
          bidding: 7 * 86_400,
          assignment: 3_600,
          commit: 7_200,
          attestation: 3_600,
          report: 3_600,
          settlement: 3_600,
        },
        maxUsePrice: 5n * ETHER,
      },
    ]);
    jobId = await env.read<bigint>("JobMarket", "jobCount");
    const epoch = await env.read<bigint>("JobMarket", "currentEpoch");
    const salt = label(`bid-salt-${jobId}`);
    await env.send(customer, "JobMarket", "commitBid", [
      jobId,
      bidCommitment(jobId, BID, salt, getAddress(customer.account.address)),
      BID,
    ]);
    const [, commitEnd, revealEnd] = await env.epochWindows(epoch);
    await env.warpTo(commitEnd!);
    await env.send(keeper, "JobMarket", "revealBid", [jobId, BID, salt]);
    await env.warpTo(revealEnd!);
    await env.send(keeper, "JobMarket", "finalizeEpoch", [epoch]);
    assert.equal(await env.read("JobMarket", "status", [jobId]), JobStatus.Scheduled);

    // the distributor draws the cohort from the set by the job's seed (its block must exist first)
    const drawn = await env.drawCohortOf(jobId, inCohort.length, [connected]);
    list = drawnCohortList(jobId, drawn.connectedEpoch, drawn.members);
    const byAddress = new Map(inCohort.map((d) => [d.address, d]));
    // inCohort[i] has client id i + 1
    inCohort.splice(0, inCohort.length, ...drawn.devices.map((a) => byAddress.get(a.address)!));
    cid = await store.addBytes(encodeCohortList(list));
    const hash = await distributor.writeContract({
      address: env.addr("ResultAttestation"),
      abi: abi("ResultAttestation"),
      functionName: "assignCohort",
      args: [jobId, cohortRoot(list), list.members.length, cid, aggregator, drawn.connectedEpoch],
    });
    const receipt = await env.pub.waitForTransactionReceipt({ hash });
    assert.equal(receipt.status, "success");
    assignBlock = receipt.blockNumber;
    assert.equal(await env.read("JobMarket", "status", [jobId]), JobStatus.Assigned);
  });

  after(async () => {
    await store.close();
    await rm(tmp, { recursive: true, force: true });
  });

  it("the watcher sees the real CohortAssigned; getJob, the listing and the aggregator resolve the job", async () => {
    const chainId = await pub.getChainId();
    const jobMarket = env.addr("JobMarket");
    const watcher = new CohortWatcher({
      publicClient: pub,
      chainId,
      jobMarket,
      cursorFile: path.join(tmp, "cursor.json"),
      startBlock: BigInt(env.manifest.startBlock),
      confirmations: 0n,
    });
    // the runner's event fragment is the real JobMarket event
    const real = abi("JobMarket").find((x) => x.type === "event" && x.name === "CohortAssigned");
    assert.ok(real);
    assert.equal(toEventSelector(real as AbiEvent), toEventSelector(JOB_MARKET_EVENTS[0]));
    const events: CohortEvent[] = [];
    assert.equal(await watcher.poll(async (e) => void events.push(e)), 1);
    const ev = events[0]!;
    assert.equal(ev.jobId, jobId);
    assert.equal(ev.cohortRoot.toLowerCase(), cohortRoot(list).toLowerCase());
    assert.equal(ev.cohortCid, cid);
    assert.equal(getAddress(ev.aggregator), aggregator);
    assert.equal(ev.blockNumber, assignBlock);
    assert.equal(await watcher.poll(async (e) => void events.push(e)), 0, "delivered once");

    const job = await jobFromEvent(
      pub,
      {
        chainId,
        jobMarket,
        marketplace: env.addr("AlgorithmMarketplace"),
        staking: env.addr("NodeStaking"),
      },
      ev,
    );
    assert.equal(job.kind, "predict");
    assert.equal(job.jobId, jobId);
    assert.equal(job.algorithmId, algorithmId);
    assert.equal(job.rewardPerDevice, REWARD);
    assert.equal(job.packageCid, PKG);
    assert.equal(job.modelSha256, MODEL_SHA);
    assert.equal(job.schema, SCHEMA);
    assert.equal(job.aggregatorUrl, `http://127.0.0.1:${9000 + Role.Aggregator}`);

    // the cohort list from Helia verifies against the on-chain root
    const mine = await fetchCohort(store, ev.cohortCid, {
      root: ev.cohortRoot as `0x${string}`,
      jobId,
      device: inCohort[1]!.address,
    });
    assert.equal(mine.clientId, 2);
    await assert.rejects(
      fetchCohort(store, ev.cohortCid, {
        root: ev.cohortRoot as `0x${string}`,
        jobId,
        device: outsider.address,
      }),
      (e) => e instanceof ProtocolError && e.code === "NOT_IN_COHORT",
    );
    await assert.rejects(
      fetchCohort(store, ev.cohortCid, {
        root: label("other"),
        jobId,
        device: inCohort[0]!.address,
      }),
      (e) => e instanceof ProtocolError && e.code === "COHORT_ROOT_MISMATCH",
    );
  });

  it("the run loop picks the job up for a cohort device and skips it for an outsider", async () => {
    const chainId = await pub.getChainId();
    const config = deviceConfigSchema.parse({
      chainId,
      contracts: {
        JobMarket: env.addr("JobMarket"),
        AlgorithmMarketplace: env.addr("AlgorithmMarketplace"),
        NodeStaking: env.addr("NodeStaking"),
      },
      startBlock: env.manifest.startBlock.toString(),
      confirmations: 0,
    });
    const run = async (account: (typeof inCohort)[number], name: string) => {
      const paths = devicePaths(path.join(tmp, name));
      // busy: the resolved job is recorded as pending instead of running the model (no package on Helia here)
      await runDaemon({
        config,
        paths,
        account,
        publicClient: pub,
        store,
        log,
        once: true,
        idleCheck: () => "busy",
      });
      const st = await JobStateStore.open(paths.jobState);
      return { entries: st.all(), cursor: await cursorBlock(paths.chainCursor) };
    };
    const member = await run(inCohort[0]!, "member");
    const key = `predict:${chainId}:${env.addr("JobMarket").toLowerCase()}:${jobId}:0`;
    assert.deepEqual(Object.keys(member.entries), [key]);
    assert.equal(member.entries[key]!.status, "pending");
    assert.ok(member.cursor < assignBlock, "the cursor waits before the pending job's block");

    const other = await run(outsider, "outsider");
    assert.deepEqual(other.entries, {});
    assert.ok(other.cursor >= assignBlock, "the outsider's cursor moved past the job");
  });

  it("admission on the real contracts: refused below the owner's floor, outside consent, not eligible; nothing sent", async () => {
    const chainId = await pub.getChainId();
    // the aggregator's endpoint is a recording proxy: whatever a device would send for the job is recorded there
    const proxy = new RecordingProxy("http://127.0.0.1:9");
    const proxyUrl = await proxy.listen();
    await env.send(env.wallet(4), "NodeStaking", "updateOperator", [
      proxyUrl,
      label("x25519:aggregator"),
      "{}",
    ]);
    const config = deviceConfigSchema.parse({
      chainId,
      contracts: {
        JobMarket: env.addr("JobMarket"),
        AlgorithmMarketplace: env.addr("AlgorithmMarketplace"),
        NodeStaking: env.addr("NodeStaking"),
        DeviceRegistry: env.addr("DeviceRegistry"),
        ResultAttestation: env.addr("ResultAttestation"),
      },
      startBlock: env.manifest.startBlock.toString(),
      confirmations: 0,
    });
    // the chain view reads the job's terms and kMin from the deployed contracts
    const view = chainViewOf(pub, config);
    assert.equal(await view.kMin(), 5);
    const terms = await view.jobTerms(jobId);
    assert.deepEqual(
      [terms.algorithmId, terms.rewardPerDevice, terms.cohortRoot, terms.deviceCount, terms.schema],
      [algorithmId, REWARD, cohortRoot(list), 5, SCHEMA],
    );

    // member 2 keeps an open local consent but raises its on-chain floor above the reward (the registry says no)
    const registry = env.addr("DeviceRegistry");
    const clients: DeviceClients = {
      publicClient: pub,
      walletClient: (await env.localWallet(
        inCohort[2]!,
      )) as unknown as DeviceClients["walletClient"],
    };
    await registerConsent(
      clients,
      registry,
      { ...OPEN_CONSENT, priceFloor: 3n * ETHER },
      inCohort[2]!.session.sessionKey,
    );
    assert.equal(await view.isEligible(inCohort[2]!.address, SCHEMA, algorithmId, REWARD), false);
    const owners = [
      {
        name: "floor",
        code: "BELOW_PRICE_FLOOR",
        consent: { ...OPEN_CONSENT, priceFloor: 3n * ETHER },
      },
      {
        name: "algorithm",
        code: "CONSENT_DENIED",
        consent: { ...OPEN_CONSENT, anyAlgorithmInSchema: false, algorithms: [algorithmId + 1n] },
      },
      { name: "ineligible", code: "NOT_ELIGIBLE", consent: OPEN_CONSENT },
      // admitted: consent, floor, eligibility, cohort (drawn list, 5 = deviceCount ≥ kMin) all hold; the job then
      // fails on the package, which this test never published
      { name: "admitted", code: "PACKAGE_INVALID", consent: OPEN_CONSENT },
    ];
    for (const [i, o] of owners.entries()) {
      const account = inCohort[i]!;
      const paths = devicePaths(path.join(tmp, `admission-${o.name}`));
      await giveConsent(paths, o.consent);
      await runDaemon({
        config,
        paths,
        account,
        publicClient: pub,
        store,
        log,
        once: true,
        idleCheck: () => undefined,
      });
      const entries = Object.values((await JobStateStore.open(paths.jobState)).all());
      assert.equal(entries.length, 1, o.name);
      assert.equal(entries[0]!.code, o.code, `${o.name}: ${entries[0]!.error}`);
      assert.equal(entries[0]!.status, o.code === "PACKAGE_INVALID" ? "failed" : "refused");
    }
    assert.deepEqual(proxy.records, [], "no device sent anything to the aggregator");
    await proxy.close();
  });
});
