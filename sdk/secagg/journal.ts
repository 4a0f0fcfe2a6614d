/**
 * A SecAgg session's write-ahead journal: what the aggregator's server accepted (every signed message, whole, and
 * every round close), appended to one file per session and flushed to disk before the server acknowledges a message
 * or serves anything derived from it. A restarted aggregator replays the file into a fresh `SecAggServer` and
 * continues the same session: the devices, which keep their round secrets in memory, retry their requests and carry
 * on, and nothing is computed twice.
 *
 * Why a journal and not a second session: devices that already sent masked inputs must never take part in two
 * unmaskings, because two sums over different survivor sets differ by one device's input. Resuming the one session
 * keeps one survivor set (replayed from the journal), one consistency certificate, one unmasking.
 *
 * Format: JSON lines, `{"k":"m","msg":<messages.ts toJson>}` or `{"k":"a","round":n}`. A last line cut short by a
 * crash is dropped (the server never acknowledged it: the flush did not finish); any other damage is JOURNAL_INVALID.
 * The file holds masked inputs and encrypted shares, never a plaintext input, and is private to the aggregator (0600).
 */
import { mkdir, open, readFile } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { SecAggError } from "./errors.ts";
import { fromJson, toJson } from "./messages.ts";
import type { ResolvedSession, SecAggSessionConfig } from "./params.ts";
import { SecAggServer } from "./server.ts";
import type { JournalEntry, SecAggServerOptions } from "./server.ts";

const EntryJson = z.discriminatedUnion("k", [
  z.object({ k: z.literal("m"), msg: z.unknown() }),
  z.object({ k: z.literal("a"), round: z.number().int().min(0).max(4) }),
]);

export function encodeJournalEntry(e: JournalEntry): string {
  return JSON.stringify(
    e.kind === "message" ? { k: "m", msg: toJson(e.message) } : { k: "a", round: e.round },
  );
}

/**
 * Parses a journal's text. A last line without its newline is a write cut short by a crash and is dropped.
 * @throws SecAggError JOURNAL_INVALID for any other line that does not parse
 */
export function decodeJournal(text: string): JournalEntry[] {
  const lines = text.split("\n");
  const complete = lines.slice(0, -1); // the part after the last "\n" was never acknowledged
  return complete.map((line, i) => {
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      throw new SecAggError("JOURNAL_INVALID", `journal line ${i + 1} is not JSON`);
    }
    const e = EntryJson.safeParse(json);
    if (!e.success)
      throw new SecAggError(
        "JOURNAL_INVALID",
        `journal line ${i + 1}: ${z.prettifyError(e.error)}`,
      );
    if (e.data.k === "a") return { kind: "advance", round: e.data.round };
    try {
      return { kind: "message", message: fromJson(e.data.msg) };
    } catch (err) {
      throw new SecAggError("JOURNAL_INVALID", `journal line ${i + 1}: ${(err as Error).message}`);
    }
  });
}

/**
 * Rebuilds a server from its journal: every message is submitted again (signatures verified again) and every round
 * closed where it was closed. A message that was a signed fault is a fault again; a message the fresh server refuses
 * for any other reason, or a round close that fails where it succeeded, means the journal is not this session's.
 * @throws SecAggError JOURNAL_INVALID
 */
export async function replayJournal(
  config: SecAggSessionConfig | ResolvedSession,
  entries: readonly JournalEntry[],
  opts: SecAggServerOptions = {},
): Promise<SecAggServer> {
  const server = new SecAggServer(config, opts);
  for (const [i, e] of entries.entries()) {
    if (e.kind === "advance") {
      if (server.round !== e.round)
        throw new SecAggError(
          "JOURNAL_INVALID",
          `entry ${i}: closes round ${e.round} while in round ${server.round}`,
        );
      // a close that failed then fails again now (the session stays failed): not an inconsistency
      await server.advance().catch(() => undefined);
      continue;
    }
    const faults = server.faults.length;
    try {
      await server.submit(e.message);
    } catch (err) {
      if (server.faults.length === faults + 1) continue; // a signed fault, as when it was received
      throw new SecAggError(
        "JOURNAL_INVALID",
        `entry ${i} (round ${e.message.body.round}, client ${e.message.body.sender}) is refused: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }
  return server;
}

/** An open journal: `append` queues an entry synchronously, `flush` resolves once every queued entry is on disk. */
export class SessionJournal {
  private pending: string[] = [];
  private writing: Promise<void> = Promise.resolve();
  private failure: unknown;

  private readonly fh: FileHandle;
  readonly file: string;

  private constructor(fh: FileHandle, file: string) {
    this.fh = fh;
    this.file = file;
  }

  /**
   * Opens (creating if needed) the journal at `file` and returns it with the entries it already holds.
   * @throws SecAggError JOURNAL_INVALID when the existing content does not parse
   */
  static async open(file: string): Promise<{ journal: SessionJournal; entries: JournalEntry[] }> {
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    let text = "";
    try {
      text = await readFile(file, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    const entries = decodeJournal(text);
    const fh = await open(file, "a", 0o600);
    const journal = new SessionJournal(fh, file);
    // a torn last line is cut off so the next entry starts on a line of its own
    const keep = text.lastIndexOf("\n") + 1;
    if (keep < text.length) await fh.truncate(Buffer.byteLength(text.slice(0, keep)));
    return { journal, entries };
  }

  append(entry: JournalEntry): void {
    this.pending.push(encodeJournalEntry(entry) + "\n");
  }

  /** Writes and fsyncs everything appended so far (one write per batch: concurrent callers share it). */
  flush(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.pending.length === 0) return this.writing;
    const batch = this.pending.join("");
    this.pending = [];
    this.writing = this.writing.then(async () => {
      try {
        await this.fh.appendFile(batch);
        await this.fh.datasync();
      } catch (e) {
        this.failure = e;
        throw e;
      }
    });
    return this.writing;
  }

  async close(): Promise<void> {
    await this.flush().catch(() => undefined);
    await this.fh.close();
  }
}
