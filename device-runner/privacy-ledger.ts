/**
 * The owner's privacy ledger (PROTOCOL.md §7.10, docs/privacy.md): `privacy-ledger.json` in the data dir holds, per
 * DP job session (the runner's job key), the zCDP ρ that job costs every record of this device. ρ composes by
 * addition, so the owner's total is the sum of the entries, and a job is served only if that sum plus the job's ρ
 * stays within the owner's budget (`consent.json` `privacyBudget`, default DEFAULT_PRIVACY_BUDGET).
 *
 * - **Reserve before anything leaves.** The job's ρ is written durably (atomic write: temp file, fsync, rename)
 *   before the device hands its masked input to SecAgg. A crash after the reserve leaves the entry in place: the
 *   restarted job finds it and reserves nothing more (idempotent per job key; a larger ρ for the same key only
 *   charges the difference), and the entry keeps counting whether or not the input left — the ledger never
 *   undercounts. `commit` marks a job whose session completed.
 * - **Refuse over budget.** A job that would exceed the budget is refused (`PRIVACY_BUDGET_EXCEEDED`) before its
 *   data is read; nothing is sent and nothing is written.
 * - **Corrupt file.** A ledger that does not parse is never rewritten or repaired: every operation throws
 *   `PRIVACY_LEDGER_CORRUPT` and leaves the file as it is, so DP jobs are refused until the owner repairs it; jobs
 *   that need no DP budget (packages without a privacy block, training rounds) are unaffected.
 *
 * Every operation re-reads the file under an in-process lock, so the file is the only state.
 */
import { readFile } from "node:fs/promises";
import { z } from "zod";
import { writeJsonAtomic } from "./atomic-fs.ts";
import { DeviceError } from "./errors.ts";

/** The owner's lifetime zCDP budget when consent.json sets none (≈ five reference jobs; docs/privacy.md). */
export const DEFAULT_PRIVACY_BUDGET = 5;

const entrySchema = z.strictObject({
  rho: z.number().nonnegative().finite(),
  status: z.enum(["reserved", "committed"]),
  reservedAt: z.iso.datetime(),
  committedAt: z.iso.datetime().optional(),
  epsilon: z.number().nonnegative().finite().optional(),
  delta: z.number().gt(0).lt(1).optional(),
});
export type LedgerEntry = z.infer<typeof entrySchema>;

const ledgerSchema = z.strictObject({
  version: z.literal(1),
  entries: z.record(z.string().min(1), entrySchema),
});
type LedgerFile = z.infer<typeof ledgerSchema>;

const locks = new Map<string, Promise<unknown>>();
async function locked<T>(file: string, f: () => Promise<T>): Promise<T> {
  const prev = locks.get(file) ?? Promise.resolve();
  const run = prev.then(f, f);
  locks.set(
    file,
    run.catch(() => undefined),
  );
  return run;
}

/** Budget slack against floating-point sums of ρ. */
const EPS = 1e-12;

export class PrivacyLedger {
  readonly file: string;
  readonly budget: number;
  constructor(file: string, budget: number) {
    this.file = file;
    this.budget = budget;
    if (!(budget >= 0) || !Number.isFinite(budget))
      throw new DeviceError("CONFIG_INVALID", `privacy budget ${budget} must be a finite ρ ≥ 0`);
  }

  /** The ledger's content; an empty ledger when the file does not exist. @throws DeviceError PRIVACY_LEDGER_CORRUPT */
  async read(): Promise<LedgerFile> {
    let text: string;
    try {
      text = await readFile(this.file, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return { version: 1, entries: {} };
      throw new DeviceError("PRIVACY_LEDGER_CORRUPT", `${this.file}: unreadable: ${String(e)}`, {
        cause: e,
      });
    }
    try {
      return ledgerSchema.parse(JSON.parse(text));
    } catch (e) {
      throw new DeviceError(
        "PRIVACY_LEDGER_CORRUPT",
        `${this.file} is corrupt (left untouched; DP jobs are refused until it is repaired): ${e instanceof Error ? e.message.slice(0, 200) : String(e)}`,
        { cause: e },
      );
    }
  }

  /** ρ spent so far (reserved or committed). */
  async spent(): Promise<number> {
    return spentOf(await this.read());
  }

  /** Refuses now, before any data is read, a job the budget cannot take. @throws PRIVACY_BUDGET_EXCEEDED | PRIVACY_LEDGER_CORRUPT */
  async check(key: string, rho: number): Promise<void> {
    const l = await this.read();
    this.#admit(l, key, rho);
  }

  /**
   * Durably reserves `rho` for `key` (idempotent). Returns the ρ newly charged (0 when the job already holds it).
   * @throws DeviceError PRIVACY_BUDGET_EXCEEDED | PRIVACY_LEDGER_CORRUPT
   */
  async reserve(
    key: string,
    rho: number,
    meta: { epsilon?: number; delta?: number } = {},
  ): Promise<number> {
    if (!(rho >= 0) || !Number.isFinite(rho))
      throw new DeviceError("NOISE_PARAMS_INVALID", `job ${key}: ρ = ${rho}`);
    return locked(this.file, async () => {
      const l = await this.read();
      const extra = this.#admit(l, key, rho);
      if (extra === 0) return 0;
      const prev = l.entries[key];
      l.entries[key] = {
        rho,
        status: "reserved",
        reservedAt: prev?.reservedAt ?? new Date().toISOString(),
        ...(meta.epsilon !== undefined ? { epsilon: meta.epsilon } : {}),
        ...(meta.delta !== undefined ? { delta: meta.delta } : {}),
      };
      await writeJsonAtomic(this.file, l);
      return extra;
    });
  }

  /** Marks a reserved job as completed (its ρ stays spent). */
  async commit(key: string): Promise<void> {
    return locked(this.file, async () => {
      const l = await this.read();
      const e = l.entries[key];
      if (e === undefined || e.status === "committed") return;
      l.entries[key] = { ...e, status: "committed", committedAt: new Date().toISOString() };
      await writeJsonAtomic(this.file, l);
    });
  }

  /** The ρ `key` still needs (0 when already reserved); throws when the budget cannot take it. */
  #admit(l: LedgerFile, key: string, rho: number): number {
    const held = l.entries[key]?.rho ?? 0;
    const extra = Math.max(0, rho - held);
    if (extra === 0) return 0;
    const spent = spentOf(l);
    if (spent + extra > this.budget + EPS)
      throw new DeviceError(
        "PRIVACY_BUDGET_EXCEEDED",
        `job ${key} costs ρ = ${rho.toFixed(4)}; the owner has spent ${spent.toFixed(4)} of a budget of ${this.budget} (zCDP)`,
      );
    return extra;
  }
}

function spentOf(l: LedgerFile): number {
  return Object.values(l.entries).reduce((a, e) => a + e.rho, 0);
}
