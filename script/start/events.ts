/**
 * What the scenario scripts (script/demo-job.ts, script/finetune-demo.ts) report to `npm start` besides their
 * printed lines: which step runs now (a failure is charged to it), a step's key figures (the final table), progress
 * of a long phase (a bar on a terminal) and the endpoints a `--keep` network leaves serving. Types only.
 */

/** The steps the demo job reports, in order (names as printed in `step "<name>" failed` and the final table). */
export const DEMO_STEPS = {
  setup: "list the algorithm, stake operators",
  devices: "devices join",
  growthDraw: "growth epoch: draw",
  job: "prediction job",
  claims: "claims: job and growth",
  fineTuning: "fine-tuning bounty",
} as const;

export type DemoEvent =
  /** A new step starts (the previous one held). */
  | { kind: "step"; name: string }
  /** A key figure of the current step, for the final table. */
  | { kind: "figure"; key: string; value: string }
  /** `done` of `total` units of a long phase (`label` names it). */
  | { kind: "progress"; label: string; done: number; total: number }
  /** An endpoint of the running network (printed by `--keep`). */
  | { kind: "endpoint"; name: string; url: string };

export type DemoEvents = (e: DemoEvent) => void;
