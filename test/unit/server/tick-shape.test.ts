import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

/**
 * keepTickShape (src/server/tick-shape.ts): full collections while no tick object is alive clear the
 * maps of Node's tick literal, and after a few of them V8's feedback for `nextTick` turns
 * megamorphic for the life of the process (each tick then built by V8's runtime). One kept tick
 * object keeps the maps. Observed through V8's own print of the feedback, in a child process.
 */

const CHILD = fileURLToPath(new URL('../../helpers/tick-shape-child.ts', import.meta.url));

/** The states of the tick literal's property-definition feedback slots, in order. */
function literalFeedback(mode: 'keep' | 'none'): string[] {
  // V8 prints with C stdio to fd 1, which Node makes non-blocking for a pipe (the print is cut
  // short there): the child writes to a file instead.
  const dir = mkdtempSync(join(tmpdir(), 'spg-tick-'));
  const file = join(dir, 'print.txt');
  const fd = openSync(file, 'w');
  try {
    execFileSync(process.execPath, ['--allow-natives-syntax', '--expose-gc', '--import', 'tsx', CHILD, mode], { stdio: ['ignore', fd, 'inherit'] });
  } finally {
    closeSync(fd);
  }
  const out = readFileSync(file, 'utf8');
  rmSync(dir, { recursive: true, force: true });
  return [...out.matchAll(/DefineKeyedOwnPropertyInLiteral (\w+)/g)].map((match) => match[1] ?? '');
}

test('with one tick object kept, nextTick\'s literal feedback stays monomorphic through collections', () => {
  const states = literalFeedback('keep');
  assert.equal(states.length, 4, `the tick literal's four property slots in V8's print (got ${JSON.stringify(states)})`);
  assert.deepEqual(states, ['MONOMORPHIC', 'MONOMORPHIC', 'MONOMORPHIC', 'MONOMORPHIC']);
});

test('without it, the same collections leave the feedback megamorphic (what the kept tick prevents, on this Node)', () => {
  const states = literalFeedback('none');
  assert.equal(states.length, 4, `the tick literal's four property slots in V8's print (got ${JSON.stringify(states)})`);
  assert.ok(states.includes('MEGAMORPHIC'), `expected a megamorphic slot without the kept tick, got ${JSON.stringify(states)}`);
});
