/**
 * Progress on long work (waiting for a transaction, a job's lifecycle, an upload) for the command lines: a
 * cli-progress bar on stderr when stderr is a terminal and the output is not `--json`; otherwise nothing (a script
 * reading stdout, or a log file, never gets bar redraws).
 */
import { SingleBar, Presets } from "cli-progress";

export interface Progress {
  /** Moves the bar to `value` (of `total`) and shows `label`. */
  update(value: number, label?: string): void;
  /** Changes the total (e.g. once a size is known). */
  setTotal(total: number): void;
  stop(): void;
}

const SILENT: Progress = {
  update: () => undefined,
  setTotal: () => undefined,
  stop: () => undefined,
};

/** Whether bars are drawn: stderr is a TTY and the command does not print JSON. */
export function progressEnabled(json: boolean): boolean {
  return !json && process.stderr.isTTY === true && !process.env.CI;
}

/** A bar of `total` steps titled `title`, or a silent one when bars are off. */
export function startProgress(title: string, total: number, enabled: boolean): Progress {
  if (!enabled) return SILENT;
  const bar = new SingleBar(
    {
      format: `${title} [{bar}] {value}/{total} {label}`,
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: false,
    },
    Presets.shades_classic,
  );
  bar.start(total, 0, { label: "" });
  return {
    update: (value, label) => bar.update(value, { label: label ?? "" }),
    setTotal: (t) => bar.setTotal(t),
    stop: () => bar.stop(),
  };
}

/** Runs `work` under a one-step bar (e.g. "waiting for the transaction"), completing it when `work` settles. */
export async function withProgress<T>(
  title: string,
  enabled: boolean,
  work: () => Promise<T>,
): Promise<T> {
  const p = startProgress(title, 1, enabled);
  try {
    const r = await work();
    p.update(1, "done");
    return r;
  } finally {
    p.stop();
  }
}

/**
 * A bar as an `onProgress(done, total)` callback (sdk/ml's corpus loader, dataset imports, benches): started on the
 * first call, stopped when `done` reaches `total`. Silent when `enabled` is false (default: bars on when stderr is a
 * terminal and CI is unset).
 */
export function progressCallback(
  title: string,
  enabled: boolean = progressEnabled(false),
): (done: number, total: number) => void {
  let bar: Progress | undefined;
  let stopped = false;
  return (done, total) => {
    if (stopped) return;
    bar ??= startProgress(title, total, enabled);
    bar.setTotal(total);
    bar.update(done);
    if (done >= total) {
      bar.stop();
      stopped = true;
    }
  };
}
