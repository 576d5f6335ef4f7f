import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * Clock and randomness come from src/core/ through the composition root (DESIGN §6): below it,
 * nothing reads the real clock or draws its own randomness, so expiry, windows, bans and codes are
 * tested deterministically. A real-time read that must stay (a log timestamp, a timeout of the
 * machine) says so in a comment just above it ("machine's wall time", "on purpose").
 */

const SRC = fileURLToPath(new URL('../../../src/', import.meta.url));
/** The bottom layer that provides them, and the composition roots that choose them. */
const ROOTS = ['core/', 'server/', 'cli/'];
const REAL = /Date\.now\(\)|new Date\(\)|randomUUID\(|randomBytes\(|randomInt\(|Math\.random\(/;
const EXCUSE = /on purpose|machine's wall time/;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return /\.tsx?$/.test(entry.name) ? [path] : [];
  });
}

export function unexcusedReads(name: string, text: string): string[] {
  if (ROOTS.some((root) => name.startsWith(root))) return [];
  const lines = text.split('\n');
  const found: string[] = [];
  lines.forEach((line, index) => {
    const code = line.replace(/\/\/.*$/, '');
    if (/^\s*\*/.test(code) || !REAL.test(code)) return;
    const above = lines.slice(Math.max(0, index - 4), index).join('\n');
    if (!EXCUSE.test(above)) found.push(`${name}:${index + 1}: ${line.trim()}`);
  });
  return found;
}

test('below the composition root nothing reads the real clock or draws its own randomness', () => {
  const files = sources(SRC);
  assert.ok(files.length > 100);
  const found = files.flatMap((path) => unexcusedReads(relative(SRC, path).split('\\').join('/'), readFileSync(path, 'utf8')));
  assert.deepEqual(found, []);
});

test('the check finds a hidden clock read and a hidden random draw, and accepts an excused one', () => {
  assert.deepEqual(unexcusedReads('flows/x.ts', 'const t = Date.now();\nconst id = randomUUID();\n'), [
    'flows/x.ts:1: const t = Date.now();',
    'flows/x.ts:2: const id = randomUUID();',
  ]);
  assert.deepEqual(unexcusedReads('store/y.ts', '// A timeout of the machine, on purpose.\nconst d = Date.now() + 5;\n'), []);
  assert.deepEqual(unexcusedReads('core/clock.ts', 'now: () => Date.now()'), []);
  assert.deepEqual(unexcusedReads('flows/z.ts', ' * never from Date.now(): a comment\n'), []);
});
