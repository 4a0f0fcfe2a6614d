/**
 * Label corrections of a trainer: record id → label (0 = ham, 1 = spam), stored in the data dir
 * (`corrections/<schema>.json`). Imported from JSON (`{"<id>": "spam" | "ham" | 0 | 1}`) or CSV (`id,label` lines),
 * or collected interactively; never uploaded.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { readJsonFile, writeJsonAtomic } from "./atomic-fs.ts";
import type { DatasetRecord } from "./dataset.ts";
import { DeviceError } from "./errors.ts";

const labelSchema = z
  .union([z.literal(0), z.literal(1), z.literal("ham"), z.literal("spam")])
  .transform((l) => (l === "spam" ? 1 : l === "ham" ? 0 : l));
const fileSchema = z.record(z.string().min(1), z.union([z.literal(0), z.literal(1)]));
export type Corrections = Record<string, 0 | 1>;

export function correctionsFile(dir: string, schemaId: string): string {
  return path.join(dir, `${schemaId.replace(/[^A-Za-z0-9._-]/g, "_")}.json`);
}

export async function loadCorrections(dir: string, schemaId: string): Promise<Corrections> {
  try {
    return (await readJsonFile(correctionsFile(dir, schemaId), fileSchema)) ?? {};
  } catch (e) {
    throw new DeviceError(
      "CORRECTIONS_INVALID",
      `stored corrections are corrupt: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}

/** Parses a JSON or CSV corrections file; every id must exist in `records`. Nothing is written on error. */
export async function parseCorrectionsFile(
  file: string,
  records: readonly DatasetRecord[],
): Promise<Corrections> {
  const text = await readFile(file, "utf8");
  const ids = new Set(records.map((r) => r.id));
  const out: Corrections = {};
  const add = (id: string, raw: unknown, where: string) => {
    const l = labelSchema.safeParse(
      typeof raw === "string" && /^[01]$/.test(raw) ? Number(raw) : raw,
    );
    if (!l.success)
      throw new DeviceError("CORRECTIONS_INVALID", `${where}: label must be spam, ham, 0 or 1`);
    if (!ids.has(id))
      throw new DeviceError("CORRECTIONS_INVALID", `${where}: unknown record id ${id}`);
    out[id] = l.data as 0 | 1;
  };
  if (file.toLowerCase().endsWith(".json")) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new DeviceError("CORRECTIONS_INVALID", `${file}: not JSON`);
    }
    const obj = z.record(z.string(), z.unknown()).safeParse(json);
    if (!obj.success)
      throw new DeviceError("CORRECTIONS_INVALID", `${file}: expected an object of id → label`);
    for (const [id, raw] of Object.entries(obj.data)) add(id, raw, `${file} ${id}`);
  } else {
    for (const [i, line] of text.split(/\r?\n/).entries()) {
      if (line.trim() === "" || (i === 0 && /^id,label$/i.test(line.trim()))) continue;
      const m = /^(.*),([^,]*)$/.exec(line.trim());
      if (m === null)
        throw new DeviceError("CORRECTIONS_INVALID", `${file} line ${i + 1}: expected id,label`);
      add(m[1]!, m[2]!.trim(), `${file} line ${i + 1}`);
    }
  }
  return out;
}

export async function saveCorrections(
  dir: string,
  schemaId: string,
  c: Corrections,
): Promise<void> {
  await writeJsonAtomic(correctionsFile(dir, schemaId), c);
}

/** Labelled training rows: a correction overrides the imported label; unlabelled records are skipped. */
export function labelledRecords(
  records: readonly DatasetRecord[],
  c: Corrections,
): { record: DatasetRecord; label: 0 | 1 }[] {
  const out: { record: DatasetRecord; label: 0 | 1 }[] = [];
  for (const r of records) {
    const label = c[r.id] ?? r.label;
    if (label !== undefined) out.push({ record: r, label });
  }
  return out;
}
