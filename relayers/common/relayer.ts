/**
 * One relayer process: a role (relayers/<role>/index.ts) on the common runtime.
 *
 *   start   unlock the operator key (when the role needs one) → open the action queue (lock, recovery rule) → the
 *           role connects (chain, IPFS) → /healthz and /metrics on 127.0.0.1 → the loop. Any failure here is one
 *           line on stderr and a non-zero exit (cli.ts).
 *   stop    SIGTERM or SIGINT aborts the loop's signal: no new action is claimed, the one in flight finishes, then
 *           the role, the server and the queue close and the process exits 0. Past `drainTimeoutMs`, or on a second
 *           signal, it exits 1 at once; the action left `running` is re-queued at the next start.
 */
import type { Logger } from "pino";
import type { DeviceAccount } from "#sdk/crypto/session-key.ts";
import { ActionQueue } from "./action-queue.ts";
import {
  commonFields,
  unlockOperator,
  type CommonConfig,
  type ConfigOf,
  type FieldSpecs,
} from "./config.ts";
import { describeError } from "./errors.ts";
import { RelayerLoop, type RoleRuntime } from "./loop.ts";
import { RelayerMetrics } from "./metrics.ts";
import { createLogger, startTelemetryServer, type TelemetryServer } from "./telemetry.ts";
import { ReorgGuard } from "./reorg.ts";

export interface RoleContext<C> {
  config: C;
  log: Logger;
  queue: ActionQueue;
  /** The unlocked operator key (roles with `needsKey`). */
  account: DeviceAccount | undefined;
  /** Aborted when the relayer stops. */
  signal: AbortSignal;
}

/** A role as it registers itself with the CLI (relayers/<role>/index.ts). */
export interface RoleDefinition<F extends FieldSpecs = FieldSpecs> {
  name: string;
  /** One line for `dml-relayer --help`. */
  summary: string;
  /** What it does, for `dml-relayer <role> --help`. */
  description: string;
  /** Full command lines shown under "Examples". */
  examples: string[];
  /** The role's own config fields (the common ones are added). */
  fields: F;
  /** Whether the role signs transactions (then the keystore is unlocked before anything else). */
  needsKey: boolean;
  create(ctx: RoleContext<CommonConfig & ConfigOf<F>>): Promise<RoleRuntime>;
}

/** Identity, for type inference of a role's config from its fields. */
export function defineRole<F extends FieldSpecs>(role: RoleDefinition<F>): RoleDefinition<F> {
  return role;
}

/** Every field of `role`: the common ones, then its own. */
export function roleFields<F extends FieldSpecs>(role: RoleDefinition<F>) {
  return { ...commonFields(role.name), ...role.fields };
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  /** Install SIGTERM/SIGINT handlers (default true; an embedding test may drive `signal` itself). */
  handleSignals?: boolean;
  /** An external stop signal. */
  signal?: AbortSignal;
  /** Called once the loop runs, with the telemetry server's URL. */
  onReady?: (info: { metricsUrl: string }) => void;
}

/** Runs `role` until stopped; resolves with the process exit code. Start failures reject (one-line message). */
export async function runRelayer<F extends FieldSpecs>(
  role: RoleDefinition<F>,
  config: CommonConfig & ConfigOf<F>,
  opts: RunOptions = {},
): Promise<number> {
  const log = createLogger(role.name, config.logLevel);
  const account = role.needsKey ? await unlockOperator(config, opts.env) : undefined;
  const queue = await ActionQueue.open(config.dataDir);
  const controller = new AbortController();
  opts.signal?.addEventListener("abort", () => controller.abort(), { once: true });
  let runtime: RoleRuntime | undefined;
  let server: TelemetryServer | undefined;
  const cleanup = async () => {
    await runtime?.close?.().catch((e: unknown) => log.error({ err: describeError(e) }, "close"));
    await server?.close();
    await queue.close();
  };
  try {
    for (const a of queue.recovered)
      log.warn(
        { action: a.key, type: a.type, attempts: a.attempts, recoveries: a.recoveries },
        "recovered an action left running by a crash; its handler re-checks the chain before acting",
      );
    runtime = await role.create({ config, log, queue, account, signal: controller.signal });
    const metrics = new RelayerMetrics(role.name, () => queue.counts());
    const loop = new RelayerLoop({
      queue,
      role: runtime,
      log,
      metrics,
      intervalMs: config.tickIntervalMs,
      maxAttempts: config.maxAttempts,
      retryBaseMs: config.retryBaseMs,
      retryMaxMs: config.retryMaxMs,
      ...(runtime.chain === undefined ? {} : { reorg: new ReorgGuard(runtime.chain, queue) }),
    });
    server = await startTelemetryServer({
      port: config.metricsPort,
      metrics,
      health: {
        role: role.name,
        startedAt: loop.startedAt,
        lastTickAt: () => loop.lastTickAt,
        ticks: () => loop.ticks,
        queueCounts: () => queue.counts(),
        maxTickAgeMs: config.healthMaxTickAgeMs,
      },
    });
    const stop = installSignals(opts.handleSignals ?? true, controller, log, config.drainTimeoutMs);
    log.info(
      {
        metricsUrl: server.url,
        address: account?.address,
        dataDir: config.dataDir,
        recovered: queue.recovered.length,
        config,
      },
      "relayer started",
    );
    opts.onReady?.({ metricsUrl: server.url });
    try {
      await loop.run(controller.signal);
    } finally {
      stop();
    }
    log.info({ ticks: loop.ticks }, "drained; stopping");
    await cleanup();
    return 0;
  } catch (e) {
    await cleanup().catch(() => undefined);
    throw e;
  }
}

/** First SIGTERM/SIGINT: abort (drain). Second, or the drain timeout: exit 1. Returns the uninstaller. */
function installSignals(
  enabled: boolean,
  controller: AbortController,
  log: Logger,
  drainTimeoutMs: number,
): () => void {
  if (!enabled) return () => undefined;
  let timer: NodeJS.Timeout | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      log.error({ signal: sig }, "second signal: exiting without draining");
      process.exit(1);
    }
    log.info({ signal: sig, drainTimeoutMs }, "stopping: draining the action in flight");
    controller.abort();
    timer = setTimeout(() => {
      log.error(
        { drainTimeoutMs },
        "drain timed out: exiting; the action in flight is re-queued at start",
      );
      process.exit(1);
    }, drainTimeoutMs);
    timer.unref();
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  return () => {
    clearTimeout(timer);
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
  };
}
