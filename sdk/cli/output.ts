/**
 * What a command line (`dml`, `dml-device`, `dml-indexer`) prints. With `--json`: exactly one JSON document on stdout (bigints as decimal strings,
 * addresses checksummed) and nothing else there; otherwise human lines. Progress and notices go to stderr.
 */
export const jsonText = (value: unknown): string =>
  JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2);

export interface Output {
  readonly json: boolean;
  /** The command's result: `value` as JSON with --json, else `human` (lines, or made from the value). */
  result(
    value: unknown,
    human: string | readonly string[] | (() => string | readonly string[]),
  ): void;
  /** A notice for a person (stderr; silent with --json). */
  note(line: string): void;
}

export function makeOutput(json: boolean): Output {
  return {
    json,
    result(value, human) {
      if (json) {
        process.stdout.write(`${jsonText(value)}\n`);
        return;
      }
      const h = typeof human === "function" ? human() : human;
      process.stdout.write(`${typeof h === "string" ? h : h.join("\n")}\n`);
    },
    note(line) {
      if (!json) process.stderr.write(`${line}\n`);
    },
  };
}
