/**
 * Prometheus metrics of one relayer process (prom-client, its own registry), all named `dml_relayer_*` and labelled
 * with the role (the process and Node.js defaults too). docs/metrics.md lists them; docs/grafana-dashboard.json charts them.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { ACTION_STATUSES, type ActionStatus } from "./action-queue.ts";

export type ErrorWhere = "reconcile" | "action" | "tick" | "reorg";

export class RelayerMetrics {
  readonly registry: Registry;
  private readonly ticks: Counter<"role" | "outcome">;
  private readonly tickDuration: Histogram<"role">;
  private readonly lastTick: Gauge<"role">;
  private readonly actions: Gauge<"role" | "status">;
  private readonly actionRuns: Counter<"role" | "type" | "outcome">;
  private readonly actionLatency: Histogram<"role" | "type">;
  private readonly errors: Counter<"role" | "where">;
  private readonly reorgs: Counter<"role">;
  private readonly reopened: Counter<"role">;
  private readonly role: string;

  /** `queueCounts` is read at each scrape, so the per-status gauge is always the database's truth. */
  constructor(role: string, queueCounts: () => Promise<Record<ActionStatus, number>>) {
    this.role = role;
    this.registry = new Registry();
    // the process metrics carry the role too, so one dashboard variable filters every panel (docs/metrics.md)
    collectDefaultMetrics({ register: this.registry, prefix: "dml_relayer_", labels: { role } });
    const registers = [this.registry];
    this.ticks = new Counter({
      name: "dml_relayer_ticks_total",
      help: "Loop ticks (reconcile then act), by outcome (ok: no error in the tick; error: one was logged)",
      labelNames: ["role", "outcome"],
      registers,
    });
    this.tickDuration = new Histogram({
      name: "dml_relayer_tick_duration_seconds",
      help: "Wall time of one tick, reconcile and actions included",
      labelNames: ["role"],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.lastTick = new Gauge({
      name: "dml_relayer_last_tick_timestamp_seconds",
      help: "Unix time at which the last tick ended",
      labelNames: ["role"],
      registers,
    });
    this.actions = new Gauge({
      name: "dml_relayer_actions",
      help: "Actions in the durable queue, by status",
      labelNames: ["role", "status"],
      registers,
      collect: async () => {
        const counts = await queueCounts().catch(() => undefined);
        if (counts === undefined) return;
        for (const s of ACTION_STATUSES) this.actions.set({ role, status: s }, counts[s]);
      },
    });
    this.actionRuns = new Counter({
      name: "dml_relayer_action_runs_total",
      help: "Handler runs, by action type and outcome (succeeded, abandoned, retry, failed)",
      labelNames: ["role", "type", "outcome"],
      registers,
    });
    this.actionLatency = new Histogram({
      name: "dml_relayer_action_latency_seconds",
      help: "From an action's enqueueing (its triggering chain state seen) to its success",
      labelNames: ["role", "type"],
      buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
      registers,
    });
    this.errors = new Counter({
      name: "dml_relayer_errors_total",
      help: "Errors logged and retried on a later tick, by where they happened",
      labelNames: ["role", "where"],
      registers,
    });
    this.reorgs = new Counter({
      name: "dml_relayer_reorgs_total",
      help: "Chain reorganisations seen (a remembered head's hash no longer on the chain)",
      labelNames: ["role"],
      registers,
    });
    this.reopened = new Counter({
      name: "dml_relayer_actions_reopened_total",
      help: "Finished actions re-opened because a reorg replaced the blocks they finished in",
      labelNames: ["role"],
      registers,
    });
  }

  reorg(reopened: number): void {
    this.reorgs.inc({ role: this.role });
    this.reopened.inc({ role: this.role }, reopened);
  }

  tick(seconds: number, ok: boolean, endedAtMs: number): void {
    this.ticks.inc({ role: this.role, outcome: ok ? "ok" : "error" });
    this.tickDuration.observe({ role: this.role }, seconds);
    this.lastTick.set({ role: this.role }, endedAtMs / 1000);
  }

  actionRun(type: string, outcome: "succeeded" | "abandoned" | "retry" | "failed"): void {
    this.actionRuns.inc({ role: this.role, type, outcome });
  }

  actionLatencySeconds(type: string, seconds: number): void {
    this.actionLatency.observe({ role: this.role, type }, seconds);
  }

  error(where: ErrorWhere): void {
    this.errors.inc({ role: this.role, where });
  }
}
