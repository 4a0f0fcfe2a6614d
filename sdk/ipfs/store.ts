/**
 * Content-addressed storage used for algorithm packages, cohort lists, transcripts and reports.
 * Implementations: {@link HeliaStore} (embedded, filesystem-backed, no networking) and
 * {@link KuboStore} (a configured Kubo RPC endpoint).
 */

/** A file in a directory to add: a single path segment (no `/`, not `.` or `..`) and its bytes. */
export interface DirectoryFile {
  path: string;
  content: Uint8Array;
}

export interface ContentStore {
  /** Adds bytes as a UnixFS file (CIDv1, raw leaves); returns its CID string. */
  addBytes(bytes: Uint8Array): Promise<string>;
  /** Reads a file CID fully. @throws InvalidCidError, ContentNotFoundError, ContentTooLargeError */
  getBytes(cid: string): Promise<Uint8Array>;
  /** Adds files as one flat UnixFS directory; returns the directory CID string. */
  addDirectory(files: readonly DirectoryFile[]): Promise<string>;
  /** Reads `path` inside directory `cid`. @throws InvalidCidError, ContentNotFoundError, ContentTooLargeError */
  getFile(cid: string, path: string): Promise<Uint8Array>;
  /** Releases resources (stops the node / closes the stores). Idempotent. */
  close(): Promise<void>;
}

/** Upper bound on any single read, so a hostile CID cannot exhaust memory (default 64 MiB). */
export const DEFAULT_MAX_READ_BYTES = 64 * 1024 * 1024;

export class ContentNotFoundError extends Error {
  override readonly name = "ContentNotFoundError";
  readonly cid: string;
  readonly path: string | undefined;
  constructor(cid: string, path: string | undefined, cause: unknown) {
    super(
      `content ${cid}${path === undefined ? "" : `/${path}`} is not available: ${(cause as Error)?.message ?? String(cause)}`,
      { cause },
    );
    this.cid = cid;
    this.path = path;
  }
}

export class ContentTooLargeError extends Error {
  override readonly name = "ContentTooLargeError";
  readonly cid: string;
  readonly limit: number;
  constructor(cid: string, limit: number) {
    super(`content ${cid} exceeds the ${limit}-byte read limit`);
    this.cid = cid;
    this.limit = limit;
  }
}

export class InvalidDirectoryError extends Error {
  override readonly name = "InvalidDirectoryError";
}

/** Validates a flat directory listing: safe single-segment names, no duplicates, at least one file. */
export function checkDirectoryFiles(files: readonly DirectoryFile[]): void {
  if (files.length === 0) throw new InvalidDirectoryError("a directory needs at least one file");
  const seen = new Set<string>();
  for (const f of files) checkFileName(f.path, seen);
}

/** A path inside a flat directory: one segment, no `/`, `\`, NUL, not `.`/`..`, at most 255 chars. */
export function checkFileName(path: string, seen?: Set<string>): void {
  if (
    path.length === 0 ||
    path.length > 255 ||
    path === "." ||
    path === ".." ||
    /[/\\\0]/.test(path)
  ) {
    throw new InvalidDirectoryError(`invalid file name ${JSON.stringify(path)}`);
  }
  if (seen) {
    if (seen.has(path))
      throw new InvalidDirectoryError(`duplicate file name ${JSON.stringify(path)}`);
    seen.add(path);
  }
}

/** Concatenates chunks, enforcing `limit`. */
export async function collect(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  cid: string,
  limit: number,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of chunks) {
    size += chunk.length;
    if (size > limit) throw new ContentTooLargeError(cid, limit);
    parts.push(chunk);
  }
  const out = new Uint8Array(size);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
