/** Persisted per-job state (`jobs.json`), so restarts neither repeat finished jobs nor lose failures. */
import { z } from "zod";
import { readJsonFile, writeJsonAtomic } from "./atomic-fs.ts";

export const jobEntrySchema = z.strictObject({
  /** `refused`: the device declined the job (admission.ts); like `done` and `failed` it is never re-run. */
  status: z.enum(["pending", "running", "done", "failed", "refused"]),
  attempts: z.number().int().min(0),
  updatedAt: z.string(),
  error: z.string().optional(),
  code: z.string().optional(),
});
export type JobEntry = z.infer<typeof jobEntrySchema>;
const fileSchema = z.strictObject({
  version: z.literal(1),
  jobs: z.record(z.string(), jobEntrySchema),
});

export class JobStateStore {
  private readonly file: string;
  private readonly jobs: Record<string, JobEntry>;
  private constructor(file: string, jobs: Record<string, JobEntry>) {
    this.file = file;
    this.jobs = jobs;
  }

  static async open(file: string): Promise<JobStateStore> {
    const data = await readJsonFile(file, fileSchema);
    return new JobStateStore(file, data?.jobs ?? {});
  }

  get(key: string): JobEntry | undefined {
    return this.jobs[key];
  }

  all(): Readonly<Record<string, JobEntry>> {
    return this.jobs;
  }

  async set(key: string, patch: Partial<JobEntry> & Pick<JobEntry, "status">): Promise<JobEntry> {
    const prev = this.jobs[key];
    const next: JobEntry = {
      attempts: prev?.attempts ?? 0,
      ...patch,
      updatedAt: new Date().toISOString(),
    };
    if (patch.status !== "failed" && patch.status !== "refused") {
      delete next.error;
      delete next.code;
    }
    this.jobs[key] = next;
    await writeJsonAtomic(this.file, { version: 1, jobs: this.jobs });
    return next;
  }
}
