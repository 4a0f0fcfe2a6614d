/**
 * `npm start`'s record of its steps: which step runs now (a failure is charged to it), each step's wall time and
 * key figures, and the final table. Pure bookkeeping and formatting; printing is the caller's.
 */

export interface StepRecord {
  name: string;
  startedAt: number;
  /** Wall time in ms, set when the step ends. */
  ms?: number;
  held?: boolean;
  figures: [string, string][];
}

export class StepLog {
  readonly records: StepRecord[] = [];
  private readonly now: () => number;
  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  /** The step running now (the last one begun and not ended). */
  get current(): StepRecord | undefined {
    const last = this.records.at(-1);
    return last?.ms === undefined ? last : undefined;
  }

  /** Ends the running step as held and starts `name`. */
  begin(name: string): void {
    this.end(true);
    this.records.push({ name, startedAt: this.now(), figures: [] });
  }

  /** Ends the running step (held or failed). */
  end(held: boolean): void {
    const cur = this.current;
    if (!cur) return;
    cur.ms = this.now() - cur.startedAt;
    cur.held = held;
  }

  /** Adds a key figure to the running step (the last one if none runs). */
  figure(key: string, value: string): void {
    const r = this.current ?? this.records.at(-1);
    if (!r) return;
    const at = r.figures.findIndex(([k]) => k === key);
    if (at >= 0) r.figures[at] = [key, value];
    else r.figures.push([key, value]);
  }
}

const secs = (ms: number | undefined): string =>
  ms === undefined ? "-" : `${(ms / 1000).toFixed(1)} s`;

/**
 * The final table, one row per step: `<step>  <wall time>  <held|FAILED>  key: value; key: value`. Long figure lists
 * wrap onto indented continuation lines so each line stays readable in a terminal.
 */
export function formatStepTable(records: readonly StepRecord[], width = 120): string[] {
  const nameW = Math.max(4, ...records.map((r) => r.name.length));
  const timeW = Math.max(4, ...records.map((r) => secs(r.ms).length));
  const head = `${"step".padEnd(nameW)}  ${"time".padStart(timeW)}  ${"result".padEnd(6)}  figures`;
  const lines = [head, "-".repeat(Math.min(width, head.length + 40))];
  const indent = nameW + timeW + 12;
  for (const r of records) {
    const result = r.held === undefined ? "-" : r.held ? "held" : "FAILED";
    let line = `${r.name.padEnd(nameW)}  ${secs(r.ms).padStart(timeW)}  ${result.padEnd(6)}  `;
    let first = true;
    for (const [k, v] of r.figures) {
      const cell = `${k}: ${v}`;
      if (!first && line.length + cell.length + 2 > width) {
        lines.push(line.trimEnd());
        line = " ".repeat(indent);
        first = true;
      }
      line += first ? cell : `; ${cell}`;
      first = false;
    }
    lines.push(line.trimEnd());
  }
  return lines;
}
