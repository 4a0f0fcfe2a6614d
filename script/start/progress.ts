/**
 * `npm start`'s progress display. On a terminal: one `cli-progress` bar per long phase (devices registering and
 * coming online, claims, fine-tuning rounds), with printed lines scrolling above the bars. Otherwise (tests, CI,
 * a pipe): no bars, one plain line per phase when it completes and at most one per quarter before that.
 */
import { MultiBar, Presets, type SingleBar } from "cli-progress";

export interface ProgressDisplay {
  /** Prints a line (above the bars on a terminal). */
  print(line: string): void;
  /** `done` of `total` for the phase `label`. */
  update(label: string, done: number, total: number): void;
  /** Removes every bar (before the final table, or on failure). */
  stop(): void;
}

export function progressDisplay(
  tty: boolean,
  write: (line: string) => void = (l) => console.log(l),
): ProgressDisplay {
  return tty ? barDisplay() : plainDisplay(write);
}

function plainDisplay(write: (line: string) => void): ProgressDisplay {
  const shown = new Map<string, number>(); // label → last quarter printed
  return {
    print: write,
    update(label, done, total) {
      if (total <= 0) return;
      const quarter = done >= total ? 4 : Math.floor((done * 4) / total);
      if (quarter === 0 || (shown.get(label) ?? 0) >= quarter) return;
      shown.set(label, quarter);
      write(`  ${label}: ${done}/${total}`);
      if (done >= total) shown.delete(label);
    },
    stop() {
      shown.clear();
    },
  };
}

function barDisplay(): ProgressDisplay {
  let multi: MultiBar | undefined;
  const bars = new Map<string, SingleBar>();
  const ensure = (): MultiBar =>
    (multi ??= new MultiBar(
      {
        format: "{label} [{bar}] {value}/{total} {duration_formatted}",
        hideCursor: true,
        clearOnComplete: false,
        stopOnComplete: false,
      },
      Presets.shades_classic,
    ));
  return {
    print(line) {
      if (multi && bars.size > 0) multi.log(`${line}\n`);
      else console.log(line);
    },
    update(label, done, total) {
      const m = ensure();
      let bar = bars.get(label);
      if (!bar) {
        bar = m.create(total, done, { label: label.padEnd(20) });
        bars.set(label, bar);
      }
      bar.setTotal(total);
      bar.update(done, { label: label.padEnd(20) });
      if (done >= total) {
        bar.stop();
        m.remove(bar);
        bars.delete(label);
        if (bars.size > 0) m.log(`  ${label}: ${done}/${total}\n`);
        else {
          m.stop();
          multi = undefined;
          console.log(`  ${label}: ${done}/${total}`);
        }
      }
    },
    stop() {
      multi?.stop();
      multi = undefined;
      bars.clear();
    },
  };
}
