/**
 * The relayer's durable action queue: every transaction a relayer means to send is first an action row in an embedded
 * Postgres (PGlite) in the relayer's own data directory, so a crash, a SIGKILL or a reboot loses nothing.
 *
 *   key        what the action is about, e.g. `commit:job-7`: enqueueing the same key again is a no-op (idempotent),
 *              so each tick's reconcile can re-derive the whole desired state without duplicating work;
 *   type       selects the handler; `payload` is its JSON input;
 *   status     queued → running → succeeded | failed | abandoned (a retryable failure goes back to queued, with
 *              `attempts`, `last_failure` and a `not_before` back-off);
 *   recoveries how many times a crash left it `running` and a restart put it back to `queued`.
 *
 * Recovery rule. On open, every action still `running` was interrupted (the process died inside its handler, maybe
 * after its transaction was sent, maybe before): it returns to `queued`. Its handler therefore runs again, so **every
 * handler must first check the chain for its own effect** (already committed? already revealed? already posted?) and
 * succeed without sending when the effect is there. The queue gives at-least-once execution; the handler's chain check
 * turns it into exactly-once effects. See docs/relayers.md.
 *
 * One process owns a data directory at a time (`relayer.lock`, holding the owner's pid; a lock whose pid is dead is
 * taken over, which is what a restart after SIGKILL needs).
 */
import { mkdir, open, readFile, rm } from "node:fs/promises";
import path from "node:path";
import type { PGlite } from "@electric-sql/pglite";
import { openPGlite } from "#sdk/db/pglite.ts";
import { z } from "zod";
import { RelayerError } from "./errors.ts";

export const ACTION_STATUSES = ["queued", "running", "succeeded", "failed", "abandoned"] as const;
export type ActionStatus = (typeof ACTION_STATUSES)[number];

export type JsonValue =
  string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

const jsonSchema: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([
    z.string(),
    z.number(),
    z.boolean(),
    z.null(),
    z.array(jsonSchema),
    z.record(z.string(), jsonSchema),
  ]),
);

const rowSchema = z.object({
  id: z.number().int(),
  key: z.string(),
  type: z.string(),
  payload: jsonSchema,
  status: z.enum(ACTION_STATUSES),
  attempts: z.number().int(),
  recoveries: z.number().int(),
  last_failure: z.string().nullable(),
  not_before: z.date(),
  created_at: z.date(),
  updated_at: z.date(),
  started_at: z.date().nullable(),
  finished_at: z.date().nullable(),
  finished_block: z
    .union([z.string(), z.number(), z.bigint()])
    .nullish()
    .transform((b) => (b === null || b === undefined ? undefined : BigInt(b))),
});

export interface Action {
  id: number;
  key: string;
  type: string;
  payload: JsonValue;
  status: ActionStatus;
  /** Handler runs started (a recovered run counts). */
  attempts: number;
  /** Times a restart found it `running` and re-queued it. */
  recoveries: number;
  lastFailure: string | undefined;
  notBefore: Date;
  createdAt: Date;
  updatedAt: Date;
  startedAt: Date | undefined;
  finishedAt: Date | undefined;
  /** The chain's head when it finished: a reorg below it re-opens the action (`reopenAfter`). */
  finishedBlock: bigint | undefined;
}

/** A chain head the relayer saw (its number and hash), kept to detect reorgs. */
export interface Head {
  block: bigint;
  hash: string;
}

export interface NewAction {
  key: string;
  type: string;
  payload?: JsonValue;
  /** Earliest time to run it (default: now). */
  notBefore?: Date;
}

export interface QueueOptions {
  /** Clock (ms since the epoch); tests may pin it. */
  now?: () => number;
}

const SCHEMA_VERSION = 1;
const MIGRATION = `
CREATE TABLE IF NOT EXISTS relayer_meta (version integer NOT NULL);
CREATE TABLE IF NOT EXISTS relayer_actions (
  id          serial PRIMARY KEY,
  key         text NOT NULL UNIQUE,
  type        text NOT NULL,
  payload     jsonb NOT NULL,
  status      text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'abandoned')),
  attempts    integer NOT NULL DEFAULT 0,
  recoveries  integer NOT NULL DEFAULT 0,
  last_failure text,
  not_before  timestamptz NOT NULL,
  created_at  timestamptz NOT NULL,
  updated_at  timestamptz NOT NULL,
  started_at  timestamptz,
  finished_at timestamptz
);
CREATE INDEX IF NOT EXISTS relayer_actions_ready ON relayer_actions (status, not_before, id);
ALTER TABLE relayer_actions ADD COLUMN IF NOT EXISTS finished_block bigint;
CREATE TABLE IF NOT EXISTS relayer_heads (block bigint PRIMARY KEY, hash text NOT NULL);
`;

export class ActionQueue {
  readonly dataDir: string;
  /** Actions found `running` at open and put back to `queued`. */
  readonly recovered: readonly Action[];
  private readonly db: PGlite;
  private readonly now: () => number;
  private readonly lockFile: string;
  private closed = false;

  private constructor(
    dataDir: string,
    db: PGlite,
    now: () => number,
    lockFile: string,
    recovered: Action[],
  ) {
    this.dataDir = dataDir;
    this.db = db;
    this.now = now;
    this.lockFile = lockFile;
    this.recovered = recovered;
  }

  /**
   * Opens (creating if needed) the queue in `dataDir`/queue, takes the directory's lock and applies the recovery
   * rule. @throws RelayerError DATA_DIR_LOCKED | QUEUE
   */
  static async open(dataDir: string, opts: QueueOptions = {}): Promise<ActionQueue> {
    const now = opts.now ?? Date.now;
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const lockFile = path.join(dataDir, "relayer.lock");
    await takeLock(lockFile);
    let db: PGlite | undefined;
    try {
      db = await openPGlite(path.join(dataDir, "queue"));
      await db.exec(MIGRATION);
      const v = await db.query<{ version: number }>("SELECT version FROM relayer_meta");
      if (v.rows.length === 0)
        await db.query("INSERT INTO relayer_meta (version) VALUES ($1)", [SCHEMA_VERSION]);
      else if (v.rows[0]?.version !== SCHEMA_VERSION)
        throw new RelayerError(
          "QUEUE",
          `queue schema version ${v.rows[0]?.version} in ${dataDir} is not ${SCHEMA_VERSION}`,
        );
      const at = new Date(now());
      const res = await db.query(
        `UPDATE relayer_actions
            SET status = 'queued', recoveries = recoveries + 1, updated_at = $1,
                last_failure = 'interrupted: the relayer stopped while this action ran; re-queued at start'
          WHERE status = 'running'
        RETURNING *`,
        [at],
      );
      return new ActionQueue(dataDir, db, now, lockFile, res.rows.map(toAction));
    } catch (e) {
      await db?.close().catch(() => undefined);
      await rm(lockFile, { force: true });
      if (e instanceof RelayerError) throw e;
      throw new RelayerError("QUEUE", `cannot open the action queue in ${dataDir}: ${msg(e)}`, {
        cause: e,
      });
    }
  }

  /** Adds an action unless one with the same key exists (whatever its status). */
  async enqueue(a: NewAction): Promise<{ action: Action; created: boolean }> {
    this.assertOpen();
    if (a.key.length === 0 || a.type.length === 0)
      throw new RelayerError("QUEUE", "an action needs a non-empty key and type");
    let payload: string;
    try {
      payload = JSON.stringify(jsonSchema.parse(a.payload ?? null));
    } catch (e) {
      throw new RelayerError("QUEUE", `action ${a.key}: the payload is not JSON: ${msg(e)}`, {
        cause: e,
      });
    }
    const at = new Date(this.now());
    const ins = await this.db.query(
      `INSERT INTO relayer_actions (key, type, payload, status, not_before, created_at, updated_at)
       VALUES ($1, $2, $3::jsonb, 'queued', $4, $5, $5)
       ON CONFLICT (key) DO NOTHING
       RETURNING *`,
      [a.key, a.type, payload, a.notBefore ?? at, at],
    );
    if (ins.rows[0] !== undefined) {
      const action = toAction(ins.rows[0]);
      this.queuedAt(action.notBefore.getTime());
      return { action, created: true };
    }
    const existing = await this.get(a.key);
    if (existing === undefined) throw new RelayerError("QUEUE", `action ${a.key} vanished`);
    return { action: existing, created: false };
  }

  /**
   * Atomically takes the oldest ready `queued` action and marks it `running` (attempts + 1). Until the earliest
   * `not_before` of the queued actions it knows of, it reads nothing (this process is the queue's only writer: the
   * directory's lock), so an idle relayer's tick costs no query.
   */
  async claimNext(): Promise<Action | undefined> {
    this.assertOpen();
    if (this.now() < this.#idleUntil) return undefined;
    const writes = this.#queueWrites;
    const at = new Date(this.now());
    const res = await this.db.query(
      `UPDATE relayer_actions
          SET status = 'running', attempts = attempts + 1, started_at = $1, updated_at = $1
        WHERE id = (SELECT id FROM relayer_actions
                     WHERE status = 'queued' AND not_before <= $1
                     ORDER BY not_before, id LIMIT 1 FOR UPDATE SKIP LOCKED)
      RETURNING *`,
      [at],
    );
    if (res.rows[0] !== undefined) return toAction(res.rows[0]);
    const next = await this.db.query<{ at: Date | null }>(
      "SELECT min(not_before) AS at FROM relayer_actions WHERE status = 'queued'",
    );
    const earliest = next.rows[0]?.at ?? null;
    // an action queued meanwhile (a concurrent enqueue) keeps the time it set
    if (writes === this.#queueWrites)
      this.#idleUntil = earliest === null ? Infinity : earliest.getTime();
    return undefined;
  }

  /** Nothing queued is ready before this time (ms); 0: unknown, ask the database. */
  #idleUntil = 0;
  /** Writes that queued an action, so a claim knows whether one happened while it read. */
  #queueWrites = 0;

  /** A write put an action (back) in `queued`, ready at `at` (ms). */
  private queuedAt(at: number): void {
    this.#queueWrites++;
    this.#idleUntil = Math.min(this.#idleUntil, at);
  }

  /** `block`: the chain's head once its effect is on chain (a reorg below it re-opens the action). */
  async succeed(id: number, block?: bigint): Promise<Action> {
    return this.finish(id, "succeeded", null, block);
  }

  /** The action will never be done (e.g. its deadline passed on chain); `reason` says why. */
  async abandon(id: number, reason: string, block?: bigint): Promise<Action> {
    return this.finish(id, "abandoned", reason, block);
  }

  /** A terminal failure: attempts exhausted or an error a retry cannot fix. */
  async fail(id: number, reason: string, block?: bigint): Promise<Action> {
    return this.finish(id, "failed", reason, block);
  }

  /**
   * After a reorg whose common ancestor is `block`: every finished action that finished at a head above it goes back
   * to `queued` (its effect, or the chain state that made it moot, may be gone). Their handlers check the chain
   * first, so an effect that survived the reorg is not repeated. Returns the re-opened actions.
   */
  async reopenAfter(block: bigint, reason: string): Promise<Action[]> {
    this.assertOpen();
    const at = new Date(this.now());
    const res = await this.db.query(
      `UPDATE relayer_actions
          SET status = 'queued', not_before = $2, updated_at = $2, finished_at = NULL, finished_block = NULL,
              last_failure = $3
        WHERE status IN ('succeeded', 'abandoned', 'failed') AND finished_block > $1
      RETURNING *`,
      [block.toString(), at, reason],
    );
    if (res.rows.length > 0) this.queuedAt(at.getTime());
    return res.rows.map(toAction);
  }

  /** The heads recorded by `recordHead`, oldest first. */
  async heads(): Promise<Head[]> {
    this.assertOpen();
    const res = await this.db.query<{ block: string | number; hash: string }>(
      "SELECT block::text AS block, hash FROM relayer_heads ORDER BY block",
    );
    return res.rows.map((r) => ({ block: BigInt(r.block), hash: r.hash }));
  }

  /** Records `head` (replacing anything at or above its height) and keeps the newest `keep` heads. */
  async recordHead(head: Head, keep = 128): Promise<void> {
    this.assertOpen();
    await this.db.transaction(async (tx) => {
      await tx.query("DELETE FROM relayer_heads WHERE block >= $1", [head.block.toString()]);
      await tx.query("INSERT INTO relayer_heads (block, hash) VALUES ($1, $2)", [
        head.block.toString(),
        head.hash.toLowerCase(),
      ]);
      await tx.query(
        `DELETE FROM relayer_heads WHERE block NOT IN
           (SELECT block FROM relayer_heads ORDER BY block DESC LIMIT $1)`,
        [keep],
      );
    });
  }

  /** A failed attempt to be retried at `retryAt`: back to `queued`, the reason kept. */
  async retry(id: number, reason: string, retryAt: Date): Promise<Action> {
    this.assertOpen();
    const res = await this.db.query(
      `UPDATE relayer_actions SET status = 'queued', last_failure = $2, not_before = $3, updated_at = $4
        WHERE id = $1 AND status = 'running' RETURNING *`,
      [id, reason, retryAt, new Date(this.now())],
    );
    const action = this.one(res.rows, id);
    this.queuedAt(retryAt.getTime());
    return action;
  }

  async get(key: string): Promise<Action | undefined> {
    this.assertOpen();
    const res = await this.db.query("SELECT * FROM relayer_actions WHERE key = $1", [key]);
    return res.rows[0] === undefined ? undefined : toAction(res.rows[0]);
  }

  async list(filter: { status?: ActionStatus; type?: string } = {}): Promise<Action[]> {
    this.assertOpen();
    const res = await this.db.query(
      `SELECT * FROM relayer_actions
        WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR type = $2)
        ORDER BY id`,
      [filter.status ?? null, filter.type ?? null],
    );
    return res.rows.map(toAction);
  }

  /** Number of actions in each status (every status present, zeros included). */
  async counts(): Promise<Record<ActionStatus, number>> {
    this.assertOpen();
    const res = await this.db.query<{ status: string; n: number }>(
      "SELECT status, count(*)::int AS n FROM relayer_actions GROUP BY status",
    );
    const out = Object.fromEntries(ACTION_STATUSES.map((s) => [s, 0])) as Record<
      ActionStatus,
      number
    >;
    for (const r of res.rows) {
      const s = z.enum(ACTION_STATUSES).parse(r.status);
      out[s] = r.n;
    }
    return out;
  }

  /** Closes the database and releases the data directory. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.db.close();
    await rm(this.lockFile, { force: true });
  }

  private async finish(
    id: number,
    status: "succeeded" | "failed" | "abandoned",
    reason: string | null,
    block: bigint | undefined,
  ): Promise<Action> {
    this.assertOpen();
    const at = new Date(this.now());
    const res = await this.db.query(
      `UPDATE relayer_actions
          SET status = $2, last_failure = COALESCE($3, last_failure), finished_at = $4, updated_at = $4,
              finished_block = $5
        WHERE id = $1 AND status = 'running' RETURNING *`,
      [id, status, reason, at, block === undefined ? null : block.toString()],
    );
    return this.one(res.rows, id);
  }

  private one(rows: unknown[], id: number): Action {
    if (rows[0] === undefined)
      throw new RelayerError("QUEUE", `action ${id} is not running (it cannot change status)`);
    return toAction(rows[0]);
  }

  private assertOpen(): void {
    if (this.closed) throw new RelayerError("QUEUE", "the action queue is closed");
  }
}

function toAction(row: unknown): Action {
  const r = rowSchema.parse(row);
  return {
    id: r.id,
    key: r.key,
    type: r.type,
    payload: r.payload,
    status: r.status,
    attempts: r.attempts,
    recoveries: r.recoveries,
    lastFailure: r.last_failure ?? undefined,
    notBefore: r.not_before,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    startedAt: r.started_at ?? undefined,
    finishedAt: r.finished_at ?? undefined,
    finishedBlock: r.finished_block,
  };
}

/** Creates `file` holding our pid; takes over a lock whose process is gone. */
async function takeLock(file: string): Promise<void> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(file, "wx", 0o600);
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const pid = Number.parseInt((await readFile(file, "utf8").catch(() => "")).trim(), 10);
    if (Number.isInteger(pid) && pid > 0 && (pid === process.pid || alive(pid)))
      throw new RelayerError(
        "DATA_DIR_LOCKED",
        `${path.dirname(file)} is in use by process ${pid} (one relayer per data directory)`,
      );
    await rm(file, { force: true }); // stale: its owner died (e.g. SIGKILL)
  }
  throw new RelayerError("DATA_DIR_LOCKED", `cannot take the lock ${file}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function msg(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
