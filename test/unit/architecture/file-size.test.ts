import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * Issue 15: a file in src/ stays readable at one sitting (about 300 lines), or says at its top why
 * it is longer (`// Over 300 lines: <reason>` in its first lines), so a long file is a decision,
 * not an accident.
 */

const SRC = fileURLToPath(new URL('../../../src/', import.meta.url));
const LIMIT = 300;
const MARK = /Over 300 lines: \S/;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return /\.tsx?$/.test(entry.name) ? [path] : [];
  });
}

export function overLong(files: ReadonlyArray<{ name: string; text: string }>): string[] {
  return files
    .filter(({ text }) => text.split('\n').length - (text.endsWith('\n') ? 1 : 0) > LIMIT)
    .filter(({ text }) => !MARK.test(text.split('\n').slice(0, 5).join('\n')))
    .map(({ name }) => name);
}

test('no file in src/ is over 300 lines without its reason at the top', () => {
  const files = sources(SRC).map((path) => ({ name: relative(SRC, path), text: readFileSync(path, 'utf8') }));
  assert.ok(files.length > 100, `only ${files.length} source files found`);
  assert.deepEqual(overLong(files), []);
});

test('the check catches a long file without a reason and lets one with a reason pass', () => {
  const long = Array.from({ length: LIMIT + 1 }, (_, i) => `const a${i} = ${i};`).join('\n');
  assert.deepEqual(
    overLong([
      { name: 'long.ts', text: long },
      { name: 'explained.ts', text: `// Over 300 lines: a catalogue.\n${long}` },
      { name: 'short.ts', text: 'export const x = 1;\n' },
    ]),
    ['long.ts'],
  );
});
