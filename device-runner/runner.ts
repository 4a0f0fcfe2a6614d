/**
 * The device runner: takes the jobs the chain assigns to this device and runs each one in isolation. A failing job
 * (bad package, bad cohort, unreachable aggregator, …) is recorded as failed in `jobs.json` with its error code and
 * the runner moves on; a job the device declines to serve (admission.ts: consent, price floor, eligibility, cohort
 * size, model bounds) is recorded as refused, logged, and nothing is sent for it. The device's data and keys are only
 * ever read. A job that arrives while the device is busy stays pending and is retried on the next pass.
 */
import type { ContentStore } from "#sdk/ipfs/index.ts";
import type { PollOptions } from "#sdk/secagg/index.ts";
import type { Logger } from "pino";
import type { ChainView } from "./admission.ts";
import { loadLocalConsent } from "./consent.ts";
import { describeError, errorCode, REFUSAL_CODES } from "./errors.ts";
import { idleReason, type IdlePolicy } from "./idle.ts";
import { JobStateStore, type JobEntry } from "./job-state.ts";
import type { DevicePaths } from "./paths.ts";
import {
  predictionJobKey,
  runPredictionJob,
  type DeviceSigner,
  type PredictionJob,
} from "./prediction-job.ts";
import { runTrainingJob, type TrainingJob } from "./trainer.ts";

export type DeviceJob = PredictionJob | TrainingJob;

export function jobKey(job: DeviceJob): string {
  return job.kind === "predict"
    ? predictionJobKey(job)
    : `train:${job.chainId}:${job.fineTuning.toLowerCase()}:${job.bountyId}:${job.round}:${job.group}`;
}

export interface RunnerOptions {
  paths: DevicePaths;
  /** The device key and its SecAgg session signer (`deviceAccount`, session-key.ts). */
  account: DeviceSigner;
  store: ContentStore;
  idle: IdlePolicy;
  /** Chain reads for admission (job terms, kMin, `isEligible`): `chainViewOf(publicClient, config)`. */
  chain: ChainView;
  log?: Logger;
  poll?: PollOptions;
  /** Clock/load injection for the idle policy (tests). */
  idleCheck?: () => string | undefined;
}

export class DeviceRunner {
  private readonly opts: RunnerOptions;
  readonly state: JobStateStore;
  private constructor(opts: RunnerOptions, state: JobStateStore) {
    this.opts = opts;
    this.state = state;
  }

  static async open(opts: RunnerOptions): Promise<DeviceRunner> {
    return new DeviceRunner(opts, await JobStateStore.open(opts.paths.jobState));
  }

  /** Runs one job if it is not finished yet; never throws for a job-level failure. */
  async handle(job: DeviceJob): Promise<JobEntry> {
    const key = jobKey(job);
    const prev = this.state.get(key);
    if (
      prev !== undefined &&
      (prev.status === "done" || prev.status === "failed" || prev.status === "refused")
    )
      return prev;
    const busy = this.opts.idleCheck ? this.opts.idleCheck() : idleReason(this.opts.idle);
    if (busy !== undefined) {
      this.opts.log?.info({ job: key, reason: busy }, "not idle; job stays pending");
      return this.state.set(key, { status: "pending", attempts: prev?.attempts ?? 0 });
    }
    const attempts = (prev?.attempts ?? 0) + 1;
    await this.state.set(key, { status: "running", attempts });
    try {
      if (job.kind === "predict") {
        await runPredictionJob({
          job,
          store: this.opts.store,
          account: this.opts.account,
          datasetsDir: this.opts.paths.datasets,
          chain: this.opts.chain,
          // read on every job: a consent the owner just changed applies to the next job
          consent: await loadLocalConsent(this.opts.paths.consent),
          privacyLedger: this.opts.paths.privacyLedger,
          poll: this.opts.poll,
          log: this.opts.log,
        });
      } else {
        await runTrainingJob({
          job,
          store: this.opts.store,
          account: this.opts.account,
          chain: this.opts.chain,
          paths: this.opts.paths,
          poll: this.opts.poll,
          log: this.opts.log,
        });
      }
      return await this.state.set(key, { status: "done", attempts });
    } catch (e) {
      const known = errorCode(e);
      const code = known ?? "INTERNAL";
      const refused = known !== undefined && REFUSAL_CODES.has(known);
      this.opts.log?.warn(
        { job: key, code, err: describeError(e) },
        refused ? "job refused" : "job failed",
      );
      return await this.state.set(key, {
        status: refused ? "refused" : "failed",
        attempts,
        code,
        error: describeError(e),
      });
    }
  }

  /** Runs jobs one after the other (a device has one CPU budget). */
  async runAll(jobs: readonly DeviceJob[]): Promise<JobEntry[]> {
    const out: JobEntry[] = [];
    for (const job of jobs) out.push(await this.handle(job));
    return out;
  }
}
