/**
 * `--help` for every command and subcommand, read from the one usage text main.ts prints, so a
 * command added there has its help without a second list to keep in step.
 */

interface UsageEntry {
  readonly words: readonly string[];
  readonly lines: string[];
}

const COMMAND_WORD = /^[a-z][a-z0-9-]*$/;

function entriesOf(usage: string): { entries: UsageEntry[]; notes: Map<string, string[]> } {
  const entries: UsageEntry[] = [];
  const notes = new Map<string, string[]>();
  let inCommands = false;
  for (const line of usage.split('\n')) {
    if (/^Commands:/.test(line)) {
      inCommands = true;
      continue;
    }
    if (!inCommands || line.trim() === '') continue;
    const start = /^ {2}(\S.*)$/.exec(line);
    if (start) {
      const words = start[1]!.split(/\s+/).filter((w, i, all) => all.slice(0, i + 1).every((x) => COMMAND_WORD.test(x)));
      entries.push({ words, lines: [line] });
      continue;
    }
    const last = entries[entries.length - 1];
    if (!last) continue;
    // A "(admin: …)" line is a note for the whole group, not for the entry above it.
    if (/^\s+\(/.test(line)) notes.set(last.words[0] ?? '', [...(notes.get(last.words[0] ?? '') ?? []), line]);
    else last.lines.push(line);
  }
  return { entries, notes };
}

/** The help for `words` (e.g. ['policy', 'explain']), or null for a command the usage does not list. */
export function helpFor(usage: string, words: readonly string[]): string | null {
  const [command, sub] = words;
  if (!command) return usage;
  const { entries, notes } = entriesOf(usage);
  const group = entries.filter((e) => e.words[0] === command);
  if (group.length === 0) return null;
  const specific = sub ? group.filter((e) => e.words[1] === sub) : [];
  const chosen = specific.length > 0 ? specific : group;
  const lines = chosen.flatMap((e) => e.lines);
  return `Usage: smartpush-guard ${chosen.length === 1 ? chosen[0]!.words.join(' ') : command} …\n\n${lines.join('\n')}\n${(notes.get(command) ?? []).map((n) => `${n}\n`).join('')}`;
}

/** True when the command line asks for help (`--help` or `-h` before any `--`). */
export function wantsHelp(argv: readonly string[]): boolean {
  for (const arg of argv) {
    if (arg === '--') return false;
    if (arg === '--help' || arg === '-h') return true;
  }
  return false;
}

/** The command words of a command line (leading arguments that look like commands). */
export function commandWords(argv: readonly string[]): string[] {
  const words: string[] = [];
  for (const arg of argv) {
    if (!COMMAND_WORD.test(arg) || words.length === 2) break;
    words.push(arg);
  }
  return words;
}
