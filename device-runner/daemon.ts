/**
 * The long-running loop of `dml-device run`: poll the chain for cohorts, run each assigned job through the runner
 * (which isolates failures), commit the cursor, and send a signed heartbeat every interval.
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
import { DeviceRunner, type DeviceJob } from "./runner.ts";
import type { DeviceSigner } from "./prediction-job.ts";
import { CohortWatcher, jobFromEvent, type CohortEvent } from "./watcher.ts";

/** Thrown by the poll handler to stop the pass at a job the runner deferred (the device is not idle). */
class DeviceBusy extends Error {
  readonly jobId: bigint;
  constructor(jobId: bigint) {
    super(`device busy: job ${jobId} deferred`);
    this.jobId = jobId;
  }
}

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
  });
  // once per growth epoch to every distributor it knows: the configured one and the active ones on chain
  const optional = (name: string) => {
    try {
      return contractAddress(config, name);
    } catch {
      return undefined;
    }
  };
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
  let lastHeartbeat = 0;
  const heartbeat = async () => {
    if (heartbeats === undefined) return;
    if (Date.now() - lastHeartbeat < config.heartbeatIntervalSec * 1000) return;
    lastHeartbeat = Date.now();
    try {
      const schemas = (await listDatasets(paths.datasets)).map((d) => schemaHash(d.schema));
      if (schemas.length === 0) return;
      const sent = await heartbeats.tick(schemas);
      if (sent.delivered.length > 0)
        log.info({ epoch: sent.epoch, to: sent.delivered }, "heartbeat sent");
      for (const f of sent.failed)
        log.warn({ epoch: sent.epoch, url: f.url, err: f.error }, "heartbeat failed");
    } catch (e) {
      log.warn({ err: describeError(e) }, "heartbeat failed");
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
        if (entry.status === "pending") throw new DeviceBusy(ev.jobId);
      });
    } catch (e) {
      if (e instanceof DeviceBusy) log.debug({ jobId: e.jobId.toString() }, "busy; job deferred");
      else log.warn({ err: describeError(e) }, "poll failed; retrying");
    }
    if (opts.once) return;
    await new Promise((r) => setTimeout(r, config.pollIntervalSec * 1000));
  }
}
