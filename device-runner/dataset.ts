/**
 * Local datasets. An owner imports a folder of `.eml` files, an mbox file or JSONL `{subject, text, label?}` under a
 * schema id; the parsed records are stored in the device's data dir (`datasets/<slug>.jsonl`, first line = metadata)
 * and never leave the device. Every input is validated before anything is written; the file is replaced atomically.
 */
import { createHash } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { parseEmail } from "#sdk/ml/index.ts";
import { EMAIL_SCHEMA_ID } from "#sdk/chain/schema.ts";
import { z } from "zod";
import { writeFileAtomic } from "./atomic-fs.ts";
import { DeviceError } from "./errors.ts";

export { EMAIL_SCHEMA_ID, schemaHash } from "#sdk/chain/schema.ts";
/** Schemas this runner can import, with the record fields a package's input schema may read. */
export const KNOWN_SCHEMAS: Readonly<Record<string, readonly string[]>> = {
  [EMAIL_SCHEMA_ID]: ["subject", "body"],
};

export const MAX_RECORDS = 200_000;
export const MAX_SOURCE_BYTES = 256 * 1024 * 1024;

export const datasetRecordSchema = z.strictObject({
  id: z.string().min(1).max(512),
  subject: z.string(),
  body: z.string(),
  /** 0 = ham, 1 = spam, when the owner knows it. */
  label: z.union([z.literal(0), z.literal(1)]).optional(),
});
export type DatasetRecord = z.infer<typeof datasetRecordSchema>;

export const datasetMetaSchema = z.strictObject({
  schema: z.string(),
  source: z.enum(["eml", "mbox", "jsonl"]),
  count: z.number().int().min(1),
  labelled: z.number().int().min(0),
  importedAt: z.string(),
  /** sha256 over the record lines (integrity of the local copy). */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type DatasetMeta = z.infer<typeof datasetMetaSchema>;

export interface Dataset {
  meta: DatasetMeta;
  records: DatasetRecord[];
}

export type DatasetSource = "eml" | "mbox" | "jsonl";

export function datasetFile(datasetsDir: string, schemaId: string): string {
  return path.join(datasetsDir, `${schemaId.replace(/[^A-Za-z0-9._-]/g, "_")}.jsonl`);
}

function invalid(message: string): never {
  throw new DeviceError("DATASET_INVALID", message);
}

/** An RFC 822 message must start with a header block: `Name: value` lines (or folded continuations). */
function checkRfc822(raw: string, where: string): void {
  if (raw.includes("\u0000")) invalid(`${where}: contains NUL bytes (binary file?)`);
  const lines = raw.replace(/^\uFEFF/, "").split(/\r?\n/);
  // a leading mbox-style envelope line ("From sender date", as in the SpamAssassin corpus) is allowed
  if (lines[0]?.startsWith("From ")) lines.shift();
  let headers = 0;
  for (const line of lines) {
    if (line === "") break;
    if (/^[\t ]/.test(line) && headers > 0) continue;
    if (!/^[!-9;-~]+:/.test(line)) invalid(`${where}: not an RFC 822 message (bad header line)`);
    headers++;
  }
  if (headers === 0) invalid(`${where}: not an RFC 822 message (no headers)`);
}

async function parseMessage(raw: string, id: string): Promise<DatasetRecord> {
  checkRfc822(raw, id);
  try {
    const { subject, body } = await parseEmail(raw);
    return { id, subject, body };
  } catch (e) {
    invalid(`${id}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

async function readSource(file: string): Promise<string> {
  const s = await stat(file);
  if (s.size > MAX_SOURCE_BYTES) invalid(`${file}: larger than ${MAX_SOURCE_BYTES} bytes`);
  const bytes = await readFile(file);
  try {
    return new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  } catch {
    invalid(`${file}: cannot be decoded`);
  }
}

/** Called with the records parsed so far and the total (messages or lines in the source) while a source is parsed. */
export type ImportProgress = (done: number, total: number) => void;

async function fromEmlFolder(dir: string, onProgress?: ImportProgress): Promise<DatasetRecord[]> {
  const names = (await readdir(dir, { withFileTypes: true }))
    .filter((d) => d.isFile() && d.name.toLowerCase().endsWith(".eml"))
    .map((d) => d.name)
    .sort();
  if (names.length === 0) invalid(`${dir}: no .eml files`);
  const out: DatasetRecord[] = [];
  for (const name of names) {
    out.push(await parseMessage(await readSource(path.join(dir, name)), name));
    onProgress?.(out.length, names.length);
  }
  return out;
}

/** mboxrd: messages start at `From ` lines (file start or after an empty line); `>From ` lines are unescaped. */
export function splitMbox(text: string): string[] {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  const first = lines.findIndex((l) => l !== "");
  if (first === -1) invalid("mbox: empty file");
  if (!lines[first]!.startsWith("From "))
    invalid("mbox: the first line is not a `From ` separator");
  const messages: string[][] = [];
  let prevBlank = true;
  for (const line of lines.slice(first)) {
    if (line.startsWith("From ") && prevBlank) {
      messages.push([]);
    } else {
      messages[messages.length - 1]!.push(line.replace(/^>(>*From )/, "$1"));
    }
    prevBlank = line === "";
  }
  return messages.map((m) => {
    while (m.length > 0 && m[m.length - 1] === "") m.pop();
    return m.join("\n") + "\n";
  });
}

async function fromMbox(file: string, onProgress?: ImportProgress): Promise<DatasetRecord[]> {
  const messages = splitMbox(await readSource(file));
  const out: DatasetRecord[] = [];
  for (const [i, raw] of messages.entries()) {
    out.push(await parseMessage(raw, `mbox#${i + 1}`));
    onProgress?.(i + 1, messages.length);
  }
  return out;
}

/**
 * A JSONL line: `{id?, subject, text, label?}`, or a record of the SpamAssassin corpus as `sdk/ml/corpus.ts` caches
 * it (`{id, group, label, subject, body}`: `body` for `text`, `group` informational), so a slice of the corpus
 * imports with its labels and can be trained on as it is.
 */
const jsonlLineSchema = z
  .strictObject({
    id: z.string().min(1).max(512).optional(),
    subject: z.string(),
    text: z.string().optional(),
    body: z.string().optional(),
    group: z.string().max(200).optional(),
    label: z.union([z.literal(0), z.literal(1), z.literal("ham"), z.literal("spam")]).optional(),
  })
  .refine((l) => (l.text === undefined) !== (l.body === undefined), {
    message: "give exactly one of text and body",
  });

async function fromJsonl(file: string, onProgress?: ImportProgress): Promise<DatasetRecord[]> {
  const lines = (await readSource(file)).split(/\r?\n/);
  const out: DatasetRecord[] = [];
  for (const [i, line] of lines.entries()) {
    if (line.trim() === "") continue;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      invalid(`${path.basename(file)} line ${i + 1}: not JSON`);
    }
    const r = jsonlLineSchema.safeParse(json);
    if (!r.success)
      invalid(
        `${path.basename(file)} line ${i + 1}: ${r.error.issues.map((x) => `${x.path.join(".")} ${x.message}`).join("; ")}`,
      );
    const label = r.data.label === "spam" ? 1 : r.data.label === "ham" ? 0 : r.data.label;
    out.push({
      id: r.data.id ?? `line-${i + 1}`,
      subject: r.data.subject,
      body: r.data.text ?? r.data.body ?? "",
      ...(label === undefined ? {} : { label }),
    });
    // lines, not records: blank lines count as read
    if ((i + 1) % 100 === 0 || i + 1 === lines.length) onProgress?.(i + 1, lines.length);
  }
  if (out.length === 0) invalid(`${file}: no records`);
  return out;
}

/** Parses a source without writing anything. @throws DeviceError DATASET_INVALID | UNKNOWN_SCHEMA */
export async function parseDatasetSource(
  source: DatasetSource,
  location: string,
  schemaId: string,
  onProgress?: ImportProgress,
): Promise<DatasetRecord[]> {
  if (!(schemaId in KNOWN_SCHEMAS))
    throw new DeviceError(
      "UNKNOWN_SCHEMA",
      `unknown dataset schema ${schemaId} (known: ${Object.keys(KNOWN_SCHEMAS).join(", ")})`,
    );
  let records: DatasetRecord[];
  try {
    records =
      source === "eml"
        ? await fromEmlFolder(location, onProgress)
        : source === "mbox"
          ? await fromMbox(location, onProgress)
          : await fromJsonl(location, onProgress);
  } catch (e) {
    if (e instanceof DeviceError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new DeviceError(
      "DATASET_INVALID",
      `${location}: ${code ?? (e instanceof Error ? e.message : String(e))}`,
    );
  }
  if (records.length > MAX_RECORDS) invalid(`more than ${MAX_RECORDS} records`);
  const ids = new Set<string>();
  for (const r of records) {
    if (ids.has(r.id)) invalid(`duplicate record id ${r.id}`);
    ids.add(r.id);
  }
  return records;
}

/** Imports (or replaces) the dataset of `schemaId`. Nothing is written unless the whole source is valid. */
export async function importDataset(
  datasetsDir: string,
  schemaId: string,
  source: DatasetSource,
  location: string,
  onProgress?: ImportProgress,
): Promise<DatasetMeta> {
  const records = await parseDatasetSource(source, location, schemaId, onProgress);
  const lines = records.map((r) => JSON.stringify(r));
  const meta: DatasetMeta = {
    schema: schemaId,
    source,
    count: records.length,
    labelled: records.filter((r) => r.label !== undefined).length,
    importedAt: new Date().toISOString(),
    sha256: createHash("sha256").update(lines.join("\n")).digest("hex"),
  };
  await writeFileAtomic(
    datasetFile(datasetsDir, schemaId),
    [JSON.stringify({ meta }), ...lines].join("\n") + "\n",
  );
  return meta;
}

/** Loads and checks a stored dataset. @throws DeviceError DATASET_MISSING | DATASET_INVALID */
export async function loadDataset(datasetsDir: string, schemaId: string): Promise<Dataset> {
  const file = datasetFile(datasetsDir, schemaId);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw new DeviceError("DATASET_MISSING", `no dataset imported for schema ${schemaId}`);
  }
  const lines = text.split("\n").filter((l) => l !== "");
  try {
    const { meta } = z.strictObject({ meta: datasetMetaSchema }).parse(JSON.parse(lines[0] ?? ""));
    const body = lines.slice(1);
    const sha = createHash("sha256").update(body.join("\n")).digest("hex");
    if (sha !== meta.sha256 || body.length !== meta.count) throw new Error("checksum mismatch");
    return { meta, records: body.map((l) => datasetRecordSchema.parse(JSON.parse(l))) };
  } catch (e) {
    throw new DeviceError(
      "DATASET_INVALID",
      `${file} is corrupt: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}

/** Schemas with a stored dataset. */
export async function listDatasets(datasetsDir: string): Promise<DatasetMeta[]> {
  let names: string[];
  try {
    names = await readdir(datasetsDir);
  } catch {
    return [];
  }
  const out: DatasetMeta[] = [];
  for (const n of names.filter((x) => x.endsWith(".jsonl")).sort()) {
    const first = (await readFile(path.join(datasetsDir, n), "utf8")).split("\n", 1)[0] ?? "";
    const r = z.strictObject({ meta: datasetMetaSchema }).safeParse(JSON.parse(first));
    if (r.success) out.push(r.data.meta);
  }
  return out;
}
