/**
 * The heartbeats a distributor accepted, on disk: one append-only JSON-lines file per growth epoch
 * (`<dir>/<epoch>.jsonl`, one `{"device","signature"}` per line). A heartbeat is acknowledged (HTTP 200) only after
 * its line was appended and flushed, so a restart — even after SIGKILL — finds every acknowledged heartbeat; a line
 * torn by a crash mid-write (never acknowledged) is skipped on load. Appends are serialised, so lines never interleave,
 * and committed in groups: the heartbeats that arrive while one write + flush is under way go to disk together in the
 * next one (one flush per group rather than per heartbeat: a thousand devices heartbeating at once were each waiting
 * behind a thousand flushes, and timed out).
 */
import { appendFile, mkdir, readdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { getAddress, isAddress, type Address, type Hex } from "viem";
import { z } from "zod";
import type { HeartbeatBook } from "./HeartbeatBook.ts";

const lineSchema = z.strictObject({
  device: z.string().refine((a) => isAddress(a, { strict: false }), "not an address"),
  signature: z.string().regex(/^0x[0-9a-fA-F]{130}$/),
});

export class HeartbeatJournal {
  readonly dir: string;
  /** Lines waiting for the next group write, with their acknowledgements. */
  #pending: { epoch: number; line: string; done: (e?: unknown) => void }[] = [];
  /** The group writer while it runs. */
  #writing: Promise<void> | null = null;

  private constructor(dir: string) {
    this.dir = dir;
  }

  /** Opens (creates) the journal and replays every stored heartbeat into `book`; returns the journal. */
  static async open(dir: string, book: HeartbeatBook): Promise<HeartbeatJournal> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    for (const name of await readdir(dir)) {
      const m = /^(\d+)\.jsonl$/.exec(name);
      if (m?.[1] === undefined) continue;
      const epoch = Number(m[1]);
      const text = await readFile(path.join(dir, name), "utf8");
      // end a torn last line, so the next append starts a line of its own
      if (text.length > 0 && !text.endsWith("\n"))
        await appendFile(path.join(dir, name), "\n", { flush: true });
      for (const line of text.split("\n")) {
        if (line.length === 0) continue;
        let parsed: z.infer<typeof lineSchema>;
        try {
          parsed = lineSchema.parse(JSON.parse(line));
        } catch {
          continue; // a torn last line: that heartbeat was never acknowledged
        }
        const device = getAddress(parsed.device);
        if (!book.has(epoch, device)) book.record(epoch, device, parsed.signature as Hex);
      }
    }
    return new HeartbeatJournal(dir);
  }

  file(epoch: number): string {
    return path.join(this.dir, `${epoch}.jsonl`);
  }

  /** Appends one heartbeat and flushes it to disk (resolves once it is durable). */
  append(epoch: number, device: Address, signature: Hex): Promise<void> {
    const line = `${JSON.stringify({ device, signature })}\n`;
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ epoch, line, done: (e) => (e === undefined ? resolve() : reject(e)) });
      this.#writing ??= this.#writeGroups();
    });
  }

  /** Writes and flushes the waiting lines, one group (one append + flush per epoch file) at a time. */
  async #writeGroups(): Promise<void> {
    while (this.#pending.length > 0) {
      const group = this.#pending.splice(0);
      const byEpoch = new Map<number, string>();
      for (const p of group) byEpoch.set(p.epoch, (byEpoch.get(p.epoch) ?? "") + p.line);
      try {
        for (const [epoch, text] of byEpoch)
          await appendFile(this.file(epoch), text, { mode: 0o600, flush: true });
        for (const p of group) p.done();
      } catch (e) {
        for (const p of group) p.done(e ?? new Error("heartbeat journal write failed"));
      }
    }
    this.#writing = null;
  }

  /** Deletes the files of epochs below `epoch` (their sets are posted). */
  async prune(epoch: number): Promise<void> {
    await this.#writing;
    for (const name of await readdir(this.dir)) {
      const m = /^(\d+)\.jsonl$/.exec(name);
      if (m?.[1] !== undefined && Number(m[1]) < epoch)
        await rm(path.join(this.dir, name), { force: true });
    }
  }
}
