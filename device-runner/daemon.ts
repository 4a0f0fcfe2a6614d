/**
 * The long-running loop of `dml-device run`: poll the chain for cohorts, run each assigned job through the runner
 * (which isolates failures), commit the cursor, and send a signed heartbeat every interval. With a FineTuning
 * deployment configured it also trains in every round of the bounties the device enrolled in (training-watcher.ts):
 * each round's job goes through the same runner, after the pass over cohorts.
 */
import type { ContentStore } from "#sdk/ipfs/index.ts";
import type { Logger } from "pino";
import type { Address } from "viem";
import { chainViewOf, type ChainView } from "./admission.ts";
import { fetchCohort } from "#sdk/protocol/cohort.ts";
import { ProtocolError } from "#sdk/protocol/errors.ts";
import { contractAddress, startBlockOf, type DeviceConfig } from "./config.ts";
import type { DevicePublicClient } from "./chain.ts";
import { schemaHash, listDatasets } from "./dataset.ts";
import { describeError } from "./errors.ts";
import { HeartbeatSender } from "./heartbeat.ts";
import type { DevicePaths } from "./paths.ts";
import { DeviceRunner, jobKey, type DeviceJob } from "./runner.ts";
import type { PollOptions } from "#sdk/secagg/index.ts";
import { hostSession, TrainingWatcher } from "./training-watcher.ts";
import type { DeviceSigner } from "./prediction-job.ts";
import { CohortWatcher, jobFromEvent, type CohortEvent } from "./watcher.ts";

/** Thrown by the poll handler to stop the pass at a job the runner deferred (the device is not idle). */
class DeviceBusy extends Error {
  readonly job: string;
  constructor(job: string) {
    super(`device busy: job ${job} deferred`);
    this.job = job;
  }
}

/** Thrown by the training handler to hold a round back until its host serves the group's session. */
class HostNotReady extends Error {
  readonly job: string;
  readonly host: string;
  constructor(job: string, host: string) {
    super(`host ${host} does not serve ${job} yet`);
    this.job = job;
    this.host = host;
  }
}

/** The longest wait between heartbeat retries after failures (ms). */
const HEARTBEAT_BACKOFF_MAX_MS = 60_000;
export async function runDaemon(opts: {
  config: DeviceConfig;
  paths: DevicePaths;
  account: DeviceSigner;
  publicClient: DevicePublicClient;
  store: ContentStore;
  log: Logger;
  once?: boolean;
  signal?: AbortSignal;
  /** Event → job resolution; default `jobFromEvent` (JobMarket + marketplace + staking reads). */
  resolveJob?: (ev: CohortEvent) => Promise<DeviceJob>;
  /** Idle check override (tests). */
  idleCheck?: () => string | undefined;
  /** Admission's chain reads; default `chainViewOf(publicClient, config)`. */
  chain?: ChainView;
  /** The training watcher; default one over the configured FineTuning (none when FineTuning is not configured). */
  training?: TrainingWatcher | null;
  /** SecAgg polling and outage limits (`PollOptions`); default the client's (an outage is retried for 120 s). */
  poll?: PollOptions;
}): Promise<void> {
  const { config, paths, account, publicClient: pub, store, log } = opts;
  const jobMarket = contractAddress(config, "JobMarket");
  const resolveJob =
    opts.resolveJob ??
    ((ev: CohortEvent) =>
      jobFromEvent(
        pub,
        {
          chainId: config.chainId,
          jobMarket,
          marketplace: contractAddress(config, "AlgorithmMarketplace"),
          staking: contractAddress(config, "NodeStaking"),
        },
        ev,
      ));
  const watcher = new CohortWatcher({
    publicClient: pub,
    chainId: config.chainId,
    jobMarket,
    cursorFile: paths.chainCursor,
    startBlock: startBlockOf(config),
    confirmations: BigInt(config.confirmations),
  });
  const runner = await DeviceRunner.open({
    paths,
    account,
    store,
    idle: config.idle,
    chain: opts.chain ?? chainViewOf(pub, config),
    log,
    ...(opts.idleCheck ? { idleCheck: opts.idleCheck } : {}),
    ...(opts.poll ? { poll: opts.poll } : {}),
  });
  // once per growth epoch to every distributor it knows: the configured one and the active ones on chain
  const optional = (name: string) => {
    try {
      return contractAddress(config, name);
    } catch {
      return undefined;
    }
  };
  const fineTuning = optional("FineTuning");
  const marketplace = optional("AlgorithmMarketplace");
  const training =
    opts.training !== undefined
      ? opts.training
      : fineTuning === undefined ||
          marketplace === undefined ||
          optional("NodeStaking") === undefined
        ? null
        : new TrainingWatcher({
            publicClient: pub,
            chainId: config.chainId,
            contracts: {
              FineTuning: fineTuning,
              AlgorithmMarketplace: marketplace,
              NodeStaking: contractAddress(config, "NodeStaking"),
            },
            device: account.address,
            store,
            cursorFile: paths.trainingCursor,
            startBlock: startBlockOf(config),
            confirmations: BigInt(config.confirmations),
            log,
          });
  const growthPool = optional("GrowthPool");
  const staking = optional("NodeStaking");
  const registry = optional("DeviceRegistry");
  const heartbeats =
    registry === undefined
      ? undefined
      : new HeartbeatSender({
          publicClient: pub,
          account,
          chainId: config.chainId,
          contracts: {
            DeviceRegistry: registry,
            ...(growthPool === undefined ? {} : { GrowthPool: growthPool }),
            ...(staking === undefined ? {} : { NodeStaking: staking }),
          },
          configuredUrls: config.distributorUrl === undefined ? [] : [config.distributorUrl],
        });
  // after a failed heartbeat the next try waits longer (doubling, up to HEARTBEAT_BACKOFF_MAX_MS) and at a random
  // point of that wait, so a fleet that found its distributor overloaded does not retry in step and keep it so
  let nextHeartbeat = 0;
  let heartbeatFailures = 0;
  const heartbeat = async () => {
    if (heartbeats === undefined) return;
    if (Date.now() < nextHeartbeat) return;
    const intervalMs = config.heartbeatIntervalSec * 1000;
    let failed = false;
    try {
      const schemas = (await listDatasets(paths.datasets)).map((d) => schemaHash(d.schema));
      if (schemas.length === 0) return;
      const sent = await heartbeats.tick(schemas);
      if (sent.delivered.length > 0)
        log.info({ epoch: sent.epoch, to: sent.delivered }, "heartbeat sent");
      for (const f of sent.failed)
        log.warn({ epoch: sent.epoch, url: f.url, err: f.error }, "heartbeat failed");
      failed = sent.failed.length > 0;
    } catch (e) {
      log.warn({ err: describeError(e) }, "heartbeat failed");
      failed = true;
    } finally {
      heartbeatFailures = failed ? heartbeatFailures + 1 : 0;
      const backoff = Math.min(intervalMs * 2 ** heartbeatFailures, HEARTBEAT_BACKOFF_MAX_MS);
      nextHeartbeat =
        Date.now() + (failed ? Math.max(intervalMs, backoff * (0.5 + Math.random())) : intervalMs);
    }
  };
  for (;;) {
    if (opts.signal?.aborted) return;
    await heartbeat();
    try {
      await watcher.poll(async (ev) => {
        try {
          // cheap pre-filter: only jobs whose verified cohort names this device reach the runner
          await fetchCohort(store, ev.cohortCid, {
            root: ev.cohortRoot as `0x${string}`,
            jobId: ev.jobId,
            device: account.address as Address,
          });
        } catch (e) {
          if (e instanceof ProtocolError && e.code === "NOT_IN_COHORT") return;
          log.warn({ jobId: ev.jobId.toString(), err: describeError(e) }, "cohort rejected");
          return;
        }
        let entry;
        try {
          entry = await runner.handle(await resolveJob(ev));
        } catch (e) {
          log.warn(
            { jobId: ev.jobId.toString(), err: describeError(e) },
            "job could not be resolved",
          );
          return;
        }
        log.info(
          { jobId: ev.jobId.toString(), status: entry.status, code: entry.code },
          "job handled",
        );
        // busy: the cursor stays before this job's block, so it is delivered again on the next poll
        if (entry.status === "pending") throw new DeviceBusy(ev.jobId.toString());
      });
    } catch (e) {
      if (e instanceof DeviceBusy) log.debug({ job: e.job }, "busy; job deferred");
      else log.warn({ err: describeError(e) }, "poll failed; retrying");
    }
    if (training !== null)
      try {
        await training.poll(async (job) => {
          const key = jobKey(job);
          const prev = runner.state.get(key)?.status;
          // one try per round: wait (cursor held) until the host serves the group's session
          if (prev !== "done" && prev !== "failed" && prev !== "refused") {
            const host = await hostSession(job);
            if (host === "not-yet") throw new HostNotReady(key, job.aggregatorUrl);
          }
          const entry = await runner.handle(job);
          log.info(
            {
              bountyId: job.bountyId.toString(),
              round: job.round.toString(),
              group: job.group,
              status: entry.status,
              code: entry.code,
            },
            "training round handled",
          );
          // busy: as for cohorts, the round is delivered again next poll (while it is still open)
          if (entry.status === "pending") throw new DeviceBusy(key);
        });
      } catch (e) {
        if (e instanceof DeviceBusy) log.debug({ job: e.job }, "busy; training round deferred");
        else if (e instanceof HostNotReady)
          log.info({ job: e.job, host: e.host }, "the host does not serve the round yet; waiting");
        else log.warn({ err: describeError(e) }, "training poll failed; retrying");
      }
    if (opts.once) return;
    await new Promise((r) => setTimeout(r, config.pollIntervalSec * 1000));
  }
}
