/** Help conventions of the four command lines: every command says what it does, lists its flags, and shows examples. */
import type { Command } from "commander";

/** Appends a Foundry-style Examples section to `cmd`'s --help. */
export function addExamples(cmd: Command, lines: readonly string[]): Command {
  return cmd.addHelpText("after", `\nExamples:\n${lines.map((l) => `  ${l}`).join("\n")}\n`);
}

/** Every command of the tree under `program` that runs something (no subcommands), `help` excluded. */
export function leafCommands(program: Command): Command[] {
  const out: Command[] = [];
  const walk = (c: Command) => {
    if (c.commands.length === 0) out.push(c);
    for (const s of c.commands) if (s.name() !== "help") walk(s);
  };
  walk(program);
  return out;
}

/** The full --help text of `cmd` (with the sections added by addHelpText), as the user sees it. */
export function helpText(cmd: Command): string {
  let text = "";
  const saved = cmd.configureOutput();
  cmd.configureOutput({ ...saved, writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
  try {
    cmd.outputHelp();
  } finally {
    cmd.configureOutput(saved);
  }
  return text;
}
