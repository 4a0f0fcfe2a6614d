/** A `cli-progress` bar as an `onProgress(done, total)` callback, for CLIs (never used in tests). */
import { Presets, SingleBar } from "cli-progress";

export function cliProgress(label: string): (done: number, total: number) => void {
  let bar: SingleBar | undefined;
  return (done, total) => {
    if (!bar) {
      bar = new SingleBar(
        { format: `${label} [{bar}] {value}/{total} {eta}s left` },
        Presets.shades_classic,
      );
      bar.start(total, 0);
    }
    bar.update(done);
    if (done >= total) bar.stop();
  };
}
