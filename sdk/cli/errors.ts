/**
 * The one error formatter of the four command lines (`dml`, `dml-device`, `dml-relayer`, `dml-indexer`; docs/cli.md):
 * whatever was thrown becomes ONE line on stderr, `<program>: error[<CODE>]: <message>`, and an exit code:
 *
 *   0  success
 *   1  runtime failure (RPC, reverted transaction, IPFS, wrong password, chain state refuses the action)
 *   2  bad options or configuration (unknown flag, malformed value, invalid manifest, a manifest for another chain)
 *
 * A zod error is never printed as its issue array: its first issue is named after the field (`--password: must have
 * at least 8 characters`) with a count of the others. A viem error keeps its short message, a typed error its code.
 */
import { BaseError } from "viem";
import { ZodError, type z } from "zod";

export const EXIT_OK = 0;
export const EXIT_RUNTIME = 1;
export const EXIT_USAGE = 2;

/** Codes that mean "the user gave something wrong" (exit 2); every other code is a runtime failure (exit 1). */
export const USAGE_CODES: ReadonlySet<string> = new Set([
  "USAGE",
  "INVALID_ARGUMENT",
  "INVALID_INPUT",
  "CONFIG",
  "CONFIG_INVALID",
  "CONFIG_FILE",
  "MANIFEST",
  "WRONG_NETWORK",
  "WEAK_PASSWORD",
]);

/** A command-line failure with a stable code; `exitCode` defaults by the code (USAGE_CODES → 2, else 1). */
export class CliError extends Error {
  readonly code: string;
  readonly exitCode: number;
  constructor(code: string, message: string, options?: { cause?: unknown; exitCode?: number }) {
    super(message, options);
    this.name = "CliError";
    this.code = code;
    this.exitCode = options?.exitCode ?? (USAGE_CODES.has(code) ? EXIT_USAGE : EXIT_RUNTIME);
  }
}

/** `rpcUrl` → `--rpc-url`: how a schema field is named on the command line. */
export const flagOf = (key: string): string =>
  `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/**
 * One line for a zod error: `<field>: <message>` of its first issue (and how many more there are). `fieldName` maps
 * an issue path to the name the user knows (default: the path's first key as a flag, `--rpc-url`).
 */
export function zodOneLine(
  error: ZodError,
  fieldName: (path: readonly PropertyKey[]) => string = (p) =>
    p.length === 0
      ? "input"
      : flagOf(String(p[0])) +
        p
          .slice(1)
          .map((k) => `[${String(k)}]`)
          .join(""),
): string {
  const [first, ...rest] = error.issues;
  if (first === undefined) return "invalid input";
  const more =
    rest.length === 0 ? "" : ` (and ${rest.length} more problem${rest.length > 1 ? "s" : ""})`;
  return `${fieldName(first.path)}: ${oneLine(first.message)}${more}`;
}

const oneLine = (s: string): string => {
  const line = s.split("\n").find((l) => l.trim() !== "") ?? s;
  return line.trim();
};

/**
 * Validates command-line input with `schema`. @throws CliError INVALID_ARGUMENT (exit 2) whose message is the first
 * issue, named by `fieldName` (e.g. `--rpc: invalid URL`), never the issue array.
 */
export function parseOptions<S extends z.ZodType>(
  schema: S,
  value: unknown,
  fieldName?: (path: readonly PropertyKey[]) => string,
): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new CliError("INVALID_ARGUMENT", zodOneLine(r.error, fieldName));
  return r.data;
}

/** Finds a ZodError in `e` or its causes. */
function zodErrorIn(e: unknown): ZodError | undefined {
  for (let x = e, depth = 0; x !== undefined && x !== null && depth < 8; depth++) {
    if (x instanceof ZodError) return x;
    x = (x as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The code, one-line message and exit code of anything thrown. */
export function describeCliError(e: unknown): { code: string; message: string; exitCode: number } {
  // commander's own refusals (unknown option, missing argument, invalid choice): usage errors
  const cmdCode = (e as { code?: unknown } | null)?.code;
  if (typeof cmdCode === "string" && cmdCode.startsWith("commander.")) {
    const msg = oneLine((e as Error).message).replace(/^error:\s*/i, "");
    return { code: "USAGE", message: `${msg} (see --help)`, exitCode: EXIT_USAGE };
  }
  const zod = zodErrorIn(e);
  if (zod !== undefined && !(e instanceof CliError && e.message !== "")) {
    const code = typeof cmdCode === "string" ? cmdCode : "INVALID_INPUT";
    return { code, message: zodOneLine(zod), exitCode: EXIT_USAGE };
  }
  if (e instanceof CliError)
    return { code: e.code, message: oneLine(e.message), exitCode: e.exitCode };
  if (e instanceof BaseError) {
    const code = typeof cmdCode === "string" ? cmdCode : "RPC";
    return { code, message: oneLine(e.shortMessage || e.message), exitCode: EXIT_RUNTIME };
  }
  if (e instanceof Error) {
    const code = typeof cmdCode === "string" ? cmdCode : "INTERNAL";
    // a message that is a JSON dump (a zod issue array rethrown as text) is reduced to its first message
    let message = oneLine(e.message);
    if (/^\s*\[/.test(e.message)) {
      try {
        const issues = JSON.parse(e.message) as { path?: unknown[]; message?: string }[];
        const first = issues[0];
        if (first?.message !== undefined)
          message = `${first.path?.length ? flagOf(String(first.path[0])) + ": " : ""}${first.message}`;
      } catch {
        // not JSON after all: keep the first line
      }
    }
    const { code: errCode } = e as { code?: unknown };
    const exitCode =
      typeof errCode === "string" && USAGE_CODES.has(errCode) ? EXIT_USAGE : EXIT_RUNTIME;
    return { code, message: message.replace(new RegExp(`^${code}:\\s*`), ""), exitCode };
  }
  return { code: "INTERNAL", message: oneLine(String(e)), exitCode: EXIT_RUNTIME };
}

/** `<program>: error[CODE]: message` — the line every CLI prints for a failure. */
export function formatCliError(program: string, e: unknown): string {
  const { code, message } = describeCliError(e);
  return `${program}: error[${code}]: ${message}`;
}

/**
 * Writes the failure's line on stderr and sets the exit code (never exits: open handles close first). Returns the
 * exit code set.
 */
export function reportCliError(program: string, e: unknown): number {
  const { exitCode } = describeCliError(e);
  process.stderr.write(`${formatCliError(program, e)}\n`);
  process.exitCode = exitCode;
  if (process.env.DML_DEBUG) process.stderr.write(`${(e as Error)?.stack ?? String(e)}\n`);
  return exitCode;
}
